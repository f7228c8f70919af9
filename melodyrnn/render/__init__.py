"""Looking and listening: piano-roll PNGs and WAV audio of a NoteSequence or MIDI file.

* :mod:`~melodyrnn.render.piano_roll`: the piano-roll PNG (bar lines, primer / continuation /
  drum colours);
* :mod:`~melodyrnn.render.audio`: WAV rendering through fluidsynth or tinysoundfont with a
  soundfont, or the sine-wave fallback;
* :mod:`~melodyrnn.render.files`: both at once, for a MIDI file (:func:`render_file`) or for a
  sequence in memory (:func:`render_sequence`);
* :mod:`~melodyrnn.render.targets`: the overwrite check and atomic write every output goes
  through.
"""
