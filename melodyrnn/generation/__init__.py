"""Turning a network into music: the batched sampler and beam search (sampler), magenta.js's
MusicRNN (music_rnn), the n-gram behind the same face (markov_rnn), and real-file primers
(primer)."""
