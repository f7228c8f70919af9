"""``MusicRNN``: a trained event RNN with its encoder, continuing quantized NoteSequences.

This is magenta.js's ``MusicRNN`` in Python, for every model kind (melody, drums, chord-
conditioned melody; magenta.js checkpoints and our own):

* :meth:`MusicRNN.continue_sequence` has magenta.js's semantics: the primer is a quantized
  NoteSequence read the magenta.js way (every note merged, the top note at equal onsets, a pitch
  outside the model's range is an error), temperature ``None``/0 is argmax, a chord progression
  is required exactly when the model has a chord encoder and is spread evenly over primer +
  continuation, and the result is the continuation only, from step 0. Unlike magenta.js, the
  result carries the primer's tempo and a real velocity (magenta-js#448: velocity 0 is silent).
* Beyond magenta.js: ``seed``, ``num_outputs`` (variations in one batch), ``top_k``/``top_p``,
  Magenta's beam search, and constraints (pitch range, key and scale) as logit masks.

Transposing a real-world primer into the model's range and key, and merging the continuation
back into the primer's file, is :mod:`melodyrnn.generation.primer`'s job, on top of this class.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from melodyrnn.constants import MELODY_NO_EVENT
from melodyrnn.encoding.encoders import ConditionalEventSequenceEncoderDecoder, make_encoder
from melodyrnn.errors import CheckpointError, GenerationError, QuantizationStatusError
from melodyrnn.generation.sampler import GenerationResult, generate
from melodyrnn.generation.sampler import score as score_tokens
from melodyrnn.models.checkpoint import load_checkpoint, save_checkpoint
from melodyrnn.models.configs import ModelConfig
from melodyrnn.models.rnn import EventRNN
from melodyrnn.sequence import Note, NoteSequence, QuantizationInfo, Tempo

PRETRAINED_DIR = Path(__file__).parents[1] / "pretrained"
DEFAULT_MODEL = "folk_rnn"


def pretrained_models() -> list[str]:
    """Names of the models shipped inside the package."""
    if not PRETRAINED_DIR.is_dir():
        return []
    return sorted(p.name for p in PRETRAINED_DIR.iterdir() if (p / "config.json").is_file())


def resolve_model_path(name_or_path: str | os.PathLike | None) -> Path:
    """A shipped model's name, our checkpoint folder, or a magenta.js checkpoint folder."""
    if name_or_path is None:
        name_or_path = DEFAULT_MODEL
    path = Path(name_or_path)
    if path.is_dir():
        return path
    if str(name_or_path) in pretrained_models():
        return PRETRAINED_DIR / str(name_or_path)
    if path.exists():
        raise CheckpointError(f"{path}: not a checkpoint folder (it is a file)")
    known = ", ".join(pretrained_models()) or "none"
    raise CheckpointError(
        f"unknown model {str(name_or_path)!r}: not a shipped model ({known}) and no such folder"
    )


class MusicRNN:
    """An :class:`EventRNN` plus its config and encoder."""

    def __init__(self, model: EventRNN, config: ModelConfig, metadata: dict | None = None):
        self.model = model
        self.config = config
        self.metadata = dict(metadata or {})
        self.encoder = make_encoder(config.encoder)
        self.model.eval()

    # -- loading and saving --------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike | None = None) -> MusicRNN:
        """The shipped default model (no argument), a shipped model by name, a checkpoint
        folder in our format, or a magenta.js checkpoint folder (``weights_manifest.json``)."""
        path = resolve_model_path(name_or_path)
        if (path / "weights_manifest.json").is_file():
            return cls.from_magenta_js(path)
        model, config, metadata = load_checkpoint(path)
        return cls(model, config, metadata)

    @classmethod
    def from_magenta_js(cls, folder: str | os.PathLike) -> MusicRNN:
        """Load a magenta.js MusicRNN checkpoint folder directly."""
        from melodyrnn.models.magenta_js import load_magenta_js_checkpoint, magenta_js_to_config

        model, spec = load_magenta_js_checkpoint(folder)
        config = magenta_js_to_config(spec, model)
        return cls(model, config, {"converted_from": "magenta.js", "source": str(folder)})

    def save(self, path: str | os.PathLike, force: bool = False) -> Path:
        """Write our checkpoint format (config.json + model.safetensors), atomically."""
        return save_checkpoint(self.model, self.config, path, metadata=self.metadata, force=force)

    # -- what the model is -----------------------------------------------------------------

    @property
    def has_chords(self) -> bool:
        return isinstance(self.encoder, ConditionalEventSequenceEncoderDecoder)

    @property
    def target_encoder(self):
        return self.encoder.target_encoder if self.has_chords else self.encoder

    @property
    def is_drums(self) -> bool:
        return self.target_spec["type"] == "drums"

    @property
    def target_spec(self) -> dict:
        spec = self.config.encoder
        return spec["target"] if spec["type"] == "conditional" else spec

    @property
    def pitch_range(self) -> tuple[int, int]:
        """Lowest and highest pitch (inclusive) a melody model can play."""
        if self.is_drums:
            raise GenerationError("a drum model has no melodic pitch range")
        return self.target_spec["min_note"], self.target_spec["max_note"] - 1

    def __repr__(self) -> str:
        return (
            f"MusicRNN({self.config.name}, layers={self.config.layer_sizes}, "
            f"classes={self.config.num_classes})"
        )

    # -- primer -> events, events -> sequence -------------------------------------------------

    def primer_events(self, sequence: NoteSequence) -> np.ndarray:
        """The primer's events, read the magenta.js way over ``total_quantized_steps``."""
        if not sequence.is_relative_quantized:
            raise QuantizationStatusError(
                "the primer must be quantized relative to tempo; call "
                "quantize_note_sequence(sequence, 4) first"
            )
        if self.is_drums:
            encoding = self.target_encoder.encoding
            if encoding.pitch_classes == "magenta_js":
                from melodyrnn.events.magenta_js import drums_from_sequence_magenta_js

                return drums_from_sequence_magenta_js(sequence)
            events = np.zeros(sequence.total_quantized_steps, dtype=np.int64)
            for step in range(len(events)):
                pitches = [n.pitch for n in sequence.notes if n.quantized_start_step == step]
                events[step] = encoding.pitches_to_event(pitches)
            return events
        from melodyrnn.events.magenta_js import melody_from_sequence_magenta_js

        low, high = self.pitch_range
        return melody_from_sequence_magenta_js(sequence, low, high)

    def events_to_sequence(
        self,
        events: np.ndarray,
        steps_per_quarter: int = 4,
        qpm: float = 120.0,
        velocity: int = 100,
        program: int = 0,
    ) -> NoteSequence:
        """A quantized NoteSequence of ``events`` from step 0, with times at ``qpm``."""
        if self.is_drums:
            seconds = 60.0 / qpm / steps_per_quarter
            encoding = self.target_encoder.encoding
            ns = NoteSequence(
                tempos=[Tempo(0.0, float(qpm))],
                quantization_info=QuantizationInfo(steps_per_quarter=steps_per_quarter),
                total_quantized_steps=len(events),
                total_time=len(events) * seconds,
            )
            for step, event in enumerate(events):
                for pitch in sorted(encoding.event_to_pitches(int(event))):
                    ns.notes.append(
                        Note(
                            pitch,
                            velocity,
                            step * seconds,
                            (step + 1) * seconds,
                            step,
                            step + 1,
                            instrument=9,
                            is_drum=True,
                        )
                    )
            return ns
        from melodyrnn.events.magenta_js import melody_to_sequence_magenta_js

        ns = melody_to_sequence_magenta_js(events, steps_per_quarter, qpm=qpm, velocity=velocity)
        for note in ns.notes:
            note.program = program
        return ns

    # -- generation --------------------------------------------------------------------------

    def _control_rows(self, chord_progression, total_steps: int) -> np.ndarray | None:
        if not self.has_chords:
            if chord_progression:
                raise GenerationError(
                    f"model {self.config.name} has no chord input; leave out the chord progression"
                )
            return None
        if not chord_progression:
            raise GenerationError(
                f"model {self.config.name} is conditioned on chords; give a chord progression"
            )
        from melodyrnn.events.chords import chords_per_step_magenta_js

        chords = [chord_progression] if isinstance(chord_progression, str) else chord_progression
        rows = self.encoder.control_rows(chords_per_step_magenta_js(list(chords), total_steps))
        # One more row for the input after the last token, which is built but never fed.
        return np.concatenate([rows, rows[-1:]])

    def class_events(self, histories: np.ndarray) -> np.ndarray:
        """The event every class would decode to after each history: int [B, C]."""
        enc = self.target_encoder
        rows = len(histories)
        out = np.empty((rows, self.config.num_classes), dtype=np.int64)
        for c in range(self.config.num_classes):
            out[:, c] = enc.class_index_to_event_batch(np.full(rows, c), histories)
        return out

    def make_mask(
        self,
        allowed_pitches: np.ndarray | None = None,
        forbid_hold_at: int | None = None,
    ):
        """A mask callable for :func:`generate` (None when nothing is constrained).

        ``allowed_pitches``: bool [128], the melody pitches that may be played.
        ``forbid_hold_at``: a history length at which the next event may not be NO_EVENT (so a
        continuation cannot silently extend the primer's last note).
        """
        if allowed_pitches is None and forbid_hold_at is None:
            return None
        allowed_pitches = None if allowed_pitches is None else np.asarray(allowed_pitches, bool)

        def mask(histories: np.ndarray) -> np.ndarray:
            events = self.class_events(histories)
            ok = np.ones(events.shape, dtype=bool)
            if allowed_pitches is not None:
                pitched = events >= 0
                ok[pitched] = allowed_pitches[events[pitched]]
            if forbid_hold_at is not None and histories.shape[1] == forbid_hold_at:
                ok &= events != MELODY_NO_EVENT
            return ok

        return mask

    def continue_events(
        self,
        primer_events: np.ndarray,
        steps: int,
        *,
        temperature: float | None = None,
        chord_progression: Sequence[str] | None = None,
        seed: int | np.random.Generator | None = None,
        num_outputs: int = 1,
        top_k: int | None = None,
        top_p: float | None = None,
        beam_size: int = 1,
        branch_factor: int = 1,
        steps_per_iteration: int = 1,
        mask=None,
        return_probabilities: bool = False,
        return_logits: bool = False,
        uniforms: np.ndarray | None = None,
    ) -> GenerationResult:
        """Generate ``steps`` events after ``primer_events`` (int [P]); the core of every API."""
        primer_events = np.asarray(primer_events, dtype=np.int64)
        if len(primer_events) == 0:
            raise GenerationError("the primer is empty; give a primer of at least one step")
        rows = self._control_rows(chord_progression, len(primer_events) + int(steps))
        enc = self.encoder.with_controls(rows) if rows is not None else self.encoder

        def feeder(histories: np.ndarray, classes: np.ndarray):
            new_events = enc.class_index_to_event_batch(classes, histories)
            extended = np.concatenate([histories, new_events[:, None]], axis=1)
            return new_events, enc.inputs_last_batch(extended)

        return generate(
            self.model,
            enc.inputs(primer_events),
            primer_events,
            feeder,
            steps,
            num_outputs=num_outputs,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            mask=mask,
            beam_size=beam_size,
            branch_factor=branch_factor,
            steps_per_iteration=steps_per_iteration,
            seed=seed,
            uniforms=uniforms,
            return_logits=return_logits,
            return_probabilities=return_probabilities,
        )

    def continue_sequence(
        self,
        sequence: NoteSequence,
        steps: int,
        temperature: float | None = None,
        chord_progression: Sequence[str] | None = None,
        *,
        seed: int | np.random.Generator | None = None,
        num_outputs: int | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        beam_size: int = 1,
        branch_factor: int = 1,
        steps_per_iteration: int = 1,
        pitch_range: tuple[int, int] | None = None,
        key: str | int | None = None,
        scale: str | None = None,
        velocity: int = 100,
    ) -> NoteSequence | list[NoteSequence]:
        """Continue a quantized primer by ``steps`` steps, magenta.js-style (module doc).

        Returns the continuation only, quantized, from step 0, at the primer's tempo, with
        ``velocity`` and the program of the primer's first note; a list of ``num_outputs``
        variations when ``num_outputs`` is given. ``pitch_range`` (inclusive), ``key`` and
        ``scale`` restrict the pitches the model may choose.
        """
        outputs, _ = self._continue(
            sequence,
            steps,
            temperature,
            chord_progression,
            probabilities=False,
            seed=seed,
            num_outputs=num_outputs,
            top_k=top_k,
            top_p=top_p,
            beam_size=beam_size,
            branch_factor=branch_factor,
            steps_per_iteration=steps_per_iteration,
            pitch_range=pitch_range,
            key=key,
            scale=scale,
            velocity=velocity,
        )
        return outputs

    def continue_sequence_and_return_probabilities(
        self,
        sequence: NoteSequence,
        steps: int,
        temperature: float | None = None,
        chord_progression: Sequence[str] | None = None,
        **options,
    ) -> tuple[NoteSequence | list[NoteSequence], np.ndarray]:
        """As :meth:`continue_sequence` (same options), plus the distribution each step was
        drawn from: float32 [steps, C] (or [num_outputs, steps, C])."""
        return self._continue(
            sequence, steps, temperature, chord_progression, probabilities=True, **options
        )

    def _continue(
        self,
        sequence: NoteSequence,
        steps: int,
        temperature: float | None,
        chord_progression: Sequence[str] | None,
        *,
        probabilities: bool,
        num_outputs: int | None = None,
        pitch_range: tuple[int, int] | None = None,
        key: str | int | None = None,
        scale: str | None = None,
        velocity: int = 100,
        **generation,
    ):
        from melodyrnn.scales import allowed_pitches

        events = self.primer_events(sequence)
        result = self.continue_events(
            events,
            steps,
            temperature=temperature,
            chord_progression=chord_progression,
            num_outputs=num_outputs or 1,
            mask=self.make_mask(allowed_pitches(pitch_range, key, scale)),
            return_probabilities=probabilities,
            **generation,
        )
        spq = sequence.quantization_info.steps_per_quarter
        program = sequence.notes[0].program if sequence.notes else 0
        outputs = [
            self.events_to_sequence(row, spq, qpm=sequence.qpm, velocity=velocity, program=program)
            for row in result.events
        ]
        probs = result.probabilities
        if num_outputs is None:
            return outputs[0], (None if probs is None else probs[0])
        return outputs, probs

    def score(
        self, sequence: NoteSequence, chord_progression: Sequence[str] | None = None
    ) -> np.ndarray:
        """Log-likelihood (nats) of every step of a quantized sequence after the first: [P-1]."""
        events = self.primer_events(sequence)
        if len(events) < 2:
            raise GenerationError("scoring needs a sequence of at least two steps")
        rows = self._control_rows(chord_progression, len(events))
        enc = self.encoder.with_controls(rows) if rows is not None else self.encoder
        inputs, labels = enc.encode(events)
        return score_tokens(self.model, inputs, labels)
