"""Write midi_samples/pop_arrangement.mid: an 11-track pop arrangement whose vocal ends before
the song does (a four-bar instrumental outro), with a percussive 'Aux' agogo track next to the
vocal, like the real arrangements of issue 12. Deterministic; run it from the repository root:

    python scripts/make_pop_arrangement.py
"""

from __future__ import annotations

from pathlib import Path

import pretty_midi

QPM = 112.0
BEAT = 60.0 / QPM
BAR = 4 * BEAT
# G major, I-V-vi-IV: (root, third, fifth) of G, D, Em, C
CHORDS = [(43, 47, 50), (38, 42, 45), (40, 43, 47), (36, 40, 43)]
INTRO, VERSE, CHORUS, OUTRO = 4, 8, 8, 4
BARS = INTRO + VERSE + CHORUS + OUTRO

# The vocal, bar by bar: (pitch, beats) with None for a rest; each bar adds up to 4 beats.
VERSE_LINE = [
    [(None, 1), (67, 0.5), (69, 0.5), (71, 1), (71, 1)],
    [(69, 1), (67, 1), (66, 1.5), (None, 0.5)],
    [(None, 1), (64, 0.5), (66, 0.5), (67, 1), (71, 1)],
    [(72, 1), (71, 0.5), (69, 0.5), (67, 2)],
]
CHORUS_LINE = [
    [(74, 1.5), (71, 0.5), (74, 1), (76, 1)],
    [(74, 1), (71, 1), (69, 2)],
    [(71, 1.5), (67, 0.5), (71, 1), (72, 1)],
    [(71, 1), (69, 1), (67, 2)],
]


def _note(inst, pitch, start, length, velocity):
    inst.notes.append(pretty_midi.Note(velocity, pitch, start, start + length))


def build() -> pretty_midi.PrettyMIDI:
    midi = pretty_midi.PrettyMIDI(initial_tempo=QPM)
    midi.key_signature_changes = [pretty_midi.KeySignature(7, 0.0)]  # G major
    tracks = {
        name: pretty_midi.Instrument(program, is_drum=drums, name=name)
        for name, program, drums in [
            ("Vocal", 53, False),
            ("Backing Vocals", 52, False),
            ("Piano", 0, False),
            ("Clean Guitar", 27, False),
            ("Bass", 33, False),
            ("Strings", 48, False),
            ("Synth Pad", 89, False),
            ("Brass", 61, False),
            ("Aux", 113, False),
            ("Drums", 0, True),
            ("Percussion", 0, True),
        ]
    }
    midi.instruments.extend(tracks.values())

    # Vocal: verse twice through its four bars, then the chorus twice; silent in intro and outro.
    for section, line in ((INTRO, VERSE_LINE), (INTRO + VERSE, CHORUS_LINE)):
        for repeat in range(2):
            for b, bar in enumerate(line):
                t = (section + repeat * 4 + b) * BAR
                for pitch, beats in bar:
                    if pitch is not None:
                        _note(tracks["Vocal"], pitch, t, beats * BEAT * 0.95, 100)
                    t += beats * BEAT
    for bar in range(BARS):
        t = bar * BAR
        root, third, fifth = CHORDS[bar % 4]
        chorus = INTRO + VERSE <= bar < INTRO + VERSE + CHORUS
        outro = bar >= BARS - OUTRO
        last = bar == BARS - 1
        for pitch in (root + 24, third + 24, fifth + 24):  # piano: chords on every beat
            for beat in range(1 if last else 4):
                _note(tracks["Piano"], pitch, t + beat * BEAT, (4 if last else 0.9) * BEAT, 70)
        arpeggio = [root + 36, fifth + 24, third + 36, fifth + 36] * 2
        for i, pitch in enumerate(arpeggio[: 1 if last else 8]):
            _note(tracks["Clean Guitar"], pitch, t + i * BEAT / 2, BEAT / 2 * 0.9, 64)
        for i in range(1 if last else 8):  # bass: eighths on the root, the fifth on the last two
            pitch = root if i < 6 else root + 7
            _note(tracks["Bass"], pitch, t + i * BEAT / 2, (4 if last else 0.45) * BEAT, 88)
        for pitch in (root + 12, third + 12, fifth + 12):
            _note(tracks["Strings"], pitch, t, BAR, 52 if not chorus else 64)
        if bar >= INTRO:
            _note(tracks["Synth Pad"], fifth + 36, t, BAR, 45)
        if chorus:
            for pitch, beat in ((third + 36, 0), (fifth + 36, 2.5)):  # backing "aahs", brass
                _note(tracks["Backing Vocals"], pitch, t + beat * BEAT, 1.5 * BEAT, 60)
            for pitch in (root + 24, third + 24, fifth + 24):
                _note(tracks["Brass"], pitch, t + 1.5 * BEAT, 0.4 * BEAT, 84)
        if outro and not last:  # the outro's horn line carries on after the vocal
            for i, pitch in enumerate((fifth + 24, third + 24, root + 24, fifth + 24)):
                _note(tracks["Brass"], pitch, t + i * BEAT, 0.8 * BEAT, 80)
        if bar >= INTRO and not last:
            for i in range(8):  # agogo: two bells in eighths (a drum pattern on program 113)
                _note(tracks["Aux"], 67 if i % 2 == 0 else 68, t + i * BEAT / 2, 0.2 * BEAT, 70)
        for i in range(1 if last else 8):  # drums: kick 1 and 3, snare 2 and 4, eighth hats
            s = t + i * BEAT / 2
            _note(tracks["Drums"], 42, s, 0.2 * BEAT, 70)
            if i in (0, 4):
                _note(tracks["Drums"], 36, s, 0.2 * BEAT, 110)
            if i in (2, 6):
                _note(tracks["Drums"], 38, s, 0.2 * BEAT, 100)
        if last:
            _note(tracks["Drums"], 49, t, BEAT, 110)  # a crash on the final chord
        elif bar >= INTRO:
            for i in range(16):  # tambourine sixteenths
                _note(tracks["Percussion"], 54, t + i * BEAT / 4, 0.1 * BEAT, 40 + 20 * (i % 2))
    return midi


if __name__ == "__main__":
    out = Path("midi_samples") / "pop_arrangement.mid"
    build().write(str(out))
    print(f"wrote {out}")
