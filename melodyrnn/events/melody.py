"""Monophonic melodies as event lists: note-seq's ``Melody`` and magenta.js's melody reading.

A melody has one event per quantized step (16th notes at 4 steps per quarter):

* ``MELODY_NO_EVENT`` (-2): nothing new happens; a sounding note is held, a silence goes on;
* ``MELODY_NOTE_OFF`` (-1): the sounding note stops;
* ``0..127``: a note of that MIDI pitch starts (ending any sounding note, even one of the same
  pitch: that is a re-attack).

A note still sounding at the end of the melody ends there.

Two ways of getting a melody out of a quantized :class:`~melodyrnn.sequence.NoteSequence` live
here, and they differ on purpose:

* :meth:`Melody.from_quantized_sequence` and :func:`extract_melodies` behave exactly like
  note-seq's ``Melody.from_quantized_sequence`` and Magenta's ``melody_pipelines.extract_melodies``
  (Python training and generation): one instrument at a time, drums and velocity-0 notes skipped,
  the melody starts on a bar line, it ends at a long enough silence, polyphony can be an error.
* :func:`melody_from_sequence_magenta_js` behaves exactly like magenta.js's
  ``Melody.fromNoteSequence`` behind ``MelodyConverter`` (MusicRNN in the browser): every note of
  every instrument, drums included, is written into an array of fixed length, and a pitch out of
  range is an error instead of being moved into range.

:func:`project_melody` and :func:`project_melody_magenta_js` state, note by note, what a round trip
through each representation keeps of a sequence (the contract the tests check).
"""

from __future__ import annotations

import heapq
import numbers
from collections.abc import Iterable

import numpy as np

from melodyrnn.constants import (
    DEFAULT_STEPS_PER_BAR,
    DEFAULT_STEPS_PER_QUARTER,
    KEY_MATRIX,
    MAX_MELODY_EVENT,
    MAX_MIDI_PITCH,
    MELODY_NO_EVENT,
    MELODY_NOTE_OFF,
    MIN_MELODY_EVENT,
    MIN_MIDI_PITCH,
    NOTES_PER_OCTAVE,
)
from melodyrnn.errors import (
    EncodingError,
    PitchOutOfRangeError,
    PolyphonicMelodyError,
    QuantizationStatusError,
)
from melodyrnn.sequence import (
    DEFAULT_QPM,
    STANDARD_PPQ,
    Note,
    NoteSequence,
    QuantizationInfo,
    Tempo,
)

# The stats counters of extract_melodies, in Magenta's order.
EXTRACT_COUNTERS = (
    "polyphonic_tracks_discarded",
    "melodies_discarded_too_short",
    "melodies_discarded_too_few_pitches",
    "melodies_discarded_too_long",
    "melodies_truncated",
)

_JS_OUT_OF_RANGE = "`NoteSequence` has a pitch outside of the valid range: {}"
_JS_NOT_MONOPHONIC = "`NoteSequence` is not monophonic."


# --- pitch helpers shared by Melody and the projections -------------------------------------


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
    """The transposition :meth:`Melody.squash` applies (before the octave folding).

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


def _note_spans(events) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pitches, start steps, end steps) of the notes an event array plays.

    A note starts at a pitch event and ends at the next pitch or NOTE_OFF event, or at the end.
    """
    ev = np.asarray(events, dtype=np.int64)
    changes = np.flatnonzero(ev != MELODY_NO_EVENT)
    is_onset = ev[changes] >= MIN_MIDI_PITCH
    ends = np.append(changes[1:], ev.size)
    return ev[changes][is_onset], changes[is_onset], ends[is_onset]


def _timed_sequence(
    pitches,
    steps,
    ends,
    *,
    origin_step: int,
    velocity: int,
    instrument: int,
    program: int,
    sequence_start_time: float,
    qpm: float,
    steps_per_quarter: int,
) -> NoteSequence:
    """The unquantized NoteSequence note-seq's ``Melody.to_sequence`` writes for these notes.

    Steps are relative to ``origin_step``; the arithmetic is note-seq's, so times match bit for bit.
    """
    seconds_per_step = 60.0 / qpm / steps_per_quarter
    offset = sequence_start_time + origin_step * seconds_per_step
    ns = NoteSequence(tempos=[Tempo(qpm=qpm)], ticks_per_quarter=STANDARD_PPQ)
    starts = (np.asarray(steps, dtype=np.int64) * seconds_per_step + offset).tolist()
    stops = (np.asarray(ends, dtype=np.int64) * seconds_per_step + offset).tolist()
    for pitch, start, stop in zip(np.asarray(pitches).tolist(), starts, stops):
        ns.notes.append(
            Note(
                pitch=pitch,
                velocity=velocity,
                start_time=start,
                end_time=stop,
                instrument=instrument,
                program=program,
            )
        )
    if ns.notes:
        ns.total_time = ns.notes[-1].end_time
    return ns


# --- sequences in -----------------------------------------------------------------------------


def _require_relative_quantized(qns: NoteSequence) -> None:
    if not qns.is_relative_quantized:
        raise QuantizationStatusError(
            "the sequence is not quantized relative to tempo; "
            "call quantize_note_sequence(ns, steps_per_quarter) first"
        )


class _MelodyNotes:
    """The notes :meth:`Melody.from_quantized_sequence` keeps, before they become events."""

    __slots__ = ("origin", "pitches", "starts", "ends", "steps_per_bar")

    def __init__(self, origin, pitches, starts, ends, steps_per_bar):
        self.origin = origin
        self.pitches = pitches
        self.starts = starts  # relative to origin
        self.ends = ends  # relative to origin, already cut at the next note's start
        self.steps_per_bar = steps_per_bar


def _select_melody_notes(
    qns: NoteSequence,
    search_start_step: int,
    instrument: int,
    gap_bars: float,
    ignore_polyphonic_notes: bool,
    filter_drums: bool,
) -> _MelodyNotes:
    """note-seq's note-by-note walk, without building the event list yet.

    The notes of ``instrument`` that start at or after ``search_start_step`` are taken by
    (start, pitch descending). The melody's origin is the bar line before the first of them (drum
    and velocity-0 notes included: they move the bar line, though they are then skipped). A note
    starting on the step of the last kept one is skipped (the highest wins) or raises; a note
    starting ``gap_bars`` bars or more after the last kept note's end stops the walk; a note
    starting inside the last kept one cuts it short.
    """
    _require_relative_quantized(qns)
    steps_per_bar = qns.whole_steps_per_bar()
    notes = sorted(
        (
            n
            for n in qns.notes
            if n.instrument == instrument and n.quantized_start_step >= search_start_step
        ),
        key=lambda n: (n.quantized_start_step, -n.pitch),
    )
    if not notes:
        return _MelodyNotes(0, [], [], [], steps_per_bar)
    first = notes[0].quantized_start_step
    origin = first - (first - search_start_step) % steps_per_bar
    gap_steps = gap_bars * steps_per_bar

    pitches: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    for note in notes:
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
    return _MelodyNotes(origin, pitches, starts, ends, steps_per_bar)


# --- Melody -------------------------------------------------------------------------------------


def _check_events(events: Iterable) -> list[int]:
    values = np.asarray(list(events) if not isinstance(events, np.ndarray) else events)
    if values.size == 0:
        return []
    if not np.issubdtype(values.dtype, np.integer):
        if not np.all(np.equal(np.mod(values, 1), 0)):
            raise EncodingError("melody events must be integers (-2, -1 or a MIDI pitch 0..127)")
        values = values.astype(np.int64)
    bad = (values < MIN_MELODY_EVENT) | (values > MAX_MELODY_EVENT)
    if np.any(bad):
        raise EncodingError(
            f"melody event {int(values[bad][0])} is out of range; events are -2 (no event), "
            "-1 (note off) or a MIDI pitch 0..127"
        )
    return values.astype(np.int64).tolist()


class Melody:
    """A monophonic melody: one event per step, placed in a source sequence by ``start_step``.

    Behaves like note-seq's ``Melody``. ``start_step`` is where step 0 of the melody lies in the
    sequence it came from (a bar line when extracted); ``end_step`` is ``start_step + len``.
    Building from a list turns any NOTE_OFF before the first note into NO_EVENT.
    """

    __slots__ = ("events", "start_step", "steps_per_bar", "steps_per_quarter")

    def __init__(
        self,
        events: Iterable[int] | None = None,
        start_step: int = 0,
        steps_per_bar: int = DEFAULT_STEPS_PER_BAR,
        steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
    ):
        cleaned = _check_events(events) if events is not None else []
        for i, event in enumerate(cleaned):
            if event >= MIN_MIDI_PITCH:
                break
            cleaned[i] = MELODY_NO_EVENT
        self.events: list[int] = cleaned
        self.start_step = start_step
        self.steps_per_bar = steps_per_bar
        self.steps_per_quarter = steps_per_quarter

    @classmethod
    def from_array(
        cls,
        events,
        start_step: int = 0,
        steps_per_bar: int = DEFAULT_STEPS_PER_BAR,
        steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
    ) -> Melody:
        """A melody from an integer array of events (the inverse of :meth:`to_array`)."""
        return cls(events, start_step, steps_per_bar, steps_per_quarter)

    # -- container protocol ---------------------------------------------------------------------

    @property
    def end_step(self) -> int:
        return self.start_step + len(self.events)

    @property
    def steps(self) -> list[int]:
        """The source-sequence step of every event."""
        return list(range(self.start_step, self.end_step))

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self):
        return iter(self.events)

    def __getitem__(self, key):
        """An event, or for a slice a Melody whose start_step moves by the slice start."""
        if isinstance(key, slice):
            return Melody(
                self.events[key],
                start_step=self.start_step + (key.start or 0),
                steps_per_bar=self.steps_per_bar,
                steps_per_quarter=self.steps_per_quarter,
            )
        if isinstance(key, numbers.Integral):
            return self.events[int(key)]
        raise TypeError(f"melody indices must be integers or slices, not {type(key).__name__}")

    def __eq__(self, other) -> bool:
        if type(self) is not type(other):
            return NotImplemented
        return (
            self.events == other.events
            and self.start_step == other.start_step
            and self.steps_per_bar == other.steps_per_bar
            and self.steps_per_quarter == other.steps_per_quarter
        )

    __hash__ = None

    def __repr__(self) -> str:
        return (
            f"Melody({self.events!r}, start_step={self.start_step}, "
            f"steps_per_bar={self.steps_per_bar}, steps_per_quarter={self.steps_per_quarter})"
        )

    def copy(self) -> Melody:
        out = Melody(steps_per_bar=self.steps_per_bar, steps_per_quarter=self.steps_per_quarter)
        out.events = list(self.events)
        out.start_step = self.start_step
        return out

    def to_array(self, dtype=np.int64) -> np.ndarray:
        """The events as a 1-D integer array."""
        return np.asarray(self.events, dtype=dtype)

    # -- editing ------------------------------------------------------------------------------

    def append(self, event: int) -> None:
        """Add one event at the end (a note sounding before it is not ended)."""
        self.events.extend(_check_events([event]))

    def set_length(self, steps: int, from_left: bool = False) -> None:
        """Truncate, or pad with NO_EVENT, to ``steps`` events.

        Padding on the right ends a note still sounding at the old end with a NOTE_OFF there.
        ``from_left`` adds or removes events at the start instead and moves ``start_step`` so
        ``end_step`` stays put (no NOTE_OFF handling, as in note-seq).
        """
        old_len = len(self.events)
        if from_left:
            if steps > old_len:
                self.events[:0] = [MELODY_NO_EVENT] * (steps - old_len)
            else:
                del self.events[: old_len - steps]
            self.start_step += old_len - steps
            return
        if steps <= old_len:
            del self.events[steps:]
            return
        sounding = self._note_sounding_at_end()
        self.events.extend([MELODY_NO_EVENT] * (steps - old_len))
        if sounding:
            self.events[old_len] = MELODY_NOTE_OFF

    def _note_sounding_at_end(self) -> bool:
        for event in reversed(self.events):
            if event != MELODY_NO_EVENT:
                return event >= MIN_MIDI_PITCH
        return False

    def add_note(self, pitch: int, start_step: int, end_step: int) -> None:
        """Write a note from ``start_step`` to ``end_step`` (both relative to the melody start).

        The melody is first cut (or padded) to ``end_step + 1`` events, then the note overwrites
        everything from its start on: an earlier note still sounding at ``start_step`` is cut
        there, and an earlier NOTE_OFF inside the new note is erased (note-seq's ``_add_note``).
        """
        if start_step >= end_step:
            raise EncodingError(
                f"a note must end after it starts (start={start_step}, end={end_step})"
            )
        self.set_length(end_step + 1)
        self.events[start_step] = int(pitch)
        self.events[start_step + 1 : end_step] = [MELODY_NO_EVENT] * (end_step - start_step - 1)
        self.events[end_step] = MELODY_NOTE_OFF

    def increase_resolution(self, k: int) -> None:
        """Make every step ``k`` steps (events followed by k-1 NO_EVENTs), scaling all offsets."""
        out: list[int] = []
        for event in self.events:
            out.append(event)
            out.extend([MELODY_NO_EVENT] * (k - 1))
        self.events = out
        self.start_step *= k
        self.steps_per_bar *= k
        self.steps_per_quarter *= k

    # -- pitch --------------------------------------------------------------------------------

    def get_note_histogram(self) -> np.ndarray:
        return note_histogram(self.events)

    def get_major_key_histogram(self) -> np.ndarray:
        return major_key_histogram(self.events)

    def get_major_key(self) -> int:
        return major_key(self.events)

    def transpose(self, transpose_amount: int, min_note: int = 0, max_note: int = 128) -> None:
        """Move every pitch by ``transpose_amount`` and fold it into [min_note, max_note)."""
        self.events = transpose_pitches(self.events, transpose_amount, min_note, max_note).tolist()

    def squash(self, min_note: int, max_note: int, transpose_to_key: int | None = None) -> int:
        """Transpose into ``transpose_to_key`` (major; None = keep the key), centre the melody in
        [min_note, max_note) by octaves, fold the rest in by octaves; return the amount moved."""
        amount = squash_amount(self.events, min_note, max_note, transpose_to_key)
        self.transpose(amount, min_note, max_note)
        return amount

    # -- sequences ----------------------------------------------------------------------------

    @classmethod
    def from_quantized_sequence(
        cls,
        quantized_sequence: NoteSequence,
        search_start_step: int = 0,
        instrument: int = 0,
        gap_bars: float = 1,
        ignore_polyphonic_notes: bool = False,
        pad_end: bool = False,
        filter_drums: bool = True,
    ) -> Melody:
        """The first melody of ``instrument`` at or after ``search_start_step`` (note-seq's rules).

        The melody starts at the bar line before its first note (bars counted from
        ``search_start_step``). Drum notes (with ``filter_drums``) and velocity-0 notes are
        skipped. Two notes starting on one step raise :class:`PolyphonicMelodyError`, or with
        ``ignore_polyphonic_notes`` the highest is kept. A later note starting under an earlier
        one cuts it. The melody ends before the first note that starts ``gap_bars`` bars or more
        after the previous note ended. The final NOTE_OFF is dropped; ``pad_end`` pads to a whole
        bar (writing that NOTE_OFF back when padding is added). With no usable note the melody is
        empty with ``start_step`` 0.

        Raises :class:`QuantizationStatusError` (not quantized relative to tempo),
        :class:`NonIntegerStepsPerBarError`, :class:`PolyphonicMelodyError`.
        """
        chosen = _select_melody_notes(
            quantized_sequence,
            search_start_step,
            instrument,
            gap_bars,
            ignore_polyphonic_notes,
            filter_drums,
        )
        melody = cls(
            steps_per_bar=chosen.steps_per_bar,
            steps_per_quarter=quantized_sequence.quantization_info.steps_per_quarter,
        )
        if not chosen.starts:
            return melody
        length = chosen.ends[-1] + 1
        events = np.full(length, MELODY_NO_EVENT, dtype=np.int64)
        events[chosen.ends] = MELODY_NOTE_OFF
        events[chosen.starts] = chosen.pitches  # a note ending where the next starts: onset wins
        melody.events = events[:-1].tolist()  # drop the final NOTE_OFF
        melody.start_step = chosen.origin
        if pad_end:
            melody.set_length(len(melody) + (-len(melody)) % chosen.steps_per_bar)
        return melody

    def to_sequence(
        self,
        velocity: int = 100,
        instrument: int = 0,
        program: int = 0,
        sequence_start_time: float = 0.0,
        qpm: float = DEFAULT_QPM,
    ) -> NoteSequence:
        """An unquantized NoteSequence of the melody (note-seq's ``Melody.to_sequence``).

        Every note gets ``velocity``, ``instrument`` and ``program``; the melody's step 0 lies at
        ``sequence_start_time + start_step`` steps; one tempo (``qpm``), 220 ticks per quarter,
        no time or key signature; ``total_time`` is the end of the last note.
        """
        pitches, starts, ends = _note_spans(self.events)
        return _timed_sequence(
            pitches,
            starts,
            ends,
            origin_step=self.start_step,
            velocity=velocity,
            instrument=instrument,
            program=program,
            sequence_start_time=sequence_start_time,
            qpm=qpm,
            steps_per_quarter=self.steps_per_quarter,
        )


# --- extract_melodies ---------------------------------------------------------------------------


def extract_melodies(
    quantized_sequence: NoteSequence,
    search_start_step: int = 0,
    min_bars: int = 7,
    max_steps_truncate: int | None = None,
    max_steps_discard: int | None = None,
    gap_bars: float = 1.0,
    min_unique_pitches: int = 5,
    ignore_polyphonic_notes: bool = True,
    pad_end: bool = False,
    filter_drums: bool = True,
) -> tuple[list[Melody], dict]:
    """Every melody of every instrument, filtered, like Magenta's ``extract_melodies``.

    For each instrument (ascending; Magenta walks a ``set``, the same order for small numbers)
    melodies are read one after another with :meth:`Melody.from_quantized_sequence`; each search
    starts at the first bar line (counted from ``search_start_step``) at or after the previous
    melody's end. An empty melody ends the instrument; a :class:`PolyphonicMelodyError` abandons
    it (``polyphonic_tracks_discarded``). Each melody then goes through, in order: too short
    (< ``min_bars`` bars) -> discarded; longer than ``max_steps_discard`` -> discarded; longer
    than ``max_steps_truncate`` -> truncated (to a whole bar if ``pad_end``); fewer than
    ``min_unique_pitches`` pitch classes -> discarded.

    Returns ``(melodies, stats)``: ``stats`` holds the five counters of
    :data:`EXTRACT_COUNTERS` as ints and ``"melody_lengths_in_bars"``, a dict {bars: count} of
    the kept melodies (Magenta buckets the same values into a histogram).
    Raises :class:`QuantizationStatusError` for an unquantized sequence and
    :class:`NonIntegerStepsPerBarError` when a bar is not a whole number of steps (only when
    there are notes to read, as in Magenta).
    """
    _require_relative_quantized(quantized_sequence)
    stats: dict = {name: 0 for name in EXTRACT_COUNTERS}
    lengths: dict[int, int] = {}
    melodies: list[Melody] = []
    for instrument in sorted({n.instrument for n in quantized_sequence.notes}):
        search_step = search_start_step
        while True:
            try:
                melody = Melody.from_quantized_sequence(
                    quantized_sequence,
                    search_start_step=search_step,
                    instrument=instrument,
                    gap_bars=gap_bars,
                    ignore_polyphonic_notes=ignore_polyphonic_notes,
                    pad_end=pad_end,
                    filter_drums=filter_drums,
                )
            except PolyphonicMelodyError:
                stats["polyphonic_tracks_discarded"] += 1
                break
            spb = melody.steps_per_bar
            search_step = melody.end_step + (search_start_step - melody.end_step) % spb
            if not melody:
                break
            if len(melody) < spb * min_bars:
                stats["melodies_discarded_too_short"] += 1
                continue
            if max_steps_discard is not None and len(melody) > max_steps_discard:
                stats["melodies_discarded_too_long"] += 1
                continue
            if max_steps_truncate is not None and len(melody) > max_steps_truncate:
                length = max_steps_truncate
                if pad_end:
                    length -= max_steps_truncate % spb
                melody.set_length(length)
                stats["melodies_truncated"] += 1
            if np.count_nonzero(melody.get_note_histogram()) < min_unique_pitches:
                stats["melodies_discarded_too_few_pitches"] += 1
                continue
            bars = len(melody) // spb
            lengths[bars] = lengths.get(bars, 0) + 1
            melodies.append(melody)
    stats["melody_lengths_in_bars"] = lengths
    return melodies, stats


# --- magenta.js -----------------------------------------------------------------------------------


def _require_quantized(qns: NoteSequence) -> None:
    if not qns.is_quantized:
        raise QuantizationStatusError(
            "the sequence is not quantized; call quantize_note_sequence(ns) first"
        )


def _magenta_js_kept_notes(
    qns: NoteSequence, min_pitch: int, max_pitch: int, ignore_polyphony: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pitches, starts, ends) of the notes magenta.js writes, in writing order.

    All notes, sorted by (start, pitch descending); a note starting where the previously kept
    one started is skipped (or, without ``ignore_polyphony``, an error); a kept note out of
    [min_pitch, max_pitch] raises :class:`PitchOutOfRangeError` with magenta.js's message.
    """
    notes = sorted(qns.notes, key=lambda n: (n.quantized_start_step, -n.pitch))
    pitches = np.array([n.pitch for n in notes], dtype=np.int64)
    starts = np.array([n.quantized_start_step for n in notes], dtype=np.int64)
    ends = np.array([n.quantized_end_step for n in notes], dtype=np.int64)
    repeat = np.zeros(len(notes), dtype=bool)
    repeat[1:] = starts[1:] == starts[:-1]
    bad = (pitches < min_pitch) | (pitches > max_pitch)
    # The first problem in note order wins, as in magenta.js's single pass.
    problems = np.flatnonzero(repeat | bad)
    for i in problems:
        if repeat[i]:
            if not ignore_polyphony:
                raise PolyphonicMelodyError(_JS_NOT_MONOPHONIC)
            continue
        raise PitchOutOfRangeError(_JS_OUT_OF_RANGE.format(int(pitches[i])))
    keep = ~repeat
    return pitches[keep], starts[keep], ends[keep]


def melody_from_sequence_magenta_js(
    qns: NoteSequence,
    min_pitch: int,
    max_pitch: int,
    num_steps: int | None = None,
    ignore_polyphony: bool = True,
) -> np.ndarray:
    """Melody events of a quantized sequence exactly as magenta.js's ``MelodyConverter`` reads it.

    ``max_pitch`` is inclusive. The array has ``num_steps`` events (``None`` or 0: the sequence's
    ``total_quantized_steps``). All notes count: no instrument, drum or velocity filter, no
    transposition. In (start, pitch descending) order each kept note writes its pitch at its
    start and NOTE_OFF at its end; later writes win and writes past the end are dropped, so a
    note ending where the next begins leaves no NOTE_OFF, and an earlier long note's NOTE_OFF can
    cut a later note short. Simultaneous starts keep the highest pitch (the others are not range
    checked) or, with ``ignore_polyphony=False``, raise :class:`PolyphonicMelodyError`.
    Raises :class:`PitchOutOfRangeError` ("`NoteSequence` has a pitch outside of the valid
    range: P") for a kept pitch outside [min_pitch, max_pitch].

    Returns note-seq style events (-2 NO_EVENT, -1 NOTE_OFF, pitch); magenta.js's class index of
    an event is 0, 1 or ``pitch - min_pitch + 2``.
    """
    _require_quantized(qns)
    length = int(num_steps or qns.total_quantized_steps)
    pitches, starts, ends = _magenta_js_kept_notes(qns, min_pitch, max_pitch, ignore_polyphony)
    # Writes in magenta.js order: start_0, end_0, start_1, end_1, ...; the last write of an index
    # wins, so keep the last occurrence of every index.
    index = np.column_stack([starts, ends]).ravel()
    value = np.column_stack([pitches, np.full_like(pitches, MELODY_NOTE_OFF)]).ravel()
    inside = (index >= 0) & (index < length)
    index, value = index[inside][::-1], value[inside][::-1]
    index, last = np.unique(index, return_index=True)
    events = np.full(length, MELODY_NO_EVENT, dtype=np.int64)
    events[index] = value[last]
    return events


def melody_to_sequence_magenta_js(
    events,
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
    qpm: float = DEFAULT_QPM,
    velocity: int = 100,
) -> NoteSequence:
    """The quantized NoteSequence magenta.js's ``Melody.toNoteSequence`` decodes from events.

    A pitch event ends the sounding note and starts a new one; NOTE_OFF ends the sounding note;
    a note still sounding at the end ends at ``len(events)``. The sequence is quantized at
    ``steps_per_quarter`` with one tempo (``qpm``) and no time signature, and
    ``total_quantized_steps = len(events)``, as in magenta.js. Two additions: every note gets
    ``velocity`` (magenta.js leaves it unset, i.e. 0, which most MIDI writers would treat as a
    note-off; its MIDI writer then uses 100, hence the default) and times in seconds at ``qpm``
    (magenta.js fills those only when it unquantizes); ``total_time`` is ``len(events)`` steps.
    """
    ev = np.asarray(events, dtype=np.int64)
    pitches, starts, ends = _note_spans(ev)
    return _quantized_js_sequence(pitches, starts, ends, ev.size, steps_per_quarter, qpm, velocity)


def _quantized_js_sequence(pitches, starts, ends, length, steps_per_quarter, qpm, velocity):
    seconds_per_step = 60.0 / qpm / steps_per_quarter
    ns = NoteSequence(
        tempos=[Tempo(qpm=qpm)],
        quantization_info=QuantizationInfo(steps_per_quarter=steps_per_quarter),
        total_quantized_steps=int(length),
        total_time=int(length) * seconds_per_step,
    )
    for pitch, start, end in zip(
        np.asarray(pitches).tolist(), np.asarray(starts).tolist(), np.asarray(ends).tolist()
    ):
        ns.notes.append(
            Note(
                pitch=pitch,
                velocity=velocity,
                start_time=start * seconds_per_step,
                end_time=end * seconds_per_step,
                quantized_start_step=start,
                quantized_end_step=end,
            )
        )
    return ns


# --- round-trip contracts ---------------------------------------------------------------------


def project_melody(
    qns: NoteSequence,
    min_note: int = 0,
    max_note: int = 128,
    transpose_to_key: int | None = None,
    instrument: int = 0,
    velocity: int = 100,
    program: int = 0,
    qpm: float | None = None,
) -> NoteSequence:
    """What the note-seq melody path keeps of a quantized sequence, computed note by note.

    The contract: with ``m = Melody.from_quantized_sequence(qns, instrument=instrument,
    gap_bars=math.inf, ignore_polyphonic_notes=True)``, ``m.squash(min_note, max_note,
    transpose_to_key)`` and ``m.to_sequence(velocity, instrument, program, qpm=qpm)`` (``qpm``
    defaults to the sequence's first tempo), the result equals ``project_melody(qns, ...)``:

    * only the notes of ``instrument`` that are not drums and have a velocity;
    * of the notes starting on one step only the highest;
    * each note ends at its own end or at the next kept note's start, whichever comes first;
    * every pitch moved by the squash amount (key to ``transpose_to_key``, centred by octaves;
      0 without a key) and folded into [min_note, max_note) by octaves;
    * all notes with ``velocity``, ``instrument`` and ``program``; one tempo; no time signature;
      times counted from the bar line before the instrument's first note, in seconds at ``qpm``.

    A whole piece is one melody here (no gap splitting); :func:`extract_melodies` adds splitting
    and filtering on top.
    """
    _require_relative_quantized(qns)
    steps_per_bar = qns.whole_steps_per_bar()
    own = [n for n in qns.notes if n.instrument == instrument]
    origin = 0
    if own:
        first = min(n.quantized_start_step for n in own)
        origin = first - first % steps_per_bar
    top: dict[int, Note] = {}
    for note in own:
        if note.is_drum or not note.velocity:
            continue
        best = top.get(note.quantized_start_step)
        if best is None or note.pitch > best.pitch:
            top[note.quantized_start_step] = note
    starts = np.array(sorted(top), dtype=np.int64)
    pitches = np.array([top[s].pitch for s in starts.tolist()], dtype=np.int64)
    ends = np.array([top[s].quantized_end_step for s in starts.tolist()], dtype=np.int64)
    ends[:-1] = np.minimum(ends[:-1], starts[1:])
    amount = squash_amount(pitches, min_note, max_note, transpose_to_key)
    pitches = transpose_pitches(pitches, amount, min_note, max_note)
    return _timed_sequence(
        pitches,
        starts - origin,
        ends - origin,
        origin_step=origin,
        velocity=velocity,
        instrument=instrument,
        program=program,
        sequence_start_time=0.0,
        qpm=qns.qpm if qpm is None else qpm,
        steps_per_quarter=qns.quantization_info.steps_per_quarter,
    )


def project_melody_magenta_js(
    qns: NoteSequence,
    min_pitch: int,
    max_pitch: int,
    num_steps: int | None = None,
    velocity: int = 100,
) -> NoteSequence:
    """What the magenta.js melody path keeps of a quantized sequence, computed note by note.

    The contract: ``melody_to_sequence_magenta_js(melody_from_sequence_magenta_js(qns, min_pitch,
    max_pitch, num_steps), steps_per_quarter, velocity=velocity)`` equals this (same errors too):

    * all notes, any instrument, drums included; of the notes starting on one step the highest;
    * notes starting at or after the length (``num_steps`` or ``total_quantized_steps``) vanish;
    * a kept note ends at the first of: the next kept note's start, the end of any kept note
      started so far (itself included) that lies after its start, the length;
    * pitches unchanged, every note with ``velocity``, at 120 qpm.
    """
    _require_quantized(qns)
    length = int(num_steps or qns.total_quantized_steps)
    pitches, starts, ends = _magenta_js_kept_notes(qns, min_pitch, max_pitch, True)
    out_pitches, out_starts, out_ends = [], [], []
    pending_ends: list[int] = []  # ends of the notes started so far that may still cut a note
    for i, (pitch, start, end) in enumerate(zip(pitches.tolist(), starts.tolist(), ends.tolist())):
        heapq.heappush(pending_ends, end)
        while pending_ends and pending_ends[0] <= start:
            heapq.heappop(pending_ends)
        if start >= length:
            continue
        stop = length
        if i + 1 < len(starts):
            stop = min(stop, int(starts[i + 1]))
        if pending_ends:
            stop = min(stop, pending_ends[0])
        out_pitches.append(pitch)
        out_starts.append(start)
        out_ends.append(stop)
    steps_per_quarter = qns.quantization_info.steps_per_quarter or DEFAULT_STEPS_PER_QUARTER
    return _quantized_js_sequence(
        out_pitches, out_starts, out_ends, length, steps_per_quarter, DEFAULT_QPM, velocity
    )


__all__ = [
    "EXTRACT_COUNTERS",
    "Melody",
    "extract_melodies",
    "major_key",
    "major_key_histogram",
    "melody_from_sequence_magenta_js",
    "melody_to_sequence_magenta_js",
    "note_histogram",
    "project_melody",
    "project_melody_magenta_js",
    "squash_amount",
    "transpose_pitches",
]
