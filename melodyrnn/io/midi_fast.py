"""Fast MIDI reading: symusic's C++ parser, with pretty_midi's rules.

Used by :func:`melodyrnn.io.midi.midi_to_sequence` (``backend="symusic"`` or ``"auto"``); it
gives exactly the sequence of the mido + pretty_midi reference, float for float, or refuses.

symusic (the C++ MIDI parser miditok uses) parses a file about 100x faster than mido, and
pairs notes and groups instruments much like pretty_midi, but not quite, and it shows only
its result: no channels, no program changes, no event order, and it reads files mido
refuses. The reader below therefore first walks every track as mido does
(:mod:`melodyrnn.io.midi_events`: a file mido refuses goes to the reference, which words the
error; the walk also finds where the track names, markers and end-of-track events really
are), has :func:`~melodyrnn.io.midi_checks.check_tracks` make the reference's checks and caps
on what mido reads (:func:`read_scanned` starts after them), then has symusic parse each track
chunk on its own (so it knows which track an event came from, as pretty_midi does), parses a
probe copy of each track that makes the hidden parts visible, rebuilds pretty_midi's result
from what it sees, and refuses (:class:`NotExact`) every file where that result is not fully
determined. In the probe copy:

* the end-of-track event is a marker, so nothing hides after it (symusic stops at
  end-of-track, mido does not: a track must end with its only end-of-track event);
* track-name events (those the walk found, never a byte pair that only looks like one) are
  markers, which symusic reports with their ticks: pretty_midi names an instrument by the
  track name in effect when its first note ends, symusic keeps the last one. The probe is
  checked against the plain parse to have changed nothing else;
* note-offs of every pitch the track plays on every channel follow, 2**28 - 1 ticks after
  the end: symusic drops note-ons still sounding at the end of a track; drained like this
  they show up. pretty_midi ends all sounding note-ons of a key at its next note-off,
  symusic only the oldest one; the two agree when no two notes of one key overlap;
* when the track has a program-change status byte, one probe note per channel comes last:
  symusic files a note under the program of its channel at the note-on, pretty_midi at the
  note-off; they agree when a track's notes have their channel's last program (the probe
  note shares their track) and one status byte carries all program changes of the channel.

Refused (under backend="auto" the reference reads them): overlapping or zero-length notes of
one pitch in a track; a channel whose program may change while it has notes; notes of an
instrument ending on one tick where a note-off of one of their pitches on that tick is on two
channels (pretty_midi lists notes in the file order of their note-offs, symusic sorts them;
:func:`~melodyrnn.io.midi_events.note_offs` finds that order); two instruments of a track
whose first notes end on the same tick (pretty_midi's instrument order); control changes or
pitch bends at or before an instrument's first note end (pretty_midi's "straggler" events,
which it shares between the instruments of a channel through one list); track names that are
not printable ASCII (mido decodes latin-1, symusic UTF-8) or that change on the tick where an
instrument's first note ends; tempos, time or key signatures of track 0 that differ on one
tick (their order); byte patterns of events the two parsers read differently (_ODD_EVENT,
sysex escapes) and what mido reads but symusic may not (:attr:`TrackScan.odd
<melodyrnn.io.midi_events.TrackScan.odd>`: system messages, deltas of 5 bytes and more,
running status after a sysex); files longer than 2**28 - 1 ticks (the drain below needs
room); symusic versions other than 0.6 (these rules were checked against 0.6.0); and every
file symusic finds bad, so that the reference words the error. So "auto" refuses exactly the
files the reference refuses, with the reference's words (tests/test_fuzz_midi.py and
bench/fuzz.py check it on mutated files).
"""

from __future__ import annotations

import functools
import re
from itertools import repeat

import numpy as np

from melodyrnn.errors import MidiError
from melodyrnn.io.midi_checks import ReadLimits, check_tracks, one_line
from melodyrnn.io.midi_events import ScannedFile, TrackScan, note_offs, scan_file
from melodyrnn.io.midi_ticks import TempoMap
from melodyrnn.sequence import (
    ControlChange,
    InstrumentInfo,
    KeySignature,
    Note,
    NoteSequence,
    PitchBend,
    TimeSignature,
)

_MARKER = b"\xff\x06"
_END_OF_TRACK = b"\xff\x2f\x00"
_END_MARKER_TEXT = "melodyrnn:end-of-track"
# Drained note-offs come this many ticks after the end of a track (the largest delta a file
# can hold), beyond every real note of a file shorter than it (longer ones are refused), so a
# drained note is told apart by its end.
_DRAIN_DELTA = 0x0FFFFFFF
_PROGRAM_CHANGE = re.compile(rb"[\xc0-\xcf]")
# Byte patterns of events mido and symusic read differently; found anywhere in a track (even
# inside a delta or a text), they send the file to the reference. In turn:
# * 0xFF followed by a meta type mido does not know: mido 1.3 reads such an event without its
#   delta time, which shifts every later event of the track; symusic keeps it;
# * known meta events too short for mido (it fails on them, symusic does not): a sequence
#   number of 1 byte, a channel prefix that is not one channel, a tempo that is not 3 bytes,
#   an SMPTE offset that is not 5 bytes or has an unknown frame rate, a key signature that is
#   not 2 bytes;
# * a time signature that is not 4 bytes or whose denominator is 2**8 or more (symusic keeps
#   the denominator in a byte).
_ODD_EVENT = re.compile(
    rb"\xff[^\x00-\x07\x09\x20\x21\x2f\x51\x54\x58\x59\x7f]"
    rb"|\xff\x00\x01|\xff\x20(?!\x01[\x00-\x0f])|\xff\x51(?!\x03)"
    rb"|\xff\x54(?!\x05[\x00-\x7f])|\xff\x59(?!\x02)"
    rb"|\xff\x58(?!\x04[\x00-\xff][\x00-\x07])",
    re.DOTALL,
)
_PRINTABLE_ASCII = frozenset(range(0x20, 0x7F))


_END_MARKER = _MARKER + bytes([len(_END_MARKER_TEXT)]) + _END_MARKER_TEXT.encode("ascii")
_LAST_EVENTS = b"\x00" + _END_OF_TRACK
# Each channel's probe note (pitch = channel, 1 tick long, 1 tick after the drained note-offs).
_PROBE_NOTES = b"".join(
    bytes([0 if channel else 1, status | channel, channel, velocity])
    for status, velocity in ((0x90, 1), (0x80, 0))
    for channel in range(16)
)


@functools.lru_cache(maxsize=1024)
def _drain(pitches: frozenset[int], probe: bool) -> bytes:
    """Track bytes after the end marker: note-offs of ``pitches`` on every channel,
    _DRAIN_DELTA ticks later, then (if ``probe``) one probe note per channel."""
    if probe:
        pitches = pitches | frozenset(range(16))
    first, *rest = sorted(pitches)
    tail = bytes(byte for pitch in rest for byte in (0, pitch, 0))  # delta 0, running status
    offs = b"\x00".join(bytes([0x80 | channel, first, 0]) + tail for channel in range(16))
    # the first delta is _DRAIN_DELTA as a variable-length quantity
    return b"\xff\xff\xff\x7f" + offs + (_PROBE_NOTES if probe else b"")


class NotExact(Exception):
    """symusic's reading of a file may differ from pretty_midi's; the message says why."""


@functools.cache
def score_class():
    """symusic's ``ScoreTick`` when symusic 0.6 is installed, else None."""
    try:
        import symusic
        from symusic.core import ScoreTick
    except ImportError:
        return None
    if not str(getattr(symusic, "__version__", "")).startswith("0.6."):
        return None
    return ScoreTick


def read_with_symusic(
    data: bytes, score_class, where: str, limits: ReadLimits | None = None
) -> NoteSequence:
    """The reference reader's sequence of ``data``, from symusic; NotExact where it cannot
    promise it, MidiError where the file is bad, LimitError where it is over a cap."""
    limits = limits or ReadLimits.resolve()
    scanned = scan_file(data, where, limits)
    check_tracks(*scanned.header, scanned.summaries, where, limits)
    return read_scanned(scanned, score_class, where)


def read_scanned(scanned: ScannedFile, score_class, where: str) -> NoteSequence:
    """:func:`read_with_symusic` of a file that mido reads (``scanned``) and that passed
    :func:`~melodyrnn.io.midi_checks.check_tracks`: the checks, and the caps, the reference
    makes before pretty_midi builds anything, so symusic parses only files within the caps."""
    if max(scan.summary.last_tick for scan in scanned.scans) >= _DRAIN_DELTA:
        raise NotExact(f"the file is longer than {_DRAIN_DELTA:,} ticks")
    division = scanned.division
    header = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01" + division.to_bytes(2, "big")
    tracks = [
        _probe_track(score_class, header, body, scan, where)
        for body, scan in zip(scanned.bodies, scanned.scans)
    ]
    _check_meta(tracks[0])
    return _build_sequence(division, tracks)


class _Instrument:
    """What pretty_midi makes one Instrument of: a (track, channel, program) with notes."""

    __slots__ = (
        "track", "position", "program", "is_drum", "notes", "start", "end", "exact_copy",
        "order", "first_end", "name",
    )  # fmt: skip

    def __init__(self, track, notes: dict, position: int, exact_copy: bool):
        self.track = track  # symusic's Track of the probe (controls, pitch bends)
        self.position = position  # among the probe's tracks with notes, in symusic's order
        self.program, self.is_drum = track.program, track.is_drum
        self.notes = notes  # the real notes as symusic's arrays: time, duration, pitch, velocity
        self.start = notes["time"].astype(np.int64)
        self.end = self.start + notes["duration"]
        self.exact_copy = exact_copy  # the probe track holds no drained or probe note
        self.order = None  # the order of the notes by end tick (pretty_midi's order), or None
        self.first_end = 0  # pretty_midi creates the instrument when its first note ends
        self.name = ""


class _Track:
    """One MIDI track as its probe showed it."""

    __slots__ = ("instruments", "tempos", "signatures", "keys")

    def __init__(self, score, instruments: list[_Instrument]):
        self.instruments = instruments  # in pretty_midi's order
        # (tick, ...) tuples; symusic's lists are slow to iterate, so read them once
        self.tempos = [(t.time, t.mspq) for t in score.tempos] if len(score.tempos) else []
        signatures, keys = score.time_signatures, score.key_signatures
        self.signatures = (
            [(s.time, s.numerator, s.denominator) for s in signatures] if len(signatures) else []
        )
        self.keys = [(k.time, k.key, k.tonality) for k in keys] if len(keys) else []


def _probe_track(score_class, header: bytes, body: bytes, scan: TrackScan, where: str) -> _Track:
    """The track as symusic's parse of its probe copy shows it (``scan``: mido's reading)."""
    if not body:  # no events at all: pretty_midi reads an empty track
        return _Track(_parse(score_class, header + b"MTrk\x00\x00\x00\x00", where), [])
    if scan.odd:
        raise NotExact(scan.odd)
    if scan.ends != [len(body) - 3] or not body.endswith(_END_OF_TRACK):
        raise NotExact("a track does not end with its only end-of-track event")
    plain = _parse(score_class, header + b"MTrk" + len(body).to_bytes(4, "big") + body, where)
    plain_notes = [(track, track.notes.numpy()) for track in plain.tracks if len(track.notes)]
    pitches = set()
    for _, notes in plain_notes:
        pitches.update(notes["pitch"].tolist())
    n_names = len(scan.names)
    events = body[:-3]  # ends with the delta of the end-of-track event
    if n_names:
        if scan.markers:
            raise NotExact("a track has both track names and markers")
        events = _names_to_markers(events, scan.names)
    # Program changes need a status byte 0xCn; without one, every program stays 0.
    changes = _PROGRAM_CHANGE.search(body) is not None
    events += _END_MARKER + (_drain(frozenset(pitches), changes) if pitches else b"")
    events += _LAST_EVENTS
    score = _parse(score_class, header + b"MTrk" + len(events).to_bytes(4, "big") + events, where)

    markers = [(m.time, m.text) for m in score.markers]
    ends = [tick for tick, text in markers if text == _END_MARKER_TEXT]
    if len(ends) != 1:
        raise NotExact("a marker has melodyrnn's end-of-track text")
    names = [(tick, text) for tick, text in markers if text != _END_MARKER_TEXT]
    odd = _ODD_EVENT.search(body)
    if odd:
        found = body[odd.start() : odd.start() + 5].hex(" ")
        raise NotExact(f"a track may hold a meta event mido reads differently ({found} ...)")
    if not _only_sysex_ends(body):
        raise NotExact("a track may hold a sysex escape event (0xF7), which symusic misreads")
    if not pitches:
        if n_names:
            _check_probe(plain, plain_notes, score, [], len(names) == n_names)
        return _Track(score, [])

    # The common case, one track of notes in both parses, the same number: the notes are the same
    # (checked by _check_probe where track names were turned); reuse the plain parse's arrays.
    only = plain_notes[0][1] if len(plain_notes) == 1 else None
    instruments, sounding = [], []
    for track in score.tracks:
        n_notes = len(track.notes)
        if not n_notes or track.notes[0].time >= _DRAIN_DELTA:
            continue  # no notes, or only a probe note
        if only is not None and n_notes == len(only["time"]) and track.end() < _DRAIN_DELTA:
            notes, exact_copy = only, True
        else:
            notes = track.notes.numpy()
            real = notes["time"] + notes["duration"] < _DRAIN_DELTA
            exact_copy = bool(real.all())
        if not exact_copy:
            sounding.append({key: value[~real] for key, value in notes.items()})
            if not real.any():
                continue
            probes = notes["pitch"][notes["time"] >= _DRAIN_DELTA]
            notes = {key: value[real] for key, value in notes.items()}
        else:
            probes = ()
        # symusic gives a note the program of its channel at the note-on, pretty_midi the one at
        # the note-off. They agree when the track's notes all have the channel's last program
        # (the probe note of the channel shares their track) and the channel's program changes
        # all follow one program-change status byte (so no change can come and go mid-note).
        if changes and (len(probes) != 1 or body.count(0xC0 | int(probes[0])) > 1):
            raise NotExact("a channel changes program while it has notes")
        instruments.append(_Instrument(track, notes, len(instruments), exact_copy))
    _check_pairing(instruments, sounding)
    offs = functools.cache(lambda: note_offs(body))  # walked only for notes ending together
    for instrument in instruments:
        _order_notes(instrument, offs)
    instruments.sort(key=lambda i: i.first_end)
    firsts = [i.first_end for i in instruments]
    if len(set(firsts)) != len(firsts):
        raise NotExact("two instruments of a track end their first notes on the same tick")
    if n_names:
        _check_probe(plain, plain_notes, score, instruments, len(names) == n_names)
        _name_instruments(instruments, names, last=plain_notes[0][0].name)
    return _Track(score, instruments)


def _names_to_markers(events: bytes, names: list[int]) -> bytes:
    """``events`` with each track-name event (the 0xFF byte at each offset of ``names``)
    turned into a marker event; every other byte stays as it is."""
    parts, start = [], 0
    for offset in names:
        parts += (events[start : offset + 1], _MARKER[1:])
        start = offset + 2
    parts.append(events[start:])
    return b"".join(parts)


def _only_sysex_ends(body: bytes) -> bool:
    """Whether every 0xF7 byte of a track ends a sysex event of under 128 bytes (0xF0, its
    length, data bytes, 0xF7): symusic reads 0xF0 events as mido does, but not 0xF7 ones."""
    end = body.find(b"\xf7")
    while end != -1:
        start = body.rfind(b"\xf0", 0, end)  # data bytes are below 0x80
        if start == -1 or body[start + 1] != end - start - 1:
            return False
        end = body.find(b"\xf7", end + 1)
    return True


def _parse(score_class, midi: bytes, where: str):
    try:
        return score_class.from_midi(midi)
    except Exception as exc:  # symusic raises RuntimeError, ValueError, ... on corrupt data
        raise MidiError(f"{where}: corrupt MIDI data ({one_line(exc)})") from exc


def _check_pairing(instruments: list[_Instrument], sounding: list[dict]) -> None:
    """Refuse zero-length notes and overlapping notes of one pitch in one track."""
    groups = [(i.start, i.end, i.notes["pitch"]) for i in instruments]
    for notes in sounding:
        start = notes["time"].astype(np.int64)
        groups.append((start, start + notes["duration"], notes["pitch"]))
    if len(groups) == 1:
        start, end, pitch = groups[0]
        if (end[:-1] <= start[1:]).all() and (end > start).all():
            return  # one note after the other (symusic sorts notes by start)
    else:
        start, end, pitch = (np.concatenate(parts) for parts in zip(*groups))
    if (end == start).any():
        raise NotExact("a note starts and ends on the same tick")
    order = np.lexsort((start, pitch))
    pitch, start, end = pitch[order], start[order], end[order]
    if ((pitch[1:] == pitch[:-1]) & (start[1:] < end[:-1])).any():
        raise NotExact("two notes of one pitch overlap in a track")


def _order_notes(instrument: _Instrument, offs) -> None:
    """pretty_midi's note order (by note-off) and creation tick; refuse what hides them.

    Notes ending on one tick come in the file order of their note-offs (``offs()``: the
    track's :func:`~melodyrnn.io.midi_events.note_offs`); refused where a note-off of one of
    them is on two channels (which one ends this instrument's note is not known)."""
    end = instrument.end
    if (end[1:] > end[:-1]).all():  # already in end order (None: as they are)
        instrument.order, ends = None, end
    else:
        order = np.argsort(end, kind="stable")
        ends = end[order]
        tied = np.flatnonzero(ends[1:] == ends[:-1])
        if len(tied):
            pitch = instrument.notes["pitch"]
            file_order = np.zeros(len(order), np.int64)  # the note-off's event number
            for k in np.unique(np.concatenate([tied, tied + 1])):
                events = offs().get((int(ends[k]), int(pitch[order[k]])), [])
                if len({channel for _, channel in events}) != 1:
                    raise NotExact("notes of an instrument end together on a note-off of two "
                                   "channels")  # fmt: skip
                file_order[k] = events[0][0]
            order = order[np.lexsort((file_order, ends))]
            ends = end[order]
        instrument.order = order
    instrument.first_end = int(ends[0])
    for events in (instrument.track.controls, instrument.track.pitch_bends):
        if len(events) and int(events.numpy()["time"].min()) <= instrument.first_end:
            raise NotExact(
                "control changes or pitch bends come at or before an instrument's first note end"
            )


def _check_probe(plain, plain_notes: list, probe, instruments: list, names_match: bool) -> None:
    """Check that turning a track's names into markers changed nothing else.

    ``plain`` is symusic's parse of the track as it is (``plain_notes``: its tracks with notes
    and their note arrays), ``probe`` the parse of its probe copy; ``names_match``: there are
    as many markers as track-name byte pairs.
    """
    same = (
        names_match
        and len(plain_notes) == len(instruments)
        and plain.tempos == probe.tempos
        and plain.time_signatures == probe.time_signatures
        and plain.key_signatures == probe.key_signatures
    )
    for (track, notes), instrument in zip(
        plain_notes, sorted(instruments, key=lambda i: i.position)
    ):
        same = (
            same
            and track.program == instrument.program
            and track.is_drum == instrument.is_drum
            and (
                track.notes == instrument.track.notes
                if instrument.exact_copy
                else all(np.array_equal(notes[key], instrument.notes[key]) for key in notes)
            )
            and track.controls == instrument.track.controls
            and track.pitch_bends == instrument.track.pitch_bends
        )
    if not same:
        raise NotExact("a track-name byte pair is not only in track-name events")


def _name_instruments(instruments: list[_Instrument], names: list, last: str) -> None:
    """Name each instrument by the track name in effect when its first note ends.

    ``names``: (tick, name) of the track's names, by tick; ``last``: the last one in the file.
    """
    for _, text in names:
        if not set(text.encode("utf-8")) <= _PRINTABLE_ASCII:
            raise NotExact("a track name is not printable ASCII")
    for instrument in instruments:
        # symusic sorts markers by tick, not stably: the file order of names on one tick is
        # known only for the last one of the track.
        before = [(tick, text) for tick, text in names if tick < instrument.first_end]
        if len(before) == len(names):
            instrument.name = last
        elif any(tick == instrument.first_end for tick, _ in names):
            raise NotExact("a track name changes on the tick where an instrument starts")
        elif before:
            texts = {text for tick, text in before if tick == before[-1][0]}
            if len(texts) > 1:
                raise NotExact("a track has several names on one tick, then more names")
            instrument.name = texts.pop()


def _check_meta(first: _Track) -> None:
    """Refuse tempos, time or key signatures of track 0 that differ on one tick: pretty_midi
    keeps them in file order, symusic sorts them. (The checks of their values are mido's and
    the reference's, made by scan_track and check_tracks before symusic parses anything.)"""
    for events in (first.tempos, first.signatures, first.keys):
        for a, b in zip(events, events[1:]):
            if a[0] == b[0] and a != b:
                raise NotExact("two tempos, time or key signatures of track 0 share a tick")


def _build_sequence(resolution: int, tracks: list[_Track]) -> NoteSequence:
    first = tracks[0]
    tempo_map = TempoMap(first.tempos, resolution)
    second = tempo_map.second
    ns = NoteSequence(ticks_per_quarter=resolution)
    ns.tempos = tempo_map.tempos
    ns.time_signatures = [TimeSignature(second(t), n, d) for t, n, d in first.signatures]
    ns.key_signatures = [
        KeySignature(second(t), (7 * key + 9 * mode) % 12, mode) for t, key, mode in first.keys
    ]

    index, total_time = 0, 0.0
    notes, controls, bends = ns.notes, ns.control_changes, ns.pitch_bends
    for track in tracks:
        for inst in track.instruments:
            program, is_drum = inst.program, inst.is_drum
            if inst.name:
                ns.instrument_infos.append(InstrumentInfo(index, inst.name))
            order = inst.order
            start, end, pitch, velocity = (
                (inst.start, inst.end, inst.notes["pitch"], inst.notes["velocity"])
                if order is None
                else (inst.start[order], inst.end[order], inst.notes["pitch"][order],
                      inst.notes["velocity"][order])
            )  # fmt: skip
            end_times = tempo_map.seconds(end)
            total_time = max(total_time, float(end_times[-1]))  # notes are in end order
            notes += map(
                Note,
                pitch.tolist(),
                velocity.tolist(),
                tempo_map.seconds(start).tolist(),
                end_times.tolist(),
                repeat(0),
                repeat(0),
                repeat(index),
                repeat(program),
                repeat(is_drum),
            )
            if len(inst.track.controls):
                cc = inst.track.controls.numpy()
                controls += map(
                    ControlChange,
                    tempo_map.seconds(cc["time"].astype(np.int64)).tolist(),
                    cc["number"].tolist(),
                    cc["value"].tolist(),
                    repeat(index),
                    repeat(program),
                    repeat(is_drum),
                )
            if len(inst.track.pitch_bends):
                pb = inst.track.pitch_bends.numpy()
                bends += map(
                    PitchBend,
                    tempo_map.seconds(pb["time"].astype(np.int64)).tolist(),
                    pb["value"].tolist(),
                    repeat(index),
                    repeat(program),
                    repeat(is_drum),
                )
            index += 1
    ns.total_time = total_time
    return ns
