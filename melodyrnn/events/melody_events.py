"""Melody notes and event arrays as plain functions: what the Melody class is built on.

A melody event array holds one event per step: ``MELODY_NO_EVENT`` (-2), ``MELODY_NOTE_OFF`` (-1)
or a MIDI pitch that starts a note (see :mod:`melodyrnn.events.melody`). The functions here work
on such arrays (or on the notes of a sequence) without a :class:`~melodyrnn.events.melody.Melody`
around them, so the class, magenta.js's reading (:mod:`melodyrnn.events.magenta_js`) and
the round-trip contracts (:mod:`melodyrnn.events.projections`) share one implementation:

* pitch statistics and moves: :func:`note_histogram`, :func:`major_key_histogram`,
  :func:`major_key`, :func:`transpose_pitches`, :func:`squash_amount` (note-seq's rules);
* :func:`note_spans`: the notes an event array plays;
* :func:`select_melody_notes`: the notes of a quantized sequence that note-seq's
  ``Melody.from_quantized_sequence`` keeps, before they become events (from an
  :class:`InstrumentNotes` index, sorted once per sequence).
"""

from __future__ import annotations

import bisect

import numpy as np

from melodyrnn.constants import (
    KEY_MATRIX,
    MAX_MIDI_PITCH,
    MELODY_NO_EVENT,
    MIN_MIDI_PITCH,
    NOTES_PER_OCTAVE,
)
from melodyrnn.errors import EncodingError, PolyphonicMelodyError
from melodyrnn.events.base import require_relative_quantized
from melodyrnn.sequence import NoteSequence

# --- pitch statistics and moves ---------------------------------------------------------------


def note_histogram(events) -> np.ndarray:
    """Note onsets per pitch class (C = 0 .. B = 11); onsets are counted, not durations."""
    ev = np.asarray(events, dtype=np.int64)
    return np.bincount(ev[ev >= MIN_MIDI_PITCH] % NOTES_PER_OCTAVE, minlength=NOTES_PER_OCTAVE)


def major_key_histogram(events) -> np.ndarray:
    """For each major key (C = 0 .. B = 11), how many note onsets lie in its scale."""
    return note_histogram(events) @ KEY_MATRIX


def major_key(events) -> int:
    """The most likely major key of the onsets; ties go to the lowest key (C first)."""
    return int(np.argmax(major_key_histogram(events)))


def transpose_pitches(events, amount: int, min_note: int = 0, max_note: int = 128) -> np.ndarray:
    """Add ``amount`` to every pitch event and fold the result into [min_note, max_note) by octaves.

    A pitch below ``min_note`` becomes ``min_note + (p - min_note) % 12``; one at or above
    ``max_note`` becomes ``max_note - 12 + (p - max_note) % 12`` (note-seq's rule, so a range
    narrower than an octave can still yield pitches outside it). NO_EVENT and NOTE_OFF stay.
    """
    ev = np.array(events, dtype=np.int64)
    pitched = ev >= MIN_MIDI_PITCH
    p = ev[pitched] + amount
    # One fold or the other, decided on the moved pitch (a fold up is not checked against
    # max_note again, as in note-seq).
    low = min_note + (p - min_note) % NOTES_PER_OCTAVE
    high = max_note - NOTES_PER_OCTAVE + (p - max_note) % NOTES_PER_OCTAVE
    ev[pitched] = np.where(p < min_note, low, np.where(p >= max_note, high, p))
    return ev


def squash_amount(events, min_note: int, max_note: int, transpose_to_key: int | None) -> int:
    """The transposition ``Melody.squash`` applies (before the octave folding).

    With a key: move the estimated major key to ``transpose_to_key``, then by whole octaves so the
    middle of the melody's pitch span lands nearest the middle of [min_note, max_note). Halves
    round to even, as Python's ``round`` does in note-seq. Without a key, or with no notes: 0.
    """
    if transpose_to_key is None:
        return 0
    ev = np.asarray(events, dtype=np.int64)
    pitches = ev[(ev >= MIN_MIDI_PITCH) & (ev <= MAX_MIDI_PITCH)]
    if pitches.size == 0:
        return 0
    key_diff = int(transpose_to_key) - major_key(ev)
    melody_center = (int(pitches.min()) + int(pitches.max())) / 2
    target_center = (min_note + max_note - 1) / 2
    center_diff = target_center - (melody_center + key_diff)
    return key_diff + NOTES_PER_OCTAVE * int(round(center_diff / float(NOTES_PER_OCTAVE)))


# --- the notes an event array plays -----------------------------------------------------------


def note_spans(events) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pitches, start steps, end steps) of the notes an event array plays.

    A note starts at a pitch event and ends at the next pitch or NOTE_OFF event, or at the end.
    """
    ev = np.asarray(events, dtype=np.int64)
    changes = np.flatnonzero(ev != MELODY_NO_EVENT)
    is_onset = ev[changes] >= MIN_MIDI_PITCH
    ends = np.append(changes[1:], ev.size)
    return ev[changes][is_onset], changes[is_onset], ends[is_onset]


# --- notes of a sequence ----------------------------------------------------------------------


class MelodyNotes:
    """The notes ``Melody.from_quantized_sequence`` keeps, as lists: see
    :func:`select_melody_notes`."""

    __slots__ = ("origin", "pitches", "starts", "ends", "steps_per_bar")

    def __init__(self, origin, pitches, starts, ends, steps_per_bar):
        self.origin = origin
        self.pitches = pitches
        self.starts = starts  # relative to origin
        self.ends = ends  # relative to origin, already cut at the next note's start
        self.steps_per_bar = steps_per_bar


class InstrumentNotes:
    """The notes of a quantized sequence by instrument, each group sorted once in note-seq's
    order (start step, then pitch descending).

    :func:`select_melody_notes` given one finds a melody's first note by bisection instead of
    filtering and sorting every note again, so :func:`~melodyrnn.events.melody.extract_melodies`
    does work linear in the notes however many melodies and instruments a sequence holds.
    """

    def __init__(self, qns: NoteSequence):
        groups: dict[int, list] = {}
        for note in qns.notes:
            groups.setdefault(note.instrument, []).append(note)
        self.notes = {
            i: sorted(group, key=lambda n: (n.quantized_start_step, -n.pitch))
            for i, group in groups.items()
        }
        self.starts = {i: [n.quantized_start_step for n in g] for i, g in self.notes.items()}
        self._steps_per_bar = None
        self._qns = qns

    @property
    def instruments(self) -> list[int]:
        return sorted(self.notes)

    def steps_per_bar(self) -> int:
        """``qns.whole_steps_per_bar()``, computed once (it raises each time if fractional)."""
        if self._steps_per_bar is None:
            self._steps_per_bar = self._qns.whole_steps_per_bar()
        return self._steps_per_bar

    def first_at(self, instrument: int, step: int) -> int:
        """The index in ``notes[instrument]`` of the first note starting at or after ``step``."""
        return bisect.bisect_left(self.starts.get(instrument, ()), step)


def select_melody_notes(
    qns: NoteSequence,
    search_start_step: int,
    instrument: int,
    gap_bars: float,
    ignore_polyphonic_notes: bool,
    filter_drums: bool,
    notes: InstrumentNotes | None = None,
) -> MelodyNotes:
    """note-seq's note-by-note walk, without building the event list yet.

    The notes of ``instrument`` that start at or after ``search_start_step`` are taken by
    (start, pitch descending). The melody's origin is the bar line before the first of them (drum
    and velocity-0 notes included: they move the bar line, though they are then skipped). A note
    starting on the step of the last kept one is skipped (the highest wins) or raises; a note
    starting ``gap_bars`` bars or more after the last kept note's end stops the walk; a note
    starting inside the last kept one cuts it short. ``notes`` (an :class:`InstrumentNotes` of
    ``qns``) saves sorting the notes again on every call; the walk then reads only the notes up
    to the one that stops it.
    """
    require_relative_quantized(qns)
    index = notes if notes is not None else InstrumentNotes(qns)
    steps_per_bar = index.steps_per_bar()
    group = index.notes.get(instrument, [])
    at = index.first_at(instrument, search_start_step)
    if at == len(group):
        return MelodyNotes(0, [], [], [], steps_per_bar)
    first = group[at].quantized_start_step
    origin = first - (first - search_start_step) % steps_per_bar
    gap_steps = gap_bars * steps_per_bar

    pitches: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    for k in range(at, len(group)):
        note = group[k]
        if (filter_drums and note.is_drum) or not note.velocity:
            continue
        start = note.quantized_start_step - origin
        end = note.quantized_end_step - origin
        if starts:
            if start == starts[-1]:
                if ignore_polyphonic_notes:
                    continue
                raise PolyphonicMelodyError(
                    f"instrument {instrument} has two notes starting at step "
                    f"{note.quantized_start_step}; keep the highest with "
                    "ignore_polyphonic_notes=True or pick another instrument"
                )
            # ends[-1] is the last note's own end: only a later note could have cut it.
            if start - ends[-1] >= gap_steps:
                break
        if start >= end:
            raise EncodingError(
                f"a note at steps {note.quantized_start_step}..{note.quantized_end_step} has no "
                "duration; quantize the sequence with quantize_note_sequence()"
            )
        if ends and start < ends[-1]:
            ends[-1] = start
        pitches.append(note.pitch)
        starts.append(start)
        ends.append(end)
    return MelodyNotes(origin, pitches, starts, ends, steps_per_bar)


__all__ = [
    "InstrumentNotes",
    "MelodyNotes",
    "major_key",
    "major_key_histogram",
    "note_histogram",
    "note_spans",
    "select_melody_notes",
    "squash_amount",
    "transpose_pitches",
]
