"""The shared musical vocabulary: event values, the step grid, pitch names, the major-key matrix.

Every other module takes these from here, so a fact such as "a melody's NOTE_OFF is -1" or "C#
is pitch class 1" has exactly one definition (the architecture test checks that no other module
assigns these names).

Melody events (note-seq's ``Melody``): one event per quantized step, ``MELODY_NO_EVENT`` (-2)
when nothing new happens, ``MELODY_NOTE_OFF`` (-1) when the sounding note stops, ``0..127`` when a
note of that MIDI pitch starts. ``NO_EVENT`` and ``NOTE_OFF`` are the short names the encoders use.
"""

from __future__ import annotations

import numpy as np

# --- melody events ----------------------------------------------------------------------------

MELODY_NO_EVENT = -2
MELODY_NOTE_OFF = -1
NO_EVENT = MELODY_NO_EVENT
NOTE_OFF = MELODY_NOTE_OFF
NUM_SPECIAL_MELODY_EVENTS = 2
MIN_MELODY_EVENT = MELODY_NO_EVENT
MIN_MIDI_PITCH = 0
MAX_MIDI_PITCH = 127
MAX_MELODY_EVENT = MAX_MIDI_PITCH

# --- the step grid ----------------------------------------------------------------------------

# Magenta's melody and drum models run on sixteenth notes: 4 steps per quarter, 16 per 4/4 bar.
DEFAULT_STEPS_PER_QUARTER = 4
DEFAULT_STEPS_PER_BAR = 16
# Magenta hard-codes a 4/4 bar of 16 steps in the lookback distances and the key-melody bar-start
# flag whatever the real time signature; the musical metrics count bars the same way.
MAGENTA_STEPS_PER_BAR = 16

# The General MIDI percussion channel, 0-based (channel 10 to musicians); drum notes are written
# there, and magenta.js and our drum decoding put drum notes on this instrument number.
DRUM_CHANNEL = 9

# --- pitch classes and keys -------------------------------------------------------------------

NOTES_PER_OCTAVE = 12
# Pitch names with an octave use sharps, as MIDI tools print them ("D#4"); key and chord roots are
# spelled the way musicians name keys (sharps for C# and F#, flats elsewhere: "Eb major").
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
KEY_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# The natural letters, for parsing names such as "F#" or "Bb".
LETTER_PITCH_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
# KEY_MATRIX[pitch_class, key] is 1 when the major key with tonic `key` (0 = C major) contains the
# pitch class, so a pitch-class histogram @ KEY_MATRIX counts the notes that fit each key.
KEY_MATRIX = np.array(
    [
        [int((pc - key) % NOTES_PER_OCTAVE in MAJOR_SCALE) for key in range(NOTES_PER_OCTAVE)]
        for pc in range(NOTES_PER_OCTAVE)
    ],
    dtype=np.int64,
)
KEY_MATRIX.setflags(write=False)


def pitch_name(pitch: int) -> str:
    """A MIDI pitch as a note name with its octave (60 -> "C4", 63 -> "D#4")."""
    pitch = int(pitch)
    return f"{NOTE_NAMES[pitch % NOTES_PER_OCTAVE]}{pitch // NOTES_PER_OCTAVE - 1}"
