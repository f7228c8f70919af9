"""Melodies and drums the way magenta.js reads and writes them (MusicRNN in the browser).

magenta.js's data converters differ on purpose from note-seq's readings
(:mod:`melodyrnn.events.melody`, :mod:`melodyrnn.events.drums`): the whole quantized sequence is
read, every note of every instrument merged (no instrument, drum or velocity filter), into an
array of fixed length, nothing is transposed, and a pitch it cannot encode is an error (melodies)
or silence (drums) instead of being moved or dropped. Events are plain integer arrays:

* ``MelodyConverter``: :func:`melody_from_sequence_magenta_js` reads note-seq style melody
  events (-2 NO_EVENT, -1 NOTE_OFF, pitch), :func:`melody_to_sequence_magenta_js` writes them
  back; :func:`magenta_js_kept_notes` (the notes the reading writes) is shared with
  :func:`~melodyrnn.events.projections.project_melody_magenta_js`;
* ``DrumsOneHotConverter``: :func:`drums_from_sequence_magenta_js` reads raw drum labels (class
  bitmasks, possibly 512 or more), :func:`drums_to_sequence_magenta_js` writes them back; the
  class table, ``MAGENTA_JS_DRUM_PITCH_CLASSES``, is in :mod:`melodyrnn.events.drums`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from melodyrnn.constants import DEFAULT_STEPS_PER_QUARTER, MELODY_NO_EVENT, MELODY_NOTE_OFF
from melodyrnn.errors import PitchOutOfRangeError, PolyphonicMelodyError
from melodyrnn.events.base import quantized_sequence, require_quantized, require_relative_quantized
from melodyrnn.events.drums import (
    MAGENTA_JS_DRUM_PITCH_CLASSES,
    drum_pitch_classes,
)
from melodyrnn.events.melody_events import note_spans
from melodyrnn.sequence import DEFAULT_QPM, NoteSequence

# --- MelodyConverter --------------------------------------------------------------------------

# magenta.js's own error messages.
_OUT_OF_RANGE = "`NoteSequence` has a pitch outside of the valid range: {}"
_NOT_MONOPHONIC = "`NoteSequence` is not monophonic."


def magenta_js_kept_notes(
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
                raise PolyphonicMelodyError(_NOT_MONOPHONIC)
            continue
        raise PitchOutOfRangeError(_OUT_OF_RANGE.format(int(pitches[i])))
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
    require_quantized(qns)
    length = int(num_steps or qns.total_quantized_steps)
    pitches, starts, ends = magenta_js_kept_notes(qns, min_pitch, max_pitch, ignore_polyphony)
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
    pitches, starts, ends = note_spans(ev)
    return quantized_sequence(pitches, starts, ends, ev.size, steps_per_quarter, qpm, velocity)


# --- DrumsOneHotConverter ---------------------------------------------------------------------


def _pitch_class_lookup(table: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """An int array over MIDI pitches 0..127: the class of each pitch, -1 for none."""
    lookup = np.full(128, -1, dtype=np.int64)
    for cls, group in enumerate(table):
        for pitch in group:
            if 0 <= pitch < 128:
                lookup[pitch] = cls
    return lookup


_JS_CLASS_OF_PITCH = _pitch_class_lookup(MAGENTA_JS_DRUM_PITCH_CLASSES)


def drums_from_sequence_magenta_js(qns: NoteSequence, num_steps: int | None = None) -> np.ndarray:
    """Raw magenta.js drum labels (int64, one per step), exactly as ``DrumsOneHotConverter``.

    Every note counts (no drum, velocity or instrument filter): its step's label gains
    ``2**class`` (magenta.js table), so two notes of one class add twice and a label can be 512 or
    more (magenta.js feeds an all-zero one-hot row there). A pitch in no class makes the step's
    label NaN, which becomes 0: the whole step is silent. ``num_steps`` defaults to
    ``total_quantized_steps`` (as does 0, like JavaScript's ``||``). As in JavaScript, a note
    starting at or after ``num_steps`` lengthens the array up to its step with labels of 0, and a
    note at a negative step is ignored.
    """
    require_relative_quantized(
        qns,
        "magenta.js drum encoding needs a sequence quantized relative to tempo; "
        "call quantize_note_sequence() first",
    )
    num_steps = num_steps or qns.total_quantized_steps
    starts = np.array([n.quantized_start_step for n in qns.notes], dtype=np.int64)
    pitches = np.array([n.pitch for n in qns.notes], dtype=np.int64)
    keep = starts >= 0
    starts, pitches = starts[keep], pitches[keep]
    length = max(num_steps, int(starts.max()) + 1) if starts.size else num_steps

    in_table = (pitches >= 0) & (pitches < 128)
    classes = np.where(in_table, _JS_CLASS_OF_PITCH[np.clip(pitches, 0, 127)], -1)
    values = np.where(classes >= 0, 2.0 ** np.maximum(classes, 0), np.nan)
    # Steps past num_steps start as JavaScript's `undefined`, so anything added there is NaN.
    values[starts >= num_steps] = np.nan

    labels = np.zeros(length, dtype=np.float64)
    np.add.at(labels, starts, values)
    return np.nan_to_num(labels, nan=0.0).astype(np.int64)


def drums_to_sequence_magenta_js(
    labels,
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
    qpm: float = 120.0,
    velocity: int = 0,
    pitch_classes: str | Sequence[Sequence[int]] = "magenta_js",
) -> NoteSequence:
    """Decode drum labels the way ``DrumsOneHotConverter.toNoteSequence`` does.

    Per step and per set bit in class order, the first pitch of that class (magenta.js's table,
    or the ``pitch_classes`` given), one step long, ``is_drum``. A label outside
    ``0..2**classes - 1`` (0..511 for a 9-class table; an all-zero one-hot row) plays nothing.
    The result is quantized (``total_quantized_steps = len(labels)``, one tempo at ``qpm``);
    notes have magenta.js's missing velocity, 0, unless ``velocity`` says otherwise, and their
    times are filled in from ``qpm`` for convenience.
    """
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    first_pitches = [group[0] for group in drum_pitch_classes(pitch_classes)]
    num_events = 2 ** len(first_pitches)
    pitches, steps = [], []
    for step, label in enumerate(labels.tolist()):
        if not 0 <= label < num_events:
            continue
        for cls, pitch in enumerate(first_pitches):
            if (label >> cls) & 1:
                pitches.append(pitch)
                steps.append(step)
    ends = [step + 1 for step in steps]
    return quantized_sequence(
        pitches, steps, ends, len(labels), steps_per_quarter, qpm, velocity, is_drum=True
    )


__all__ = [
    "drums_from_sequence_magenta_js",
    "drums_to_sequence_magenta_js",
    "magenta_js_kept_notes",
    "melody_from_sequence_magenta_js",
    "melody_to_sequence_magenta_js",
]
