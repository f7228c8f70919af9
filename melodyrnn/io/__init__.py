"""NoteSequence in and out of other formats, as free functions.

* :mod:`~melodyrnn.io.midi`: MIDI files and bytes <-> NoteSequence with note-seq's semantics;
  :func:`~melodyrnn.io.midi.midi_to_sequence` picks the reader (``backend=``);
* :mod:`~melodyrnn.io.midi_fast`: the fast symusic reader, which gives the reference reader's
  sequence float for float or refuses the file;
* :mod:`~melodyrnn.io.midi_events`: a file's chunks and each track's events as mido reads
  them (the fast reader's guide to where events really are, and to what mido refuses);
* :mod:`~melodyrnn.io.midi_checks`: the header checks and caps both readers apply, with their
  constants and error wording;
* :mod:`~melodyrnn.io.input_file`: reading a user's file safely (regular files only, at most
  the size cap);
* :mod:`~melodyrnn.io.note_seq_proto`: note-seq's protobuf ``NoteSequence`` (``noteseq`` extra);
* :mod:`~melodyrnn.io.magenta_js_json`: magenta.js's camelCase JSON ``NoteSequence``.

Everything here builds on :mod:`melodyrnn.sequence` (which imports nothing from here).
"""
