"""Datasets from MIDI folders (dataset), training (train) and evaluation against the n-gram
baseline (evaluate)."""
