"""Event arrays to model inputs and labels and back: Magenta's and magenta.js's encoder/decoders.

Modules, bottom to top (import from them directly; this package re-exports nothing):

* :mod:`~melodyrnn.encoding.arrays` -- small vectorised numpy helpers: event / history array
  checks, one-hot and binary-counter rows.
* :mod:`~melodyrnn.encoding.base` -- :class:`EncoderDecoder`, the face every encoder/decoder
  shares (training pairs, labels, generation-time batch inputs and decoding).
* :mod:`~melodyrnn.encoding.one_hot` -- one-hot event encodings (the melody one; the drum ones
  live in :mod:`melodyrnn.events.drums`) and the plain one-hot encoder/decoder.
* :mod:`~melodyrnn.encoding.lookback` -- Magenta's lookback encoding (lookback_rnn, drum_kit).
* :mod:`~melodyrnn.encoding.key_melody` -- Magenta's attention_rnn encoding.
* :mod:`~melodyrnn.encoding.conditional` -- conditioning on a control sequence (chords).
* :mod:`~melodyrnn.encoding.specs` -- :func:`make_encoder` / :func:`encoder_spec`: JSON-able
  specs <-> encoders.
"""
