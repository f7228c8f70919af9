"""Magenta's lookback encoder/decoder (lookback_rnn, and drum_kit with no lookbacks).

Built on a one-hot event encoding (melody, :mod:`~melodyrnn.encoding.one_hot`, or drums,
:mod:`melodyrnn.events.drums`): the input row adds the events one and two bars back, a binary
step counter and "repeats the event a bar ago" flags, and extra labels say "repeat the event
that many steps back". Magenta's rules, quirks included (the last matching distance wins, the
early-NO_EVENT label), are reproduced exactly so Magenta and magenta.js checkpoints see the
inputs they were trained on. Vectorised over steps and history rows.

The lookback argument check is shared with :mod:`~melodyrnn.encoding.key_melody`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from melodyrnn.constants import MAGENTA_STEPS_PER_BAR
from melodyrnn.encoding.arrays import binary_counter, one_hot
from melodyrnn.encoding.base import EncoderDecoder
from melodyrnn.encoding.one_hot import OneHotEventEncoding, event_encoding_spec
from melodyrnn.errors import ConfigError

DEFAULT_LOOKBACK_DISTANCES = (MAGENTA_STEPS_PER_BAR, 2 * MAGENTA_STEPS_PER_BAR)


def check_lookbacks(lookback_distances: Any, binary_counter_bits: Any) -> tuple[tuple, int]:
    """(distances, bits) as ints (None means the default distances); ConfigError if invalid."""
    if lookback_distances is None:
        lookback_distances = DEFAULT_LOOKBACK_DISTANCES
    if isinstance(lookback_distances, (str, bytes)) or not isinstance(
        lookback_distances, (Sequence, np.ndarray)
    ):
        raise ConfigError(f"lookback_distances must be a list of steps, got {lookback_distances!r}")
    distances = tuple(lookback_distances)
    if not all(isinstance(d, (int, np.integer)) and d > 0 for d in distances):
        raise ConfigError(f"lookback distances must be positive integers, got {list(distances)}")
    if not isinstance(binary_counter_bits, (int, np.integer)) or not 0 <= binary_counter_bits < 31:
        raise ConfigError(
            f"binary_counter_bits must be an integer 0..30, got {binary_counter_bits}"
        )
    return tuple(int(d) for d in distances), int(binary_counter_bits)


class LookbackEventSequenceEncoderDecoder(EncoderDecoder):
    """Magenta's lookback encoding (lookback_rnn; with no lookbacks and 6 bits, drum_kit).

    Input row of position p, C = number of event classes:
      one-hot(event p) | for each distance d: one-hot(event p-d+1, the default event when
      p-d+1 < 0) | binary counter of p+1 (+1/-1, least significant bit first) |
      for each d: 1.0 if event p == event p-d.
    Labels: class of the event, or C+i when it repeats the event lookback_distances[i] steps
    earlier (the last matching distance wins), and C+len-1 for a default event before step
    lookback_distances[-1] (Magenta's early-NO_EVENT rule). A repeat label decodes to the
    event that many steps back, or the default event when the history is shorter.
    """

    def __init__(
        self,
        encoding: OneHotEventEncoding,
        lookback_distances: Sequence[int] | None = None,
        binary_counter_bits: int = 5,
    ):
        self.encoding = encoding
        self.lookback_distances, self.binary_counter_bits = check_lookbacks(
            lookback_distances, binary_counter_bits
        )
        c, k = encoding.num_classes, len(self.lookback_distances)
        self.input_size = c + k * c + self.binary_counter_bits + k
        self.num_classes = c + k
        self.default_event_label = int(encoding.encode_event(encoding.default_event))

    def _rows(self, histories: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """float32 [B, P, input_size]: input rows of ``positions`` in each history row."""
        c = self.encoding.num_classes
        current = histories[:, positions]
        parts = [one_hot(self.encoding.encode_events(current), c)]
        for d in self.lookback_distances:
            ahead = positions - d + 1
            events = np.where(
                ahead >= 0, histories[:, np.maximum(ahead, 0)], self.encoding.default_event
            )
            parts.append(one_hot(self.encoding.encode_events(events), c))
        counter = binary_counter(positions + 1, self.binary_counter_bits)
        parts.append(np.broadcast_to(counter, current.shape + counter.shape[-1:]))
        for d in self.lookback_distances:
            back = positions - d
            repeats = (back >= 0) & (histories[:, np.maximum(back, 0)] == current)
            parts.append(repeats[..., None].astype(np.float32))
        return np.concatenate(parts, axis=-1)

    def _inputs_all(self, events):
        return self._rows(events[None, :], np.arange(len(events)))[0]

    def _inputs_last(self, histories):
        return self._rows(histories, np.array([histories.shape[1] - 1]))[:, 0]

    def _labels_at(self, events, positions):
        c = self.encoding.num_classes
        current = events[positions]
        labels = self.encoding.encode_events(current).astype(np.int64)
        for i, d in enumerate(self.lookback_distances):
            back = positions - d
            repeats = (back >= 0) & (events[np.maximum(back, 0)] == current)
            labels = np.where(repeats, c + i, labels)
        if self.lookback_distances:
            early = (positions < self.lookback_distances[-1]) & (
                current == self.encoding.default_event
            )
            labels = np.where(early, self.num_classes - 1, labels)
        return labels

    def _decode(self, classes, histories):
        c = self.encoding.num_classes
        repeat = classes >= c
        events = self.encoding.decode_events(np.where(repeat, 0, classes)).astype(np.int64)
        steps = histories.shape[1]
        for i, d in enumerate(self.lookback_distances):
            back = histories[:, steps - d] if steps >= d else self.encoding.default_event
            events = np.where(classes == c + i, back, events)
        return events

    def spec(self) -> dict:
        fields = event_encoding_spec(self.encoding)
        if "pitch_classes" in fields:
            spec = {"type": "drums", "binary_counter_bits": self.binary_counter_bits, **fields}
            if self.lookback_distances:
                spec["lookback_distances"] = list(self.lookback_distances)
            return spec
        return {
            "type": "lookback_melody",
            **fields,
            "lookback_distances": list(self.lookback_distances),
            "binary_counter_bits": self.binary_counter_bits,
        }
