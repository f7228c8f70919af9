"""Event representations of music: melodies, drum tracks and chord progressions.

An event list holds one event per quantized step of a :class:`~melodyrnn.sequence.NoteSequence`;
this layer reads event lists from quantized sequences and writes them back, below the encoders
that turn events into model inputs (:mod:`melodyrnn.encoding`). Modules, bottom to top:

* ``base``: what melodies and drum tracks share: quantization checks, the next bar line of an
  extraction search, and the timed / quantized sequences written back from notes at steps;
* ``melody_events``: melody event arrays (-2 no event, -1 note off, 0..127 note on) as plain
  functions: pitch histograms, key, transposition and squash, the notes an array plays, and the
  notes note-seq's reading keeps;
* ``melody``: ``Melody`` (note-seq's class) and ``extract_melodies`` (Magenta's extractor);
* ``drums``: ``DrumTrack``, ``extract_drum_tracks``, the drum class tables and
  ``MultiDrumOneHotEncoding`` (9-class bitmasks);
* ``magenta_js``: how magenta.js's ``MelodyConverter`` and ``DrumsOneHotConverter`` read a whole
  quantized sequence into events and write events back (deliberately not note-seq's rules);
* ``projections``: the round-trip contracts, what each melody path keeps of a sequence;
* ``chords``: chord symbols, the chord encodings ImprovRNN is conditioned on, and progressions.
"""
