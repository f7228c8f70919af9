"""Scaling of the steps that used to be quadratic (issue 10, defects 4 and 5), at n = 1k/5k/20k.

Each case builds its input in memory (no files), runs one call and prints the wall time:

* ``write_tempos``: a sequence with n tempo changes (one note under each) -> MIDI bytes
  (:func:`melodyrnn.io.midi.sequence_to_midi_bytes`);
* ``melodies``: a sequence of n short melodies (two notes each, a bar of silence between them)
  -> the melody pipeline (:func:`melodyrnn.pipelines.melodies_from_sequence`: split, quantize,
  extract, squash);
* ``time_signatures``: n alternating 3/4 and 4/4 bars with a note in each -> the pipeline;
* ``tracks``: n instruments with four notes each -> the pipeline;
* ``drum_tracks``: n short drum patterns with a bar of silence between them ->
  :func:`melodyrnn.events.drums.extract_drum_tracks`.

Linear work shows as times growing about 4x from 5k to 20k (quadratic work: 16x).

    python bench/bench_scaling.py [--sizes 1000,5000,20000] [--cases melodies,tracks]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from melodyrnn.events.drums import extract_drum_tracks  # noqa: E402
from melodyrnn.io.midi import sequence_to_midi_bytes  # noqa: E402
from melodyrnn.pipelines import DatasetSettings, melodies_from_sequence  # noqa: E402
from melodyrnn.sequence import (  # noqa: E402
    Note,
    NoteSequence,
    Tempo,
    TimeSignature,
    quantize_note_sequence,
)

BAR = 2.0  # seconds per 4/4 bar at 120 qpm


def many_tempos(n: int) -> NoteSequence:
    ns = NoteSequence(tempos=[Tempo(i * 0.5, 100.0 + i % 50) for i in range(n)])
    ns.notes = [Note(60 + i % 12, 80, i * 0.5, i * 0.5 + 0.25) for i in range(n)]
    ns.total_time = n * 0.5
    return ns


def many_melodies(n: int) -> NoteSequence:
    notes = []
    for i in range(n):
        t = i * 2 * BAR
        notes += [Note(60 + i % 7, 80, t, t + 0.25), Note(64, 80, t + 0.25, t + 0.5)]
    return NoteSequence(notes=notes, tempos=[Tempo(0.0, 120.0)], total_time=n * 2 * BAR)


def many_time_signatures(n: int) -> NoteSequence:
    ns = NoteSequence(tempos=[Tempo(0.0, 120.0)])
    t = 0.0
    for i in range(n):
        numerator = 3 if i % 2 else 4
        ns.time_signatures.append(TimeSignature(t, numerator, 4))
        ns.notes.append(Note(60 + i % 12, 80, t, t + 0.5))
        t += numerator * 0.5
    ns.total_time = t
    return ns


def many_tracks(n: int) -> NoteSequence:
    notes = [
        Note(60 + (i + k) % 12, 80, k * 0.5, k * 0.5 + 0.5, instrument=i)
        for i in range(n)
        for k in range(4)
    ]
    return NoteSequence(notes=notes, tempos=[Tempo(0.0, 120.0)], total_time=2.0)


def many_drum_tracks(n: int):
    notes = []
    for i in range(n):
        t = i * 2 * BAR
        notes.append(Note(36, 80, t, t + 0.1, is_drum=True))
        notes.append(Note(42, 80, t + 0.5, t + 0.6, is_drum=True))
    ns = NoteSequence(notes=notes, tempos=[Tempo(0.0, 120.0)], total_time=n * 2 * BAR)
    return quantize_note_sequence(ns)


def pipeline(ns):
    return melodies_from_sequence(ns, DatasetSettings(), Counter())


CASES = {
    "write_tempos": (many_tempos, sequence_to_midi_bytes),
    "melodies": (many_melodies, pipeline),
    "time_signatures": (many_time_signatures, pipeline),
    "tracks": (many_tracks, pipeline),
    "drum_tracks": (many_drum_tracks, extract_drum_tracks),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000,20000")
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'case':<16}" + "".join(f"{f'n={n:,}':>12}" for n in sizes))
    for name in args.cases.split(","):
        build, run = CASES[name]
        cells = []
        for n in sizes:
            data = build(n)
            t0 = time.perf_counter()
            run(data)
            cells.append(time.perf_counter() - t0)
        print(f"{name:<16}" + "".join(f"{t:>11.3f}s" for t in cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
