"""One-hot event encodings and the plain one-hot encoder/decoder built on them.

A one-hot *event encoding* maps single events to class indices and back
(:class:`OneHotEventEncoding`); :class:`MelodyOneHotEncoding` is the melody one here, the drum
encodings live in :mod:`melodyrnn.events.drums`. :class:`OneHotEventSequenceEncoderDecoder`
feeds the model the one-hot row of the current event and labels it with the event's class,
as Magenta's basic_rnn / mono_rnn and magenta.js's MelodyConverter do. The lookback encoder in
:mod:`~melodyrnn.encoding.lookback` is built on the same event encodings.

The melody range and event checks here are shared with :mod:`~melodyrnn.encoding.key_melody`.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from melodyrnn.constants import MAX_MIDI_PITCH, NO_EVENT, NUM_SPECIAL_MELODY_EVENTS
from melodyrnn.encoding.arrays import check_classes, one_hot, to_int
from melodyrnn.encoding.base import EncoderDecoder
from melodyrnn.errors import ConfigError, EncodingError, PitchOutOfRangeError


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


def check_note_range(min_note: Any, max_note: Any) -> tuple[int, int]:
    """(min_note, max_note) as ints; ConfigError unless 0 <= min_note < max_note <= 128."""
    if not (isinstance(min_note, (int, np.integer)) and isinstance(max_note, (int, np.integer))):
        raise ConfigError(f"min_note and max_note must be integers, got {min_note!r}, {max_note!r}")
    if not 0 <= min_note < max_note <= MAX_MIDI_PITCH + 1:
        raise ConfigError(
            f"note range {min_note}..{max_note} is invalid; need 0 <= min_note < max_note <= 128"
            " (max_note is exclusive)"
        )
    return int(min_note), int(max_note)


def check_melody_events(events: np.ndarray, min_note: int, max_note: int) -> None:
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
        self.min_note, self.max_note = check_note_range(min_note, max_note)
        self.num_classes = self.max_note - self.min_note + NUM_SPECIAL_MELODY_EVENTS

    def encode_events(self, events: Any) -> np.ndarray:
        ev = np.asarray(events)
        ev = to_int(ev, "events") if ev.size else ev.astype(np.int64)
        check_melody_events(ev, self.min_note, self.max_note)
        return np.where(
            ev < 0, ev + NUM_SPECIAL_MELODY_EVENTS, ev - self.min_note + NUM_SPECIAL_MELODY_EVENTS
        )

    def decode_events(self, classes: Any) -> np.ndarray:
        cl = check_classes(classes, self.num_classes)
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


def event_encoding_spec(encoding: Any) -> dict:
    """The spec fields that describe an event encoding (melody range or drum pitch classes)."""
    if isinstance(encoding, MelodyOneHotEncoding):
        return {"min_note": encoding.min_note, "max_note": encoding.max_note}
    pitch_classes = getattr(encoding, "pitch_classes", None)
    if isinstance(pitch_classes, str):
        return {"pitch_classes": pitch_classes}
    raise ConfigError(f"no spec describes the event encoding {encoding!r}")


class OneHotEventSequenceEncoderDecoder(EncoderDecoder):
    """Input = one-hot of the current event, label = class of the event (basic_rnn, mono_rnn,
    and magenta.js's MelodyConverter models)."""

    def __init__(self, encoding: OneHotEventEncoding):
        self.encoding = encoding
        self.input_size = encoding.num_classes
        self.num_classes = encoding.num_classes
        self.default_event_label = int(encoding.encode_event(encoding.default_event))

    def _inputs_all(self, events):
        return one_hot(self.encoding.encode_events(events), self.num_classes)

    def _inputs_last(self, histories):
        return one_hot(self.encoding.encode_events(histories[:, -1]), self.num_classes)

    def _labels_at(self, events, positions):
        return self.encoding.encode_events(events[positions])

    def _decode(self, classes, histories):
        return self.encoding.decode_events(classes)

    def spec(self) -> dict:
        fields = event_encoding_spec(self.encoding)
        if "min_note" not in fields:
            raise ConfigError(f"no spec describes a one-hot encoder over {self.encoding!r}")
        return {"type": "one_hot_melody", **fields}
