"""Event families: what a model's events mean, apart from the network that predicts them.

A model is an event family plus a network (:class:`~melodyrnn.generation.music_rnn.MusicRNN`
holds both). The family owns everything musical about the tokens:

* its encoder/decoder (:func:`~melodyrnn.encoding.specs.make_encoder` of the config's spec);
* reading a quantized primer into events, the magenta.js way;
* decoding generated events into a NoteSequence;
* which events every class decodes to after a history, so pitch constraints become logit masks;
* the control rows of a conditioning input (chords), for the families that have one.

Three families cover Magenta's and magenta.js's models: :class:`MelodyFamily` (basic, mono,
lookback and attention RNNs), :class:`DrumFamily` (drum_kit_rnn) and :class:`ChordMelodyFamily`
(improv_rnn: a melody family conditioned on chords). :func:`event_family` picks one from an
encoder spec. Nothing here imports torch, so a family can be used without a network.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from melodyrnn.constants import DRUM_CHANNEL, MELODY_NO_EVENT
from melodyrnn.encoding.specs import make_encoder
from melodyrnn.errors import GenerationError, QuantizationStatusError
from melodyrnn.events.chords import chords_per_step_magenta_js
from melodyrnn.events.magenta_js import (
    drums_from_sequence_magenta_js,
    drums_to_sequence_magenta_js,
    melody_from_sequence_magenta_js,
    melody_to_sequence_magenta_js,
)
from melodyrnn.sequence import NoteSequence

__all__ = ["ChordMelodyFamily", "DrumFamily", "MelodyFamily", "class_events", "event_family"]

Mask = Callable[[np.ndarray], np.ndarray]


def _require_quantized(sequence: NoteSequence) -> None:
    if not sequence.is_relative_quantized:
        raise QuantizationStatusError(
            "the primer must be quantized relative to tempo; call "
            "quantize_note_sequence(sequence, 4) first"
        )


def class_events(encoder, histories: np.ndarray) -> np.ndarray:
    """The event every class of ``encoder`` would decode to after each history: int [B, C]."""
    rows = len(histories)
    out = np.empty((rows, encoder.num_classes), dtype=np.int64)
    for c in range(encoder.num_classes):
        out[:, c] = encoder.class_index_to_event_batch(np.full(rows, c), histories)
    return out


class _NoControls:
    """The conditioning of a family without one: a chord progression is an error."""

    @staticmethod
    def control_rows(name: str, chord_progression, total_steps: int) -> None:
        if chord_progression:
            raise GenerationError(
                f"model {name} has no chord input; leave out the chord progression"
            )
        return None


class MelodyFamily:
    """Monophonic melodies: events -2 (no event), -1 (note off), pitches ``min..max_note - 1``."""

    kind = "melody"

    def __init__(self, encoder, spec: dict):
        self.encoder = encoder
        self.spec = spec

    @property
    def pitch_range(self) -> tuple[int, int]:
        """Lowest and highest pitch (inclusive) the model can play."""
        return self.spec["min_note"], self.spec["max_note"] - 1

    def primer_events(self, sequence: NoteSequence) -> np.ndarray:
        """The primer's melody over ``total_quantized_steps``, read the magenta.js way."""
        _require_quantized(sequence)
        low, high = self.pitch_range
        return melody_from_sequence_magenta_js(sequence, low, high)

    def events_to_sequence(
        self, events, steps_per_quarter: int, qpm: float, velocity: int, program: int
    ) -> NoteSequence:
        ns = melody_to_sequence_magenta_js(events, steps_per_quarter, qpm=qpm, velocity=velocity)
        for note in ns.notes:
            note.program = program
        return ns

    def pitch_mask(
        self, allowed_pitches: np.ndarray | None, forbid_hold_at: int | None = None
    ) -> Mask | None:
        """A mask callable for the sampler (None when nothing is constrained).

        ``allowed_pitches``: bool [128], the pitches that may be played. ``forbid_hold_at``: a
        history length at which the next event may not be NO_EVENT (so a continuation cannot
        silently lengthen the primer's last note).
        """
        if allowed_pitches is None and forbid_hold_at is None:
            return None
        allowed = None if allowed_pitches is None else np.asarray(allowed_pitches, bool)
        encoder = self.encoder

        def mask(histories: np.ndarray) -> np.ndarray:
            events = class_events(encoder, histories)
            ok = np.ones(events.shape, dtype=bool)
            if allowed is not None:
                pitched = events >= 0
                ok[pitched] = allowed[events[pitched]]
            if forbid_hold_at is not None and histories.shape[1] == forbid_hold_at:
                ok &= events != MELODY_NO_EVENT
            return ok

        return mask

    control_rows = staticmethod(_NoControls.control_rows)


class DrumFamily:
    """Drum kits: one event per step, a bitmask of the drum classes struck on it."""

    kind = "drums"

    def __init__(self, encoder, spec: dict):
        self.encoder = encoder
        self.spec = spec

    @property
    def pitch_classes(self):
        return self.encoder.encoding.pitch_classes

    @property
    def pitch_range(self) -> tuple[int, int]:
        raise GenerationError("a drum model has no melodic pitch range")

    def primer_events(self, sequence: NoteSequence) -> np.ndarray:
        """The primer's drum events over ``total_quantized_steps`` (every note counts)."""
        _require_quantized(sequence)
        if self.pitch_classes == "magenta_js":
            return drums_from_sequence_magenta_js(sequence)
        encoding = self.encoder.encoding
        events = np.zeros(sequence.total_quantized_steps, dtype=np.int64)
        for step in range(len(events)):
            pitches = [n.pitch for n in sequence.notes if n.quantized_start_step == step]
            events[step] = encoding.pitches_to_event(pitches)
        return events

    def events_to_sequence(
        self, events, steps_per_quarter: int, qpm: float, velocity: int, program: int
    ) -> NoteSequence:
        ns = drums_to_sequence_magenta_js(
            events, steps_per_quarter, qpm=float(qpm), velocity=velocity,
            pitch_classes=self.pitch_classes,
        )  # fmt: skip
        for note in ns.notes:
            note.instrument = DRUM_CHANNEL
        return ns

    def pitch_mask(self, allowed_pitches, forbid_hold_at: int | None = None) -> Mask | None:
        if allowed_pitches is not None:
            raise GenerationError(
                "a drum model has no melodic pitches; leave out pitch_range, key and scale"
            )
        return None

    control_rows = staticmethod(_NoControls.control_rows)


class ChordMelodyFamily:
    """A melody conditioned on a chord progression (improv_rnn): the melody family's events,
    with the chords spread over primer and continuation the magenta.js way."""

    kind = "chord_melody"

    def __init__(self, encoder, spec: dict):
        self.encoder = encoder  # the conditional encoder: control rows + target inputs
        self.spec = spec
        self.melody = MelodyFamily(encoder.target_encoder, spec["target"])

    @property
    def pitch_range(self) -> tuple[int, int]:
        return self.melody.pitch_range

    def primer_events(self, sequence: NoteSequence) -> np.ndarray:
        return self.melody.primer_events(sequence)

    def events_to_sequence(self, events, steps_per_quarter, qpm, velocity, program):
        return self.melody.events_to_sequence(events, steps_per_quarter, qpm, velocity, program)

    def pitch_mask(self, allowed_pitches, forbid_hold_at: int | None = None) -> Mask | None:
        return self.melody.pitch_mask(allowed_pitches, forbid_hold_at)

    def control_rows(self, name: str, chord_progression, total_steps: int) -> np.ndarray:
        """Chord rows for ``total_steps`` steps plus one (the input built after the last token,
        never fed); GenerationError without a progression."""
        if not chord_progression:
            raise GenerationError(
                f"model {name} is conditioned on chords; give a chord progression"
            )
        chords = [chord_progression] if isinstance(chord_progression, str) else chord_progression
        rows = self.encoder.control_rows(chords_per_step_magenta_js(list(chords), total_steps))
        return np.concatenate([rows, rows[-1:]])


_FAMILIES = {"conditional": ChordMelodyFamily, "drums": DrumFamily}


def event_family(spec: dict, encoder=None):
    """The family of an encoder spec (a melody family unless the spec is drums or conditional)."""
    encoder = make_encoder(spec) if encoder is None else encoder
    return _FAMILIES.get(spec["type"], MelodyFamily)(encoder, spec)
