"""Shared helpers of the melody tests: fixtures, the note-seq oracle, generated sequences.

Imported by test_melody.py, test_extract_melodies.py and test_melody_magenta_js.py. The helpers
that run note-seq (:func:`ns_melody`, :func:`outcome`) take the ``note_seq`` fixture's module,
so only the tests that compare with note-seq need it.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
from helpers import MIDI_FIXTURES, load_json
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from melodyrnn.constants import MELODY_NO_EVENT, MELODY_NOTE_OFF
from melodyrnn.errors import (
    MelodyRNNError,
    NonIntegerStepsPerBarError,
    PolyphonicMelodyError,
)
from melodyrnn.events.melody import Melody
from melodyrnn.io.note_seq_proto import to_note_seq
from melodyrnn.sequence import (
    Note,
    NoteSequence,
    QuantizationInfo,
    Tempo,
    TimeSignature,
    quantize_note_sequence,
)

ENCODE = load_json("expected/encode.json")

HYPO = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- helpers --------------------------------------------------------------------------------


def read_midi(path: Path) -> NoteSequence:
    from melodyrnn.io.midi import midi_to_sequence

    return midi_to_sequence(path)


def _quantized_fixtures() -> dict[str, NoteSequence]:
    out = {}
    for path in MIDI_FIXTURES:
        try:
            out[path.name] = quantize_note_sequence(read_midi(path), 4)
        except MelodyRNNError:
            continue  # tempo_change.mid cannot be quantized
    return out


QUANTIZED = _quantized_fixtures()


def ns_melody(note_seq, qns: NoteSequence, **kwargs):
    """note-seq's Melody.from_quantized_sequence on the same sequence."""
    mel = note_seq.melodies_lib.Melody()
    mel.from_quantized_sequence(to_note_seq(qns), **kwargs)
    return mel


def outcome(note_seq, fn):
    """('ok', value) or ('raises', kind) with note-seq's and our exception types aligned."""
    kinds = {
        note_seq.melodies_lib.PolyphonicMelodyError: "polyphonic",
        PolyphonicMelodyError: "polyphonic",
        note_seq.events_lib.NonIntegerStepsPerBarError: "non_integer_bar",
        NonIntegerStepsPerBarError: "non_integer_bar",
    }
    try:
        return "ok", fn()
    except tuple(kinds) as exc:
        return "raises", kinds[type(exc)]


def assert_same_melody(ours: Melody, theirs) -> None:
    assert ours.events == [int(e) for e in theirs]
    assert ours.start_step == theirs.start_step
    assert ours.end_step == theirs.end_step
    assert ours.steps_per_bar == theirs.steps_per_bar
    assert ours.steps_per_quarter == theirs.steps_per_quarter


def js_indices(events, min_pitch: int) -> list[int]:
    """magenta.js class index of each event: NO_EVENT 0, NOTE_OFF 1, pitch - min + 2."""
    ev = np.asarray(events)
    return np.where(ev >= 0, ev - min_pitch + 2, ev + 2).tolist()


def js_events(indices, min_pitch: int) -> np.ndarray:
    idx = np.asarray(indices)
    return np.where(idx >= 2, idx - 2 + min_pitch, idx - 2)


def note_tuples(ns: NoteSequence):
    return [(n.pitch, n.quantized_start_step, n.quantized_end_step, n.is_drum) for n in ns.notes]


def json_note_tuples(notes):
    return [
        (n["pitch"], n.get("quantizedStartStep", 0), n["quantizedEndStep"], n.get("isDrum", False))
        for n in notes
    ]


# --- generated quantized sequences -------------------------------------------------------------

METERS = [(4, 4), (3, 4), (6, 8), (2, 2), (5, 8)]

note_spec = st.tuples(
    st.integers(0, 100),  # start step (or index into the onset pool)
    st.integers(1, 24),  # duration in steps
    st.integers(24, 100),  # pitch
    st.integers(0, 2),  # instrument
    st.sampled_from([False, False, False, True]),  # is_drum
    st.sampled_from([100, 100, 64, 127, 1, 0]),  # velocity
    st.booleans(),  # take the start from the onset pool (simultaneous onsets)
)


@st.composite
def quantized_sequences(draw, meters=METERS, max_notes=20):
    spq = draw(st.sampled_from([1, 2, 4]))
    numerator, denominator = draw(st.sampled_from(meters))
    pool = draw(st.lists(st.integers(0, 80), min_size=1, max_size=6))
    specs = draw(st.lists(note_spec, max_size=max_notes))
    seconds_per_step = 0.5 / spq
    notes = []
    for start, dur, pitch, instrument, is_drum, velocity, pooled in specs:
        if pooled:
            start = pool[start % len(pool)]
        notes.append(
            Note(
                pitch=pitch,
                velocity=velocity,
                start_time=start * seconds_per_step,
                end_time=(start + dur) * seconds_per_step,
                quantized_start_step=start,
                quantized_end_step=start + dur,
                instrument=instrument,
                program=instrument * 8,
                is_drum=is_drum,
            )
        )
    total = max((n.quantized_end_step for n in notes), default=0)
    return NoteSequence(
        notes=notes,
        tempos=[Tempo(0.0, 120.0)],
        time_signatures=[TimeSignature(0.0, numerator, denominator)],
        total_time=total * seconds_per_step,
        total_quantized_steps=total,
        quantization_info=QuantizationInfo(steps_per_quarter=spq),
    )


# Melody.from_quantized_sequence options.
GRID = list(
    itertools.product(
        [False, True],  # ignore_polyphonic_notes
        [False, True],  # pad_end
        [False, True],  # filter_drums
        [0.5, 1, 2, math.inf],  # gap_bars
    )
)

melody_events = st.lists(
    st.one_of(st.sampled_from([MELODY_NO_EVENT, MELODY_NOTE_OFF]), st.integers(0, 127)),
    max_size=40,
)

extract_kwargs = st.fixed_dictionaries(
    {
        "search_start_step": st.sampled_from([0, 0, 3, 8, 16]),
        "min_bars": st.integers(0, 3),
        "max_steps_truncate": st.sampled_from([None, 7, 16, 33]),
        "max_steps_discard": st.sampled_from([None, 20, 48]),
        "gap_bars": st.sampled_from([0.5, 1.0, 2.0, math.inf]),
        "min_unique_pitches": st.integers(0, 4),
        "ignore_polyphonic_notes": st.booleans(),
        "pad_end": st.booleans(),
        "filter_drums": st.booleans(),
    }
)


def hand_sequence(notes, spq=4, meter=(4, 4)):
    """A quantized sequence from (pitch, start, end[, instrument, is_drum, velocity]) tuples."""
    out = []
    for spec in notes:
        defaults = (0, False, 100)  # instrument, is_drum, velocity
        pitch, start, end, instrument, is_drum, velocity = (*spec, *defaults[len(spec) - 3 :])
        out.append(
            Note(
                pitch=pitch,
                velocity=velocity,
                quantized_start_step=start,
                quantized_end_step=end,
                instrument=instrument,
                is_drum=is_drum,
            )
        )
    return NoteSequence(
        notes=out,
        tempos=[Tempo(0.0, 120.0)],
        time_signatures=[TimeSignature(0.0, *meter)],
        total_quantized_steps=max((n.quantized_end_step for n in out), default=0),
        quantization_info=QuantizationInfo(steps_per_quarter=spq),
    )
