"""Keys and scales, for constraining generation to the notes a user wants."""

from __future__ import annotations

import numpy as np

from melodyrnn.constants import LETTER_PITCH_CLASSES
from melodyrnn.errors import ConfigError

# Semitone offsets from the tonic.
SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),  # natural minor
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "melodic_minor": (0, 2, 3, 5, 7, 9, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
    "major_pentatonic": (0, 2, 4, 7, 9),
    "minor_pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
    "chromatic": tuple(range(12)),
}
_ALIASES = {"ionian": "major", "aeolian": "minor", "natural_minor": "minor"}


def parse_key(name: str) -> int:
    """A tonic name ("C", "F#", "Bb", "eb") -> pitch class 0..11."""
    text = name.strip()
    if not text or text[0].upper() not in LETTER_PITCH_CLASSES:
        raise ConfigError(f"unknown key {name!r}; use a note name such as C, F#, Bb")
    pc = LETTER_PITCH_CLASSES[text[0].upper()]
    for accidental in text[1:]:
        if accidental in "#♯":
            pc += 1
        elif accidental in "b♭":
            pc -= 1
        else:
            raise ConfigError(f"unknown key {name!r}; use a note name such as C, F#, Bb")
    return pc % 12


def scale_pitch_classes(key: str | int, scale: str = "major") -> frozenset[int]:
    """The pitch classes of ``scale`` on tonic ``key``, e.g. ("A", "harmonic_minor")."""
    tonic = parse_key(key) if isinstance(key, str) else int(key) % 12
    name = scale.strip().lower().replace(" ", "_").replace("-", "_")
    name = _ALIASES.get(name, name)
    if name not in SCALES:
        raise ConfigError(f"unknown scale {scale!r}; known scales: {', '.join(SCALES)}")
    return frozenset((tonic + step) % 12 for step in SCALES[name])


def allowed_pitches(
    pitch_range: tuple[int, int] | None = None,
    key: str | int | None = None,
    scale: str | None = None,
) -> np.ndarray | None:
    """bool [128]: the MIDI pitches inside ``pitch_range`` (inclusive) and the scale of ``key``
    (``scale`` defaults to major, ``key`` to C); None when nothing is constrained."""
    if pitch_range is None and key is None and scale is None:
        return None
    allowed = np.ones(128, dtype=bool)
    if pitch_range is not None:
        low, high = pitch_range
        allowed[:] = False
        allowed[max(0, int(low)) : min(127, int(high)) + 1] = True
    if key is not None or scale is not None:
        classes = scale_pitch_classes(key if key is not None else 0, scale or "major")
        allowed &= np.isin(np.arange(128) % 12, list(classes))
    return allowed
