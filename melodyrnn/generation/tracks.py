"""Which track of a file is its melody (the first step of reading a real-file primer).

The melody is one track: the one named (``track="Lead"`` or its index as ``melodyrnn inspect``
shows it), or ``"auto"``. Auto never takes a drum-like track (:func:`is_drum_like`: drum
channel, percussive or effect programs 112-127, a drum name, a one- or two-key pattern) unless
the only pitched tracks are one- or two-key patterns on melodic sounds (a monotone line). A
track named like a melody (a word starting vocal, melod, lead, voice, sing, solo or vox) with
at least 8 notes and a tenth of the busiest candidate's wins; otherwise auto scores every
candidate by
``top-line notes × (1 - share of notes starting together) × register weight × name weight``:
register weight 1 when the median pitch lies in 55-84, 0.6 in 48-54 or 85-96, 0.25 elsewhere
(bass lines); name weight 1.5 for names with melody/lead/vocal/voice/solo/tune/theme, 0.5 for
bass/drum/pad/chord/accomp/harmony/string. :mod:`melodyrnn.generation.primer` reads the chosen
track.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from melodyrnn.errors import PrimerError
from melodyrnn.sequence import Note, NoteSequence

__all__ = [
    "PERCUSSIVE_PROGRAMS",
    "TrackChoice",
    "choose_drum_track",
    "choose_melody_track",
    "choose_track",
    "is_drum_like",
    "is_percussive",
    "track_score",
]

# General MIDI's percussive (112-119) and sound-effect (120-127) programs: never a melody.
PERCUSSIVE_PROGRAMS = range(112, 128)
_PERCUSSION_WORDS = ("drum", "perc", "kit", "conga", "bongo", "shaker", "tambourine", "cymbal")
# A track whose name has a word starting with one of these, with enough notes, is the melody.
_NAMED_MELODY = ("vocal", "melod", "lead", "voice", "sing", "solo", "vox")

_MELODY_WORDS = ("melody", "lead", "vocal", "voice", "solo", "tune", "theme")
_ACCOMPANIMENT_WORDS = ("bass", "drum", "pad", "chord", "accomp", "harmony", "string")


def _track_names(ns: NoteSequence) -> dict[int, str]:
    return {info.instrument: info.name for info in ns.instrument_infos}


def _describe_tracks(ns: NoteSequence) -> str:
    names = _track_names(ns)
    seen: dict[int, bool] = {}
    for note in ns.notes:
        seen[note.instrument] = seen.get(note.instrument, False) or note.is_drum
    parts = [
        f"[{i}] {names.get(i) or '(unnamed)'}{' (drums)' if drums else ''}"
        for i, drums in sorted(seen.items())
    ]
    return ", ".join(parts) or "none"


def track_score(notes: list[Note], name: str = "") -> float:
    """How likely a track is the melody (see the module docstring)."""
    if not notes:
        return 0.0
    onsets: dict[float, int] = {}
    for n in notes:
        onsets[n.start_time] = onsets.get(n.start_time, 0) + 1
    top_line = len(onsets)
    shared = sum(c for c in onsets.values() if c > 1) / len(notes)
    median = float(np.median([n.pitch for n in notes]))
    if 55 <= median <= 84:
        register = 1.0
    elif 48 <= median <= 96:
        register = 0.6
    else:
        register = 0.25
    lowered = name.lower()
    weight = 1.0
    if any(w in lowered for w in _MELODY_WORDS):
        weight = 1.5
    elif any(w in lowered for w in _ACCOMPANIMENT_WORDS):
        weight = 0.5
    return top_line * (1.0 - shared) * register * weight


def is_percussive(notes: list[Note], name: str = "") -> bool:
    """Whether a pitched track is percussion by its sound: a percussive or sound-effect program
    (:data:`PERCUSSIVE_PROGRAMS`, e.g. Agogo 113, Taiko 116, Gunshot 127) or a drum-kit name."""
    if any(n.program in PERCUSSIVE_PROGRAMS for n in notes):
        return True
    lowered = name.lower()
    return any(w in lowered for w in _PERCUSSION_WORDS)


def is_drum_like(notes: list[Note], name: str = "") -> bool:
    """Whether a pitched track is really percussion: :func:`is_percussive`, or many notes on
    at most two pitches (a pattern on one or two keys)."""
    if is_percussive(notes, name):
        return True
    return len(notes) >= 16 and len({n.pitch for n in notes}) <= 2


@dataclass(frozen=True)
class TrackChoice:
    """The chosen track and, for ``auto``, the ranking it won (best first)."""

    instrument: int
    name: str
    program: int
    ranking: tuple[tuple[int, float], ...] = ()  # (instrument, score) of every candidate
    reason: str = ""

    def describe(self) -> str:
        """``[3] 'Vocal' (program 54)``, as the CLI prints it."""
        name = f"'{self.name}'" if self.name else "(unnamed)"
        return f"[{self.instrument}] {name} (program {self.program})"


def _program(notes: list[Note]) -> int:
    programs = [n.program for n in notes]
    return max(set(programs), key=programs.count) if programs else 0


def _named_melody(name: str) -> bool:
    words = re.findall(r"[a-z]+", name.lower())
    return any(w.startswith(_NAMED_MELODY) for w in words)


def choose_track(ns: NoteSequence, track: str | int = "auto") -> TrackChoice:
    """The melody track: named, numbered, or chosen (module docstring); with its ranking."""
    names = _track_names(ns)
    pitched: dict[int, list[Note]] = {}
    for note in ns.notes:
        if not note.is_drum:
            pitched.setdefault(note.instrument, []).append(note)
    where = ns.filename or "the primer"
    if track not in (None, "auto"):
        index = _find_track(ns, pitched, track)
        return TrackChoice(index, names.get(index, ""), _program(pitched[index]))
    melodic = {i: n for i, n in pitched.items() if not is_drum_like(n, names.get(i, ""))}
    reason = ""
    if not melodic:  # one- or two-key lines on a melodic sound: a monotone melody, not drums
        melodic = {i: n for i, n in pitched.items() if not is_percussive(n, names.get(i, ""))}
        reason = "the only pitched tracks play one or two keys"
    if not melodic:
        if ns.notes:
            drums, other = ("drum", "") if not pitched else ("drum or percussion", ", or name a "
                                                            "track with {track}")  # fmt: skip
            raise PrimerError(
                f"{where} has only {drums} notes; melody models continue melodies: continue it "
                f"with a drum model, e.g. melodyrnn continue {where} {{model}} drum_kit_rnn.mag "
                "(Magenta's drum_kit_rnn bundle; a magenta.js drum_kit_rnn checkpoint folder "
                f"works too){other}",
                parameters=("model", "track"),
            )
        raise PrimerError(f"{where} has no notes to continue")
    scores = {i: track_score(n, names.get(i, "")) for i, n in melodic.items()}
    ranking = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    most = max(len(n) for n in melodic.values())
    named = [
        i
        for i, _ in ranking
        if _named_melody(names.get(i, "")) and len(melodic[i]) >= max(8, most // 10)
    ]
    reason = reason or ("named like a melody" if named else "the most melody-like")
    if named:
        ranking.sort(key=lambda item: item[0] not in named)  # stable: named ones first
    best = ranking[0][0]
    return TrackChoice(best, names.get(best, ""), _program(melodic[best]), tuple(ranking), reason)


def _find_track(ns: NoteSequence, pitched: dict, track) -> int:
    names = _track_names(ns)
    text = str(track).strip()
    if text.lstrip("-").isdigit():
        index = int(text)
        if index in pitched:
            return index
    else:
        matches = [i for i in sorted(pitched) if names.get(i, "").strip().lower() == text.lower()]
        if matches:
            return matches[0]
    where = ns.filename or "the primer"
    raise PrimerError(
        f"{where} has no melodic track {track!r}; its tracks are: {_describe_tracks(ns)}"
    )


def choose_melody_track(ns: NoteSequence, track: str | int = "auto") -> int:
    """The instrument index of the melody (:func:`choose_track`)."""
    return choose_track(ns, track).instrument


def choose_drum_track(ns: NoteSequence, track: str | int = "auto") -> TrackChoice:
    """The drum track a drum model continues: named or numbered, or (``auto``) the drum-channel
    track with the most notes."""
    names = _track_names(ns)
    drums: dict[int, list[Note]] = {}
    for note in ns.notes:
        if note.is_drum:
            drums.setdefault(note.instrument, []).append(note)
    where = ns.filename or "the primer"
    if track not in (None, "auto"):
        text = str(track).strip()
        for i in sorted(drums):
            if text == str(i) or names.get(i, "").strip().lower() == text.lower():
                return TrackChoice(i, names.get(i, ""), _program(drums[i]))
        raise PrimerError(
            f"{where} has no drum track {track!r}; its tracks are: {_describe_tracks(ns)}"
        )
    if not drums:
        raise PrimerError(
            f"{where} has no drum track (channel 10); a drum model continues drums: leave out "
            "{model} to continue its melody with the shipped melody model",
            parameters=("model",),
        )
    ranking = sorted(((i, float(len(n))) for i, n in drums.items()), key=lambda x: (-x[1], x[0]))
    best = ranking[0][0]
    return TrackChoice(
        best, names.get(best, ""), _program(drums[best]), tuple(ranking), "the most drum notes"
    )
