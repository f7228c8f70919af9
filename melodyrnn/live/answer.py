"""A call's answer: the played notes as a real-file primer, continued by the model, on the grid.

The call is handed to the generation layer as what it is, an unquantized phrase at the grid's
tempo and meter, so :func:`~melodyrnn.generation.primer.prepare_primer` and
:func:`~melodyrnn.generation.primer.continue_primer` do what they do for a MIDI file: the melody
line, the key and register of the player (the model sees them moved into its own key and range,
the answer comes back in the player's), the meter. The primer runs up to the bar line where the
answer starts (the silence before it included), so the answer's first step is that downbeat.

:class:`AnswerRequest` is plain data: :meth:`AnswerRequest.generate` can run in any thread.
"""

from __future__ import annotations

import dataclasses
import time as _time
from dataclasses import dataclass

import numpy as np

from melodyrnn.errors import LiveError
from melodyrnn.generation.options import SamplingOptions
from melodyrnn.generation.primer import continuation_notes, continue_primer, prepare_primer
from melodyrnn.live.phrase import EARLY, BeatGrid, PlayedNote
from melodyrnn.sequence import Note, NoteSequence, Tempo, TimeSignature

__all__ = ["Answer", "AnswerRequest", "check_model"]


def check_model(model) -> None:
    """Refuse a model that cannot answer a melody (drums; chords it would need)."""
    if model.kind == "drums":
        raise LiveError(
            "this model continues drum tracks; a jam answers melodies, so it needs a melody "
            "model (leave out {model} for the shipped one)",
            parameters=("model",),
        )
    if model.kind != "melody":
        raise LiveError(
            f"a jam needs a melody model; this one is a {model.kind} model that needs chords "
            "(give a melody model as {model})",
            parameters=("model",),
        )


@dataclass(frozen=True)
class Answer:
    """The answer's notes, on the caller's clock, and how long generating them took."""

    request: AnswerRequest
    notes: tuple[PlayedNote, ...]
    generate_seconds: float

    @property
    def start(self) -> float:
        return self.request.start

    @property
    def end(self) -> float:
        return self.request.end


@dataclass(frozen=True)
class AnswerRequest:
    """Everything needed to answer one call (plain data, safe to hand to a worker thread)."""

    ident: int
    notes: tuple[PlayedNote, ...]  # the call, closed (every note has an end)
    grid: BeatGrid  # a copy: the session's grid may change tempo later
    first_bar: int  # the bar of the primer's first step
    start_bar: int  # the bar the answer starts on
    bars: int  # the answer's length
    options: SamplingOptions
    primer_bars: int = 8
    ending: str = "free"
    key_finding: str = "profile"
    in_key: bool = True  # only notes of the call's key (its seven-note collection)
    reason: str = ""  # what ended the call
    ended_at: float = 0.0  # when it ended (the caller's clock)

    @property
    def start(self) -> float:
        return self.grid.bar_time(self.start_bar)

    @property
    def end(self) -> float:
        return self.grid.bar_time(self.start_bar + self.bars)

    def with_start_bar(self, bar: int) -> AnswerRequest:
        return dataclasses.replace(self, start_bar=bar)

    def primer_sequence(self) -> NoteSequence:
        """The call as an unquantized sequence from the first primer bar, at the grid's tempo."""
        origin = self.grid.bar_time(self.first_bar)
        seq = NoteSequence(ticks_per_quarter=480)
        seq.tempos = [Tempo(0.0, self.grid.qpm)]
        seq.time_signatures = [TimeSignature(0.0, self.grid.beats_per_bar, 4)]
        early = EARLY * self.grid.beat_seconds  # a note a little early is on the bar line
        for n in self.notes:
            if n.start < origin - early:
                continue
            seq.notes.append(
                Note(
                    pitch=n.pitch,
                    velocity=n.velocity,
                    start_time=max(0.0, n.start - origin),
                    end_time=max(n.end, n.start + 1e-3) - origin,
                )
            )
        if not seq.notes:
            raise LiveError("the call has no notes to answer")
        seq.total_time = self.start - origin
        return seq

    def generate(self, model) -> Answer:
        """Continue the call with ``model``; the answer's notes on the caller's clock."""
        began = _time.perf_counter()
        primer = prepare_primer(self.primer_sequence(), primer_bars=self.primer_bars)
        # Run the primer up to the answer's bar line: the answer starts on that downbeat.
        target = (self.start_bar - self.first_bar) * primer.steps_per_bar
        melody = primer.melody.copy()
        melody.set_length(max(1, target - melody.start_step))
        primer = dataclasses.replace(primer, melody=melody, end_step=melody.end_step)
        steps = self.bars * primer.steps_per_bar
        options = self.options
        if self.in_key and options.key is None and options.scale is None:
            options = options.replace(key=primer.key(self.key_finding).collection, scale="major")
        events = continue_primer(
            primer,
            model,
            steps,
            options,
            key_finding=self.key_finding,
            ending=self.ending,
        )[0]
        origin = self.grid.bar_time(self.first_bar)
        # continuation_notes gives seconds of the primer sequence (its single tempo).
        notes = tuple(
            PlayedNote(n.pitch, n.velocity, origin + n.start_time, origin + n.end_time)
            for n in continuation_notes(primer, np.asarray(events)[:steps])
        )
        return Answer(self, notes, _time.perf_counter() - began)
