"""Real-file drum primers: a file's drum track continued by a drum model (drum_kit_rnn).

The drum counterpart of :mod:`melodyrnn.generation.primer`, with the same section, placement
and primer-length rules (:mod:`melodyrnn.generation.sections`):

1. **Track.** The drum track (channel 10) with the most notes, or the one named or numbered
   (:func:`~melodyrnn.generation.tracks.choose_drum_track`).
2. **Reading.** Its notes in the section, quantized to 16th steps, are read by the model's
   event family (:class:`~melodyrnn.models.families.DrumFamily`): the Magenta way (one class
   bitmask per step) for Magenta/our checkpoints, the magenta.js way (every note sums
   ``2**class``) for magenta.js ones, as the checkpoint's encoder spec says.
3. **Output.** The family decodes the continuation (the first pitch of each class struck),
   one 16th-step hit per class, placed after the file as a melody continuation is, on the drum
   track's instrument (channel 10), at the track's median velocity; every other track is kept.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from melodyrnn.constants import DEFAULT_STEPS_PER_QUARTER
from melodyrnn.errors import PrimerError
from melodyrnn.generation.options import SamplingOptions
from melodyrnn.generation.sections import (
    PrimerTiming,
    check_primer_length,
    file_end_time,
    grid_step,
    latest,
    placement,
    primer_steps,
    read_track_section,
)
from melodyrnn.generation.shaping import ending_steps
from melodyrnn.generation.tracks import TrackChoice, choose_drum_track
from melodyrnn.sequence import (
    Note,
    NoteSequence,
    TempoMap,
    TimeSignature,
)

__all__ = ["DrumPrimer", "prepare_drum_primer"]


@dataclass
class DrumPrimer(PrimerTiming):
    """A file's drum track, read for a drum model (see the module docstring)."""

    source: NoteSequence  # the whole file, unquantized, as read
    instrument: int  # the drum track
    program: int
    velocity: int  # median velocity of the track's notes
    section_start: float
    tempo_map: TempoMap
    steps_per_bar: int
    track_notes: NoteSequence  # the track's notes from the context start, quantized, from step 0
    context_start: int  # the section step where the model's context starts
    end_step: int  # the section step where the continuation starts
    track: TrackChoice | None = None
    track_end_step: int = 0
    primer_bars: int = 0
    family: object = None  # the drum family of the model that continued it (decodes events)

    kind = "drums"

    @property
    def skipped_bars(self) -> int:
        context_end = self.context_start + self.track_notes.total_quantized_steps
        return (self.end_step - context_end) // self.steps_per_bar

    def continue_rows(
        self,
        model,
        steps: int,
        options: SamplingOptions | None = None,
        *,
        chord_progression=None,
        key_finding: str = "profile",
        ending: str = "free",
    ) -> list[np.ndarray]:
        """Drum events after the track, one array per output (``key_finding`` does not apply;
        ``ending`` "bar" rounds the length up to a bar line, "tonic" is an error)."""
        options = options or SamplingOptions()
        if ending == "tonic":
            raise PrimerError("a drum track has no tonic; give {ending} bar or free",
                              parameters=("ending",))  # fmt: skip
        if options.allowed_pitches() is not None:
            raise PrimerError(
                "a drum model plays drums, not pitches; leave out {key}, {scale} and {range}",
                parameters=("key", "scale", "range"),
            )
        if model.family.kind != self.kind:
            raise PrimerError(
                f"this primer is a drum track; a {model.family.kind} model cannot continue it: "
                "give a drum model as {model}",
                parameters=("model",),
            )
        steps = ending_steps(self.end_step, int(steps), self.steps_per_bar, ending)
        self.family = model.family
        events = model.primer_events(self.track_notes)
        result = model.continue_events(events, steps, options, chord_progression=chord_progression)
        return [np.asarray(row, dtype=np.int64) for row in result.events]

    def notes_of(self, events: np.ndarray) -> list[Note]:
        """Drum notes of continuation events (decoded by the family of the model that made
        them), placed after the primer in the source file's time, one 16th step long."""
        if self.family is None:
            raise PrimerError("decode drum events after continue_rows, which knows the model")
        decoded = self.family.events_to_sequence(
            events, DEFAULT_STEPS_PER_QUARTER, 60.0, self.velocity, self.program
        )
        notes = []
        for n in decoded.notes:
            step = self.end_step + n.quantized_start_step
            notes.append(
                Note(
                    pitch=n.pitch,
                    velocity=self.velocity,
                    start_time=self.step_to_seconds(step),
                    end_time=self.step_to_seconds(step + 1),
                    quantized_start_step=step,
                    quantized_end_step=step + 1,
                    instrument=self.instrument,
                    program=self.program,
                    is_drum=True,
                )
            )
        return notes


def _steps_per_bar(meter: TimeSignature | None) -> int:
    if meter is None:
        return 4 * DEFAULT_STEPS_PER_QUARTER
    return max(1, round(meter.numerator * 4 * DEFAULT_STEPS_PER_QUARTER / meter.denominator))


def prepare_drum_primer(
    source: NoteSequence,
    track: str | int = "auto",
    primer_bars: int | None = None,
    at: str = "file-end",
) -> DrumPrimer:
    """Read a file's drum track for a drum model (module docstring)."""
    choice = choose_drum_track(source, track)
    where, notes, _, start, section, tempo_map, quantized = read_track_section(
        source, at, lambda n: n.instrument == choice.instrument and n.is_drum
    )
    meter = latest(section.time_signatures, 0.0)
    steps_per_bar = _steps_per_bar(meter)
    track_end = max(
        max(n.quantized_start_step for n in quantized.notes) + 1,
        grid_step(tempo_map, max(n.end_time for n in notes) - start),
    )
    first = min(n.quantized_start_step for n in quantized.notes) // steps_per_bar * steps_per_bar
    keep = primer_steps(primer_bars, steps_per_bar)
    context_start = max(
        first, (track_end - keep + steps_per_bar - 1) // steps_per_bar * steps_per_bar
    )
    check_primer_length(track_end - context_start, steps_per_bar, where)
    file_end = grid_step(tempo_map, file_end_time(source) - start)
    end_step, context_end = placement(track_end, file_end, steps_per_bar, at)
    kept = NoteSequence(
        notes=[],
        tempos=quantized.tempos,
        quantization_info=quantized.quantization_info,
        total_quantized_steps=context_end - context_start,
    )
    for n in quantized.notes:
        if context_start <= n.quantized_start_step < context_end:
            note = dataclasses.replace(n)
            note.quantized_start_step -= context_start
            note.quantized_end_step = max(
                note.quantized_end_step - context_start, note.quantized_start_step + 1
            )
            kept.notes.append(note)
    return DrumPrimer(
        source=source,
        instrument=choice.instrument,
        program=choice.program,
        velocity=int(np.median([n.velocity for n in notes])),
        section_start=start,
        tempo_map=tempo_map,
        steps_per_bar=steps_per_bar,
        track_notes=kept,
        context_start=context_start,
        end_step=end_step,
        track=choice,
        track_end_step=track_end,
        primer_bars=math.ceil((track_end - context_start) / steps_per_bar),
    )
