"""The bytes ``pretty_midi.PrettyMIDI.write`` writes, without building a mido object per event.

pretty_midi's writer (what note-seq runs) builds a ``mido.Message`` for every note-on and
note-off, converts each time to a tick one by one, sorts each track with a Python comparison
function and has mido encode it: ~60 us a note, 1.3 s for a 20,000-note file. This module
writes the same file, byte for byte, in a few array operations per track:

* times become ticks as ``PrettyMIDI.time_to_tick`` finds them (the nearest tick of its
  tick -> seconds table, the earlier one on a tie; past the table's end, extrapolated with
  the last tempo and rounded), for all of a track's times at once;
* track 0 holds a 4/4 time signature at tick 0 unless a time signature starts at time 0,
  one tempo event per tick scale, the time and key signatures; each later track holds one
  instrument: its name (if any), a program change, a note-on and a note-on of velocity 0 for
  each note, its pitch bends and control changes, on channel 10 for drums and else on the
  ``n % 15``-th of the other channels (n: the instrument's position);
* events are in pretty_midi's order: by tick, then tempo, time signature, key signature,
  program change, pitch bend (by value), control change (by number, then value), note-on
  (by pitch, then velocity: a note-off before a note-on of the same pitch and tick), a
  track name first; a stable sort on that key gives pretty_midi's comparison sort, as the
  comparison is consistent with it (the track name, at tick 0 and first, is never moved);
* each track ends with an end-of-track event one tick after its last event, and is encoded
  as mido encodes it (running status for channel messages, reset by meta events).

tests/test_midi_writer.py compares the bytes with pretty_midi's own writer.
"""

from __future__ import annotations

import io
import math
import struct

import mido
import numpy as np
import pretty_midi

from melodyrnn.io.midi_ticks import TickTable

__all__ = ["pretty_midi_bytes"]

# pretty_midi's sort order of event types at one tick (its writer's ``secondary_sort``)
_TEMPO, _METER, _KEY, _PROGRAM, _BEND, _CONTROL, _NOTE = (k << 16 for k in (1, 2, 3, 6, 7, 8, 10))
_END_OF_TRACK = b"\x01\xff\x2f\x00"  # one tick after the last event
# channels for instruments that are not drums, in pretty_midi's order (it never picks 10)
_CHANNELS = [channel for channel in range(16) if channel != 9]
_KEY_NAMES = [
    "C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B",
    "Cm", "C#m", "Dm", "D#m", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm",
]  # fmt: skip


def pretty_midi_bytes(pm: pretty_midi.PrettyMIDI, table: TickTable | None = None) -> bytes:
    """The Standard MIDI File ``pm.write`` writes (latin-1 track names, as pretty_midi).

    ``table``: the tick table ``pm`` would have (:class:`TickTable`), where its own was not
    built; by default ``pm``'s own."""
    if pm.lyrics or pm.text_events:  # never made by melodyrnn's writer: pretty_midi's own
        buffer = io.BytesIO()
        pm.write(buffer)
        return buffer.getvalue()
    to_ticks = (table or TickTable.of(pm)).times_to_ticks
    tracks = [_timing_track(pm, to_ticks)]
    for n, instrument in enumerate(pm.instruments):
        channel = 9 if instrument.is_drum else _CHANNELS[n % len(_CHANNELS)]
        tracks.append(_instrument_track(instrument, channel, to_ticks))
    header = struct.pack(">4sLhhh", b"MThd", 6, 1, len(tracks), pm.resolution)
    return header + b"".join(struct.pack(">4sL", b"MTrk", len(t)) + t for t in tracks)


def _timing_track(pm: pretty_midi.PrettyMIDI, to_ticks) -> bytes:
    events = []  # (tick, order, bytes of the meta event)
    signatures = pm.time_signature_changes
    if not signatures or min(ts.time for ts in signatures) > 0.0:
        events.append((0, _METER, _meter(4, 4)))
    for tick, scale in pm._tick_scales:
        tempo = int(6e7 / (60.0 / (scale * pm.resolution)))
        events.append((tick, _TEMPO, b"\xff\x51\x03" + tempo.to_bytes(3, "big")))
    meter_ticks = to_ticks([ts.time for ts in signatures]).tolist()
    for tick, ts in zip(meter_ticks, signatures):
        events.append((tick, _METER, _meter(ts.numerator, ts.denominator)))
    keys = pm.key_signature_changes
    for tick, ks in zip(to_ticks([ks.time for ks in keys]).tolist(), keys):
        events.append((tick, _KEY, _key(ks.key_number)))
    events.sort(key=lambda e: (e[0], e[1]))
    out, now = bytearray(), 0
    for tick, _, data in events:
        out += _vlq(tick - now) + data
        now = tick
    return bytes(out + _END_OF_TRACK)


def _instrument_track(instrument, channel: int, to_ticks) -> bytes:
    """One instrument's track; channel messages as (tick, order, status, data1, data2)."""
    notes = instrument.notes
    n = len(notes)
    on_status = 0x90 | channel
    if n:
        times = np.empty(2 * n)
        times[0::2] = [note.start for note in notes]
        times[1::2] = [note.end for note in notes]
        ticks = to_ticks(times)
        pitches = np.repeat([note.pitch for note in notes], 2)
        velocities = np.empty(2 * n, dtype=np.int64)
        velocities[0::2] = [note.velocity for note in notes]
        velocities[1::2] = 0
        order = _NOTE + pitches * 256 + velocities
        columns = [ticks, order, np.full(2 * n, on_status), pitches, velocities]
    else:
        columns = [np.empty(0, dtype=np.int64)] * 5
    bends, controls = instrument.pitch_bends, instrument.control_changes
    if bends:
        values = np.array([b.pitch for b in bends], dtype=np.int64)
        columns = _join(
            columns,
            [to_ticks([b.time for b in bends]), _BEND + values, np.full(len(bends), 0xE0 | channel),
             (values + 8192) & 0x7F, (values + 8192) >> 7],
        )  # fmt: skip
    if controls:
        numbers = np.array([c.number for c in controls], dtype=np.int64)
        values = np.array([c.value for c in controls], dtype=np.int64)
        columns = _join(
            columns,
            [to_ticks([c.time for c in controls]), _CONTROL + numbers * 256 + values,
             np.full(len(controls), 0xB0 | channel), numbers, values],
        )  # fmt: skip
    ticks, order, status, data1, data2 = columns
    # pretty_midi appends notes, then bends, then controls: a stable sort keeps that order
    # among equal keys, as its stable comparison sort does
    sort = np.lexsort((order, ticks))
    ticks, status, data1, data2 = ticks[sort], status[sort], data1[sort], data2[sort]

    out = bytearray()
    if instrument.name:  # at tick 0, first (nothing sorts before it)
        name = instrument.name.encode("latin-1")
        out += b"\x00\xff\x03" + _vlq(len(name)) + name
    # the program change: tick 0, after the name and before every other event of tick 0
    out += bytes([0, 0xC0 | channel, instrument.program])
    running = 0xC0 | channel
    now = 0
    for tick, s, a, b in zip(ticks.tolist(), status.tolist(), data1.tolist(), data2.tolist()):
        out += _vlq(tick - now)
        now = tick
        if s != running:
            out.append(s)
            running = s
        out.append(a)
        out.append(b)
    return bytes(out + _END_OF_TRACK)


def _join(columns: list, more: list) -> list:
    return [np.concatenate((a, np.asarray(b, dtype=np.int64))) for a, b in zip(columns, more)]


def _meter(numerator: int, denominator: int) -> bytes:
    return bytes([0xFF, 0x58, 4, numerator, int(math.log(denominator, 2)), 24, 8])


_KEY_BYTES: dict[int, bytes] = {}


def _key(key_number: int) -> bytes:
    if key_number not in _KEY_BYTES:
        message = mido.MetaMessage("key_signature", key=_KEY_NAMES[key_number])
        _KEY_BYTES[key_number] = bytes(message.bytes())
    return _KEY_BYTES[key_number]


def _vlq(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,))
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))
