"""Shared test helpers: fixture paths and the note-seq oracle (imported lazily, it is slow)."""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
MAGENTA_JS = TESTS / "fixtures" / "magenta_js"
MIDI_FIXTURES = sorted((MAGENTA_JS / "midi").glob("*.mid"))
MIDI_SAMPLES = sorted((REPO / "midi_samples").glob("*.mid"))
ALL_MIDI = MIDI_FIXTURES + MIDI_SAMPLES


@cache
def load_json(relative: str):
    """A JSON file under tests/fixtures/magenta_js/, parsed once per session."""
    return json.loads((MAGENTA_JS / relative).read_text())


@cache
def _note_seq_modules():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from note_seq import midi_io, sequences_lib
    except ImportError:
        return None
    return midi_io, sequences_lib


@pytest.fixture(scope="session")
def note_seq():
    """``(midi_io, sequences_lib)`` from note-seq, the reference implementation; skips without it.

    Importing note-seq sets ``pretty_midi.pretty_midi.MAX_TICK = 1e10`` globally; melodyrnn does
    its own tick check, so that does not change what melodyrnn reads.
    """
    modules = _note_seq_modules()
    if modules is None:
        pytest.skip("note-seq is not installed")
    return modules
