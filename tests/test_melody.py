"""The Melody class (melodyrnn.events.melody) and its note-seq round trip, against note-seq."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from melody_helpers import (
    GRID,
    HYPO,
    QUANTIZED,
    assert_same_melody,
    hand_sequence,
    melody_events,
    ns_melody,
    outcome,
    quantized_sequences,
)

from melodyrnn import constants as C
from melodyrnn.errors import (
    EncodingError,
    NonIntegerStepsPerBarError,
    PolyphonicMelodyError,
    QuantizationStatusError,
)
from melodyrnn.events.magenta_js import melody_from_sequence_magenta_js
from melodyrnn.events.melody import Melody, extract_melodies
from melodyrnn.events.projections import project_melody
from melodyrnn.io.note_seq_proto import from_note_seq
from melodyrnn.sequence import (
    Note,
    NoteSequence,
)

# --- the Melody object ------------------------------------------------------------------------


def test_constants_match_note_seq(note_seq):
    melodies_lib = note_seq.melodies_lib
    assert C.MELODY_NO_EVENT == melodies_lib.MELODY_NO_EVENT == -2
    assert C.MELODY_NOTE_OFF == melodies_lib.MELODY_NOTE_OFF == -1
    assert C.MIN_MELODY_EVENT == melodies_lib.MIN_MELODY_EVENT
    assert C.MAX_MELODY_EVENT == melodies_lib.MAX_MELODY_EVENT
    assert C.NOTES_PER_OCTAVE == melodies_lib.NOTES_PER_OCTAVE
    assert C.DEFAULT_STEPS_PER_BAR == melodies_lib.DEFAULT_STEPS_PER_BAR
    for pc in range(12):
        assert set(np.flatnonzero(C.KEY_MATRIX[pc])) == set(melodies_lib.NOTE_KEYS[pc])


@HYPO
@given(melody_events, st.integers(0, 64))
def test_construction_matches_note_seq(note_seq, events, start_step):
    ours = Melody(events, start_step=start_step, steps_per_bar=12, steps_per_quarter=4)
    theirs = note_seq.melodies_lib.Melody(events, start_step=start_step, steps_per_bar=12)
    assert_same_melody(ours, theirs)
    assert ours == Melody.from_array(np.array(events, dtype=np.int16), start_step, 12)
    assert ours.to_array().tolist() == ours.events
    if events:
        i = len(events) // 2
        assert ours[i] == theirs[i]
        assert_same_melody(ours[i:], theirs[i:])
        assert ours[np.int64(0)] == theirs[0]


def test_construction_hand_cases():
    assert Melody([-1, -1, 60, -1, -2]).events == [-2, -2, 60, -1, -2]
    assert Melody([-1, -2, -1]).events == [-2, -2, -2]
    with pytest.raises(EncodingError):
        Melody([60, 128])
    with pytest.raises(EncodingError):
        Melody([-3])
    assert Melody([60]) != Melody([60], start_step=16)
    assert Melody([60]) != [60]


@HYPO
@given(melody_events, st.integers(0, 60), st.booleans())
def test_set_length_matches_note_seq(note_seq, events, steps, from_left):
    if from_left:
        steps = max(steps, 1)  # note-seq's from_left cannot shrink to 0 (del events[0:-0])
    ours = Melody(events, start_step=16)
    theirs = note_seq.melodies_lib.Melody(events, start_step=16)
    ours.set_length(steps, from_left=from_left)
    theirs.set_length(steps, from_left=from_left)
    assert_same_melody(ours, theirs)


@HYPO
@given(melody_events, st.integers(1, 4), st.integers(0, 127))
def test_increase_resolution_and_append_match_note_seq(note_seq, events, k, event):
    ours = Melody(events, start_step=8, steps_per_bar=12, steps_per_quarter=3)
    theirs = note_seq.melodies_lib.Melody(
        events, start_step=8, steps_per_bar=12, steps_per_quarter=3
    )
    copy = ours.copy()
    ours.increase_resolution(k)
    theirs.increase_resolution(k)
    assert_same_melody(ours, theirs)
    ours.append(event)
    theirs.append(event)
    assert_same_melody(ours, theirs)
    assert copy == Melody(events, start_step=8, steps_per_bar=12, steps_per_quarter=3)


def test_set_length_hand_cases():
    m = Melody([60, -2, -2])
    m.set_length(5)
    assert m.events == [60, -2, -2, -1, -2]  # the sounding note is ended at the old length
    m = Melody([60, -2, -1])
    m.set_length(5)
    assert m.events == [60, -2, -1, -2, -2]
    m.set_length(2)
    assert m.events == [60, -2] and m.end_step == 2


@HYPO
@given(st.lists(st.tuples(st.integers(0, 127), st.integers(0, 30), st.integers(1, 12)), max_size=8))
def test_add_note_matches_note_seq(note_seq, notes):
    ours, theirs = Melody(), note_seq.melodies_lib.Melody()
    for pitch, start, dur in notes:
        ours.add_note(pitch, start, start + dur)
        theirs._add_note(pitch, start, start + dur)
        assert_same_melody(ours, theirs)


def test_add_note_truncates_and_erases():
    m = Melody()
    m.add_note(60, 0, 8)
    m.add_note(62, 2, 4)  # starts under 60: 60 is cut, and everything after 4 is gone
    assert m.events == [60, -2, 62, -2, -1]
    m.add_note(64, 3, 10)  # erases 62's NOTE_OFF at 4
    assert m.events == [60, -2, 62, 64, -2, -2, -2, -2, -2, -2, -1]
    with pytest.raises(EncodingError):
        m.add_note(60, 5, 5)


# --- from_quantized_sequence -------------------------------------------------------------------


def _compare_from_quantized(note_seq, qns: NoteSequence, **kwargs) -> None:
    ours = outcome(note_seq, lambda: Melody.from_quantized_sequence(qns, **kwargs))
    theirs = outcome(note_seq, lambda: ns_melody(note_seq, qns, **kwargs))
    assert ours[0] == theirs[0], (kwargs, ours, theirs)
    if ours[0] == "ok":
        assert_same_melody(ours[1], theirs[1])
    else:
        assert ours[1] == theirs[1]


@pytest.mark.parametrize("name", sorted(QUANTIZED))
def test_from_quantized_sequence_matches_note_seq_on_fixtures(note_seq, name):
    qns = QUANTIZED[name]
    spb = qns.whole_steps_per_bar()
    instruments = sorted({n.instrument for n in qns.notes}) + [99]
    for ignore, pad_end, filter_drums, gap_bars in GRID:
        for search_start_step in (0, spb, 5):
            for instrument in instruments:
                _compare_from_quantized(
                    note_seq,
                    qns,
                    search_start_step=search_start_step,
                    instrument=instrument,
                    gap_bars=gap_bars,
                    ignore_polyphonic_notes=ignore,
                    pad_end=pad_end,
                    filter_drums=filter_drums,
                )


@HYPO
@given(
    quantized_sequences(),
    st.sampled_from(GRID),
    st.sampled_from([0, 0, 1, 4, 12, 16]),
    st.integers(0, 3),
)
def test_from_quantized_sequence_matches_note_seq_generated(
    note_seq, qns, grid, search_start, instrument
):
    ignore, pad_end, filter_drums, gap_bars = grid
    _compare_from_quantized(
        note_seq,
        qns,
        search_start_step=search_start,
        instrument=instrument,
        gap_bars=gap_bars,
        ignore_polyphonic_notes=ignore,
        pad_end=pad_end,
        filter_drums=filter_drums,
    )


def test_from_quantized_sequence_hand_case():
    # A drum at step 17 moves the bar line to 16 although it is skipped; 64 and 62 start
    # together (62 dropped); 67 starts under 64 and cuts it; a two-bar silence ends the melody.
    qns = hand_sequence(
        [
            (36, 17, 18, 0, True),
            (64, 20, 28),
            (62, 20, 22),
            (67, 24, 26),
            (60, 30, 32, 0, False, 0),
            (72, 70, 72),
        ]
    )
    m = Melody.from_quantized_sequence(qns, ignore_polyphonic_notes=True)
    assert m.start_step == 16 and m.steps_per_bar == 16
    assert m.events == [-2, -2, -2, -2, 64, -2, -2, -2, 67, -2]
    padded = Melody.from_quantized_sequence(qns, ignore_polyphonic_notes=True, pad_end=True)
    assert padded.events == m.events + [-1] + [-2] * 5 and padded.end_step == 32
    with pytest.raises(PolyphonicMelodyError):
        Melody.from_quantized_sequence(qns)
    assert Melody.from_quantized_sequence(qns, instrument=5) == Melody()


def test_from_quantized_sequence_errors():
    qns = hand_sequence([(60, 0, 2)], spq=1, meter=(5, 8))  # 2.5 steps per bar
    with pytest.raises(NonIntegerStepsPerBarError):
        Melody.from_quantized_sequence(qns)
    assert (
        Melody.from_quantized_sequence(
            hand_sequence([(60, 0, 2)], spq=2, meter=(5, 8))
        ).steps_per_bar
        == 5
    )
    unquantized = NoteSequence(notes=[Note(pitch=60, start_time=0.0, end_time=1.0)])
    with pytest.raises(QuantizationStatusError):
        Melody.from_quantized_sequence(unquantized)
    with pytest.raises(QuantizationStatusError):
        extract_melodies(unquantized)
    with pytest.raises(QuantizationStatusError):
        melody_from_sequence_magenta_js(unquantized, 0, 127)


def test_note_seq_also_rejects_a_non_integer_bar(note_seq):
    qns = hand_sequence([(60, 0, 2)], spq=1, meter=(5, 8))  # 2.5 steps per bar
    with pytest.raises(note_seq.events_lib.NonIntegerStepsPerBarError):
        ns_melody(note_seq, qns)


# --- pitch: histograms, transpose, squash -----------------------------------------------------


@HYPO
@given(melody_events)
def test_histograms_and_key_match_note_seq(note_seq, events):
    ours, theirs = Melody(events), note_seq.melodies_lib.Melody(events)
    assert ours.get_note_histogram().tolist() == theirs.get_note_histogram().tolist()
    assert ours.get_major_key_histogram().tolist() == theirs.get_major_key_histogram().tolist()
    assert ours.get_major_key() == theirs.get_major_key()


@HYPO
@given(melody_events, st.integers(-30, 30), st.integers(0, 80), st.integers(1, 60))
def test_transpose_matches_note_seq(note_seq, events, amount, min_note, width):
    melodies_lib = note_seq.melodies_lib
    ours, theirs = Melody(events), melodies_lib.Melody(events)
    ours.transpose(amount, min_note, min_note + width)
    theirs.transpose(amount, min_note, min_note + width)
    assert_same_melody(ours, theirs)
    ours, theirs = Melody(events), melodies_lib.Melody(events)
    ours.transpose(amount)
    theirs.transpose(amount)
    assert_same_melody(ours, theirs)


def _compare_squash(note_seq, events, min_note, max_note, key):
    ours, theirs = Melody(events), note_seq.melodies_lib.Melody(events)
    amount = ours.squash(min_note, max_note, key)
    assert amount == theirs.squash(min_note, max_note, key)
    assert isinstance(amount, int)
    assert_same_melody(ours, theirs)


@HYPO
@given(
    melody_events,
    st.one_of(
        st.just((48, 84, 0)),
        st.tuples(
            st.integers(0, 90), st.integers(12, 50), st.one_of(st.none(), st.integers(0, 11))
        ),
    ),
)
def test_squash_matches_note_seq(note_seq, events, args):
    min_note, width_or_max, key = args
    max_note = width_or_max if args == (48, 84, 0) else min_note + width_or_max
    _compare_squash(note_seq, events, min_note, max_note, key)


def test_squash_rounds_half_to_even():
    # [60] is in C major (ties go to C): key_diff 0, centre 60. Target centre of [48, 85) is 66:
    # half an octave up, which rounds to 0 octaves; of [60, 121) 90: 2.5 octaves -> 2.
    assert Melody([60]).squash(48, 85, 0) == 0
    assert Melody([60]).squash(60, 121, 0) == 24
    assert Melody([60]).squash(60, 97, 0) == 24  # 1.5 -> 2
    # G major melody moved to C: key_diff -7, then octaves.
    g_major = [67, 69, 71, 72, 74, 76, 78]
    m = Melody(g_major)
    assert m.get_major_key() == 7
    assert m.squash(48, 84, 0) == -7
    assert m.events == [60, 62, 64, 65, 67, 69, 71]
    assert Melody().squash(48, 84, 0) == 0


def test_squash_of_every_pitch_matches_note_seq(note_seq):
    for pitch in range(0, 128):
        _compare_squash(note_seq, [pitch, -2, pitch + 7 if pitch < 121 else pitch], 48, 84, 0)
        _compare_squash(note_seq, [pitch], 60, 73, 0)


@pytest.mark.parametrize("name", sorted(QUANTIZED))
def test_squash_extracted_fixture_melodies(note_seq, name):
    qns = QUANTIZED[name]
    for instrument in sorted({n.instrument for n in qns.notes}):
        kwargs = dict(instrument=instrument, gap_bars=math.inf, ignore_polyphonic_notes=True)
        for min_note, max_note, key in [(48, 84, 0), (0, 128, None), (60, 72, 5), (36, 60, 11)]:
            ours = Melody.from_quantized_sequence(qns, **kwargs)
            theirs = ns_melody(note_seq, qns, **kwargs)
            assert ours.squash(min_note, max_note, key) == theirs.squash(min_note, max_note, key)
            assert_same_melody(ours, theirs)


# --- to_sequence ------------------------------------------------------------------------------


@HYPO
@given(
    melody_events,
    st.integers(0, 40),
    st.sampled_from([1, 2, 4, 3]),
    st.integers(1, 127),
    st.integers(0, 3),
    st.integers(0, 127),
    st.sampled_from([0.0, 0.25, 1.7]),
    st.sampled_from([120.0, 90.0, 89.9999550000225, 140.5]),
)
def test_to_sequence_matches_note_seq(
    note_seq, events, start, spq, velocity, instrument, program, t0, qpm
):
    ours = Melody(events, start_step=start, steps_per_quarter=spq)
    theirs = note_seq.melodies_lib.Melody(events, start_step=start, steps_per_quarter=spq)
    kwargs = dict(
        velocity=velocity,
        instrument=instrument,
        program=program,
        sequence_start_time=t0,
        qpm=qpm,
    )
    assert ours.to_sequence(**kwargs) == from_note_seq(theirs.to_sequence(**kwargs))


def test_to_sequence_hand_case():
    ns = Melody([60, -2, 62, -1, -2, 64, 64], start_step=16).to_sequence(qpm=60.0)
    # 60 qpm, 4 steps per quarter: 0.25 s per step, melody starts at 4.0 s.
    assert [(n.pitch, n.start_time, n.end_time) for n in ns.notes] == [
        (60, 4.0, 4.5),
        (62, 4.5, 4.75),
        (64, 5.25, 5.5),
        (64, 5.5, 5.75),
    ]
    assert ns.total_time == 5.75 and ns.tempos[0].qpm == 60.0 and not ns.time_signatures


# --- the note-seq round trip ------------------------------------------------------------------


def _round_trip(qns, instrument, min_note, max_note, key, velocity=100, program=0):
    mel = Melody.from_quantized_sequence(
        qns, instrument=instrument, gap_bars=math.inf, ignore_polyphonic_notes=True
    )
    mel.squash(min_note, max_note, key)
    return mel.to_sequence(velocity=velocity, instrument=instrument, program=program, qpm=qns.qpm)


RANGES = [(48, 84, 0), (0, 128, None), (60, 72, 5), (36, 60, None)]


@pytest.mark.parametrize("name", sorted(QUANTIZED))
def test_round_trip_equals_projection_on_fixtures(name):
    qns = QUANTIZED[name]
    for instrument in sorted({n.instrument for n in qns.notes}):
        for min_note, max_note, key in RANGES:
            expected = project_melody(qns, min_note, max_note, key, instrument=instrument)
            assert _round_trip(qns, instrument, min_note, max_note, key) == expected


@HYPO
@given(
    quantized_sequences(meters=[(4, 4), (3, 4), (6, 8)]),
    st.integers(0, 2),
    st.sampled_from(RANGES),
    st.integers(1, 127),
    st.integers(0, 127),
)
def test_round_trip_equals_projection_generated(qns, instrument, rng, velocity, program):
    min_note, max_note, key = rng
    expected = project_melody(
        qns, min_note, max_note, key, instrument=instrument, velocity=velocity, program=program
    )
    got = _round_trip(qns, instrument, min_note, max_note, key, velocity, program)
    assert got == expected


def test_projection_hand_case():
    # Instrument 0: 72 and 60 together (72 kept), 74 cuts 72 short, a drum is ignored.
    qns = hand_sequence([(60, 4, 8), (72, 4, 12), (74, 6, 9), (38, 0, 1, 0, True)])
    out = project_melody(qns, 48, 84, None, velocity=90, program=5)
    # 0.125 s per step at 120 qpm and 4 steps per quarter.
    assert [(n.pitch, n.start_time, n.end_time, n.velocity, n.program) for n in out.notes] == [
        (72, 0.5, 0.75, 90, 5),
        (74, 0.75, 1.125, 90, 5),
    ]
    folded = project_melody(qns, 48, 72, None)
    assert [n.pitch for n in folded.notes] == [60, 62]
