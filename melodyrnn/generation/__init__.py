"""Turning a network into music.

* ``options``: :class:`SamplingOptions`, how tokens are chosen (one validated value);
* ``sampler``: the batched token loop, tfjs-exact sampling, top-k/top-p, masks, beam search;
* ``music_rnn``: :class:`MusicRNN`, an event family plus a network, magenta.js's API;
* ``primer``: real files as primers (track choice, tempo, squashing) and merging back.
"""
