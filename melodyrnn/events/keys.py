"""Key and mode of a melody: the file's key signature when the notes agree, else a key profile.

Magenta's estimate (:func:`~melodyrnn.events.melody_events.major_key`) counts note onsets in
each major scale and takes the lowest key among ties, so a pentatonic tune in G (G A B D E,
in C, G and D major alike) is read as C major, and a minor tune as its relative major. This
module estimates honestly:

1. **Weights.** Each note weighs its duration in steps, times ``downbeat`` on the first step
   of a bar, ``beat`` on another beat, and the last note of the melody ``last`` times more
   (:class:`KeyWeights`; :data:`DEFAULT_WEIGHTS` were chosen on the folk collections' ABC
   ``K:`` fields, see ``bench/bench_keys.py``).
2. **Profile.** The weighted pitch-class histogram is correlated (Pearson) with the 24
   rotations of a major and a minor key profile (:data:`PROFILES`: Krumhansl–Kessler 1982,
   Temperley 1999, Albrecht–Shanahan 2013); the best one is the estimate.
   :data:`DEFAULT_PROFILE` is the one that agreed best with the key signatures measured.
3. **Signature.** A key signature in the file is believed when the notes agree with it: at
   least :data:`SIGNATURE_AGREEMENT` of the weight lies in its scale (its diatonic notes plus
   the leading tone of its minor), and its key (or its relative) scores within
   :data:`SIGNATURE_MARGIN` of the best profile score. Between the signature's key and its
   relative major/minor the profile decides, with the signature's own mode favoured by the
   same margin. A contradicted signature (a placeholder C major on a tune in D) is ignored.
4. **Collection.** For transposing into a model trained on Magenta's squashed data, what
   matters is the diatonic scale (the seven notes), not the tonic: :attr:`KeyEstimate.collection`
   is the major scale holding the most note onsets, as in Magenta, but ties go to the estimated
   key's own scale instead of the lowest key (a D-dorian tune keeps C major's notes; Amazing
   Grace's pentatonic G A B D E is G major's, not C's). Onset counts agreed with key signatures
   more often than duration-weighted shares (bench/bench_keys.py).

Nothing here imports torch. :mod:`melodyrnn.generation.primer` uses the estimate to fit
primers; :mod:`melodyrnn.summary` prints it next to the file's signature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from melodyrnn.constants import KEY_NAMES, MAJOR_SCALE, NOTES_PER_OCTAVE
from melodyrnn.events.melody_events import major_key, note_spans

__all__ = [
    "DEFAULT_PROFILE",
    "DEFAULT_WEIGHTS",
    "PROFILES",
    "SIGNATURE_AGREEMENT",
    "SIGNATURE_MARGIN",
    "KeyEstimate",
    "KeyWeights",
    "estimate_key",
    "estimate_melody_key",
    "magenta_key",
    "pitch_class_weights",
    "profile_scores",
]

MAJOR, MINOR = "major", "minor"

# Published key profiles, tonic first: (major, minor).
PROFILES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "krumhansl_kessler": (
        (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
        (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17),
    ),
    "temperley": (
        (5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0),
        (5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0),
    ),
    "albrecht_shanahan": (
        (0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081),
        (0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052),
    ),
}
DEFAULT_PROFILE = "albrecht_shanahan"
SIGNATURE_AGREEMENT = 0.9  # share of the weight inside the signature's scale
SIGNATURE_MARGIN = 0.15  # how far (in correlation) a believed signature may trail the best
COLLECTION_TIE = 0.01  # near-ties: there the estimated key's own scale wins


@dataclass(frozen=True)
class KeyWeights:
    """How much a note's duration counts: on a downbeat, on a beat, and for the last note."""

    downbeat: float = 1.5
    beat: float = 1.0
    last: float = 5.0


DEFAULT_WEIGHTS = KeyWeights()


@dataclass(frozen=True)
class KeyEstimate:
    """A melody's key: ``tonic`` 0..11, ``mode`` "major"/"minor", ``collection`` the major key
    whose seven notes the melody uses, ``source`` "signature", "profile" or "magenta", and the
    profile ``score`` (Pearson correlation; nan for Magenta's estimate)."""

    tonic: int
    mode: str
    collection: int
    source: str
    score: float = float("nan")

    @property
    def name(self) -> str:
        return f"{KEY_NAMES[self.tonic]} {self.mode}"

    @property
    def scale_pitch_classes(self) -> frozenset[int]:
        """The seven pitch classes of :attr:`collection`."""
        return frozenset((self.collection + s) % NOTES_PER_OCTAVE for s in MAJOR_SCALE)

    def to_dict(self) -> dict:
        score = None if np.isnan(self.score) else round(float(self.score), 4)
        return {"key": self.name, "source": self.source, "score": score}


def relative_major(tonic: int, mode: str) -> int:
    """The major key with the same seven notes: C for A minor."""
    return tonic % 12 if mode == MAJOR else (tonic + 3) % 12


def pitch_class_weights(
    pitches,
    starts,
    ends,
    steps_per_bar: int = 16,
    beat_steps: int = 4,
    weights: KeyWeights = DEFAULT_WEIGHTS,
) -> np.ndarray:
    """float [12]: the weighted pitch-class histogram of notes (step 1 of the module doc).

    ``starts`` are steps counted from a bar line; ``ends`` exclusive.
    """
    pitches = np.asarray(pitches, dtype=np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    w = np.maximum(np.asarray(ends, dtype=np.float64) - starts, 1.0)
    if len(w):
        w = np.where(starts % max(1, steps_per_bar) == 0, w * weights.downbeat, w)
        on_beat = (starts % max(1, beat_steps) == 0) & (starts % max(1, steps_per_bar) != 0)
        w = np.where(on_beat, w * weights.beat, w)
        w[np.argmax(starts)] *= weights.last
    hist = np.zeros(NOTES_PER_OCTAVE)
    np.add.at(hist, pitches % NOTES_PER_OCTAVE, w)
    return hist


def profile_scores(histogram, profile: str = DEFAULT_PROFILE) -> np.ndarray:
    """float [24]: Pearson correlation with each key, 0..11 major then 0..11 minor."""
    hist = np.asarray(histogram, dtype=np.float64)
    out = np.zeros(2 * NOTES_PER_OCTAVE)
    if hist.std() == 0:
        return out
    for m, values in enumerate(PROFILES[profile]):
        base = np.asarray(values, dtype=np.float64)
        for tonic in range(NOTES_PER_OCTAVE):
            out[m * NOTES_PER_OCTAVE + tonic] = np.corrcoef(hist, np.roll(base, tonic))[0, 1]
    return out


def _scale_share(hist: np.ndarray, major: int, leading_tone: bool = False) -> float:
    classes = {(major + s) % 12 for s in MAJOR_SCALE}
    if leading_tone:
        classes.add((major + 8) % 12)  # the raised 7th of the relative minor
    total = hist.sum()
    return float(hist[sorted(classes)].sum() / total) if total else 1.0


def _collection(hist: np.ndarray, preferred: int) -> int:
    shares = np.array([_scale_share(hist, k) for k in range(12)])
    if shares[preferred] >= shares.max() - COLLECTION_TIE:
        return preferred
    return int(np.argmax(shares))


def estimate_key(
    histogram,
    signature: tuple[int, int | str] | None = None,
    profile: str = DEFAULT_PROFILE,
    onsets=None,
) -> KeyEstimate:
    """The key of a weighted pitch-class histogram (see the module docstring).

    ``signature``: the file's (tonic, mode), mode 0/"major" or 1/"minor", or None.
    ``onsets``: notes per pitch class (default: ``histogram``), for choosing the collection.
    """
    hist = np.asarray(histogram, dtype=np.float64)
    scores = profile_scores(hist, profile)
    best = int(np.argmax(scores))
    if signature is not None:
        tonic, mode = int(signature[0]) % 12, signature[1]
        mode = MINOR if mode in (1, MINOR) else MAJOR
        major = relative_major(tonic, mode)
        own = tonic + (12 if mode == MINOR else 0)
        other = (major + 9) % 12 + 12 if mode == MAJOR else major
        if scores[other] > scores[own] + SIGNATURE_MARGIN:
            own = other
        agrees = _scale_share(hist, major, leading_tone=True) >= SIGNATURE_AGREEMENT
        if agrees and scores[own] >= scores[best] - SIGNATURE_MARGIN:
            return KeyEstimate(own % 12, MINOR if own >= 12 else MAJOR, major, "signature",
                               float(scores[own]))  # fmt: skip
    tonic, mode = best % 12, MINOR if best >= 12 else MAJOR
    counts = hist if onsets is None else np.asarray(onsets, dtype=np.float64)
    collection = _collection(counts, relative_major(tonic, mode))
    return KeyEstimate(tonic, mode, collection, "profile", float(scores[best]))


def estimate_melody_key(
    events,
    steps_per_bar: int = 16,
    beat_steps: int = 4,
    signature: tuple[int, int | str] | None = None,
    *,
    start_step: int = 0,
    profile: str = DEFAULT_PROFILE,
    weights: KeyWeights = DEFAULT_WEIGHTS,
) -> KeyEstimate:
    """The key of a melody event array whose step 0 lies ``start_step`` steps after a bar line."""
    pitches, starts, ends = note_spans(events)
    hist = pitch_class_weights(
        pitches, np.asarray(starts) + start_step, np.asarray(ends) + start_step,
        steps_per_bar, beat_steps, weights,
    )  # fmt: skip
    onsets = np.bincount(np.asarray(pitches) % NOTES_PER_OCTAVE, minlength=NOTES_PER_OCTAVE)
    return estimate_key(hist, signature, profile, onsets)


def magenta_key(events) -> KeyEstimate:
    """Magenta's estimate (onsets per major scale, lowest key on ties), as a KeyEstimate."""
    key = major_key(np.asarray(events, dtype=np.int64))
    return KeyEstimate(key, MAJOR, key, "magenta")
