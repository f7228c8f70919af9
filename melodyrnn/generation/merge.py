"""One output file of a continuation: the source file plus the new notes, or the new notes alone.

:func:`merge_continuation` works for every primer kind
(:class:`~melodyrnn.generation.primer.Primer`,
:class:`~melodyrnn.generation.drum_primer.DrumPrimer`): the primer decodes its events into notes
placed in the source file's time (``primer.notes_of``); this module puts them in a file.
"""

from __future__ import annotations

import numpy as np

from melodyrnn.generation.sections import latest
from melodyrnn.sequence import InstrumentInfo, KeySignature, NoteSequence, Tempo, TimeSignature

__all__ = ["merge_continuation"]


def merge_continuation(primer, events: np.ndarray, exclude_primer: bool = False) -> NoteSequence:
    """The output sequence of one variation (:mod:`melodyrnn.generation.primer`'s docstring,
    step 5); ``primer`` a :class:`~melodyrnn.generation.primer.Primer` or a
    :class:`~melodyrnn.generation.drum_primer.DrumPrimer`."""
    notes = primer.notes_of(events)
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
    meter = latest(src.time_signatures, begin)
    if meter is not None:
        out.time_signatures = [TimeSignature(0.0, meter.numerator, meter.denominator)]
    key = latest(src.key_signatures, begin)
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


def _in_force(events, time: float, attr: str, default):
    event = latest(events, time)
    return getattr(event, attr) if event is not None else default
