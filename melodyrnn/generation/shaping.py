"""Keeping a real-file continuation in the primer's key, register and phrase: the rules.

:func:`melodyrnn.generation.primer.continue_primer` applies these; this module holds them:

* **Key fitting** (:func:`fit_amount`): the primer is moved so that the seven notes of its
  estimated key (:attr:`~melodyrnn.events.keys.KeyEstimate.collection`) become those of the key
  the model was trained in (``transpose_to_key``, C major for Magenta's configs, where minor
  tunes sit as A minor), then by octaves to the middle of the model's range, as Magenta's
  squash centres it; the continuation is moved back by the same amount.
* **Register** (:func:`default_register`): the primer melody's lowest to highest pitch widened
  by :data:`REGISTER_MARGIN` semitones, inside the piano's :data:`PIANO_RANGE`. The margin
  comes from data: on the folk collections' melodies cut in half, 99.3 % of the second
  halves' notes lie within the first half's range ± 5 semitones (98.1 % for ± 4, 90.6 % for 0).
* **Endings** (:func:`ending_mask`), by constrained decoding (a logit mask at each of the last
  bar's steps; nothing is edited afterwards): ``"free"`` leaves the model alone (Magenta's
  behaviour); ``"bar"`` makes the continuation end on a bar line (its length is rounded up to
  the next one) with a final note that starts on a beat of the last bar and is held to the bar
  line; ``"tonic"`` does the same with the tonic of the primer's key as the final note. In the
  last bar, before the final note, no other note may start; on its last beat the final note
  must start if it has not.
"""

from __future__ import annotations

import numpy as np

from melodyrnn.constants import MELODY_NO_EVENT, NOTES_PER_OCTAVE
from melodyrnn.errors import PrimerError
from melodyrnn.models.families import class_events

__all__ = [
    "ENDINGS",
    "PIANO_RANGE",
    "REGISTER_MARGIN",
    "check_ending",
    "default_register",
    "ending_mask",
    "ending_steps",
    "fit_amount",
]

ENDINGS = ("free", "bar", "tonic")
PIANO_RANGE = (21, 108)
REGISTER_MARGIN = 5


def check_ending(ending: str) -> str:
    if ending not in ENDINGS:
        raise PrimerError(
            f"{{ending}} must be one of {', '.join(ENDINGS)}, got {ending!r}",
            parameters=("ending",),
        )
    return ending


def fit_amount(events, min_note: int, max_note: int, to_key: int | None, collection: int) -> int:
    """Semitones that move major key ``collection`` to ``to_key`` and centre the melody in
    [min_note, max_note) by octaves (halves round to even, like Magenta's squash); 0 without
    a key to move to or without notes."""
    ev = np.asarray(events, dtype=np.int64)
    pitches = ev[ev >= 0]
    if to_key is None or pitches.size == 0:
        return 0
    key_diff = int(to_key) - int(collection)
    centre = (int(pitches.min()) + int(pitches.max())) / 2
    target = (min_note + max_note - 1) / 2
    return key_diff + NOTES_PER_OCTAVE * int(round((target - (centre + key_diff)) / 12.0))


def default_register(low: int, high: int, margin: int = REGISTER_MARGIN) -> tuple[int, int]:
    """The primer's register ``low..high`` widened by ``margin``, inside :data:`PIANO_RANGE`."""
    bottom, top = PIANO_RANGE
    lo = min(max(low - margin, bottom), top)
    hi = max(min(high + margin, top), bottom)
    return min(lo, hi), max(lo, hi)


def ending_steps(end_step: int, steps: int, steps_per_bar: int, ending: str) -> int:
    """The continuation length: ``steps``, rounded up to the next bar line unless ``free``."""
    if check_ending(ending) == "free":
        return steps
    return steps + (-(end_step + steps)) % steps_per_bar


def _targets(ending: str, tonic: int | None, allowed: np.ndarray | None, model_range) -> np.ndarray:
    """bool [128] in the model's space: the pitches the final note may have."""
    low, high = model_range
    inside = np.zeros(128, dtype=bool)
    inside[low : high + 1] = True
    ok = inside if allowed is None else inside & allowed
    if ending == "tonic":
        tonic_pitches = inside & (np.arange(128) % NOTES_PER_OCTAVE == tonic % NOTES_PER_OCTAVE)
        ok = ok & tonic_pitches
        if not ok.any():  # the register holds no tonic: the tonics the model can play
            ok = tonic_pitches
    return ok if ok.any() else inside


def ending_mask(
    base,
    encoder,
    *,
    ending: str,
    primer_steps: int,
    end_step: int,
    total_steps: int,
    steps_per_bar: int,
    beat_steps: int,
    tonic: int | None,
    allowed: np.ndarray | None,
    model_range: tuple[int, int],
):
    """A mask callable for the sampler: ``base`` (the family's pitch mask, or None) and the
    ending's rule over the last bar (module docstring). Steps count the continuation from 0;
    ``end_step`` is where it starts in bar-aligned steps, ``tonic`` a pitch class in the model's
    space. ``"free"`` returns ``base`` unchanged."""
    if check_ending(ending) == "free":
        return base
    targets = _targets(ending, tonic, allowed, model_range)
    finish = end_step + total_steps
    downbeat = finish - steps_per_bar  # bar-aligned step of the last bar's first beat
    window = max(0, downbeat - end_step)  # the same as a continuation step (or 0)
    last_beat = total_steps - min(beat_steps, steps_per_bar)

    def mask(histories: np.ndarray) -> np.ndarray:
        events = class_events(encoder, histories)
        ok = np.ones(events.shape, dtype=bool) if base is None else base(histories).copy()
        t = histories.shape[1] - primer_steps
        if t < window:
            return ok
        started = (histories[:, primer_steps + window :] >= 0).any(axis=1)
        pitched = events >= 0
        on_beat = (end_step + t - downbeat) % beat_steps == 0
        final = np.zeros(events.shape, dtype=bool)
        final[pitched] = targets[events[pitched]]
        rule = np.where(pitched, final & on_beat, True)
        if t >= last_beat:
            rule = final
        held = events == MELODY_NO_EVENT
        rule = np.where(started[:, None], held, rule)
        combined = ok & rule
        # The base mask never forbids the final note's pitch or a hold after it, so this is
        # empty only where the base forbids a hold at the first step: keep the rule alone.
        empty = ~combined.any(axis=1)
        combined[empty] = rule[empty]
        return combined

    return mask
