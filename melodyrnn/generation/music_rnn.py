"""``MusicRNN``: an event family plus a network, continuing quantized NoteSequences.

This is magenta.js's ``MusicRNN`` in Python, for every model kind. A model is composed of

* an **event family** (:mod:`melodyrnn.models.families`: melody, drums, chord-conditioned
  melody): its encoder, how a primer is read, how events become notes, how pitch constraints
  become logit masks, whether it takes chords;
* a **network** speaking :class:`~melodyrnn.models.rnn.EventRNN`'s protocol: an LSTM (ours or
  a magenta.js checkpoint) or the n-gram baseline (:class:`~melodyrnn.models.ngram_net.NGramNet`).

:meth:`MusicRNN.continue_sequence` has magenta.js's semantics: the primer is a quantized
NoteSequence read the magenta.js way (every note merged, the top note at equal onsets, a pitch
outside the model's range is an error), temperature ``None``/0 is argmax (the default, as in
:func:`~melodyrnn.generation.primer.continue_midi` and the CLI, is 1.0), a chord progression is
required exactly when the model has a chord encoder and is spread evenly over primer +
continuation, and each result is the continuation only, from step 0. Unlike magenta.js, the
result carries the primer's tempo and a real velocity (magenta-js#448: velocity 0 is silent),
and :class:`~melodyrnn.generation.options.SamplingOptions` adds a seed, variations in one batch,
top-k/top-p, Magenta's beam search and pitch constraints.

Transposing a real-world primer into the model's range and key, and merging the continuation
back into the primer's file, is :mod:`melodyrnn.generation.primer`'s job, on top of this class.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from melodyrnn.constants import DEFAULT_STEPS_PER_QUARTER
from melodyrnn.errors import ConfigError, GenerationError
from melodyrnn.generation.options import SamplingOptions
from melodyrnn.generation.sampler import GenerationResult, generate
from melodyrnn.generation.sampler import score as score_tokens
from melodyrnn.models.families import event_family
from melodyrnn.models.registry import load_network, save_network
from melodyrnn.sequence import NoteSequence

__all__ = ["MusicRNN", "load_model"]


class MusicRNN:
    """A network and its config, with the event family the config's encoder spec names."""

    def __init__(self, network, config, metadata: dict | None = None):
        self.network = network
        self.config = config
        self.metadata = dict(metadata or {})
        self.family = event_family(config.encoder)
        self.encoder = self.family.encoder
        self.network.eval()

    # -- loading and saving --------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike | None = None) -> MusicRNN:
        """The shipped default model (no argument), a shipped model by name, or a folder: our
        checkpoint, an n-gram model or a magenta.js checkpoint (``weights_manifest.json``)."""
        return cls(*load_network(name_or_path))

    def save(self, path: str | os.PathLike, force: bool = False) -> Path:
        """Write the model in its network's format (our checkpoint or an n-gram folder)."""
        return save_network(self.network, self.config, path, metadata=self.metadata, force=force)

    # -- what the model is -----------------------------------------------------------------

    @property
    def kind(self) -> str:
        """The event family: "melody", "drums" or "chord_melody"."""
        return self.family.kind

    @property
    def pitch_range(self) -> tuple[int, int]:
        """Lowest and highest pitch (inclusive) a melody model can play."""
        return self.family.pitch_range

    @property
    def num_classes(self) -> int:
        return self.encoder.num_classes

    def __repr__(self) -> str:
        return f"MusicRNN({self.config.name}, {self.kind}, {self.network!r})"

    # -- primer -> events, events -> sequence -------------------------------------------------

    def primer_events(self, sequence: NoteSequence) -> np.ndarray:
        """The primer's events, read the magenta.js way over ``total_quantized_steps``."""
        return self.family.primer_events(sequence)

    def events_to_sequence(
        self,
        events: np.ndarray,
        steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
        qpm: float = 120.0,
        velocity: int = 100,
        program: int = 0,
    ) -> NoteSequence:
        """A quantized NoteSequence of ``events`` from step 0, with times at ``qpm``."""
        return self.family.events_to_sequence(events, steps_per_quarter, qpm, velocity, program)

    # -- generation --------------------------------------------------------------------------

    def continue_events(
        self,
        primer_events: np.ndarray,
        steps: int,
        options: SamplingOptions | None = None,
        *,
        chord_progression: Sequence[str] | None = None,
        allowed_pitches: np.ndarray | None = None,
        forbid_hold_at: int | None = None,
        mask=None,
        uniforms: np.ndarray | None = None,
        return_logits: bool = False,
        return_probabilities: bool = False,
    ) -> GenerationResult:
        """Generate ``steps`` events after ``primer_events`` (int [P]); the core of every API.

        ``options`` (default :class:`SamplingOptions`): the token choice and the pitch
        constraints, in the model's own pitches. ``allowed_pitches`` (bool [128]) narrows them
        further; ``forbid_hold_at`` forbids NO_EVENT at that history length (see
        :meth:`~melodyrnn.models.families.MelodyFamily.pitch_mask`); ``mask`` is a raw class
        mask for the sampler instead of both. ``uniforms`` replays a recorded run.
        """
        options = options or SamplingOptions()
        primer_events = np.asarray(primer_events, dtype=np.int64)
        if len(primer_events) == 0:
            raise GenerationError("the primer is empty; give a primer of at least one step")
        rows = self.family.control_rows(
            self.config.name, chord_progression, len(primer_events) + int(steps)
        )
        enc = self.encoder.with_controls(rows) if rows is not None else self.encoder
        pitches = _intersect(options.allowed_pitches(), allowed_pitches)
        if mask is not None and (pitches is not None or forbid_hold_at is not None):
            raise ConfigError("give either mask or pitch constraints, not both")
        if mask is None:
            mask = self.family.pitch_mask(pitches, forbid_hold_at)

        def feeder(histories: np.ndarray, classes: np.ndarray):
            new_events = enc.class_index_to_event_batch(classes, histories)
            extended = np.concatenate([histories, new_events[:, None]], axis=1)
            return new_events, enc.inputs_last_batch(extended)

        return generate(
            self.network,
            enc.inputs(primer_events),
            primer_events,
            feeder,
            steps,
            options.without_pitch_constraints(),
            mask=mask,
            uniforms=uniforms,
            return_logits=return_logits,
            return_probabilities=return_probabilities,
        )

    def continue_sequence(
        self,
        sequence: NoteSequence,
        steps: int,
        temperature: float | None = 1.0,
        chord_progression: Sequence[str] | None = None,
        *,
        options: SamplingOptions | None = None,
        velocity: int = 100,
    ) -> list[NoteSequence]:
        """Continue a quantized primer by ``steps`` steps, magenta.js-style (module doc).

        ``temperature`` and ``chord_progression`` are magenta.js's arguments (temperature None:
        argmax); ``options`` gives everything else, the temperature included when it is given.
        Returns ``options.num_outputs`` continuations (one by default), each quantized, from step
        0, at the primer's tempo, with ``velocity`` and the program of the primer's first note.
        """
        outputs, _ = self._continue(
            sequence, steps, temperature, chord_progression, options, velocity, False
        )
        return outputs

    def continue_sequence_and_return_probabilities(
        self,
        sequence: NoteSequence,
        steps: int,
        temperature: float | None = 1.0,
        chord_progression: Sequence[str] | None = None,
        *,
        options: SamplingOptions | None = None,
        velocity: int = 100,
    ) -> tuple[list[NoteSequence], np.ndarray]:
        """As :meth:`continue_sequence`, plus the distribution each step was drawn from:
        float32 [num_outputs, steps, C]."""
        return self._continue(
            sequence, steps, temperature, chord_progression, options, velocity, True
        )

    def _continue(self, sequence, steps, temperature, chords, options, velocity, probabilities):
        if options is None:
            options = SamplingOptions(temperature=temperature)
        elif SamplingOptions(temperature=temperature).temperature not in (1.0, options.temperature):
            raise ConfigError("give the temperature either as an argument or in options, not both")
        events = self.primer_events(sequence)
        result = self.continue_events(
            events,
            steps,
            options,
            chord_progression=chords,
            return_probabilities=probabilities,
        )
        spq = sequence.quantization_info.steps_per_quarter
        program = sequence.notes[0].program if sequence.notes else 0
        outputs = [
            self.events_to_sequence(row, spq, qpm=sequence.qpm, velocity=velocity, program=program)
            for row in result.events
        ]
        return outputs, result.probabilities

    def score(
        self, sequence: NoteSequence, chord_progression: Sequence[str] | None = None
    ) -> np.ndarray:
        """Log-likelihood (nats) of every step of a quantized sequence after the first: [P-1]."""
        events = self.primer_events(sequence)
        if len(events) < 2:
            raise GenerationError("scoring needs a sequence of at least two steps")
        rows = self.family.control_rows(self.config.name, chord_progression, len(events))
        enc = self.encoder.with_controls(rows) if rows is not None else self.encoder
        inputs, labels = enc.encode(events)
        return score_tokens(self.network, inputs, labels)


def _intersect(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None or b is None:
        return b if a is None else a
    return np.asarray(a, bool) & np.asarray(b, bool)


def load_model(model: MusicRNN | str | os.PathLike | None = None) -> MusicRNN:
    """A :class:`MusicRNN` from any model argument (:func:`~melodyrnn.models.registry.load_network`
    says which); a loaded MusicRNN is returned as it is."""
    if isinstance(model, MusicRNN):
        return model
    if model is not None and not isinstance(model, str | os.PathLike):
        raise ConfigError(
            f"{{model}} must be None, a name, a folder or a MusicRNN, not {type(model).__name__}",
            parameters=("model",),
        )
    return MusicRNN.from_pretrained(model)
