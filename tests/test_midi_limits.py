"""Issue 10, MIDI side: what the readers refuse, with which words, and that both agree.

Each defect's reproducer is built here from bytes: track-name byte pairs that are no track
name (the fast reader once rewrote them), files mido refuses and symusic reads, paths that are
not regular files, files and bytes over the size cap, the caps on ticks, notes, tracks, tempo
changes and quantized steps, the writer refusing what the reader would refuse, and header
fields read as signed numbers.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import tracemalloc

import mido
import pretty_midi
import pytest
from helpers import REPO
from hypothesis import given, settings
from hypothesis import strategies as st
from test_midi_io import symusic_refusal

from melodyrnn.errors import LimitError, MelodyRNNError, MidiError
from melodyrnn.io.input_file import read_regular_file
from melodyrnn.io.midi import midi_to_sequence, sequence_to_midi_bytes, sequence_to_midi_file
from melodyrnn.io.midi_checks import summarize_track
from melodyrnn.io.midi_events import scan_track
from melodyrnn.sequence import Note, NoteSequence, Tempo, TimeSignature, quantize_note_sequence

END = b"\x00\xff\x2f\x00"


def header(midi_type: int, n_tracks: int, division: int) -> bytes:
    return b"MThd\x00\x00\x00\x06" + b"".join(
        v.to_bytes(2, "big") for v in (midi_type, n_tracks, division)
    )


def track(body: bytes) -> bytes:
    return b"MTrk" + len(body).to_bytes(4, "big") + body


def midi(*bodies: bytes, division: int = 96) -> bytes:
    """A type-0/1 file of these track bodies (each given without its end-of-track)."""
    return header(0 if len(bodies) == 1 else 1, len(bodies), division) + b"".join(
        track(body + END) for body in bodies
    )


def notes(first_delta: bytes = b"\x00", n: int = 4) -> bytes:
    """``n`` notes, one after the other, the first ``first_delta`` (a variable-length quantity)
    after the start of the track, each 96 ticks long."""
    out = [first_delta + b"\x90\x3c\x40\x60\x80\x3c\x40"]
    out += [
        b"\x00\x90" + bytes([62 + i]) + b"\x40\x60\x80" + bytes([62 + i]) + b"\x40"
        for i in range(n - 1)
    ]
    return b"".join(out)


def outcome(data: bytes, backend: str):
    try:
        return midi_to_sequence(data, backend=backend)
    except MelodyRNNError as exc:
        return f"{type(exc).__name__}: {exc}"


def assert_same_reading(data: bytes):
    """The default reader gives the reference's outcome; returns it."""
    reference = outcome(data, "pretty_midi")
    assert outcome(data, "auto") == reference
    return reference


# --- defect 1: byte pairs that look like a track name ----------------------------------------

# 16,259 ticks as a variable-length quantity is ff 03; 0x07ff03 us per quarter; 255/8 time.
DELTA_FF03 = b"\xff\x03"
# (conductor track, start of the melody track, the delta of its first note)
TRACK_NAME_LOOKALIKES = {
    "delta before a tempo change": (
        b"\x00\xff\x03\x04cond" + DELTA_FF03 + b"\xff\x51\x03\x0f\x42\x40",
        b"\x81\x9c\x20\xff\x01\x01x",  # the notes start at tick 20,000, after the change
        b"\x00",
    ),
    "tempo of 0x07ff03 us": (b"\x00\xff\x51\x03\x07\xff\x03", b"", b"\x00"),
    "time signature 255/8": (b"\x00\xff\x58\x04\xff\x03\x18\x08", b"", b"\x00"),
    "a name holding ff 03": (
        b"\x00\xff\x03\x04a\xff\x03b" + DELTA_FF03 + b"\xff\x01\x00",
        b"",
        b"\x00",
    ),
    "delta before a note": (b"\x00\xff\x03\x01c", b"\x00\xff\x03\x04lead", DELTA_FF03),
}


@pytest.mark.parametrize("kind", sorted(TRACK_NAME_LOOKALIKES))
def test_track_name_lookalikes_read_as_the_reference_reads_them(kind):
    conductor, lead, first_delta = TRACK_NAME_LOOKALIKES[kind]
    data = midi(conductor, lead + notes(first_delta))
    reference = assert_same_reading(data)
    assert isinstance(reference, NoteSequence)
    assert symusic_refusal(data) is None  # the fast reader reads them itself
    assert midi_to_sequence(data, backend="symusic") == reference
    if kind == "delta before a tempo change":
        assert reference.tempos[1].time == pytest.approx(16_259 / 96 * 0.5)
        assert reference.notes[0].start_time == pytest.approx(16_259 / 96 * 0.5 + 3_741 / 96)
    if kind == "tempo of 0x07ff03 us":
        assert reference.tempos[0].qpm == pytest.approx(6e7 / 0x07FF03)
    if kind == "time signature 255/8":
        assert (
            reference.time_signatures[0].numerator,
            reference.time_signatures[0].denominator,
        ) == (255, 8)


# --- defect 2: what mido refuses, the default reader refuses ---------------------------------

MIDO_REFUSES = {
    "active sensing with a data byte": b"\x10\xfe\x10",
    "sysex with a stray f7": b"\x10\xf0\x03\x01\xf7\x02",
    "sysex data byte above 127": b"\x10\xf0\x03\x01\x81\xf7",
    "tempo of 2 bytes": b"\x10\xff\x51\x02\x07\xa1",
    "time signature of 2 bytes": b"\x10\xff\x58\x02\x04\x02",
    "key signature with mode 3": b"\x10\xff\x59\x02\x00\x03",
    "controller value above 127": b"\x10\xb0\x07\xc0",
    "program above 127": b"\x10\xc0\x85",
    "undefined status byte": b"\x10\xf4",
    "running status after a clock": b"\x10\xf8\x10\x3c\x40",
    "meta event past its chunk": b"\x10\xff\x01\x20abc",
}


@pytest.mark.parametrize("kind", sorted(MIDO_REFUSES))
def test_files_mido_refuses_are_refused_with_the_reference_words(kind):
    data = midi(notes() + MIDO_REFUSES[kind] + notes(n=1))
    reference = assert_same_reading(data)
    assert reference.startswith("MidiError: cannot read MIDI data: "), reference
    with pytest.raises(MidiError):
        midi_to_sequence(data, backend="symusic")


MIDO_READS = {
    "song position": b"\x10\xf2\x01\x02",
    "clock": b"\x10\xf8",
    "running status after a text event": b"\x10\xff\x01\x01x\x10\x3e\x40\x10\x3e\x00",
    "a 5-byte delta": b"\x80\x80\x80\x80\x10\xff\x01\x00",
    # mido reads the data byte 05 as the status byte of a second sysex
    "running status after a sysex": b"\x10\xf0\x01\xf7\x10\x05\x01\xf7",
}


@pytest.mark.parametrize("kind", sorted(MIDO_READS))
def test_odd_files_mido_reads_are_read_like_the_reference(kind):
    data = midi(notes() + MIDO_READS[kind] + notes(n=1))
    assert isinstance(assert_same_reading(data), NoteSequence)


def _event_bytes():
    """Byte strings that are mostly MIDI events, some of them broken."""
    event = st.one_of(
        st.sampled_from(
            [
                b"\x00\x90\x3c\x40",
                b"\x10\x80\x3c\x00",
                b"\x00\x3c\x40",
                b"\x05\xb0\x07\x64",
                b"\x00\xc0\x05",
                b"\x00\xe0\x00\x40",
                b"\x00\xd0\x10",
                b"\x81\x00\x90\x40\x40",
                b"\x00\xff\x03\x02ab",
                b"\x00\xff\x51\x03\x07\xa1\x20",
                b"\x00\xff\x58\x04\x03\x02\x18\x08",
                b"\x00\xff\x59\x02\xfd\x01",
                b"\x00\xff\x2f\x00",
                b"\x00\xf0\x02\x01\xf7",
                b"\x00\xf7\x01\x02",
                b"\x00\xf8",
                b"\x00\xfe",
                b"\x00\xf2\x01\x02",
                b"\x00\xff\x7f\x00",
                b"\x00\xff\x0a\x01a",
                b"\x80\x80\x80\x80\x00\x90\x3c\x40",
                b"\xff\x03\xff\x01\x00",
            ]
        ),
        st.binary(min_size=1, max_size=4),
    )
    return st.lists(event, max_size=12).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(_event_bytes())
def test_the_event_walker_reads_a_track_as_mido_does(body):
    import io

    data = header(0, 1, 96) + track(body)
    try:
        expected = summarize_track(mido.MidiFile(file=io.BytesIO(data)).tracks[0])
    except Exception:
        expected = None
    try:
        scan = scan_track(body, "x")
    except MidiError:
        assert expected is None, "the walker refuses a track mido reads"
        return
    assert expected is not None, "the walker reads a track mido refuses"
    assert scan.summary == expected


# --- defect 3: only regular files are opened ----------------------------------------------------


def _quick(function, *args, **kwargs):
    started = time.perf_counter()
    try:
        function(*args, **kwargs)
    except MelodyRNNError as exc:
        assert time.perf_counter() - started < 1.0
        return exc
    raise AssertionError("no error")


def test_paths_that_are_not_regular_files_are_refused_without_opening_them(tmp_path):
    fifo = tmp_path / "pipe.mid"
    os.mkfifo(fifo)
    broken = tmp_path / "broken.mid"
    broken.symlink_to(tmp_path / "gone.mid")
    loop = tmp_path / "loop.mid"
    loop.symlink_to(loop)
    sock_path = tmp_path / "sock.mid"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    zero_link = tmp_path / "zero.mid"
    zero_link.symlink_to("/dev/zero")
    cases = {
        fifo: "named pipe (FIFO)",
        tmp_path: "a directory",
        broken: "broken symbolic link",
        loop: "loop of symbolic links",
        sock_path: "a socket",
        "/dev/zero": "a character device",
        "/dev/urandom": "a character device",
        zero_link: "not a regular file (the symbolic link leads to '/dev/zero')",
    }
    try:
        for path, kind in cases.items():
            for backend in ("auto", "pretty_midi"):
                exc = _quick(midi_to_sequence, path, backend=backend)
                assert isinstance(exc, MidiError)
                assert str(exc).startswith(f"cannot read MIDI file '{path}': it is "), str(exc)
                assert kind in str(exc)
    finally:
        sock.close()


def test_cli_inspect_of_a_fifo_fails_at_once(tmp_path):
    fifo = tmp_path / "pipe.mid"
    os.mkfifo(fifo)
    for verb in ("inspect", "encode"):
        proc = subprocess.run(
            [sys.executable, "-m", "melodyrnn.cli", verb, str(fifo)],
            capture_output=True, text=True, cwd=REPO, timeout=60,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        assert "named pipe" in proc.stderr and "Traceback" not in proc.stderr


def test_an_empty_path_is_named():
    for backend in ("auto", "pretty_midi"):
        exc = _quick(midi_to_sequence, "", backend=backend)
        assert str(exc) == "cannot read MIDI file '': the path is empty"


# --- defect 6: the size cap ---------------------------------------------------------------------


def test_files_over_the_size_cap_are_refused_without_being_read(tmp_path, monkeypatch):
    sparse = tmp_path / "huge.mid"
    with open(sparse, "wb") as f:
        f.truncate(5 * 2**30)  # 5 GB of nothing, no disk used
    tracemalloc.start()
    exc = _quick(midi_to_sequence, sparse)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert isinstance(exc, LimitError) and peak < 2**20
    assert str(exc) == (
        f"cannot read MIDI file '{sparse}': its size is 5,368,709,120 bytes, over the limit of "
        "67,108,864 (max_file_bytes); set MELODYRNN_MAX_FILE_BYTES to raise it"
    )
    good = midi(notes())
    small = tmp_path / "small.mid"
    small.write_bytes(good)
    for source in (small, good):
        assert isinstance(_quick(midi_to_sequence, source, max_bytes=len(good) - 1), LimitError)
        assert midi_to_sequence(source, max_bytes=len(good)).notes
    monkeypatch.setenv("MELODYRNN_MAX_FILE_BYTES", str(len(good) - 1))
    assert "MELODYRNN_MAX_FILE_BYTES" in str(_quick(midi_to_sequence, bytearray(good)))


def test_a_file_growing_after_its_stat_is_read_to_the_cap_only(tmp_path, monkeypatch):
    path = tmp_path / "grows.mid"
    path.write_bytes(b"MThd" + b"\x00" * 4000)
    real_stat = os.stat

    def stat(p, *args, **kwargs):  # the size as it was when looked at
        result = real_stat(p, *args, **kwargs)
        return os.stat_result((*result[:6], 10, *result[7:]))

    monkeypatch.setattr(os, "stat", stat)
    exc = _quick(read_regular_file, path, "cannot read MIDI file 'grows.mid'", max_bytes=100)
    assert "its size (at least) is 101 bytes" in str(exc)


# --- defect 7: ticks, notes, tracks, tempo changes, steps ---------------------------------------


def test_one_tick_per_quarter_cannot_ask_for_millions_of_steps():
    # 1 tick per quarter, one note of 9,999,998 quarters: within the tick cap, but 4e7 steps
    data = header(0, 1, 1) + track(b"\x00\x90\x3c\x40\x84\xe2\xac\x7e\x80\x3c\x40" + END)
    ns = midi_to_sequence(data)
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(LimitError) as error:
        quantize_note_sequence(ns)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert time.perf_counter() - started < 0.5 and peak < 2**20
    assert str(error.value) == (
        "the length of the sequence at 4 steps per quarter is 39,999,992 steps, over the limit "
        "of 200,000 (max_steps); set MELODYRNN_MAX_STEPS to raise it"
    )
    quantized = quantize_note_sequence(ns, max_steps=40_000_000)
    assert quantized.total_quantized_steps == 39_999_992


def test_the_quantized_length_check_is_exact(monkeypatch):
    ns = NoteSequence(notes=[Note(60, 80, 0.0, 12.5)], total_time=12.5)  # 100 steps at 120 qpm
    assert quantize_note_sequence(ns, max_steps=100).total_quantized_steps == 100
    with pytest.raises(LimitError, match="is 101 steps"):
        quantize_note_sequence(
            NoteSequence(notes=[Note(60, 80, 12.5, 12.5)], total_time=12.5), max_steps=100
        )
    monkeypatch.setenv("MELODYRNN_MAX_STEPS", "99")
    with pytest.raises(LimitError, match="MELODYRNN_MAX_STEPS"):
        quantize_note_sequence(ns)


@pytest.mark.parametrize("backend", ["auto", "pretty_midi"])
def test_caps_on_ticks_notes_tracks_and_tempo_changes(backend, monkeypatch):
    def refused(data, words):
        reference = outcome(data, "pretty_midi")
        assert outcome(data, backend) == reference
        assert reference.startswith("LimitError: ") and words in reference, reference

    monkeypatch.setenv("MELODYRNN_MAX_TICKS", "500")
    assert midi_to_sequence(midi(notes(b"\x00", 4) + b"\x73\xff\x01\x00"), backend=backend)  # 499
    refused(midi(notes(b"\x00", 4) + b"\x74\xff\x01\x00"), "the span of its tracks is 501 ticks")
    monkeypatch.setenv("MELODYRNN_MAX_NOTES", "4")
    assert len(midi_to_sequence(midi(notes(n=4)), backend=backend).notes) == 4
    refused(midi(notes(n=2), notes(n=3)), "the number of notes is 5 notes, over the limit of 4")
    monkeypatch.setenv("MELODYRNN_MAX_TEMPO_CHANGES", "3")
    tempo = b"\x00\xff\x51\x03\x07\xa1\x20"
    assert midi_to_sequence(midi(tempo * 3, notes()), backend=backend)
    refused(midi(tempo * 2 + b"\x00\xff\x59\x02\x00\x00" * 2, notes()), "key signature events is 4")
    refused(header(1, 4097, 96) + track(END), "the number of tracks is 4,097 tracks")
    monkeypatch.setenv("MELODYRNN_MAX_EVENTS", "9")
    assert midi_to_sequence(midi(notes(n=4)), backend=backend)  # 8 events and the end
    # the walk stops at the 10th event (in the second track), whatever follows
    refused(midi(notes(n=4), notes(n=1)), "the number of events read is 10 events")
    # many events, then a byte mido cannot read: mido would build them all before it fails
    refused(midi(notes(n=5) + b"\x00\x90\x3c\xc0"), "the number of events read is 10 events")
    monkeypatch.setenv("MELODYRNN_MAX_TRACKS", "70000")
    exc = _quick(midi_to_sequence, header(1, 0xFFFF, 96) + track(END), backend=backend)
    assert "announces 65,535 tracks" in str(exc)


def test_the_tick_cap_is_past_pretty_midis_own_and_can_be_lowered(monkeypatch):
    data = midi(notes(b"\x85\xdc\xb6\x00", 2))  # the first note at tick 12,000,000
    # pretty_midi's own cap, 10**7 (importing note-seq raises it for the whole process)
    monkeypatch.setattr(pretty_midi.pretty_midi, "MAX_TICK", 1e7)
    with pytest.raises(ValueError, match="likely corrupt"):
        pretty_midi.PrettyMIDI(io.BytesIO(data))
    before = pretty_midi.pretty_midi.MAX_TICK
    ns = midi_to_sequence(data, backend="pretty_midi")
    assert before == pretty_midi.pretty_midi.MAX_TICK  # put back
    assert midi_to_sequence(data) == ns
    assert ns.notes[0].start_time == pytest.approx(12_000_000 / 96 / 2)
    for backend in ("auto", "pretty_midi"):
        with pytest.raises(LimitError, match="max_ticks"):
            midi_to_sequence(data, backend=backend, max_ticks=11_000_000)


def test_the_reference_reader_keeps_pretty_midis_table_as_tempos_not_ticks():
    # a tempo change at tick 90,000,000: pretty_midi's own table would be 720 MB
    data = midi(b"\x00\xff\x51\x03\x07\xa1\x20" + b"\xaa\xf5\x95\x00\xff\x51\x03\x0f\x42\x40"
                + notes(b"\x00", 2))  # fmt: skip
    tracemalloc.start()
    ns = midi_to_sequence(data, backend="pretty_midi")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 * 2**20, peak
    assert ns == midi_to_sequence(data)
    assert [t.time for t in ns.tempos] == [0.0, pytest.approx(90_000_000 / 96 * 0.5)]


# The peak resident memory of this process since it started (VmHWM: reset by exec, unlike
# ru_maxrss, which a child keeps from a big parent it was forked from), in KiB.
PEAK_RSS_CODE = (
    "import resource\n"
    "def peak_kib():\n"
    "    try:\n"
    "        for line in open('/proc/self/status'):\n"
    "            if line.startswith('VmHWM:'):\n"
    "                return int(line.split()[1])\n"
    "    except OSError:\n"
    "        pass\n"
    "    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
)


def test_peak_memory_of_a_dense_file_is_bounded(tmp_path):
    # two million events in 6 MB: refused on the event cap before anything is built
    body = b"\x00\x90\x3c\x40" + b"\x01\x3c\x00\x00\x3c\x40" * 1_000_000 + b"\x01\x3c\x00"
    path = tmp_path / "dense.mid"
    path.write_bytes(header(0, 1, 96) + track(body + END))
    code = PEAK_RSS_CODE + (
        "import sys\n"
        "from melodyrnn.io.midi import midi_to_sequence\n"
        "from melodyrnn.errors import LimitError\n"
        "try:\n    midi_to_sequence(sys.argv[1])\nexcept LimitError as exc:\n    print(exc)\n"
        "print(peak_kib())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    message, rss_kib = proc.stdout.strip().splitlines()
    # the walk stops at the cap: the rest of the file is never looked at
    assert "the number of events read is 500,001 events, over the limit of 500,000" in message
    assert int(rss_kib) < 200 * 1024, rss_kib


# --- defect 15: what we write, we can read ------------------------------------------------------


def test_the_writer_refuses_what_the_reader_would_refuse(tmp_path):
    # 10**9 ticks at 220 ticks per quarter and 120 qpm: 2,272,727 s
    far = NoteSequence(notes=[Note(60, 80, 0.0, 2_272_800.0)], total_time=2_272_800.0)
    target = tmp_path / "far.mid"
    with pytest.raises(
        LimitError, match=r"cannot write MIDI: the span of its tracks is 1,000,032,002 ticks"
    ):
        sequence_to_midi_file(far, target)
    assert not target.exists()
    resolution_1 = NoteSequence(
        notes=[Note(60, 80, 0.0, 100.0)], total_time=100.0, ticks_per_quarter=1
    )
    assert midi_to_sequence(sequence_to_midi_bytes(resolution_1)).notes


@settings(max_examples=60, deadline=None)
@given(
    st.floats(0.0, 3.0),
    st.sampled_from([96, 220, 480]),
    st.lists(st.tuples(st.floats(0.0, 3.0), st.floats(30, 300)), max_size=3),
)
def test_whatever_is_written_can_be_read(end, resolution, tempos):
    # a tick cap of 1,000 right around the sequence's end
    os.environ["MELODYRNN_MAX_TICKS"] = "1000"
    try:
        ns = NoteSequence(
            notes=[Note(60, 80, 0.0, end)],
            tempos=[Tempo(t, q) for t, q in tempos],
            time_signatures=[TimeSignature(0.0, 4, 4)],
            total_time=end,
            ticks_per_quarter=resolution,
        )
        try:
            data = sequence_to_midi_bytes(ns)
        except LimitError:
            return
        for backend in ("auto", "pretty_midi"):
            midi_to_sequence(data, backend=backend)
    finally:
        del os.environ["MELODYRNN_MAX_TICKS"]


def test_the_writer_refuses_too_many_notes_tracks_or_tempo_changes(monkeypatch):
    monkeypatch.setenv("MELODYRNN_MAX_NOTES", "2")
    three = NoteSequence(notes=[Note(60 + i, 80, i, i + 1.0) for i in range(3)], total_time=3.0)
    with pytest.raises(LimitError, match="cannot write MIDI: the number of notes is 3"):
        sequence_to_midi_bytes(three)
    monkeypatch.setenv("MELODYRNN_MAX_NOTES", "100")
    monkeypatch.setenv("MELODYRNN_MAX_TRACKS", "3")
    spread = NoteSequence(
        notes=[Note(60, 80, 0, 1.0, instrument=i) for i in range(3)], total_time=1.0
    )
    with pytest.raises(LimitError, match="cannot write MIDI: the number of tracks is 4"):
        sequence_to_midi_bytes(spread)
    monkeypatch.setenv("MELODYRNN_MAX_TEMPO_CHANGES", "2")
    tempos = NoteSequence(
        notes=three.notes, tempos=[Tempo(1.0, 100.0), Tempo(2.0, 90.0)], total_time=3.0
    )
    # 120 qpm at 0, the two changes and the 4/4 pretty_midi adds at 0 when no meter is there
    with pytest.raises(LimitError, match="tempo, time and key signature events is 4"):
        sequence_to_midi_bytes(tempos)


def test_what_the_writer_accepts_at_the_tempo_cap_reads_back(monkeypatch):
    """Fuzz case 2249 of seed 1: 100,000 tempos and no meter were written with the 4/4 that
    pretty_midi adds, which made a file of 100,001 such events that the reader refused."""
    monkeypatch.setenv("MELODYRNN_MAX_TEMPO_CHANGES", "3")
    notes = [Note(60, 80, 0.0, 1.0)]
    three = [Tempo(0.0, 120.0), Tempo(1.0, 100.0), Tempo(2.0, 90.0)]
    with pytest.raises(LimitError, match="events is 4"):
        sequence_to_midi_bytes(NoteSequence(notes=notes, tempos=three, total_time=3.0))
    two = NoteSequence(notes=notes, tempos=three[:2], total_time=3.0)
    again = midi_to_sequence(sequence_to_midi_bytes(two))
    assert [round(t.qpm, 6) for t in again.tempos] == [120.0, 100.0]
    assert [(ts.numerator, ts.denominator) for ts in again.time_signatures] == [(4, 4)]


# --- defect 17: header fields are unsigned --------------------------------------------------------


@pytest.mark.parametrize("backend", ["auto", "pretty_midi"])
def test_header_type_is_reported_unsigned(backend):
    exc = _quick(midi_to_sequence, header(0xFFFF, 1, 96) + track(END), backend=backend)
    assert str(exc) == "cannot read MIDI data: unknown MIDI file type 65535"


def test_a_track_running_on_into_bad_data_is_worded_without_the_reference(monkeypatch):
    # Track 1 ends inside a note-on; mido reads on into track 2's header as events (velocity
    # "M", then "T" "r" "k" ...) until the byte 0x90 comes where a data byte must: its words.
    data = header(1, 2, 96) + track(b"\x00\x90\x3c") + track(b"\x00\x90\x3c\x40")
    reference = outcome(data, "pretty_midi")
    assert reference.endswith("(OSError: data byte must be in range 0..127)"), reference
    import melodyrnn.io.midi as midi_module

    def no_reference(*args, **kwargs):
        raise AssertionError("the reference reader ran")

    monkeypatch.setattr(midi_module, "_read_with_pretty_midi", no_reference)
    assert outcome(data, "auto") == reference


def test_files_of_many_small_tracks_are_read_exactly_and_large_tracks_by_symusic(monkeypatch):
    import melodyrnn.io.midi as midi_module

    def refuse(name):
        def reader(*args, **kwargs):
            raise AssertionError(f"{name} ran")

        return reader

    def one_track(notes: int, pitch: int) -> bytes:
        events = b"".join(
            b"\x00\x90" + bytes([pitch + i % 12, 80]) + b"\x30\x80" + bytes([pitch + i % 12, 0])
            for i in range(notes)
        )
        return track(events + END)

    many = header(1, 300, 96) + b"".join(one_track(5, 40 + k % 40) for k in range(300))
    few = header(1, 2, 96) + one_track(200, 60) + one_track(150, 48)  # 400 and 300 events
    expected = {data: midi_to_sequence(data, backend="pretty_midi") for data in (many, few)}
    with monkeypatch.context() as patch:
        patch.setattr(midi_module, "read_scanned", refuse("symusic"))
        assert midi_to_sequence(many) == expected[many]  # 11 events a track: the exact reader
    if midi_module.score_class() is not None:
        with monkeypatch.context() as patch:
            patch.setattr(midi_module, "read_exact", refuse("the exact reader"))
            assert midi_to_sequence(few) == expected[few]
