"""Small vectorised numpy helpers shared by the encoder/decoders of :mod:`melodyrnn.encoding`.

Events travel as 1-D int64 arrays (melody events are -2 NO_EVENT, -1 NOTE_OFF and 0..127
note-on pitches; drum events are drum class bitmasks), generation-time histories as 2-D int64
arrays [batch, steps]. These helpers check and coerce those arrays (raising
:class:`~melodyrnn.errors.EncodingError`), and build the one-hot and binary-counter rows the
encoders concatenate into model inputs. None of them loops per step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from melodyrnn.errors import EncodingError


def as_events(events: Any) -> np.ndarray:
    """``events`` as a 1-D int64 array; EncodingError if it is not a 1-D run of integers."""
    arr = np.asarray(events)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.ndim != 1:
        raise EncodingError(f"events must be a 1-D sequence of integers, got shape {arr.shape}")
    return to_int(arr, "events")


def as_histories(histories: Any) -> np.ndarray:
    """``histories`` as a 2-D int64 array [B, L]; EncodingError otherwise."""
    arr = np.asarray(histories)
    if arr.ndim != 2:
        raise EncodingError(f"histories must be a 2-D array [batch, steps], got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(arr.shape, dtype=np.int64)
    return to_int(arr, "histories")


def to_int(arr: np.ndarray, what: str) -> np.ndarray:
    """``arr`` as int64 (integer-valued floats too); EncodingError naming ``what`` otherwise."""
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        return arr.astype(np.int64)
    raise EncodingError(f"{what} must hold integer events, got dtype {arr.dtype}")


def one_hot(classes: np.ndarray, num_classes: int) -> np.ndarray:
    """float32 one-hot rows [..., num_classes]; a class outside [0, num_classes) gives zeros.

    The all-zero row for an out-of-range class is what ``tf.oneHot`` does, and magenta.js's
    drum converter relies on it (raw drum labels >= 512).
    """
    return (classes[..., None] == np.arange(num_classes)).astype(np.float32)


def binary_counter(values: np.ndarray, bits: int) -> np.ndarray:
    """float32 [..., bits]: bit i (least significant first) of ``values`` as +1.0 / -1.0."""
    set_bits = (values[..., None] >> np.arange(bits)) & 1
    return np.where(set_bits == 1, 1.0, -1.0).astype(np.float32)


def check_classes(classes: Any, num_classes: int) -> np.ndarray:
    """``classes`` as int64; EncodingError unless every class is in [0, num_classes)."""
    arr = np.asarray(classes)
    arr = to_int(arr, "class indices") if arr.size else arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        bad = arr[(arr < 0) | (arr >= num_classes)].flat[0]
        raise EncodingError(f"class index {bad} is outside [0, {num_classes})")
    return arr


def check_position(events: np.ndarray, position: int) -> int:
    """``position`` as an int; EncodingError unless it indexes one of ``events``."""
    if not 0 <= position < len(events):
        raise EncodingError(f"position {position} is outside the {len(events)} events given")
    return int(position)
