"""The encoder/decoder base: one whole event history <-> model input rows and class labels.

:class:`EncoderDecoder` holds the public face every encoder/decoder shares -- ``encode``,
``inputs``, ``labels``, ``event_to_class_index`` for training, ``inputs_last_batch`` and
``class_index_to_event_batch`` for generation -- and checks its arguments; subclasses supply
the encoding itself (:mod:`~melodyrnn.encoding.one_hot`, :mod:`~melodyrnn.encoding.lookback`,
:mod:`~melodyrnn.encoding.key_melody`; control conditioning wraps one of them in
:mod:`~melodyrnn.encoding.conditional`).

Every method is vectorised over the steps of a sequence (or over the rows of a batch of
histories for the generation-time methods); no Python loop runs per step.

Training framing (Magenta's): ``encode(events)`` gives the inputs of positions 0..n-2 and the
labels of positions 1..n-1, i.e. every input row is trained to predict the next event.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from melodyrnn.encoding.arrays import as_events, as_histories, check_classes, check_position
from melodyrnn.errors import EncodingError


class EncoderDecoder:
    """Shared face of the encoder/decoders.

    Subclasses set ``input_size``, ``num_classes``, ``default_event_label`` and implement
    ``_inputs_all`` (every position of one sequence), ``_inputs_last`` (last position of each
    history row), ``_labels_at`` (labels of chosen positions), ``_decode`` (classes chosen after
    histories -> events) and ``spec``.
    """

    input_size: int
    num_classes: int
    default_event_label: int

    # -- training ------------------------------------------------------------------------

    def encode(self, events: Any) -> tuple[np.ndarray, np.ndarray]:
        """Training pair: inputs float32 [n-1, input_size] of positions 0..n-2 and labels
        int64 [n-1] of positions 1..n-1 (an empty pair for fewer than 2 events)."""
        ev = as_events(events)
        if len(ev) < 2:
            return np.zeros((0, self.input_size), np.float32), np.zeros(0, np.int64)
        return self.inputs(ev)[:-1], self.labels(ev)[1:]

    def inputs(self, events: Any) -> np.ndarray:
        """float32 [n, input_size]: the input row of every position 0..n-1."""
        ev = as_events(events)
        if len(ev) == 0:
            return np.zeros((0, self.input_size), np.float32)
        return self._inputs_all(ev)

    def labels(self, events: Any) -> np.ndarray:
        """int64 [n]: the label of every position 0..n-1.

        Raises EncodingError for an event that has no label (e.g. a raw magenta.js drum label
        >= 512, which only exists as an all-zero input row)."""
        ev = as_events(events)
        labels = self._labels_at(ev, np.arange(len(ev)))
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            bad = np.flatnonzero((labels < 0) | (labels >= self.num_classes))[0]
            raise EncodingError(
                f"event {ev[bad]} at step {bad} has no class label in [0, {self.num_classes})"
            )
        return labels.astype(np.int64)

    def event_to_class_index(self, events: Any, position: int) -> int:
        """The label of ``events[position]`` (what the model should predict there)."""
        ev = as_events(events)
        position = check_position(ev, position)
        label = int(self._labels_at(ev, np.array([position]))[0])
        if not 0 <= label < self.num_classes:
            raise EncodingError(
                f"event {ev[position]} has no class label in [0, {self.num_classes})"
            )
        return label

    def labels_to_num_steps(self, labels: Any) -> int:
        """Number of time steps the labels cover: one per label for every encoding here."""
        return len(labels)

    # -- generation ----------------------------------------------------------------------

    def inputs_last_batch(self, histories: Any) -> np.ndarray:
        """float32 [B, input_size]: the input row of the last position of each history row."""
        hist = as_histories(histories)
        if hist.shape[1] == 0:
            raise EncodingError("inputs_last_batch needs histories with at least one step")
        return self._inputs_last(hist)

    def class_index_to_event_batch(self, classes: Any, histories: Any) -> np.ndarray:
        """int64 [B]: the events that ``classes`` [B] decode to after ``histories`` [B, L]."""
        hist = as_histories(histories)
        cl = check_classes(classes, self.num_classes).reshape(-1)
        if len(cl) != hist.shape[0]:
            raise EncodingError(f"{len(cl)} classes given for {hist.shape[0]} histories")
        return self._decode(cl, hist).astype(np.int64)

    def class_index_to_event(self, class_index: int, events: Any) -> int:
        """The event that ``class_index`` decodes to when chosen after ``events``."""
        ev = as_events(events)
        return int(self.class_index_to_event_batch(np.array([class_index]), ev[None, :])[0])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec()})"

    # -- implemented by subclasses ---------------------------------------------------------

    def _inputs_all(self, events: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _inputs_last(self, histories: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _labels_at(self, events: np.ndarray, positions: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _decode(self, classes: np.ndarray, histories: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def spec(self) -> dict:
        raise NotImplementedError
