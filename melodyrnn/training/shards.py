"""A dataset stored as shards: melody events in files of a bounded size, and an index of them.

A sharded dataset folder (format ``melodyrnn-dataset-2``, written by
:func:`melodyrnn.training.build.build_sharded`) holds

* ``shards/shard-NNNNN.npz``: the melodies of one block of source files (``files_per_shard``
  files in sorted order): ``events`` (int8, back to back), ``offsets`` (int64 [M + 1]) and
  ``file_index`` (int32 [M], the source file's number in the whole folder);
* ``index.npz``: one row per melody of the whole dataset, in shard order: ``shard``,
  ``length``, ``file_index`` and ``split`` (0 train, 1 eval), so the training loop can plan
  its batches without reading any shard;
* ``dataset.json``: settings, counts, the shards with their SHA-256, the per-file report.

Every ``.npz`` is written byte for byte the same for the same content (fixed zip timestamps), so
a build that was interrupted and resumed writes the files a build in one go would. Shards are
read through :func:`melodyrnn.models.folder.read_npz` (no pickles, sizes checked).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from melodyrnn.errors import CheckpointError, DatasetError
from melodyrnn.files import write_bytes_atomically
from melodyrnn.models.folder import inside_folder, read_json, read_npz
from melodyrnn.models.schema import Anything, Arr, Int, Obj, Str
from melodyrnn.pipelines import DatasetSettings

FORMAT = "melodyrnn-dataset-2"
SHARD_DIR = "shards"
INDEX_FILE = "index.npz"
META_FILE = "dataset.json"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_META_SCHEMA = Obj(
    {
        "format": Str((FORMAT,)),
        "settings": Obj(extra=Anything()),
        "shards": Arr(
            Obj({"name": Str(), "melodies": Int(0)}, required=("name",), extra=Anything())
        ),
    },
    required=("format", "settings", "shards"),
    extra=Anything(),
)


def shard_name(k: int) -> str:
    return f"{SHARD_DIR}/shard-{k:05d}.npz"


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An ``.npz`` of ``arrays`` (deflated), the same bytes for the same arrays every time."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue(), compresslevel=6)
    return buffer.getvalue()


def write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> str:
    """Write :func:`npz_bytes` atomically; returns its SHA-256 (hex)."""
    data = npz_bytes(arrays)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomically(path, data)
    return hashlib.sha256(data).hexdigest()


def shard_arrays(melodies: list[np.ndarray], file_index: list[int]) -> dict[str, np.ndarray]:
    offsets = np.zeros(len(melodies) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(m) for m in melodies])
    events = np.concatenate(melodies).astype(np.int8) if melodies else np.zeros(0, np.int8)
    return {
        "events": events,
        "offsets": offsets,
        "file_index": np.asarray(file_index, dtype=np.int32),
    }


def is_sharded(path: str | os.PathLike) -> bool:
    """True if ``path`` holds a finished sharded dataset (its ``dataset.json`` says so)."""
    meta = Path(path) / META_FILE
    if not meta.is_file() or (Path(path) / "melodies.npz").exists():
        return False
    try:  # the format is the first key melodyrnn writes; the rest is checked when opened
        with open(meta, "rb") as handle:
            head = handle.read(256)
    except OSError:
        return False
    return f'"format": "{FORMAT}"'.encode() in head


@dataclass
class ShardedDataset:
    """The index of a sharded dataset; shards are read one at a time, on demand."""

    root: Path
    settings: DatasetSettings
    shard_names: list[str]
    shard: np.ndarray  # int32 [M]: the shard of each melody
    lengths: np.ndarray  # int64 [M]
    file_index: np.ndarray  # int32 [M]
    split: np.ndarray  # uint8 [M]: 0 train, 1 eval
    info: dict = field(default_factory=dict)

    @classmethod
    def open(cls, path: str | os.PathLike, report: bool = False) -> ShardedDataset:
        """The index of the dataset in ``path``; ``report``: keep the per-file report of
        ``dataset.json`` in ``info["files"]`` (one entry per source file)."""
        root = Path(path)
        try:
            meta = read_json(root / META_FILE, _META_SCHEMA)
            index = read_npz(root / INDEX_FILE, f"{root}/{INDEX_FILE}")
            arrays = {k: index[k] for k in ("shard", "length", "file_index", "split")}
            names = [s["name"] for s in meta["shards"]]
            for name in names:  # a shard named ../x or /etc/x is refused before any read
                inside_folder(root, name, "shard")
        except (KeyError, CheckpointError) as exc:
            raise DatasetError(f"{root}: the dataset is corrupt ({exc}); rebuild it") from None
        sizes = {len(a) for a in arrays.values()}
        shard = arrays["shard"].astype(np.int32)
        if len(sizes) != 1 or (len(shard) and (shard.min() < 0 or shard.max() >= len(names))):
            raise DatasetError(f"{root}: the dataset index is corrupt; rebuild it")
        return cls(
            root=root,
            settings=DatasetSettings.from_dict(meta.get("settings", {})),
            shard_names=names,
            shard=shard,
            lengths=arrays["length"].astype(np.int64),
            file_index=arrays["file_index"].astype(np.int32),
            split=arrays["split"].astype(np.uint8),
            info={
                k: v
                for k, v in meta.items()
                if k not in ("settings", "shards") and (report or k != "files")
            },
        )

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def num_shards(self) -> int:
        return len(self.shard_names)

    def melodies_of_shard(self, k: int) -> list[np.ndarray]:
        """The melodies of shard ``k`` in index order (checked against the index)."""
        path = self.root / self.shard_names[k]
        try:
            arrays = read_npz(path, str(path))
            events, offsets = arrays["events"], arrays["offsets"].astype(np.int64)
        except (CheckpointError, KeyError) as exc:
            raise DatasetError(f"{path}: the shard is corrupt ({exc}); rebuild it") from None
        want = self.lengths[self.shard == k]
        if len(offsets) != len(want) + 1 or not np.array_equal(np.diff(offsets), want):
            raise DatasetError(f"{path}: the shard does not match the dataset index; rebuild it")
        if len(events) != offsets[-1]:
            raise DatasetError(f"{path}: the shard is truncated; rebuild it")
        return [events[offsets[i] : offsets[i + 1]] for i in range(len(want))]

    def arrays(self) -> dict[str, np.ndarray]:
        """Every melody in memory, as the arrays of a single-file dataset."""
        melodies: list[np.ndarray] = []
        for k in range(self.num_shards):
            melodies.extend(self.melodies_of_shard(k))
        offsets = np.zeros(len(melodies) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(m) for m in melodies])
        events = np.concatenate(melodies) if melodies else np.zeros(0, np.int8)
        return {
            "events": events.astype(np.int8),
            "offsets": offsets,
            "file_index": self.file_index,
            "split": self.split,
        }


def save_sharded(ds, out_dir: str | os.PathLike, files_per_shard: int, force: bool = False) -> Path:
    """Write an in-memory dataset (:class:`~melodyrnn.training.dataset.MelodyDataset`) as a
    sharded one: the melodies of source files ``k * files_per_shard ...`` in shard ``k``."""
    out = Path(out_dir)
    if (out / META_FILE).exists() and not force:
        raise DatasetError(
            f"{out}: already holds a dataset; use {{force}} to overwrite it", parameters=("force",)
        )
    file_index = np.asarray(ds.file_index, dtype=np.int64)
    order = np.argsort(file_index, kind="stable")
    if not np.array_equal(order, np.arange(len(order))):
        raise DatasetError("the melodies must be in the order of their source files")
    shard = (file_index // files_per_shard).astype(np.int32)
    num_shards = int(shard.max()) + 1 if len(shard) else 0
    lengths = np.diff(ds.offsets).astype(np.int64)
    shards = []
    for k in range(num_shards):
        rows = np.flatnonzero(shard == k)
        melodies = [ds.events[ds.offsets[i] : ds.offsets[i + 1]] for i in rows]
        sha = write_npz(out / shard_name(k), shard_arrays(melodies, file_index[rows]))
        shards.append({"name": shard_name(k), "sha256": sha, "melodies": len(rows)})
    split = np.asarray(ds.split, dtype=np.uint8)
    write_npz(
        out / INDEX_FILE,
        {
            "shard": shard,
            "length": lengths,
            "file_index": file_index.astype(np.int32),
            "split": split,
        },
    )
    meta = {
        "format": FORMAT,
        **{k: v for k, v in ds.info.items() if k != "format"},
        "settings": ds.settings.to_dict(),
        "melodies": len(lengths),
        "train_melodies": int((split == 0).sum()),
        "eval_melodies": int((split == 1).sum()),
        "steps": int(lengths.sum()),
        "files_per_shard": files_per_shard,
        "shards": shards,
    }
    write_bytes_atomically(out / META_FILE, json.dumps(meta, indent=1).encode())
    return out
