"""melodyrnn.io.midi_writer writes the bytes pretty_midi's own writer writes, byte for byte."""

from __future__ import annotations

import io

import pretty_midi
import pytest
from helpers import ALL_MIDI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from melodyrnn.io.midi import midi_to_sequence, sequence_to_pretty_midi
from melodyrnn.io.midi_writer import pretty_midi_bytes
from melodyrnn.sequence import (
    ControlChange,
    InstrumentInfo,
    KeySignature,
    Note,
    NoteSequence,
    PitchBend,
    Tempo,
    TimeSignature,
)


def pretty_midi_writes(pm) -> bytes:
    """pretty_midi's own writer, on a genuine PrettyMIDI with pretty_midi's own tick table
    (ours keeps it as a TickTable)."""
    real = pretty_midi.PrettyMIDI(resolution=pm.resolution)
    real._tick_scales = list(pm._tick_scales)
    real._update_tick_to_time(len(pm._PrettyMIDI__tick_to_time) - 1)
    real.instruments = pm.instruments
    real.time_signature_changes = pm.time_signature_changes
    real.key_signature_changes = pm.key_signature_changes
    real.lyrics, real.text_events = pm.lyrics, pm.text_events
    buffer = io.BytesIO()
    real.write(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("path", ALL_MIDI, ids=lambda p: p.name)
def test_every_fixture_is_written_as_pretty_midi_writes_it(path):
    pm = sequence_to_pretty_midi(midi_to_sequence(path))
    assert pretty_midi_bytes(pm) == pretty_midi_writes(pm)


def test_ties_and_the_edges_of_the_tick_table():
    """Notes on one tick (a note-off before a note-on of its pitch, pitches and velocities in
    order), zero-length notes, events at the same tick in every order pretty_midi sorts,
    times halfway between ticks, times past the tempo table's end, 17 instruments (channels
    wrap around, never onto 10), names in latin-1, and a key signature at 0."""
    notes = []
    for index in range(17):
        notes += [
            Note(60, 90, 0.0, 0.5, instrument=index, program=index),
            Note(60, 80, 0.5, 0.5, instrument=index, program=index),
            Note(60, 70, 0.5, 1.0, instrument=index, program=index),
            Note(64, 70, 0.5, 1.0, instrument=index, program=index),
            Note(62, 71, 0.5, 1.0 + 1 / 440, instrument=index, program=index),
            Note(40, 100, 3.0, 300.0, instrument=index, program=index, is_drum=index == 3),
        ]
    ns = NoteSequence(
        notes=notes,
        tempos=[Tempo(0.0, 100.0), Tempo(1.0, 150.0), Tempo(2.0, 150.0), Tempo(2.5, 61.0)],
        time_signatures=[TimeSignature(0.5, 3, 4), TimeSignature(2.0, 7, 8)],
        key_signatures=[KeySignature(0.0, 2, 1), KeySignature(0.5, 11, 0)],
        control_changes=[ControlChange(0.5, 7, v, 1, 1) for v in (3, 1, 2)]
        + [ControlChange(0.0, 64, 127, 0, 0), ControlChange(0.5, 1, 5, 1, 1)],
        pitch_bends=[PitchBend(0.5, b, 1, 1) for b in (100, -8192, 8191)],
        instrument_infos=[InstrumentInfo(0, "Flûte"), InstrumentInfo(5, "lead")],
        total_time=300.0,
    )
    pm = sequence_to_pretty_midi(ns)
    assert pretty_midi_bytes(pm) == pretty_midi_writes(pm)


times = st.floats(0, 30, allow_nan=False)


@st.composite
def sequences(draw):
    ns = NoteSequence(ticks_per_quarter=draw(st.sampled_from([1, 24, 96, 220, 480])))
    for t in draw(st.lists(times, max_size=4)):
        ns.tempos.append(Tempo(t, draw(st.floats(20, 300))))
    for t in draw(st.lists(times, max_size=3)):
        ns.time_signatures.append(
            TimeSignature(t, draw(st.integers(1, 12)), draw(st.sampled_from([1, 2, 4, 8, 32])))
        )
    for t in draw(st.lists(times, max_size=2)):
        ns.key_signatures.append(KeySignature(t, draw(st.integers(0, 11)), draw(st.integers(0, 1))))
    for index in range(draw(st.integers(1, 18))):
        program, is_drum = draw(st.integers(0, 127)), draw(st.booleans())
        if draw(st.booleans()):
            ns.instrument_infos.append(InstrumentInfo(index, draw(st.sampled_from(["a", "é b"]))))
        for start, length in draw(st.lists(st.tuples(times, st.floats(0, 4)), max_size=8)):
            ns.notes.append(
                Note(draw(st.integers(0, 127)), draw(st.integers(1, 127)), start, start + length,
                     instrument=index, program=program, is_drum=is_drum)
            )  # fmt: skip
        for t in draw(st.lists(times, max_size=3)):
            number, value = draw(st.integers(0, 127)), draw(st.integers(0, 127))
            ns.control_changes.append(ControlChange(t, number, value, index, program, is_drum))
        for t in draw(st.lists(times, max_size=2)):
            bend = draw(st.integers(-8192, 8191))
            ns.pitch_bends.append(PitchBend(t, bend, index, program, is_drum))
    ns.total_time = max((n.end_time for n in ns.notes), default=0.0)
    return ns


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequences())
def test_random_sequences_are_written_as_pretty_midi_writes_them(ns):
    pm = sequence_to_pretty_midi(ns)
    assert pretty_midi_bytes(pm) == pretty_midi_writes(pm)
