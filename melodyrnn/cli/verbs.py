"""The verb registry of the command line and the small helpers several verbs share."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

PROG = "melodyrnn"
VERBS: list[tuple[str, Callable, Callable, str]] = []


def verb(name: str, add: Callable, help: str):
    """Register ``run`` as the handler of ``name``; ``add(parser)`` declares its arguments."""

    def register(run: Callable) -> Callable:
        VERBS.append((name, add, run, help))
        return run

    return register


class FlagSpellings(dict):
    """A library parameter as the CLI spells it: ``primer_bars`` -> ``--primer-bars``."""

    _OTHER = {
        "chord_progression": "--chords",
        "transpose_to_key": "--key",
        "transpositions": "--transpose",
    }

    def __missing__(self, name: str) -> str:
        return self._OTHER.get(name, "--" + name.replace("_", "-"))

    def get(self, name, default=None):
        return self[name]


def print_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")


def print_rendered(rendered, indent: str = "") -> None:
    for out in rendered.values():
        print(f"{indent}wrote {out}")
    if getattr(rendered, "wav_method", None) == "sine":
        print(f"{indent}audio rendered with a sine fallback (install fluidsynth for instruments)")


def parse_range(text: str | None) -> tuple[int, int] | None:
    """``--range LO-HI`` as a pair of ints (SamplingOptions checks the bounds)."""
    if text is None:
        return None
    from melodyrnn.errors import GenerationError

    low, sep, high = text.strip().partition("-")
    if not sep or not low.strip().isdigit() or not high.strip().isdigit():
        raise GenerationError(f"--range must be LO-HI in MIDI pitches, e.g. 55-84, got {text!r}")
    return int(low), int(high)


def parse_chords(text: str | None) -> list[str] | None:
    if not text:
        return None
    from melodyrnn.events.chords import parse_chord_symbol

    chords = text.replace(",", " ").split()
    for chord in chords:
        parse_chord_symbol(chord)
    return chords


__all__ = [
    "PROG",
    "VERBS",
    "FlagSpellings",
    "parse_chords",
    "parse_range",
    "print_json",
    "print_rendered",
    "verb",
]
