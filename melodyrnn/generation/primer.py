"""Real-file primers: choose the melody, fit it to the model, merge the continuation back.

Magenta and magenta.js fail on ordinary MIDI files in ways users keep reporting (multi-track
or polyphonic primers, pitches outside 48-83, tempo changes, a forced gap after the primer,
output as piano at 120 qpm without velocity). This module does what a musician expects:

1. **Track.** The melody is one track: the one named (``track="Lead"`` or its index as
   ``melodyrnn inspect`` shows it), or ``"auto"``, which scores every non-drum track by
   ``top-line notes × (1 - share of notes starting together) × register weight × name weight``:
   register weight 1 when the median pitch lies in 55-84, 0.6 in 48-54 or 85-96, 0.25 elsewhere
   (bass lines); name weight 1.5 for names with melody/lead/vocal/voice/solo/tune/theme,
   0.5 for bass/drum/pad/chord/accomp/harmony/string. Polyphony is reduced to the top line at
   equal onsets (Magenta's generation does the same).
2. **Time.** The continuation follows the last time-signature section that holds the melody;
   tempo changes inside it are flattened onto beats (:func:`~melodyrnn.sequence.flatten_tempo`),
   so files with tempo drift work, and the continuation is placed back on the file's own tempo
   map (the last tempo goes on after the end).
3. **Pitch.** The melody is squashed into the model's range and key exactly as Magenta does
   (:meth:`~melodyrnn.events.melody.Melody.squash`); the continuation is transposed back by the
   same amount, so it is in the primer's key and register.
4. **Start.** The continuation starts exactly where the melody track's last note ends (on the
   next 16th step if that note ends between steps): no gap is forced (unlike magenta#2051) and
   nothing overlaps the primer. When the primer's last note sounds up to that point, the first
   event is a new note or a rest, never a hold that would lengthen it, so the primer is kept
   exactly as it was.
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
from melodyrnn.events.melody import Melody
from melodyrnn.generation.music_rnn import load_model
from melodyrnn.generation.options import SamplingOptions
from melodyrnn.limits import check_limit, limit
from melodyrnn.sequence import (
    InstrumentInfo,
    KeySignature,
    Note,
    NoteSequence,
    Tempo,
    TempoMap,
    TimeSignature,
    extract_subsequence,
    flatten_tempo,
    quantize_note_sequence,
    time_change_points,
)

_MELODY_WORDS = ("melody", "lead", "vocal", "voice", "solo", "tune", "theme")
_ACCOMPANIMENT_WORDS = ("bass", "drum", "pad", "chord", "accomp", "harmony", "string")


# --- choosing the melody track ----------------------------------------------------------------


def _track_names(ns: NoteSequence) -> dict[int, str]:
    return {info.instrument: info.name for info in ns.instrument_infos}


def _describe_tracks(ns: NoteSequence) -> str:
    names = _track_names(ns)
    seen: dict[int, bool] = {}
    for note in ns.notes:
        seen[note.instrument] = seen.get(note.instrument, False) or note.is_drum
    parts = [
        f"[{i}] {names.get(i) or '(unnamed)'}{' (drums)' if drums else ''}"
        for i, drums in sorted(seen.items())
    ]
    return ", ".join(parts) or "none"


def track_score(notes: list[Note], name: str = "") -> float:
    """How likely a track is the melody (module docstring, step 1)."""
    if not notes:
        return 0.0
    onsets: dict[float, int] = {}
    for n in notes:
        onsets[n.start_time] = onsets.get(n.start_time, 0) + 1
    top_line = len(onsets)
    shared = sum(c for c in onsets.values() if c > 1) / len(notes)
    median = float(np.median([n.pitch for n in notes]))
    if 55 <= median <= 84:
        register = 1.0
    elif 48 <= median <= 96:
        register = 0.6
    else:
        register = 0.25
    lowered = name.lower()
    weight = 1.0
    if any(w in lowered for w in _MELODY_WORDS):
        weight = 1.5
    elif any(w in lowered for w in _ACCOMPANIMENT_WORDS):
        weight = 0.5
    return top_line * (1.0 - shared) * register * weight


def choose_melody_track(ns: NoteSequence, track: str | int = "auto") -> int:
    """The instrument index of the melody: named, numbered, or chosen by :func:`track_score`."""
    names = _track_names(ns)
    pitched: dict[int, list[Note]] = {}
    for note in ns.notes:
        if not note.is_drum:
            pitched.setdefault(note.instrument, []).append(note)
    where = ns.filename or "the primer"
    if not pitched:
        if ns.notes:
            raise PrimerError(
                f"{where} has only drum notes; melody models continue melodies: use a drum "
                "model (e.g. a drum_kit_rnn checkpoint as {model})",
                parameters=("model",),
            )
        raise PrimerError(f"{where} has no notes to continue")
    if track in (None, "auto"):
        return max(sorted(pitched), key=lambda i: track_score(pitched[i], names.get(i, "")))
    text = str(track).strip()
    if text.lstrip("-").isdigit():
        index = int(text)
        if index in pitched:
            return index
    else:
        matches = [i for i in pitched if names.get(i, "").strip().lower() == text.lower()]
        if matches:
            return matches[0]
    raise PrimerError(
        f"{where} has no melodic track {track!r}; its tracks are: {_describe_tracks(ns)}"
    )


# --- the primer ----------------------------------------------------------------------------


@dataclass
class Primer:
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

    @property
    def events(self) -> np.ndarray:
        return self.melody.to_array()

    def step_to_seconds(self, step: float) -> float:
        """Seconds in the source file of a step of the section."""
        return self.section_start + self.tempo_map.seconds_at(step / DEFAULT_STEPS_PER_QUARTER)

    @property
    def continuation_start(self) -> float:
        """Seconds in the source file where the continuation starts."""
        return self.step_to_seconds(self.end_step)

    def continuation_steps(self, steps: int | None = None, bars: float | None = None) -> int:
        """The continuation length asked for as ``steps`` or ``bars`` (default 64 steps),
        checked: at least 1 step, at most limits' max_generation_steps."""
        if bars is not None:
            return self.steps_for_bars(bars)
        steps = 64 if steps is None else steps
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise PrimerError(
                f"the continuation must be at least 1 step long, got {steps}",
                parameters=("steps",),
            )
        check_limit("max_generation_steps", steps, "the continuation")
        return steps

    def steps_for_bars(self, bars: float) -> int:
        """A continuation length of ``bars`` bars of the primer's meter, in steps."""
        if not (isinstance(bars, int | float) and math.isfinite(bars) and bars > 0):
            raise PrimerError(
                f"{{bars}} must be a finite number > 0, got {bars}", parameters=("bars",)
            )
        steps = bars * self.steps_per_bar
        check_limit("max_generation_steps", steps, "the continuation")
        return max(1, round(steps))


def prepare_primer(
    source: NoteSequence,
    track: str | int = "auto",
    primer_bars: int | None = None,
) -> Primer:
    """Read the melody of a file for continuation (steps 1-2 of the module docstring).

    ``primer_bars`` keeps only the last bars of the melody (long files take time to prime).
    """
    if source.is_quantized:
        raise PrimerError("prepare_primer takes an unquantized sequence (as read from MIDI)")
    where = source.filename or "the primer"
    instrument = choose_melody_track(source, track)
    notes = [n for n in source.notes if n.instrument == instrument and not n.is_drum]

    # The last meter section that holds melody notes; tempo changes inside it are flattened.
    last_onset = max(n.start_time for n in notes)
    starts = [t for t in time_change_points(source, tempo=False) if t <= last_onset]
    section_start = starts[-1]
    end = max(source.total_time, max(n.end_time for n in source.notes)) + 1.0
    section = extract_subsequence(source, section_start, end)
    section.notes = [n for n in section.notes if n.instrument == instrument and not n.is_drum]
    tempo_map = TempoMap(section.tempos)
    try:
        quantized = quantize_note_sequence(
            flatten_tempo(section, qpm=60.0), DEFAULT_STEPS_PER_QUARTER
        )
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
    if primer_bars is not None:
        if primer_bars < 1:
            raise PrimerError("{primer_bars} must be at least 1", parameters=("primer_bars",))
        keep = primer_bars * steps_per_bar
        if len(melody) > keep:
            cut = (len(melody) - keep) // steps_per_bar * steps_per_bar
            melody = Melody(  # a note held across the cut becomes a rest
                [int(e) for e in melody.to_array()[cut:]],
                start_step=melody.start_step + cut,
                steps_per_bar=steps_per_bar,
                steps_per_quarter=DEFAULT_STEPS_PER_QUARTER,
            )
    max_primer = limit("max_primer_steps")
    if len(melody) > max_primer:
        raise PrimerError(
            f"{where}: the melody is {len(melody) // steps_per_bar} bars long; the primer may "
            f"be at most {max_primer // steps_per_bar} bars: give {{primer_bars}} N to "
            "continue from its last N bars",
            parameters=("primer_bars",),
        )
    # Start at the grid step where the track's last note ends (the next step if it ends
    # between steps), so no continuation note overlaps a primer note.
    last_end = max(n.end_time for n in notes) - section_start
    end_step = max(
        melody.start_step + len(melody),
        math.ceil(tempo_map.beats_at(last_end) * DEFAULT_STEPS_PER_QUARTER - 1e-3),
    )
    melody.set_length(end_step - melody.start_step)
    velocities = [n.velocity for n in notes]
    programs = [n.program for n in notes]
    return Primer(
        source=source,
        instrument=instrument,
        program=max(set(programs), key=programs.count),
        velocity=int(np.median(velocities)),
        section_start=section_start,
        tempo_map=tempo_map,
        steps_per_bar=steps_per_bar,
        melody=melody,
        end_step=end_step,
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
) -> list[np.ndarray]:
    """Continuation events in the primer's pitches, one array of ``steps`` per output.

    ``options`` (default :class:`SamplingOptions`) may constrain pitches in the primer's own
    key and register; they are moved into the model's space with the primer.
    """
    options = options or SamplingOptions()
    if int(steps) < 1:
        raise PrimerError(
            f"the continuation needs at least 1 step, got {steps}", parameters=("steps",)
        )
    min_note, max_note, to_key = _model_fit(model)
    fitted = primer.melody.copy()
    amount = fitted.squash(min_note, max_note, to_key)
    events = fitted.to_array()
    result = model.continue_events(
        events,
        int(steps),
        options.without_pitch_constraints(),
        chord_progression=chord_progression,
        allowed_pitches=_model_space(options.allowed_pitches(), amount),
        forbid_hold_at=len(events) if _sounding_at_end(events) else None,
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


def merge_continuation(
    primer: Primer, events: np.ndarray, exclude_primer: bool = False
) -> NoteSequence:
    """The output sequence of one variation (module docstring, step 5)."""
    notes = continuation_notes(primer, events)
    begin = primer.step_to_seconds(primer.end_step)
    finish = primer.step_to_seconds(primer.end_step + len(events))
    if not exclude_primer:
        out = primer.source.copy()
        out.notes.extend(notes)
        out.total_time = max(out.total_time, finish)
        return out
    src = primer.source
    out = NoteSequence(
        ticks_per_quarter=src.ticks_per_quarter,
        filename=src.filename,
        instrument_infos=[
            InstrumentInfo(i.instrument, i.name)
            for i in src.instrument_infos
            if i.instrument == primer.instrument
        ],
    )
    out.tempos = [Tempo(0.0, _in_force(src.tempos, begin, "qpm", 120.0))]
    meter = _latest(src.time_signatures, begin)
    if meter is not None:
        out.time_signatures = [TimeSignature(0.0, meter.numerator, meter.denominator)]
    key = _latest(src.key_signatures, begin)
    if key is not None:
        out.key_signatures = [KeySignature(0.0, key.key, key.mode)]
    for note in notes:
        note.start_time -= begin
        note.end_time -= begin
        note.quantized_start_step -= primer.end_step
        note.quantized_end_step -= primer.end_step
        out.notes.append(note)
    out.total_time = finish - begin
    return out


def _latest(events, time: float):
    before = [e for e in events if e.time <= time + 1e-9]
    return max(before, key=lambda e: e.time) if before else None


def _in_force(events, time: float, attr: str, default):
    event = _latest(events, time)
    return getattr(event, attr) if event is not None else default


def continue_merged(
    primer: Primer,
    model,
    steps: int,
    options: SamplingOptions | None = None,
    *,
    exclude_primer: bool = False,
    chord_progression: list[str] | None = None,
) -> list[NoteSequence]:
    """:func:`continue_primer` then :func:`merge_continuation`: one NoteSequence per output."""
    rows = continue_primer(
        primer, load_model(model), steps, options, chord_progression=chord_progression
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
) -> list[NoteSequence]:
    """Continue a real MIDI phrase: ``options.num_outputs`` variations as NoteSequences.

    ``primer`` is a path, MIDI bytes, a ``mido.MidiFile``/``pretty_midi.PrettyMIDI`` or an
    unquantized NoteSequence; ``options`` a :class:`SamplingOptions` (default: one output at
    temperature 1.0); ``model`` None (the shipped default), a shipped model's name, a folder
    or a loaded :class:`~melodyrnn.generation.music_rnn.MusicRNN`. Returns a list, one
    NoteSequence per variation (module docstring, step 5); write them with
    :func:`melodyrnn.io.midi.sequence_to_midi_file`.
    """
    if isinstance(primer, NoteSequence):
        source = primer
    else:
        from melodyrnn.io.midi import midi_to_sequence

        source = midi_to_sequence(primer)
    fitted = prepare_primer(source, track=track, primer_bars=primer_bars)
    return continue_merged(
        fitted,
        model,
        steps,
        options,
        exclude_primer=exclude_primer,
        chord_progression=chord_progression,
    )
