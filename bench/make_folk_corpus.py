"""Make the folk MIDI corpus the dataset benchmarks read (data/ is git-ignored).

    pip install music21          # its wheel carries the ABC folk collections
    apt-get install abcmidi      # abc2midi
    python bench/make_folk_corpus.py                     # -> data/folk_midi (~4.4k tunes)
    python bench/make_folk_corpus.py --copies 10         # + data/folk_midi_x10 (~44k files)

The ABC collections of music21's corpus other than Essen and Bach (Aird's Airs, O'Neill's 1850,
Ryan's Mammoth, the miscellaneous folk files, the Nottingham sample) are converted by abc2midi,
one MIDI file per tune. ``--copies N`` writes the corpus N times over, copy k transposed by
k - N // 2 semitones (every note of every track), into ``t<k>/`` folders.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

COLLECTIONS = ("airdsAirs", "miscFolk", "nottingham-dataset", "oneills1850", "ryansMammoth")


def convert(out: Path) -> int:
    import music21

    corpus = Path(music21.__file__).parent / "corpus"
    count = 0
    for name in COLLECTIONS:
        target = out / name
        target.mkdir(parents=True, exist_ok=True)
        for abc in sorted((corpus / name).rglob("*.abc")):
            with tempfile.TemporaryDirectory() as tmp:
                shutil.copy(abc, Path(tmp) / abc.name)
                subprocess.run(
                    ["abc2midi", abc.name, "-silent"],
                    cwd=tmp,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=False,
                )
                for mid in sorted(Path(tmp).glob("*.mid")):
                    shutil.move(str(mid), target / mid.name)
                    count += 1
    return count


def transposed_copies(source: Path, out: Path, copies: int) -> int:
    import mido

    files = sorted(source.rglob("*.mid"))
    count = 0
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
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="data/folk_midi")
    parser.add_argument("--copies", type=int, default=0, help="also write N transposed copies")
    args = parser.parse_args()
    out = Path(args.out)
    if not any(out.rglob("*.mid")):
        print(f"{out}: {convert(out)} MIDI files")
    if args.copies:
        many = out.with_name(f"{out.name}_x{args.copies}")
        if not any(many.rglob("*.mid")):
            print(f"{many}: {transposed_copies(out, many, args.copies)} MIDI files")


if __name__ == "__main__":
    main()
