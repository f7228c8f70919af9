"""TF.js weights: a folder's ``weights_manifest.json`` and the shard files it lists, read safely.

The manifest is a list of weight groups ``{"paths": [shard file, ...], "weights": [{"name",
"shape", "dtype"}, ...]}``. A group's shard files, concatenated in ``paths`` order, hold its
tensors back to back in ``weights`` order, each little-endian float32 in row-major order (a
tensor may straddle two shard files). :func:`read_manifest` checks everything it can before a
byte of weights is read:

* the manifest against :data:`MANIFEST_SCHEMA` (names are strings, shapes lists of integers
  >= 0, ...), its size (``max_file_bytes``) and nesting (``max_json_depth``);
* every shard path stays inside the folder (:func:`melodyrnn.models.folder.inside_folder`) and
  no shard file or tensor name is listed twice;
* the shard files' real sizes: all of them within ``max_checkpoint_bytes``, each group's exactly
  the bytes its tensors describe, and all tensors within ``max_parameters`` values.

Only then :func:`read_tfjs_weights` reads the shards (one buffer per group; the arrays are views
of it). :mod:`melodyrnn.models.magenta_js` turns the tensors into an EventRNN.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from melodyrnn.errors import CheckpointError, CheckpointLimitError
from melodyrnn.limits import check_limit
from melodyrnn.models.folder import file_size, inside_folder, read_files, read_json
from melodyrnn.models.schema import Anything, Arr, Int, Obj, Str

__all__ = ["MANIFEST_FILE", "MANIFEST_SCHEMA", "TfjsManifest", "read_manifest", "read_tfjs_weights"]

MANIFEST_FILE = "weights_manifest.json"
_WEIGHT = Obj(
    {"name": Str(), "shape": Arr(Int(0), 0, 8), "dtype": Str()},
    required=("name", "shape"),
    extra=Anything(),
)
MANIFEST_SCHEMA = Arr(
    Obj(
        {"paths": Arr(Str(), 1), "weights": Arr(_WEIGHT)},
        required=("paths", "weights"),
        extra=Anything(),
    )
)


@dataclass
class TfjsManifest:
    """A checked manifest: per group, its shard files (inside the folder, with their sizes) and
    its tensors ``(name, shape)`` in byte order."""

    folder: Path
    groups: list[tuple[list[Path], list[tuple[str, tuple[int, ...]]]]]

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Tensor name -> shape, for every tensor of every group."""
        return {name: shape for _, entries in self.groups for name, shape in entries}


def read_manifest(folder: str | os.PathLike, max_bytes: int | None = None) -> TfjsManifest:
    """The manifest of ``folder``, checked as the module docstring says (CheckpointError, or
    CheckpointLimitError over ``max_checkpoint_bytes`` / ``max_bytes``)."""
    folder = Path(folder)
    path = inside_folder(folder, MANIFEST_FILE, "manifest")
    if not path.exists():
        raise CheckpointError(
            f"{folder} is not a magenta.js checkpoint: {MANIFEST_FILE} is missing"
        )
    manifest = read_json(path, MANIFEST_SCHEMA, hint="; re-download the checkpoint")
    groups, shards, names = [], {}, set()
    for group in manifest:
        entries = []
        for entry in group["weights"]:
            name, dtype = entry["name"], entry.get("dtype", "float32")
            if dtype != "float32" or entry.get("quantization"):
                quantized = " quantized" if entry.get("quantization") else ""
                raise CheckpointError(
                    f"tensor {name} is {dtype}{quantized}; "
                    "only unquantized float32 weights are supported"
                )
            if name in names:
                raise CheckpointError(f"{path} lists the tensor {name} twice")
            names.add(name)
            entries.append((name, tuple(int(n) for n in entry["shape"])))
        paths = []
        for name in group["paths"]:
            shard = inside_folder(folder, name, "shard path")
            if shard in shards:
                raise CheckpointError(f"{path} lists the shard file {name!r} twice")
            if not shard.exists():
                raise CheckpointError(f"missing shard file {shard}; re-download the checkpoint")
            shards[shard] = file_size(shard)
            paths.append(shard)
        groups.append((paths, entries))
    check_limit(
        "max_checkpoint_bytes",
        sum(shards.values()),
        f"the total size of the shard files of {folder}",
        max_bytes,
        error=CheckpointLimitError,
    )
    for index, (paths, entries) in enumerate(groups):
        _check_group_size(folder, index, paths, entries, sum(shards[p] for p in paths))
    values = sum(math.prod(shape) for _, entries in groups for _, shape in entries)
    check_limit("max_parameters", values, f"the tensors of {path}", error=CheckpointLimitError)
    return TfjsManifest(folder, groups)


def _names(folder: Path, paths: list[Path]) -> list[str]:
    root = folder.resolve()
    return [str(p.relative_to(root)) for p in paths]


def _check_group_size(folder: Path, index: int, paths, entries, size: int) -> None:
    offset = 0
    for name, shape in entries:
        end = offset + 4 * math.prod(shape)
        if end > size:
            raise CheckpointError(
                f"truncated shard data in {folder}: tensor {name} needs bytes {offset}..{end} "
                f"but the shards of group {index} ({', '.join(_names(folder, paths))}) hold "
                f"{size} bytes"
            )
        offset = end
    if offset != size:
        raise CheckpointError(
            f"shards of group {index} in {folder} hold {size} bytes but the "
            f"manifest describes {offset}; the checkpoint is corrupt"
        )


def read_tfjs_weights(
    folder: str | os.PathLike, manifest: TfjsManifest | None = None
) -> dict[str, np.ndarray]:
    """All tensors of a TF.js weights manifest as float32 arrays, by name.

    ``manifest`` is ``read_manifest(folder)`` when already read."""
    manifest = manifest or read_manifest(folder)
    tensors: dict[str, np.ndarray] = {}
    for index, (paths, entries) in enumerate(manifest.groups):
        data = read_files(paths, f"the shards of group {index} in {manifest.folder}")
        _check_group_size(manifest.folder, index, paths, entries, len(data))  # changed since?
        offset = 0
        for name, shape in entries:
            count = math.prod(shape)
            if count == 0:
                tensors[name] = np.zeros(shape, np.float32)
                continue
            values = np.frombuffer(data, dtype="<f4", count=count, offset=offset)
            tensors[name] = values.reshape(shape).astype(np.float32, copy=False)
            offset += 4 * count
    return tensors
