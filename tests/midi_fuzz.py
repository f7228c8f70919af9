"""Seeded mutations of MIDI files, and the pipeline every mutation must survive.

Shared by tests/test_fuzz_midi.py (a few thousand cases in the test suite) and bench/fuzz.py
(100,000 and more in worker processes with a time limit per case). Case ``i`` of seed ``s``
is always the same bytes (:func:`mutate`), so a failure is reproduced by its two numbers:

    python bench/fuzz.py --seed S --case I --show

The corpus is the MIDI files of tests/fixtures and midi_samples plus a few built here that
hold what those lack (track names, tempo and meter changes in a conductor track, sysex, text
events, running status across meta events, one tick per quarter). Each case applies one to
three mutations, at the byte level (bit flips, bytes set, inserted, deleted or repeated,
truncation), the chunk level (lying chunk lengths and track counts, extra and foreign chunks,
spliced, repeated or many tracks, type 2 or an unknown type, a division of 0, 1, 32767, 65535
or SMPTE) or the event level (huge and 5-byte deltas, deltas holding meta-looking bytes,
dropped status bytes and stray data bytes, unterminated or corrupt sysex, system messages,
meta events of odd types, lengths and values, end-of-track in the middle or missing, long
notes at one tick per quarter, floods of notes or tempo changes past the caps).

:func:`run_case` reads the bytes with the default reader and sends the sequence through
quantization and melody extraction (directly, and split on time changes as the dataset
pipeline does), writes it back as MIDI and reads that again (up to
:data:`WRITE_BACK_NOTES` notes). Every step may refuse with a
:class:`~melodyrnn.errors.MelodyRNNError`; anything else is a raw exception (a bug). For
inputs under :data:`COMPARE_BYTES` it also checks that the default reader gives the reference
reader's (mido + pretty_midi) outcome, sequence or error, word for word.
"""

from __future__ import annotations

import random
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from melodyrnn.limits import limit

REPO = Path(__file__).resolve().parent.parent
CORPUS_FILES = sorted((REPO / "tests" / "fixtures" / "magenta_js" / "midi").glob("*.mid")) + sorted(
    (REPO / "midi_samples").glob("*.mid")
)
# Only inputs below this size are also read with the reference reader (mido takes ~8 us and
# ~260 bytes of memory per event).
COMPARE_BYTES = 256 * 1024
# Only sequences of at most this many notes are written back and read again: pretty_midi's
# writer takes ~35 us a note, and the writer's real inputs (continue's outputs) are small.
WRITE_BACK_NOTES = 20_000
# The stages of run_case, in order (for a caller that watches a case run).
STAGES = ("read", "reference", "extract", "pipeline", "write")


# --- the corpus -----------------------------------------------------------------------------


def _vlq(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _meta(kind: int, data: bytes, delta: int = 0) -> bytes:
    return _vlq(delta) + bytes([0xFF, kind]) + _vlq(len(data)) + data


def _file(midi_type: int, division: int, tracks: list[bytes]) -> bytes:
    head = b"MThd" + struct.pack(">IHHH", 6, midi_type, len(tracks), division)
    return head + b"".join(b"MTrk" + struct.pack(">I", len(t)) + t for t in tracks)


END = b"\x00\xff\x2f\x00"


def _melody(channel: int = 0, first: int = 60, n: int = 24, step: int = 96) -> bytes:
    out = []
    for i in range(n):
        pitch = first + (i * 5) % 13
        out.append(b"\x00" + bytes([0x90 | channel, pitch, 80]))
        out.append(_vlq(step) + bytes([0x80 | channel, pitch, 0]))
    return b"".join(out)


def built_corpus() -> list[bytes]:
    """Files that hold what the fixtures lack."""
    conductor = (
        _meta(0x03, b"conductor")
        + _meta(0x51, (600_000).to_bytes(3, "big"))
        + _meta(0x58, b"\x03\x02\x18\x08")
        + _meta(0x59, b"\xfe\x01")
        + _meta(0x51, (400_000).to_bytes(3, "big"), delta=96 * 12)
        + _meta(0x58, b"\x04\x02\x18\x08", delta=96 * 12)
        + END
    )
    lead = _meta(0x03, b"lead") + b"\x00\xc0\x05" + _melody(0) + END
    # running status across a text event, a sysex, a lyric per note, a second name
    quirky = (
        _meta(0x03, b"quirky")
        + b"\x00\xf0\x05\x7e\x7f\x09\x01\xf7"
        + b"\x00\x91\x40\x50"
        + _meta(0x01, b"hello", delta=48)
        + b"\x30\x40\x00"
        + b"".join(_meta(0x05, b"la", delta=0) + b"\x00\x43\x50\x30\x43\x00" for _ in range(8))
        + _meta(0x03, b"renamed")
        + END
    )
    drums = b"\x00\x99\x24\x64\x10\x89\x24\x00\x00\x99\x26\x64\x10\x89\x26\x00" * 6 + END
    one_tick = _file(0, 1, [b"\x00\x90\x3c\x40\x83\xff\x7f\x80\x3c\x40" + END])
    return [
        _file(1, 96, [conductor, lead, quirky, drums]),
        _file(0, 480, [_meta(0x03, b"solo") + _melody(0, 55, 40, 240) + END]),
        one_tick,
    ]


def corpus() -> list[bytes]:
    return [path.read_bytes() for path in CORPUS_FILES] + built_corpus()


# --- chunks and events, read leniently (for mutating, not for checking) ----------------------


@dataclass
class Chunks:
    header: bytes  # the 6+ bytes of the MThd body
    chunks: list[list] = field(default_factory=list)  # [tag, body]

    @classmethod
    def parse(cls, data: bytes) -> Chunks | None:
        if data[:4] != b"MThd" or len(data) < 14:
            return None
        size = int.from_bytes(data[4:8], "big")
        if size > len(data):
            return None
        out = cls(data[8 : 8 + size])
        pos = 8 + size
        while pos + 8 <= len(data):
            length = int.from_bytes(data[pos + 4 : pos + 8], "big")
            out.chunks.append([data[pos : pos + 4], data[pos + 8 : pos + 8 + length]])
            pos += 8 + length
        return out

    def bytes(self, n_tracks: int | None = None) -> bytes:
        header = bytearray(self.header)
        if n_tracks is not None and len(header) >= 4:
            header[2:4] = (n_tracks & 0xFFFF).to_bytes(2, "big")
        body = b"".join(tag + struct.pack(">I", len(b)) + b for tag, b in self.chunks)
        return b"MThd" + struct.pack(">I", len(header)) + bytes(header) + body


def events(body: bytes) -> list[bytes]:
    """A track body cut into events (delta included); an unreadable rest is one last piece."""
    out, pos, last = [], 0, 0
    try:
        while pos < len(body):
            start = pos
            while body[pos] & 0x80:
                pos += 1
            pos += 1
            status = body[pos]
            if status >= 0x80:
                pos += 1
                if status < 0xF0:
                    last = status
            else:
                status = last
            if 0x80 <= status < 0xF0:
                pos += 1 if 0xC0 <= status < 0xE0 else 2
            elif status in (0xFF, 0xF0, 0xF7):
                if status == 0xFF:
                    pos += 1
                length = 0
                while True:
                    byte = body[pos]
                    pos += 1
                    length = (length << 7) | (byte & 0x7F)
                    if byte < 0x80:
                        break
                pos += length
            else:
                raise IndexError
            if pos > len(body):
                raise IndexError
            out.append(body[start:pos])
    except IndexError:
        out.append(body[start:])
    return out


# --- mutations ---------------------------------------------------------------------------------


def _bit_flips(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if out:
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def _set_bytes(rng, data):
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        if out:
            out[rng.randrange(len(out))] = rng.choice(
                [0, 0x7F, 0x80, 0xF0, 0xF7, 0xFF, rng.randrange(256)]
            )
    return bytes(out)


def _insert_bytes(rng, data):
    at = rng.randrange(len(data) + 1)
    junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    return data[:at] + junk + data[at:]


def _delete_range(rng, data):
    at = rng.randrange(len(data) + 1)
    return data[:at] + data[at + rng.randint(1, 32) :]


def _repeat_range(rng, data):
    at = rng.randrange(len(data) + 1)
    piece = data[at : at + rng.randint(1, 64)]
    return data[:at] + piece * rng.randint(2, 50) + data[at:]


def _truncate(rng, data):
    return data[: rng.randrange(len(data) + 1)]


def _header_field(rng, data):
    """A lying type, track count or division."""
    chunks = Chunks.parse(data)
    if chunks is None or len(chunks.header) < 6:
        return _set_bytes(rng, data)
    header = bytearray(chunks.header)
    field_ = rng.randrange(3)
    values = [
        [0, 1, 2, 3, 0xFFFF, rng.randrange(65536)],
        [0, 1, len(chunks.chunks) + 1, max(len(chunks.chunks) - 1, 0), 0x7FFF, 0xFFFF, 5000],
        [0, 1, 2, 0x7FFF, 0xFFFF, 0x8000, 0xE728, 0xE250, 0xE828, rng.randrange(65536)],
    ][field_]
    header[2 * field_ : 2 * field_ + 2] = rng.choice(values).to_bytes(2, "big")
    chunks.header = bytes(header)
    return chunks.bytes()


def _chunk_length_lie(rng, data):
    """A chunk whose length field says more or less than it holds."""
    positions, pos = [4], 8 + int.from_bytes(data[4:8], "big") if len(data) >= 8 else 0
    while pos + 8 <= len(data):
        positions.append(pos + 4)
        pos += 8 + int.from_bytes(data[pos + 4 : pos + 8], "big")
    at = rng.choice(positions)
    if at + 4 > len(data):
        return _truncate(rng, data)
    old = int.from_bytes(data[at : at + 4], "big")
    new = rng.choice(
        [
            0,
            1,
            5,
            7,
            old + rng.randint(1, 16),
            max(old - rng.randint(1, 16), 0),
            0xFFFFFFFF,
            0x7FFFFFFF,
            len(data),
        ]
    )
    return data[:at] + (new & 0xFFFFFFFF).to_bytes(4, "big") + data[at + 4 :]


def _tracks(rng, data, heavy=False):
    """Tracks repeated (up to thousands), dropped, swapped or foreign chunks added. Thousands
    of copies repeat the tracks with notes only when ``heavy``, else a track without notes."""
    chunks = Chunks.parse(data)
    if chunks is None or not chunks.chunks:
        return _insert_bytes(rng, data)
    choice = rng.randrange(5)
    if choice == 0:  # many tracks, the header true or not
        copies = rng.choice([2, 16, 64, 300, 4095, 4097, 6000])
        repeated = chunks.chunks
        if copies > 64 and not heavy:
            repeated = [[b"MTrk", b"\x00\xff\x03\x01t" + END]]
        chunks.chunks += (repeated * (copies // len(repeated) + 1))[: copies - len(chunks.chunks)]
        return chunks.bytes(n_tracks=copies if rng.random() < 0.8 else rng.randrange(65536))
    if choice == 1:
        chunks.chunks.pop(rng.randrange(len(chunks.chunks)))
        return chunks.bytes(n_tracks=len(chunks.chunks) if rng.random() < 0.5 else None)
    if choice == 2:
        rng.shuffle(chunks.chunks)
        return chunks.bytes()
    if choice == 3:
        at = rng.randrange(len(chunks.chunks) + 1)
        chunks.chunks.insert(
            at, [rng.choice([b"XFIH", b"MThd", b"RIFF", b"MTrk"]), b"\x00" * rng.randint(0, 9)]
        )
        return chunks.bytes(n_tracks=len(chunks.chunks) if rng.random() < 0.5 else None)
    chunks.chunks.append([b"MTrk", b""])  # an empty track
    return chunks.bytes(n_tracks=len(chunks.chunks))


def _splice(rng, data, pool):
    """A track of another corpus file added or swapped in."""
    other = Chunks.parse(rng.choice(pool))
    chunks = Chunks.parse(data)
    if chunks is None or other is None or not other.chunks:
        return data
    track = rng.choice(other.chunks)
    if chunks.chunks and rng.random() < 0.5:
        chunks.chunks[rng.randrange(len(chunks.chunks))] = list(track)
    else:
        chunks.chunks.append(list(track))
    return chunks.bytes(n_tracks=len(chunks.chunks))


def _odd_event(rng: random.Random) -> bytes:
    """One event of a kind the readers must be careful with."""
    kind = rng.randrange(14)
    if kind == 0:  # a huge delta, a 5-byte one, or one holding 0xFF 0x03 / 0xFF 0x2F / 0xFF 0x51
        delta = rng.choice(
            [16259, 16303, 16337, 0x0FFFFFFF, 9_999_999, 10_000_001, rng.randrange(1 << 28)]
        )
        prefix = _vlq(delta) if rng.random() < 0.8 else b"\x80\x80\x80\x80\x00"
        return prefix + b"\x90\x3c\x40"
    if kind == 1:  # running status without a status, or after a meta or a sysex
        return rng.choice(
            [b"\x00\x3c\x40", b"\x00\xff\x01\x00\x00\x3c\x00", b"\x00\xf0\x01\xf7\x00\x3c\x00"]
        )
    if kind == 2:  # an unterminated, overlong or corrupt sysex, or an escape
        return rng.choice(
            [
                b"\x00\xf0\x7f\x01",
                b"\x00\xf0\x03\x01\xf7\x02",
                b"\x00\xf0\x02\x81\xf7",
                b"\x00\xf7\x02\x01\x02",
                b"\x00\xf0\x8f\xff\xff\x7f",
            ]
        )
    if kind == 3:  # a system common or real-time message, with or without a data byte too many
        status = rng.choice([0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF8, 0xF9, 0xFA, 0xFE])
        return (
            b"\x00" + bytes([status]) + bytes(rng.randrange(128) for _ in range(rng.randint(0, 2)))
        )
    if kind == 4:  # a tempo: 0, the largest, 0x07FF03, or of the wrong length
        data = rng.choice(
            [
                b"\x00\x00\x00",
                b"\xff\xff\xff",
                b"\x07\xff\x03",
                b"\x07\xa1",
                b"\x07\xa1\x20\x00",
                b"",
            ]
        )
        return _meta(0x51, data)
    if kind == 5:  # a time signature: 0/4, 255/8 (0xFF 0x03), 3/2**40, the wrong length
        data = rng.choice(
            [
                b"\x00\x02\x18\x08",
                b"\xff\x03\x18\x08",
                b"\x03\x28\x18\x08",
                b"\x03\x08\x18\x08",
                b"\x04\x02",
                b"\x04\x02\x18\x08\x00",
            ]
        )
        return _meta(0x58, data)
    if kind == 6:  # a key signature out of range
        return _meta(0x59, bytes([rng.randrange(256), rng.randrange(4)])[: rng.randint(0, 2)])
    if kind == 7:  # a meta event of a type mido does not know, or a known one of odd length
        return _meta(
            rng.choice([0x00, 0x08, 0x09, 0x0A, 0x20, 0x21, 0x54, 0x7F, rng.randrange(256)]),
            bytes(rng.randrange(256) for _ in range(rng.randint(0, 6))),
        )
    if kind == 8:  # an end-of-track in the middle, or with data
        return rng.choice([END, b"\x00\xff\x2f\x01\x00"])
    if kind == 9:  # names: latin-1, empty, with 0xFF 0x03 inside, a marker
        return _meta(
            rng.choice([0x03, 0x03, 0x06, 0x04]),
            rng.choice([b"Caf\xe9", b"", b"a\xff\x03b", b"x" * 200, b"melodyrnn:end-of-track"]),
        )
    if kind == 10:  # a data byte above 127, or a note with velocity 0
        return rng.choice(
            [b"\x00\x90\x3c\xc0", b"\x00\x90\xbc\x40", b"\x00\xc0\x85", b"\x00\x90\x3c\x00"]
        )
    if kind == 11:  # a meta or sysex longer than its chunk or than mido's 1,000,000 bytes
        return rng.choice([b"\x00\xff\x01\x8f\xff\xff\x7f", b"\x00\xff\x01\xbd\x84\x41"])
    if kind == 12:  # program changes and controllers anywhere
        return rng.choice(
            [b"\x00\xc0\x07", b"\x00\xc1\x30", b"\x00\xb0\x07\x64", b"\x00\xe0\x00\x40"]
        )
    return bytes([rng.randrange(256) for _ in range(rng.randint(1, 5))])


def _event_level(rng, data):
    """Events inserted, dropped, repeated or stripped of their status byte in one track."""
    chunks = Chunks.parse(data)
    if chunks is None or not chunks.chunks:
        return _insert_bytes(rng, data)
    index = rng.randrange(len(chunks.chunks))
    pieces = events(chunks.chunks[index][1])
    choice = rng.randrange(4)
    at = rng.randrange(len(pieces) + 1)
    if choice == 0 or not pieces:
        for _ in range(rng.randint(1, 3)):
            pieces.insert(at, _odd_event(rng))
    elif choice == 1:
        pieces.pop(min(at, len(pieces) - 1))
    elif choice == 2:
        piece = pieces[min(at, len(pieces) - 1)]
        pieces[at:at] = [piece] * rng.randint(2, 30)
    else:  # drop a status byte: running status where the previous status differs
        k = min(at, len(pieces) - 1)
        piece = pieces[k]
        cut = next((i for i, b in enumerate(piece) if not b & 0x80), None)
        if cut is not None and cut + 1 < len(piece) and 0x80 <= piece[cut + 1] < 0xF0:
            pieces[k] = piece[: cut + 1] + piece[cut + 2 :]
    chunks.chunks[index][1] = b"".join(pieces)
    return chunks.bytes()


def _floods(rng, data, heavy=True):
    """At and past a cap: a note at tick 10**7, a long note at one tick per quarter, the most
    notes allowed and one more, a hundred thousand tempo changes (a thousand unless ``heavy``)."""
    choice = rng.randrange(4)
    if choice == 0:
        delta = rng.choice([9_999_998, 9_999_999, 10_000_000])
        return _file(0, 96, [b"\x00\x90\x3c\x40" + _vlq(delta) + b"\x80\x3c\x40" + END])
    if choice == 1:
        return _file(
            0,
            1,
            [
                b"\x00\x90\x3c\x40"
                + _vlq(rng.choice([50_000, 60_000, 1 << 20]))
                + b"\x80\x3c\x40"
                + END
            ],
        )
    if choice == 2:  # notes up to the cap and one past it, one at a time or in two-note chords
        cap = limit("max_notes")
        n = rng.choice([1000, cap, cap + 1] if heavy else [1000, cap + 1])
        if rng.random() < 0.5:
            steps = b"\x01\x3c\x00\x00\x3c\x40" * (n - 1)
            return _file(0, 96, [b"\x00\x90\x3c\x40" + steps + b"\x01\x3c\x00" + END])
        # chords whose notes end on one tick: the reader that follows pretty_midi's rules
        chords = b"\x01\x3c\x00\x00\x40\x00\x00\x3c\x40\x00\x40\x40" * (n // 2 - 1)
        first = b"\x00\x90\x3c\x40\x00\x40\x40"
        return _file(0, 96, [first + chords + b"\x01\x3c\x00\x00\x40\x00" + END])
    n = rng.choice([1000, 100_000, 100_002] if heavy else [1000])
    tempo = b"\x01\xff\x51\x03\x07\xa1\x20\x01\xff\x51\x03\x06\x1a\x80"
    return _file(1, 96, [tempo * (n // 2) + END, _melody() + END])


BYTE_MUTATIONS = (_bit_flips, _set_bytes, _insert_bytes, _delete_range, _repeat_range, _truncate)
STRUCTURE_MUTATIONS = (
    _header_field,
    _chunk_length_lie,
    _tracks,
    _event_level,
    _event_level,
    _event_level,
)


def mutate(case: int, seed: int, pool: list[bytes], heavy: bool = True) -> bytes:
    """The bytes of case ``case`` of seed ``seed`` (``pool``: :func:`corpus`). ``heavy=False``
    (the test suite) makes the thousands of tracks of a "many tracks" mutation tracks without
    notes, which keeps every case cheap; the bench keeps them heavy."""
    rng = random.Random(seed * 1_000_003 + case)
    if rng.random() < 0.002:
        return _floods(rng, b"", heavy)
    data = rng.choice(pool)
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
        roll = rng.random()
        if roll < 0.35:
            data = rng.choice(BYTE_MUTATIONS)(rng, data)
        elif roll < 0.95:
            mutation = rng.choice(STRUCTURE_MUTATIONS)
            data = mutation(rng, data, heavy) if mutation is _tracks else mutation(rng, data)
        else:
            data = _splice(rng, data, pool)
    return data


# --- the pipeline --------------------------------------------------------------------------------


@dataclass
class Outcome:
    verdict: str  # "read" or the class of the error that refused the file
    raw: str = ""  # a raw exception (a bug), as "Type: message (file:line)"
    mismatch: str = ""  # how the default reader's outcome differed from the reference's
    round_trip: str = ""  # how the sequence written and read back differs, if it does
    seconds: dict = field(default_factory=dict)  # per stage: read, extract, pipeline, write
    cpu: dict = field(default_factory=dict)  # the same, in CPU seconds of this process
    notes: int = 0  # of the sequence read

    @property
    def pipeline_seconds(self) -> float:
        """The time of everything but the reference reading (a check, not the product)."""
        return sum(t for stage, t in self.seconds.items() if stage != "reference")


def run_case(data: bytes, compare: bool = True, on_stage=None) -> Outcome:
    """Read ``data``, quantize, extract melodies, write it back and read that; never raises.
    ``on_stage(index)`` is called as each stage of :data:`STAGES` starts."""
    import traceback

    outcome = Outcome("raw")
    try:
        _run(data, compare, outcome, on_stage or (lambda index: None))
    except Exception as exc:  # a raw exception anywhere is what the fuzzing looks for
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        outcome.raw = f"{type(exc).__name__}: {exc} ({where})"[:500]
    return outcome


def _run(data: bytes, compare: bool, outcome: Outcome, on_stage) -> None:
    import time

    from melodyrnn.errors import MelodyRNNError
    from melodyrnn.events.melody import extract_melodies
    from melodyrnn.io.midi import midi_to_sequence, sequence_to_midi_bytes
    from melodyrnn.pipelines import DatasetSettings, squashed_melodies
    from melodyrnn.sequence import quantize_note_sequence

    seconds = outcome.seconds

    cpu = outcome.cpu

    def timed(stage: str, function, *args):
        on_stage(STAGES.index(stage))
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            return function(*args)
        except MelodyRNNError as exc:
            return f"{type(exc).__name__}: {exc}"
        finally:
            seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - started
            cpu[stage] = cpu.get(stage, 0.0) + time.process_time() - cpu_started

    def read(source: bytes, backend: str = "auto"):
        return midi_to_sequence(source, filename="fuzz.mid", backend=backend)

    ns = timed("read", read, data)
    outcome.verdict = ns.split(":", 1)[0] if isinstance(ns, str) else "read"
    if compare and len(data) <= COMPARE_BYTES:
        reference = timed("reference", read, data, "pretty_midi")
        if reference != ns:
            outcome.mismatch = _difference(ns, reference)
    if isinstance(ns, str):
        return
    outcome.notes = len(ns.notes)

    def quantize_and_extract():
        return extract_melodies(quantize_note_sequence(ns))

    timed("extract", quantize_and_extract)
    timed("pipeline", squashed_melodies, ns, DatasetSettings(), Counter())
    if len(ns.notes) > WRITE_BACK_NOTES:
        return
    written = timed("write", sequence_to_midi_bytes, ns)
    if isinstance(written, bytes):
        # what we write, we must read: a MelodyRNNError here is a bug too
        started, cpu_started = time.perf_counter(), time.process_time()
        again = read(written)
        seconds["write"] += time.perf_counter() - started
        cpu["write"] += time.process_time() - cpu_started
        if len(again.notes) != len(ns.notes):
            outcome.round_trip = f"{len(ns.notes)} notes written, {len(again.notes)} read back"


def _difference(ours, reference) -> str:
    def show(outcome):
        return outcome if isinstance(outcome, str) else f"a sequence of {len(outcome.notes)} notes"

    if isinstance(ours, str) or isinstance(reference, str):
        return f"default: {show(ours)[:200]} | reference: {show(reference)[:200]}"
    for name in ("notes", "tempos", "time_signatures", "key_signatures", "instrument_infos",
                 "control_changes", "pitch_bends", "total_time"):  # fmt: skip
        if getattr(ours, name) != getattr(reference, name):
            return f"both read it; {name} differ"
    return "both read it; the sequences differ"
