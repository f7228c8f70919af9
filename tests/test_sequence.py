"""NoteSequence, quantization, splitting and tempo flattening, against note-seq and by hand."""

from __future__ import annotations

import json

import pytest
from helpers import load_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from melodyrnn.errors import (
    BadTimeSignatureError,
    MultipleTempoError,
    MultipleTimeSignatureError,
    NegativeTimeError,
    QuantizationError,
    QuantizationStatusError,
)
from melodyrnn.io.magenta_js_json import from_magenta_js_json, to_magenta_js_json
from melodyrnn.io.note_seq_proto import from_note_seq, to_note_seq
from melodyrnn.sequence import (
    CHORD_SYMBOL,
    ControlChange,
    InstrumentInfo,
    KeySignature,
    Note,
    NoteSequence,
    PitchBend,
    QuantizationInfo,
    Tempo,
    TextAnnotation,
    TimeSignature,
    flatten_tempo,
    quantize_note_sequence,
    quantize_note_sequence_absolute,
    split_on_time_changes,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run_both(ours, reference):
    """(result, error class name) of our function and of note-seq's, for side-by-side checks."""
    results = []
    for fn in (ours, reference):
        try:
            results.append((fn(), None))
        except Exception as exc:
            results.append((None, type(exc).__name__))
    return results


# --- strategies -------------------------------------------------------------------------------


@st.composite
def quantizable_sequences(draw):
    """Sequences that exercise every quantization rule: exact half steps, zero-length notes,
    repeated and changed tempos or time signatures (first at 0 or later), bad meters and
    negative times. Tempo and time-signature lists are in time order (see the unsorted test)."""
    qpm = draw(st.sampled_from([120.0, 90.0, 100.0, 60.0, 137.5]) | st.floats(30, 300))
    spq = draw(st.integers(1, 8))
    steps_per_second = spq * qpm / 60.0
    ns = NoteSequence()

    first_at_zero = draw(st.booleans())
    pool = [qpm, qpm, 120.0, draw(st.floats(30, 300))]
    times = sorted(draw(st.lists(st.floats(0.01, 20), max_size=3)))
    for i, t in enumerate(times):
        ns.tempos.append(Tempo(0.0 if i == 0 and first_at_zero else t, draw(st.sampled_from(pool))))
    meters = [(4, 4), (4, 4), (3, 4), (6, 8), (7, 8), (4, 3), (0, 4)]
    meter = draw(st.sampled_from(meters))
    times = sorted(draw(st.lists(st.floats(0.01, 20), max_size=3)))
    for i, t in enumerate(times):
        if draw(st.integers(0, 3)) == 0:
            meter = draw(st.sampled_from(meters))
        at = 0.0 if i == 0 and draw(st.booleans()) else t
        ns.time_signatures.append(TimeSignature(at, *meter))

    half_steps = st.integers(0, 120).map(lambda k: k * 0.5 / steps_per_second)
    times_st = half_steps | st.floats(0, 20)
    if draw(st.integers(0, 4)) == 0:
        times_st = times_st | st.floats(-2, 0)  # far enough below 0 to give negative steps
    for _ in range(draw(st.integers(0, 10))):
        start = draw(times_st)
        end = start + draw(st.just(0.0) | st.floats(0, 3) | half_steps)
        ns.notes.append(
            Note(
                draw(st.integers(0, 127)),
                draw(st.integers(1, 127)),
                start,
                end,
                instrument=draw(st.integers(0, 2)),
                program=draw(st.integers(0, 127)),
                is_drum=draw(st.booleans()),
            )
        )
    for t in draw(st.lists(times_st, max_size=3)):
        ns.control_changes.append(ControlChange(t, draw(st.integers(0, 127)), 64))
    for t in draw(st.lists(times_st, max_size=2)):
        ns.text_annotations.append(TextAnnotation(t, "C7", CHORD_SYMBOL))
    ns.total_time = max((n.end_time for n in ns.notes), default=0.0) + draw(
        st.sampled_from([0.0, 0.0, 1.3])
    )
    return ns, spq


# --- quantize_note_sequence vs note-seq ----------------------------------------------------


@SETTINGS
@given(quantizable_sequences())
def test_quantize_matches_note_seq(note_seq, case):
    sequences_lib = note_seq.sequences_lib
    ns, spq = case
    (ours, ours_error), (ref, ref_error) = run_both(
        lambda: quantize_note_sequence(ns, spq),
        lambda: from_note_seq(sequences_lib.quantize_note_sequence(to_note_seq(ns), spq)),
    )
    assert ours_error == ref_error
    assert ours == ref


@SETTINGS
@given(quantizable_sequences(), st.integers(1, 200))
def test_quantize_absolute_matches_note_seq(note_seq, case, steps_per_second):
    sequences_lib = note_seq.sequences_lib
    ns, _ = case
    (ours, ours_error), (ref, ref_error) = run_both(
        lambda: quantize_note_sequence_absolute(ns, steps_per_second),
        lambda: from_note_seq(
            sequences_lib.quantize_note_sequence_absolute(to_note_seq(ns), steps_per_second)
        ),
    )
    assert ours_error == ref_error
    assert ours == ref
    if ours is not None:
        assert ours.quantization_info == QuantizationInfo(steps_per_second=steps_per_second)


def test_quantize_rounds_half_up_and_lengthens_zero_length_notes():
    # 120 qpm, 4 steps per quarter: 8 steps per second, a step is 0.125 s.
    ns = NoteSequence(
        notes=[
            Note(60, 90, 0.0625, 0.1875),  # 0.5 -> 1, 1.5 -> 2
            Note(62, 90, 0.5, 0.5),  # zero length -> one step
            Note(64, 90, 1.0, 1.05),  # shorter than half a step -> one step
            Note(65, 90, 1.249, 1.4375),  # 9.992 -> 10, 11.5 -> 12
        ],
        total_time=2.01,
    )
    q = quantize_note_sequence(ns, 4)
    assert [(n.quantized_start_step, n.quantized_end_step) for n in q.notes] == [
        (1, 2),
        (4, 5),
        (8, 9),
        (10, 12),
    ]
    assert q.total_quantized_steps == 16  # from total_time: 16.08 -> 16
    assert q.tempos == [Tempo(0.0, 120.0)] and q.time_signatures == [TimeSignature(0.0, 4, 4)]
    assert ns.quantization_info is None and ns.notes[0].quantized_start_step == 0  # a copy


QUANTIZE_CASES = pytest.mark.parametrize(
    ("tempos", "signatures", "start", "error"),
    [
        ([], [TimeSignature(1.0, 3, 4)], 0.0, MultipleTimeSignatureError),  # implicit change
        ([], [TimeSignature(0, 3, 4), TimeSignature(2, 4, 4)], 0.0, MultipleTimeSignatureError),
        ([Tempo(0, 100), Tempo(2, 100.0001)], [], 0.0, MultipleTempoError),  # no tolerance
        ([Tempo(1.5, 90)], [], 0.0, MultipleTempoError),  # implicit change from 120
        ([], [TimeSignature(0, 4, 3)], 0.0, BadTimeSignatureError),
        ([], [TimeSignature(0, 0, 4)], 0.0, BadTimeSignatureError),
        ([], [], -1.0, NegativeTimeError),
        ([Tempo(1.5, 120)], [TimeSignature(1.0, 4, 4)], 0.0, None),  # equal to the defaults
        ([Tempo(0, 100), Tempo(2, 100)], [TimeSignature(0, 3, 4), TimeSignature(2, 3, 4)], 0, None),
    ],
)


def _one_note(tempos, signatures, start) -> NoteSequence:
    return NoteSequence(
        notes=[Note(60, 90, start, 3.0)], tempos=tempos, time_signatures=signatures, total_time=3
    )


@QUANTIZE_CASES
def test_quantize_errors(tempos, signatures, start, error):
    ns = _one_note(tempos, signatures, start)
    if error is None:
        q = quantize_note_sequence(ns, 4)
        assert len(q.tempos) == len(q.time_signatures) == 1
        assert q.tempos[0].time == q.time_signatures[0].time == 0.0
    else:
        with pytest.raises(error) as raised:
            quantize_note_sequence(ns, 4)
        assert isinstance(raised.value, QuantizationError)
        assert "\n" not in str(raised.value)


@QUANTIZE_CASES
def test_quantize_errors_are_note_seqs(note_seq, tempos, signatures, start, error):
    sequences_lib = note_seq.sequences_lib
    ns = _one_note(tempos, signatures, start)
    if error is None:
        sequences_lib.quantize_note_sequence(to_note_seq(ns), 4)
    else:
        with pytest.raises(getattr(sequences_lib, error.__name__)):
            sequences_lib.quantize_note_sequence(to_note_seq(ns), 4)


# note-seq compares later signatures with the first one *in list order*, so [3/4 at 1 s, 4/4 at
# 0 s] slips through there and comes out as 3/4 from 0 s. melodyrnn sorts first and reports the
# change; the same holds for tempos.
def _unsorted_changes() -> NoteSequence:
    return NoteSequence(
        notes=[Note(60, 90, 0.0, 2.0)],
        time_signatures=[TimeSignature(1.0, 3, 4), TimeSignature(0.0, 4, 4)],
        tempos=[Tempo(1.0, 90.0), Tempo(0.0, 120.0)],
        total_time=2.0,
    )


def test_note_seq_misses_unsorted_time_signatures(note_seq):
    ref = note_seq.sequences_lib.quantize_note_sequence(to_note_seq(_unsorted_changes()), 4)
    assert (ref.time_signatures[0].numerator, ref.tempos[0].qpm) == (3, 90.0)


def test_unsorted_time_signatures_still_count_as_a_change():
    ns = _unsorted_changes()
    with pytest.raises(MultipleTimeSignatureError):
        quantize_note_sequence(ns, 4)
    ns.time_signatures = ns.time_signatures[:1]
    ns.time_signatures[0].time = 0.0
    with pytest.raises(MultipleTempoError):
        quantize_note_sequence(ns, 4)


def test_quantize_needs_a_relative_grid_for_steps_per_quarter():
    ns = NoteSequence(notes=[Note(60, 90, 0.0, 1.0)], total_time=1.0)
    with pytest.raises(QuantizationStatusError):
        _ = ns.steps_per_quarter
    absolute = quantize_note_sequence_absolute(ns, 100)
    assert absolute.is_quantized and not absolute.is_relative_quantized
    assert quantize_note_sequence(ns, 4).steps_per_bar() == 16


# --- split_on_time_changes vs note-seq ------------------------------------------------------------


@st.composite
def sequences_with_time_changes(draw):
    """Notes, tempos, meters and keys on a coarse grid, so changes often fall on note edges."""
    grid = st.integers(0, 40).map(lambda k: k * 0.25)
    ns = NoteSequence(ticks_per_quarter=480, id="x", filename="x.mid")
    ns.instrument_infos.append(InstrumentInfo(0, "lead"))
    for _ in range(draw(st.integers(0, 12))):
        start = draw(grid)
        end = start + draw(st.integers(0, 12)) * 0.25
        ns.notes.append(Note(draw(st.integers(40, 90)), 80, start, end))
    for t in draw(st.lists(grid, max_size=4)):
        ns.tempos.append(Tempo(t, draw(st.sampled_from([120.0, 90.0, 100.0]))))
    for t in draw(st.lists(grid, max_size=4)):
        ns.time_signatures.append(
            TimeSignature(t, *draw(st.sampled_from([(4, 4), (3, 4), (6, 8)])))
        )
    for t in draw(st.lists(grid, max_size=3)):
        ns.key_signatures.append(KeySignature(t, draw(st.integers(0, 11)), draw(st.integers(0, 1))))
    ns.total_time = max((n.end_time for n in ns.notes), default=0.0)
    return ns


@SETTINGS
@given(sequences_with_time_changes())
def test_split_on_time_changes_matches_note_seq(note_seq, ns):
    sequences_lib = note_seq.sequences_lib
    pieces = split_on_time_changes(ns)
    reference = sequences_lib.split_note_sequence_on_time_changes(to_note_seq(ns))
    assert pieces == [from_note_seq(p) for p in reference]
    for piece in pieces:
        assert len({t.qpm for t in piece.tempos}) <= 1
        assert len({(t.numerator, t.denominator) for t in piece.time_signatures}) <= 1


@st.composite
def sequences_often_without_changes(draw):
    """sequences_with_time_changes, often trimmed to what needs no split (sorted notes, one
    tempo, meter and key), with controller data and now and then an odd item."""
    ns = draw(sequences_with_time_changes())
    if draw(st.booleans()):
        ns.notes.sort(key=lambda n: n.start_time)
        ns.tempos, ns.time_signatures = ns.tempos[:1], ns.time_signatures[:1]
        ns.key_signatures = ns.key_signatures[:1]
        for event in (*ns.tempos, *ns.time_signatures, *ns.key_signatures):
            event.time = draw(st.sampled_from([0.0, event.time]))
    times = st.sampled_from([0.0, 0.5, 1.0, 2.0, 9.5, 10.0, 11.0])
    ns.control_changes = sorted(
        (ControlChange(draw(times), 64, 127) for _ in range(draw(st.integers(0, 3)))),
        key=lambda c: c.time,
    )
    odd = draw(st.sampled_from([None, None, None, "nan_note", "text", "unsorted_cc", "late_tempo"]))
    if odd == "nan_note" and ns.notes:
        ns.notes[-1].start_time = float("nan")
    elif odd == "text":
        ns.text_annotations.append(TextAnnotation(0.0, "C", CHORD_SYMBOL))
    elif odd == "unsorted_cc":
        ns.control_changes += [ControlChange(0.5, 1, 2), ControlChange(0.0, 1, 3)]
    elif odd == "late_tempo":
        ns.tempos.append(Tempo(ns.total_time, 120.0))
    return ns


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequences_often_without_changes(), st.booleans())
def test_split_without_a_copy_gives_the_same_pieces(ns, infos):
    """copy=False hands back the sequence itself only where the copy would equal it."""
    expected = split_on_time_changes(ns, copy_instrument_infos=infos)
    given_away = ns.copy()
    pieces = split_on_time_changes(given_away, copy_instrument_infos=infos, copy=False)
    assert pieces == expected


def test_split_without_a_copy_is_the_sequence_itself_when_nothing_changes():
    ns = NoteSequence(
        notes=[Note(60, 90, 0.0, 1.0), Note(62, 90, 0.5, 2.0)],
        tempos=[Tempo(0.0, 100.0)],
        control_changes=[ControlChange(0.0, 64, 127), ControlChange(1.0, 64, 0)],
        total_time=2.0,
    )
    assert split_on_time_changes(ns, copy=False)[0] is ns
    ns.notes.reverse()  # the piece would sort them: so are the sequence's, in place
    assert split_on_time_changes(ns, copy=False)[0] is ns
    assert [n.pitch for n in ns.notes] == [60, 62]
    ns.tempos.append(Tempo(0.0, 100.0))  # two tempos at 0: the piece keeps the last only
    (piece,) = split_on_time_changes(ns, copy=False)
    assert piece is not ns and piece.tempos == [Tempo(0.0, 100.0)]


def test_split_by_hand():
    ns = NoteSequence(
        notes=[Note(60, 90, 0.0, 1.0), Note(62, 90, 1.5, 2.5), Note(64, 90, 3.0, 4.0)],
        tempos=[Tempo(0.0, 120.0), Tempo(2.0, 60.0), Tempo(5.0, 90.0)],  # the last is past the end
        time_signatures=[TimeSignature(0.0, 4, 4), TimeSignature(3.0, 4, 4)],  # no real change
        total_time=4.0,
    )
    first, second = split_on_time_changes(ns)
    assert [(n.pitch, n.start_time, n.end_time) for n in first.notes] == [
        (60, 0.0, 1.0),
        (62, 1.5, 2.0),  # cut at the split
    ]
    assert [(n.pitch, n.start_time, n.end_time) for n in second.notes] == [(64, 1.0, 2.0)]
    assert first.tempos == [Tempo(0.0, 120.0)] and second.tempos == [Tempo(0.0, 60.0)]
    assert second.time_signatures == [TimeSignature(0.0, 4, 4), TimeSignature(1.0, 4, 4)]
    assert (first.total_time, second.total_time) == (2.0, 2.0)
    assert split_on_time_changes(NoteSequence()) == []


def _chord_before_a_tempo_change() -> NoteSequence:
    return NoteSequence(
        notes=[Note(60, 90, 0.0, 1.0), Note(62, 90, 2.5, 3.5)],
        tempos=[Tempo(0.0, 120.0), Tempo(2.0, 90.0)],
        text_annotations=[TextAnnotation(0.5, "C", CHORD_SYMBOL)],
        total_time=3.5,
    )


def test_split_carries_the_chord_in_force():
    pieces = split_on_time_changes(_chord_before_a_tempo_change())
    assert pieces[1].text_annotations == [TextAnnotation(0.0, "C", CHORD_SYMBOL)]


def test_note_seq_split_carries_the_chord_in_force(note_seq):
    proto = to_note_seq(_chord_before_a_tempo_change())
    reference = note_seq.sequences_lib.split_note_sequence_on_time_changes(proto)
    assert [a.text for a in reference[1].text_annotations] == ["C"]


# --- flatten_tempo -----------------------------------------------------------------------------


def beats_at(tempos: list[Tempo], seconds: float) -> float:
    """Quarter notes from 0 to ``seconds`` under a tempo map (120 qpm before the first tempo)."""
    beats, since, qpm = 0.0, 0.0, 120.0
    for tempo in sorted(tempos, key=lambda t: t.time):
        if tempo.time >= seconds:
            break
        beats += (tempo.time - since) * qpm / 60.0
        since, qpm = tempo.time, tempo.qpm
    return beats + (seconds - since) * qpm / 60.0


def test_flatten_tempo_by_hand():
    # 120 qpm for 2 s (4 beats), then 60 qpm: a note at 3 s is on beat 5, i.e. 2.5 s at 120 qpm.
    ns = NoteSequence(
        notes=[Note(60, 90, 3.0, 3.5)],
        tempos=[Tempo(0.0, 120.0), Tempo(2.0, 60.0)],
        time_signatures=[TimeSignature(0.0, 4, 4)],
        total_time=3.5,
    )
    with pytest.raises(MultipleTempoError):
        quantize_note_sequence(ns, 4)
    flat = flatten_tempo(ns)
    assert flat.tempos == [Tempo(0.0, 120.0)]  # 120 lasts 2 s, 60 only 1.5 s
    assert (flat.notes[0].start_time, flat.notes[0].end_time) == (2.5, 2.75)
    assert flat.total_time == 2.75
    q = quantize_note_sequence(flat, 4)
    assert (q.notes[0].quantized_start_step, q.notes[0].quantized_end_step) == (20, 22)
    assert ns.notes[0].start_time == 3.0, "the input is not modified"
    at_60 = flatten_tempo(ns, qpm=60.0)
    assert (at_60.notes[0].start_time, at_60.notes[0].end_time) == (5.0, 5.5)


@SETTINGS
@given(
    st.lists(st.tuples(st.floats(0, 20), st.floats(30, 240)), min_size=0, max_size=5),
    st.lists(st.tuples(st.floats(0, 25), st.floats(0, 4)), min_size=1, max_size=8),
    st.none() | st.floats(30, 240),
)
def test_flatten_tempo_keeps_every_beat_position(tempo_list, note_list, qpm):
    tempos = [Tempo(t, q) for t, q in tempo_list]
    ns = NoteSequence(
        notes=[Note(60, 90, s, s + d) for s, d in note_list],
        tempos=tempos,
        time_signatures=[TimeSignature(1.0, 4, 4)],
        control_changes=[ControlChange(7.5, 64, 127)],
        total_time=max(s + d for s, d in note_list),
    )
    flat = flatten_tempo(ns, qpm=qpm)
    assert len(flat.tempos) == 1 and flat.tempos[0].time == 0.0
    scale = flat.tempos[0].qpm / 60.0

    def same_beat(new_time, old_time):
        assert new_time * scale == pytest.approx(beats_at(tempos, old_time), rel=1e-9, abs=1e-9)

    for new, old in zip(flat.notes, ns.notes):
        same_beat(new.start_time, old.start_time)
        same_beat(new.end_time, old.end_time)
    same_beat(flat.time_signatures[0].time, 1.0)
    same_beat(flat.control_changes[0].time, 7.5)
    same_beat(flat.total_time, ns.total_time)
    if qpm is not None:
        assert flat.tempos[0].qpm == qpm
    else:
        assert flat.tempos[0].qpm in {t.qpm for t in tempos} | {120.0}
    quantize_note_sequence(flat, 4)  # one tempo now: no MultipleTempoError


def test_flatten_tempo_default_is_the_tempo_heard_longest():
    # 2 s at 100 qpm, then 1 s at 120 qpm until the music ends at 3 s; the 90 qpm change at 10 s
    # comes after the end. 100 qpm is heard longest.
    ns = NoteSequence(
        notes=[Note(60, 90, 0.0, 3.0)],
        tempos=[Tempo(0.0, 100.0), Tempo(2.0, 120.0), Tempo(10.0, 90.0)],
        total_time=3.0,
    )
    assert flatten_tempo(ns).tempos == [Tempo(0.0, 100.0)]


# --- copies and converters ----------------------------------------------------------------------


@st.composite
def full_sequences(draw):
    """Every field filled with arbitrary (but type-correct) values, quantized or not."""
    times = st.floats(0, 100)
    small = st.integers(0, 127)
    ns = NoteSequence(
        ticks_per_quarter=draw(st.integers(1, 1000)),
        id=draw(st.text(max_size=5)),
        filename=draw(st.text(max_size=5)),
    )
    for _ in range(draw(st.integers(0, 5))):
        ns.notes.append(
            Note(
                draw(small),
                draw(small),
                draw(times),
                draw(times),
                instrument=draw(st.integers(0, 9)),
                program=draw(small),
                is_drum=draw(st.booleans()),
            )
        )
    ns.tempos = [
        Tempo(draw(times), draw(st.floats(1, 500))) for _ in range(draw(st.integers(0, 3)))
    ]
    ns.time_signatures = [
        TimeSignature(draw(times), draw(st.integers(1, 12)), draw(st.sampled_from([2, 4, 8])))
        for _ in range(draw(st.integers(0, 2)))
    ]
    ns.key_signatures = [
        KeySignature(draw(times), draw(st.integers(0, 11)), draw(st.integers(0, 1)))
        for _ in range(draw(st.integers(0, 2)))
    ]
    ns.control_changes = [
        ControlChange(draw(times), draw(small), draw(small), draw(st.integers(0, 3)), draw(small))
        for _ in range(draw(st.integers(0, 3)))
    ]
    ns.pitch_bends = [
        PitchBend(draw(times), draw(st.integers(-8192, 8191)), 1, 5, True)
        for _ in range(draw(st.integers(0, 2)))
    ]
    ns.instrument_infos = [InstrumentInfo(i, draw(st.text(max_size=8))) for i in range(2)]
    ns.text_annotations = [
        TextAnnotation(draw(times), draw(st.sampled_from(["C", "G7", "N.C."])), CHORD_SYMBOL)
        for _ in range(draw(st.integers(0, 2)))
    ]
    ns.total_time = draw(times)
    if draw(st.booleans()):
        ns.tempos, ns.time_signatures = ns.tempos[:1], ns.time_signatures[:1]
        for event in (*ns.tempos, *ns.time_signatures):
            event.time = 0.0
        for note in ns.notes:
            note.end_time = max(note.end_time, note.start_time)
        ns = quantize_note_sequence(ns, draw(st.integers(1, 8)))
    return ns


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(full_sequences())
def test_note_seq_round_trip(note_seq, ns):
    proto = to_note_seq(ns)
    assert len(proto.notes) == len(ns.notes)
    assert from_note_seq(proto) == ns


@SETTINGS
@given(full_sequences())
def test_magenta_js_json_round_trip(ns):
    obj = json.loads(json.dumps(to_magenta_js_json(ns)))
    assert from_magenta_js_json(obj) == ns
    if ns.notes:
        assert set(obj["notes"][0]) >= {"pitch", "velocity", "startTime", "endTime", "isDrum"}
        assert ("quantizedStartStep" in obj["notes"][0]) == ns.is_quantized


@given(full_sequences())
@settings(max_examples=20, deadline=None)
def test_copy_is_deep(ns):
    twin = ns.copy()
    assert twin == ns
    for name in ("notes", "tempos", "control_changes", "text_annotations", "instrument_infos"):
        for a, b in zip(getattr(ns, name), getattr(twin, name)):
            assert a is not b
        assert getattr(ns, name) is not getattr(twin, name)
    if ns.quantization_info is not None:
        assert twin.quantization_info is not ns.quantization_info
    twin.notes.append(Note(1))
    for note in twin.notes:
        note.pitch = (note.pitch + 1) % 128
    for tempo in twin.tempos:
        tempo.qpm += 1
    if twin.quantization_info is not None:
        twin.quantization_info.steps_per_quarter += 1
    assert twin != ns or not (ns.notes or ns.tempos)
    assert len(ns.notes) == len(twin.notes) - 1


@pytest.mark.parametrize("stage", ["noteSequence", "quantized"])
def test_parses_magenta_js_note_sequences(stage):
    files = load_json("expected/encode.json")["files"]
    parsed_any = 0
    for entry in files:
        if stage not in entry:
            continue  # tempo_change.mid has no quantized form (MultipleTempoException)
        obj = entry[stage]
        ns = from_magenta_js_json(obj)
        assert len(ns.notes) == len(obj["notes"]) > 0
        assert ns.is_quantized == (stage == "quantized")
        back = to_magenta_js_json(ns)
        for key, value in obj.items():
            assert back[key] == value, (entry["file"], key)
        parsed_any += 1
    assert parsed_any >= 6
    drums = from_magenta_js_json(files[3][stage])
    assert drums.notes[0].is_drum and drums.ticks_per_quarter == 220
