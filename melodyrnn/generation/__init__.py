"""Turning a network into music.

* ``options``: :class:`SamplingOptions`, how tokens are chosen (one validated value);
* ``sampler``: the batched token loop, tfjs-exact sampling, top-k/top-p, masks, beam search;
* ``music_rnn``: :class:`MusicRNN`, an event family plus a network, magenta.js's API;
* ``tracks``: which track of a file is its melody (or its drums);
* ``sections``: where in a file a primer lies and where its continuation goes (meter
  sections, placement after the file's last note, the default primer length);
* ``primer``: real files as primers (tempo, key fitting); ``shaping``: the key, register and
  ending rules it applies; ``drum_primer``: a file's drum track for a drum model; ``merge``:
  the continuation merged back into the file.
"""
