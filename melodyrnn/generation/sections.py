"""Where in a real file a primer lies and where its continuation goes: sections and placement.

:mod:`melodyrnn.generation.primer` (melodies) and :mod:`melodyrnn.generation.drum_primer`
(drum tracks) share these rules:

* **Section.** The continuation follows the last time-signature section that holds the track's
  last note, ignoring *degenerate* sections, shorter than two bars of their own meter (a 2/8
  pickup bar at the end, a meter that changes again at once): their notes join the section
  before, and the meter of that section is the one ``--bars`` counts in. Tempo changes inside
  the section are flattened onto beats; the continuation is placed back on the file's tempo map.
* **Placement** (:data:`PLACEMENTS`). ``"file-end"`` (the default): the continuation starts on
  the first 16th step at or after the end of the file's last note of *any* track, so the new
  notes never sound under the file's own material (an instrumental outro after the vocal, say).
  The primer is still the track's last bars; the silence between the track's end and the
  start is shortened by whole bars, so the model hears the track end, then under one bar of
  rest that puts the start at its place in the bar. ``"melody-end"``: the continuation starts
  where the track's last note ends (under whatever else plays there).
* **Primer length** (:data:`DEFAULT_PRIMER_BARS`). Without ``primer_bars`` the primer is the
  track's last 64 bars: on the shipped model, the next-step distribution after the last 64
  bars of a 132-bar melody differs from the one after all of it by at most 0.25 % (total
  variation; 1.9 % for 32 bars, 6.8 % for 16), and 32-step argmax and sampled continuations
  were identical in 12 of 12 cases (8 of 12 for 32 bars; scripts/measure_primer_bars.py).
  So any long file continues without options, as it would from all of its bars.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

from melodyrnn.constants import DEFAULT_STEPS_PER_QUARTER
from melodyrnn.errors import MelodyRNNError, PrimerError
from melodyrnn.limits import check_limit, limit
from melodyrnn.sequence import (
    Note,
    NoteSequence,
    TempoMap,
    TimeSignature,
    extract_subsequence,
    flatten_tempo,
    quantize_note_sequence,
    time_change_points,
)

__all__ = [
    "DEFAULT_PRIMER_BARS",
    "PLACEMENTS",
    "PrimerTiming",
    "TrackSection",
    "check_placement",
    "check_primer_length",
    "continuation_length",
    "file_end_time",
    "grid_step",
    "latest",
    "placement",
    "read_track_section",
    "primer_steps",
    "section_start",
]

DEFAULT_PRIMER_BARS = 64
PLACEMENTS = ("file-end", "melody-end")
_MIN_SECTION_BARS = 2


def check_placement(at: str) -> str:
    if at not in PLACEMENTS:
        raise PrimerError(
            f"{{at}} must be one of {', '.join(PLACEMENTS)}, got {at!r}", parameters=("at",)
        )
    return at


def latest(events, time: float):
    """The last of ``events`` (tempos, meters, keys) at or before ``time``; on equal times the
    later in the list, as a MIDI file's later event wins."""
    before = [e for e in events if e.time <= time + 1e-9]
    return max(reversed(before), key=lambda e: e.time) if before else None


def file_end_time(source: NoteSequence) -> float:
    """Seconds where the file's last note (of any track) ends."""
    return max((n.end_time for n in source.notes), default=0.0)


def section_start(source: NoteSequence, last_onset: float) -> float:
    """Start (seconds) of the meter section the continuation follows (module docstring)."""
    points = time_change_points(source, tempo=False)
    tempo_map = TempoMap(source.tempos)
    stops = [*points[1:], max(file_end_time(source), source.total_time)]
    candidates = []
    for start, stop in zip(points, stops):
        if start > last_onset + 1e-9:
            break
        meter = latest(source.time_signatures, start) or TimeSignature(0.0)
        bar = meter.numerator * 4.0 / meter.denominator
        length = tempo_map.beats_at(stop) - tempo_map.beats_at(start)
        candidates.append((start, length >= _MIN_SECTION_BARS * bar - 1e-6))
    full = [start for start, ok in candidates if ok]
    return full[-1] if full else candidates[-1][0]


class PrimerTiming:
    """Steps of the primer's section <-> seconds of the source file, and continuation lengths.

    Needs ``section_start``, ``tempo_map``, ``end_step`` and ``steps_per_bar`` attributes.
    """

    section_start: float
    tempo_map: TempoMap
    end_step: int
    steps_per_bar: int

    def step_to_seconds(self, step: float) -> float:
        """Seconds in the source file of a step of the section."""
        return self.section_start + self.tempo_map.seconds_at(step / DEFAULT_STEPS_PER_QUARTER)

    @property
    def continuation_start(self) -> float:
        """Seconds in the source file where the continuation starts."""
        return self.step_to_seconds(self.end_step)

    def continuation_steps(self, steps: int | None = None, bars: float | None = None) -> int:
        """The continuation length asked for as ``steps`` or ``bars`` (default 64 steps),
        checked: at least 1 step, at most limits' max_generation_steps."""
        return continuation_length(steps, bars, self.steps_per_bar)

    def steps_for_bars(self, bars: float) -> int:
        """A continuation length of ``bars`` bars of the section's meter, in steps."""
        return continuation_length(None, bars, self.steps_per_bar)


def continuation_length(
    steps: int | None = None, bars: float | None = None, steps_per_bar: int = 1
) -> int:
    """A continuation length of ``steps`` steps or ``bars`` bars (default 64 steps), checked;
    with the default ``steps_per_bar`` it checks the numbers before the primer is read."""
    if bars is not None:
        if not (isinstance(bars, int | float) and math.isfinite(bars) and bars > 0):
            raise PrimerError(
                f"{{bars}} must be a finite number > 0, got {bars}", parameters=("bars",)
            )
        length = bars * steps_per_bar
        check_limit("max_generation_steps", length, "the continuation")
        return max(1, round(length))
    steps = 64 if steps is None else steps
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise PrimerError(
            f"the continuation must be at least 1 step long, got {steps}", parameters=("steps",)
        )
    check_limit("max_generation_steps", steps, "the continuation")
    return steps


def grid_step(tempo_map: TempoMap, seconds: float) -> int:
    """The first 16th step (of a section, ``seconds`` from its start) at or after ``seconds``."""
    return math.ceil(tempo_map.beats_at(seconds) * DEFAULT_STEPS_PER_QUARTER - 1e-3)


def placement(
    track_end_step: int, file_end_step: int, steps_per_bar: int, at: str
) -> tuple[int, int]:
    """``(start step, context end step)`` of the continuation (module docstring, placement):
    the context ends where the start is, less the whole bars of silence skipped."""
    if check_placement(at) == "melody-end" or file_end_step <= track_end_step:
        return track_end_step, track_end_step
    gap = file_end_step - track_end_step
    return file_end_step, track_end_step + gap % steps_per_bar


def primer_steps(primer_bars: int | None, steps_per_bar: int) -> int:
    """Steps of primer to keep: ``primer_bars`` bars (default :data:`DEFAULT_PRIMER_BARS`)."""
    if primer_bars is None:
        return DEFAULT_PRIMER_BARS * steps_per_bar
    if isinstance(primer_bars, bool) or not isinstance(primer_bars, int) or primer_bars < 1:
        raise PrimerError("{primer_bars} must be at least 1", parameters=("primer_bars",))
    return primer_bars * steps_per_bar


def check_primer_length(steps: int, steps_per_bar: int, where: str) -> None:
    """PrimerError when a primer (after ``primer_bars``) is longer than limits allow."""
    max_primer = limit("max_primer_steps")
    if steps > max_primer:
        raise PrimerError(
            f"{where}: the primer is {steps // steps_per_bar} bars long; it may be at most "
            f"{max_primer // steps_per_bar} bars: give {{primer_bars}} N (at most that) or "
            f"leave it out for the last {DEFAULT_PRIMER_BARS} bars",
            parameters=("primer_bars",),
        )


class TrackSection(NamedTuple):
    """One track's last section of a file, read the way both primers start."""

    where: str  # the file's name for messages
    notes: list[Note]  # the track's notes in the whole file
    last_onset: float  # seconds, in the file
    start: float  # the section's start in the file, seconds
    section: NoteSequence  # the section (times from its start), the track's notes only
    tempo_map: TempoMap  # the section's own tempos, to place the continuation back
    quantized: NoteSequence  # the section on a flat 60 qpm, 4 steps per quarter


def read_track_section(
    source: NoteSequence, at: str, in_track: Callable[[Note], bool]
) -> TrackSection:
    """The last section holding the notes ``in_track`` keeps (module docstring), quantized with
    its tempo changes flattened. Raises :class:`PrimerError` for a quantized ``source`` or an
    unknown placement ``at``."""
    if source.is_quantized:
        raise PrimerError("prepare_primer takes an unquantized sequence (as read from MIDI)")
    check_placement(at)
    where = source.filename or "the primer"
    notes = [n for n in source.notes if in_track(n)]
    last_onset = max(n.start_time for n in notes)
    start = section_start(source, last_onset)
    section = extract_subsequence(source, start, max(source.total_time, file_end_time(source)) + 1)
    section.notes = [n for n in section.notes if in_track(n)]
    meter = latest(section.time_signatures, 0.0)
    section.time_signatures = (
        [] if meter is None else [TimeSignature(0.0, meter.numerator, meter.denominator)]
    )
    try:
        quantized = quantize_note_sequence(
            flatten_tempo(section, qpm=60.0), DEFAULT_STEPS_PER_QUARTER
        )
    except MelodyRNNError as exc:
        raise PrimerError(f"{where}: {exc}") from None
    return TrackSection(
        where, notes, last_onset, start, section, TempoMap(section.tempos), quantized
    )
