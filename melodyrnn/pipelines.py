"""The melody data pipeline, one NoteSequence at a time: split -> quantize -> extract -> squash.

This is Magenta's melody_rnn pipeline for a single sequence: split on tempo / time-signature
changes -> quantize (4 steps per quarter) -> ``extract_melodies`` with the training settings
(min_bars 7, max_steps 512, min_unique_pitches 5, gap_bars 1) -> ``squash`` into the model's
range and key. :class:`DatasetSettings` holds those settings; :func:`squashed_melodies` runs the
pipeline and :func:`melodies_from_sequence` gives its event arrays. Beyond Magenta:

* ``keep_highest=True`` keeps the top note at equal onsets instead of throwing the whole track
  away (Magenta's training discards polyphonic tracks: magenta#884, #1450);
* ``transpositions`` augments the data by moving each quantized piece before extraction.

Datasets built from folders of MIDI files (:mod:`melodyrnn.training.dataset`), ``melodyrnn
encode`` (:mod:`melodyrnn.training.tokens`) and evaluation (:mod:`melodyrnn.training.evaluate`)
all run this pipeline. It uses the event lists (:mod:`melodyrnn.events`) and the sequence
layer below them, and nothing from the encoders or above: it gives events, not model tokens.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np

from melodyrnn.constants import DEFAULT_STEPS_PER_QUARTER
from melodyrnn.errors import MelodyRNNError
from melodyrnn.events.melody import extract_melodies
from melodyrnn.sequence import quantize_note_sequence, split_on_time_changes


@dataclass
class DatasetSettings:
    """How melodies are extracted and normalised (Magenta's melody_rnn training values).

    ``eval_fraction`` and ``seed`` are the dataset split's (:mod:`melodyrnn.training.dataset`);
    the pipeline itself does not use them.
    """

    min_note: int = 48
    max_note: int = 84  # exclusive
    transpose_to_key: int | None = 0
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER
    min_bars: int = 7
    max_steps: int = 512
    min_unique_pitches: int = 5
    gap_bars: float = 1.0
    keep_highest: bool = False
    transpositions: tuple[int, ...] = (0,)
    eval_fraction: float = 0.1
    seed: int = 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["transpositions"] = list(self.transpositions)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DatasetSettings:
        d = dict(d)
        d["transpositions"] = tuple(d.get("transpositions", (0,)))
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def squashed_melodies(ns, settings: DatasetSettings, stats: Counter) -> list[tuple]:
    """``(melody, squash amount)`` pairs of one NoteSequence; what was dropped goes to ``stats``.

    The melody pipeline itself: split on time changes, quantize, (transpose), extract, squash.
    """
    out = []
    for piece in split_on_time_changes(ns, copy_instrument_infos=False):
        try:
            qns = quantize_note_sequence(piece, settings.steps_per_quarter, copy=False)
        except MelodyRNNError as exc:
            stats[f"sequences_discarded_{type(exc).__name__}"] += 1
            continue
        for amount in settings.transpositions:
            shifted = _transpose_sequence(qns, amount) if amount else qns
            if shifted is None:
                stats["transpositions_out_of_range"] += 1
                continue
            try:
                melodies, extract_stats = extract_melodies(
                    shifted,
                    min_bars=settings.min_bars,
                    max_steps_truncate=settings.max_steps,
                    min_unique_pitches=settings.min_unique_pitches,
                    gap_bars=settings.gap_bars,
                    ignore_polyphonic_notes=settings.keep_highest,
                )
            except MelodyRNNError as exc:
                stats[f"sequences_discarded_{type(exc).__name__}"] += 1
                continue
            for key, value in extract_stats.items():
                if isinstance(value, int | np.integer):
                    stats[key] += int(value)
            for melody in melodies:
                squash = melody.squash(
                    settings.min_note, settings.max_note, settings.transpose_to_key
                )
                out.append((melody, squash))
                stats["melodies_kept"] += 1
                stats["steps_kept"] += len(melody)
    return out


def melodies_from_sequence(ns, settings: DatasetSettings, stats: Counter) -> list[np.ndarray]:
    """Squashed melody event arrays (int8) of one NoteSequence."""
    return [
        np.asarray(melody.to_array(), dtype=np.int8)
        for melody, _ in squashed_melodies(ns, settings, stats)
    ]


def _transpose_sequence(qns, amount: int):
    """A copy with every pitched note moved by ``amount``; None if a pitch leaves 0..127."""
    out = qns.copy()
    for note in out.notes:
        if note.is_drum:
            continue
        note.pitch += amount
        if not 0 <= note.pitch <= 127:
            return None
    return out


__all__ = ["DatasetSettings", "melodies_from_sequence", "squashed_melodies"]
