"""Drum tracks: per-step sets of drum pitches, their drum-class bitmask encoding, and extraction.

Two flavours of the same idea:

* **Magenta** (note-seq's ``DrumTrack`` and ``MultiDrumOneHotEncoding``, the ``drum_kit`` config):
  a :class:`DrumTrack` holds one frozenset of MIDI drum pitches per step; notes must be
  ``is_drum`` and have a velocity; extraction stops after ``gap_bars`` of silence. A step is
  encoded as the bitmask ``sum(2**c)`` of the drum classes ``c`` it strikes (512 classes), unknown
  pitches are ignored, and decoding plays the *first* pitch of each class.
* **magenta.js** (``DrumsOneHotConverter``): uses *every* note, with a slightly different class
  table, and sums ``2**class`` per note, so two notes of one class add twice and a label can reach
  512 or more (magenta.js then feeds an all-zero one-hot row); a pitch in no class turns the whole
  step into silence. Its class table is here; its reading,
  :func:`~melodyrnn.events.magenta_js.drums_from_sequence_magenta_js`, which reproduces those raw
  labels exactly, lives with magenta.js's melody reading in :mod:`melodyrnn.events.magenta_js`.

Magenta's ``one_drum`` config uses the same encoding with a single class holding every MIDI
pitch (``ONE_DRUM_PITCH_CLASSES``, named ``"one_drum"``): two events, silence (0) and a hit (1),
which decodes to pitch 39 (hand clap).

The integer form of a drum event, shared by encoders and the generator, is the bitmask itself.
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from melodyrnn.constants import DEFAULT_STEPS_PER_BAR, DEFAULT_STEPS_PER_QUARTER, DRUM_CHANNEL
from melodyrnn.errors import EncodingError
from melodyrnn.events.base import (
    fit_length,
    next_bar_line,
    require_relative_quantized,
    timed_sequence,
)
from melodyrnn.sequence import NoteSequence

# Drum classes in bit order: kick, snare, closed hi-hat, open hi-hat, low tom, mid tom, high tom,
# crash, ride. The first pitch of each class is the one a decoded event plays.
MAGENTA_DRUM_PITCH_CLASSES: tuple[tuple[int, ...], ...] = (
    (36, 35),
    (38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85),
    (42, 44, 54, 68, 69, 70, 71, 73, 78, 80, 22),
    (46, 67, 72, 74, 79, 81, 26),
    (45, 29, 41, 43, 61, 64, 84),
    (48, 47, 60, 63, 77, 86, 87),
    (50, 30, 62, 76, 83),
    (49, 52, 55, 57, 58),
    (51, 53, 59, 82),
)

# magenta.js DEFAULT_DRUM_PITCH_CLASSES: no 22/26 in the hi-hats, 43 is a high tom, 52 a ride.
MAGENTA_JS_DRUM_PITCH_CLASSES: tuple[tuple[int, ...], ...] = (
    (36, 35),
    (38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85),
    (42, 44, 54, 68, 69, 70, 71, 73, 78, 80),
    (46, 67, 72, 74, 79, 81),
    (45, 29, 41, 61, 64, 84),
    (48, 47, 60, 63, 77, 86, 87),
    (50, 30, 43, 62, 76, 83),
    (49, 55, 57, 58),
    (51, 52, 53, 59, 82),
)

# Magenta's one_drum config: one class of every MIDI pitch, decoded to 39 (hand clap).
ONE_DRUM_PITCH_CLASSES: tuple[tuple[int, ...], ...] = ((39, *range(0, 39), *range(40, 128)),)

_NAMED_PITCH_CLASSES = {
    "magenta": MAGENTA_DRUM_PITCH_CLASSES,
    "magenta_js": MAGENTA_JS_DRUM_PITCH_CLASSES,
    "one_drum": ONE_DRUM_PITCH_CLASSES,
}
# The names drum_pitch_classes() and drum encoder specs accept.
DRUM_PITCH_CLASS_NAMES: tuple[str, ...] = tuple(_NAMED_PITCH_CLASSES)

NUM_DRUM_CLASSES = 9  # of the Magenta and magenta.js tables
NUM_DRUM_EVENTS = 2**NUM_DRUM_CLASSES  # 512


def _names_text() -> str:
    *first, last = (repr(name) for name in DRUM_PITCH_CLASS_NAMES)
    return f"{', '.join(first)} or {last}"


def drum_pitch_classes(pitch_classes: str | Sequence[Sequence[int]]) -> tuple[tuple[int, ...], ...]:
    """The class table named ``"magenta"``, ``"magenta_js"`` or ``"one_drum"``, or a checked
    custom table."""
    if isinstance(pitch_classes, str):
        try:
            return _NAMED_PITCH_CLASSES[pitch_classes]
        except KeyError:
            raise EncodingError(
                f"unknown drum pitch classes {pitch_classes!r}; use {_names_text()}"
            ) from None
    table = tuple(tuple(int(p) for p in group) for group in pitch_classes)
    if not table or any(not group for group in table):
        raise EncodingError("drum pitch classes must be a non-empty list of non-empty pitch lists")
    seen = [p for group in table for p in group]
    if len(seen) != len(set(seen)):
        raise EncodingError("a drum pitch appears in more than one drum class")
    return table


# --- the one-hot event encoding -------------------------------------------------------------


class MultiDrumOneHotEncoding:
    """Drum events as class bitmasks: event ``sum(2**c)`` over the drum classes struck
    (``2**len(classes)`` events: 512 for the 9-class tables, 2 for ``"one_drum"``).

    Implements the one-hot *event encoding* protocol the generic encoders build on
    (``num_classes``, ``default_event``, ``encode_event``/``decode_event`` and their vectorised
    ``encode_events``/``decode_events``). Events are integers (the bitmask), so encoding and
    decoding an integer event are the identity after validation; :meth:`pitches_to_event` and
    :meth:`event_to_pitches` convert from and to sets of MIDI drum pitches, Magenta's way (a class
    counts once however many of its pitches sound, unknown pitches are ignored, decoding plays
    the first pitch of each class).

    With ``pitch_classes="magenta_js"`` the class table is magenta.js's, and an integer event may
    be a raw magenta.js label of 512 or more (see
    :func:`~melodyrnn.events.magenta_js.drums_from_sequence_magenta_js`): such a class is passed
    through unchanged and the one-hot encoder must feed an all-zero row for it; it decodes to no
    pitches.
    """

    def __init__(
        self,
        pitch_classes: str | Sequence[Sequence[int]] = "magenta",
        ignore_unknown: bool = True,
    ):
        self.class_pitches = drum_pitch_classes(pitch_classes)
        # The name ("magenta", "magenta_js", "one_drum") when one was given, else the table.
        self.pitch_classes = pitch_classes if isinstance(pitch_classes, str) else self.class_pitches
        self.ignore_unknown = ignore_unknown
        self._class_of_pitch = {p: c for c, group in enumerate(self.class_pitches) for p in group}
        self._first_pitches = np.array([group[0] for group in self.class_pitches], dtype=np.int64)

    @property
    def allows_raw_labels(self) -> bool:
        """True for magenta.js: events >= num_classes are legal (they feed an all-zero row)."""
        return self.pitch_classes == "magenta_js"

    @property
    def num_classes(self) -> int:
        return 2 ** len(self.class_pitches)

    @property
    def default_event(self) -> int:
        return 0

    def __repr__(self) -> str:
        return f"MultiDrumOneHotEncoding(pitch_classes={self.pitch_classes!r})"

    # scalar protocol

    def encode_event(self, event) -> int:
        """Class index of an event: an integer bitmask (validated) or an iterable of pitches."""
        if isinstance(event, (int, np.integer)):
            return self._check_event(int(event))
        return self.pitches_to_event(event)

    def decode_event(self, index: int) -> int:
        """The integer event of a class index (the bitmask itself)."""
        return self._check_event(int(index))

    # vectorised protocol

    def encode_events(self, events) -> np.ndarray:
        """Class indices (int64) of an array of integer events."""
        return self._check_events(events)

    def decode_events(self, indices) -> np.ndarray:
        """Integer events (int64) of an array of class indices."""
        return self._check_events(indices)

    # pitch sets

    def pitches_to_event(self, pitches: Iterable[int]) -> int:
        """Bitmask of the classes struck by ``pitches`` (each class counts once)."""
        mask = 0
        for pitch in pitches:
            cls = self._class_of_pitch.get(int(pitch))
            if cls is not None:
                mask |= 1 << cls
            elif not self.ignore_unknown:
                raise EncodingError(
                    f"drum pitch {pitch} is in no drum class; map it to a known drum pitch"
                )
        return mask

    def event_to_pitches(self, event: int) -> frozenset[int]:
        """The pitches an event plays: the first pitch of each class whose bit is set.

        A magenta.js raw label of ``num_classes`` or more plays nothing (its one-hot row is zero).
        """
        event = self._check_event(int(event))
        if event >= self.num_classes:
            return frozenset()
        return frozenset(int(p) for cls, p in enumerate(self._first_pitches) if (event >> cls) & 1)

    # validation

    @property
    def _label(self) -> str:
        return repr(self.pitch_classes) if isinstance(self.pitch_classes, str) else "custom"

    def _check_event(self, event: int) -> int:
        if event < 0 or (event >= self.num_classes and not self.allows_raw_labels):
            raise EncodingError(
                f"drum event {event} is outside 0..{self.num_classes - 1} "
                f"for the {self._label} drum classes"
            )
        return event

    def _check_events(self, events) -> np.ndarray:
        arr = np.asarray(events)
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise EncodingError(f"drum events must be integers, got dtype {arr.dtype}")
        arr = arr.astype(np.int64, copy=False)
        if arr.size:
            lo, hi = int(arr.min()), int(arr.max())
            if lo < 0 or (hi >= self.num_classes and not self.allows_raw_labels):
                bad = lo if lo < 0 else hi
                raise EncodingError(
                    f"drum event {bad} is outside 0..{self.num_classes - 1} "
                    f"for the {self._label} drum classes"
                )
        return arr


# --- DrumTrack ------------------------------------------------------------------------------


@dataclass
class DrumTrack:
    """A quantized stream of drum events: one frozenset of MIDI drum pitches per step.

    ``start_step`` is the offset of the first event in the source sequence (a bar boundary when
    extracted); ``end_step`` is ``start_step + len(events)``. Drum notes have no duration.
    """

    events: list[frozenset[int]] = field(default_factory=list)
    start_step: int = 0
    steps_per_bar: int = DEFAULT_STEPS_PER_BAR
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER

    def __post_init__(self):
        self.events = [frozenset(int(p) for p in e) for e in self.events]
        for event in self.events:
            if any(not 0 <= p <= 127 for p in event):
                raise EncodingError(f"drum event {sorted(event)} holds a pitch outside 0..127")

    @property
    def end_step(self) -> int:
        return self.start_step + len(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self):
        return iter(self.events)

    def __getitem__(self, i):
        return self.events[i]

    def set_length(self, steps: int) -> None:
        """Pad with empty events or truncate (at the end) to ``steps`` events."""
        if steps < len(self.events):
            del self.events[steps:]
        else:
            self.events.extend([frozenset()] * (steps - len(self.events)))

    # -- from a quantized sequence ---------------------------------------------------------

    @classmethod
    def from_quantized_sequence(
        cls,
        qns: NoteSequence,
        search_start_step: int = 0,
        gap_bars: float = 1,
        pad_end: bool = False,
        ignore_is_drum: bool = False,
    ) -> DrumTrack:
        """The first drum track at or after ``search_start_step`` (note-seq semantics).

        Uses drum notes (``is_drum``, unless ``ignore_is_drum``) with a non-zero velocity that
        start at or after ``search_start_step``; all pitches starting on one step form one event.
        The track starts at the bar (counted from ``search_start_step``) holding the first such
        note and ends after the last event before a silence of ``gap_bars`` bars or more, padded
        to a whole bar when ``pad_end``. An empty track (no drum notes) has ``start_step`` 0.

        Raises :class:`NonIntegerStepsPerBarError` when the time signature gives a fractional
        number of steps per bar, :class:`QuantizationStatusError` for an unquantized sequence.
        """
        steps_per_bar = _whole_steps_per_bar(qns)
        by_step = _drum_steps(qns, search_start_step, ignore_is_drum)
        return cls._from_steps(
            by_step, sorted(by_step), 0, search_start_step, steps_per_bar, qns, gap_bars, pad_end
        )

    @classmethod
    def _from_steps(
        cls, by_step, steps, at, search_start_step, steps_per_bar, qns, gap_bars, pad_end
    ) -> DrumTrack:
        """The track whose first event is ``steps[at]`` (``by_step``: pitches per step)."""
        track = cls(steps_per_bar=steps_per_bar, steps_per_quarter=qns.steps_per_quarter)
        if at == len(steps):
            return track
        first = steps[at]
        track.start_step = first - (first - search_start_step) % steps_per_bar
        gap_steps = gap_bars * steps_per_bar
        next_free = 0  # index just after the last event written
        for k in range(at, len(steps)):
            index = steps[k] - track.start_step
            if track.events and index - next_free >= gap_steps:
                break
            track.set_length(index + 1)
            track.events[index] = frozenset(by_step[steps[k]])
            next_free = index + 1

        if pad_end:
            track.set_length(len(track) + (-len(track)) % steps_per_bar)
        return track

    # -- to a NoteSequence -------------------------------------------------------------------

    def to_sequence(
        self,
        velocity: int = 100,
        instrument: int = DRUM_CHANNEL,
        program: int = 0,
        sequence_start_time: float = 0.0,
        qpm: float = 120.0,
    ) -> NoteSequence:
        """An unquantized NoteSequence: every pitch of every event, one step long, ``is_drum``.

        Times count from ``sequence_start_time`` plus ``start_step`` steps, like note-seq.
        """
        pitches, steps = [], []
        for step, event in enumerate(self.events):
            for pitch in sorted(event):
                pitches.append(pitch)
                steps.append(step)
        return timed_sequence(
            pitches,
            steps,
            [step + 1 for step in steps],
            origin_step=self.start_step,
            velocity=velocity,
            instrument=instrument,
            program=program,
            sequence_start_time=sequence_start_time,
            qpm=qpm,
            steps_per_quarter=self.steps_per_quarter,
            is_drum=True,
        )

    # -- integer arrays ------------------------------------------------------------------------

    def to_array(self, pitch_classes: str | Sequence[Sequence[int]] = "magenta") -> np.ndarray:
        """The events as int64 class bitmasks (Magenta's rules with the chosen class table)."""
        encoding = _encoding(pitch_classes)
        return np.array([encoding.pitches_to_event(e) for e in self.events], dtype=np.int64)

    @classmethod
    def from_array(
        cls,
        events,
        pitch_classes: str | Sequence[Sequence[int]] = "magenta",
        start_step: int = 0,
        steps_per_bar: int = DEFAULT_STEPS_PER_BAR,
        steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
    ) -> DrumTrack:
        """Decode class bitmasks: each set bit plays the first pitch of its class."""
        encoding = _encoding(pitch_classes)
        arr = encoding.decode_events(events)
        return cls(
            events=[encoding.event_to_pitches(int(e)) for e in arr],
            start_step=start_step,
            steps_per_bar=steps_per_bar,
            steps_per_quarter=steps_per_quarter,
        )

    def copy(self) -> DrumTrack:
        return dataclasses.replace(self, events=list(self.events))


def _encoding(pitch_classes) -> MultiDrumOneHotEncoding:
    if isinstance(pitch_classes, MultiDrumOneHotEncoding):
        return pitch_classes
    return MultiDrumOneHotEncoding(pitch_classes)


def _drum_steps(qns: NoteSequence, search_start_step: int, ignore_is_drum: bool) -> dict:
    """{step: pitches} of the drum notes with a velocity that start at or after the step."""
    by_step: dict[int, set[int]] = collections.defaultdict(set)
    for note in qns.notes:
        if (
            (note.is_drum or ignore_is_drum)
            and note.velocity
            and note.quantized_start_step >= search_start_step
        ):
            by_step[note.quantized_start_step].add(note.pitch)
    return by_step


def _whole_steps_per_bar(qns: NoteSequence) -> int:
    require_relative_quantized(
        qns,
        "drum extraction needs a sequence quantized relative to tempo; "
        "call quantize_note_sequence() first",
    )
    return qns.whole_steps_per_bar()


def extract_drum_tracks(
    qns: NoteSequence,
    search_start_step: int = 0,
    min_bars: int = 7,
    max_steps_truncate: int | None = None,
    max_steps_discard: int | None = None,
    gap_bars: float = 1.0,
    pad_end: bool = False,
    ignore_is_drum: bool = False,
) -> tuple[list[DrumTrack], dict]:
    """Every drum track of a quantized sequence, one after another, as magenta's pipeline does.

    A drum track may span several instruments (all drum notes are merged); each new search starts
    at the next bar boundary after the previous track's end. Tracks shorter than ``min_bars`` bars
    are discarded, then those longer than ``max_steps_discard`` steps, then the rest are truncated
    to ``max_steps_truncate`` steps (down to a bar boundary when ``pad_end``). The training
    pipeline (``DrumsExtractor``) uses ``min_bars=7, max_steps_truncate=512, gap_bars=1.0``.

    Returns ``(tracks, stats)``: stats holds the counters ``drum_tracks_discarded_too_short``,
    ``drum_tracks_discarded_too_long``, ``drum_tracks_truncated`` and the Counter
    ``drum_track_lengths_in_bars`` (length in whole bars -> number of kept tracks).
    """
    stats: dict = {
        "drum_tracks_discarded_too_short": 0,
        "drum_tracks_discarded_too_long": 0,
        "drum_tracks_truncated": 0,
        "drum_track_lengths_in_bars": collections.Counter(),
    }
    steps_per_bar = _whole_steps_per_bar(qns)
    tracks: list[DrumTrack] = []
    # The drum steps are gathered and sorted once; each search bisects to its first step, so
    # the work is linear in the notes however many tracks there are.
    by_step = _drum_steps(qns, search_start_step, ignore_is_drum)
    steps = sorted(by_step)
    while True:
        at = bisect.bisect_left(steps, search_start_step)
        track = DrumTrack._from_steps(
            by_step, steps, at, search_start_step, steps_per_bar, qns, gap_bars, pad_end
        )
        if not track.events:
            break
        # Next search: the first bar boundary (on the grid of the last search) at or after the end.
        search_start_step = next_bar_line(track.end_step, search_start_step, steps_per_bar)

        outcome = fit_length(
            track, track.steps_per_bar, min_bars, max_steps_discard, max_steps_truncate, pad_end
        )
        if outcome is not None:
            stats[f"drum_tracks_{outcome}"] += 1
            if outcome != "truncated":
                continue
        stats["drum_track_lengths_in_bars"][len(track) // track.steps_per_bar] += 1
        tracks.append(track)
    return tracks, stats
