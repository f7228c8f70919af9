"""Round-trip contracts: what each melody representation keeps of a sequence, note by note.

:func:`project_melody` states what the note-seq path (:meth:`Melody.from_quantized_sequence
<melodyrnn.events.melody.Melody.from_quantized_sequence>`, ``squash``, ``to_sequence``) keeps;
:func:`project_melody_magenta_js` what the magenta.js path
(:mod:`melodyrnn.events.magenta_js`, read then written back) keeps. Each is computed
directly from the notes, not through the event list, so the tests can check the two against
each other.
"""

from __future__ import annotations

import heapq

import numpy as np

from melodyrnn.constants import DEFAULT_STEPS_PER_QUARTER
from melodyrnn.events.base import (
    quantized_sequence,
    require_quantized,
    require_relative_quantized,
    timed_sequence,
)
from melodyrnn.events.magenta_js import magenta_js_kept_notes
from melodyrnn.events.melody_events import squash_amount, transpose_pitches
from melodyrnn.sequence import DEFAULT_QPM, Note, NoteSequence


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

    A whole piece is one melody here (no gap splitting);
    :func:`~melodyrnn.events.melody.extract_melodies` adds splitting and filtering on top.
    """
    require_relative_quantized(qns)
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
    return timed_sequence(
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
    require_quantized(qns)
    length = int(num_steps or qns.total_quantized_steps)
    pitches, starts, ends = magenta_js_kept_notes(qns, min_pitch, max_pitch, True)
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
    return quantized_sequence(
        out_pitches, out_starts, out_ends, length, steps_per_quarter, DEFAULT_QPM, velocity
    )


__all__ = ["project_melody", "project_melody_magenta_js"]
