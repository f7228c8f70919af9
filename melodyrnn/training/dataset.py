"""Training data: a folder of MIDI files -> squashed melody event arrays, split and cached.

Every file is read in a worker process and run through the melody pipeline of
:mod:`melodyrnn.pipelines` (split -> quantize -> extract -> squash, with the
:class:`~melodyrnn.pipelines.DatasetSettings` given). Beyond Magenta, the eval split is made by
source file with a fixed seed, and near-duplicate files (the same title, or the same first two
bars after squashing) are kept on the same side of it, so tunes that appear in several
collections do not leak from training into evaluation.

:func:`build_dataset` keeps the whole dataset in memory; :func:`save_dataset` writes it as a
folder with ``melodies.npz`` (all events concatenated as int8 plus offsets, the source file and
split of each melody) and ``dataset.json`` (settings, per-file outcome, stats). ``melodyrnn
dataset`` builds a sharded dataset instead (:mod:`melodyrnn.training.build`, the format in
:mod:`melodyrnn.training.shards`), with the same melodies and split; :func:`load_dataset` reads
both. Events are encoder-independent: any melody config with the same range and key trains on
them.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import re
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from melodyrnn.constants import DEFAULT_STEPS_PER_BAR
from melodyrnn.errors import DatasetError, MelodyRNNError
from melodyrnn.files import atomic_path, write_bytes_atomically
from melodyrnn.io.midi_checks import one_line
from melodyrnn.pipelines import DatasetSettings, melodies_from_sequence
from melodyrnn.training.shards import ShardedDataset, is_sharded
from melodyrnn.training.workers import Failed, check_jobs, run_isolated

MIDI_SUFFIXES = (".mid", ".midi")
DATASET_FILES = ("melodies.npz", "dataset.json")


@dataclass(slots=True)
class FileSummary:
    """What the split and the report need of one file, without its melodies: the title, a
    digest of each melody's opening two bars, the melody lengths, the error and the stats."""

    path: str
    title: str = ""
    openings: list[str] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    error: str = ""
    stats: dict = field(default_factory=dict)

    @classmethod
    def of(cls, result: FileResult, steps_per_bar: int = DEFAULT_STEPS_PER_BAR) -> FileSummary:
        return cls(
            path=result.path,
            title=result.title,
            openings=opening_keys(result.melodies, steps_per_bar),
            lengths=[len(m) for m in result.melodies],
            error=result.error,
            stats=dict(result.stats),
        )

    def to_dict(self) -> dict:
        items = ((k, getattr(self, k)) for k in self.__dataclass_fields__)
        return {k: v for k, v in items if v or k == "path"}

    @classmethod
    def from_dict(cls, data: dict) -> FileSummary:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def opening_keys(melodies, steps_per_bar: int = DEFAULT_STEPS_PER_BAR) -> list[str]:
    """A digest of the first two bars of every melody at least that long (near-duplicate keys)."""
    n = 2 * steps_per_bar
    return [
        hashlib.blake2b(np.asarray(m[:n], dtype=np.int8).tobytes(), digest_size=12).hexdigest()
        for m in melodies
        if len(m) >= n
    ]


@dataclass
class FileResult:
    """What one MIDI file gave: its melodies (event arrays) or why it gave none."""

    path: str
    melodies: list[np.ndarray] = field(default_factory=list)
    error: str = ""
    stats: Counter = field(default_factory=Counter)
    title: str = ""


# --- one file ---------------------------------------------------------------------------


def process_file(path: str, settings: DatasetSettings) -> FileResult:
    """Read one MIDI file and extract its melodies; errors are recorded, never raised.

    An entry that is not a regular file (a folder, a FIFO, a device, a broken link or a link
    loop) is not opened: reading a FIFO or ``/dev/zero`` would never end.
    """
    from melodyrnn.io.midi import midi_to_sequence

    result = FileResult(path=path)
    problem = entry_problem(path)
    if problem:
        result.error = f"{path}: not a regular file ({problem})"
        return result
    try:
        ns = midi_to_sequence(path)
        result.title = _title_of(ns, path)
        result.melodies = melodies_from_sequence(ns, settings, result.stats, consume=True)
    except MelodyRNNError as exc:
        result.error = str(exc)
    except MemoryError:
        result.melodies = []
        result.error = f"{path}: ran out of memory reading it"
    except Exception as exc:  # a case no check foresaw: this file fails, the build goes on
        result.melodies = []
        result.error = f"{path}: unexpected error ({one_line(exc)})"
    return result


def entry_problem(path: str) -> str:
    """Why ``path`` is not a regular file that can be read ("" when it is one)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "a broken symbolic link" if os.path.islink(path) else "it does not exist"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop"
        return exc.strerror or type(exc).__name__
    if stat.S_ISREG(mode):
        return ""
    for test, what in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return what
    return "not a file"


def _title_of(ns, path: str) -> str:
    """The first track name (abc2midi and most notation programs write the tune title there);
    "" when there is none. File names are not titles: tune_1.mid and tune_2.mid differ."""
    names = [info.name for info in ns.instrument_infos if info.name.strip()]
    return names[0] if names else ""


# --- a folder ------------------------------------------------------------------------------


def find_midi_files(midi_dir: str | os.PathLike) -> list[str]:
    """Every entry named .mid/.midi below ``midi_dir``, sorted; DatasetError if there is none.

    Symbolic links to folders are not followed, and nothing is opened here: entries that are not
    regular files (a folder named x.mid, a FIFO, a link to a device, a broken link, a link loop)
    are listed too, so the build reports each of them as a failed file with the reason.
    """
    root = Path(midi_dir)
    if not root.exists():
        raise DatasetError(f"{root}: no such folder")
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder; give a folder of MIDI files")
    files = sorted(str(p) for p in root.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES)
    if not files:
        raise DatasetError(f"{root}: no .mid or .midi files in this folder or below it")
    return files


def extract_folder(
    files: list[str],
    settings: DatasetSettings,
    jobs: int | None = None,
    progress: bool = True,
    *,
    max_seconds_per_file: float | None = None,
    bar=None,
) -> list[FileResult]:
    """Process files in worker processes (results in the order of ``files``).

    ``jobs`` worker processes (None or 0: one per core) read one file at a time. A file that
    takes longer than ``max_seconds_per_file`` (default: the limit of that name), or whose
    worker dies (killed for memory, a crash), is a failed file with the reason; a new worker
    carries on with the others, so one bad file never costs the rest of the build. ``bar``: a
    progress bar to advance (by default one is made and closed here).
    """
    jobs = check_jobs(jobs)
    own_bar = bar is None
    if own_bar:
        bar = progress_bar(len(files), progress)
    outcomes = run_isolated(
        process_file,
        files,
        (settings,),
        jobs=min(jobs, len(files)) or 1,
        max_seconds=max_seconds_per_file,
        on_done=lambda _: bar.update(),
    )
    if own_bar:
        bar.close()
    return [
        FileResult(path=path, error=f"{path}: {outcome.reason}")
        if isinstance(outcome, Failed)
        else outcome
        for path, outcome in zip(files, outcomes)
    ]


def progress_bar(total: int, progress: bool = True, initial: int = 0):
    """The "reading MIDI" bar; none when stderr is not a terminal (logs, pipes), where it would
    sit beside error lines."""
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc="reading MIDI",
        unit="file",
        disable=None if progress else True,
    )


# --- near-duplicates and the split ---------------------------------------------------------


def normalize_title(title: str) -> str:
    """Lower case, no punctuation, no articles, no trailing number ("Butterfly 2", "No. 2" are
    other settings of the same tune in the folk collections)."""
    t = re.sub(r"[^a-z0-9 ]+", " ", title.lower())
    t = re.sub(r"\b(the|a|an)\b", " ", t)
    t = re.sub(r"\b(no|number)?\s*\d+\s*$", " ", t)
    return " ".join(t.split())


# A tune turns up in a handful of collections at most; a "title" shared by more files than this
# is a generic track name ("Piano", "Melody", "Track 1") and says nothing about the tune.
MAX_TITLE_SHARE = 4


def duplicate_groups(results: list, steps_per_bar: int = DEFAULT_STEPS_PER_BAR) -> list[int]:
    """A group id per file: files sharing a specific title or opening two bars are one group.

    ``results``: :class:`FileSummary` (or anything with ``title`` and ``openings``, or
    ``title`` and ``melodies``)."""
    parent = list(range(len(results)))
    title_counts = Counter(normalize_title(r.title) for r in results)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    seen: dict[object, int] = {}
    for i, result in enumerate(results):
        keys: list[object] = []
        title = normalize_title(result.title)
        if len(title) >= 3 and title_counts[title] <= MAX_TITLE_SHARE:
            keys.append(("title", title))
        openings = getattr(result, "openings", None)
        if openings is None:
            openings = opening_keys(result.melodies, steps_per_bar)
        keys.extend(("opening", key) for key in openings)
        for key in keys:
            if key in seen:
                parent[find(i)] = find(seen[key])
            else:
                seen[key] = i
    return [find(i) for i in range(len(results))]


def split_groups(groups: list[int], eval_fraction: float, seed: int) -> np.ndarray:
    """1 for files in the eval split, 0 for training: whole groups, a seeded random order.

    Groups are taken until ``eval_fraction`` of the files is reached; a group that would
    overshoot it by more than half stays in training, so one big group cannot swallow the split.
    """
    unique = sorted(set(groups))
    random.Random(seed).shuffle(unique)
    target = eval_fraction * len(groups)
    size = Counter(groups)
    eval_groups: set[int] = set()
    count = 0
    for g in unique:
        if count >= target:
            break
        if count + size[g] > max(1.0, 1.5 * target):
            continue
        eval_groups.add(g)
        count += size[g]
    return np.array([1 if g in eval_groups else 0 for g in groups], dtype=np.uint8)


# --- build, save, load ----------------------------------------------------------------------


@dataclass
class MelodyDataset:
    """Melody event arrays with their source file and split."""

    events: np.ndarray  # int8, all melodies back to back
    offsets: np.ndarray  # int64 [M + 1]
    file_index: np.ndarray  # int32 [M]
    split: np.ndarray  # uint8 [M]: 0 train, 1 eval
    settings: DatasetSettings
    info: dict = field(default_factory=dict)

    @classmethod
    def from_melodies(
        cls,
        melodies: list[np.ndarray],
        split,
        settings: DatasetSettings | None = None,
        file_index=None,
        info: dict | None = None,
    ) -> MelodyDataset:
        """Pack event arrays (one per melody) with their split (0 train, 1 eval) and source file
        index (default: one file per melody)."""
        offsets = np.zeros(len(melodies) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(m) for m in melodies])
        if file_index is None:
            file_index = np.arange(len(melodies))
        return cls(
            events=np.concatenate(melodies).astype(np.int8),
            offsets=offsets,
            file_index=np.asarray(file_index, dtype=np.int32),
            split=np.asarray(split, dtype=np.uint8),
            settings=settings or DatasetSettings(),
            info=dict(info or {}),
        )

    def __len__(self) -> int:
        return len(self.file_index)

    def melody(self, i: int) -> np.ndarray:
        return self.events[self.offsets[i] : self.offsets[i + 1]]

    def melodies(self, split: str = "all") -> list[np.ndarray]:
        want = {"train": 0, "eval": 1}.get(split)
        return [self.melody(i) for i in range(len(self)) if want is None or self.split[i] == want]


def check_settings(settings: DatasetSettings) -> None:
    """DatasetError for settings that contradict each other."""
    if settings.transpose_to_key is not None and tuple(settings.transpositions) != (0,):
        raise DatasetError(
            "transposition augmentation does nothing when melodies are moved to one key "
            f"(key {settings.transpose_to_key}): set {{transpose_to_key}} to none to use "
            "{transpositions}",
            parameters=("transpose_to_key", "transpositions"),
        )


def build_dataset(
    midi_dir: str | os.PathLike,
    settings: DatasetSettings | None = None,
    jobs: int | None = None,
    progress: bool = True,
    *,
    max_seconds_per_file: float | None = None,
) -> MelodyDataset:
    """Extract, deduplicate and split the melodies of every MIDI file below ``midi_dir``.

    Files are read by :func:`extract_folder` (``jobs``, ``max_seconds_per_file``); a file that
    cannot be read is a failure in the report (``info["files"]``), never the end of the build.
    """
    settings = settings or DatasetSettings()
    check_jobs(jobs)
    check_settings(settings)
    files = find_midi_files(midi_dir)
    results = extract_folder(
        files, settings, jobs=jobs, progress=progress, max_seconds_per_file=max_seconds_per_file
    )
    summaries = [FileSummary.of(r) for r in results]
    groups = duplicate_groups(summaries)
    file_split = split_groups(groups, settings.eval_fraction, settings.seed)

    arrays, file_index, split = [], [], []
    for i, result in enumerate(results):
        for events in result.melodies:
            arrays.append(events)
            file_index.append(i)
            split.append(file_split[i])
    if not arrays:
        raise no_melodies_error(midi_dir, summaries, settings)
    info = dataset_report(midi_dir, summaries, groups, file_split)
    return MelodyDataset.from_melodies(arrays, split, settings, file_index, info)


def no_melodies_error(midi_dir, summaries: list[FileSummary], settings) -> DatasetError:
    failed = sum(1 for r in summaries if r.error)
    return DatasetError(
        f"{midi_dir}: no melodies left from {len(summaries)} MIDI files ({failed} unreadable); "
        "files need monophonic lines of at least "
        f"{settings.min_bars} bars with {settings.min_unique_pitches} pitch classes "
        "(try {keep_highest} for polyphonic tracks)",
        parameters=("keep_highest",),
    )


def dataset_report(midi_dir, results: list[FileSummary], groups, file_split) -> dict:
    """The per-file outcome and stats that ``dataset.json`` keeps."""
    stats: Counter = Counter()
    errors: Counter = Counter()
    for r in results:
        stats.update(r.stats)
        if r.error:
            errors[r.error.split(": ", 1)[-1][:80]] += 1
    group_sizes = Counter(groups)
    duplicates = sum(size for size in group_sizes.values() if size > 1)
    return {
        "source": str(midi_dir),
        "files_read": len(results) - sum(1 for r in results if r.error),
        "files_failed": sum(1 for r in results if r.error),
        "files_failed_by_reason": dict(errors.most_common()),
        "files_without_melodies": sum(1 for r in results if not r.error and not r.lengths),
        "near_duplicate_files": duplicates,
        "near_duplicate_groups": sum(1 for size in group_sizes.values() if size > 1),
        "eval_files": int(file_split.sum()),
        "train_files": int(len(file_split) - file_split.sum()),
        "stats": dict(sorted(stats.items())),
        "files": [
            {
                "path": os.path.relpath(r.path, midi_dir),
                "melodies": len(r.lengths),
                "split": "eval" if file_split[i] else "train",
                **({"error": r.error} if r.error else {}),
            }
            for i, r in enumerate(results)
        ],
    }


def save_dataset(ds: MelodyDataset, out_dir: str | os.PathLike, force: bool = False) -> Path:
    """Write ``melodies.npz`` and ``dataset.json`` into ``out_dir`` (atomically, per file)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DatasetError(f"{out}: exists and is not a folder")
    existing = [name for name in DATASET_FILES if (out / name).exists()]
    if existing and not force:
        raise DatasetError(
            f"{out}: already holds a dataset; use {{force}} to overwrite it", parameters=("force",)
        )
    out.mkdir(parents=True, exist_ok=True)
    counts = {
        "melodies": len(ds),
        "train_melodies": int((ds.split == 0).sum()),
        "eval_melodies": int((ds.split == 1).sum()),
        "steps": int(len(ds.events)),
        "train_steps": int(sum(len(m) for m in ds.melodies("train"))),
        "eval_steps": int(sum(len(m) for m in ds.melodies("eval"))),
    }
    meta = {"format": "melodyrnn-dataset-1", "settings": ds.settings.to_dict(), **counts, **ds.info}
    ds.info = {**ds.info, **counts}
    with atomic_path(out / "melodies.npz") as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(
            handle, events=ds.events, offsets=ds.offsets, file_index=ds.file_index, split=ds.split
        )
    write_bytes_atomically(out / "dataset.json", json.dumps(meta, indent=1).encode())
    return out


def load_dataset(path: str | os.PathLike) -> MelodyDataset:
    """Read a dataset folder written by :func:`save_dataset`, or a sharded one (all of it, into
    memory; training streams a sharded dataset instead, see :func:`open_dataset`)."""
    root = Path(path)
    if is_sharded(root):
        sharded = ShardedDataset.open(root, report=True)
        return MelodyDataset(settings=sharded.settings, info=sharded.info, **sharded.arrays())
    if not (root / "melodies.npz").is_file() or not (root / "dataset.json").is_file():
        raise DatasetError(
            f"{root}: not a melodyrnn dataset (needs dataset.json with melodies.npz or shards); "
            "build one with: melodyrnn dataset MIDI_DIR OUT"
        )
    try:
        meta = json.loads((root / "dataset.json").read_text())
        with np.load(root / "melodies.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("events", "offsets", "file_index", "split")}
    except (OSError, ValueError, KeyError) as exc:
        raise DatasetError(f"{root}: the dataset is corrupt ({exc}); rebuild it") from exc
    return MelodyDataset(
        settings=DatasetSettings.from_dict(meta.get("settings", {})),
        info={k: v for k, v in meta.items() if k != "settings"},
        **arrays,
    )


def _reason(error: str, path: str) -> str:
    """``error`` without the file's path in front (the report names the file itself)."""
    for named in (path + "': ", path + ": "):  # "cannot read MIDI file '.../x.mid': why"
        at = error.find(named)
        if at >= 0 and ": " not in error[:at]:
            return error[at + len(named) :]
    return error


def open_dataset(path: str | os.PathLike) -> MelodyDataset | ShardedDataset:
    """A sharded dataset's index (its shards are read when needed), or a single-file dataset."""
    return ShardedDataset.open(path) if is_sharded(path) else load_dataset(path)


def _steps(ds: MelodyDataset | ShardedDataset) -> int:
    return int(ds.lengths.sum()) if isinstance(ds, ShardedDataset) else len(ds.events)


def format_report(ds: MelodyDataset | ShardedDataset) -> str:
    """The stats report printed by ``melodyrnn dataset``."""
    info = ds.info
    lines = [
        f"files read: {info.get('files_read', '?')}, failed: {info.get('files_failed', '?')}, "
        f"without melodies: {info.get('files_without_melodies', '?')}",
    ]
    for entry in info.get("files", []):  # every failed file, by name, with its reason
        if entry.get("error"):
            lines.append(f"  failed: {entry['path']}: {_reason(entry['error'], entry['path'])}")
    lines.append(
        f"near-duplicates: {info.get('near_duplicate_files', 0)} files in "
        f"{info.get('near_duplicate_groups', 0)} groups (kept on one side of the split)"
    )
    lines.append(
        f"melodies: {len(ds)} ({int((ds.split == 0).sum())} train, "
        f"{int((ds.split == 1).sum())} eval), steps: {_steps(ds)}"
    )
    for key, value in info.get("stats", {}).items():
        lines.append(f"  {key}: {value}")
    return "\n".join(lines)
