"""pretty_midi's tempo map as the MIDI writer builds it: seconds -> ticks, tempo by tempo.

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

import math

import numpy as np

__all__ = ["TempoTicks"]


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
