"""Key estimation (melodyrnn.events.keys) on hand-made melodies and on the sample files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from melodyrnn.cli import main
from melodyrnn.events.keys import PROFILES, estimate_key, estimate_melody_key, magenta_key
from melodyrnn.generation.primer import prepare_primer
from melodyrnn.io.midi import midi_to_sequence

ROOT = Path(__file__).resolve().parents[1]
NAMES = {"C": 60, "D": 62, "E": 64, "F": 65, "F#": 66, "G": 67, "G#": 68, "A": 69, "B": 71}
NAMES |= {"C#": 61, "C'": 72, "D'": 74, "E'": 76, "G,": 55, "A,": 57}


def melody(notes: str, step: int = 4) -> np.ndarray:
    """Quarter notes (``step`` 16ths each) from names; ``name*k`` lasts k quarters."""
    events = []
    for word in notes.split():
        name, _, times = word.partition("*")
        length = step * int(times or 1)
        events += [NAMES[name]] + [-2] * (length - 1)
    return np.asarray(events, dtype=np.int64)


# G A B D E only: in C, G and D major alike (Magenta reads C).
G_PENTATONIC = "G A B D' E' D' B G A B D' B A G E D E G A B A G*4"


def test_pentatonic_with_a_g_major_signature_is_g_major():
    est = estimate_melody_key(melody(G_PENTATONIC), signature=(7, 0))
    assert (est.name, est.source, est.collection) == ("G major", "signature", 7)


def test_the_same_notes_without_a_signature_ending_on_g_are_g_major():
    events = melody(G_PENTATONIC)
    est = estimate_melody_key(events)
    assert (est.name, est.source, est.collection) == ("G major", "profile", 7)
    assert magenta_key(events).name == "C major"  # the fault this fixes


def test_a_harmonic_minor_is_a_minor():
    events = melody("A B C' D' E' D' C' B A G# A B C' B G# E A C' B G# A*4")
    est = estimate_melody_key(events)
    assert (est.name, est.collection) == ("A minor", 0)  # C major's notes: the model's key


def test_a_signature_the_notes_contradict_is_ignored():
    d_major = melody("D E F# G A B C# D' C# A F# D E F# A G F# E D*4")
    est = estimate_melody_key(d_major, signature=(0, 0))  # a placeholder C major
    assert (est.name, est.source) == ("D major", "profile")


def test_a_signature_in_the_relative_minor_keeps_its_notes():
    # A natural minor melody under a C major signature: same notes, the profile picks A minor.
    events = melody("A C' E' D' C' B A E A B C' D' E' C' B A*4")
    est = estimate_melody_key(events, signature=(0, 0))
    assert est.source == "signature" and est.collection == 0
    assert est.name == "A minor"


def test_dorian_keeps_its_collection():
    # D dorian (C major's notes): whatever tonic/mode is reported, the seven notes stay C's.
    events = melody("D E F G A B C' D' C' A F D E F A G F E D*4")
    assert estimate_melody_key(events).collection == 0


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile_finds_an_obvious_key(profile):
    hist = np.zeros(12)
    hist[[0, 2, 4, 5, 7, 9, 11]] = [5, 2, 3, 2, 4, 2, 1]
    assert estimate_key(hist, None, profile).name == "C major"


def test_an_empty_histogram_does_not_fail():
    assert estimate_key(np.zeros(12)).mode in ("major", "minor")


@pytest.mark.parametrize(
    "name, key, source",
    [
        ("amazing_grace_3_4", "G major", "signature"),
        ("greensleeves_6_8", "A minor", "signature"),
        ("a_minor_no_signature", "A minor", "profile"),
        ("ode_to_joy", "C major", "signature"),
    ],
)
def test_sample_files(name, key, source):
    primer = prepare_primer(midi_to_sequence(ROOT / "midi_samples" / f"{name}.mid"))
    est = primer.key()
    assert (est.name, est.source) == (key, source)
    assert primer.key("magenta").name == "C major"


def test_inspect_prints_the_estimate_next_to_the_signature(capsys):
    assert main(["inspect", str(ROOT / "midi_samples" / "amazing_grace_3_4.mid")]) == 0
    out = capsys.readouterr().out
    assert "keys:      G major at 0.00 s" in out
    assert "estimated: G major (track [0], from the file's key signature; " in out
    assert "Magenta's estimate: C major" in out
