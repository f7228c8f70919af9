"""The structure of a Standard MIDI File as mido reads it: its chunks and each track's events.

:mod:`melodyrnn.io.midi_fast` has symusic parse a file, but symusic neither shows where an
event lies in the bytes nor refuses everything mido refuses. This module walks the bytes the
way mido 1.3 does, so the fast reader

* finds the real track-name, marker and end-of-track events (never a byte pair that only looks
  like one, inside a delta time, a tempo or a time signature);
* refuses exactly the files mido refuses (a data byte above 127, running status without a
  status, a system message with a byte too many, a sysex with a stray 0xF7, an event that runs
  past its chunk, a meta event mido cannot decode, ...), so that the default reader gives the
  reference reader's verdict;
* knows, before symusic parses anything, what :mod:`melodyrnn.io.midi_checks` checks and
  bounds: the last tick, the note-ons, and the tempo, time and key signature events;
* learns which constructs mido reads but symusic may read differently (a delta of more than
  4 bytes, system common and real-time messages, running status after a sysex), to refuse
  them (:attr:`TrackScan.odd`).

Channel messages, nearly all of a file, take a short inline path; meta events and sysex are
decoded by mido's own functions, so their verdict is mido's by construction.
"""

from __future__ import annotations

import struct

from mido.messages import SPEC_BY_STATUS, Message
from mido.midifiles.meta import build_meta_message

from melodyrnn.errors import MidiError
from melodyrnn.io.midi_checks import (
    ReadLimits,
    TrackSummary,
    check_events,
    check_signature,
    one_line,
    truncated,
)

# mido refuses a meta or sysex event longer than this (mido.midifiles.midifiles).
MAX_MESSAGE_LENGTH = 1_000_000
# The meta types whose decoded values the checks need (tempo, time and key signature).
_CHECKED_META = frozenset((0x51, 0x58, 0x59))
TRACK_NAME, MARKER, END_OF_TRACK = 0x03, 0x06, 0x2F


class TrackScan:
    """One track chunk as mido reads it (``summary``) and where its special events lie.

    Offsets count from the start of the chunk body and point at an event's 0xFF byte.
    """

    __slots__ = ("summary", "names", "markers", "ends", "odd")

    def __init__(self):
        self.summary = TrackSummary()
        self.names: list[int] = []  # track-name events
        self.markers = 0  # how many marker events
        self.ends: list[int] = []  # end-of-track events
        self.odd: str | None = None  # why symusic may read the track differently, if it may


class ScannedFile:
    """A file as mido reads it: its header's type and division, the bodies of its track
    chunks and the :class:`TrackScan` of each."""

    __slots__ = ("midi_type", "division", "bodies", "scans")

    def __init__(self, midi_type: int, division: int, bodies: list[bytes], scans: list):
        self.midi_type, self.division, self.bodies, self.scans = midi_type, division, bodies, scans

    @property
    def header(self) -> tuple[int, int]:
        return self.midi_type, self.division

    @property
    def summaries(self) -> list[TrackSummary]:
        return [scan.summary for scan in self.scans]


def scan_file(data: bytes, where: str, limits: ReadLimits) -> ScannedFile:
    """Every track of ``data`` walked as mido walks it; MidiError where mido fails, and
    LimitError as soon as the tracks walked hold more than ``limits.events`` events (also
    where mido would fail further on: mido would first have built them all)."""
    midi_type, division, bodies = split_chunks(data, where)
    scans, events = [], 0
    for body in bodies:
        try:
            scan = scan_track(body, where)
        except MidiError as exc:
            check_events(events + getattr(exc, "events", 0), where, limits)
            raise
        events += scan.summary.events
        check_events(events, where, limits)
        scans.append(scan)
    return ScannedFile(midi_type, division, bodies, scans)


def split_chunks(data: bytes, where: str) -> tuple[int, int, list[bytes]]:
    """The header's type and division and the bodies of the track chunks it announces, as mido
    reads them (the chunk level only): MidiError for a file mido finds truncated or corrupt."""
    check_signature(data, where)
    size = int.from_bytes(data[4:8], "big")
    if len(data) < 14 or size < 6:
        raise truncated(where)
    # mido reads the fields as signed; the type and the track count are unsigned
    # (midi_checks.check_header_bytes refuses more than 32,767 tracks before any reader runs).
    midi_type, n_tracks, division = struct.unpack(">HHh", data[8:14])
    position = 8 + size
    bodies = []
    for _ in range(n_tracks):
        if position + 8 > len(data):
            raise truncated(where)
        if data[position : position + 4] != b"MTrk":
            raise MidiError(f"{where}: corrupt MIDI data (a track chunk does not start with MTrk)")
        length = int.from_bytes(data[position + 4 : position + 8], "big")
        body = data[position + 8 : position + 8 + length]
        if len(body) < length:
            raise truncated(where)
        bodies.append(body)
        position += 8 + length
    return midi_type, division, bodies


def scan_track(body: bytes, where: str) -> TrackScan:
    """Walk the events of one track chunk as mido does; MidiError where mido fails (its
    ``events`` attribute: how many events mido would have read before)."""
    try:
        return _scan(body)
    except (IndexError, _Refused) as exc:
        # IndexError: an event needs bytes beyond the chunk (mido reads on and fails)
        reason = str(exc) if isinstance(exc, _Refused) else "an event runs past its track chunk"
        error = MidiError(f"{where}: corrupt MIDI data ({reason})")
        error.events = exc.events
    raise error


class _Refused(Exception):
    """mido refuses the track; the message says why."""


def _scan(body: bytes) -> TrackScan:
    """scan_track's walk. Where it fails, the exception's ``events`` says how many events it
    read before (mido would have built them all)."""
    scan = TrackScan()
    summary = scan.summary
    size = len(body)
    pos = tick = note_ons = events = 0
    last = 0  # the running status (0: none yet)
    try:
        while pos < size:
            events += 1
            byte = body[pos]
            pos += 1
            delta = byte & 0x7F
            if byte & 0x80:
                first = pos
                while byte & 0x80:
                    byte = body[pos]
                    pos += 1
                    delta = (delta << 7) | (byte & 0x7F)
                if pos - first > 3 and scan.odd is None:
                    scan.odd = "a delta time takes more than 4 bytes"
            tick += delta
            status = body[pos]
            running = status < 0x80
            if running:
                if not last:
                    raise _Refused("running status without a previous status byte")
                status = last
            else:
                pos += 1
                if status != 0xFF:  # meta events do not set the running status
                    last = status
            if status < 0xF0:  # a channel message: one or two data bytes below 128
                if 0xC0 <= status < 0xE0:
                    if body[pos] & 0x80:
                        raise _Refused("data byte must be in range 0..127")
                    pos += 1
                else:
                    velocity = body[pos + 1]
                    if (body[pos] | velocity) & 0x80:
                        raise _Refused("data byte must be in range 0..127")
                    if velocity and status & 0xF0 == 0x90:
                        note_ons += 1
                    pos += 2
                continue
            start = pos - 1
            peek = []
            if running:  # mido reads the data byte as the first one of `last`'s message
                peek = [body[pos]]
                pos += 1
                if scan.odd is None:
                    scan.odd = "running status follows a sysex or system message"
            if status == 0xFF:
                meta_type = body[pos]
                data, pos = _length_and_data(body, pos + 1, scan)
                try:
                    message = build_meta_message(meta_type, list(data), delta)
                except Exception as exc:  # what mido raises for a meta event it cannot decode
                    raise _Refused(one_line(exc)) from None
                # mido 1.3 gives a meta event of a type it does not know no delta time (time 0),
                # which moves every later event of the track; so does the reference
                tick += message.time - delta
                if meta_type in _CHECKED_META:
                    summary.metas.append((tick, message))
                elif meta_type == TRACK_NAME:
                    scan.names.append(start)
                elif meta_type == MARKER:
                    scan.markers += 1
                elif meta_type == END_OF_TRACK:
                    scan.ends.append(start)
            elif status in (0xF0, 0xF7):
                data, pos = _length_and_data(body, pos, scan)
                data = data[1:] if data[:1] == b"\xf0" else data
                data = data[:-1] if data[-1:] == b"\xf7" else data
                if any(value > 127 for value in data):
                    raise _Refused("data byte must be in range 0..127")
            else:
                pos = _system_message(body, pos, status, peek)
                if scan.odd is None:
                    scan.odd = f"a system message (status byte 0x{status:02x})"
    except (IndexError, _Refused) as exc:
        exc.events = events
        raise
    summary.last_tick, summary.events, summary.note_ons = tick, events, note_ons
    return scan


def note_offs(body: bytes) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """``(tick, pitch) -> [(event number, channel), ...]``, in file order, of every note-off
    (0x8n, or 0x9n with velocity 0) of a track that :func:`scan_track` walked and found
    nothing odd in (no system messages, no running status after a sysex): pretty_midi lists
    an instrument's notes in the order of the note-offs that end them."""
    offs: dict[tuple[int, int], list[tuple[int, int]]] = {}
    size = len(body)
    pos = tick = number = last = 0
    while pos < size:
        byte = body[pos]
        pos += 1
        delta = byte & 0x7F
        while byte & 0x80:
            byte = body[pos]
            pos += 1
            delta = (delta << 7) | (byte & 0x7F)
        tick += delta
        status = body[pos]
        if status < 0x80:
            status = last
        else:
            pos += 1
            if status != 0xFF:
                last = status
        if status < 0xF0:
            kind = status & 0xF0
            if kind in (0xC0, 0xD0):
                pos += 1
                continue
            if kind == 0x80 or (kind == 0x90 and body[pos + 1] == 0):
                offs.setdefault((tick, body[pos]), []).append((number, status & 0x0F))
            pos += 2
        else:  # a meta event (its type byte first) or a sysex: a length, then the data
            pos += status == 0xFF
            length = 0
            while True:
                byte = body[pos]
                pos += 1
                length = (length << 7) | (byte & 0x7F)
                if byte < 0x80:
                    break
            pos += length
        number += 1
    return offs


def _length_and_data(body: bytes, pos: int, scan: TrackScan) -> tuple[bytes, int]:
    """A meta or sysex event's variable-length size at ``pos`` and the data after it."""
    length, first = 0, pos
    while True:
        byte = body[pos]
        pos += 1
        length = (length << 7) | (byte & 0x7F)
        if byte < 0x80:
            break
    if pos - first > 4 and scan.odd is None:
        scan.odd = "an event length takes more than 4 bytes"
    if length > MAX_MESSAGE_LENGTH:
        raise _Refused(f"an event of {length} bytes, over mido's {MAX_MESSAGE_LENGTH:,}")
    if pos + length > len(body):
        raise IndexError
    return body[pos : pos + length], pos + length


def _system_message(body: bytes, pos: int, status: int, peek: list[int]) -> int:
    """Read a system common or real-time message as mido does; the position after it."""
    spec = SPEC_BY_STATUS.get(status)
    if spec is None:
        raise _Refused(f"undefined status byte 0x{status:02x}")
    size = max(spec["length"] - 1 - len(peek), 0)
    if pos + size > len(body):
        raise IndexError
    data = peek + list(body[pos : pos + size])
    if any(value > 127 for value in data):
        raise _Refused("data byte must be in range 0..127")
    try:
        Message.from_bytes([status, *data])
    except Exception as exc:  # e.g. an active-sensing message with a data byte
        raise _Refused(one_line(exc)) from None
    return pos + size
