"""Turning a network into music.

* ``options``: :class:`SamplingOptions`, how tokens are chosen (one validated value);
* ``sampler``: the batched token loop, tfjs-exact sampling, top-k/top-p, masks, beam search;
* ``music_rnn``: :class:`MusicRNN`, an event family plus a network, magenta.js's API;
* ``tracks``: which track of a file is its melody;
* ``primer``: real files as primers (tempo, key fitting) and merging back; ``shaping``: the
  key, register and ending rules it applies.
"""
