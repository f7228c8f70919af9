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
import sys

from mido.messages import SPEC_BY_STATUS, Message
from mido.midifiles.meta import build_meta_message

from melodyrnn.errors import MidiError
from melodyrnn.io.midi_checks import (
    ReadLimits,
    TrackSummary,
    check_signature,
    one_line,
    truncated,
)
from melodyrnn.limits import check_limit

# mido refuses a meta or sysex event longer than this (mido.midifiles.midifiles).
MAX_MESSAGE_LENGTH = 1_000_000
# The meta types whose decoded values the checks need (tempo, time and key signature).
_CHECKED_META = frozenset((0x51, 0x58, 0x59))
TRACK_NAME, MARKER, END_OF_TRACK = 0x03, 0x06, 0x2F
# What mido raises for a data byte above 127 in a channel or system message.
_DATA_BYTE = "OSError: data byte must be in range 0..127"


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
    """Every track of ``data`` walked as mido walks it: chunk by chunk, each track's events
    before the next chunk's header, so the first failure found is mido's.

    Raises MidiError where mido fails. Its ``certain`` attribute says whether mido fails there
    with these words (then the reference need not run to word the error): always, except
    where an event runs past its track chunk into more data, which mido goes on reading as
    events. Raises LimitError as soon as the tracks walked hold more than ``limits.events``
    events (where mido would fail further on too: mido would first have built them all); the
    walk stops there."""
    check_signature(data, where)
    size = int.from_bytes(data[4:8], "big")
    if len(data) < 14 or size < 6:
        raise _certain(truncated(where))
    # mido reads the fields as signed; the type and the track count are unsigned
    # (midi_checks.check_header_bytes refuses more than 32,767 tracks before any reader runs).
    midi_type, n_tracks, division = struct.unpack(">HHh", data[8:14])
    position = 8 + size
    bodies, scans, events = [], [], 0
    for _ in range(n_tracks):
        if position + 8 > len(data):
            raise _certain(truncated(where))
        if data[position : position + 4] != b"MTrk":
            raise _certain(_corrupt(where, "OSError: no MTrk header at start of track"))
        length = int.from_bytes(data[position + 4 : position + 8], "big")
        start, position = position + 8, position + 8 + length
        body = data[start:position]
        budget = limits.events - events
        try:
            scan = scan_track(body, where, budget=budget)
        except MidiError as exc:
            if exc.past_end and position < len(data):
                # mido reads on into the next chunks as events of this track, until it fails
                # on one or at the end of the file (its position can no longer fall on the
                # chunk's end): walk the rest of the file as this track
                try:
                    walked = scan_track(data[start:], where, budget=budget)
                except MidiError as further:
                    exc = further
                else:  # it ends exactly at the end of the file: mido then reads past it
                    exc.events = walked.summary.events
            _check_walked(events + exc.events, where, limits)
            if exc.past_end:  # the walk reached the end of the file
                raise _certain(truncated(where)) from None
            raise exc from None  # (a bare raise would re-raise the chunk's error, not mido's)
        events += scan.summary.events
        if len(body) < length:  # the file ends inside the chunk: mido reads on into the end
            raise _certain(truncated(where))
        bodies.append(body)
        scans.append(scan)
    return ScannedFile(midi_type, division, bodies, scans)


def _check_walked(events: int, where: str, limits: ReadLimits) -> None:
    """LimitError where the walk stopped at the events cap (or mido would have built more
    events than the cap before it fails)."""
    if events > limits.events:
        check_limit("max_events", events, f"{where}: the number of events read", limits.events)


def _corrupt(where: str, reason: str) -> MidiError:
    """The reference reader's words for a file mido refuses (``reason``: mido's exception)."""
    return MidiError(f"{where}: corrupt MIDI data ({reason})")


def _certain(error: MidiError) -> MidiError:
    error.certain = True
    return error


def scan_track(
    body: bytes, where: str, record: list | None = None, budget: int = sys.maxsize
) -> TrackScan:
    """Walk the events of one track chunk as mido does; MidiError where mido fails (its
    ``events`` attribute: how many events mido would have read before; ``past_end``: whether
    an event runs past the chunk, where mido reads on; ``certain``: the opposite).

    ``record``, if given, receives the events pretty_midi reads instruments from, in file
    order: ``(tick, status, data1, data2)`` for each channel message (``data2`` 0 for the
    one-byte ones) and ``(tick, TRACK_NAME, name, 0)`` for each track name, decoded as mido
    decodes it. The walk stops after ``budget`` + 1 events, with a MidiError whose ``events``
    is that number (the caller's cap is then exceeded)."""
    try:
        return _scan(body, record, budget)
    except (IndexError, _Refused) as exc:
        # IndexError: an event needs bytes beyond the chunk (mido reads on and fails)
        past_end = isinstance(exc, IndexError)
        reason = "an event runs past its track chunk" if past_end else str(exc)
        error = _corrupt(where, reason)
        error.events, error.past_end, error.certain = exc.events, past_end, not past_end
    raise error


class _Refused(Exception):
    """mido refuses the track; the message is mido's exception as midi_checks.one_line words it."""


def _scan(body: bytes, record: list | None, budget: int) -> TrackScan:
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
            if events > budget:
                raise _Refused("over the events cap")
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
                    raise _Refused("OSError: running status without last_status")
                status = last
            else:
                pos += 1
                if status != 0xFF:  # meta events do not set the running status
                    last = status
            if status < 0xF0:  # a channel message: one or two data bytes below 128
                if 0xC0 <= status < 0xE0:
                    if body[pos] & 0x80:
                        raise _Refused(_DATA_BYTE)
                    if record is not None:
                        record.append((tick, status, body[pos], 0))
                    pos += 1
                else:
                    velocity = body[pos + 1]
                    if (body[pos] | velocity) & 0x80:
                        raise _Refused(_DATA_BYTE)
                    if velocity and status & 0xF0 == 0x90:
                        note_ons += 1
                    if record is not None:
                        record.append((tick, status, body[pos], velocity))
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
                    if record is not None:
                        record.append((tick, TRACK_NAME, message.name, 0))
                elif meta_type == MARKER:
                    scan.markers += 1
                elif meta_type == END_OF_TRACK:
                    scan.ends.append(start)
            elif status in (0xF0, 0xF7):
                data, pos = _length_and_data(body, pos, scan)
                data = data[1:] if data[:1] == b"\xf0" else data
                data = data[:-1] if data[-1:] == b"\xf7" else data
                if any(value > 127 for value in data):  # mido's Message checks them
                    raise _Refused("ValueError: data byte must be in range 0..127")
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
        raise _Refused(
            f"OSError: Message length {length} exceeds maximum length {MAX_MESSAGE_LENGTH}"
        )
    if pos + length > len(body):
        raise IndexError
    return body[pos : pos + length], pos + length


def _system_message(body: bytes, pos: int, status: int, peek: list[int]) -> int:
    """Read a system common or real-time message as mido does; the position after it."""
    spec = SPEC_BY_STATUS.get(status)
    if spec is None:
        raise _Refused(f"OSError: undefined status byte 0x{status:02x}")
    size = max(spec["length"] - 1 - len(peek), 0)
    if pos + size > len(body):
        raise IndexError
    data = peek + list(body[pos : pos + size])
    if any(value > 127 for value in data):
        raise _Refused(_DATA_BYTE)
    try:
        Message.from_bytes([status, *data])
    except Exception as exc:  # e.g. an active-sensing message with a data byte
        raise _Refused(one_line(exc)) from None
    return pos + size
