"""What melodies and drum tracks share: quantization checks, the step grid, and sequences out.

Both event lists (:mod:`melodyrnn.events.melody`, :mod:`melodyrnn.events.drums`) are read from a
quantized :class:`~melodyrnn.sequence.NoteSequence` and written back as one. The helpers here are
the parts that do not depend on what an event means:

* :func:`require_relative_quantized` / :func:`require_quantized`: the checks before reading;
* :func:`next_bar_line`: where the next extraction search starts after an event list;
* :func:`timed_sequence`: an unquantized sequence of notes at steps (note-seq's ``to_sequence``);
* :func:`quantized_sequence`: a quantized sequence of notes at steps (magenta.js's
  ``toNoteSequence``).

The arithmetic is note-seq's and magenta.js's, so times match theirs bit for bit.
"""

from __future__ import annotations

import numpy as np

from melodyrnn.errors import QuantizationStatusError
from melodyrnn.sequence import STANDARD_PPQ, Note, NoteSequence, QuantizationInfo, Tempo

RELATIVE_QUANTIZED_MESSAGE = (
    "the sequence is not quantized relative to tempo; "
    "call quantize_note_sequence(ns, steps_per_quarter) first"
)
QUANTIZED_MESSAGE = "the sequence is not quantized; call quantize_note_sequence(ns) first"


def require_relative_quantized(
    qns: NoteSequence, message: str = RELATIVE_QUANTIZED_MESSAGE
) -> None:
    """Raise :class:`QuantizationStatusError` (with ``message``) unless ``qns`` is quantized
    relative to tempo (steps per quarter)."""
    if not qns.is_relative_quantized:
        raise QuantizationStatusError(message)


def require_quantized(qns: NoteSequence, message: str = QUANTIZED_MESSAGE) -> None:
    """Raise :class:`QuantizationStatusError` (with ``message``) unless ``qns`` is quantized."""
    if not qns.is_quantized:
        raise QuantizationStatusError(message)


def next_bar_line(step: int, grid_start: int, steps_per_bar: int) -> int:
    """The first bar line at or after ``step``, bars counted from ``grid_start``.

    Magenta's extractors start their next search there after an event list ending at ``step``.
    """
    return step + (grid_start - step) % steps_per_bar


def fit_length(
    events, steps_per_bar: int, min_bars, max_steps_discard, max_steps_truncate, pad_end: bool
) -> str | None:
    """Magenta's length rules for an extracted melody or drum track, in this order: shorter
    than ``min_bars`` bars -> "discarded_too_short"; longer than ``max_steps_discard`` ->
    "discarded_too_long"; longer than ``max_steps_truncate`` -> cut to that many steps (to a
    whole bar with ``pad_end``) and "truncated"; else None. ``events`` has ``set_length``."""
    if len(events) < steps_per_bar * min_bars:
        return "discarded_too_short"
    if max_steps_discard is not None and len(events) > max_steps_discard:
        return "discarded_too_long"
    if max_steps_truncate is not None and len(events) > max_steps_truncate:
        length = max_steps_truncate
        if pad_end:
            length -= max_steps_truncate % steps_per_bar
        events.set_length(length)
        return "truncated"
    return None


def timed_sequence(
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
    is_drum: bool = False,
) -> NoteSequence:
    """The unquantized NoteSequence note-seq's ``to_sequence`` writes for these notes.

    Note ``i`` has pitch ``pitches[i]`` and lasts from step ``steps[i]`` to ``ends[i]``, steps
    counted from ``origin_step``, which lies ``origin_step`` steps after ``sequence_start_time``.
    One tempo (``qpm``), 220 ticks per quarter, no time or key signature; ``total_time`` is the
    end of the last note.
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
                is_drum=is_drum,
            )
        )
    if ns.notes:
        ns.total_time = ns.notes[-1].end_time
    return ns


def quantized_sequence(
    pitches,
    starts,
    ends,
    length: int,
    steps_per_quarter: int,
    qpm: float,
    velocity: int,
    is_drum: bool = False,
) -> NoteSequence:
    """The quantized NoteSequence magenta.js's ``toNoteSequence`` decodes for these notes.

    Note ``i`` lasts from step ``starts[i]`` to ``ends[i]``; the sequence is quantized at
    ``steps_per_quarter`` with one tempo (``qpm``) and ``total_quantized_steps = length``. Times in
    seconds at ``qpm`` are filled in too (magenta.js does that only when it unquantizes), and
    ``total_time`` is ``length`` steps.
    """
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
                is_drum=is_drum,
            )
        )
    return ns


__all__ = [
    "QUANTIZED_MESSAGE",
    "RELATIVE_QUANTIZED_MESSAGE",
    "next_bar_line",
    "quantized_sequence",
    "require_quantized",
    "require_relative_quantized",
    "timed_sequence",
]
