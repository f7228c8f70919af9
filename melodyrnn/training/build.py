"""Building a sharded dataset: bounded memory whatever the folder's size, resumable.

The sorted MIDI files are cut into blocks of ``files_per_shard``; each block is read in worker
processes (:func:`~melodyrnn.training.dataset.extract_folder`), its melodies are written as one
shard (atomically, the same bytes every time), and then one line is appended to the manifest
``progress.jsonl``: the shard's name and SHA-256 and a small summary of every file of the block
(title, opening digests, melody lengths, error, stats). Memory holds one block's melodies and the
summaries, never the dataset.

A build that was interrupted (Ctrl-C, a kill, a crash, a full disk) is resumed by running it
again: blocks whose manifest line is complete and whose shard is intact are not read again. When
every block is done, the near-duplicate groups and the eval split are made from the summaries
(the same function, so the same split as :func:`~melodyrnn.training.dataset.build_dataset`),
``index.npz`` and ``dataset.json`` are written, and the manifest is removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

from melodyrnn.errors import DatasetError
from melodyrnn.files import prepare_output_dir, write_bytes_atomically
from melodyrnn.pipelines import DatasetSettings
from melodyrnn.training.dataset import (
    FileSummary,
    check_settings,
    dataset_report,
    duplicate_groups,
    extract_folder,
    find_midi_files,
    no_melodies_error,
    progress_bar,
    split_groups,
)
from melodyrnn.training.shards import (
    FORMAT,
    INDEX_FILE,
    META_FILE,
    SHARD_DIR,
    ShardedDataset,
    shard_arrays,
    shard_name,
    write_npz,
)
from melodyrnn.training.workers import check_jobs

MANIFEST = "progress.jsonl"
FILES_PER_SHARD = 500
_MANIFEST_FORMAT = "melodyrnn-dataset-2-progress"


def build_sharded(
    midi_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    settings: DatasetSettings | None = None,
    jobs: int | None = None,
    progress: bool = True,
    *,
    files_per_shard: int = FILES_PER_SHARD,
    force: bool = False,
    max_seconds_per_file: float | None = None,
    on_resume=None,
) -> ShardedDataset:
    """Build (or resume building) a sharded dataset of every MIDI file below ``midi_dir`` in
    ``out_dir``; returns it opened. ``force`` starts over, replacing any dataset there.
    ``on_resume(done_files, total_files)`` is called when an unfinished build is picked up."""
    settings = settings or DatasetSettings()
    check_jobs(jobs)
    check_settings(settings)
    if isinstance(files_per_shard, bool) or not isinstance(files_per_shard, int):
        files_per_shard = -1
    if files_per_shard < 1:
        raise DatasetError(
            f"{{files_per_shard}} must be a whole number >= 1, got {files_per_shard!r}",
            parameters=("files_per_shard",),
        )
    out = Path(out_dir)
    if (out / META_FILE).exists() and not force:
        raise DatasetError(
            f"{out}: already holds a dataset; use {{force}} to overwrite it", parameters=("force",)
        )
    prepare_output_dir(out, "dataset folder", create=False)
    files = find_midi_files(midi_dir)
    header = {
        "format": _MANIFEST_FORMAT,
        "settings": settings.to_dict(),
        "files_per_shard": files_per_shard,
        "files": len(files),
        "files_sha256": _digest(os.path.relpath(f, midi_dir) for f in files),
    }
    if force:
        _clear(out)
    done = _finished_blocks(out, header)
    if done and on_resume is not None:
        on_resume(sum(done.values()), len(files))
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / MANIFEST
    if not done:
        (out / SHARD_DIR).mkdir(exist_ok=True)
        write_bytes_atomically(manifest, (json.dumps(header) + "\n").encode())
    blocks = range(0, len(files), files_per_shard)
    bar = progress_bar(len(files), progress, initial=sum(done.values()))
    try:
        for k, start in enumerate(blocks):
            if k in done:
                continue
            block = files[start : start + files_per_shard]
            results = extract_folder(
                block, settings, jobs=jobs, max_seconds_per_file=max_seconds_per_file, bar=bar
            )
            melodies, file_index = [], []
            for i, result in enumerate(results):
                melodies.extend(result.melodies)
                file_index.extend([start + i] * len(result.melodies))
            sha = write_npz(out / shard_name(k), shard_arrays(melodies, file_index))
            line = {
                "shard": k,
                "name": shard_name(k),
                "sha256": sha,
                "files": [_relative(FileSummary.of(r), midi_dir).to_dict() for r in results],
            }
            _append_line(manifest, line)
            done[k] = len(block)
            del results, melodies, line
    finally:
        bar.close()
    return _finish(midi_dir, out, settings, header, _finished_blocks(out, header, keep=True))


def _finish(midi_dir, out: Path, settings, header: dict, done: dict) -> ShardedDataset:
    lines = [done[k] for k in range(len(done))]
    summaries = [FileSummary.from_dict(f) for line in lines for f in line["files"]]
    for line in lines:  # the summaries are all that is needed of them from here on
        line["files"] = [(len(f.get("lengths", ())), f.get("lengths", ())) for f in line["files"]]
    groups = duplicate_groups(summaries)
    file_split = split_groups(groups, settings.eval_fraction, settings.seed)
    shard, lengths, file_index = [], [], []
    for k, line in enumerate(lines):
        base = k * header["files_per_shard"]
        for i, (_, file_lengths) in enumerate(line["files"]):
            for n in file_lengths:
                shard.append(k)
                lengths.append(n)
                file_index.append(base + i)
    if not lengths:
        _clear(out)
        raise no_melodies_error(midi_dir, [_absolute(s, midi_dir) for s in summaries], settings)
    file_index = np.asarray(file_index, dtype=np.int32)
    split = file_split[file_index].astype(np.uint8)
    lengths = np.asarray(lengths, dtype=np.int64)
    write_npz(
        out / INDEX_FILE,
        {
            "shard": np.asarray(shard, dtype=np.int32),
            "length": lengths,
            "file_index": file_index,
            "split": split,
        },
    )
    info = dataset_report(midi_dir, [_absolute(s, midi_dir) for s in summaries], groups, file_split)
    meta = {
        "format": FORMAT,
        "settings": settings.to_dict(),
        "melodies": len(lengths),
        "train_melodies": int((split == 0).sum()),
        "eval_melodies": int((split == 1).sum()),
        "steps": int(lengths.sum()),
        "train_steps": int(lengths[split == 0].sum()),
        "eval_steps": int(lengths[split == 1].sum()),
        "files_per_shard": header["files_per_shard"],
        "shards": [
            {
                "name": line["name"],
                "sha256": line["sha256"],
                "melodies": sum(count for count, _ in line["files"]),
                "files": len(line["files"]),
            }
            for line in lines
        ],
        **info,
    }
    write_bytes_atomically(out / META_FILE, json.dumps(meta, indent=1).encode())
    (out / MANIFEST).unlink(missing_ok=True)
    return ShardedDataset.open(out, report=True)


def _finished_blocks(out: Path, header: dict, keep: bool = False) -> dict[int, dict | int]:
    """The blocks an earlier, unfinished build of the same files and settings completed: their
    manifest lines (``keep``) or just their number of files."""
    manifest = out / MANIFEST
    if not manifest.is_file():
        if (out / "melodies.npz").exists() or (out / SHARD_DIR).exists():
            raise DatasetError(
                f"{out}: already holds a dataset; use {{force}} to overwrite it",
                parameters=("force",),
            )
        return {}
    with open(manifest, "rb") as handle:
        lines = handle.readlines()
    try:
        first = json.loads(lines[0]) if lines else None
    except ValueError:
        first = None
    if first != header:
        raise DatasetError(
            f"{out}: holds an unfinished build of other files or settings; use {{force}} to "
            "start over",
            parameters=("force",),
        )
    done: dict[int, dict | int] = {}
    for raw in lines[1:]:
        try:
            line = json.loads(raw)  # a line cut short by the interruption does not parse
            k = int(line["shard"])
            path = out / shard_name(k)
            if line["name"] == shard_name(k) and _sha256(path) == line["sha256"]:
                done[k] = line if keep else len(line["files"])
        except (ValueError, KeyError, TypeError, OSError):
            continue
    if lines and not lines[-1].endswith(b"\n"):  # cut short: end it for the next line
        with open(manifest, "ab") as handle:
            handle.write(b"\n")
    return done


def _append_line(manifest: Path, line: dict) -> None:
    with open(manifest, "ab") as handle:
        handle.write((json.dumps(line) + "\n").encode())
        handle.flush()
        os.fsync(handle.fileno())


def _clear(out: Path) -> None:
    for name in ("melodies.npz", META_FILE, INDEX_FILE, MANIFEST):
        (out / name).unlink(missing_ok=True)
    if (out / SHARD_DIR).is_dir():
        shutil.rmtree(out / SHARD_DIR)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _digest(names) -> str:
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode("utf-8", "surrogateescape") + b"\0")
    return digest.hexdigest()


def _relative(summary: FileSummary, midi_dir) -> FileSummary:
    summary.path = os.path.relpath(summary.path, midi_dir)
    return summary


def _absolute(summary: FileSummary, midi_dir) -> FileSummary:
    summary.path = os.path.join(midi_dir, summary.path)
    return summary
