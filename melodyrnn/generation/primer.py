"""Real-file primers: choose the melody, fit it to the model, merge the continuation back.

Magenta and magenta.js fail on ordinary MIDI files in ways users keep reporting (multi-track
or polyphonic primers, pitches outside 48-83, tempo changes, a forced gap after the primer,
output as piano at 120 qpm without velocity). This module does what a musician expects:

1. **Track.** The melody is one track, named, numbered or chosen
   (:func:`~melodyrnn.generation.tracks.choose_track`; never a drum-like one). Polyphony is
   reduced to the top line at equal onsets (Magenta's generation does the same). A drum model
   reads the drum track instead (:mod:`melodyrnn.generation.drum_primer`).
2. **Time.** The continuation follows the last time-signature section that holds the melody,
   ignoring degenerate ones (:mod:`melodyrnn.generation.sections`); tempo changes inside it are
   flattened onto beats (:func:`~melodyrnn.sequence.flatten_tempo`), so files with tempo drift
   work, and the continuation is placed back on the file's own tempo map (the last tempo goes
   on after the end). The model is primed with the melody's last 64 bars by default.
3. **Pitch.** The melody's key is estimated (:meth:`Primer.key`: its key signature when the
   notes agree, else a key profile) and the melody is moved so the model sees the key it was
   trained in, centred in its range (:mod:`melodyrnn.generation.shaping`); with
   ``key_finding="magenta"`` it is squashed exactly as Magenta does
   (:meth:`~melodyrnn.events.melody.Melody.squash`). The continuation is transposed back by the
   same amount and kept in the primer's register; ``ending`` may make it cadence.
4. **Start.** By default the continuation starts on the first 16th step at or after the
   file's last note of any track, the silence after the melody shortened by whole bars
   (:mod:`melodyrnn.generation.sections`); with ``at="melody-end"`` exactly where the melody
   track's last note ends (on the next 16th step if that note ends between steps). No gap is
   forced (unlike magenta#2051) and nothing overlaps the primer. When the primer's last note
   sounds up to the start, the first event is a new note or a rest, never a hold that would
   lengthen it, so the primer is kept exactly as it was.
5. **Output.** One NoteSequence per variation: the whole primer file (every track, tempo map,
   time and key signatures, controllers, programs and velocities) plus the continuation on the
   melody track's instrument and program, at the melody's median velocity. With
   ``exclude_primer`` the continuation alone, from time 0, with the tempo, meter and key in
   force where it starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from melodyrnn.constants import DEFAULT_STEPS_PER_QUARTER, MELODY_NOTE_OFF
from melodyrnn.errors import MelodyRNNError, PrimerError
from melodyrnn.events.keys import KeyEstimate, estimate_melody_key, magenta_key
from melodyrnn.events.melody import Melody
from melodyrnn.generation.drum_primer import prepare_drum_primer
from melodyrnn.generation.merge import merge_continuation
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
from melodyrnn.generation.shaping import (
    default_register,
    ending_mask,
    ending_steps,
    fit_amount,
)
from melodyrnn.generation.tracks import TrackChoice, choose_track
from melodyrnn.sequence import (
    KeySignature,
    Note,
    NoteSequence,
    TempoMap,
)

# --- the primer ----------------------------------------------------------------------------


@dataclass
class Primer(PrimerTiming):
    """A real file, read and fitted for continuation (see the module docstring)."""

    source: NoteSequence  # the whole file, unquantized, as read
    instrument: int  # the melody track
    program: int
    velocity: int  # median velocity of the melody notes
    section_start: float  # seconds where the section holding the melody starts
    tempo_map: TempoMap  # the section's tempo map (seconds from section_start <-> beats)
    steps_per_bar: int
    melody: Melody  # the melody of the section, original pitches, steps of the section
    end_step: int  # the step (of the section) where the continuation starts
    beat_steps: int = DEFAULT_STEPS_PER_QUARTER  # steps per beat (6 in 6/8, 9/8, 12/8)
    key_signature: KeySignature | None = None  # the file's, in force where the melody ends
    track: TrackChoice | None = None  # the chosen track and the ranking it won
    track_end_step: int = 0  # the step where the melody track's last note ends
    primer_bars: int = 0  # bars of melody the model is primed with

    kind = "melody"  # the event family this primer feeds

    @property
    def skipped_bars(self) -> int:
        """Whole bars of silence between the melody's end and the start, not fed to the model."""
        context_end = self.melody.start_step + len(self.melody)
        return (self.end_step - context_end) // self.steps_per_bar

    def continue_rows(self, model, steps, options, **kwargs) -> list[np.ndarray]:
        """:func:`continue_primer` of this primer."""
        return continue_primer(self, model, steps, options, **kwargs)

    def notes_of(self, events: np.ndarray) -> list[Note]:
        """:func:`continuation_notes` of this primer."""
        return continuation_notes(self, events)

    def key(self, key_finding: str = "profile") -> KeyEstimate:
        """The melody's key: :func:`~melodyrnn.events.keys.estimate_melody_key` ("profile",
        the file's signature believed when the notes agree) or Magenta's squash estimate
        ("magenta")."""
        if key_finding == "magenta":
            return magenta_key(self.events)
        if key_finding != "profile":
            raise PrimerError(
                f"{{key_finding}} must be 'profile' or 'magenta', got {key_finding!r}",
                parameters=("key_finding",),
            )
        sig = self.key_signature
        return estimate_melody_key(
            self.events,
            self.steps_per_bar,
            self.beat_steps,
            None if sig is None else (sig.key, sig.mode),
            start_step=self.melody.start_step,
        )

    @property
    def register(self) -> tuple[int, int]:
        """Lowest and highest pitch of the melody."""
        pitches = [int(e) for e in self.events if e >= 0]
        return min(pitches), max(pitches)

    @property
    def events(self) -> np.ndarray:
        return self.melody.to_array()


def prepare_primer(
    source: NoteSequence,
    track: str | int = "auto",
    primer_bars: int | None = None,
    *,
    at: str = "file-end",
    kind: str = "melody",
):
    """Read the track of a file a model of event family ``kind`` continues (module docstring,
    steps 1-2; :mod:`melodyrnn.generation.sections` for the section, placement ``at`` and the
    default primer length). ``kind`` "drums" reads a drum track
    (:func:`~melodyrnn.generation.drum_primer.prepare_drum_primer`); anything else a melody.

    ``primer_bars`` keeps only the last bars of the track (default
    :data:`~melodyrnn.generation.sections.DEFAULT_PRIMER_BARS`).
    """
    reader = _READERS.get(kind, prepare_melody_primer)
    return reader(source, track=track, primer_bars=primer_bars, at=at)


def prepare_melody_primer(
    source: NoteSequence,
    track: str | int = "auto",
    primer_bars: int | None = None,
    at: str = "file-end",
) -> Primer:
    """:func:`prepare_primer` for melody models."""
    choice = choose_track(source, track)
    instrument = choice.instrument
    # The last meter section that holds melody notes; tempo changes inside it are flattened.
    where, notes, last_onset, start, section, tempo_map, quantized = read_track_section(
        source, at, lambda n: n.instrument == instrument and not n.is_drum
    )
    try:
        melody = Melody.from_quantized_sequence(
            quantized,
            instrument=instrument,
            gap_bars=math.inf,
            ignore_polyphonic_notes=True,
        )
    except MelodyRNNError as exc:
        raise PrimerError(f"{where}: {exc}") from None
    if not len(melody):
        raise PrimerError(f"{where}: the melody track has no notes after quantization")
    steps_per_bar = melody.steps_per_bar
    keep = primer_steps(primer_bars, steps_per_bar)
    if len(melody) > keep:
        cut = -(-(len(melody) - keep) // steps_per_bar) * steps_per_bar  # at most ``keep``
        melody = Melody(  # a note held across the cut becomes a rest
            [int(e) for e in melody.to_array()[cut:]],
            start_step=melody.start_step + cut,
            steps_per_bar=steps_per_bar,
            steps_per_quarter=DEFAULT_STEPS_PER_QUARTER,
        )
    check_primer_length(len(melody), steps_per_bar, where)
    # Start at the grid step where the track's last note ends (the next step if it ends
    # between steps), so no continuation note overlaps a primer note; by default after the
    # file's last note, the silence between shortened by whole bars.
    last_end = max(n.end_time for n in notes) - start
    track_end = max(melody.start_step + len(melody), grid_step(tempo_map, last_end))
    file_end = grid_step(tempo_map, file_end_time(source) - start)
    end_step, context_end = placement(track_end, file_end, steps_per_bar, at)
    melody.set_length(context_end - melody.start_step)
    velocities = [n.velocity for n in notes]
    meter = latest(section.time_signatures, 0.0)
    beat_steps = DEFAULT_STEPS_PER_QUARTER
    if meter is not None and meter.denominator in (2, 4, 8, 16):
        compound = meter.denominator == 8 and meter.numerator % 3 == 0 and meter.numerator > 3
        beat_steps = 6 if compound else 16 // meter.denominator
    return Primer(
        source=source,
        instrument=instrument,
        program=choice.program,
        velocity=int(np.median(velocities)),
        section_start=start,
        tempo_map=tempo_map,
        steps_per_bar=steps_per_bar,
        melody=melody,
        end_step=end_step,
        beat_steps=beat_steps,
        key_signature=latest(source.key_signatures, last_onset),
        track=choice,
        track_end_step=track_end,
        primer_bars=math.ceil((track_end - melody.start_step) / steps_per_bar),
    )


# --- fitting into the model and back --------------------------------------------------------


def _model_fit(model) -> tuple[int, int, int | None]:
    """(min_note, max_note exclusive, transpose_to_key) of a melody model."""
    if model.kind == "drums":
        raise PrimerError(
            "this model continues drum tracks; continuing a file's melody needs a melody "
            "model (leave out {model} for the default one)",
            parameters=("model",),
        )
    low, high = model.pitch_range
    key = getattr(model.config, "transpose_to_key", None)
    return low, high + 1, key


def _model_space(allowed: np.ndarray | None, amount: int) -> np.ndarray | None:
    """Allowed pitches (primer space) moved by the squash ``amount`` into the model's space."""
    if allowed is None:
        return None
    moved = np.zeros(128, dtype=bool)
    pitches = np.arange(128)
    shifted = pitches + amount
    inside = (shifted >= 0) & (shifted < 128)
    moved[shifted[inside]] = allowed[pitches[inside]]
    return moved


def continue_primer(
    primer: Primer,
    model,
    steps: int,
    options: SamplingOptions | None = None,
    *,
    chord_progression: list[str] | None = None,
    key_finding: str = "profile",
    ending: str = "free",
) -> list[np.ndarray]:
    """Continuation events in the primer's pitches, one array per output.

    ``options`` (default :class:`SamplingOptions`) may constrain pitches in the primer's own
    key and register; they are moved into the model's space with the primer. Without a
    ``pitch_range`` the continuation keeps the primer's register
    (:func:`~melodyrnn.generation.shaping.default_register`; ``(0, 127)`` lifts it).
    ``key_finding``: "profile" (:meth:`Primer.key`, the default) or "magenta" (Magenta's
    squash, today's outputs byte for byte). ``ending``: "free", "bar" or "tonic"
    (:mod:`melodyrnn.generation.shaping`); with "bar"/"tonic" the arrays are longer than
    ``steps`` by what reaches the next bar line.
    """
    options = options or SamplingOptions()
    if int(steps) < 1:
        raise PrimerError(
            f"the continuation needs at least 1 step, got {steps}", parameters=("steps",)
        )
    min_note, max_note, to_key = _model_fit(model)
    key = primer.key(key_finding)
    steps = ending_steps(primer.end_step, int(steps), primer.steps_per_bar, ending)
    if options.pitch_range is None:
        options = options.replace(pitch_range=default_register(*primer.register))
    fitted = primer.melody.copy()
    if key_finding == "magenta":
        amount = fitted.squash(min_note, max_note, to_key)
    else:
        amount = fit_amount(fitted.to_array(), min_note, max_note, to_key, key.collection)
        fitted.transpose(amount, min_note, max_note)
    events = fitted.to_array()
    allowed = _model_space(options.allowed_pitches(), amount)
    forbid_hold_at = len(events) if _sounding_at_end(events) else None
    base = model.family.pitch_mask(allowed, forbid_hold_at)
    mask = ending_mask(
        base,
        model.encoder,
        ending=ending,
        primer_steps=len(events),
        end_step=primer.end_step,
        total_steps=steps,
        steps_per_bar=primer.steps_per_bar,
        beat_steps=primer.beat_steps,
        tonic=(key.tonic + amount) % 12,
        allowed=allowed,
        model_range=model.pitch_range,
    )
    result = model.continue_events(
        events,
        steps,
        options.without_pitch_constraints(),
        chord_progression=chord_progression,
        mask=mask,
    )
    outputs = []
    for row in result.events:
        row = np.asarray(row, dtype=np.int64).copy()
        pitched = row >= 0
        row[pitched] -= amount
        # Never outside MIDI: move stray notes by octaves (only possible at the extremes).
        row[pitched & (row < 0)] %= 12
        too_high = pitched & (row > 127)
        row[too_high] = 116 + (row[too_high] - 116) % 12
        outputs.append(row)
    return outputs


def _sounding_at_end(events: np.ndarray) -> bool:
    """Whether a note is still sounding after the last event."""
    for event in events[::-1]:
        if event >= 0:
            return True
        if event == MELODY_NOTE_OFF:
            return False
    return False


def continuation_notes(primer: Primer, events: np.ndarray) -> list[Note]:
    """Notes of continuation events placed after the primer in the source file's time."""
    notes: list[Note] = []
    current: Note | None = None
    start = primer.end_step

    def close(at_step: int) -> None:
        nonlocal current
        if current is not None:
            current.quantized_end_step = at_step
            current.end_time = primer.step_to_seconds(at_step)
            notes.append(current)
            current = None

    for offset, event in enumerate(int(e) for e in events):
        step = start + offset
        if event == MELODY_NOTE_OFF:
            close(step)
        elif event >= 0:
            close(step)
            current = Note(
                pitch=event,
                velocity=primer.velocity,
                start_time=primer.step_to_seconds(step),
                quantized_start_step=step,
                instrument=primer.instrument,
                program=primer.program,
            )
    close(start + len(events))
    return notes


def continue_merged(
    primer: Primer,
    model,
    steps: int,
    options: SamplingOptions | None = None,
    *,
    exclude_primer: bool = False,
    chord_progression: list[str] | None = None,
    key_finding: str = "profile",
    ending: str = "free",
) -> list[NoteSequence]:
    """:func:`continue_primer` then :func:`merge_continuation`: one NoteSequence per output."""
    from melodyrnn.generation.music_rnn import load_model  # torch: not for ``inspect``

    rows = primer.continue_rows(
        load_model(model),
        steps,
        options,
        chord_progression=chord_progression,
        key_finding=key_finding,
        ending=ending,
    )
    return [merge_continuation(primer, row, exclude_primer=exclude_primer) for row in rows]


# --- one call for composition tools -----------------------------------------------------------


def continue_midi(
    primer,
    steps: int = 64,
    options: SamplingOptions | None = None,
    *,
    model=None,
    track: str | int = "auto",
    exclude_primer: bool = False,
    primer_bars: int | None = None,
    chord_progression: list[str] | None = None,
    key_finding: str = "profile",
    ending: str = "free",
    at: str = "file-end",
) -> list[NoteSequence]:
    """Continue a real MIDI phrase: ``options.num_outputs`` variations as NoteSequences.

    ``primer`` is a path, MIDI bytes, a ``mido.MidiFile``/``pretty_midi.PrettyMIDI`` or an
    unquantized NoteSequence; ``options`` a :class:`SamplingOptions` (default: one output at
    temperature 1.0); ``model`` None (the shipped default), a shipped model's name, a folder
    or a loaded :class:`~melodyrnn.generation.music_rnn.MusicRNN`; ``key_finding`` and
    ``ending`` as in :func:`continue_primer`, ``at`` (placement) as in :func:`prepare_primer`;
    a drum model continues the file's drum track (the continuation keeps the primer's key and
    register unless ``key_finding="magenta"`` / ``options.pitch_range`` say otherwise).
    Returns a list, one
    NoteSequence per variation (module docstring, step 5); write them with
    :func:`melodyrnn.io.midi.sequence_to_midi_file`.
    """
    if isinstance(primer, NoteSequence):
        source = primer
    else:
        from melodyrnn.io.midi import midi_to_sequence

        source = midi_to_sequence(primer)
    from melodyrnn.generation.music_rnn import load_model  # torch: not for ``inspect``

    model = load_model(model)
    fitted = prepare_primer(
        source, track=track, primer_bars=primer_bars, at=at, kind=model.family.kind
    )
    return continue_merged(
        fitted,
        model,
        steps,
        options,
        exclude_primer=exclude_primer,
        chord_progression=chord_progression,
        key_finding=key_finding,
        ending=ending,
    )


_READERS = {"drums": prepare_drum_primer}
