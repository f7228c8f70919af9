"""Encoder/decoders conditioned on a control sequence known in advance (ImprovRNN's chords).

:class:`ConditionalEventSequenceEncoderDecoder` puts the control row of the step being
predicted in front of a target encoder's input row (Magenta's framing); labels and decoding
come from the target. :class:`ControlledEncoderDecoder` binds it to fixed control rows so it
has the plain encoder face of :class:`~melodyrnn.encoding.base.EncoderDecoder` that the
generation loop and the feeders expect. The chord control encodings themselves live in
:mod:`melodyrnn.events.chords`; :mod:`~melodyrnn.encoding.specs` builds these from a spec.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from melodyrnn.encoding.arrays import as_events, as_histories
from melodyrnn.encoding.base import EncoderDecoder
from melodyrnn.errors import ConfigError, EncodingError

CHORD_CONTROL_TYPES = ("pitch_chords", "triad_chords", "major_minor_chords")


class ControlEncoding(Protocol):
    """What :class:`ConditionalEventSequenceEncoderDecoder` needs of a control encoding."""

    input_size: int  # width of one control row (``width`` is accepted too)

    def encode_controls(self, controls: Any) -> np.ndarray: ...  # float [n, width]


def _control_width(control_encoder: Any) -> int:
    for name in ("input_size", "width"):
        width = getattr(control_encoder, name, None)
        if isinstance(width, (int, np.integer)):
            return int(width)
    raise ConfigError(f"control encoder {control_encoder!r} has no input_size/width")


class ConditionalEventSequenceEncoderDecoder:
    """Target events conditioned on a control sequence known in advance (ImprovRNN's chords).

    The input row of position i is concat(control row of step i+1, target input of position i):
    the control is the one of the step being predicted. Labels and decoding come from the
    target encoder.

    ``controls`` arguments are either control events (chord symbols, chord indices, ...), which
    the control encoder's ``encode_controls`` turns into rows, or precomputed rows as a float
    ndarray [T, width] (shared by every history) -- or [B, T, width] (one per history row) in
    ``inputs_last_batch``. Step s of the sequence uses control row s, so the inputs of
    positions 0..n-1 need T >= n + 1 rows, and ``encode`` of n events needs T >= n.
    """

    def __init__(self, control_encoder: ControlEncoding, target_encoder: EncoderDecoder):
        self.control_encoder = control_encoder
        self.target_encoder = target_encoder
        self.control_size = _control_width(control_encoder)
        self.input_size = self.control_size + target_encoder.input_size
        self.num_classes = target_encoder.num_classes
        self.default_event_label = target_encoder.default_event_label

    def control_rows(self, controls: Any) -> np.ndarray:
        """float32 [T, width] (or [B, T, width] for precomputed per-history rows)."""
        if isinstance(controls, np.ndarray) and controls.dtype.kind == "f" and controls.ndim >= 2:
            rows = controls
        else:
            rows = np.asarray(self.control_encoder.encode_controls(controls))
        if rows.ndim not in (2, 3) or rows.shape[-1] != self.control_size:
            raise EncodingError(
                f"control rows must be [steps, {self.control_size}], got shape {rows.shape}"
            )
        return rows.astype(np.float32, copy=False)

    @staticmethod
    def _need_rows(rows: np.ndarray, needed: int) -> None:
        if rows.shape[-2] < needed:
            raise EncodingError(
                f"{rows.shape[-2]} control steps given but {needed} are needed"
                " (one per step, plus the step being predicted)"
            )

    def encode(self, events: Any, controls: Any) -> tuple[np.ndarray, np.ndarray]:
        """Training pair of n events: inputs of positions 0..n-2 (controls 1..n-1), labels of
        positions 1..n-1."""
        ev = as_events(events)
        if len(ev) < 2:
            return np.zeros((0, self.input_size), np.float32), np.zeros(0, np.int64)
        rows = self.control_rows(controls)
        self._need_rows(rows, len(ev))
        target_inputs, labels = self.target_encoder.encode(ev)
        return np.concatenate([rows[1 : len(ev)], target_inputs], axis=1), labels

    def inputs(self, events: Any, controls: Any) -> np.ndarray:
        """float32 [n, input_size]: the input rows of positions 0..n-1 (controls 1..n)."""
        ev = as_events(events)
        rows = self.control_rows(controls)
        self._need_rows(rows, len(ev) + 1)
        return np.concatenate([rows[1 : len(ev) + 1], self.target_encoder.inputs(ev)], axis=1)

    def inputs_last_batch(self, histories: Any, controls: Any) -> np.ndarray:
        """float32 [B, input_size]: input rows of position L-1 of each history, control row L."""
        hist = as_histories(histories)
        rows = self.control_rows(controls)
        steps = hist.shape[1]
        self._need_rows(rows, steps + 1)
        control = rows[steps] if rows.ndim == 2 else rows[:, steps]
        target = self.target_encoder.inputs_last_batch(hist)
        control = np.broadcast_to(control, (len(target), self.control_size))
        return np.concatenate([control, target], axis=1)

    def labels(self, events: Any) -> np.ndarray:
        return self.target_encoder.labels(events)

    def event_to_class_index(self, events: Any, position: int) -> int:
        return self.target_encoder.event_to_class_index(events, position)

    def class_index_to_event_batch(self, classes: Any, histories: Any) -> np.ndarray:
        return self.target_encoder.class_index_to_event_batch(classes, histories)

    def class_index_to_event(self, class_index: int, events: Any) -> int:
        return self.target_encoder.class_index_to_event(class_index, events)

    def labels_to_num_steps(self, labels: Any) -> int:
        return self.target_encoder.labels_to_num_steps(labels)

    def with_controls(self, controls: Any) -> ControlledEncoderDecoder:
        """This encoder with its controls fixed: the plain face (no ``controls`` arguments)."""
        return ControlledEncoderDecoder(self, self.control_rows(controls))

    def spec(self) -> dict:
        name = getattr(self.control_encoder, "name", None)
        if name not in CHORD_CONTROL_TYPES:
            raise ConfigError(f"no spec describes the control encoder {self.control_encoder!r}")
        control = {"type": name}
        if getattr(self.control_encoder, "slash_bass", True) is False:
            control["slash_bass"] = False
        return {
            "type": "conditional",
            "control": control,
            "target": self.target_encoder.spec(),
        }

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}({self.control_encoder!r}, {self.target_encoder!r})"


class ControlledEncoderDecoder:
    """A conditional encoder bound to fixed control rows, so it has the plain encoder face
    (what the generation loop and the feeders expect)."""

    def __init__(self, conditional: ConditionalEventSequenceEncoderDecoder, rows: np.ndarray):
        self.conditional = conditional
        self.rows = rows
        self.input_size = conditional.input_size
        self.num_classes = conditional.num_classes
        self.default_event_label = conditional.default_event_label

    def encode(self, events: Any) -> tuple[np.ndarray, np.ndarray]:
        return self.conditional.encode(events, self.rows)

    def inputs(self, events: Any) -> np.ndarray:
        return self.conditional.inputs(events, self.rows)

    def inputs_last_batch(self, histories: Any) -> np.ndarray:
        return self.conditional.inputs_last_batch(histories, self.rows)

    def labels(self, events: Any) -> np.ndarray:
        return self.conditional.labels(events)

    def event_to_class_index(self, events: Any, position: int) -> int:
        return self.conditional.event_to_class_index(events, position)

    def class_index_to_event_batch(self, classes: Any, histories: Any) -> np.ndarray:
        return self.conditional.class_index_to_event_batch(classes, histories)

    def class_index_to_event(self, class_index: int, events: Any) -> int:
        return self.conditional.class_index_to_event(class_index, events)

    def labels_to_num_steps(self, labels: Any) -> int:
        return self.conditional.labels_to_num_steps(labels)

    def spec(self) -> dict:
        return self.conditional.spec()
