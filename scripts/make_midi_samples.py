"""Write the sample MIDI files in ``midi_samples/`` from the note lists below.

The tunes are traditional or out of copyright (Beethoven's "Ode to Joy" theme, "Greensleeves",
"Amazing Grace", "Twinkle, Twinkle, Little Star", "When the Saints Go Marching In"). Each part
is a list of ``(pitch name, start beat, duration in beats)``; a beat is a quarter note.

The files are written with mido, event by event, so the bytes are the same on every run and do
not depend on melodyrnn's own MIDI writer (the tests read them back as independent input).
Every file has a conductor part with a track name, a tempo, a time signature and (but for the
A-minor sample, written without one on purpose) a key
signature, then one track per part with a name and a program change.

Usage: python scripts/make_midi_samples.py [OUT_DIR]   (default: midi_samples/ in the repo)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import mido

NOTE_OFFSETS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def note_number(name: str) -> int:
    """'C4' -> 60, 'G#4' -> 68, 'Bb2' -> 46 (MIDI numbering: C4 is middle C)."""
    letter, rest = name[0], name[1:]
    shift = 0
    while rest and rest[0] in "#b":
        shift += 1 if rest[0] == "#" else -1
        rest = rest[1:]
    return 12 * (int(rest) + 1) + NOTE_OFFSETS[letter] + shift


@dataclass
class Part:
    name: str
    program: int
    notes: list[tuple[str, float, float]]
    channel: int = 0
    velocity: int = 90
    accent: int = 110  # velocity of notes on the first beat of a bar
    controls: list[tuple[float, int, int]] = field(default_factory=list)  # (beat, number, value)
    bends: list[tuple[float, int]] = field(default_factory=list)  # (beat, bend)


@dataclass
class Tune:
    filename: str
    title: str
    qpm: float
    meter: tuple[int, int]
    key: str | None  # mido key name: 'C', 'Am', 'G', ...; None: no key signature
    parts: list[Part]
    ticks_per_quarter: int = 480
    midi_type: int = 1
    note_off_as_velocity_0: bool = False


# --- (a) a major melody at 120 qpm: the "Ode to Joy" theme, 8 bars of 4/4 in C major ----------

ODE_TO_JOY = [
    ("E4", 0, 1), ("E4", 1, 1), ("F4", 2, 1), ("G4", 3, 1),
    ("G4", 4, 1), ("F4", 5, 1), ("E4", 6, 1), ("D4", 7, 1),
    ("C4", 8, 1), ("C4", 9, 1), ("D4", 10, 1), ("E4", 11, 1),
    ("E4", 12, 1.5), ("D4", 13.5, 0.5), ("D4", 14, 2),
    ("E4", 16, 1), ("E4", 17, 1), ("F4", 18, 1), ("G4", 19, 1),
    ("G4", 20, 1), ("F4", 21, 1), ("E4", 22, 1), ("D4", 23, 1),
    ("C4", 24, 1), ("C4", 25, 1), ("D4", 26, 1), ("E4", 27, 1),
    ("D4", 28, 1.5), ("C4", 29.5, 0.5), ("C4", 30, 2),
]  # fmt: skip

# --- (b) a minor tune at 96 qpm with dotted rhythms: "Greensleeves" in 6/8, A minor ----------
# Bars are 3 beats long; the upbeat A4 comes at the end of an empty first bar.

GREENSLEEVES = [
    ("A4", 2.5, 0.5),
    ("C5", 3, 1), ("D5", 4, 0.5), ("E5", 4.5, 0.75), ("F5", 5.25, 0.25), ("E5", 5.5, 0.5),
    ("D5", 6, 1), ("B4", 7, 0.5), ("G4", 7.5, 0.75), ("A4", 8.25, 0.25), ("B4", 8.5, 0.5),
    ("C5", 9, 1), ("A4", 10, 0.5), ("A4", 10.5, 0.75), ("G#4", 11.25, 0.25), ("A4", 11.5, 0.5),
    ("B4", 12, 1), ("G#4", 13, 0.5), ("E4", 13.5, 1), ("A4", 14.5, 0.5),
    ("C5", 15, 1), ("D5", 16, 0.5), ("E5", 16.5, 0.75), ("F5", 17.25, 0.25), ("E5", 17.5, 0.5),
    ("D5", 18, 1), ("B4", 19, 0.5), ("G4", 19.5, 0.75), ("A4", 20.25, 0.25), ("B4", 20.5, 0.5),
    ("C5", 21, 0.75), ("B4", 21.75, 0.25), ("A4", 22, 0.5),
    ("G#4", 22.5, 0.75), ("F#4", 23.25, 0.25), ("G#4", 23.5, 0.5),
    ("A4", 24, 3),
]  # fmt: skip

# --- (c) a 3/4 tune: "Amazing Grace" in G major, 84 qpm, upbeat on beat 3 of an empty bar -----

AMAZING_GRACE = [
    ("D4", 2, 1),
    ("G4", 3, 2), ("B4", 5, 0.5), ("G4", 5.5, 0.5), ("B4", 6, 2), ("A4", 8, 1),
    ("G4", 9, 2), ("E4", 11, 1), ("D4", 12, 2), ("D4", 14, 1),
    ("G4", 15, 2), ("B4", 17, 0.5), ("G4", 17.5, 0.5), ("B4", 18, 2), ("A4", 20, 1),
    ("D5", 21, 3),
    ("D5", 24, 2), ("B4", 26, 1), ("D5", 27, 2), ("B4", 29, 0.5), ("G4", 29.5, 0.5),
    ("B4", 30, 2), ("A4", 32, 1), ("G4", 33, 2), ("E4", 35, 1), ("D4", 36, 2), ("D4", 38, 1),
    ("G4", 39, 2), ("B4", 41, 0.5), ("G4", 41.5, 0.5), ("B4", 42, 2), ("A4", 44, 1),
    ("G4", 45, 3),
]  # fmt: skip

# --- (d) a range outside 48..83: "Twinkle, Twinkle" moving from C2 up to C6 (36..93) --------

TWINKLE_WIDE = [
    # first phrase two octaves down (36..45)
    ("C2", 0, 1), ("C2", 1, 1), ("G2", 2, 1), ("G2", 3, 1), ("A2", 4, 1), ("A2", 5, 1),
    ("G2", 6, 2), ("F2", 8, 1), ("F2", 9, 1), ("E2", 10, 1), ("E2", 11, 1), ("D2", 12, 1),
    ("D2", 13, 1), ("C2", 14, 2),
    # middle phrase where it belongs (62..67)
    ("G4", 16, 1), ("G4", 17, 1), ("F4", 18, 1), ("F4", 19, 1), ("E4", 20, 1), ("E4", 21, 1),
    ("D4", 22, 2), ("G4", 24, 1), ("G4", 25, 1), ("F4", 26, 1), ("F4", 27, 1), ("E4", 28, 1),
    ("E4", 29, 1), ("D4", 30, 2),
    # last phrase two octaves up (84..93)
    ("C6", 32, 1), ("C6", 33, 1), ("G6", 34, 1), ("G6", 35, 1), ("A6", 36, 1), ("A6", 37, 1),
    ("G6", 38, 2), ("F6", 40, 1), ("F6", 41, 1), ("E6", 42, 1), ("E6", 43, 1), ("D6", 44, 1),
    ("D6", 45, 1), ("C6", 46, 2),
]  # fmt: skip

# --- (f) an A-minor primer (issue 11): 8 bars of 4/4 at 100 qpm with G# leading tones, ending
# on A, written without a key signature (a minor key Magenta's estimate reads as C major).

A_MINOR = [
    ("A4", 0, 1), ("C5", 1, 1), ("E5", 2, 1.5), ("D5", 3.5, 0.5),
    ("C5", 4, 1), ("B4", 5, 1), ("A4", 6, 2),
    ("E4", 8, 1), ("A4", 9, 1), ("B4", 10, 1), ("C5", 11, 1),
    ("B4", 12, 1.5), ("G#4", 13.5, 0.5), ("E4", 14, 2),
    ("A4", 16, 1), ("C5", 17, 1), ("E5", 18, 1.5), ("F5", 19.5, 0.5),
    ("E5", 20, 1), ("D5", 21, 1), ("C5", 22, 1), ("B4", 23, 1),
    ("C5", 24, 1), ("A4", 25, 1), ("B4", 26, 1), ("G#4", 27, 1),
    ("A4", 28, 4),
]  # fmt: skip

# --- (e) several parts: "When the Saints Go Marching In", trumpet + bass + drums, 110 qpm ------

SAINTS_MELODY = [
    ("C5", 1, 1), ("E5", 2, 1), ("F5", 3, 1), ("G5", 4, 4),
    ("C5", 9, 1), ("E5", 10, 1), ("F5", 11, 1), ("G5", 12, 4),
    ("C5", 17, 1), ("E5", 18, 1), ("F5", 19, 1), ("G5", 20, 2), ("E5", 22, 2),
    ("C5", 24, 2), ("E5", 26, 2), ("D5", 28, 4),
    ("E5", 33, 1), ("E5", 34, 1), ("D5", 35, 1), ("C5", 36, 3), ("C5", 39, 1),
    ("E5", 40, 2), ("G5", 42, 2), ("G5", 44, 1), ("F5", 45, 3),
    ("E5", 49, 1), ("F5", 50, 1), ("G5", 51, 1), ("G5", 52, 2), ("E5", 54, 2),
    ("C5", 56, 2), ("D5", 58, 2), ("C5", 60, 4),
]  # fmt: skip

# One chord per bar; the bass plays its root then its fifth, a half note each.
SAINTS_CHORDS = [
    "C", "C", "C", "C",  "C", "C", "C", "G",  "C", "C", "C", "F",  "C", "C", "G", "C",
]  # fmt: skip
BASS_ROOT_FIFTH = {"C": ("C3", "G2"), "F": ("F2", "C3"), "G": ("G2", "D3")}
SAINTS_BASS = [
    (note, 4 * bar + 2 * half, 2)
    for bar, chord in enumerate(SAINTS_CHORDS)
    for half, note in enumerate(BASS_ROOT_FIFTH[chord])
]

# One bar of drums (General MIDI: 36 kick, 38 snare, 42 closed hi-hat), repeated for 16 bars.
DRUM_BAR = [
    ("C2", 0, 0.25), ("D2", 1, 0.25), ("C2", 2, 0.25), ("D2", 3, 0.25),  # kick, snare
    ("F#2", 0, 0.25), ("F#2", 0.5, 0.25), ("F#2", 1, 0.25), ("F#2", 1.5, 0.25),  # hi-hat
    ("F#2", 2, 0.25), ("F#2", 2.5, 0.25), ("F#2", 3, 0.25), ("F#2", 3.5, 0.25),
]  # fmt: skip
SAINTS_DRUMS = [(p, 4 * bar + s, d) for bar in range(16) for p, s, d in DRUM_BAR]


TUNES = [
    Tune(
        "ode_to_joy.mid", "Ode to Joy", 120.0, (4, 4), "C",
        [Part("melody", 0, ODE_TO_JOY)],
    ),
    Tune(
        "greensleeves_6_8.mid", "Greensleeves", 96.0, (6, 8), "Am",
        [Part("recorder", 74, GREENSLEEVES, velocity=80, accent=96)],
        ticks_per_quarter=96, note_off_as_velocity_0=True,
    ),
    Tune(
        "amazing_grace_3_4.mid", "Amazing Grace", 84.0, (3, 4), "G",
        [Part("voice", 52, AMAZING_GRACE, velocity=84, accent=100)],
        ticks_per_quarter=384,
    ),
    Tune(
        "twinkle_wide_range.mid", "Twinkle, Twinkle, Little Star", 108.0, (4, 4), "C",
        [Part("piano", 0, TWINKLE_WIDE)],
        ticks_per_quarter=220, midi_type=0,
    ),
    Tune(
        "saints_multitrack.mid", "When the Saints Go Marching In", 110.0, (4, 4), "C",
        [
            Part(
                "trumpet", 56, SAINTS_MELODY, channel=0, velocity=96, accent=112,
                controls=[(0, 7, 110), (0, 10, 64)],
                bends=[(62, -1024), (63, -4096), (64, 0)],  # a fall-off on the last note
            ),
            Part(
                "bass", 32, SAINTS_BASS, channel=1, velocity=88, accent=100,
                controls=[(0, 7, 100)],
            ),
            Part("drums", 0, SAINTS_DRUMS, channel=9, velocity=70, accent=100),
        ],
    ),
    Tune(
        "a_minor_no_signature.mid", "A minor tune", 100.0, (4, 4), None,
        [Part("flute", 73, A_MINOR)],
    ),
]  # fmt: skip

# Order of events that share a tick: meta first, note-offs before note-ons.
_ORDER = {
    "track_name": 0,
    "set_tempo": 1,
    "time_signature": 2,
    "key_signature": 3,
    "program_change": 4,
    "control_change": 5,
    "pitchwheel": 6,
    "note_off": 7,
    "note_on": 8,
}


def _events(tune: Tune, part: Part) -> list[tuple[int, mido.Message]]:
    """(absolute tick, message) for one part's program, controls, bends and notes."""
    tpq, ch = tune.ticks_per_quarter, part.channel
    bar_beats = tune.meter[0] * 4 / tune.meter[1]

    def tick(beat: float) -> int:
        ticks = beat * tpq
        assert ticks == int(ticks), f"beat {beat} is not on a tick at {tpq} ticks per quarter"
        return int(ticks)

    events = [(0, mido.Message("program_change", channel=ch, program=part.program))]
    events += [
        (tick(b), mido.Message("control_change", channel=ch, control=n, value=v))
        for b, n, v in part.controls
    ]
    events += [(tick(b), mido.Message("pitchwheel", channel=ch, pitch=v)) for b, v in part.bends]
    for name, start, duration in part.notes:
        pitch = note_number(name)
        velocity = part.accent if start % bar_beats == 0 else part.velocity
        events.append(
            (tick(start), mido.Message("note_on", channel=ch, note=pitch, velocity=velocity))
        )
        if tune.note_off_as_velocity_0:
            off = mido.Message("note_on", channel=ch, note=pitch, velocity=0)
        else:
            off = mido.Message("note_off", channel=ch, note=pitch, velocity=64)
        events.append((tick(start + duration), off))
    return events


def _conductor(tune: Tune) -> list[tuple[int, mido.MetaMessage]]:
    numerator, denominator = tune.meter
    return [
        (0, mido.MetaMessage("track_name", name=tune.title)),
        (0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tune.qpm))),
        (0, mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator)),
    ] + ([(0, mido.MetaMessage("key_signature", key=tune.key))] if tune.key else [])


def _track(events: list[tuple[int, mido.Message]]) -> mido.MidiTrack:
    """Sort absolute-tick events (stably, by tick then kind) and convert to delta times."""
    events = sorted(events, key=lambda e: (e[0], _ORDER[e[1].type]))
    track, last = mido.MidiTrack(), 0
    for tick, msg in events:
        track.append(msg.copy(time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def build(tune: Tune) -> mido.MidiFile:
    midi = mido.MidiFile(type=tune.midi_type, ticks_per_beat=tune.ticks_per_quarter)
    if tune.midi_type == 0:
        events = _conductor(tune)
        for part in tune.parts:
            events += _events(tune, part)
        midi.tracks.append(_track(events))
    else:
        midi.tracks.append(_track(_conductor(tune)))
        for part in tune.parts:
            name = (0, mido.MetaMessage("track_name", name=part.name))
            midi.tracks.append(_track([name, *_events(tune, part)]))
    return midi


def main(argv: list[str]) -> int:
    out_dir = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / "midi_samples"
    out_dir.mkdir(parents=True, exist_ok=True)
    for tune in TUNES:
        path = out_dir / tune.filename
        build(tune).save(path)
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
