"""Melodies (melodyrnn.events) against note-seq, Magenta's extract_melodies and magenta.js."""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

note_seq = pytest.importorskip("note_seq")
from note_seq import events_lib, melodies_lib, sequences_lib  # noqa: E402

from melodyrnn import constants as C  # noqa: E402
from melodyrnn.constants import MELODY_NO_EVENT, MELODY_NOTE_OFF  # noqa: E402
from melodyrnn.errors import (  # noqa: E402
    EncodingError,
    MelodyRNNError,
    NonIntegerStepsPerBarError,
    PitchOutOfRangeError,
    PolyphonicMelodyError,
    QuantizationStatusError,
)
from melodyrnn.events import melody as M  # noqa: E402
from melodyrnn.events.magenta_js import (  # noqa: E402
    melody_from_sequence_magenta_js,
    melody_to_sequence_magenta_js,
)
from melodyrnn.events.melody import Melody, extract_melodies  # noqa: E402
from melodyrnn.events.projections import project_melody, project_melody_magenta_js  # noqa: E402
from melodyrnn.sequence import (  # noqa: E402
    Note,
    NoteSequence,
    QuantizationInfo,
    Tempo,
    TimeSignature,
    from_magenta_js_json,
    quantize_note_sequence,
)

FIXTURES = Path(__file__).parent / "fixtures" / "magenta_js"
MIDI_FILES = sorted((FIXTURES / "midi").glob("*.mid"))
ENCODE = json.loads((FIXTURES / "expected" / "encode.json").read_text())

HYPO = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- helpers --------------------------------------------------------------------------------


def read_midi(path: Path) -> NoteSequence:
    try:
        from melodyrnn.io.midi import midi_to_sequence
    except ImportError:  # pragma: no cover - midi_io is written by another helper
        return NoteSequence.from_note_seq(note_seq.midi_file_to_note_sequence(str(path)))
    return midi_to_sequence(path)


def _quantized_fixtures() -> dict[str, NoteSequence]:
    out = {}
    for path in MIDI_FILES:
        try:
            out[path.name] = quantize_note_sequence(read_midi(path), 4)
        except MelodyRNNError:
            continue  # tempo_change.mid cannot be quantized
    return out


QUANTIZED = _quantized_fixtures()


def ns_melody(qns: NoteSequence, **kwargs):
    """note-seq's Melody.from_quantized_sequence on the same sequence."""
    mel = melodies_lib.Melody()
    mel.from_quantized_sequence(qns.to_note_seq(), **kwargs)
    return mel


def outcome(fn):
    """('ok', value) or ('raises', kind) with note-seq's and our exception types aligned."""
    kinds = {
        melodies_lib.PolyphonicMelodyError: "polyphonic",
        PolyphonicMelodyError: "polyphonic",
        events_lib.NonIntegerStepsPerBarError: "non_integer_bar",
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


# --- the Melody object ------------------------------------------------------------------------


def test_constants_match_note_seq():
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
def test_construction_matches_note_seq(events, start_step):
    ours = Melody(events, start_step=start_step, steps_per_bar=12, steps_per_quarter=4)
    theirs = melodies_lib.Melody(events, start_step=start_step, steps_per_bar=12)
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
def test_set_length_matches_note_seq(events, steps, from_left):
    if from_left:
        steps = max(steps, 1)  # note-seq's from_left cannot shrink to 0 (del events[0:-0])
    ours = Melody(events, start_step=16)
    theirs = melodies_lib.Melody(events, start_step=16)
    ours.set_length(steps, from_left=from_left)
    theirs.set_length(steps, from_left=from_left)
    assert_same_melody(ours, theirs)


@HYPO
@given(melody_events, st.integers(1, 4), st.integers(0, 127))
def test_increase_resolution_and_append_match_note_seq(events, k, event):
    ours = Melody(events, start_step=8, steps_per_bar=12, steps_per_quarter=3)
    theirs = melodies_lib.Melody(events, start_step=8, steps_per_bar=12, steps_per_quarter=3)
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
def test_add_note_matches_note_seq(notes):
    ours, theirs = Melody(), melodies_lib.Melody()
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

GRID = list(
    itertools.product(
        [False, True],  # ignore_polyphonic_notes
        [False, True],  # pad_end
        [False, True],  # filter_drums
        [0.5, 1, 2, math.inf],  # gap_bars
    )
)


def _compare_from_quantized(qns: NoteSequence, **kwargs) -> None:
    ours = outcome(lambda: Melody.from_quantized_sequence(qns, **kwargs))
    theirs = outcome(lambda: ns_melody(qns, **kwargs))
    assert ours[0] == theirs[0], (kwargs, ours, theirs)
    if ours[0] == "ok":
        assert_same_melody(ours[1], theirs[1])
    else:
        assert ours[1] == theirs[1]


@pytest.mark.parametrize("name", sorted(QUANTIZED))
def test_from_quantized_sequence_matches_note_seq_on_fixtures(name):
    qns = QUANTIZED[name]
    spb = qns.whole_steps_per_bar()
    instruments = sorted({n.instrument for n in qns.notes}) + [99]
    for ignore, pad_end, filter_drums, gap_bars in GRID:
        for search_start_step in (0, spb, 5):
            for instrument in instruments:
                _compare_from_quantized(
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
def test_from_quantized_sequence_matches_note_seq_generated(qns, grid, search_start, instrument):
    ignore, pad_end, filter_drums, gap_bars = grid
    _compare_from_quantized(
        qns,
        search_start_step=search_start,
        instrument=instrument,
        gap_bars=gap_bars,
        ignore_polyphonic_notes=ignore,
        pad_end=pad_end,
        filter_drums=filter_drums,
    )


def _seq(notes, spq=4, meter=(4, 4)):
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


def test_from_quantized_sequence_hand_case():
    # A drum at step 17 moves the bar line to 16 although it is skipped; 64 and 62 start
    # together (62 dropped); 67 starts under 64 and cuts it; a two-bar silence ends the melody.
    qns = _seq(
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
    qns = _seq([(60, 0, 2)], spq=1, meter=(5, 8))  # 2.5 steps per bar
    with pytest.raises(NonIntegerStepsPerBarError):
        Melody.from_quantized_sequence(qns)
    with pytest.raises(events_lib.NonIntegerStepsPerBarError):
        ns_melody(qns)
    assert (
        Melody.from_quantized_sequence(_seq([(60, 0, 2)], spq=2, meter=(5, 8))).steps_per_bar == 5
    )
    unquantized = NoteSequence(notes=[Note(pitch=60, start_time=0.0, end_time=1.0)])
    with pytest.raises(QuantizationStatusError):
        Melody.from_quantized_sequence(unquantized)
    with pytest.raises(QuantizationStatusError):
        extract_melodies(unquantized)
    with pytest.raises(QuantizationStatusError):
        melody_from_sequence_magenta_js(unquantized, 0, 127)


# --- pitch: histograms, transpose, squash -----------------------------------------------------


@HYPO
@given(melody_events)
def test_histograms_and_key_match_note_seq(events):
    ours, theirs = Melody(events), melodies_lib.Melody(events)
    assert ours.get_note_histogram().tolist() == theirs.get_note_histogram().tolist()
    assert ours.get_major_key_histogram().tolist() == theirs.get_major_key_histogram().tolist()
    assert ours.get_major_key() == theirs.get_major_key()


@HYPO
@given(melody_events, st.integers(-30, 30), st.integers(0, 80), st.integers(1, 60))
def test_transpose_matches_note_seq(events, amount, min_note, width):
    ours, theirs = Melody(events), melodies_lib.Melody(events)
    ours.transpose(amount, min_note, min_note + width)
    theirs.transpose(amount, min_note, min_note + width)
    assert_same_melody(ours, theirs)
    ours, theirs = Melody(events), melodies_lib.Melody(events)
    ours.transpose(amount)
    theirs.transpose(amount)
    assert_same_melody(ours, theirs)


def _compare_squash(events, min_note, max_note, key):
    ours, theirs = Melody(events), melodies_lib.Melody(events)
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
def test_squash_matches_note_seq(events, args):
    min_note, width_or_max, key = args
    max_note = width_or_max if args == (48, 84, 0) else min_note + width_or_max
    _compare_squash(events, min_note, max_note, key)


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
    for pitch in range(0, 128):
        _compare_squash([pitch, -2, pitch + 7 if pitch < 121 else pitch], 48, 84, 0)
        _compare_squash([pitch], 60, 73, 0)
    assert Melody().squash(48, 84, 0) == 0


@pytest.mark.parametrize("name", sorted(QUANTIZED))
def test_squash_extracted_fixture_melodies(name):
    qns = QUANTIZED[name]
    for instrument in sorted({n.instrument for n in qns.notes}):
        kwargs = dict(instrument=instrument, gap_bars=math.inf, ignore_polyphonic_notes=True)
        for min_note, max_note, key in [(48, 84, 0), (0, 128, None), (60, 72, 5), (36, 60, 11)]:
            ours = Melody.from_quantized_sequence(qns, **kwargs)
            theirs = ns_melody(qns, **kwargs)
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
def test_to_sequence_matches_note_seq(events, start, spq, velocity, instrument, program, t0, qpm):
    ours = Melody(events, start_step=start, steps_per_quarter=spq)
    theirs = melodies_lib.Melody(events, start_step=start, steps_per_quarter=spq)
    kwargs = dict(
        velocity=velocity,
        instrument=instrument,
        program=program,
        sequence_start_time=t0,
        qpm=qpm,
    )
    assert ours.to_sequence(**kwargs) == NoteSequence.from_note_seq(theirs.to_sequence(**kwargs))


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


# --- extract_melodies -------------------------------------------------------------------------


def reference_extract_melodies(
    qns: NoteSequence,
    search_start_step=0,
    min_bars=7,
    max_steps_truncate=None,
    max_steps_discard=None,
    gap_bars=1.0,
    min_unique_pitches=5,
    ignore_polyphonic_notes=True,
    pad_end=False,
    filter_drums=True,
):
    """Magenta's melody_pipelines.extract_melodies, as a loop over note-seq's Melody."""
    proto = qns.to_note_seq()
    stats = dict.fromkeys(M.EXTRACT_COUNTERS, 0)
    lengths = Counter()
    melodies = []
    steps_per_bar = int(sequences_lib.steps_per_bar_in_quantized_sequence(proto))
    for instrument in sorted({n.instrument for n in proto.notes}):
        start = search_start_step
        while True:
            mel = melodies_lib.Melody()
            try:
                mel.from_quantized_sequence(
                    proto,
                    instrument=instrument,
                    search_start_step=start,
                    gap_bars=gap_bars,
                    ignore_polyphonic_notes=ignore_polyphonic_notes,
                    pad_end=pad_end,
                    filter_drums=filter_drums,
                )
            except melodies_lib.PolyphonicMelodyError:
                stats["polyphonic_tracks_discarded"] += 1
                break
            start = mel.end_step + (search_start_step - mel.end_step) % steps_per_bar
            if not mel:
                break
            if len(mel) < mel.steps_per_bar * min_bars:
                stats["melodies_discarded_too_short"] += 1
                continue
            if max_steps_discard is not None and len(mel) > max_steps_discard:
                stats["melodies_discarded_too_long"] += 1
                continue
            if max_steps_truncate is not None and len(mel) > max_steps_truncate:
                length = max_steps_truncate
                if pad_end:
                    length -= max_steps_truncate % mel.steps_per_bar
                mel.set_length(length)
                stats["melodies_truncated"] += 1
            if np.count_nonzero(mel.get_note_histogram()) < min_unique_pitches:
                stats["melodies_discarded_too_few_pitches"] += 1
                continue
            lengths[len(mel) // mel.steps_per_bar] += 1
            melodies.append(mel)
    stats["melody_lengths_in_bars"] = dict(lengths)
    return melodies, stats


def _compare_extract(qns, **kwargs):
    ours = outcome(lambda: extract_melodies(qns, **kwargs))
    theirs = outcome(lambda: reference_extract_melodies(qns, **kwargs))
    assert ours[0] == theirs[0]
    if ours[0] == "raises":
        assert ours[1] == theirs[1]
        return None
    (mine, my_stats), (ref, ref_stats) = ours[1], theirs[1]
    assert my_stats == ref_stats
    assert len(mine) == len(ref)
    for a, b in zip(mine, ref):
        assert_same_melody(a, b)
    return my_stats


@pytest.mark.parametrize("name", sorted(QUANTIZED))
def test_extract_melodies_matches_magenta_on_fixtures(name):
    qns = QUANTIZED[name]
    seen = Counter()
    for ignore, pad_end, filter_drums, gap_bars in GRID:
        for min_bars, min_unique, truncate, discard in [
            (7, 5, None, None),
            (0, 1, None, None),
            (1, 2, 16, None),
            (0, 3, 12, 40),
        ]:
            stats = _compare_extract(
                qns,
                min_bars=min_bars,
                min_unique_pitches=min_unique,
                max_steps_truncate=truncate,
                max_steps_discard=discard,
                gap_bars=gap_bars,
                ignore_polyphonic_notes=ignore,
                pad_end=pad_end,
                filter_drums=filter_drums,
            )
            seen.update(k for k, v in stats.items() if v)
    # The fixtures are short: the default filters (7 bars) drop everything, the loose ones keep.
    assert seen["melody_lengths_in_bars"] > 0 and seen["melodies_discarded_too_short"] > 0


@HYPO
@given(quantized_sequences(max_notes=24), extract_kwargs)
def test_extract_melodies_matches_magenta_generated(qns, kwargs):
    _compare_extract(qns, **kwargs)


def test_extract_melodies_hand_case():
    # Instrument 0: a 2-bar, 4-pitch-class melody, a 2-bar gap, then a 1-bar melody.
    # Instrument 1: a chord at step 0 (polyphonic track). Instrument 2: drums only.
    first = [(60, 0, 4), (62, 4, 8), (64, 8, 12), (65, 12, 16), (67, 16, 20), (60, 20, 30)]
    qns = _seq(
        [
            *first,
            (72, 64, 66),
            (74, 66, 68),
            (48, 0, 8, 1),
            (52, 0, 8, 1),
            (36, 0, 1, 2, True),
        ]
    )
    melodies, stats = extract_melodies(qns, min_bars=0, min_unique_pitches=2)
    assert [(m.start_step, len(m)) for m in melodies] == [(0, 30), (64, 4)]
    assert stats["melody_lengths_in_bars"] == {1: 1, 0: 1}
    assert stats["melodies_discarded_too_few_pitches"] == 1  # instrument 1 keeps only 52
    assert stats["polyphonic_tracks_discarded"] == 0
    melodies, stats = extract_melodies(
        qns, min_bars=1, min_unique_pitches=5, ignore_polyphonic_notes=False, max_steps_truncate=24
    )
    assert [(m.start_step, len(m)) for m in melodies] == [(0, 24)]
    assert stats == {
        "polyphonic_tracks_discarded": 1,
        "melodies_discarded_too_short": 1,
        "melodies_discarded_too_few_pitches": 0,
        "melodies_discarded_too_long": 0,
        "melodies_truncated": 1,
        "melody_lengths_in_bars": {1: 1},
    }
    assert extract_melodies(_seq([], spq=1, meter=(5, 8))) == (
        [],
        {**dict.fromkeys(M.EXTRACT_COUNTERS, 0), "melody_lengths_in_bars": {}},
    )
    with pytest.raises(NonIntegerStepsPerBarError):
        extract_melodies(_seq([(60, 0, 4)], spq=1, meter=(5, 8)))


# --- magenta.js -------------------------------------------------------------------------------

MELODY_CONVERTERS = {
    name: spec["args"]
    for name, spec in ENCODE["converters"].items()
    if spec["type"] == "MelodyConverter"
}
ENCODE_FILES = [f for f in ENCODE["files"] if "quantized" in f]


def test_encode_json_covers_the_cases():
    assert set(MELODY_CONVERTERS) == {"basic_rnn", "melody_rnn_0_127"}
    errors = [f["encodings"][c].get("error") for f in ENCODE_FILES for c in MELODY_CONVERTERS]
    assert sum(e is not None for e in errors) == 3 and sum(e is None for e in errors) == 9


@pytest.mark.parametrize("entry", ENCODE_FILES, ids=lambda f: f["file"])
@pytest.mark.parametrize("converter", sorted(MELODY_CONVERTERS))
def test_magenta_js_encode_json(entry, converter):
    args = MELODY_CONVERTERS[converter]
    lo, hi = args["minPitch"], args["maxPitch"]
    expected = entry["encodings"][converter]
    qns = from_magenta_js_json(entry["quantized"])
    if "error" in expected:
        with pytest.raises(PitchOutOfRangeError) as info:
            melody_from_sequence_magenta_js(qns, lo, hi)
        assert str(info.value) == expected["error"]["message"]
        with pytest.raises(PitchOutOfRangeError):
            project_melody_magenta_js(qns, lo, hi)
        return
    events = melody_from_sequence_magenta_js(qns, lo, hi)
    assert js_indices(events, lo) == expected["indices"]
    assert list(expected["shape"]) == [len(events), hi - lo + 3]
    decoded = melody_to_sequence_magenta_js(js_events(expected["indices"], lo), 4)
    assert note_tuples(decoded) == json_note_tuples(expected["decoded"]["notes"])
    assert decoded.total_quantized_steps == expected["decoded"]["totalQuantizedSteps"]
    assert project_melody_magenta_js(qns, lo, hi) == melody_to_sequence_magenta_js(events, 4)


EXPECTED_MELODY_FILES = sorted(
    p for p in (FIXTURES / "expected").glob("*.json") if p.name.startswith(("melody_", "improv_"))
)


def _checkpoint_range(name: str) -> tuple[int, int]:
    config = json.loads((FIXTURES / "checkpoints" / name / "config.json").read_text())
    args = config["dataConverter"]["args"]
    return args["minPitch"], args["maxPitch"]


@pytest.mark.parametrize("path", EXPECTED_MELODY_FILES, ids=lambda p: p.stem)
def test_magenta_js_primers_and_continuations(path):
    expected = json.loads(path.read_text())
    lo, hi = _checkpoint_range(expected["checkpoint"])
    primer = expected["primer"]
    source = primer["source"]
    if source.startswith("midi/"):
        entry = next(f for f in ENCODE["files"] if f["file"] == source)
        qns = from_magenta_js_json(entry["quantized"])
    else:  # a hand-made quantized primer: its notes are in the file
        qns = from_magenta_js_json(
            {
                "notes": primer["notes"],
                "totalQuantizedSteps": primer["totalQuantizedSteps"],
                "quantizationInfo": {"stepsPerQuarter": primer["stepsPerQuarter"]},
            }
        )
    assert js_indices(melody_from_sequence_magenta_js(qns, lo, hi), lo) == primer["indices"]
    cont = expected["continuation"]
    decoded = melody_to_sequence_magenta_js(js_events(cont["tokens"], lo), cont["stepsPerQuarter"])
    assert note_tuples(decoded) == json_note_tuples(cont["notes"])
    assert decoded.total_quantized_steps == cont["totalQuantizedSteps"] == expected["steps"]


# magenta.js reads MIDI with tonejs, melodyrnn.io.midi with pretty_midi (like note-seq). They
# differ on two fixtures: melody_offgrid_90bpm.mid (notes exactly half a step off the grid at
# 666667 us per quarter round the other way: float round-off in the times/qpm) and
# poly_overlap.mid (two overlapping note-ons of one pitch: tonejs gives each its own note-off,
# pretty_midi ends both at the first). The other primers match.
READER_AGREES = [
    p
    for p in EXPECTED_MELODY_FILES
    if json.loads(p.read_text())["primer"]["source"]
    in ("midi/melody_simple.mid", "midi/multitrack_3_4.mid", "midi/out_of_range.mid")
]


@pytest.mark.parametrize("path", READER_AGREES, ids=lambda p: p.stem)
def test_magenta_js_primers_from_our_midi_reader(path):
    """Our MIDI reader + quantizer give the primers magenta.js fed where the readers agree."""
    expected = json.loads(path.read_text())
    source = expected["primer"]["source"]
    lo, hi = _checkpoint_range(expected["checkpoint"])
    qns = QUANTIZED[Path(source).name]
    events = melody_from_sequence_magenta_js(qns, lo, hi)
    assert js_indices(events, lo) == expected["primer"]["indices"]


def test_magenta_js_hand_cases():
    # 64 and 62 start together (62 skipped even though out of range), 67 starts under 64,
    # 64's NOTE_OFF at 6 then cuts 67; 70 starts past num_steps and vanishes.
    qns = _seq([(64, 0, 6), (20, 0, 3), (67, 2, 10), (70, 9, 12)])
    events = melody_from_sequence_magenta_js(qns, 48, 83, num_steps=8)
    assert events.tolist() == [64, -2, 67, -2, -2, -2, -1, -2]
    assert note_tuples(melody_to_sequence_magenta_js(events, 4)) == [
        (64, 0, 2, False),
        (67, 2, 6, False),
    ]
    assert project_melody_magenta_js(qns, 48, 83, num_steps=8) == melody_to_sequence_magenta_js(
        events, 4
    )
    with pytest.raises(PolyphonicMelodyError, match="not monophonic"):
        melody_from_sequence_magenta_js(qns, 48, 83, ignore_polyphony=False)
    # One pass in note order: the chord at step 0 fails before the out-of-range 70 at step 9.
    with pytest.raises(PolyphonicMelodyError):
        melody_from_sequence_magenta_js(qns, 48, 69, ignore_polyphony=False)
    with pytest.raises(PitchOutOfRangeError, match="valid range: 70"):
        melody_from_sequence_magenta_js(qns, 48, 69)
    # Drums, velocity 0 and every instrument count; the length defaults to total_quantized_steps.
    qns = _seq([(60, 0, 2, 3, True, 0), (62, 4, 5, 1)])
    assert melody_from_sequence_magenta_js(qns, 0, 127).tolist() == [60, -2, -1, -2, 62]
    decoded = melody_to_sequence_magenta_js([60, -2, -1, -2, 62], 2, qpm=60.0, velocity=0)
    assert [(n.start_time, n.end_time, n.velocity) for n in decoded.notes] == [
        (0.0, 1.0, 0),
        (2.0, 2.5, 0),
    ]
    assert decoded.total_quantized_steps == 5 and decoded.quantization_info.steps_per_quarter == 2


@HYPO
@given(quantized_sequences(meters=[(4, 4)]), st.sampled_from([None, 0, 16, 40, 200]))
def test_magenta_js_round_trip_generated(qns, num_steps):
    events = melody_from_sequence_magenta_js(qns, 0, 127, num_steps=num_steps)
    spq = qns.quantization_info.steps_per_quarter
    assert project_melody_magenta_js(
        qns, 0, 127, num_steps=num_steps
    ) == melody_to_sequence_magenta_js(events, spq)
    # A narrower range: both raise the same error, or agree.
    try:
        expected = project_melody_magenta_js(qns, 48, 83)
    except PitchOutOfRangeError as exc:
        with pytest.raises(PitchOutOfRangeError) as info:
            melody_from_sequence_magenta_js(qns, 48, 83)
        assert str(info.value) == str(exc)
    else:
        events = melody_from_sequence_magenta_js(qns, 48, 83)
        assert melody_to_sequence_magenta_js(events, spq) == expected


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
    qns = _seq([(60, 4, 8), (72, 4, 12), (74, 6, 9), (38, 0, 1, 0, True)])
    out = project_melody(qns, 48, 84, None, velocity=90, program=5)
    # 0.125 s per step at 120 qpm and 4 steps per quarter.
    assert [(n.pitch, n.start_time, n.end_time, n.velocity, n.program) for n in out.notes] == [
        (72, 0.5, 0.75, 90, 5),
        (74, 0.75, 1.125, 90, 5),
    ]
    folded = project_melody(qns, 48, 72, None)
    assert [n.pitch for n in folded.notes] == [60, 62]
