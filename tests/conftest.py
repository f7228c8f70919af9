"""Shared fixtures: the magenta.js fixture folder and the note-seq oracle (imported lazily).

Plain constants and functions that modules need at collection time (file lists for
``parametrize``, :func:`helpers.load_json`) live in tests/helpers.py, imported normally; nothing
imports this module.
"""

from __future__ import annotations

import warnings
from functools import cache
from pathlib import Path

import pytest
from helpers import MAGENTA_JS


@cache
def _import_note_seq():
    try:
        with warnings.catch_warnings():  # note-seq pulls in pydub, which warns about ffmpeg
            warnings.simplefilter("ignore")
            import note_seq
    except ImportError:
        return None
    return note_seq


@pytest.fixture(scope="session")
def note_seq():
    """The ``note_seq`` package, the reference implementation; the test skips without it.

    Its submodules are attributes (``note_seq.melodies_lib``, ``note_seq.sequences_lib``, ...).
    Only the tests that compare with note-seq ask for it, so everything else runs without it.
    Importing note-seq sets ``pretty_midi.pretty_midi.MAX_TICK = 1e10`` globally; melodyrnn does
    its own tick check, so that does not change what melodyrnn reads.
    """
    module = _import_note_seq()
    if module is None:
        pytest.skip("note-seq is not installed")
    return module


@pytest.fixture(scope="session")
def magenta_js() -> Path:
    """The folder tests/fixtures/magenta_js (MIDI files, expectations, checkpoints)."""
    return MAGENTA_JS
