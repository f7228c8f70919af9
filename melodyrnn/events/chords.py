"""Chord symbols, the chord encodings ImprovRNN is conditioned on, and progressions over steps.

A chord symbol is read as four parts, the way note-seq reads it: a root (``C``, ``F#``, ``Bb``),
a kind (``m``, ``7``, ``maj7``, ``dim``, ``sus4``, ...), optional scale-degree modifications
(``add9``, ``b5``, ``#9``, ``no3``, each optionally in parentheses) and an optional slash bass
(``/D``). :func:`parse_chord_symbol` agrees with note-seq's ``chord_symbol_pitches``,
``chord_symbol_root`` and ``chord_symbol_bass`` on every symbol note-seq accepts, and also takes
a few common spellings note-seq does not: ``Δ``/``Δ7`` (major 7th), ``°`` (diminished), ``°7``,
``ø``/``ø7`` (half-diminished), ``♯``/``♭`` accidentals, ``NC``/``N.C`` for no chord, and
surrounding whitespace.

Encodings (``width`` = length of one control row):

* :class:`PitchChordsEncoding` (37): ``[0]`` no chord, ``[1..12]`` root one-hot, ``[13..24]``
  pitch-class multi-hot, ``[25..36]`` bass one-hot. note-seq honours a slash bass; magenta.js's
  ``PitchChordEncoder`` always uses the root (``slash_bass=False``).
* :class:`TriadChordOneHotEncoding` (49): 0 no chord, 1-12 major, 13-24 minor, 25-36 augmented,
  37-48 diminished, by the chord's triad (a 7th chord counts as its triad); other kinds
  (sus, power, ...) cannot be encoded.
* :class:`MajorMinorChordOneHotEncoding` (25): 0 no chord, 1-12 major, 13-24 minor.

Progressions: Magenta's improv CLI holds each chord for ``steps_per_chord`` steps
(:func:`chords_per_step_magenta`); magenta.js spreads the list evenly over all steps
(:func:`chords_per_step_magenta_js`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from melodyrnn.constants import KEY_NAMES, LETTER_PITCH_CLASSES, NOTES_PER_OCTAVE
from melodyrnn.errors import ChordEncodingError, ChordSymbolError

NO_CHORD = "N.C."
_NO_CHORD_SPELLINGS = {"N.C.", "N.C", "NC", "N/C"}


# Chord qualities (the triad inside the chord), as note-seq numbers them.
MAJOR, MINOR, AUGMENTED, DIMINISHED, OTHER = 0, 1, 2, 3, 4

# Semitones above the root of the unaltered scale degrees 1..7 (9, 11, 13 fold onto 2, 4, 6).
_DEGREE_SEMITONES = {1: 0, 2: 2, 3: 4, 4: 5, 5: 7, 6: 9, 7: 11}

# Chord kinds: spellings -> scale degrees as (degree, alteration in semitones).
_KIND_TABLE: list[tuple[tuple[str, ...], tuple[tuple[int, int], ...]]] = [
    (("", "maj", "M"), ((1, 0), (3, 0), (5, 0))),
    (("m", "min", "-"), ((1, 0), (3, -1), (5, 0))),
    (("+", "aug"), ((1, 0), (3, 0), (5, 1))),
    (("o", "dim", "°"), ((1, 0), (3, -1), (5, -1))),
    (("7",), ((1, 0), (3, 0), (5, 0), (7, -1))),
    (("maj7", "M7", "Δ", "Δ7"), ((1, 0), (3, 0), (5, 0), (7, 0))),
    (("m7", "min7", "-7"), ((1, 0), (3, -1), (5, 0), (7, -1))),
    (("o7", "dim7", "°7"), ((1, 0), (3, -1), (5, -1), (7, -2))),
    (("+7", "aug7"), ((1, 0), (3, 0), (5, 1), (7, -1))),
    (("m7b5", "-7b5", "/o", "/o7", "ø", "ø7"), ((1, 0), (3, -1), (5, -1), (7, -1))),
    (
        (
            "mmaj7",
            "mM7",
            "minmaj7",
            "minM7",
            "-maj7",
            "-M7",
            "m(maj7)",
            "m(M7)",
            "min(maj7)",
            "min(M7)",
            "-(maj7)",
            "-(M7)",
        ),
        ((1, 0), (3, -1), (5, 0), (7, 0)),
    ),
    (("6",), ((1, 0), (3, 0), (5, 0), (6, 0))),
    (("m6", "min6", "-6"), ((1, 0), (3, -1), (5, 0), (6, 0))),
    (("9",), ((1, 0), (3, 0), (5, 0), (7, -1), (9, 0))),
    (("maj9", "M9", "Δ9"), ((1, 0), (3, 0), (5, 0), (7, 0), (9, 0))),
    (("m9", "min9", "-9"), ((1, 0), (3, -1), (5, 0), (7, -1), (9, 0))),
    (("+9", "aug9"), ((1, 0), (3, 0), (5, 1), (7, -1), (9, 0))),
    (("6/9",), ((1, 0), (3, 0), (5, 0), (6, 0), (9, 0))),
    (("11",), ((1, 0), (3, 0), (5, 0), (7, -1), (9, 0), (11, 0))),
    (("maj11", "M11"), ((1, 0), (3, 0), (5, 0), (7, 0), (9, 0), (11, 0))),
    (("m11", "min11", "-11"), ((1, 0), (3, -1), (5, 0), (7, -1), (9, 0), (11, 0))),
    (("13",), ((1, 0), (3, 0), (5, 0), (7, -1), (9, 0), (11, 0), (13, 0))),
    (("maj13", "M13"), ((1, 0), (3, 0), (5, 0), (7, 0), (9, 0), (11, 0), (13, 0))),
    (("m13", "min13", "-13"), ((1, 0), (3, -1), (5, 0), (7, -1), (9, 0), (11, 0), (13, 0))),
    (("sus2",), ((1, 0), (2, 0), (5, 0))),
    (("sus", "sus4"), ((1, 0), (4, 0), (5, 0))),
    (("sus7", "7sus"), ((1, 0), (4, 0), (5, 0), (7, -1))),
    (("ped",), ((1, 0),)),
    (("5",), ((1, 0), (5, 0))),
]
_KIND_DEGREES = {spelling: degrees for spellings, degrees in _KIND_TABLE for spelling in spellings}

# Longest spellings first, so e.g. "m7b5" is one kind rather than "m7" + "b5" (same pitches).
_KIND_ALTERNATION = "|".join(
    re.escape(s) for s in sorted(_KIND_DEGREES, key=lambda s: (-len(s), s))
)
_PITCH = r"[A-G](?:#+|b+)?(?![#b])"
# A modification; parentheses need not balance (note-seq accepts "(b5" and "add9)" too).
_MODIFICATION_RE = re.compile(r"\(?(add#|addb|add|no|#|b)([0-9]+)\)?")
_SYMBOL_RE = re.compile(
    rf"(?P<root>{_PITCH})(?P<kind>{_KIND_ALTERNATION})"
    r"(?P<mods>(?:\(?(?:add#|addb|add|no|#|b)[0-9]+\)?)*)"
    rf"(?:/(?P<bass>{_PITCH}))?"
)


@dataclass(frozen=True)
class Chord:
    """A parsed chord symbol; ``root``/``bass`` are ``None`` and ``pitch_classes`` empty for N.C."""

    symbol: str
    root: int | None
    pitch_classes: frozenset[int]
    bass: int | None
    quality: int

    @property
    def is_no_chord(self) -> bool:
        return self.root is None


def is_no_chord(symbol: str) -> bool:
    """True for "N.C." and its spellings "NC", "N.C", "N/C"."""
    return symbol.strip() in _NO_CHORD_SPELLINGS


def _pitch_class(text: str) -> int:
    letter, accidentals = text[0], text[1:]
    shift = len(accidentals) if accidentals.startswith("#") else -len(accidentals)
    return (LETTER_PITCH_CLASSES[letter] + shift) % 12


def _apply_modification(degrees: dict[int, int], kind: str, degree: int, symbol: str) -> None:
    """Apply one of note-seq's scale-degree modifications to ``degrees`` (degree -> alteration)."""
    if kind.startswith("add"):
        if degree in degrees:
            raise ChordSymbolError(f"chord symbol {symbol!r} adds degree {degree} it already has")
        alteration = {"add": 0, "add#": 1, "addb": -1}[kind]
        # "add7" means the dominant (flat) seventh.
        degrees[degree] = alteration - 1 if degree == 7 else alteration
    elif kind == "no":
        if degree not in degrees:
            raise ChordSymbolError(f"chord symbol {symbol!r} removes degree {degree} it lacks")
        del degrees[degree]
    else:  # "#" or "b": alter the degree, adding it if absent
        degrees[degree] = degrees.get(degree, 0) + (1 if kind == "#" else -1)


def _quality(degrees: dict[int, int]) -> int:
    if not all(d in degrees for d in (1, 3, 5)):
        return OTHER
    triad = (degrees[1], degrees[3], degrees[5])
    return {(0, 0, 0): MAJOR, (0, -1, 0): MINOR, (0, 0, 1): AUGMENTED, (0, -1, -1): DIMINISHED}.get(
        triad, OTHER
    )


def parse_chord_symbol(symbol: str) -> Chord:
    """Parse a chord symbol into root, pitch classes and bass (pitch class 0 = C).

    Raises :class:`ChordSymbolError` naming the symbol when it cannot be read.
    """
    if not isinstance(symbol, str):
        raise ChordSymbolError(f"chord symbol {symbol!r} is not a string")
    return _parse_chord_symbol(symbol)


@lru_cache(maxsize=4096)
def _parse_chord_symbol(symbol: str) -> Chord:
    text = symbol.strip().replace("♯", "#").replace("♭", "b")
    if text in _NO_CHORD_SPELLINGS:
        return Chord(symbol, None, frozenset(), None, OTHER)
    match = _SYMBOL_RE.fullmatch(text)
    if match is None:
        raise ChordSymbolError(
            f"cannot parse chord symbol {symbol!r}; write e.g. C, Am7, F#m7b5, Bb/D or N.C."
        )
    root = _pitch_class(match["root"])
    degrees = dict(_KIND_DEGREES[match["kind"]])
    for kind, number in _MODIFICATION_RE.findall(match["mods"]):
        _apply_modification(degrees, kind, int(number), symbol)
    pitch_classes = frozenset(
        (root + _DEGREE_SEMITONES[(degree - 1) % 7 + 1] + alteration) % 12
        for degree, alteration in degrees.items()
    )
    bass = _pitch_class(match["bass"]) if match["bass"] else root
    return Chord(symbol, root, pitch_classes, bass, _quality(degrees))


def chord_root(symbol: str) -> int:
    """Root pitch class (0-11) of a chord symbol; raises for N.C."""
    return _require_chord(symbol).root


def chord_pitch_classes(symbol: str) -> frozenset[int]:
    """Pitch classes of the chord (the slash bass is not added unless it is a chord tone)."""
    return parse_chord_symbol(symbol).pitch_classes


def chord_bass(symbol: str) -> int:
    """Bass pitch class: the slash bass if given, else the root; raises for N.C."""
    return _require_chord(symbol).bass


def chord_quality(symbol: str) -> int:
    """MAJOR, MINOR, AUGMENTED, DIMINISHED or OTHER, from the triad the chord contains."""
    return parse_chord_symbol(symbol).quality


def _require_chord(symbol: str) -> Chord:
    chord = parse_chord_symbol(symbol)
    if chord.is_no_chord:
        raise ChordSymbolError(f"{symbol!r} is 'no chord': it has no root or bass")
    return chord


# --- encodings --------------------------------------------------------------------------------


class _ChordEncoding:
    """Shared face: ``width``, ``encode_chord(symbol)`` -> row, ``encode_controls(chords)``."""

    name: str
    width: int

    def encode_chord(self, symbol: str) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def encode_controls(self, chords: Sequence[str]) -> np.ndarray:
        """float32 [n, width]: the row of every chord (each distinct symbol encoded once)."""
        rows = {symbol: self.encode_chord(symbol) for symbol in dict.fromkeys(chords)}
        out = np.zeros((len(chords), self.width), dtype=np.float32)
        for i, symbol in enumerate(chords):
            out[i] = rows[symbol]
        return out

    def spec(self) -> dict:
        return {"type": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class PitchChordsEncoding(_ChordEncoding):
    """37 values: no-chord flag, root one-hot, pitch-class multi-hot, bass one-hot.

    ``slash_bass=True`` (note-seq's ``PitchChordsEncoderDecoder``) encodes the slash bass;
    ``slash_bass=False`` (magenta.js's ``PitchChordEncoder``) always encodes the root as bass.
    """

    name = "pitch_chords"
    width = 1 + 3 * NOTES_PER_OCTAVE

    def __init__(self, slash_bass: bool = True):
        self.slash_bass = slash_bass

    def encode_chord(self, symbol: str) -> np.ndarray:
        row = np.zeros(self.width, dtype=np.float32)
        chord = parse_chord_symbol(symbol)
        if chord.is_no_chord:
            row[0] = 1.0
            return row
        row[1 + chord.root] = 1.0
        row[[1 + NOTES_PER_OCTAVE + p for p in chord.pitch_classes]] = 1.0
        bass = chord.bass if self.slash_bass else chord.root
        row[1 + 2 * NOTES_PER_OCTAVE + bass] = 1.0
        return row

    def spec(self) -> dict:
        return {"type": self.name, "slash_bass": self.slash_bass}

    def __repr__(self) -> str:
        return f"PitchChordsEncoding(slash_bass={self.slash_bass})"


_QUALITY_NAMES = {MAJOR: "", MINOR: "m", AUGMENTED: "aug", DIMINISHED: "dim"}


class _QualityOneHotEncoding(_ChordEncoding):
    """One-hot over 12 roots x the first ``num_qualities`` qualities, plus 0 = no chord."""

    num_qualities: int
    description: str

    @property
    def num_classes(self) -> int:
        return 1 + self.num_qualities * NOTES_PER_OCTAVE

    @property
    def width(self) -> int:  # type: ignore[override]
        return self.num_classes

    @property
    def default_event(self) -> str:
        return NO_CHORD

    def encode_event(self, symbol: str) -> int:
        """Class index of a chord symbol; raises :class:`ChordEncodingError` for other kinds."""
        chord = parse_chord_symbol(symbol)
        if chord.is_no_chord:
            return 0
        if chord.quality >= self.num_qualities:
            raise ChordEncodingError(
                f"chord {symbol!r} is not {self.description}; "
                "use the pitch_chords encoding for other chord kinds"
            )
        return 1 + chord.quality * NOTES_PER_OCTAVE + chord.root

    def decode_event(self, index: int) -> str:
        """A chord symbol for a class index (sharp/flat spelling as note-seq's)."""
        if not 0 <= index < self.num_classes:
            raise ChordEncodingError(f"chord class {index} is outside 0..{self.num_classes - 1}")
        if index == 0:
            return NO_CHORD
        quality, root = divmod(index - 1, NOTES_PER_OCTAVE)
        return KEY_NAMES[root] + _QUALITY_NAMES[quality]

    def encode_chord(self, symbol: str) -> np.ndarray:
        row = np.zeros(self.width, dtype=np.float32)
        row[self.encode_event(symbol)] = 1.0
        return row

    def encode_events(self, chords: Sequence[str]) -> np.ndarray:
        """int64 class indices of a list of chord symbols."""
        return np.array([self.encode_event(c) for c in chords], dtype=np.int64)


class TriadChordOneHotEncoding(_QualityOneHotEncoding):
    """49 classes: 0 N.C., 1-12 major, 13-24 minor, 25-36 augmented, 37-48 diminished."""

    name = "triad_chords"
    num_qualities = 4
    description = "a major, minor, augmented or diminished triad"


class MajorMinorChordOneHotEncoding(_QualityOneHotEncoding):
    """25 classes: 0 N.C., 1-12 major, 13-24 minor."""

    name = "major_minor_chords"
    num_qualities = 2
    description = "major or minor"


_ENCODINGS = {
    "pitch_chords": PitchChordsEncoding,
    "triad_chords": TriadChordOneHotEncoding,
    "major_minor_chords": MajorMinorChordOneHotEncoding,
}


def make_chord_encoding(name: str, **options) -> _ChordEncoding:
    """Build a chord encoding by name: "pitch_chords" (37), "triad_chords" (49) or
    "major_minor_chords" (25). Options go to the class (``slash_bass`` for pitch_chords)."""
    try:
        cls = _ENCODINGS[name]
    except KeyError:
        raise ChordEncodingError(
            f"unknown chord encoding {name!r}; use one of {', '.join(_ENCODINGS)}"
        ) from None
    try:
        return cls(**options)
    except TypeError:
        raise ChordEncodingError(
            f"chord encoding {name!r} takes no options {sorted(options)}"
        ) from None


# --- progressions over steps ------------------------------------------------------------------


def _check_progression(chords: Sequence[str], num_steps: int) -> None:
    if isinstance(chords, str):
        raise ChordSymbolError("give the chords as a list of symbols, e.g. 'C G Am F'.split()")
    if not len(chords):
        raise ChordSymbolError("the chord progression is empty; give at least one chord")
    if num_steps < 0:
        raise ValueError(f"num_steps must be >= 0, got {num_steps}")
    for symbol in chords:
        parse_chord_symbol(symbol)


def chords_per_step_magenta(
    chords: Sequence[str], num_steps: int, steps_per_chord: int = 16
) -> list[str]:
    """Magenta's improv CLI: each chord held for ``steps_per_chord`` steps, in order.

    ``improv_rnn_generate`` repeats every chord of ``--backing_chords`` ``steps_per_chord``
    times and generates exactly that many steps in all. Past the end of the list the last chord
    is held, as Magenta's chord extraction holds the last chord annotation to the end.
    """
    _check_progression(chords, num_steps)
    if steps_per_chord < 1:
        raise ValueError(f"steps_per_chord must be >= 1, got {steps_per_chord}")
    last = len(chords) - 1
    return [chords[min(step // steps_per_chord, last)] for step in range(num_steps)]


def chord_indices_magenta_js(num_chords: int, num_steps: int) -> np.ndarray:
    """magenta.js ``encodeProgression``: step s uses chord ``floor(s * num_chords / num_steps)``."""
    return np.arange(num_steps, dtype=np.int64) * num_chords // max(num_steps, 1)


def chords_per_step_magenta_js(chords: Sequence[str], num_steps: int) -> list[str]:
    """magenta.js: the chord list spread evenly over all ``num_steps`` (primer + continuation).

    Every symbol must parse, even one no step uses (magenta.js encodes them all first).
    """
    _check_progression(chords, num_steps)
    return [chords[i] for i in chord_indices_magenta_js(len(chords), num_steps)]
