"""Training data, training and evaluation.

* ``dataset``: MIDI folders -> melody datasets (files, duplicates, the train/eval split);
* ``tokens``: a file's tokens under a named encoding (``melodyrnn encode``);
* ``train``: the resumable LSTM trainer; ``ngram``: fitting the n-gram baseline;
* ``evaluate``: likelihood and musical metrics of models against the n-gram baseline.
"""
