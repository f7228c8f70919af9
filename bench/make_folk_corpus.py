"""A large MIDI corpus for the dataset benchmark: a folder written N times over, transposed.

    python scripts/build_folk_corpus.py data/folk_midi        # the folk corpus (abc2midi)
    python bench/make_folk_corpus.py data/folk_midi --copies 10   # -> data/folk_midi_x10

Copy k of every file goes to ``OUT/t<k>/`` with every note (drums aside) moved by
``k - copies // 2`` semitones, so the copies are different files that make different melodies.
data/ is git-ignored.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def transposed_copies(source: Path, out: Path, copies: int) -> int:
    import mido

    files = sorted(source.rglob("*.mid"))
    for k in range(copies):
        shift = k - copies // 2
        for path in files:
            target = out / f"t{k}" / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            midi = mido.MidiFile(path)
            for track in midi.tracks:
                for i, msg in enumerate(track):
                    if msg.type in ("note_on", "note_off") and msg.channel != 9:
                        track[i] = msg.copy(note=min(127, max(0, msg.note + shift)))
            midi.save(target)
    return copies * len(files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", help="a folder of MIDI files, e.g. data/folk_midi")
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--out", help="default: SOURCE_x<copies>")
    args = parser.parse_args()
    source = Path(args.source)
    out = Path(args.out or f"{source}_x{args.copies}")
    print(f"{out}: {transposed_copies(source, out, args.copies)} MIDI files")


if __name__ == "__main__":
    main()
