"""pretty_midi's tempo map, both ways: ticks -> seconds as its reader computes them
(:class:`TempoMap`), and seconds -> ticks as its writer finds them (:class:`TickTable`, built
tempo by tempo).

pretty_midi converts times to ticks with a table of the time of every tick (``__tick_to_time``,
8 bytes a tick: 180 MB for a 22-million-tick score written by music21 at 10,080 ticks a
quarter) and looks each time up in it. :class:`TickTable` holds the same table as the pieces
pretty_midi's ``_update_tick_to_time`` writes it in, one per tempo, and computes any entry on
demand with pretty_midi's own arithmetic, so every value (and so every tick found) is the one
pretty_midi's table holds, bit for bit, in memory that grows with the tempos, not the ticks.

:func:`~melodyrnn.io.midi.sequence_to_pretty_midi` places every tempo change on the tick that
pretty_midi's ``time_to_tick`` gives under the tempos before it, as note-seq does. pretty_midi
offers no public way to add a tempo, and rebuilding its whole table after each one made writing
quadratic in the tempo changes (20,000 of them took minutes). :meth:`TickTable.add` takes
each tempo in time logarithmic in the ticks.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from melodyrnn.sequence import Tempo

__all__ = ["TempoMap", "TickTable"]


class TickTable:
    """pretty_midi's tick -> seconds table of ticks 0 .. ``top``, without storing it.

    ``_update_tick_to_time`` writes the table tempo by tempo: scale i (tick s, seconds a tick
    c) writes ``base + c * (t - s)`` for t from s to the next scale's tick (the last one up to
    the top), where ``base`` is the table's value at s when that write starts. The pieces
    here are those writes, later ones replacing earlier ones where they overlap (a tempo one
    tick below the one before it, as rounding can place it, rewrites the tail).
    """

    def __init__(self, scales: list[tuple[int, float]], top: int):
        self.scales: list[tuple[int, float]] = []
        self.top = 0
        # disjoint pieces, by their first tick: [first, last, origin tick, base, scale]
        self._pieces: list[list] = []
        self._firsts: list[int] = []
        self._arrays: tuple | None = None  # firsts, origins, bases, scales for values()
        for tick, scale in scales:
            self.add(tick, scale)
        self.top = max(self.top, top)
        self._pieces[-1][1] = self.top

    @classmethod
    def of(cls, pm) -> TickTable:
        """The table of a ``pretty_midi.PrettyMIDI`` (its scales, up to its table's last tick)."""
        return cls(list(pm._tick_scales), len(pm._PrettyMIDI__tick_to_time) - 1)

    def add(self, tick: int, scale: float) -> None:
        """A tempo of ``scale`` seconds a tick from ``tick`` on, as pretty_midi appends it to
        ``_tick_scales`` and rebuilds: the table then ends at ``max(top, tick)``."""
        if not self._pieces:  # the first scale starts from time 0 (zeros before it, if any)
            if tick > 0:
                self._write(0, tick - 1, 0, 0.0, 0.0)
            self._write(tick, max(self.top, tick), tick, 0.0, scale)
        else:
            if tick > self.top:  # the last tempo's line runs on up to the new tick
                self._pieces[-1][1] = tick
                self.top = tick
            self._write(tick, self.top, tick, self.value(tick), scale)
        self.scales.append((tick, scale))

    def _write(self, first: int, last: int, origin: int, base: float, scale: float) -> None:
        pieces = self._pieces
        # the writes go at or near the end: cut the pieces from ``first`` on
        while pieces and pieces[-1][0] >= first:
            pieces.pop()
            self._firsts.pop()
        if pieces and pieces[-1][1] >= first:
            pieces[-1][1] = first - 1
        pieces.append([first, last, origin, base, scale])
        self._firsts.append(first)
        self._arrays = None
        self.top = max(self.top, last)

    def value(self, tick: int) -> float:
        """The table's entry for ``tick`` (0 <= tick <= top)."""
        _, _, origin, base, scale = self._pieces[bisect.bisect_right(self._firsts, tick) - 1]
        return base + scale * (tick - origin)

    def values(self, ticks: np.ndarray) -> np.ndarray:
        """Entries for an int64 array of ticks, with pretty_midi's numpy arithmetic."""
        if self._arrays is None:
            self._arrays = (
                np.array(self._firsts, dtype=np.int64),
                np.array([p[2] for p in self._pieces], dtype=np.int64),
                np.array([p[3] for p in self._pieces]),
                np.array([p[4] for p in self._pieces]),
            )
        firsts, origins, bases, scales = self._arrays
        k = np.searchsorted(firsts, ticks, side="right") - 1
        return bases[k] + scales[k] * (ticks - origins[k])

    def time_to_tick(self, time: float) -> int:
        """pretty_midi's ``time_to_tick``: the nearest tick (the earlier one on a tie); past
        the table, extrapolated with the last tempo and rounded half to even."""
        if self.value(self.top) < time:  # past the table (where each next tempo usually is)
            lo, hi = self.top + 1, self.top + 1
        else:  # numpy's searchsorted, side="left"
            lo, hi = 0, self.top
        while lo < hi:
            mid = (lo + hi) // 2
            if self.value(mid) < time:
                lo = mid + 1
            else:
                hi = mid
        if lo > self.top:
            return int(round(self.top + (time - self.value(self.top)) / self.scales[-1][1]))
        if lo and math.fabs(time - self.value(lo - 1)) < math.fabs(time - self.value(lo)):
            return lo - 1
        return lo

    def times_to_ticks(self, times) -> np.ndarray:
        """:meth:`time_to_tick` of every time in ``times``, as an int64 array."""
        times = np.asarray(times, dtype=np.float64)
        lo = np.zeros(len(times), dtype=np.int64)
        hi = np.full(len(times), self.top + 1, dtype=np.int64)
        while True:
            open_ = lo < hi
            if not open_.any():
                break
            mid = (lo + hi) // 2
            below = open_ & (self.values(np.minimum(mid, self.top)) < times)
            above = open_ & ~below
            lo = np.where(below, mid + 1, lo)
            hi = np.where(above, mid, hi)
        ticks = lo
        inside = ticks <= self.top
        tick = ticks[inside]
        t = times[inside]
        earlier = np.zeros(len(tick), dtype=bool)
        before = tick > 0
        earlier[before] = np.fabs(t[before] - self.values(tick[before] - 1)) < np.fabs(
            t[before] - self.values(tick[before])
        )
        ticks[inside] = tick - earlier
        if len(tick) < len(ticks):  # past the table: extrapolated with the last tempo, rounded
            beyond = ~inside  # (half to even, as Python's round of pretty_midi's float)
            last = self.value(self.top)
            ticks[beyond] = np.rint(self.top + (times[beyond] - last) / self.scales[-1][1])
        return ticks.astype(np.int64)


class TempoMap:
    """pretty_midi's tick -> seconds conversion, float for float.

    pretty_midi keeps (tick, seconds per tick) "tick scales" from the set_tempo events of track 0
    (one at tick 0 replaces the default 120 qpm, a repeated tempo is dropped) and computes the
    time of tick t in the scale starting at s as time(s) + scale * (t - s), time(0) = 0.
    """

    def __init__(self, tempos: list[tuple[int, int]], resolution: int):
        scales = [(0, 60.0 / (120.0 * resolution))]
        for tick, mspq in tempos:
            scale = 60.0 / ((6e7 / mspq) * resolution)
            if tick == 0:
                scales = [(0, scale)]
            elif scale != scales[-1][1]:
                scales.append((tick, scale))
        bases = [0.0]
        for (start, scale), (end, _) in zip(scales, scales[1:]):
            bases.append(bases[-1] + scale * (end - start))
        self.resolution = resolution
        self.scales = scales
        self.starts = [start for start, _ in scales]
        self.bases = bases
        self.tempos = [
            Tempo(base, 60.0 / (scale * resolution)) for base, (_, scale) in zip(bases, scales)
        ]

    def seconds(self, ticks: np.ndarray) -> np.ndarray:
        """Times of int64 ``ticks``, as pretty_midi's numpy arithmetic gives them."""
        if len(self.scales) == 1:
            return self.scales[0][1] * ticks  # 0 + scale * ticks
        starts = np.array(self.starts, dtype=np.int64)
        k = np.searchsorted(starts, ticks, side="right") - 1
        per_tick = np.array([scale for _, scale in self.scales])
        return np.array(self.bases)[k] + per_tick[k] * (ticks - starts[k])

    def second(self, tick: int) -> float:
        k = bisect.bisect_right(self.starts, tick) - 1
        return self.bases[k] + self.scales[k][1] * (tick - self.starts[k])
