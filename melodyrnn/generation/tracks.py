"""Which track of a file is its melody (the first step of reading a real-file primer).

The melody is one track: the one named (``track="Lead"`` or its index as ``melodyrnn inspect``
shows it), or ``"auto"``, which scores every non-drum track by
``top-line notes × (1 - share of notes starting together) × register weight × name weight``:
register weight 1 when the median pitch lies in 55-84, 0.6 in 48-54 or 85-96, 0.25 elsewhere
(bass lines); name weight 1.5 for names with melody/lead/vocal/voice/solo/tune/theme, 0.5 for
bass/drum/pad/chord/accomp/harmony/string. :mod:`melodyrnn.generation.primer` reads the chosen
track.
"""

from __future__ import annotations

import numpy as np

from melodyrnn.errors import PrimerError
from melodyrnn.sequence import Note, NoteSequence

__all__ = ["choose_melody_track", "track_score"]

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


def choose_melody_track(ns: NoteSequence, track: str | int = "auto") -> int:
    """The instrument index of the melody: named, numbered, or chosen by :func:`track_score`."""
    names = _track_names(ns)
    pitched: dict[int, list[Note]] = {}
    for note in ns.notes:
        if not note.is_drum:
            pitched.setdefault(note.instrument, []).append(note)
    where = ns.filename or "the primer"
    if not pitched:
        if ns.notes:
            raise PrimerError(
                f"{where} has only drum notes; melody models continue melodies: use a drum "
                "model (e.g. a drum_kit_rnn checkpoint as {model})",
                parameters=("model",),
            )
        raise PrimerError(f"{where} has no notes to continue")
    if track in (None, "auto"):
        return max(sorted(pitched), key=lambda i: track_score(pitched[i], names.get(i, "")))
    text = str(track).strip()
    if text.lstrip("-").isdigit():
        index = int(text)
        if index in pitched:
            return index
    else:
        matches = [i for i in pitched if names.get(i, "").strip().lower() == text.lower()]
        if matches:
            return matches[0]
    raise PrimerError(
        f"{where} has no melodic track {track!r}; its tracks are: {_describe_tracks(ns)}"
    )
