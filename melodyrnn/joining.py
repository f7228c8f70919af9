"""Joining sequences end to end: a primer and its continuation as one NoteSequence.

:func:`concatenate` is what magenta.js users know as ``mm.sequences.concatenate`` and note-seq
users as ``sequences_lib.concatenate_sequences``: each sequence starts where the ones before it
end (their ``total_time``, or ``total_quantized_steps`` when quantized, or the durations
given), and the tempo, meter and key of a later sequence are kept only where they change.
"""

from __future__ import annotations

from melodyrnn.errors import QuantizationStatusError
from melodyrnn.sequence import ITEM_TYPES, NoteSequence

# Items whose repeats (the same value again at a later time) say nothing new.
_STATES = {
    "tempos": ("qpm",),
    "time_signatures": ("numerator", "denominator"),
    "key_signatures": ("key", "mode"),
}


def concatenate(
    sequences: list[NoteSequence], durations: list[float] | None = None
) -> NoteSequence:
    """One sequence of ``sequences`` played one after the other (a new object; the inputs are
    not changed).

    Unquantized sequences are shifted in seconds: sequence k starts at the sum of the durations
    of those before it (``durations[i]`` in seconds, default each one's ``total_time``).
    Quantized ones must share steps per quarter and are shifted in steps (``durations`` then
    in steps, default ``total_quantized_steps``); their times in seconds move with the first
    sequence's tempo. Mixing quantized and unquantized sequences is a QuantizationStatusError.
    """
    if not sequences:
        return NoteSequence()
    if durations is not None and len(durations) != len(sequences):
        raise ValueError(f"got {len(durations)} durations for {len(sequences)} sequences")
    quantized = {ns.is_quantized for ns in sequences}
    if len(quantized) > 1:
        raise QuantizationStatusError(
            "concatenate needs all sequences quantized or all unquantized; quantize the "
            "unquantized ones (quantize_note_sequence) first"
        )
    first = sequences[0]
    if first.is_quantized:
        grids = {(ns.quantization_info.steps_per_quarter, ns.quantization_info.steps_per_second)
                 for ns in sequences}  # fmt: skip
        if len(grids) > 1:
            raise QuantizationStatusError(
                "concatenate needs one quantization grid; these sequences have "
                f"{len(grids)} (steps per quarter, steps per second) pairs"
            )
        spq, sps = next(iter(grids))
        seconds_per_step = 60.0 / (first.qpm * spq) if spq else 1.0 / sps
        lengths = durations or [ns.total_quantized_steps for ns in sequences]
    else:
        seconds_per_step = None
        lengths = durations or [ns.total_time for ns in sequences]

    out = first.copy()
    for name in ITEM_TYPES:
        setattr(out, name, [])
    offset = 0
    for ns, length in zip(sequences, lengths):
        seconds = offset * seconds_per_step if seconds_per_step is not None else offset
        steps = int(offset) if seconds_per_step is not None else 0
        _append_shifted(out, ns.copy(), seconds, steps)
        offset += length
    if seconds_per_step is not None:
        out.total_quantized_steps = int(offset)
        out.total_time = offset * seconds_per_step
    else:
        out.total_time = float(offset)
    return out


def _append_shifted(out: NoteSequence, ns: NoteSequence, seconds: float, steps: int) -> None:
    """Add the items of ``ns`` to ``out``, ``seconds`` (and ``steps``) later."""
    for note in ns.notes:
        note.start_time += seconds
        note.end_time += seconds
        note.quantized_start_step += steps
        note.quantized_end_step += steps
    out.notes.extend(ns.notes)
    for name in ("tempos", "time_signatures", "key_signatures", "control_changes",
                 "pitch_bends", "text_annotations"):  # fmt: skip
        for item in getattr(ns, name):
            item.time += seconds
            if hasattr(item, "quantized_step"):
                item.quantized_step += steps
            kept = getattr(out, name)
            fields = _STATES.get(name)
            if fields and kept and all(getattr(kept[-1], f) == getattr(item, f) for f in fields):
                continue  # the same tempo, meter or key again
            kept.append(item)
    known = {info.instrument for info in out.instrument_infos}
    out.instrument_infos.extend(i for i in ns.instrument_infos if i.instrument not in known)


__all__ = ["concatenate"]
