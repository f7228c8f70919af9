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

import math
import numbers
from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np

from melodyrnn.constants import DEFAULT_STEPS_PER_QUARTER
from melodyrnn.errors import DatasetError, MelodyRNNError
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

    def __post_init__(self):
        if isinstance(self.transpositions, list):
            self.transpositions = tuple(self.transpositions)
        check_settings(self)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["transpositions"] = list(self.transpositions)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DatasetSettings:
        d = dict(d)
        d["transpositions"] = tuple(d.get("transpositions", (0,)))
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def check_settings(settings: DatasetSettings) -> None:
    """DatasetError, naming the parameter, for the first setting no dataset can be built with."""

    def fail(message: str, *names: str) -> None:
        raise DatasetError(message, parameters=names)

    def whole(name: str, low: int | None, high: int | None = None, none: bool = False) -> None:
        value = getattr(settings, name)
        if value is None and none:
            return
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            ok = False
        else:
            ok = (low is None or value >= low) and (high is None or value <= high)
        if not ok:
            span = (
                f" {low}..{high}" if high is not None else f" >= {low}" if low is not None else ""
            )
            fail(f"{{{name}}} must be a whole number{span}{' or None' * none}, got {value!r}", name)

    def real(name: str) -> float:
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            fail(f"{{{name}}} must be a number, got {value!r}", name)
        return value

    whole("min_note", 0, 127)
    whole("max_note", 1, 128)
    low, high = settings.min_note, settings.max_note
    if low >= high:
        fail(f"{{min_note}} ({low}) must be below {{max_note}} ({high})", "min_note", "max_note")
    if high - low < 12:
        fail(
            f"{{min_note}}..{{max_note}} is {low}..{high}: the range must span at least an "
            "octave (12 pitches), as melodies are moved into it by octaves",
            "min_note",
            "max_note",
        )
    whole("transpose_to_key", 0, 11, none=True)
    whole("steps_per_quarter", 1)
    whole("min_bars", 0)
    whole("max_steps", 1, none=True)
    whole("min_unique_pitches", 0, 12)
    whole("seed", None)
    if not 0 < real("gap_bars") < math.inf:
        fail(f"{{gap_bars}} must be a number of bars > 0, got {settings.gap_bars!r}", "gap_bars")
    if not 0 <= real("eval_fraction") <= 1:
        fraction = settings.eval_fraction
        fail(f"{{eval_fraction}} must lie between 0 and 1, got {fraction!r}", "eval_fraction")
    if not isinstance(settings.keep_highest, bool):
        fail(
            f"{{keep_highest}} must be True or False, got {settings.keep_highest!r}", "keep_highest"
        )
    moves = settings.transpositions
    if (
        not isinstance(moves, tuple)
        or not moves
        or not all(
            isinstance(t, numbers.Integral) and not isinstance(t, bool) and -127 <= t <= 127
            for t in moves
        )
    ):
        fail(
            "{transpositions} must be one or more whole numbers of semitones -127..127 "
            f"(0 keeps the melody), got {moves!r}",
            "transpositions",
        )


def squashed_melodies(
    ns, settings: DatasetSettings, stats: Counter, *, consume: bool = False
) -> list[tuple]:
    """``(melody, squash amount)`` pairs of one NoteSequence; what was dropped goes to ``stats``.

    The melody pipeline itself: split on time changes, quantize, (transpose), extract, squash.
    ``consume=True``: the caller gives ``ns`` away (it is quantized in place when it has no
    time change to split on, instead of being copied first).
    """
    out = []
    for piece in split_on_time_changes(ns, copy_instrument_infos=False, copy=not consume):
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


def melodies_from_sequence(
    ns, settings: DatasetSettings, stats: Counter, *, consume: bool = False
) -> list[np.ndarray]:
    """Squashed melody event arrays (int8) of one NoteSequence (``consume``: see
    :func:`squashed_melodies`)."""
    return [
        np.asarray(melody.to_array(), dtype=np.int8)
        for melody, _ in squashed_melodies(ns, settings, stats, consume=consume)
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


__all__ = ["DatasetSettings", "check_settings", "melodies_from_sequence", "squashed_melodies"]
