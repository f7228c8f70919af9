"""NoteSequence: the score every other module reads and writes, and its quantization.

Fields mirror note-seq's ``NoteSequence`` protobuf as light dataclasses. Quantization follows
note-seq exactly; :func:`flatten_tempo` lets files with tempo drift be quantized too. Converters
(MIDI, note-seq protobuf, magenta.js JSON) live in :mod:`melodyrnn.io`.
"""

from __future__ import annotations

import bisect
import copy as _copy
import dataclasses
import math
import operator
from dataclasses import dataclass, field

from melodyrnn.constants import DEFAULT_STEPS_PER_QUARTER
from melodyrnn.errors import (
    BadTimeSignatureError,
    MultipleTempoError,
    MultipleTimeSignatureError,
    NegativeTimeError,
    NonIntegerStepsPerBarError,
    QuantizationError,
    QuantizationStatusError,
)
from melodyrnn.fields import item_from_dict
from melodyrnn.limits import check_limit

DEFAULT_QPM = 120.0
STANDARD_PPQ = 220
QUANTIZE_CUTOFF = 0.5

# KeySignature.mode values (note-seq's enum).
MAJOR, MINOR = 0, 1


@dataclass(slots=True)
class Note:
    pitch: int
    velocity: int = 100
    start_time: float = 0.0
    end_time: float = 0.0
    quantized_start_step: int = 0
    quantized_end_step: int = 0
    instrument: int = 0
    program: int = 0
    is_drum: bool = False


@dataclass(slots=True)
class Tempo:
    time: float = 0.0
    qpm: float = DEFAULT_QPM


@dataclass(slots=True)
class TimeSignature:
    time: float = 0.0
    numerator: int = 4
    denominator: int = 4


@dataclass(slots=True)
class KeySignature:
    time: float = 0.0
    key: int = 0  # pitch class of the tonic, C = 0
    mode: int = MAJOR


@dataclass(slots=True)
class ControlChange:
    time: float = 0.0
    control_number: int = 0
    control_value: int = 0
    instrument: int = 0
    program: int = 0
    is_drum: bool = False
    quantized_step: int = 0


@dataclass(slots=True)
class PitchBend:
    time: float = 0.0
    bend: int = 0
    instrument: int = 0
    program: int = 0
    is_drum: bool = False


@dataclass(slots=True)
class InstrumentInfo:
    instrument: int = 0
    name: str = ""


@dataclass(slots=True)
class TextAnnotation:
    """A chord symbol (annotation_type 1) or other text at a time."""

    time: float = 0.0
    text: str = ""
    annotation_type: int = 0
    quantized_step: int = 0


CHORD_SYMBOL = 1


@dataclass(slots=True)
class QuantizationInfo:
    steps_per_quarter: int = 0
    steps_per_second: int = 0


_FIELD_GETTERS: dict[type, operator.attrgetter] = {}


def _clone(item):
    """A shallow copy of one of the item dataclasses above, ~10x faster than copy.copy."""
    cls = type(item)
    getter = _FIELD_GETTERS.get(cls)
    if getter is None:
        names = [f.name for f in dataclasses.fields(cls)]
        getter = _FIELD_GETTERS[cls] = operator.attrgetter(*names)
    return cls(*getter(item))


# Each list field of NoteSequence and the dataclass of its items, in field order (copy() and the
# converters in melodyrnn.io walk them).
ITEM_TYPES: dict[str, type] = {
    "notes": Note,
    "tempos": Tempo,
    "time_signatures": TimeSignature,
    "key_signatures": KeySignature,
    "control_changes": ControlChange,
    "pitch_bends": PitchBend,
    "instrument_infos": InstrumentInfo,
    "text_annotations": TextAnnotation,
}


@dataclass(slots=True)
class NoteSequence:
    """A score: notes plus the tempo map, meter, keys and controller data around them.

    Items may be given as dicts (``NoteSequence(notes=[{"pitch": 60, "startTime": 0.0,
    "endTime": 0.5}])``, snake_case or camelCase keys); they become the item dataclasses.
    """

    notes: list[Note] = field(default_factory=list)
    tempos: list[Tempo] = field(default_factory=list)
    time_signatures: list[TimeSignature] = field(default_factory=list)
    key_signatures: list[KeySignature] = field(default_factory=list)
    control_changes: list[ControlChange] = field(default_factory=list)
    pitch_bends: list[PitchBend] = field(default_factory=list)
    instrument_infos: list[InstrumentInfo] = field(default_factory=list)
    text_annotations: list[TextAnnotation] = field(default_factory=list)
    ticks_per_quarter: int = STANDARD_PPQ
    total_time: float = 0.0
    total_quantized_steps: int = 0
    quantization_info: QuantizationInfo | None = None
    id: str = ""
    filename: str = ""

    def __post_init__(self) -> None:
        for name, item_type in ITEM_TYPES.items():
            items = getattr(self, name)
            if any(isinstance(item, dict) for item in items):
                setattr(self, name, [item_from_dict(item_type, x) if isinstance(x, dict) else x
                                     for x in items])  # fmt: skip
        if isinstance(self.quantization_info, dict):
            self.quantization_info = item_from_dict(QuantizationInfo, self.quantization_info)

    # -- basics ---------------------------------------------------------------

    def copy(self) -> NoteSequence:
        """A deep copy (every note and event is a new object)."""
        out = _copy.copy(self)
        for name in ITEM_TYPES:
            setattr(out, name, [_clone(x) for x in getattr(self, name)])
        if self.quantization_info is not None:
            out.quantization_info = _copy.copy(self.quantization_info)
        return out

    @property
    def is_quantized(self) -> bool:
        qi = self.quantization_info
        return qi is not None and (qi.steps_per_quarter > 0 or qi.steps_per_second > 0)

    @property
    def is_relative_quantized(self) -> bool:
        return self.quantization_info is not None and self.quantization_info.steps_per_quarter > 0

    @property
    def steps_per_quarter(self) -> int:
        if not self.is_relative_quantized:
            raise QuantizationStatusError(
                "sequence is not quantized relative to tempo; call quantize_note_sequence() first"
            )
        return self.quantization_info.steps_per_quarter

    @property
    def qpm(self) -> float:
        """The first tempo (at the earliest time), or 120 when there is none."""
        if not self.tempos:
            return DEFAULT_QPM
        return min(self.tempos, key=lambda t: t.time).qpm

    def steps_per_bar(self) -> float:
        """Steps per bar of a relative-quantized sequence, from its first time signature.

        This is the one definition of a bar in steps; :meth:`whole_steps_per_bar` is the same
        number where a whole number of steps is required.
        """
        spq = self.steps_per_quarter
        ts = self._first_time_signature()
        return spq * ts.numerator * 4.0 / ts.denominator

    def whole_steps_per_bar(self) -> int:
        """:meth:`steps_per_bar` as an int; NonIntegerStepsPerBarError when it is fractional.

        A bar that is not a whole number of steps (5/8 at 1 step per quarter: 2.5 steps) has no
        bar lines on the step grid, so melody and drum extraction refuse it, as note-seq does.
        """
        steps = self.steps_per_bar()
        if steps % 1:
            ts = self._first_time_signature()
            raise NonIntegerStepsPerBarError(
                f"time signature {ts.numerator}/{ts.denominator} at {self.steps_per_quarter} "
                f"steps per quarter gives {steps:g} steps per bar; "
                "quantize with more steps per quarter"
            )
        return int(steps)

    def _first_time_signature(self) -> TimeSignature:
        if not self.time_signatures:
            return TimeSignature()
        return min(self.time_signatures, key=lambda t: t.time)


# --- quantization -------------------------------------------------------------


def quantize_to_step(seconds: float, steps_per_second: float, cutoff: float = QUANTIZE_CUTOFF):
    """note-seq's rounding: ``int(seconds * sps + 1 - cutoff)``; cutoff 0.5 rounds half up.
    A time that is not finite in steps is a QuantizationError."""
    steps = seconds * steps_per_second + (1.0 - cutoff)
    if not math.isfinite(steps):
        raise QuantizationError(f"a time of {seconds} s cannot be quantized")
    return int(steps)


def check_quantized_length(ns: NoteSequence, sps: float, what: str, max_steps=None) -> int:
    """The ``total_quantized_steps`` ``ns`` gets at ``sps`` steps per second, from its last
    times, before any note is quantized: LimitError over the ``max_steps`` limit (or the
    ``max_steps`` given). ``what`` names the grid (``"at 4 steps per quarter"``)."""
    steps = quantize_to_step(ns.total_time, sps)
    if ns.notes:  # quantizing is monotonic, and a note gets at least one step
        steps = max(
            steps,
            quantize_to_step(max(n.end_time for n in ns.notes), sps),
            quantize_to_step(max(n.start_time for n in ns.notes), sps) + 1,
        )
    check_limit("max_steps", steps, f"the length of the sequence {what}", max_steps)
    return steps


def _quantize_events(qns: NoteSequence, steps_per_second: float) -> None:
    qns.total_quantized_steps = quantize_to_step(qns.total_time, steps_per_second)
    for note in qns.notes:
        start = quantize_to_step(note.start_time, steps_per_second)
        end = quantize_to_step(note.end_time, steps_per_second)
        if end == start:
            end += 1
        if start < 0 or end < 0:
            raise NegativeTimeError(
                f"a note at {note.start_time:.3f}-{note.end_time:.3f} s lies at a negative "
                f"step ({start}, {end}); shift the sequence to start at time 0"
            )
        note.quantized_start_step, note.quantized_end_step = start, end
        qns.total_quantized_steps = max(qns.total_quantized_steps, end)
    for event in (*qns.control_changes, *qns.text_annotations):
        event.quantized_step = quantize_to_step(event.time, steps_per_second)
        if event.quantized_step < 0:
            raise NegativeTimeError(
                f"an event at {event.time:.3f} s lies at negative step {event.quantized_step}"
            )


def quantize_note_sequence(
    ns: NoteSequence,
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
    *,
    copy: bool = True,
    max_steps: int | None = None,
) -> NoteSequence:
    """Quantize relative to the (single) tempo, with note-seq's semantics.

    Returns a copy with ``quantization_info.steps_per_quarter`` set, exactly one tempo and one
    time signature at time 0 (120 qpm and 4/4 are added when missing), and every note's
    ``quantized_start_step``/``quantized_end_step`` filled. Raises
    :class:`MultipleTimeSignatureError`, :class:`MultipleTempoError`,
    :class:`BadTimeSignatureError` or :class:`NegativeTimeError` like note-seq does, and
    :class:`~melodyrnn.errors.LimitError` before any note is quantized if the result would be
    longer than the ``max_steps`` limit (or ``max_steps``): a few bytes of MIDI at one tick per
    quarter can ask for 10**8 steps.
    Use :func:`split_on_time_changes` or :func:`flatten_tempo` first for files that change tempo.
    ``copy=False`` quantizes ``ns`` itself (for pipelines that own a sequence they just made).
    """
    qns = ns.copy() if copy else ns
    qns.quantization_info = QuantizationInfo(steps_per_quarter=steps_per_quarter)

    if qns.time_signatures:
        sigs = sorted(qns.time_signatures, key=lambda t: t.time)
        first = sigs[0]
        if first.time != 0 and (first.numerator, first.denominator) != (4, 4):
            raise MultipleTimeSignatureError(
                f"the time signature changes implicitly from 4/4 to "
                f"{first.numerator}/{first.denominator} at {first.time:.2f} s; "
                "split the sequence on time changes first"
            )
        for ts in sigs[1:]:
            if (ts.numerator, ts.denominator) != (first.numerator, first.denominator):
                raise MultipleTimeSignatureError(
                    f"the time signature changes from {first.numerator}/{first.denominator} to "
                    f"{ts.numerator}/{ts.denominator} at {ts.time:.2f} s; "
                    "split the sequence on time changes first"
                )
        first.time = 0.0
        qns.time_signatures = [first]
    else:
        qns.time_signatures = [TimeSignature(0.0, 4, 4)]

    ts = qns.time_signatures[0]
    if not (ts.denominator > 0 and not ts.denominator & (ts.denominator - 1)):  # a power of 2
        raise BadTimeSignatureError(
            f"time signature {ts.numerator}/{ts.denominator}: the denominator is not a power of 2"
        )
    if ts.numerator == 0:
        raise BadTimeSignatureError(
            f"time signature {ts.numerator}/{ts.denominator}: the numerator is 0"
        )

    if qns.tempos:
        tempos = sorted(qns.tempos, key=lambda t: t.time)
        first = tempos[0]
        if first.time != 0 and first.qpm != DEFAULT_QPM:
            raise MultipleTempoError(
                f"the tempo changes implicitly from 120.0 qpm to {first.qpm:.1f} qpm at "
                f"{first.time:.2f} s; use flatten_tempo() or split_on_time_changes() first"
            )
        for tempo in tempos[1:]:
            if tempo.qpm != first.qpm:
                raise MultipleTempoError(
                    f"the tempo changes from {first.qpm:.1f} qpm to {tempo.qpm:.1f} qpm at "
                    f"{tempo.time:.2f} s; use flatten_tempo() or split_on_time_changes() first"
                )
        first.time = 0.0
        qns.tempos = [first]
    else:
        qns.tempos = [Tempo(0.0, DEFAULT_QPM)]

    steps_per_second = steps_per_quarter * qns.tempos[0].qpm / 60.0
    check_quantized_length(
        qns, steps_per_second, f"at {steps_per_quarter} steps per quarter", max_steps
    )
    _quantize_events(qns, steps_per_second)
    return qns


def quantize_note_sequence_absolute(
    ns: NoteSequence, steps_per_second: int, *, max_steps: int | None = None
) -> NoteSequence:
    """Quantize on absolute time (performance models); tempos and meters are kept but ignored.
    LimitError as :func:`quantize_note_sequence`, before anything is copied."""
    check_quantized_length(
        ns, steps_per_second, f"at {steps_per_second} steps per second", max_steps
    )
    qns = ns.copy()
    qns.quantization_info = QuantizationInfo(steps_per_second=steps_per_second)
    _quantize_events(qns, steps_per_second)
    return qns


# --- splitting and re-timing -------------------------------------------------------


def _require_unquantized(ns: NoteSequence, what: str) -> None:
    if ns.is_quantized:
        raise QuantizationStatusError(f"{what} needs an unquantized sequence")


def extract_subsequence(ns: NoteSequence, start: float, end: float) -> NoteSequence:
    """The part of ``ns`` in [start, end), shifted to begin at 0.

    Notes starting in the window are kept (their ends clipped to ``end``); the tempo, time and
    key signature and chord symbol in force at ``start`` are carried to time 0; controller data
    and other text inside the window is kept (note-seq keeps only pedal controllers). Items at a
    NaN time lie in no window.
    """
    _require_unquantized(ns, "extract_subsequence")
    return _subsequences(ns, [(start, end)], True)[0]


def split_on_time_changes(
    ns: NoteSequence, *, copy_instrument_infos: bool = True, copy: bool = True
) -> list[NoteSequence]:
    """Split where the tempo or time signature really changes, like note-seq's splitter.

    Each piece has one tempo and one time signature and starts at time 0. A change at or after
    the end of the music is ignored; a sequence with nothing in it gives ``[]``. The work is
    linear in the items of ``ns`` plus the pieces (each list is sorted once and each piece
    sliced out of it), except that every piece gets its own copy of ``instrument_infos``:
    ``copy_instrument_infos=False`` leaves them empty, for callers that do not read them and
    could meet files with thousands of tracks and of time changes. ``copy=False`` hands back
    ``[ns]`` itself, its notes sorted by start in place, when the one piece would equal it (for
    pipelines that own ``ns``).
    """
    _require_unquantized(ns, "split_on_time_changes")
    splits = time_change_points(ns)
    if ns.total_time > splits[-1]:
        splits.append(ns.total_time)
    if not copy and len(splits) == 2 and _is_its_own_piece(ns):
        if not copy_instrument_infos:
            ns.instrument_infos = []
        ns.notes.sort(key=operator.attrgetter("start_time"))  # stable, as the piece's are
        return [ns]
    return _subsequences(ns, list(zip(splits[:-1], splits[1:])), copy_instrument_infos)


def _is_its_own_piece(ns: NoteSequence) -> bool:
    """Whether :func:`_subsequences` of the window [0, total_time) would give ``ns`` again, its
    notes sorted by start: notes in the window, ending by its end; the others by time (no NaN),
    in the window, at most one tempo/meter/key at 0 (the one carried over); no text."""
    end, last_end = ns.total_time, 0.0
    for note in ns.notes:
        if not 0.0 <= note.start_time < end or not note.end_time <= end:
            return False
        last_end = max(last_end, note.end_time)
    if last_end != end or ns.text_annotations:
        return False
    for events, carried in ((ns.tempos, True), (ns.time_signatures, True),
                            (ns.key_signatures, True), (ns.control_changes, False),
                            (ns.pitch_bends, False)):  # fmt: skip
        times = [event.time for event in events]
        if times and not all(0.0 <= a <= b < end for a, b in zip(times, times[1:] + times[-1:])):
            return False
        if carried and len(times) > 1 and times[1] == 0.0:
            return False
    return True


def _by_time(items, key: str = "time") -> tuple[list, list[float]]:
    """``items`` without NaN times, stably sorted by time, and their times."""
    get = operator.attrgetter(key)
    kept = sorted((x for x in items if get(x) == get(x)), key=get)
    return kept, [get(x) for x in kept]


def _subsequences(ns: NoteSequence, windows, copy_instrument_infos: bool) -> list[NoteSequence]:
    """:func:`extract_subsequence` for each ``(start, end)`` window, sorting ``ns`` only once."""
    notes, note_starts = _by_time(ns.notes, "start_time")
    chords = [a for a in ns.text_annotations if a.annotation_type == CHORD_SYMBOL]
    others = [a for a in ns.text_annotations if a.annotation_type != CHORD_SYMBOL]
    # (name, events, times, whether the event in force at the window start carries over)
    lists = [
        (name, *_by_time(source), carry)
        for name, source, carry in (
            ("tempos", ns.tempos, True),
            ("time_signatures", ns.time_signatures, True),
            ("key_signatures", ns.key_signatures, True),
            ("text_annotations", chords, True),
            ("control_changes", ns.control_changes, False),
            ("pitch_bends", ns.pitch_bends, False),
            ("text_annotations", others, False),
        )
    ]
    pieces = []
    for start, end in windows:
        infos = [_clone(i) for i in ns.instrument_infos] if copy_instrument_infos else []
        out = NoteSequence(instrument_infos=infos, ticks_per_quarter=ns.ticks_per_quarter)
        out.id, out.filename = ns.id, ns.filename
        lo, hi = bisect.bisect_left(note_starts, start), bisect.bisect_left(note_starts, end)
        for note in notes[lo:hi]:
            new = _clone(note)
            new.start_time -= start
            new.end_time = min(note.end_time, end) - start
            out.notes.append(new)
            out.total_time = max(out.total_time, new.end_time)
        for name, events, times, carry in lists:
            kept = [] if carry else getattr(out, name)  # other text joins the chords
            if carry:  # events[:lo] are in force at start; the window is (start, end)
                lo = bisect.bisect_right(times, start)
                if lo:
                    kept.append(_clone(events[lo - 1]))
                    kept[-1].time = 0.0
            else:  # the window is [start, end)
                lo = bisect.bisect_left(times, start)
            for event in events[lo : bisect.bisect_left(times, end)]:
                kept.append(_clone(event))
                kept[-1].time -= start
            if not carry:
                kept.sort(key=operator.attrgetter("time"))
            setattr(out, name, kept)
        pieces.append(out)
    return pieces


def time_change_points(ns: NoteSequence, tempo: bool = True, meter: bool = True) -> list[float]:
    """Start times of the sections :func:`split_on_time_changes` makes: 0.0 and every time
    before the end of the music where the tempo (``tempo``) or time signature (``meter``)
    really changes."""
    events = [*(ns.time_signatures if meter else []), *(ns.tempos if tempo else [])]
    changes = sorted([e for e in events if e.time < ns.total_time], key=lambda e: e.time)
    current_meter, current_qpm = (4, 4), DEFAULT_QPM
    points = [0.0]
    for change in changes:
        if isinstance(change, TimeSignature):
            new_meter = (change.numerator, change.denominator)
            if new_meter == current_meter:
                continue
            current_meter = new_meter
        else:
            if change.qpm == current_qpm:
                continue
            current_qpm = change.qpm
        if change.time > points[-1]:
            points.append(change.time)
    return points


class TempoMap:
    """Seconds <-> quarter notes under a piecewise-constant tempo map."""

    def __init__(self, tempos: list[Tempo]):
        tempos = sorted(tempos, key=lambda t: t.time)
        if not tempos or tempos[0].time > 0:
            tempos = [Tempo(0.0, DEFAULT_QPM), *tempos]
        self.times = [t.time for t in tempos]
        self.qpms = [t.qpm for t in tempos]
        self.beats = [0.0]
        for i in range(1, len(tempos)):
            span = self.times[i] - self.times[i - 1]
            self.beats.append(self.beats[-1] + span * self.qpms[i - 1] / 60.0)

    def beats_at(self, seconds: float) -> float:
        i = max(bisect.bisect_right(self.times, seconds) - 1, 0)
        return self.beats[i] + (seconds - self.times[i]) * self.qpms[i] / 60.0

    def seconds_at(self, beats: float) -> float:
        """The inverse of :meth:`beats_at` (the last tempo goes on forever)."""
        i = max(bisect.bisect_right(self.beats, beats) - 1, 0)
        return self.times[i] + (beats - self.beats[i]) * 60.0 / self.qpms[i]


def flatten_tempo(ns: NoteSequence, qpm: float | None = None) -> NoteSequence:
    """Rewrite a multi-tempo sequence onto one tempo, keeping every event's beat position.

    Every time is mapped through the tempo map to quarter notes and back at ``qpm`` (default:
    the tempo in force for the longest stretch of the music), so a note on beat 17 stays on
    beat 17 and quantization lines up with the bars. Durations in seconds change where the
    tempo differed; that is the point (note-seq#50).
    """
    _require_unquantized(ns, "flatten_tempo")
    tempo_map = TempoMap(ns.tempos)
    if qpm is None:
        qpm = _dominant_qpm(tempo_map, ns.total_time)
    if qpm <= 0:
        raise ValueError(f"qpm must be positive, got {qpm}")
    scale = 60.0 / qpm

    def remap(t: float) -> float:
        return tempo_map.beats_at(t) * scale

    out = ns.copy()
    for note in out.notes:
        note.start_time, note.end_time = remap(note.start_time), remap(note.end_time)
    for name in (
        "time_signatures",
        "key_signatures",
        "control_changes",
        "pitch_bends",
        "text_annotations",
    ):
        for e in getattr(out, name):
            e.time = remap(e.time)
    out.tempos = [Tempo(0.0, float(qpm))]
    out.total_time = remap(ns.total_time)
    return out


def _dominant_qpm(tempo_map: TempoMap, total_time: float) -> float:
    spans: dict[float, float] = {}
    bounds = [min(t, total_time) for t in tempo_map.times] + [total_time]
    for i, q in enumerate(tempo_map.qpms):
        spans[q] = spans.get(q, 0.0) + max(bounds[i + 1] - bounds[i], 0.0)
    best = max(spans.values())
    # Ties go to the earliest tempo, so a file with equal spans keeps its opening tempo.
    return next(q for q in tempo_map.qpms if spans[q] == best)
