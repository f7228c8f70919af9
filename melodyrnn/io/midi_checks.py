"""The checks both MIDI readers make before they trust a file, and the limits behind them.

:mod:`melodyrnn.io.midi` (mido + pretty_midi, the reference) and :mod:`melodyrnn.io.midi_fast`
(symusic) reject the same bad files with the same words, so the checks live here once. Each
takes ``where``, the start of the message (``"cannot read MIDI file 'x.mid'"``), and raises
:class:`~melodyrnn.errors.MidiError` as ``"{where}: {reason}"``, or
:class:`~melodyrnn.errors.LimitError` for a file over one of the caps of
:mod:`melodyrnn.limits` (:class:`ReadLimits`). Both readers describe each track by a
:class:`TrackSummary` and run :func:`check_tracks` on them, so a file over a cap is refused with
the same words by both, before pretty_midi or the fast reader builds anything. The writer's
checks (:func:`check_writable`, :func:`check_readable`: what we write, we can read) are here
too, beside the readers'.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from melodyrnn.errors import MidiError
from melodyrnn.limits import check_limit, limit

# note-seq stores time-signature denominators in an int32 field.
MAX_DENOMINATOR = 2**31 - 1
# A set_tempo event stores microseconds per quarter note in 3 bytes.
MAX_TEMPO_US = 0xFFFFFF


def one_line(exc: BaseException) -> str:
    """An exception as one line for an error message: its type and its text, if any."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def truncated(where: str) -> MidiError:
    """The error for a file that ends in the middle of a chunk (to raise)."""
    return MidiError(f"{where}: the file is truncated (it ends in the middle of a chunk)")


def check_signature(data: bytes, where: str) -> None:
    """Reject empty data and data that does not start like a Standard MIDI File."""
    if not data:
        raise MidiError(f"{where}: the file is empty")
    if data[:4] != b"MThd":
        raise MidiError(f"{where}: not a Standard MIDI File (it does not start with 'MThd')")


def check_header(midi_type: int, division: int, n_tracks: int, where: str) -> None:
    """Reject what the header says the readers cannot read: a type other than 0 or 1, SMPTE
    timing or 0 ticks per quarter note (``division``), no tracks."""
    if midi_type == 2:
        raise MidiError(
            f"{where}: type 2 MIDI files (independent sequences per track) are not supported; "
            "save it as type 0 or 1"
        )
    if midi_type not in (0, 1):
        raise MidiError(f"{where}: unknown MIDI file type {midi_type & 0xFFFF}")
    if division < 0:
        raise MidiError(f"{where}: SMPTE time division is not supported, only ticks per quarter")
    if division == 0:
        raise MidiError(f"{where}: the header gives 0 ticks per quarter note")
    if not n_tracks:
        raise MidiError(f"{where}: the file contains no tracks")


def check_tempo(microseconds_per_quarter: int, where: str) -> None:
    """Reject a tempo event of track 0 that gives 0 microseconds per quarter note."""
    if microseconds_per_quarter == 0:
        raise MidiError(f"{where}: a tempo event gives 0 microseconds per quarter note")


def check_time_signature(numerator: int, denominator: int, tick: int, where: str) -> None:
    """Reject a time signature with numerator 0 or a denominator beyond note-seq's int32."""
    if numerator == 0 or denominator > MAX_DENOMINATOR:
        if denominator > MAX_DENOMINATOR:
            denominator = f"2**{denominator.bit_length() - 1}"
        raise MidiError(f"{where}: invalid time signature {numerator}/{denominator} at tick {tick}")


# --- the caps -----------------------------------------------------------------------------

# mido reads the header's track count as a signed 16-bit number: it sees no track at all in a
# file that announces more than this many.
MAX_READABLE_TRACKS = 0x7FFF


@dataclass(frozen=True)
class ReadLimits:
    """The caps of one read, resolved once (see :mod:`melodyrnn.limits`)."""

    file_bytes: int
    ticks: int
    notes: int
    tracks: int
    tempo_changes: int
    events: int

    @classmethod
    def resolve(cls, max_bytes=None, max_ticks=None, max_notes=None) -> ReadLimits:
        """The limits in effect, with the given overrides (None: the environment's or the
        default)."""
        return cls(
            limit("max_file_bytes", max_bytes),
            limit("max_ticks", max_ticks),
            limit("max_notes", max_notes),
            limit("max_tracks"),
            limit("max_tempo_changes"),
            limit("max_events"),
        )


def check_size(size: int, where: str, limits: ReadLimits) -> None:
    """LimitError for data of more than ``limits.file_bytes`` bytes."""
    check_limit("max_file_bytes", size, f"{where}: its size", limits.file_bytes)


def check_header_bytes(data: bytes, where: str, limits: ReadLimits) -> None:
    """Refuse, before any reader parses a track, a header that announces more tracks than the
    limit (or than mido can count). Data too short for a header is left to the readers."""
    if len(data) < 12 or data[:4] != b"MThd":
        return
    n_tracks = int.from_bytes(data[10:12], "big")
    check_limit("max_tracks", n_tracks, f"{where}: the number of tracks", limits.tracks)
    if n_tracks > MAX_READABLE_TRACKS:
        raise MidiError(
            f"{where}: the header announces {n_tracks:,} tracks; "
            f"files with more than {MAX_READABLE_TRACKS:,} cannot be read"
        )


@dataclass
class TrackSummary:
    """What the checks need to know of one track, as mido reads it."""

    last_tick: int = 0  # the tick of the track's last event
    events: int = 0  # how many (mido makes a message of each)
    note_ons: int = 0  # note-on events with a velocity above 0
    # (tick, mido MetaMessage) of the set_tempo, time_signature and key_signature events,
    # in file order
    metas: list = field(default_factory=list)


def summarize_track(track) -> TrackSummary:
    """The :class:`TrackSummary` of a track of mido messages."""
    summary = TrackSummary()
    tick = note_ons = 0
    metas = summary.metas
    for msg in track:
        tick += msg.time
        kind = msg.type
        if kind == "note_on":
            if msg.velocity:
                note_ons += 1
        elif kind in ("set_tempo", "time_signature", "key_signature"):
            metas.append((tick, msg))
    summary.last_tick, summary.events, summary.note_ons = tick, len(track), note_ons
    return summary


def check_events(events: int, where: str, limits: ReadLimits) -> None:
    """LimitError for more than ``limits.events`` events: mido holds each as a Python object
    (about 260 bytes), pretty_midi another for each note or controller, so this cap, checked
    before mido parses anything, bounds the reference reader's memory (about 1 GB at 3 million
    events)."""
    check_limit("max_events", events, f"{where}: the number of events", limits.events)


def check_tracks(
    midi_type: int, division: int, tracks: list[TrackSummary], where: str, limits: ReadLimits
) -> None:
    """Everything both readers check of a file mido can parse, in this order: the header, the
    tempos of track 0 and the time signatures of every track (in file order), then the caps on
    the span in ticks, the notes, and the tempo, time and key signature events of track 0 (the
    only ones pretty_midi reads)."""
    check_header(midi_type, division, len(tracks), where)
    for index, track in enumerate(tracks):
        for tick, msg in track.metas:
            if msg.type == "set_tempo":
                if index == 0:
                    check_tempo(msg.tempo, where)
            elif msg.type == "time_signature":
                check_time_signature(msg.numerator, msg.denominator, tick, where)
    check_last_tick(max(track.last_tick for track in tracks), where, limits)
    notes = sum(track.note_ons for track in tracks)
    check_limit("max_notes", notes, f"{where}: the number of notes", limits.notes)
    changes = len(tracks[0].metas)
    what = f"{where}: the number of tempo, time and key signature events"
    check_limit("max_tempo_changes", changes, what, limits.tempo_changes)


def check_last_tick(last_tick: int, where: str, limits: ReadLimits) -> None:
    """LimitError for a file whose tracks span more than ``limits.ticks`` ticks (ticks 0 to
    ``last_tick``). pretty_midi allocates a float64 table with one entry per tick (80 MB at
    the default limit, which is pretty_midi's own); note-seq raises pretty_midi's limit to
    10**10, which lets a garbage file of a few bytes exhaust memory."""
    check_limit("max_ticks", last_tick + 1, f"{where}: the span of its tracks", limits.ticks)


# --- the writer -------------------------------------------------------------------------


def check_writable(ns) -> None:
    """Raise MidiError for the first value of the NoteSequence ``ns`` a Standard MIDI File
    cannot hold, and LimitError for more notes or tempo, time and key signature events than
    our reader accepts (checked first: they bound the work here)."""

    def fail(what: str) -> None:
        raise MidiError(f"cannot write MIDI: {what}")

    limits = ReadLimits.resolve()
    notes = sum(1 for n in ns.notes if n.velocity)  # a velocity-0 note is written as no note
    check_limit("max_notes", notes, "cannot write MIDI: the number of notes", limits.notes)
    # pretty_midi writes one set_tempo event per tempo, and one for 120 qpm at 0 if none is there
    initial = 0 if any(t.time == 0 for t in ns.tempos) else 1
    # ... and a 4/4 at 0 unless a time signature comes first at 0 (or before: none can)
    meter = 0 if any(ts.time <= 0 for ts in ns.time_signatures) else 1
    changes = initial + meter + len(ns.tempos) + len(ns.time_signatures) + len(ns.key_signatures)
    what = "cannot write MIDI: the number of tempo, time and key signature events"
    check_limit("max_tempo_changes", changes, what, limits.tempo_changes)

    def check_time(time: float, what: str) -> None:
        if not math.isfinite(time) or time < 0:
            fail(f"{what} is at time {time}; times must be finite and >= 0")

    def check_7bit(value: int, what: str) -> None:
        if not 0 <= value <= 127:
            fail(f"{what} is {value}; it must be in 0..127")

    if not 0 <= ns.ticks_per_quarter <= 0x7FFF:
        fail(f"ticks_per_quarter is {ns.ticks_per_quarter}; it must be in 1..32767")
    for t in ns.tempos:
        check_time(t.time, f"a tempo of {t.qpm} qpm")
        if not (math.isfinite(t.qpm) and t.qpm > 0) or not 1 <= 6e7 / t.qpm <= MAX_TEMPO_US:
            fail(f"tempo {t.qpm} qpm cannot be stored (it must lie between 3.58 and 6e7 qpm)")
    for ts in ns.time_signatures:
        check_time(ts.time, f"time signature {ts.numerator}/{ts.denominator}")
        d = ts.denominator
        if not 1 <= ts.numerator <= 255 or d < 1 or d & (d - 1) or d > 2**255:
            fail(
                f"time signature {ts.numerator}/{d} cannot be stored (numerator 1..255, "
                "denominator a power of 2)"
            )
    for ks in ns.key_signatures:
        check_time(ks.time, "a key signature")
        if not 0 <= ks.key <= 11:
            fail(f"key signature key is {ks.key}; it must be a pitch class 0..11")
    programs = [(n.program, "a note's program") for n in ns.notes]
    programs += [(e.program, "an event's program") for e in (*ns.control_changes, *ns.pitch_bends)]
    for program, what in programs:
        check_7bit(program, what)
    for n in ns.notes:
        check_7bit(n.pitch, "a note pitch")
        check_7bit(n.velocity, f"the velocity of pitch {n.pitch}")
        check_time(n.start_time, f"a note of pitch {n.pitch}")
        check_time(n.end_time, f"the end of a note of pitch {n.pitch}")
        if n.end_time < n.start_time:
            fail(f"a note of pitch {n.pitch} ends ({n.end_time}) before it starts ({n.start_time})")
    for cc in ns.control_changes:
        check_time(cc.time, f"control change {cc.control_number}")
        check_7bit(cc.control_number, "a control number")
        check_7bit(cc.control_value, f"the value of control {cc.control_number}")
    for b in ns.pitch_bends:
        check_time(b.time, "a pitch bend")
        if not -8192 <= b.bend <= 8191:
            fail(f"pitch bend {b.bend} is outside -8192..8191")


def check_readable(pm, ns, table) -> None:
    """LimitError, before anything is written, for a file our reader would refuse: what we
    write, we can read. ``pm`` is the PrettyMIDI made of ``ns``, about to be written, and
    ``table`` its tick table (:class:`~melodyrnn.io.midi_ticks.TickTable`):
    pretty_midi writes a first track of tempos and meters, then one track per instrument; each
    ends one tick after its last event."""
    limits = ReadLimits.resolve()
    tracks = 1 + len(pm.instruments)
    check_limit("max_tracks", tracks, "cannot write MIDI: the number of tracks", limits.tracks)
    last_time = max(
        (
            time
            for times in (
                (t for n in ns.notes for t in (n.start_time, n.end_time)),
                (e.time for e in (*ns.control_changes, *ns.pitch_bends)),
                (e.time for e in (*ns.time_signatures, *ns.key_signatures)),
            )
            for time in times
        ),
        default=0.0,
    )
    # time_to_tick is monotonic, so the last time has the last tick
    last_tick = max(table.time_to_tick(last_time), max(tick for tick, _ in pm._tick_scales))
    span = last_tick + 2  # ticks 0 .. last tick + 1 (the end of track)
    check_limit("max_ticks", span, "cannot write MIDI: the span of its tracks", limits.ticks)
