"""Encoder/decoders: event arrays <-> model input rows and class labels.

Everything here works on 1-D integer numpy arrays of events (see notes/INTERFACES.md):
melody events are -2 NO_EVENT, -1 NOTE_OFF and 0..127 note-on pitches; drum events are drum
class bitmasks. Two layers:

* a one-hot *event encoding* maps single events to class indices and back
  (:class:`MelodyOneHotEncoding` here, the drum encodings in :mod:`melodyrnn.events.drums`);
* an *encoder/decoder* turns a whole event history into model input rows, training labels,
  and decodes a chosen class back into an event. Magenta's four melody encodings, the
  drum_kit encoding and chord conditioning are reproduced exactly, quirks included, so
  Magenta and magenta.js checkpoints see the inputs they were trained on.

Every method is vectorised over the steps of a sequence (or over the rows of a batch of
histories for the generation-time methods); no Python loop runs per step.

Training framing (Magenta's): ``encode(events)`` gives the inputs of positions 0..n-2 and the
labels of positions 1..n-1, i.e. every input row is trained to predict the next event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from melodyrnn.constants import (
    KEY_MATRIX,
    MAGENTA_STEPS_PER_BAR,
    MAX_MIDI_PITCH,
    NO_EVENT,
    NOTE_OFF,
    NOTES_PER_OCTAVE,
    NUM_SPECIAL_MELODY_EVENTS,
)
from melodyrnn.errors import ConfigError, EncodingError, PitchOutOfRangeError

DEFAULT_LOOKBACK_DISTANCES = (MAGENTA_STEPS_PER_BAR, 2 * MAGENTA_STEPS_PER_BAR)

CHORD_CONTROL_TYPES = ("pitch_chords", "triad_chords", "major_minor_chords")


# --- small array helpers ------------------------------------------------------------------


def _as_events(events: Any) -> np.ndarray:
    """``events`` as a 1-D int64 array; EncodingError if it is not a 1-D run of integers."""
    arr = np.asarray(events)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.ndim != 1:
        raise EncodingError(f"events must be a 1-D sequence of integers, got shape {arr.shape}")
    return _to_int(arr, "events")


def _as_histories(histories: Any) -> np.ndarray:
    """``histories`` as a 2-D int64 array [B, L]; EncodingError otherwise."""
    arr = np.asarray(histories)
    if arr.ndim != 2:
        raise EncodingError(f"histories must be a 2-D array [batch, steps], got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(arr.shape, dtype=np.int64)
    return _to_int(arr, "histories")


def _to_int(arr: np.ndarray, what: str) -> np.ndarray:
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        return arr.astype(np.int64)
    raise EncodingError(f"{what} must hold integer events, got dtype {arr.dtype}")


def _one_hot(classes: np.ndarray, num_classes: int) -> np.ndarray:
    """float32 one-hot rows [..., num_classes]; a class outside [0, num_classes) gives zeros.

    The all-zero row for an out-of-range class is what ``tf.oneHot`` does, and magenta.js's
    drum converter relies on it (raw drum labels >= 512).
    """
    return (classes[..., None] == np.arange(num_classes)).astype(np.float32)


def _binary_counter(values: np.ndarray, bits: int) -> np.ndarray:
    """float32 [..., bits]: bit i (least significant first) of ``values`` as +1.0 / -1.0."""
    set_bits = (values[..., None] >> np.arange(bits)) & 1
    return np.where(set_bits == 1, 1.0, -1.0).astype(np.float32)


def _check_classes(classes: Any, num_classes: int) -> np.ndarray:
    arr = np.asarray(classes)
    arr = _to_int(arr, "class indices") if arr.size else arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        bad = arr[(arr < 0) | (arr >= num_classes)].flat[0]
        raise EncodingError(f"class index {bad} is outside [0, {num_classes})")
    return arr


def _check_position(events: np.ndarray, position: int) -> int:
    if not 0 <= position < len(events):
        raise EncodingError(f"position {position} is outside the {len(events)} events given")
    return int(position)


# --- one-hot event encodings --------------------------------------------------------------


class OneHotEventEncoding(Protocol):
    """The event <-> class index mapping an encoder/decoder is built on.

    ``encode_events`` may return a class >= ``num_classes`` for an event that the model must
    see as an all-zero one-hot row (magenta.js drums); such an event has no label.
    """

    num_classes: int
    default_event: int

    def encode_event(self, event: int) -> int: ...

    def decode_event(self, index: int) -> int: ...

    def encode_events(self, events: np.ndarray) -> np.ndarray: ...

    def decode_events(self, classes: np.ndarray) -> np.ndarray: ...


def _check_note_range(min_note: Any, max_note: Any) -> tuple[int, int]:
    if not (isinstance(min_note, (int, np.integer)) and isinstance(max_note, (int, np.integer))):
        raise ConfigError(f"min_note and max_note must be integers, got {min_note!r}, {max_note!r}")
    if not 0 <= min_note < max_note <= MAX_MIDI_PITCH + 1:
        raise ConfigError(
            f"note range {min_note}..{max_note} is invalid; need 0 <= min_note < max_note <= 128"
            " (max_note is exclusive)"
        )
    return int(min_note), int(max_note)


def _check_melody_events(events: np.ndarray, min_note: int, max_note: int) -> None:
    """Raise unless every event is NO_EVENT, NOTE_OFF or a pitch in [min_note, max_note)."""
    if events.size == 0:
        return
    if events.min() < NO_EVENT:
        bad = events[events < NO_EVENT].flat[0]
        raise EncodingError(f"invalid melody event {bad}; events are -2, -1 or pitches 0..127")
    pitches = events[events >= 0]
    if pitches.size and (pitches.min() < min_note or pitches.max() >= max_note):
        bad = pitches[(pitches < min_note) | (pitches >= max_note)][0]
        raise PitchOutOfRangeError(
            f"pitch {bad} is outside the range {min_note}..{max_note - 1} of this encoding;"
            " squash or transpose the melody first"
        )


class MelodyOneHotEncoding:
    """Melody events as classes: 0 NO_EVENT, 1 NOTE_OFF, 2 + (pitch - min_note) note-on.

    ``max_note`` is exclusive (Magenta's convention): 48..84 gives 38 classes, 0..128 gives 130.
    """

    default_event = NO_EVENT

    def __init__(self, min_note: int = 48, max_note: int = 84):
        self.min_note, self.max_note = _check_note_range(min_note, max_note)
        self.num_classes = self.max_note - self.min_note + NUM_SPECIAL_MELODY_EVENTS

    def encode_events(self, events: Any) -> np.ndarray:
        ev = np.asarray(events)
        ev = _to_int(ev, "events") if ev.size else ev.astype(np.int64)
        _check_melody_events(ev, self.min_note, self.max_note)
        return np.where(
            ev < 0, ev + NUM_SPECIAL_MELODY_EVENTS, ev - self.min_note + NUM_SPECIAL_MELODY_EVENTS
        )

    def decode_events(self, classes: Any) -> np.ndarray:
        cl = _check_classes(classes, self.num_classes)
        return np.where(
            cl < NUM_SPECIAL_MELODY_EVENTS,
            cl - NUM_SPECIAL_MELODY_EVENTS,
            cl - NUM_SPECIAL_MELODY_EVENTS + self.min_note,
        )

    def encode_event(self, event: int) -> int:
        return int(self.encode_events(np.array([event]))[0])

    def decode_event(self, index: int) -> int:
        return int(self.decode_events(np.array([index]))[0])

    def __repr__(self) -> str:
        return f"MelodyOneHotEncoding({self.min_note}, {self.max_note})"


# --- encoder/decoders ---------------------------------------------------------------------


class _EncoderDecoder:
    """Shared face of the encoder/decoders (see notes/INTERFACES.md).

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
        ev = _as_events(events)
        if len(ev) < 2:
            return np.zeros((0, self.input_size), np.float32), np.zeros(0, np.int64)
        return self.inputs(ev)[:-1], self.labels(ev)[1:]

    def inputs(self, events: Any) -> np.ndarray:
        """float32 [n, input_size]: the input row of every position 0..n-1."""
        ev = _as_events(events)
        if len(ev) == 0:
            return np.zeros((0, self.input_size), np.float32)
        return self._inputs_all(ev)

    def labels(self, events: Any) -> np.ndarray:
        """int64 [n]: the label of every position 0..n-1.

        Raises EncodingError for an event that has no label (e.g. a raw magenta.js drum label
        >= 512, which only exists as an all-zero input row)."""
        ev = _as_events(events)
        labels = self._labels_at(ev, np.arange(len(ev)))
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            bad = np.flatnonzero((labels < 0) | (labels >= self.num_classes))[0]
            raise EncodingError(
                f"event {ev[bad]} at step {bad} has no class label in [0, {self.num_classes})"
            )
        return labels.astype(np.int64)

    def event_to_class_index(self, events: Any, position: int) -> int:
        """The label of ``events[position]`` (what the model should predict there)."""
        ev = _as_events(events)
        position = _check_position(ev, position)
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
        hist = _as_histories(histories)
        if hist.shape[1] == 0:
            raise EncodingError("inputs_last_batch needs histories with at least one step")
        return self._inputs_last(hist)

    def class_index_to_event_batch(self, classes: Any, histories: Any) -> np.ndarray:
        """int64 [B]: the events that ``classes`` [B] decode to after ``histories`` [B, L]."""
        hist = _as_histories(histories)
        cl = _check_classes(classes, self.num_classes).reshape(-1)
        if len(cl) != hist.shape[0]:
            raise EncodingError(f"{len(cl)} classes given for {hist.shape[0]} histories")
        return self._decode(cl, hist).astype(np.int64)

    def class_index_to_event(self, class_index: int, events: Any) -> int:
        """The event that ``class_index`` decodes to when chosen after ``events``."""
        ev = _as_events(events)
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


def _encoding_spec(encoding: Any) -> dict:
    """The spec fields that describe an event encoding (melody range or drum pitch classes)."""
    if isinstance(encoding, MelodyOneHotEncoding):
        return {"min_note": encoding.min_note, "max_note": encoding.max_note}
    pitch_classes = getattr(encoding, "pitch_classes", None)
    if isinstance(pitch_classes, str):
        return {"pitch_classes": pitch_classes}
    raise ConfigError(f"no spec describes the event encoding {encoding!r}")


class OneHotEventSequenceEncoderDecoder(_EncoderDecoder):
    """Input = one-hot of the current event, label = class of the event (basic_rnn, mono_rnn,
    and magenta.js's MelodyConverter models)."""

    def __init__(self, encoding: OneHotEventEncoding):
        self.encoding = encoding
        self.input_size = encoding.num_classes
        self.num_classes = encoding.num_classes
        self.default_event_label = int(encoding.encode_event(encoding.default_event))

    def _inputs_all(self, events):
        return _one_hot(self.encoding.encode_events(events), self.num_classes)

    def _inputs_last(self, histories):
        return _one_hot(self.encoding.encode_events(histories[:, -1]), self.num_classes)

    def _labels_at(self, events, positions):
        return self.encoding.encode_events(events[positions])

    def _decode(self, classes, histories):
        return self.encoding.decode_events(classes)

    def spec(self) -> dict:
        fields = _encoding_spec(self.encoding)
        if "min_note" not in fields:
            raise ConfigError(f"no spec describes a one-hot encoder over {self.encoding!r}")
        return {"type": "one_hot_melody", **fields}


def _check_lookbacks(lookback_distances: Any, binary_counter_bits: Any) -> tuple[tuple, int]:
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


class LookbackEventSequenceEncoderDecoder(_EncoderDecoder):
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
        self.lookback_distances, self.binary_counter_bits = _check_lookbacks(
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
        parts = [_one_hot(self.encoding.encode_events(current), c)]
        for d in self.lookback_distances:
            ahead = positions - d + 1
            events = np.where(
                ahead >= 0, histories[:, np.maximum(ahead, 0)], self.encoding.default_event
            )
            parts.append(_one_hot(self.encoding.encode_events(events), c))
        counter = _binary_counter(positions + 1, self.binary_counter_bits)
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
        fields = _encoding_spec(self.encoding)
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


class KeyMelodyEncoderDecoder(_EncoderDecoder):
    """Magenta's attention_rnn melody encoding (74 inputs, 40 labels for 48..84).

    Input row of position p, R = max_note - min_note, over the events 0..p:
      [0, R) one-hot of the sounding pitch | R a note sounds | R+1 silence |
      R+2 "attack": the latest event other than NOTE_OFF is a note-on (cleared by NO_EVENT,
      not by NOTE_OFF, as in Magenta) | R+3 +1/-1 the direction of the latest pitch change
      between consecutive note-ons, 0 before any | for each lookback d: event p == event p-d |
      binary counter of p+1 (+1/-1) | 1.0 when p+1 is a multiple of 16 (bar start, hard-coded) |
      12: the major keys that tie for the most note-ons so far |
      12: the same over the last 3 distinct pitches played.
    A sounding pitch 0 counts as silence (Magenta tests the pitch for truth); this only
    matters when min_note is 0.
    Labels put pitches first: pitch - min_note, R NO_EVENT, R+1 NOTE_OFF, R+2+i repeat of
    lookback i (last matching distance wins), and R+1+len for NO_EVENT before step
    lookback_distances[-1]. The default label is R.
    """

    def __init__(
        self,
        min_note: int = 48,
        max_note: int = 84,
        lookback_distances: Sequence[int] | None = None,
        binary_counter_bits: int = 7,
    ):
        self.min_note, self.max_note = _check_note_range(min_note, max_note)
        self.lookback_distances, self.binary_counter_bits = _check_lookbacks(
            lookback_distances, binary_counter_bits
        )
        self.note_range = self.max_note - self.min_note
        k = len(self.lookback_distances)
        self.input_size = (
            self.note_range + 4 + k + self.binary_counter_bits + 1 + 2 * NOTES_PER_OCTAVE
        )
        self.num_classes = self.note_range + NUM_SPECIAL_MELODY_EVENTS + k
        self.default_event_label = self.note_range

    def _rows(self, histories: np.ndarray, last_only: bool) -> np.ndarray:
        """float32 [B, P, input_size]: every position (P = L) or only the last one (P = 1)."""
        _check_melody_events(histories.ravel(), self.min_note, self.max_note)
        num_rows, steps = histories.shape
        t = np.broadcast_to(np.arange(steps), histories.shape)

        def latest(mask: np.ndarray) -> np.ndarray:
            """Index of the latest True at or before each step (-1 if none)."""
            return np.maximum.accumulate(np.where(mask, t, -1), axis=1)

        def pick(values: np.ndarray, index: np.ndarray, fill: int) -> np.ndarray:
            picked = np.take_along_axis(values, np.maximum(index, 0), axis=1)
            return np.where(index >= 0, picked, fill)

        is_on = histories >= 0
        sounding = pick(histories, latest(histories != NO_EVENT), NOTE_OFF)
        attack = pick(histories, latest(histories != NOTE_OFF), NO_EVENT) >= 0
        on_index = latest(is_on)
        previous_on = np.concatenate([np.full((num_rows, 1), -1), on_index[:, :-1]], axis=1)
        step_dir = np.where(
            is_on & (previous_on >= 0), np.sign(histories - pick(histories, previous_on, 0)), 0
        )
        direction = pick(step_dir, latest(step_dir != 0), 0)

        positions = np.arange(steps)
        if last_only:
            positions = positions[-1:]
            sounding, attack, direction = sounding[:, -1:], attack[:, -1:], direction[:, -1:]
        current = histories[:, positions]

        playing = sounding > 0
        pitch_rows = _one_hot(np.where(playing, sounding - self.min_note, -1), self.note_range)
        parts = [
            pitch_rows,
            playing[..., None],
            ~playing[..., None],
            attack[..., None],
            direction[..., None],
        ]
        for d in self.lookback_distances:
            back = positions - d
            parts.append(((back >= 0) & (histories[:, np.maximum(back, 0)] == current))[..., None])
        counter = _binary_counter(positions + 1, self.binary_counter_bits)
        parts.append(np.broadcast_to(counter, current.shape + counter.shape[-1:]))
        bar_start = np.broadcast_to((positions + 1) % MAGENTA_STEPS_PER_BAR == 0, current.shape)
        parts.append(bar_start[..., None])
        rows, times = np.nonzero(is_on)
        note_ons = (rows, times, histories[rows, times])
        shape = (num_rows, len(positions))
        parts.append(self._key_hot(self._pitch_class_counts(note_ons, shape, last_only)))
        parts.append(self._key_hot(self._last_three_counts(note_ons, shape, last_only)))
        return np.concatenate([p.astype(np.float32) for p in parts], axis=-1)

    @staticmethod
    def _pitch_class_counts(note_ons, shape, last_only) -> np.ndarray:
        """int [B, P, 12]: how many note-ons of each pitch class were played so far.

        ``note_ons`` = (row, step, pitch) of every note-on; P = 1 (last step) or all steps."""
        rows, times, pitches = note_ons
        if last_only:
            flat = rows * NOTES_PER_OCTAVE + pitches % NOTES_PER_OCTAVE
            counts = np.bincount(flat, minlength=shape[0] * NOTES_PER_OCTAVE)
            return counts.reshape(shape[0], 1, NOTES_PER_OCTAVE)
        hits = np.zeros(shape + (NOTES_PER_OCTAVE,), dtype=np.int64)
        hits[rows, times, pitches % NOTES_PER_OCTAVE] = 1
        return np.cumsum(hits, axis=1)

    @staticmethod
    def _last_three_counts(note_ons, shape, last_only) -> np.ndarray:
        """int [B, P, 12]: pitch classes of the (up to) 3 most recently played distinct pitches.

        Those are the 3 pitches whose latest note-on is the most recent."""
        rows, times, pitches = note_ons
        distinct, columns = np.unique(pitches, return_inverse=True)
        last_seen = np.full(shape + (len(distinct),), -1)
        if last_only:
            np.maximum.at(last_seen, (rows, 0, columns), times)
        else:
            last_seen[rows, times, columns] = times
            last_seen = np.maximum.accumulate(last_seen, axis=1)
        if len(distinct) > 3:
            third = np.partition(last_seen, len(distinct) - 3, axis=-1)[..., len(distinct) - 3]
            recent = last_seen >= np.maximum(third, 0)[..., None]
        else:
            recent = last_seen >= 0
        pitch_class_hot = distinct[:, None] % NOTES_PER_OCTAVE == np.arange(NOTES_PER_OCTAVE)
        return recent.astype(np.int64) @ pitch_class_hot.astype(np.int64)

    @staticmethod
    def _key_hot(pitch_class_counts: np.ndarray) -> np.ndarray:
        """Multi-hot [.., 12] of the major keys with the most fitting notes (all tie if none)."""
        key_counts = pitch_class_counts @ KEY_MATRIX
        return key_counts == key_counts.max(axis=-1, keepdims=True)

    def _inputs_all(self, events):
        return self._rows(events[None, :], last_only=False)[0]

    def _inputs_last(self, histories):
        return self._rows(histories, last_only=True)[:, 0]

    def _labels_at(self, events, positions):
        _check_melody_events(events, self.min_note, self.max_note)
        r = self.note_range
        current = events[positions]
        labels = np.where(current == NOTE_OFF, r + 1, current - self.min_note)
        labels = np.where(current == NO_EVENT, r, labels)
        for i, d in enumerate(self.lookback_distances):
            back = positions - d
            repeats = (back >= 0) & (events[np.maximum(back, 0)] == current)
            labels = np.where(repeats, r + 2 + i, labels)
        if self.lookback_distances:
            early = (positions < self.lookback_distances[-1]) & (current == NO_EVENT)
            labels = np.where(early, self.num_classes - 1, labels)
        return labels

    def _decode(self, classes, histories):
        r = self.note_range
        events = np.where(classes == r, NO_EVENT, classes + self.min_note)
        events = np.where(classes == r + 1, NOTE_OFF, events)
        steps = histories.shape[1]
        for i, d in enumerate(self.lookback_distances):
            back = histories[:, steps - d] if steps >= d else NO_EVENT
            events = np.where(classes == r + 2 + i, back, events)
        return events

    def spec(self) -> dict:
        return {
            "type": "key_melody",
            "min_note": self.min_note,
            "max_note": self.max_note,
            "lookback_distances": list(self.lookback_distances),
            "binary_counter_bits": self.binary_counter_bits,
        }


# --- conditioning on a control sequence (chords) ----------------------------------------


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

    def __init__(self, control_encoder: ControlEncoding, target_encoder: _EncoderDecoder):
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
        ev = _as_events(events)
        if len(ev) < 2:
            return np.zeros((0, self.input_size), np.float32), np.zeros(0, np.int64)
        rows = self.control_rows(controls)
        self._need_rows(rows, len(ev))
        target_inputs, labels = self.target_encoder.encode(ev)
        return np.concatenate([rows[1 : len(ev)], target_inputs], axis=1), labels

    def inputs(self, events: Any, controls: Any) -> np.ndarray:
        """float32 [n, input_size]: the input rows of positions 0..n-1 (controls 1..n)."""
        ev = _as_events(events)
        rows = self.control_rows(controls)
        self._need_rows(rows, len(ev) + 1)
        return np.concatenate([rows[1 : len(ev) + 1], self.target_encoder.inputs(ev)], axis=1)

    def inputs_last_batch(self, histories: Any, controls: Any) -> np.ndarray:
        """float32 [B, input_size]: input rows of position L-1 of each history, control row L."""
        hist = _as_histories(histories)
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


# --- specs ---------------------------------------------------------------------------------

_REQUIRED = object()

_SPEC_FIELDS = {
    "one_hot_melody": {"min_note": 48, "max_note": 84},
    "lookback_melody": {
        "min_note": 48,
        "max_note": 84,
        "lookback_distances": list(DEFAULT_LOOKBACK_DISTANCES),
        "binary_counter_bits": 5,
    },
    "key_melody": {
        "min_note": 48,
        "max_note": 84,
        "lookback_distances": list(DEFAULT_LOOKBACK_DISTANCES),
        "binary_counter_bits": 7,
    },
    "drums": {"binary_counter_bits": 6, "pitch_classes": "magenta", "lookback_distances": []},
    "conditional": {"control": _REQUIRED, "target": _REQUIRED},
}


def _spec_fields(spec: Any) -> tuple[str, dict]:
    if not isinstance(spec, dict):
        raise ConfigError(f"an encoder spec must be a dict, got {spec!r}")
    kind = spec.get("type")
    if kind not in _SPEC_FIELDS:
        raise ConfigError(
            f"unknown encoder type {kind!r}; known types: {', '.join(sorted(_SPEC_FIELDS))}"
        )
    defaults = _SPEC_FIELDS[kind]
    unknown = sorted(set(spec) - set(defaults) - {"type"})
    if unknown:
        raise ConfigError(f"encoder type {kind!r} has no field(s) {', '.join(unknown)}")
    fields = {key: spec.get(key, default) for key, default in defaults.items()}
    missing = [key for key, value in fields.items() if value is _REQUIRED]
    if missing:
        raise ConfigError(f"encoder type {kind!r} needs field(s) {', '.join(missing)}")
    return kind, fields


def make_encoder(spec: dict) -> Any:
    """Build an encoder/decoder from its JSON-able spec (what configs and checkpoints store).

    Types: one_hot_melody, lookback_melody, key_melody (min_note, max_note exclusive, and for
    the last two optional lookback_distances and binary_counter_bits), drums
    (binary_counter_bits, pitch_classes "magenta" | "magenta_js") and conditional
    ({"control": {"type": "pitch_chords" | "triad_chords" | "major_minor_chords"}, "target":
    <spec>}; pitch_chords may add "slash_bass": false for magenta.js). Raises ConfigError for
    anything else.
    """
    kind, f = _spec_fields(spec)
    if kind == "one_hot_melody":
        return OneHotEventSequenceEncoderDecoder(MelodyOneHotEncoding(f["min_note"], f["max_note"]))
    if kind == "lookback_melody":
        return LookbackEventSequenceEncoderDecoder(
            MelodyOneHotEncoding(f["min_note"], f["max_note"]),
            f["lookback_distances"],
            f["binary_counter_bits"],
        )
    if kind == "key_melody":
        return KeyMelodyEncoderDecoder(
            f["min_note"], f["max_note"], f["lookback_distances"], f["binary_counter_bits"]
        )
    if kind == "drums":
        if f["pitch_classes"] not in ("magenta", "magenta_js"):
            raise ConfigError(
                f"unknown drum pitch_classes {f['pitch_classes']!r}; use 'magenta' or 'magenta_js'"
            )
        from melodyrnn.events.drums import MultiDrumOneHotEncoding

        return LookbackEventSequenceEncoderDecoder(
            MultiDrumOneHotEncoding(pitch_classes=f["pitch_classes"]),
            f["lookback_distances"],
            f["binary_counter_bits"],
        )
    # conditional
    control_kind, control_options = _control_spec(f["control"])
    target = make_encoder(f["target"])
    if isinstance(target, ConditionalEventSequenceEncoderDecoder):
        raise ConfigError("the target of a conditional encoder cannot itself be conditional")
    from melodyrnn.events.chords import make_chord_encoding

    control = make_chord_encoding(control_kind, **control_options)
    return ConditionalEventSequenceEncoderDecoder(control, target)


def _control_spec(spec: Any) -> tuple[str, dict]:
    """(chord encoding name, its options) of a control spec.

    ``pitch_chords`` takes ``slash_bass`` (default true, note-seq; false is magenta.js, whose
    PitchChordEncoder always uses the root as bass)."""
    if not isinstance(spec, dict) or spec.get("type") not in CHORD_CONTROL_TYPES:
        raise ConfigError(
            f"unknown control spec {spec!r}; its type must be one of"
            f" {', '.join(CHORD_CONTROL_TYPES)}"
        )
    allowed = {"type", "slash_bass"} if spec["type"] == "pitch_chords" else {"type"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ConfigError(f"control type {spec['type']!r} has no field(s) {', '.join(unknown)}")
    options = {key: value for key, value in spec.items() if key != "type"}
    if not isinstance(options.get("slash_bass", True), bool):
        raise ConfigError(f"slash_bass must be true or false, got {options['slash_bass']!r}")
    return spec["type"], options


def encoder_spec(encoder: Any) -> dict:
    """The JSON-able spec that :func:`make_encoder` turns back into an equal encoder."""
    spec = getattr(encoder, "spec", None)
    if not callable(spec):
        raise ConfigError(f"{encoder!r} is not a melodyrnn encoder")
    return spec()
