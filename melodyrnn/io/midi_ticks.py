"""pretty_midi's tempo map, both ways: ticks -> seconds as its reader computes them
(:class:`TempoMap`), and seconds -> ticks as its writer builds them, tempo by tempo
(:class:`TempoTicks`).

:func:`~melodyrnn.io.midi.sequence_to_pretty_midi` places every tempo change on the tick that
pretty_midi's ``time_to_tick`` gives under the tempos before it, as note-seq does. pretty_midi
offers no public way to add a tempo, and rebuilding its whole tick -> seconds table after each
one (``_update_tick_to_time``) made writing quadratic in the tempo changes (20,000 of them took
minutes). :class:`TempoTicks` keeps the same table and grows it only by the ticks each new tempo
adds, so the writer's work is linear in the ticks and the tempos, and every value in the table
(and so every tick found in it) is the one pretty_midi computes, bit for bit: the file's bytes do
not change.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from melodyrnn.sequence import Tempo

__all__ = ["TempoMap", "TempoTicks"]


class TempoTicks:
    """pretty_midi's ``_tick_scales`` and its tick -> seconds table, built incrementally.

    Start with the initial tempo (at tick 0), then :meth:`add` each later tempo, in time order, at
    the tick :meth:`time_to_tick` gives for its time. ``scales`` is then what pretty_midi's
    ``_tick_scales`` holds after the same calls to its own methods.
    """

    def __init__(self, resolution: int, initial_qpm: float):
        self.resolution = resolution
        self.scales: list[tuple[int, float]] = [(0, 60.0 / (initial_qpm * resolution))]
        self._table = np.zeros(16)
        self._size = 1  # ticks 0 .. _size - 1 are valid: pretty_midi's array ends at the top tick

    @property
    def max_tick(self) -> int:
        return self._size - 1

    def time_to_tick(self, time: float):
        """pretty_midi's ``time_to_tick`` under the tempos so far (its types and rounding too)."""
        table = self._table[: self._size]
        tick = np.searchsorted(table, time, side="left")
        if tick == len(table):  # past the table: extrapolate with the last tempo
            tick -= 1
            tick += (time - table[tick]) / self.scales[-1][1]
            return int(round(tick))
        if tick and math.fabs(time - table[tick - 1]) < math.fabs(time - table[tick]):
            return tick - 1
        return tick

    def add(self, tick, qpm: float) -> None:
        """Append a tempo of ``qpm`` at ``tick`` and update the table as pretty_midi's
        ``_update_tick_to_time`` would rebuild it."""
        last_tick, last_scale = self.scales[-1]
        top = self.max_tick
        if tick > top:  # the last tempo's line runs on up to the new tick
            self._reserve(tick + 1)
            start = self._table[last_tick]
            ticks = np.arange(top + 1 - last_tick, tick + 1 - last_tick)
            self._table[top + 1 : tick + 1] = start + last_scale * ticks
            self._size = tick + 1
        scale = 60.0 / (self.resolution * qpm)
        self.scales.append((tick, scale))
        # pretty_midi's last segment runs from the new tick to the top of the table with the new
        # tempo (one value when the tick is the top, as it is unless rounding stepped back).
        start = self._table[tick]
        self._table[tick : self._size] = start + scale * np.arange(self._size - tick)

    def _reserve(self, size: int) -> None:
        if size > len(self._table):
            grown = np.zeros(max(size, 2 * len(self._table)))
            grown[: self._size] = self._table[: self._size]
            self._table = grown


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
