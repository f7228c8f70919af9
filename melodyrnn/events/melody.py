"""Monophonic melodies as event lists: note-seq's ``Melody`` and Magenta's ``extract_melodies``.

A melody has one event per quantized step (16th notes at 4 steps per quarter):

* ``MELODY_NO_EVENT`` (-2): nothing new happens; a sounding note is held, a silence goes on;
* ``MELODY_NOTE_OFF`` (-1): the sounding note stops;
* ``0..127``: a note of that MIDI pitch starts (ending any sounding note, even one of the same
  pitch: that is a re-attack).

A note still sounding at the end of the melody ends there.

:meth:`Melody.from_quantized_sequence` and :func:`extract_melodies` behave exactly like
note-seq's ``Melody.from_quantized_sequence`` and Magenta's ``melody_pipelines.extract_melodies``
(Python training and generation): one instrument at a time, drums and velocity-0 notes skipped,
the melody starts on a bar line, it ends at a long enough silence, polyphony can be an error.
magenta.js reads melodies differently, on purpose: see :mod:`melodyrnn.events.magenta_js`.
The array functions the class is built on live in :mod:`melodyrnn.events.melody_events`; what a
round trip keeps of a sequence is stated in :mod:`melodyrnn.events.projections`.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

from melodyrnn.constants import (
    DEFAULT_STEPS_PER_BAR,
    DEFAULT_STEPS_PER_QUARTER,
    MAX_MELODY_EVENT,
    MELODY_NO_EVENT,
    MELODY_NOTE_OFF,
    MIN_MELODY_EVENT,
    MIN_MIDI_PITCH,
)
from melodyrnn.errors import EncodingError, PolyphonicMelodyError
from melodyrnn.events.base import (
    fit_length,
    next_bar_line,
    require_relative_quantized,
    timed_sequence,
)
from melodyrnn.events.melody_events import (
    InstrumentNotes,
    MelodyNotes,
    major_key,
    major_key_histogram,
    note_histogram,
    note_spans,
    select_melody_notes,
    squash_amount,
    transpose_pitches,
)
from melodyrnn.limits import check_limit, limit
from melodyrnn.sequence import DEFAULT_QPM, NoteSequence

# The stats counters of extract_melodies, in Magenta's order.
EXTRACT_COUNTERS = (
    "polyphonic_tracks_discarded",
    "melodies_discarded_too_short",
    "melodies_discarded_too_few_pitches",
    "melodies_discarded_too_long",
    "melodies_truncated",
)


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
        chosen = select_melody_notes(
            quantized_sequence,
            search_start_step,
            instrument,
            gap_bars,
            ignore_polyphonic_notes,
            filter_drums,
        )
        return cls._from_notes(chosen, quantized_sequence.steps_per_quarter, pad_end)

    @classmethod
    def _from_notes(cls, chosen: MelodyNotes, steps_per_quarter: int, pad_end: bool) -> Melody:
        melody = cls(steps_per_bar=chosen.steps_per_bar, steps_per_quarter=steps_per_quarter)
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
        pitches, starts, ends = note_spans(self.events)
        return timed_sequence(
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
    there are notes to read, as in Magenta), and LimitError where the melodies read pass
    ``max_melody_steps`` (thousands of tracks of notes held for minutes each).
    """
    require_relative_quantized(quantized_sequence)
    stats: dict = {name: 0 for name in EXTRACT_COUNTERS}
    lengths: dict[int, int] = {}
    melodies: list[Melody] = []
    index = InstrumentNotes(quantized_sequence)  # sorted once: the work is linear in notes
    steps_per_quarter = quantized_sequence.steps_per_quarter
    budget, steps_read = limit("max_melody_steps"), 0  # every melody is a list of its steps
    for instrument in index.instruments:
        search_step = search_start_step
        while True:
            try:
                chosen = select_melody_notes(
                    quantized_sequence,
                    search_step,
                    instrument,
                    gap_bars,
                    ignore_polyphonic_notes,
                    filter_drums,
                    index,
                )
                steps_read += chosen.ends[-1] if chosen.ends else 0
                check_limit("max_melody_steps", steps_read, "the melodies' steps", budget)
                melody = Melody._from_notes(chosen, steps_per_quarter, pad_end)
            except PolyphonicMelodyError:
                stats["polyphonic_tracks_discarded"] += 1
                break
            spb = melody.steps_per_bar
            search_step = next_bar_line(melody.end_step, search_start_step, spb)
            if not melody:
                break
            outcome = fit_length(
                melody, spb, min_bars, max_steps_discard, max_steps_truncate, pad_end
            )
            if outcome is not None:
                stats[f"melodies_{outcome}"] += 1
                if outcome != "truncated":
                    continue
            if np.count_nonzero(melody.get_note_histogram()) < min_unique_pitches:
                stats["melodies_discarded_too_few_pitches"] += 1
                continue
            bars = len(melody) // spb
            lengths[bars] = lengths.get(bars, 0) + 1
            melodies.append(melody)
    stats["melody_lengths_in_bars"] = lengths
    return melodies, stats


__all__ = ["EXTRACT_COUNTERS", "Melody", "extract_melodies"]
