"""MIDI <-> NoteSequence: note-seq parity, round trips, bad files, magenta.js agreement."""

from __future__ import annotations

import io
import math
import re
import sys
import time
from collections import Counter
from fractions import Fraction
from pathlib import Path

import mido
import pretty_midi
import pytest
from helpers import ALL_MIDI, MIDI_FIXTURES, MIDI_SAMPLES, REPO, load_json
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from melodyrnn.errors import LimitError, MidiError, QuantizationError
from melodyrnn.io.magenta_js_json import from_magenta_js_json
from melodyrnn.io.midi import (
    BACKENDS,
    midi_to_sequence,
    sequence_to_midi_bytes,
    sequence_to_midi_file,
)
from melodyrnn.io.midi_fast import NotExact, read_with_symusic, score_class
from melodyrnn.io.note_seq_proto import from_note_seq, to_note_seq
from melodyrnn.sequence import (
    MINOR,
    ControlChange,
    InstrumentInfo,
    KeySignature,
    Note,
    NoteSequence,
    PitchBend,
    Tempo,
    TimeSignature,
    quantize_note_sequence,
)

ids = [p.name for p in ALL_MIDI]

# Files whose quantization fails, and how (everything else quantizes at 4 steps per quarter).
QUANTIZE_ERRORS = {"tempo_change.mid": "MultipleTempoError"}


# --- comparing two sequences up to tick rounding ------------------------------------------------


def _sorted_by_time(events):
    return sorted(events, key=lambda e: e.time)


def assert_round_trip(before: NoteSequence, after: NoteSequence) -> None:
    """``after`` = read(write(before)): equal up to one tick and documented pretty_midi rules.

    Rules: a tempo of 120 at 0 is added when ``before`` has none at 0; a 4/4 time signature at
    0 is added when ``before`` has none at 0; instruments other than 0 without a name get the
    General MIDI program name ("Drums" for drums); tempos are stored as whole microseconds.
    """
    tpq = before.ticks_per_quarter or 220
    assert after.ticks_per_quarter == tpq

    tempos = _sorted_by_time(before.tempos)
    if not any(t.time == 0 for t in tempos):
        tempos.insert(0, Tempo(0.0, 120.0))
    tick = 60.0 / (min(t.qpm for t in tempos) * tpq)  # the longest tick in the file
    assert len(after.tempos) == len(tempos)
    for a, b in zip(after.tempos, tempos):
        assert a.time == pytest.approx(b.time, abs=tick)
        assert a.qpm == pytest.approx(b.qpm, rel=1e-5)  # microseconds per quarter are integers

    sigs = _sorted_by_time(before.time_signatures)
    if not any(ts.time == 0 for ts in sigs):
        sigs.insert(0, TimeSignature(0.0, 4, 4))
    assert [(ts.numerator, ts.denominator) for ts in after.time_signatures] == [
        (ts.numerator, ts.denominator) for ts in sigs
    ]
    for a, b in zip(after.time_signatures, sigs):
        assert a.time == pytest.approx(b.time, abs=tick)

    keys = _sorted_by_time(before.key_signatures)
    assert [(k.key, k.mode) for k in after.key_signatures] == [(k.key, k.mode) for k in keys]
    for a, b in zip(after.key_signatures, keys):
        assert a.time == pytest.approx(b.time, abs=tick)

    def note_key(n):
        return (n.instrument, n.program, n.is_drum, n.pitch, n.velocity, n.start_time)

    notes_a, notes_b = sorted(after.notes, key=note_key), sorted(before.notes, key=note_key)
    assert [note_key(n)[:5] for n in notes_a] == [note_key(n)[:5] for n in notes_b]
    for a, b in zip(notes_a, notes_b):
        assert a.start_time == pytest.approx(b.start_time, abs=tick)
        assert a.end_time == pytest.approx(b.end_time, abs=tick)

    def cc_key(c):
        return (c.instrument, c.program, c.is_drum, c.control_number, c.control_value, c.time)

    ccs_a, ccs_b = (
        sorted(after.control_changes, key=cc_key),
        sorted(before.control_changes, key=cc_key),
    )
    assert [cc_key(c)[:5] for c in ccs_a] == [cc_key(c)[:5] for c in ccs_b]
    for a, b in zip(ccs_a, ccs_b):
        assert a.time == pytest.approx(b.time, abs=tick)

    def bend_key(b):
        return (b.instrument, b.program, b.is_drum, b.bend, b.time)

    bends_a, bends_b = (
        sorted(after.pitch_bends, key=bend_key),
        sorted(before.pitch_bends, key=bend_key),
    )
    assert [bend_key(b)[:4] for b in bends_a] == [bend_key(b)[:4] for b in bends_b]
    for a, b in zip(bends_a, bends_b):
        assert a.time == pytest.approx(b.time, abs=tick)

    names = {i.instrument: i.name for i in before.instrument_infos}
    for n in before.notes:
        if n.instrument > 0 and n.instrument not in names:
            gm_name = pretty_midi.program_to_instrument_name(n.program)
            names[n.instrument] = "Drums" if n.is_drum else gm_name
    assert {i.instrument: i.name for i in after.instrument_infos} == names
    assert after.total_time == pytest.approx(before.total_time, abs=tick)


# --- note-seq parity on real files ------------------------------------------------------------


@pytest.mark.parametrize("path", ALL_MIDI, ids=ids)
def test_reading_matches_note_seq(path, note_seq):
    midi_io, sequences_lib = note_seq.midi_io, note_seq.sequences_lib
    ours = midi_to_sequence(path)
    assert (ours.filename, ours.id) == (str(path), path.stem)
    proto = midi_io.midi_file_to_note_sequence(str(path))
    ours.filename = ours.id = ""  # note-seq leaves them empty
    assert ours == from_note_seq(proto)
    assert ours.notes, "every sample file has notes"

    expected_error = QUANTIZE_ERRORS.get(path.name)
    try:
        ref = from_note_seq(sequences_lib.quantize_note_sequence(proto, 4))
    except Exception as exc:  # note-seq's own error classes
        assert type(exc).__name__ == expected_error
        with pytest.raises(QuantizationError) as ours_error:
            quantize_note_sequence(ours, 4)
        assert type(ours_error.value).__name__ == expected_error
    else:
        assert expected_error is None
        assert quantize_note_sequence(ours, 4) == ref


@pytest.mark.parametrize("path", ALL_MIDI, ids=ids)
def test_writing_matches_note_seq_bytes(path, note_seq):
    midi_io = note_seq.midi_io
    ns = midi_to_sequence(path)
    ref = io.BytesIO()
    midi_io.note_sequence_to_pretty_midi(to_note_seq(ns)).write(ref)
    assert sequence_to_midi_bytes(ns) == ref.getvalue()


@pytest.mark.parametrize("path", ALL_MIDI, ids=ids)
def test_file_round_trip(path, tmp_path):
    before = midi_to_sequence(path)
    out = sequence_to_midi_file(before, tmp_path / "out.mid")
    assert out == tmp_path / "out.mid"
    after = midi_to_sequence(out)
    assert_round_trip(before, after)
    # A second trip changes nothing at all: reading normalises, writing is then exact.
    again = midi_to_sequence(sequence_to_midi_bytes(after))
    after.filename = after.id = ""
    assert again == after


def test_all_sources_give_the_same_sequence():
    path = MIDI_FIXTURES[3]  # multitrack_3_4.mid
    assert path.name == "multitrack_3_4.mid"
    data = path.read_bytes()
    mid = mido.MidiFile(path)
    first_delta = [msg.time for msg in mid.tracks[1]]
    from_path = midi_to_sequence(path)
    assert midi_to_sequence(str(path)) == from_path
    assert midi_to_sequence(mid) == from_path  # mido remembers its filename
    assert [msg.time for msg in mid.tracks[1]] == first_delta, "the caller's MidiFile is untouched"
    from_bytes = midi_to_sequence(data)
    assert (from_bytes.filename, from_bytes.id) == ("", "")
    assert midi_to_sequence(bytearray(data), filename=path) == from_path
    pm = pretty_midi.PrettyMIDI(str(path))
    assert midi_to_sequence(pm, filename=str(path)) == from_path
    with pytest.raises(TypeError):
        midi_to_sequence(12)


def test_samples_have_what_their_names_promise():
    by_name = {p.name: midi_to_sequence(p) for p in MIDI_SAMPLES}
    assert sorted(by_name) == [
        "a_minor_no_signature.mid",
        "amazing_grace_3_4.mid",
        "greensleeves_6_8.mid",
        "ode_to_joy.mid",
        "pop_arrangement.mid",
        "saints_multitrack.mid",
        "twinkle_wide_range.mid",
    ]
    assert by_name["a_minor_no_signature.mid"].key_signatures == []  # on purpose (issue 11)
    ode = by_name["ode_to_joy.mid"]
    assert ode.tempos == [Tempo(0.0, 120.0)] and len(ode.notes) == 30
    assert quantize_note_sequence(ode).total_quantized_steps == 8 * 16  # 8 bars of 4/4
    green = by_name["greensleeves_6_8.mid"]
    assert (green.time_signatures[0].numerator, green.time_signatures[0].denominator) == (6, 8)
    assert green.key_signatures == [KeySignature(0.0, 9, MINOR)]  # A minor
    assert green.tempos[0].qpm == pytest.approx(96.0)
    grace = by_name["amazing_grace_3_4.mid"]
    assert (grace.time_signatures[0].numerator, grace.time_signatures[0].denominator) == (3, 4)
    wide = by_name["twinkle_wide_range.mid"]
    assert min(n.pitch for n in wide.notes) < 48 and max(n.pitch for n in wide.notes) > 83
    saints = by_name["saints_multitrack.mid"]
    assert {(n.instrument, n.program, n.is_drum) for n in saints.notes} == {
        (0, 56, False),
        (1, 32, False),
        (2, 0, True),
    }
    assert [i.name for i in saints.instrument_infos] == ["trumpet", "bass", "drums"]
    assert saints.key_signatures and saints.control_changes and saints.pitch_bends
    pop = by_name["pop_arrangement.mid"]  # eleven tracks; the vocal ends before the outro
    assert len(pop.instrument_infos) == 11 and pop.instrument_infos[0].name == "Vocal"
    vocal_end = max(n.end_time for n in pop.notes if n.instrument == 0)
    assert max(n.end_time for n in pop.notes) - vocal_end > 4 * 60 / 112 * 3
    assert {n.program for n in pop.notes if n.instrument == 8} == {113}  # the Agogo 'Aux'


# --- hypothesis: random sequences survive MIDI round trips ---------------------------------------


@st.composite
def midi_sequences(draw):
    """Sequences a MIDI file can hold exactly up to tick rounding.

    Instruments are numbered 0..k-1 with one (program, drum) each and at least one note, no
    two notes of one pitch overlap within an instrument (MIDI cannot tell them apart), events
    are at least a few ticks apart where pretty_midi would merge them.
    """
    tpq = draw(st.sampled_from([96, 220, 384, 480, 960]))
    ns = NoteSequence(ticks_per_quarter=tpq)
    qpms = draw(st.lists(st.floats(40, 240), min_size=1, max_size=4))
    times = sorted(draw(st.lists(st.floats(0.05, 20), min_size=len(qpms), max_size=len(qpms))))
    if draw(st.booleans()):
        times[0] = 0.0  # usually the first tempo is at 0; otherwise 120 is assumed before it
    previous = 120.0 if times[0] > 0 else None
    for t, q in zip(times, qpms):
        if previous is not None and abs(q / previous - 1) < 0.01:
            continue  # MIDI readers drop a repeated tempo
        if ns.tempos and t - ns.tempos[-1].time < 0.05:
            continue
        ns.tempos.append(Tempo(t, q))
        previous = q
    for t in sorted(draw(st.lists(st.floats(0, 20), max_size=3, unique=True))):
        if not ns.time_signatures or t - ns.time_signatures[-1].time >= 0.05:
            num = draw(st.integers(1, 12))
            ns.time_signatures.append(
                TimeSignature(t, num, draw(st.sampled_from([1, 2, 4, 8, 16])))
            )
    for t in sorted(draw(st.lists(st.floats(0, 20), max_size=2, unique=True))):
        if not ns.key_signatures or t - ns.key_signatures[-1].time >= 0.05:
            key = KeySignature(t, draw(st.integers(0, 11)), draw(st.sampled_from([0, 1])))
            ns.key_signatures.append(key)

    for index in range(draw(st.integers(1, 4))):
        is_drum = draw(st.booleans())
        program = draw(st.integers(0, 127))
        if draw(st.booleans()):
            ns.instrument_infos.append(
                InstrumentInfo(index, draw(st.sampled_from(["a", "lead 2"])))
            )
        raw = draw(
            st.lists(
                st.tuples(st.integers(0, 127), st.floats(0, 20), st.floats(0.05, 3)),
                min_size=1,
                max_size=12,
            )
        )
        busy_until: dict[int, float] = {}
        for pitch, start, duration in sorted(raw, key=lambda r: r[1]):
            if start < busy_until.get(pitch, -1.0):
                continue
            busy_until[pitch] = start + duration
            velocity = draw(st.integers(1, 127))
            ns.notes.append(
                Note(pitch, velocity, start, start + duration, 0, 0, index, program, is_drum)
            )
        for t in draw(st.lists(st.floats(0, 20), max_size=3)):
            number, value = draw(st.integers(0, 127)), draw(st.integers(0, 127))
            ns.control_changes.append(ControlChange(t, number, value, index, program, is_drum))
        for t in draw(st.lists(st.floats(0, 20), max_size=2)):
            bend = draw(st.integers(-8192, 8191))
            ns.pitch_bends.append(PitchBend(t, bend, index, program, is_drum))
    ns.total_time = max(n.end_time for n in ns.notes)
    return ns


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(midi_sequences())
def test_random_sequences_survive_round_trip(ns):
    after = midi_to_sequence(sequence_to_midi_bytes(ns))
    assert_round_trip(ns, after)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(midi_sequences())
def test_random_sequences_write_the_same_bytes_as_note_seq(note_seq, ns):
    midi_io = note_seq.midi_io
    ref = io.BytesIO()
    midi_io.note_sequence_to_pretty_midi(to_note_seq(ns)).write(ref)
    assert sequence_to_midi_bytes(ns) == ref.getvalue()


def test_two_programs_on_instrument_0_are_both_written():
    # note-seq puts every instrument-0 group on one pretty_midi Instrument, so the last group
    # overwrites the others; melodyrnn gives each group its own track.
    ns = NoteSequence(
        notes=[Note(60, 90, 0.0, 1.0, program=0), Note(64, 90, 0.0, 1.0, program=40)],
        total_time=1.0,
    )
    back = midi_to_sequence(sequence_to_midi_bytes(ns))
    assert sorted((n.pitch, n.program) for n in back.notes) == [(60, 0), (64, 40)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda ns: setattr(ns.notes[0], "pitch", 128), "pitch is 128"),
        (lambda ns: setattr(ns.notes[0], "velocity", 200), "velocity of pitch 60 is 200"),
        (lambda ns: setattr(ns.notes[0], "start_time", -0.5), "time -0.5"),
        (lambda ns: setattr(ns.notes[0], "end_time", math.nan), "time nan"),
        (lambda ns: setattr(ns.notes[0], "end_time", 0.1), "ends (0.1) before it starts (0.5)"),
        (lambda ns: ns.time_signatures.append(TimeSignature(0.0, 4, 3)), "4/3 cannot be stored"),
        (lambda ns: ns.time_signatures.append(TimeSignature(0.0, 0, 4)), "0/4 cannot be stored"),
        (lambda ns: ns.tempos.append(Tempo(0.0, 0.0)), "tempo 0.0 qpm cannot be stored"),
        (lambda ns: ns.key_signatures.append(KeySignature(0.0, 12)), "key is 12"),
        (lambda ns: ns.control_changes.append(ControlChange(0.0, 128, 1)), "control number"),
        (lambda ns: ns.pitch_bends.append(PitchBend(0.0, 9000)), "pitch bend 9000"),
        (lambda ns: setattr(ns, "ticks_per_quarter", 40000), "ticks_per_quarter is 40000"),
    ],
)
def test_values_midi_cannot_hold_raise_midi_error(change, message, tmp_path):
    ns = NoteSequence(notes=[Note(60, 90, 0.5, 1.0)], total_time=1.0)
    change(ns)
    target = tmp_path / "x.mid"
    with pytest.raises(MidiError, match="cannot write MIDI") as error:
        sequence_to_midi_file(ns, target)
    assert message in str(error.value)
    assert not target.exists() and not list(tmp_path.iterdir())


def test_midi_file_is_replaced_atomically(tmp_path):
    target = tmp_path / "song.mid"
    target.write_bytes(b"old")
    ns = midi_to_sequence(MIDI_SAMPLES[0])
    sequence_to_midi_file(ns, str(target))
    assert target.read_bytes() == sequence_to_midi_bytes(ns)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.mid"]  # no temp file left
    bad = ns.copy()
    bad.notes[0].pitch = -1
    with pytest.raises(MidiError):
        sequence_to_midi_file(bad, target)
    assert target.read_bytes() == sequence_to_midi_bytes(ns), "a failed write keeps the old file"
    with pytest.raises(MidiError, match="does not exist"):
        sequence_to_midi_file(ns, tmp_path / "missing" / "x.mid")


# --- bad input ---------------------------------------------------------------------------------


def _header(midi_type: int, tracks: int, division: int) -> bytes:
    return (
        b"MThd"
        + (6).to_bytes(4, "big")
        + b"".join(v.to_bytes(2, "big") for v in (midi_type, tracks, division))
    )


def _track(body: bytes) -> bytes:
    return b"MTrk" + len(body).to_bytes(4, "big") + body


END = b"\x00\xff\x2f\x00"
ONE_NOTE = b"\x00\x90\x3c\x40\x60\x80\x3c\x40"  # C4 for 96 ticks
TEMPO_0 = b"\x00\xff\x51\x03\x00\x00\x00"

BAD_FILES = {
    "truncated": lambda good: good[: len(good) // 2],
    "truncated header": lambda good: good[:10],
    "random bytes": lambda good: bytes((i * 97 + 13) % 256 for i in range(400)),
    "empty": lambda good: b"",
    "type 2": lambda good: _header(2, 1, 96) + _track(ONE_NOTE + END),
    "zero ticks per beat": lambda good: _header(1, 1, 0) + _track(ONE_NOTE + END),
    "SMPTE division": lambda good: _header(1, 1, 0xE728) + _track(ONE_NOTE + END),
    "no tracks": lambda good: _header(1, 0, 96),
    "more tracks announced than present": lambda good: _header(1, 3, 96) + _track(ONE_NOTE + END),
    "tick far beyond any song": lambda good: (
        _header(0, 1, 96)
        + _track(
            b"\x00\x90\x3c\x40"
            + b"\xff\xff\xff\x7f\xff\x01\x00" * 3
            + b"\xff\xff\xff\x7f\x80\x3c\x40"
            + END
        )  # fmt: skip
    ),
    "tempo 0": lambda good: _header(0, 1, 96) + _track(TEMPO_0 + ONE_NOTE + END),
    "time signature 0/4": lambda good: (
        _header(0, 1, 96) + _track(b"\x00\xff\x58\x04\x00\x02\x18\x08" + ONE_NOTE + END)
    ),
    "running status first": lambda good: _header(0, 1, 96) + _track(b"\x00\x3c\x40" + END),
    "data byte above 127": lambda good: _header(0, 1, 96) + _track(b"\x00\x90\x8c\x40" + END),
}

EXPECTED_REASON = {
    "truncated": "truncated",
    "truncated header": "truncated",
    "random bytes": "not a Standard MIDI File",
    "empty": "the file is empty",
    "type 2": "type 2",
    "zero ticks per beat": "0 ticks per quarter",
    "SMPTE division": "SMPTE",
    "no tracks": "no tracks",
    "more tracks announced than present": "truncated",
    "tick far beyond any song": "over the limit of 1,000,000,000 (max_ticks)",
    "tempo 0": "0 microseconds per quarter",
    "time signature 0/4": "invalid time signature 0/4",
    "running status first": "corrupt MIDI data",
    "data byte above 127": "corrupt MIDI data",
}


def _assert_quick_midi_error(source, label: str, reason: str, backend: str = "auto"):
    started = time.perf_counter()
    # a file over a cap is a LimitError (tick far beyond any song), any other bad file a MidiError
    with pytest.raises((MidiError, LimitError)) as error:
        midi_to_sequence(source, backend=backend)
    assert time.perf_counter() - started < 2.0
    message = str(error.value)
    assert "\n" not in message
    assert f"'{label}'" in message, message
    assert reason in message, message


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_files_raise_a_clear_midi_error(kind, backend, tmp_path):
    good = MIDI_SAMPLES[0].read_bytes()
    path = tmp_path / (kind.replace(" ", "_").replace("/", "_") + ".mid")
    path.write_bytes(BAD_FILES[kind](good))
    _assert_quick_midi_error(path, str(path), EXPECTED_REASON[kind], backend)
    with pytest.raises((MidiError, LimitError), match=f"'{path.name}'"):
        midi_to_sequence(path.read_bytes(), filename=path.name, backend=backend)


# note-seq reads a type-2 file as if it were type 1 (melodyrnn refuses it), and would try to
# allocate gigabytes for the far tick (it raises pretty_midi's tick limit to 1e10).
NOTE_SEQ_ALSO_FAILS = sorted(set(BAD_FILES) - {"type 2", "tick far beyond any song"})


@pytest.mark.parametrize("kind", NOTE_SEQ_ALSO_FAILS)
def test_note_seq_rejects_the_same_bad_files(kind, note_seq):
    midi_io = note_seq.midi_io
    with pytest.raises(midi_io.MIDIConversionError):
        midi_io.midi_to_note_sequence(BAD_FILES[kind](MIDI_SAMPLES[0].read_bytes()))


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_path_and_directory_raise_midi_error(backend, tmp_path):
    missing = tmp_path / "nope.mid"
    _assert_quick_midi_error(missing, str(missing), "no such file", backend)
    _assert_quick_midi_error(str(tmp_path), str(tmp_path), "is a directory", backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bytes_without_a_name_say_midi_data(backend):
    with pytest.raises(MidiError, match="^cannot read MIDI data: the file is empty$"):
        midi_to_sequence(b"", backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_file_with_only_meta_events_gives_an_empty_sequence(backend, tmp_path):
    # Decision: a valid MIDI file without notes is not an error for the reader; it gives a
    # sequence with no notes (note-seq does the same). Callers that need notes check for them.
    meta = (
        b"\x00\xff\x03\x04meta"
        + b"\x00\xff\x51\x03\x07\xa1\x20"
        + b"\x00\xff\x58\x04\x03\x02\x18\x08"
    )
    path = tmp_path / "meta_only.mid"
    path.write_bytes(_header(1, 2, 96) + _track(meta + END) + _track(END))
    ns = midi_to_sequence(path, backend=backend)
    assert ns.notes == [] and ns.total_time == 0.0
    assert ns.tempos == [Tempo(0.0, 120.0)]
    assert ns.time_signatures == [TimeSignature(0.0, 3, 4)]
    # A track with no events at all (not even end-of-track) is read as empty, not as an error.
    empty_track = tmp_path / "empty_track.mid"
    empty_track.write_bytes(_header(1, 2, 96) + _track(b"") + _track(ONE_NOTE + END))
    assert [n.pitch for n in midi_to_sequence(empty_track, backend=backend).notes] == [60]


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(ALL_MIDI),
    st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=6
    ),
)
def test_corrupted_files_never_crash_or_hang(path, edits):
    data = bytearray(path.read_bytes())
    for where, value in edits:
        data[int(where * len(data))] = value
    started = time.perf_counter()
    try:
        ns = midi_to_sequence(bytes(data), filename="fuzz.mid")
    except (MidiError, LimitError) as exc:
        assert str(exc).startswith("cannot read MIDI file 'fuzz.mid': ")
    else:
        assert isinstance(ns, NoteSequence)
    assert time.perf_counter() - started < 2.0
    # "auto" gives the reference's outcome: its sequence, or its error, word for word.
    assert _outcome(bytes(data), "auto") == _outcome(bytes(data), "pretty_midi")


# --- agreement with magenta.js (encode.json) ------------------------------------------------------
#
# magenta.js reads MIDI with Tone.js, not pretty_midi. What differs, and how the test treats it:
#   * velocity: floor(v / 127 * 128), so 127 becomes 128 (checked as such below);
#   * a file without a time signature gets 4/4 at 0 in magenta.js, none in note-seq/melodyrnn
#     (checked);
#   * tempos: 60e6 / us-per-quarter vs pretty_midi's tick-scale arithmetic (compared to 1e-12);
#   * note times are computed in a different order, so they differ by ~1e-16 s. At an exact half
#     step (melody_offgrid_90bpm.mid) this decides the rounding: magenta.js rounds up, pretty_midi's
#     time can land just below the half step and round down. Exact half steps are therefore
#     allowed either way; every other note must get magenta.js's steps;
#   * two overlapping note-ons of one pitch (poly_overlap.mid): pretty_midi ends both at the
#     first note-off, Tone.js pairs each note-on with its own note-off;
#   * control changes are listed grouped by controller number in magenta.js (compared as sets);
#   * magenta.js drops a first track without notes and splits tracks on program changes; the
#     instrument numbers happen to agree on these files (pretty_midi also splits by program).


def _exact_step(seconds: float, qpm: float, ppq: int, steps_per_quarter: int = 4) -> Fraction:
    """The exact step of an event from its tick (the file's only tempo is ``qpm``)."""
    tick = round(seconds * qpm / 60 * ppq)
    assert abs(tick - seconds * qpm / 60 * ppq) < 1e-6
    return Fraction(tick * steps_per_quarter, ppq)


@pytest.mark.parametrize(
    "entry", load_json("expected/encode.json")["files"], ids=lambda e: e["file"]
)
def test_notes_agree_with_magenta_js(entry, magenta_js):
    ours = midi_to_sequence(magenta_js / entry["file"])
    js = from_magenta_js_json(entry["noteSequence"])
    name = Path(entry["file"]).name

    def identity(n, velocity):
        return (n.pitch, n.instrument, n.program, n.is_drum, velocity)

    assert Counter(identity(n, n.velocity * 128 // 127) for n in ours.notes) == Counter(
        identity(n, n.velocity) for n in js.notes
    )
    assert [t.qpm for t in ours.tempos] == pytest.approx([t.qpm for t in js.tempos], rel=1e-12)
    assert ours.total_time == pytest.approx(js.total_time, abs=1e-9)
    if ours.time_signatures:
        assert ours.time_signatures == js.time_signatures
    else:
        assert js.time_signatures == [TimeSignature(0, 4, 4)]

    def cc(c, step=None):
        return (round(c.time, 9), c.control_number, c.control_value, c.instrument, c.program, step)

    assert Counter(cc(c) for c in ours.control_changes) == Counter(
        cc(c) for c in js.control_changes
    )

    if "quantizeError" in entry:
        assert entry["quantizeError"]["name"] == "MultipleTempoException"
        with pytest.raises(QuantizationError) as error:
            quantize_note_sequence(ours, 4)
        assert type(error.value).__name__ == "MultipleTempoError"
        return
    q = quantize_note_sequence(ours, 4)
    jq = from_magenta_js_json(entry["quantized"])
    assert Counter(cc(c, c.quantized_step) for c in q.control_changes) == Counter(
        cc(c, c.quantized_step) for c in jq.control_changes
    )

    # Both sides against the exact steps computed from the ticks (round half up, and a note
    # that rounds to zero length gets one step).
    qpm, ppq = q.tempos[0].qpm, q.ticks_per_quarter
    for n in jq.notes:
        assert (n.quantized_start_step, n.quantized_end_step) in _allowed_steps(n, qpm, ppq, True)
    ties = 0
    for n in q.notes:
        allowed = _allowed_steps(n, qpm, ppq, exact_halves_round_up=False)
        ties += len(allowed) > 1
        assert (n.quantized_start_step, n.quantized_end_step) in allowed

    def steps(ns):
        return Counter(
            (
                n.pitch,
                n.instrument,
                n.program,
                n.is_drum,
                n.quantized_start_step,
                n.quantized_end_step,
            )
            for n in ns.notes
        )

    differ = steps(q) - steps(jq)
    if name == "melody_offgrid_90bpm.mid":
        assert ties >= 2 and 0 < sum(differ.values()) <= ties  # only notes on exact half steps
    elif name == "poly_overlap.mid":
        assert {k[0] for k in differ} == {62}  # the doubled note-on (pairing rule, see above)
        assert len({n.end_time for n in q.notes if n.pitch == 62}) == 1  # one note-off ended both
    else:
        assert ties == 0 and not differ
        assert q.total_quantized_steps == jq.total_quantized_steps


def _allowed_steps(note, qpm, ppq, exact_halves_round_up):
    """The (start, end) steps a note may get: exact halves may round either way unless told."""

    def candidates(seconds):
        exact = _exact_step(seconds, qpm, ppq)
        if exact.denominator == 2 and not exact_halves_round_up:
            return {math.floor(exact), math.ceil(exact)}
        return {math.floor(exact + Fraction(1, 2))}

    return {
        (start, end if end != start else end + 1)
        for start in candidates(note.start_time)
        for end in candidates(note.end_time)
    }


def test_magenta_js_files_are_all_covered():
    assert {Path(e["file"]).name for e in load_json("expected/encode.json")["files"]} == {
        p.name for p in MIDI_FIXTURES
    }


# --- the symusic backend reads what pretty_midi reads ---------------------------------------------
#
# backend="symusic" must give exactly the reference's sequence (dataclass equality: every float
# identical) on every file it accepts, and backend="auto" the reference's outcome, sequence or
# error message, on every file. The files: the fixtures and samples, sequences written by our
# writer, raw event streams written by mido that break the symusic reader's assumptions on
# purpose, and the folk corpus where it is present.

FOLK = REPO / "data" / "folk_midi"


def _outcome(data: bytes, backend: str):
    try:
        return midi_to_sequence(data, backend=backend)
    except (MidiError, LimitError) as exc:
        return f"{type(exc).__name__}: {exc}"


def symusic_refusal(data: bytes) -> str | None:
    """Why ``backend="auto"`` reads ``data`` with pretty_midi (a bad file: its error message);
    None when it reads it with symusic."""
    symusic_score = score_class()
    if symusic_score is None:
        return "symusic 0.6 is not installed"
    try:
        read_with_symusic(bytes(data), symusic_score, "cannot read MIDI data")
    except (NotExact, MidiError, LimitError) as exc:
        return str(exc)
    return None


def assert_backends_agree(data: bytes) -> bool:
    """Check the backends on ``data``; True when symusic read it (False: it was refused)."""
    reference = _outcome(data, "pretty_midi")
    assert _outcome(data, "auto") == reference
    refusal = symusic_refusal(data)
    if refusal is not None:
        fast = _outcome(data, "symusic")
        assert isinstance(fast, str) and refusal in fast
        return False
    assert isinstance(reference, NoteSequence), "symusic read a file the reference rejects"
    assert midi_to_sequence(data, backend="symusic") == reference
    return True


# Sample files the symusic reader refuses, and why (all others it reads).
SYMUSIC_REFUSES = {
    "multitrack_3_4.mid": "control changes or pitch bends come at or before",
    "poly_overlap.mid": "two notes of one pitch overlap",
    "saints_multitrack.mid": "control changes or pitch bends come at or before",
}


@pytest.mark.parametrize("path", ALL_MIDI, ids=ids)
def test_symusic_reads_sample_files_like_pretty_midi(path):
    data = path.read_bytes()
    assert assert_backends_agree(data) == (path.name not in SYMUSIC_REFUSES)
    if path.name in SYMUSIC_REFUSES:
        assert SYMUSIC_REFUSES[path.name] in symusic_refusal(data)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(midi_sequences())
def test_symusic_reads_written_sequences_like_pretty_midi(ns):
    read = assert_backends_agree(sequence_to_midi_bytes(ns))
    event("symusic read it" if read else "refused")


@st.composite
def raw_midi_files(draw):
    """Bytes of a type-0/1 file from raw MIDI events, written by mido.

    Half are tidy (one channel per track, notes one after another, names and meta events at
    the start); the others are a random mix of what pretty_midi and symusic may read
    differently: note-ons of one key overlapping or left sounding, zero-length notes, note-offs
    without a note-on, program changes between notes, controllers and pitch bends anywhere,
    several track names anywhere, tempos, meters and keys on one tick or in later tracks.
    """
    tidy = draw(st.booleans())
    n_tracks = draw(st.integers(1, 3))
    midi = mido.MidiFile(
        type=0 if n_tracks == 1 else 1, ticks_per_beat=draw(st.sampled_from([96, 480]))
    )
    names = st.sampled_from(["lead", "bass", "Caf\xe9", "x y"])
    for index in range(n_tracks):
        events = []  # (tick, message); sorted stably by tick below
        if tidy:
            channel = draw(st.sampled_from([0, 1, 9]))
            if draw(st.booleans()):
                events.append((0, mido.MetaMessage("track_name", name=draw(names))))
            if draw(st.booleans()):
                events.append(
                    (
                        0,
                        mido.Message(
                            "program_change", channel=channel, program=draw(st.integers(0, 127))
                        ),
                    )
                )
            if index == 0:
                for tick in sorted(draw(st.sets(st.integers(0, 3000), max_size=3))):
                    events.append(
                        (
                            tick,
                            mido.MetaMessage(
                                "set_tempo", tempo=draw(st.integers(200_000, 1_500_000))
                            ),
                        )
                    )
                events.append(
                    (
                        0,
                        mido.MetaMessage(
                            "time_signature",
                            numerator=draw(st.integers(1, 12)),
                            denominator=draw(st.sampled_from([2, 4, 8])),
                        ),
                    )
                )
                events.append(
                    (
                        0,
                        mido.MetaMessage(
                            "key_signature",
                            key=draw(st.sampled_from(["C", "Am", "F#m", "Cb", "Eb"])),
                        ),
                    )
                )
            tick = draw(st.integers(0, 50))
            for _ in range(draw(st.integers(1, 15))):
                pitch, length = draw(st.integers(40, 90)), draw(st.integers(1, 200))
                events.append(
                    (
                        tick,
                        mido.Message(
                            "note_on",
                            channel=channel,
                            note=pitch,
                            velocity=draw(st.integers(1, 127)),
                        ),
                    )
                )
                events.append(
                    (tick + length, mido.Message("note_off", channel=channel, note=pitch))
                )
                tick += length + draw(st.integers(0, 30))
            for _ in range(draw(st.integers(0, 3))):
                events.append(
                    (
                        draw(st.integers(0, tick + 10)),
                        mido.Message(
                            "control_change",
                            channel=channel,
                            control=7,
                            value=draw(st.integers(0, 127)),
                        ),
                    )
                )
        else:
            channels, pitches = st.sampled_from([0, 1, 9]), st.sampled_from([60, 62])
            kinds = st.sampled_from(
                [
                    "on",
                    "on",
                    "on",
                    "off",
                    "off",
                    "off0",
                    "program",
                    "cc",
                    "bend",
                    "name",
                    "tempo",
                    "meter",
                    "key",
                ]
            )
            for _ in range(draw(st.integers(1, 25))):
                tick, kind, channel = draw(st.integers(0, 40)), draw(kinds), draw(channels)
                if kind == "on":
                    msg = mido.Message(
                        "note_on",
                        channel=channel,
                        note=draw(pitches),
                        velocity=draw(st.integers(1, 127)),
                    )
                elif kind in ("off", "off0"):
                    msg = mido.Message(
                        "note_off" if kind == "off" else "note_on",
                        channel=channel,
                        note=draw(pitches),
                        velocity=0,
                    )
                elif kind == "program":
                    msg = mido.Message(
                        "program_change", channel=channel, program=draw(st.sampled_from([0, 5]))
                    )
                elif kind == "cc":
                    msg = mido.Message(
                        "control_change",
                        channel=channel,
                        control=draw(st.sampled_from([7, 64])),
                        value=draw(st.integers(0, 127)),
                    )
                elif kind == "bend":
                    msg = mido.Message(
                        "pitchwheel", channel=channel, pitch=draw(st.integers(-8192, 8191))
                    )
                elif kind == "name":
                    msg = mido.MetaMessage("track_name", name=draw(names))
                elif kind == "tempo":
                    msg = mido.MetaMessage(
                        "set_tempo", tempo=draw(st.sampled_from([400_000, 500_000, 612_345]))
                    )
                elif kind == "meter":
                    msg = mido.MetaMessage(
                        "time_signature",
                        numerator=draw(st.sampled_from([3, 4])),
                        denominator=draw(st.sampled_from([4, 4, 8, 256])),
                    )
                else:
                    msg = mido.MetaMessage(
                        "key_signature", key=draw(st.sampled_from(["C", "Am", "B"]))
                    )
                events.append((tick, msg))
        track = mido.MidiTrack()
        now = 0
        for tick, msg in sorted(events, key=lambda e: e[0]):
            track.append(msg.copy(time=tick - now))
            now = tick
        midi.tracks.append(track)
    out = io.BytesIO()
    midi.save(file=out)
    return out.getvalue()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_midi_files())
def test_symusic_reads_raw_event_streams_like_pretty_midi(data):
    event("symusic read it" if assert_backends_agree(data) else "refused")


@pytest.mark.skipif(not FOLK.is_dir(), reason="the folk corpus (data/folk_midi) is not built")
def test_symusic_reads_the_folk_corpus_like_pretty_midi():
    files = sorted(FOLK.rglob("*.mid"))[::20]  # every 20th file: ~200 of 4,320
    read = sum(assert_backends_agree(path.read_bytes()) for path in files)
    assert read >= 0.8 * len(files), f"symusic read only {read} of {len(files)} folk files"


def _file(*tracks: bytes, division: int = 96) -> bytes:
    """A type-0/1 file from raw track bodies (each given without its end-of-track)."""
    head = _header(0 if len(tracks) == 1 else 1, len(tracks), division)
    return head + b"".join(_track(body + END) for body in tracks)


NOTE_ON = b"\x90\x3c\x40"  # C4, channel 0
NOTE_OFF = b"\x80\x3c\x40"


@pytest.mark.parametrize(
    "body",
    [
        # C4 + E4 on, both off on one tick: C4's note-off first, then E4's first
        b"\x00" + NOTE_ON + b"\x00\x90\x40\x40\x10" + NOTE_OFF + b"\x00\x80\x40\x40",
        b"\x00" + NOTE_ON + b"\x00\x90\x40\x40\x10\x80\x40\x40\x00" + NOTE_OFF,
        # a triad ended by velocity-0 note-ons in running status, G4 C4 E4, then a second chord
        # ending E4 C4 on another tick, with a stray note-off on channel 1 of a pitch not in it
        b"\x00"
        + NOTE_ON
        + b"\x00\x40\x40\x00\x43\x40\x10\x43\x00\x00\x3c\x00\x00\x40\x00"
        + b"\x00"
        + NOTE_ON
        + b"\x00\x40\x40\x08\x81\x30\x40\x08\x80\x40\x40\x00"
        + NOTE_OFF,
    ],
    ids=["C then E", "E then C", "triads"],
)
def test_symusic_reads_chords_in_the_order_of_their_note_offs(body):
    data = _file(body)
    assert assert_backends_agree(data)
    reference = midi_to_sequence(data, backend="pretty_midi")
    ends = [n.end_time for n in reference.notes]
    assert len(ends) != len(set(ends))  # notes do end together
    assert [n.pitch for n in midi_to_sequence(data, backend="symusic").notes] == [
        n.pitch for n in reference.notes
    ]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        # a second C4 starts while the first sounds and is never ended: pretty_midi ends both
        # at the note-off, symusic only the first (and drops the second)
        (b"\x00" + NOTE_ON + b"\x10" + NOTE_ON + b"\x10" + NOTE_OFF, "two notes of one pitch"),
        (b"\x00" + NOTE_ON + b"\x00" + NOTE_OFF, "starts and ends on the same tick"),
        # program 5 set while C4 sounds: pretty_midi files the note under 5, symusic under 0
        (b"\x00" + NOTE_ON + b"\x10\xc0\x05\x10" + NOTE_OFF, "changes program"),
        (b"\x00\xb0\x07\x64\x00" + NOTE_ON + b"\x10" + NOTE_OFF, "control changes or pitch bends"),
        # a chord ending on a tick where channel 1 has a stray note-off of one of its pitches:
        # which note-off ends channel 0's E4 (and so the notes' order) is not known
        (
            b"\x00" + NOTE_ON + b"\x00\x90\x40\x40\x10\x80\x40\x40\x00\x81\x40\x40\x00" + NOTE_OFF,
            "a note-off of two channels",
        ),
        # a meta event of type 0x0a: mido reads it without its delta time
        (b"\x00" + NOTE_ON + b"\x10\xff\x0a\x01a\x10" + NOTE_OFF, "mido reads differently"),
        # 3/256 time: symusic keeps the denominator in a byte
        (b"\x00\xff\x58\x04\x03\x08\x18\x08\x00" + NOTE_ON + b"\x10" + NOTE_OFF, "(ff 58 04 03 08"),
        # a sysex escape event: symusic misreads its length
        (b"\x00\xf7\x01\x05\x00" + NOTE_ON + b"\x10" + NOTE_OFF, "sysex escape"),
        (b"\x00\xff\x03\x04Caf\xe9\x00" + NOTE_ON + b"\x10" + NOTE_OFF, "not printable ASCII"),
    ],
    ids=[
        "left sounding",
        "zero length",
        "program",
        "straggler",
        "chord",
        "meta",
        "meter",
        "escape",
        "name",
    ],
)
def test_symusic_refuses_what_it_cannot_read_exactly(body, reason):
    data = _file(body)
    assert reason in symusic_refusal(data)
    with pytest.raises(
        MidiError, match="symusic cannot promise pretty_midi.s reading.*" + re.escape(reason)
    ):
        midi_to_sequence(data, backend="symusic")
    assert _outcome(data, "auto") == _outcome(data, "pretty_midi")


def test_symusic_refuses_events_after_end_of_track():
    # mido reads on after an end-of-track event, symusic stops there.
    data = _header(0, 1, 96) + _track(ONE_NOTE + END + b"\x00\x90\x3e\x40\x10\x80\x3e\x40" + END)
    assert "end-of-track" in symusic_refusal(data)
    assert [n.pitch for n in midi_to_sequence(data).notes] == [60, 62]


def test_symusic_names_instruments_as_pretty_midi_does():
    # pretty_midi names an instrument by the track name in effect when its first note ends:
    # "b" (the later of two names on one tick), none yet, "a" for both instruments of the track
    # (the second one's program is set while the first is read) though "late" follows.
    def name(delta: int, text: bytes) -> bytes:
        return bytes([delta, 0xFF, 0x03, len(text)]) + text

    note = b"\x00" + NOTE_ON + b"\x10" + NOTE_OFF
    second = b"\x00\xc1\x05\x00\x91\x3e\x40\x10\x81\x3e\x40"
    cases = [
        (name(0, b"a") + name(0, b"b") + note, {0: "b"}),
        (note + name(1, b"late"), {}),
        (name(0, b"a") + note + second + name(1, b"late"), {0: "a", 1: "a"}),
    ]
    for body, names in cases:
        data = _file(body)
        assert symusic_refusal(data) is None
        ns = midi_to_sequence(data, backend="symusic")
        assert ns == midi_to_sequence(data, backend="pretty_midi")
        assert {i.instrument: i.name for i in ns.instrument_infos} == names


def test_symusic_reads_every_key_signature_and_odd_tempo_maps_exactly():
    for sf in range(-7, 8):
        for mode in (0, 1):
            key = b"\x00\xff\x59\x02" + bytes([sf & 0xFF, mode])
            assert assert_backends_agree(_file(key + b"\x00" + NOTE_ON + b"\x10" + NOTE_OFF))
    # seven tempo changes (one repeated) at odd ticks, notes long after them, tpq 479
    tempos = b"".join(
        bytes([delta, 0xFF, 0x51, 0x03]) + us.to_bytes(3, "big")
        for delta, us in [
            (0, 612_345),
            (7, 400_001),
            (13, 400_001),
            (1, 999_999),
            (99, 33_333),
            (5, 1_234_567),
            (127, 500_000),
        ]
    )
    notes = b"".join(
        b"\x7f" + bytes([0x90, pitch, 0x40]) + b"\x83\x61" + bytes([0x80, pitch, 0x40])
        for pitch in range(50, 80)
    )
    data = _file(tempos + notes, division=479)
    assert assert_backends_agree(data)
    assert len(midi_to_sequence(data, backend="symusic").tempos) == 6


def test_backend_argument():
    data = MIDI_SAMPLES[0].read_bytes()
    with pytest.raises(ValueError, match="backend must be one of"):
        midi_to_sequence(data, backend="fast")
    with pytest.raises(TypeError, match="backend 'symusic' reads paths and bytes"):
        midi_to_sequence(mido.MidiFile(MIDI_SAMPLES[0]), backend="symusic")


@pytest.fixture
def without_symusic(monkeypatch):
    """symusic cannot be imported, as where it is not installed (score_class caches its answer,
    so the cache is emptied before and after)."""
    monkeypatch.setitem(sys.modules, "symusic", None)
    score_class.cache_clear()
    yield
    score_class.cache_clear()


def test_without_symusic_auto_reads_with_pretty_midi(without_symusic):
    data = MIDI_SAMPLES[0].read_bytes()
    expected = midi_to_sequence(data, backend="pretty_midi")
    assert score_class() is None
    assert midi_to_sequence(data) == expected
    with pytest.raises(MidiError, match="backend 'symusic' needs symusic 0.6"):
        midi_to_sequence(data, backend="symusic")
