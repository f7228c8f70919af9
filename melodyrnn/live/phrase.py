"""The beat grid of a live session, the tempo of an incoming MIDI clock, and a player's phrase.

All times are seconds on the caller's clock (any monotonic clock: ``time.monotonic()`` in the
jam, made-up numbers in tests). The grid starts at the player's first note: beat 0 is that note,
bar lines fall every ``beats_per_bar`` quarter notes after it. A :class:`Phrase` collects the
notes of one call and says when it has ended: a silence of N beats after the last note, a
length in bars, a control change (a sustain pedal pressed, a footswitch), or the longest phrase
allowed (a player who never stops is answered anyway).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from melodyrnn.errors import LiveError

__all__ = ["EARLY", "BeatGrid", "ClockTempo", "Phrase", "PhraseRules", "PlayedNote"]

EPSILON = 1e-6  # seconds: a bar line "at" a time within this is that time
CLOCKS_PER_QUARTER = 24  # MIDI beat clock
EARLY = 0.125  # beats: a note this early (a 32nd) counts as played on the beat after it


@dataclass
class BeatGrid:
    """Beats and bar lines on the caller's clock: beat 0 at ``origin``, ``qpm`` quarters/min."""

    origin: float
    qpm: float = 120.0
    beats_per_bar: int = 4

    def __post_init__(self) -> None:
        if not (math.isfinite(self.qpm) and 20.0 <= self.qpm <= 400.0):
            raise LiveError(
                f"{{qpm}} must be between 20 and 400, got {self.qpm}", parameters=("qpm",)
            )
        if not 1 <= int(self.beats_per_bar) <= 16:
            raise LiveError(
                f"{{beats_per_bar}} must be 1..16, got {self.beats_per_bar}",
                parameters=("beats_per_bar",),
            )

    @property
    def beat_seconds(self) -> float:
        return 60.0 / self.qpm

    @property
    def bar_seconds(self) -> float:
        return self.beats_per_bar * self.beat_seconds

    def beat_at(self, time: float) -> float:
        return (time - self.origin) / self.beat_seconds

    def time_at(self, beat: float) -> float:
        return self.origin + beat * self.beat_seconds

    def bar_at(self, time: float) -> int:
        """The bar that holds ``time`` (bar 0 starts at the origin)."""
        return math.floor((time - self.origin) / self.bar_seconds + EPSILON)

    def bar_time(self, bar: int) -> float:
        return self.origin + bar * self.bar_seconds

    def next_bar(self, time: float) -> int:
        """The first bar line at or after ``time``."""
        return math.ceil((time - self.origin) / self.bar_seconds - EPSILON)

    def retempo(self, qpm: float, at: float) -> None:
        """Change the tempo at ``at`` keeping the beat position there."""
        beat = self.beat_at(at)
        self.qpm = qpm
        self.__post_init__()
        self.origin = at - beat * self.beat_seconds


class ClockTempo:
    """The tempo of an incoming MIDI clock (24 pulses a quarter), from its last pulses."""

    def __init__(self, window: int = CLOCKS_PER_QUARTER):
        self.pulses: deque[float] = deque(maxlen=window + 1)

    def pulse(self, time: float) -> None:
        if self.pulses and time - self.pulses[-1] > 1.0:  # the clock stopped and came back
            self.pulses.clear()
        self.pulses.append(time)

    @property
    def qpm(self) -> float | None:
        """Quarters a minute, or None until a few pulses have arrived."""
        if len(self.pulses) < 7:
            return None
        span = self.pulses[-1] - self.pulses[0]
        if span <= 0:
            return None
        qpm = 60.0 * (len(self.pulses) - 1) / (CLOCKS_PER_QUARTER * span)
        return qpm if 20.0 <= qpm <= 400.0 else None


@dataclass(frozen=True)
class PhraseRules:
    """When a call ends (the first rule that fires wins).

    ``silence_beats``: no note held for this many beats after the last one (None: not used);
    ``phrase_bars``: the call is this many bars long, counted from the bar of its first note;
    ``end_control``: a control change of this number going to 64 or more (64 = sustain pedal);
    ``max_bars``: the longest call; a player who never stops is answered after it.
    ``lead``: seconds the answer needs to be generated; a call that ends on a bar line is closed
    this long before it, so the answer can start exactly on that bar.
    """

    silence_beats: float | None = 2.0
    phrase_bars: int | None = None
    end_control: int | None = None
    max_bars: int = 8
    lead: float = 0.25

    def __post_init__(self) -> None:
        if self.silence_beats is not None and not (
            math.isfinite(self.silence_beats) and 0 < self.silence_beats <= 64
        ):
            raise LiveError(
                f"{{silence_beats}} must be in (0, 64], got {self.silence_beats}",
                parameters=("silence_beats",),
            )
        if self.phrase_bars is not None and not 1 <= self.phrase_bars <= 64:
            raise LiveError(
                f"{{phrase_bars}} must be 1..64, got {self.phrase_bars}",
                parameters=("phrase_bars",),
            )
        if self.end_control is not None and not 0 <= self.end_control <= 127:
            raise LiveError(
                f"{{end_control}} must be a controller number 0..127, got {self.end_control}",
                parameters=("end_control",),
            )
        if not 1 <= self.max_bars <= 64:
            raise LiveError(
                f"{{max_bars}} must be 1..64, got {self.max_bars}", parameters=("max_bars",)
            )
        if self.silence_beats is None and self.phrase_bars is None and self.end_control is None:
            raise LiveError(
                "a call needs an end: give {silence_beats}, {phrase_bars} or {end_control}",
                parameters=("silence_beats", "phrase_bars", "end_control"),
            )
        if not (math.isfinite(self.lead) and 0 <= self.lead <= 10):
            raise LiveError(
                f"{{lead}} must be 0..10 seconds, got {self.lead}", parameters=("lead",)
            )


@dataclass
class PlayedNote:
    pitch: int
    velocity: int
    start: float
    end: float | None = None  # None while held


@dataclass
class Phrase:
    """One call being played: its notes and the rules that end it."""

    grid: BeatGrid
    rules: PhraseRules
    start: float  # the first note
    notes: list[PlayedNote] = field(default_factory=list)
    max_notes: int = 4096
    _control_down: bool = False
    _ended_by: str | None = None
    _end_time: float = 0.0

    @property
    def start_bar(self) -> int:
        """The bar of the first note; one played up to a 32nd early is on the next bar line."""
        return self.grid.bar_at(self.start + EARLY * self.grid.beat_seconds)

    @property
    def held(self) -> list[PlayedNote]:
        return [n for n in self.notes if n.end is None]

    def note_on(self, pitch: int, velocity: int, time: float) -> None:
        self.note_off(pitch, time)  # a retrigger ends the sounding one
        if len(self.notes) < self.max_notes:
            self.notes.append(PlayedNote(pitch, velocity, time))

    def note_off(self, pitch: int, time: float) -> None:
        for note in self.notes:
            if note.pitch == pitch and note.end is None:
                note.end = max(time, note.start)

    def control(self, number: int, value: int, time: float) -> None:
        down = value >= 64
        if number == self.rules.end_control and down and not self._control_down:
            self._ended_by = f"control {number}"
            self._end_time = time
        if number == self.rules.end_control:
            self._control_down = down

    def end_time(self, now: float) -> tuple[float, str] | None:
        """(when the call ends, why) if it has ended by ``now``, else None.

        The end is the moment a rule fired; for the bar rules it is ``lead`` seconds before
        the bar line, so that the answer is ready on it.
        """
        if self._ended_by is not None:
            return self._end_time, self._ended_by
        grid, rules = self.grid, self.rules
        candidates = []
        if rules.silence_beats is not None and self.notes and not self.held:
            last = max(n.end for n in self.notes)
            candidates.append((last + rules.silence_beats * grid.beat_seconds, "silence"))
        bars = [(rules.max_bars, "max bars")]
        if rules.phrase_bars is not None:
            bars.append((rules.phrase_bars, "phrase bars"))
        for count, why in bars:
            close = grid.bar_time(self.start_bar + count) - rules.lead
            candidates.append((max(close, self.start + EPSILON), why))
        when, why = min(candidates)
        return (when, why) if when <= now else None

    def closed_notes(self, at: float) -> list[PlayedNote]:
        """The notes up to ``at``, a note still held there ending at ``at``."""
        out = []
        for n in self.notes:
            if n.start < at:
                end = at if n.end is None else min(n.end, at)
                out.append(PlayedNote(n.pitch, n.velocity, n.start, max(end, n.start)))
        return out
