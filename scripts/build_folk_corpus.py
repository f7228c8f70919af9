"""Build a MIDI training corpus from the public-domain folk tunes shipped inside music21's wheel.

music21's wheel carries several ABC folk collections. This script uses only those that are in
the public domain by age:

    oneills1850   O'Neill's Music of Ireland (1850)        ~2,000 tunes
    ryansMammoth  Ryan's Mammoth Collection (1883)         ~1,060 tunes
    airdsAirs     Aird's Selection of Airs (1782-1803)     ~1,180 tunes
    miscFolk      American fife / Northumbrian minstrelsy  ~185 tunes

The Essen folksong collection (also in the wheel) is left out on purpose: its licence is
non-commercial and limited to music21.

Steps:
 1. Find the music21 wheel: ``--wheel PATH`` or, by default, ``pip download music21 --no-deps``
    into a cache folder (reused on later runs). Nothing is installed.
 2. Read only the chosen collections' ``.abc`` files out of the wheel (a zip) and copy them to
    ``OUT_DIR/abc/<collection>/`` for reference.
 3. Split every ABC file into single tunes at its ``X:`` lines. The text before the first ``X:``
    (the file header) is put in front of each tune, as the ABC standard says it applies to all.
 4. Convert each tune to MIDI with ``abc2midi`` (Debian/Ubuntu package ``abcmidi``) when it is on
    PATH, otherwise with music21 if it is importable. Guitar chords, grace notes and fermatas are
    dropped, and so are ``R:`` (rhythm) lines, which make abc2midi swing hornpipes: the corpus is
    for monophonic melody models working on a 16th-note grid, with the notes as written.
 5. Mark tunes whose notes are identical to an earlier tune's (O'Neill's collection holds several
    overlapping transcriptions of the same tunes) as ``duplicate`` and delete their MIDI, so that
    a train/eval split cannot see the same melody twice. ``--keep-duplicates`` keeps them.

Output:
    OUT_DIR/<collection>/<tune-id>.mid   tune-id = "<abc file stem>-x<X number>" (plus "-2", "-3"
                                         when one file repeats an X number)
    OUT_DIR/manifest.jsonl               one JSON line per tune, in a fixed order
    OUT_DIR/corpus_info.json             wheel, converter, options, counts, time taken
    OUT_DIR/abc/<collection>/*.abc       the source ABC files

Usage:
    python scripts/build_folk_corpus.py OUT_DIR [--wheel PATH] [--collections ...] [--jobs N]
                                        [--force] [--keep-duplicates] [--timeout S]

Existing MIDI files are reused unless ``--force`` is given; the manifest is always rewritten.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

COLLECTIONS = ("oneills1850", "ryansMammoth", "airdsAirs", "miscFolk")
EXCLUDED = {"essenFolksong": "its licence is non-commercial (music21 use only)"}
WHEEL_MEMBER_ROOT = "music21/corpus"
DEFAULT_MUSIC21_SPEC = "music21==10.5.0"

# -NGUI: no accompaniment from guitar chords; -NGRA: no grace notes (they are shorter than a
# 16th note and steal time from the main note); -NFER: fermatas would stretch the metric grid.
ABC2MIDI_OPTIONS = ("-silent", "-NGUI", "-NGRA", "-NFER")

_X_LINE = re.compile(rb"^X:[ \t]*([^\r\n]*)", re.MULTILINE)
_T_LINE = re.compile(rb"^T:[ \t]*([^\r\n]*)", re.MULTILINE)
_R_LINE = re.compile(rb"^R:[^\r\n]*(\r?\n)?", re.MULTILINE)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class CorpusError(Exception):
    """The corpus cannot be built; the message says what to do."""


@dataclass
class Tune:
    """One tune cut out of an ABC file, ready to convert."""

    collection: str
    source: str  # path of the ABC file inside the wheel
    x: str  # the X: reference number as written
    title: str
    tune_id: str
    abc: bytes  # file header + the tune's own text


@dataclass
class Record:
    """One line of manifest.jsonl."""

    collection: str
    source: str
    x: str
    title: str
    tune_id: str
    path: str  # relative to OUT_DIR ("" when no MIDI was kept)
    status: str  # "ok", "failed" or "duplicate"
    reason: str = ""
    notes: int = 0
    warnings: int = 0
    errors: int = 0
    duplicate_of: str = ""
    fingerprint: str = ""


# --- 1. the wheel -----------------------------------------------------------------------------


def find_wheel(cache_dir: Path, spec: str) -> Path:
    """Return a music21 wheel from ``cache_dir``, downloading it with pip if none is there."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache_dir.glob("music21-*.whl"))
    if wheels:
        return wheels[-1]
    command = [sys.executable, "-m", "pip", "download", spec, "--no-deps", "--only-binary=:all:"]
    command += ["-d", str(cache_dir), "-q"]
    print(f"downloading {spec} with pip into {cache_dir} ...", file=sys.stderr)
    result = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(cache_dir.glob("music21-*.whl"))
    if result.returncode != 0 or not wheels:
        detail = (result.stderr.strip().splitlines() or ["no wheel was written"])[-1]
        raise CorpusError(f"pip could not download {spec} ({detail}); pass --wheel PATH instead")
    return wheels[-1]


def read_abc_files(wheel: Path, collections: list[str]) -> dict[str, bytes]:
    """Read the .abc files of the chosen collections out of the wheel, by member name."""
    try:
        archive = zipfile.ZipFile(wheel)
    except (OSError, zipfile.BadZipFile) as error:
        raise CorpusError(f"{wheel} is not a readable wheel ({error})") from None
    with archive:
        names = archive.namelist()
        files = {}
        for collection in collections:
            prefix = f"{WHEEL_MEMBER_ROOT}/{collection}/"
            members = sorted(n for n in names if n.startswith(prefix) and n.endswith(".abc"))
            if not members:
                raise CorpusError(
                    f"{wheel.name} has no .abc files under {prefix}; try another "
                    f"music21 version with --wheel"
                )
            for member in members:
                files[member] = archive.read(member)
    return files


# --- 2. ABC tunes -----------------------------------------------------------------------------


def split_tunes(data: bytes) -> tuple[bytes, list[bytes]]:
    """Split an ABC file into its file header and one chunk per tune, each starting at ``X:``."""
    starts = [m.start() for m in _X_LINE.finditer(data)]
    if not starts:
        return data, []
    ends = starts[1:] + [len(data)]
    return data[: starts[0]], [data[s:e] for s, e in zip(starts, ends, strict=True)]


def _decode(text: bytes) -> str:
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError:
        return text.decode("latin-1")


def tunes_of_file(collection: str, member: str, data: bytes) -> list[Tune]:
    """All tunes of one ABC file, with deterministic ids ``<stem>-x<X>[-k]``."""
    header, chunks = split_tunes(data)
    stem = _UNSAFE.sub("_", Path(member).stem)
    seen: dict[str, int] = {}
    tunes = []
    for chunk in chunks:
        x = _decode(_X_LINE.match(chunk).group(1)).strip()
        title_match = _T_LINE.search(chunk)
        title = _decode(title_match.group(1)).strip() if title_match else ""
        x_safe = _UNSAFE.sub("_", x.lstrip("0") or "0")
        seen[x_safe] = seen.get(x_safe, 0) + 1
        suffix = f"-{seen[x_safe]}" if seen[x_safe] > 1 else ""
        tune_id = f"{stem}-x{x_safe}{suffix}"
        # abc2midi swings every tune marked "R:hornpipe"; the rhythm field is otherwise only a
        # label, so it is dropped to keep the notes as written.
        body = _R_LINE.sub(b"", chunk)
        abc = header + b"\n" + body if header.strip() else body
        tunes.append(Tune(collection, member, x, title, tune_id, abc))
    return tunes


# --- 3. conversion ----------------------------------------------------------------------------


def _count_messages(output: str) -> tuple[int, int, str]:
    lines = output.splitlines()
    warnings = sum(line.startswith("Warning") for line in lines)
    errors = [line for line in lines if line.startswith("Error")]
    return warnings, len(errors), (errors[0] if errors else "")


def convert_with_abc2midi(abc: bytes, out_path: Path, timeout: float) -> tuple[int, int, str]:
    """Convert one tune into ``out_path``; return (warnings, errors, first error message)."""
    with tempfile.TemporaryDirectory(prefix="abc2midi-") as work:
        source = Path(work) / "tune.abc"
        target = Path(work) / "tune.mid"
        source.write_bytes(abc)
        command = ["abc2midi", str(source), "-o", str(target), *ABC2MIDI_OPTIONS]
        try:
            result = subprocess.run(
                command, capture_output=True, timeout=timeout, cwd=work, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"abc2midi timed out after {timeout:g} s") from None
        warnings, errors, first_error = _count_messages(_decode(result.stdout + result.stderr))
        if result.returncode != 0:
            raise RuntimeError(first_error or f"abc2midi exited with status {result.returncode}")
        if not target.exists() or target.stat().st_size == 0:
            raise RuntimeError(first_error or "abc2midi wrote no MIDI file")
        shutil.move(str(target), out_path)
    return warnings, errors, first_error


def _alarm(signum, frame):
    raise TimeoutError


def convert_with_music21(abc: bytes, out_path: Path, timeout: float) -> tuple[int, int, str]:
    """Convert one tune with music21: a slow fallback, less faithful than abc2midi.

    music21 merges notes tied across different pitches (some transcribers write ``a3-b`` for a
    slur), and its repeat expansion fails on some tunes. Runs in a worker process, so the alarm
    signal can stop a conversion that hangs.
    """
    import music21  # only needed when abc2midi is missing

    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(max(1, int(timeout)))
    try:
        score = music21.converter.parse(_decode(abc), format="abc")
        with contextlib.suppress(Exception):  # abc2midi plays repeats; try to do the same
            score = score.expandRepeats()
        score.write("midi", fp=str(out_path))
    except TimeoutError:
        raise RuntimeError(f"music21 timed out after {timeout:g} s") from None
    except Exception as error:  # music21 raises many kinds; report, do not crash the run
        raise RuntimeError(f"music21: {type(error).__name__}: {error}".splitlines()[0]) from None
    finally:
        signal.alarm(0)
    return 0, 0, ""


def midi_summary(path: Path) -> tuple[int, str]:
    """Number of notes in a MIDI file and a fingerprint of its notes (onset, channel, pitch)."""
    import mido

    midi = mido.MidiFile(str(path))
    notes = []
    for track in midi.tracks:
        tick = 0
        for message in track:
            tick += message.time
            if message.type == "note_on" and message.velocity > 0:
                notes.append((tick, message.channel, message.note))
    notes.sort()
    digest = hashlib.sha1(repr((midi.ticks_per_beat, notes)).encode()).hexdigest()[:16]
    return len(notes), digest


def pick_converter():
    """Return (name, function): abc2midi when on PATH, else music21 when importable."""
    if shutil.which("abc2midi"):
        return "abc2midi", convert_with_abc2midi
    try:
        import music21  # noqa: F401
    except ImportError:
        raise CorpusError(
            "no ABC converter found: install abc2midi (Debian/Ubuntu: apt-get install abcmidi; "
            "macOS: brew install abcmidi) or `pip install music21`"
        ) from None
    return "music21", convert_with_music21


def convert_tune(tune: Tune, out_dir: Path, converter, timeout: float, force: bool) -> Record:
    """Convert one tune (or reuse its MIDI) and describe the result as a manifest record."""
    relative = Path(tune.collection) / f"{tune.tune_id}.mid"
    out_path = out_dir / relative
    record = Record(tune.collection, tune.source, tune.x, tune.title, tune.tune_id, "", "failed")
    try:
        if force or not out_path.exists():
            partial = out_path.with_suffix(".mid.part")
            partial.unlink(missing_ok=True)
            try:
                record.warnings, record.errors, first_error = converter(tune.abc, partial, timeout)
                os.replace(partial, out_path)
            finally:
                partial.unlink(missing_ok=True)
            record.reason = first_error
        record.notes, record.fingerprint = midi_summary(out_path)
    except Exception as error:  # one bad tune must not stop the corpus
        out_path.unlink(missing_ok=True)
        record.reason = str(error) or type(error).__name__
        return record
    if record.notes == 0:
        out_path.unlink(missing_ok=True)
        record.reason = record.reason or "no notes"
        return record
    record.status = "ok"
    record.path = relative.as_posix()
    return record


# --- 4. the whole corpus ----------------------------------------------------------------------


def mark_duplicates(records: list[Record], out_dir: Path) -> None:
    """Mark every ok record whose notes repeat an earlier one's; delete its MIDI file."""
    first: dict[str, str] = {}
    for record in records:
        if record.status != "ok":
            continue
        if record.fingerprint in first:
            record.status = "duplicate"
            record.duplicate_of = first[record.fingerprint]
            (out_dir / record.path).unlink(missing_ok=True)
            record.path = ""
        else:
            first[record.fingerprint] = record.path


def build(args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    out_dir = Path(args.out_dir)
    converter_name, converter = pick_converter()
    wheel = Path(args.wheel) if args.wheel else find_wheel(Path(args.cache_dir), args.music21)
    if not wheel.is_file():
        raise CorpusError(f"wheel {wheel} does not exist")

    files = read_abc_files(wheel, args.collections)
    tunes = []
    for member, data in files.items():
        collection = member.split("/")[2]
        copy = out_dir / "abc" / collection / Path(member).name
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(data)
        tunes.extend(tunes_of_file(collection, member, data))
    for collection in args.collections:
        (out_dir / collection).mkdir(parents=True, exist_ok=True)

    # Threads are enough for abc2midi (each tune is a subprocess); music21 needs processes.
    pool_type = (
        concurrent.futures.ThreadPoolExecutor
        if converter_name == "abc2midi"
        else concurrent.futures.ProcessPoolExecutor
    )
    with pool_type(max_workers=args.jobs) as pool:
        futures = [
            pool.submit(convert_tune, tune, out_dir, converter, args.timeout, args.force)
            for tune in tunes
        ]
        records = []
        for index, future in enumerate(futures, 1):
            records.append(future.result())
            if index % 500 == 0 or index == len(futures):
                print(f"converted {index}/{len(futures)} tunes", file=sys.stderr)
    if not args.keep_duplicates:
        mark_duplicates(records, out_dir)
    # A --force run or a changed corpus may leave MIDI files no record points at: remove them.
    kept = {out_dir / r.path for r in records if r.path}
    for collection in args.collections:
        for stale in (out_dir / collection).glob("*.mid"):
            if stale not in kept:
                stale.unlink()

    with open(out_dir / "manifest.jsonl", "w", encoding="utf-8") as manifest:
        for record in records:
            manifest.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")

    per_collection = {}
    for collection in args.collections:
        mine = [r for r in records if r.collection == collection]
        per_collection[collection] = {
            "tunes": len(mine),
            "ok": sum(r.status == "ok" for r in mine),
            "failed": sum(r.status == "failed" for r in mine),
            "duplicate": sum(r.status == "duplicate" for r in mine),
            "notes": sum(r.notes for r in mine if r.status == "ok"),
        }
    info = {
        "wheel": wheel.name,
        "wheel_sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
        "converter": converter_name,
        "converter_options": list(ABC2MIDI_OPTIONS) if converter_name == "abc2midi" else [],
        "collections": per_collection,
        "total": {
            key: sum(c[key] for c in per_collection.values())
            for key in ("tunes", "ok", "failed", "duplicate", "notes")
        },
        "seconds": round(time.perf_counter() - started, 1),
    }
    with open(out_dir / "corpus_info.json", "w", encoding="utf-8") as handle:
        json.dump(info, handle, indent=2)
        handle.write("\n")
    return info


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Build a MIDI corpus from the public-domain folk tunes in music21's wheel."
    )
    parser.add_argument("out_dir", help="output folder (MIDI files, manifest.jsonl)")
    parser.add_argument("--wheel", help="path of a music21 wheel (default: download one with pip)")
    parser.add_argument(
        "--cache-dir",
        default=str(Path.home() / ".cache" / "melodyrnn" / "wheels"),
        help="where a downloaded wheel is kept (default: %(default)s)",
    )
    parser.add_argument(
        "--music21", default=DEFAULT_MUSIC21_SPEC, help="pip requirement to download"
    )
    parser.add_argument(
        "--collections",
        nargs="+",
        default=list(COLLECTIONS),
        metavar="NAME",
        help=f"collections to convert (default: all of {', '.join(COLLECTIONS)})",
    )
    parser.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1))
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds allowed per tune")
    parser.add_argument("--force", action="store_true", help="convert again even if MIDI exists")
    parser.add_argument(
        "--keep-duplicates", action="store_true", help="keep tunes whose notes repeat another's"
    )
    args = parser.parse_args(argv)
    for name in args.collections:
        if name in EXCLUDED:
            parser.error(f"collection {name} is left out: {EXCLUDED[name]}")
        if name not in COLLECTIONS:
            parser.error(f"unknown collection {name}; choose from {', '.join(COLLECTIONS)}")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        info = build(args)
    except CorpusError as error:
        print(f"build_folk_corpus: error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
