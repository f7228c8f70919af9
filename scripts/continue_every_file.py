"""Continue every real MIDI file we can find, without options, and check what a user would see.

For each file with notes, ``melodyrnn continue FILE -o OUT --seed 0`` runs as a user types it
(in this process). A file passes when the command exits 0, its first stdout line names the
track it continued, and every new note starts at or after the end of the file's last note (of
any track: the default placement). A file whose only notes are drums passes when the melody
model refuses it with one line pointing at a drum model and ``--model DRUM_MODEL`` (the
magenta.js drum_kit fixture by default) then continues it the same way.

The files: midi_samples/, the magenta.js fixtures, music21's own MIDI test files and, with
``--corpus N``, up to N pieces of the music21 corpus written to MIDI by music21 (several
composers, each part a track; never the Essen collection or the Bach chorales). Run from the
repository root:

    python scripts/continue_every_file.py --corpus 40
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import io
import itertools
import sys
import tempfile
import time
from pathlib import Path

from melodyrnn.cli import main as melodyrnn
from melodyrnn.errors import MelodyRNNError
from melodyrnn.io.midi import midi_to_sequence

ROOT = Path(__file__).resolve().parents[1]
DRUM_KIT = ROOT / "tests" / "fixtures" / "magenta_js" / "checkpoints" / "drum_kit_3x16_attn"
TICK = 0.01  # seconds: a MIDI tick at the slowest tempo the files use, and rounding
# music21 corpus composers whose pieces are multi-part scores (not Essen, not the chorales)
COMPOSERS = (
    "beethoven", "mozart", "haydn", "schumann_robert", "chopin", "joplin", "handel",
    "monteverdi", "palestrina", "trecento", "corelli", "schubert", "verdi", "weber",
)  # fmt: skip


def found_files(corpus: int, work: Path) -> list[Path]:
    files = sorted((ROOT / "midi_samples").glob("*.mid"))
    files += sorted((ROOT / "tests" / "fixtures" / "magenta_js" / "midi").glob("*.mid"))
    try:
        import music21
    except ImportError:
        print("music21 is not installed: its test files and corpus are left out", file=sys.stderr)
        return files
    files += sorted((Path(music21.__file__).parent / "midi" / "testPrimitive").glob("*.mid"))
    if corpus:
        files += corpus_files(corpus, work)
    return files


def corpus_files(count: int, work: Path) -> list[Path]:
    """Up to ``count`` corpus pieces, round robin over COMPOSERS, written as MIDI by music21."""
    from music21 import corpus

    lists = [sorted(map(str, corpus.getComposer(name))) for name in COMPOSERS]
    rows = itertools.zip_longest(*(lst[:count] for lst in lists))
    picked = [path for row in rows for path in row if path]
    out = []
    for source in picked[:count]:
        target = work / f"{Path(source).parent.name}_{Path(source).stem}.mid"
        try:
            corpus.parse(source).write("midi", fp=str(target))
        except Exception as exc:  # music21's writer, not ours: note it and go on
            print(f"music21 could not write {source}: {exc}", file=sys.stderr)
            continue
        out.append(target)
    return out


def run(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = melodyrnn([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def new_notes(source, result) -> list:
    """The notes of ``result`` that ``source`` does not have: same pitch and drum flag, onset
    within TICK (a grid of TICK would split onsets that lie on its half-way points)."""
    have: dict = {}
    for n in source.notes:
        have.setdefault((n.pitch, n.is_drum), []).append(n.start_time)
    for onsets in have.values():
        onsets.sort()
    new = []
    for n in result.notes:
        onsets = have.get((n.pitch, n.is_drum), [])
        i = bisect.bisect_left(onsets, n.start_time - TICK)
        if i < len(onsets) and onsets[i] <= n.start_time + TICK:
            del onsets[i]
        else:
            new.append(n)
    return new


def check(path: Path, out: Path, drum_model: Path) -> tuple[str, str]:
    """("ok" | "FAIL" | "skip", what happened in a line)."""
    try:
        source = midi_to_sequence(path)
    except MelodyRNNError as exc:  # a real file we cannot read is a failure too
        return "FAIL", f"cannot be read: {exc}"
    if not source.notes:
        return "skip", "no notes"
    code, stdout, err = run("continue", path, "-o", out, "--seed", 0)
    how = "melody model"
    if code == 2 and "drum model" in err and len(err.strip().splitlines()) == 1:
        how = "refused for the melody model, then a drum model"
        code, stdout, err = run("continue", path, "-o", out, "--seed", 0, "--model", drum_model)
    if code != 0:
        return "FAIL", f"exit {code}: {err.strip()[:200]}"
    first = stdout.splitlines()[0] if stdout else ""
    if not first.startswith("continued ") or " track " not in first:
        return "FAIL", f"the first stdout line does not name the track: {first!r}"
    written = sorted(out.glob(f"{path.stem}_continued_*.mid"))
    new = new_notes(source, midi_to_sequence(written[0]))
    if not new:
        return "FAIL", "no new notes"
    last_end = max(n.end_time for n in source.notes)
    start = min(n.start_time for n in new)
    if start < last_end - TICK:
        return "FAIL", f"new notes start at {start:.3f} s, under the file's end {last_end:.3f} s"
    return "ok", f"{how}; {len(new)} new notes from {start:.2f} s; {first}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=int, default=0, help="music21 corpus pieces to add")
    parser.add_argument("--drum-model", type=Path, default=DRUM_KIT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = found_files(args.corpus, work)
        counts = {"ok": 0, "FAIL": 0, "skip": 0}
        began = time.perf_counter()
        for i, path in enumerate(files):
            verdict, line = check(path, work / f"out{i}", args.drum_model)
            counts[verdict] += 1
            print(f"{verdict:4} {path.name}: {line}", flush=True)
    seconds = time.perf_counter() - began
    print(
        f"{len(files)} files: {counts['ok']} continued, {counts['FAIL']} failed, "
        f"{counts['skip']} without notes ({seconds:.0f} s)"
    )
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
