"""TensorFlow checkpoints, V1 and V2, read into numpy arrays without TensorFlow.

Both formats store every variable by name; :func:`open_tf_checkpoint` lists them
(:class:`TensorInfo`: dtype and shape) and :meth:`TFCheckpoint.read` reads the float tensors a
caller asks for. Formats (from TensorFlow's ``saved_tensor_slice.proto``, ``tensor_bundle.proto``
and ``tensor.proto``):

* **V1** (``tf.train.Saver(write_version=V1)``: one file ``model.ckpt``, and the checkpoint
  inside a Magenta ``.mag`` bundle) is a table (:mod:`melodyrnn.models.tf_table`) of
  ``SavedTensorSlices`` messages. The entry with the empty key holds the ``meta``: for every
  tensor its name (1), ``TensorShapeProto`` (2), dtype (3) and slices (4). Every other entry
  holds one ``data`` slice: name (1), ``TensorSliceProto`` (2) and a ``TensorProto`` (3) whose
  values are a packed ``float_val`` (5) (or ``double_val`` 6, or raw ``tensor_content`` 4).
* **V2** (the default saver: ``model.ckpt-N.index`` + ``model.ckpt-N.data-00000-of-00001``,
  what ``melody_rnn_train`` writes into a run folder) keeps a table in ``.index`` whose empty key
  holds a ``BundleHeaderProto`` (shard count 1, endianness 2) and whose other keys are tensor
  names mapping to a ``BundleEntryProto``: dtype (1), shape (2), shard (3), offset (4), size (5)
  and the masked CRC-32C (6) of the tensor's raw little-endian bytes in the shard file
  ``.data-SSSSS-of-NNNNN``; ``slices`` (7) mark a partitioned variable.

A folder holding TensorFlow's ``checkpoint`` text file (``model_checkpoint_path: "..."``), or a
Magenta run folder whose ``train/`` holds one, names its latest checkpoint; so do a prefix
``model.ckpt-N`` and its ``.index`` file.

Nothing is trusted: the tables' and tensors' CRC-32C are checked, every length and offset is
checked against the bytes really there, and the sizes of what will be read against
``max_checkpoint_bytes`` and ``max_parameters`` before anything is allocated (a V1 file is
read whole, within ``max_checkpoint_bytes``, and each tensor asked for decoded from it; V2 reads
only the byte ranges of the tensors asked for). Every
problem is one :class:`~melodyrnn.errors.CheckpointError` line naming the file. Partitioned
variables (more than one slice) are refused with a message saying so.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from melodyrnn.errors import CheckpointError, CheckpointLimitError
from melodyrnn.limits import check_limit
from melodyrnn.models.crc32c import crc32c, unmask
from melodyrnn.models.folder import file_size, inside_folder, read_file
from melodyrnn.models.protowire import FIXED32, LENGTH, VARINT, WireError, message
from melodyrnn.models.tf_table import TableError, is_table, read_table

__all__ = [
    "CHECKPOINT_STATE_FILE",
    "TFCheckpoint",
    "TensorInfo",
    "find_checkpoint_prefix",
    "is_tf_checkpoint_path",
    "open_tf_checkpoint",
    "open_v1_checkpoint",
    "open_v2_checkpoint",
    "read_tf_checkpoint",
]

CHECKPOINT_STATE_FILE = "checkpoint"
_MAX_RANK = 8
_MAX_SHARDS = 1024
# TensorFlow's DataType enum -> numpy dtype name (reference types are these + 100).
_DTYPES = {
    1: "float32",
    2: "float64",
    3: "int32",
    4: "uint8",
    5: "int16",
    6: "int8",
    7: "string",
    9: "int64",
    10: "bool",
    14: "bfloat16",
    17: "uint16",
    19: "float16",
    22: "uint32",
    23: "uint64",
}
_FLOATS = {"float32": "<f4", "float64": "<f8"}

_SHAPE = {2: ("dim", LENGTH, True), 3: ("unknown_rank", VARINT, False)}
_DIM = {1: ("size", VARINT, False)}
_EXTENT = {1: ("start", VARINT, False), 2: ("length", VARINT, False)}
_SLICE = {1: ("extent", LENGTH, True)}
_SLICE_META = {
    1: ("name", LENGTH, False),
    2: ("shape", LENGTH, False),
    3: ("type", VARINT, False),
    4: ("slice", LENGTH, True),
}
_SAVED_SLICES = {1: ("meta", LENGTH, False), 2: ("data", LENGTH, False)}
_SAVED_SLICE = {1: ("name", LENGTH, False), 2: ("slice", LENGTH, False), 3: ("data", LENGTH, False)}
_TENSOR = {
    1: ("dtype", VARINT, False),
    2: ("tensor_shape", LENGTH, False),
    4: ("tensor_content", LENGTH, False),
    5: ("float_val", LENGTH, True),
    6: ("double_val", LENGTH, True),
}
_HEADER = {1: ("num_shards", VARINT, False), 2: ("endianness", VARINT, False)}
_ENTRY = {
    1: ("dtype", VARINT, False),
    2: ("shape", LENGTH, False),
    3: ("shard_id", VARINT, False),
    4: ("offset", VARINT, False),
    5: ("size", VARINT, False),
    6: ("crc32c", FIXED32, False),
    7: ("slices", LENGTH, True),
}


@dataclass(frozen=True)
class TensorInfo:
    """One stored variable: its name, dtype (a numpy name, or ``"dtype N"``) and shape."""

    name: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        return math.prod(self.shape)


class TFCheckpoint:
    """An opened checkpoint: what it holds (:attr:`tensors`, by name) and how to read it.

    Attributes:
        where: the file named in errors.
        version: 1 or 2.
        tensors: every stored variable's :class:`TensorInfo`, in file order.
    """

    def __init__(self, where: str, version: int, tensors: dict[str, TensorInfo], records):
        self.where = where
        self.version = version
        self.tensors = tensors
        self._records = records  # name -> V1 TensorProto bytes / V2 BundleEntry (None: sliced)
        self._prefix: Path | None = None
        self._shards = 1

    def __repr__(self) -> str:
        return f"TFCheckpoint({self.where!r}, V{self.version}, {len(self.tensors)} tensors)"

    def read(self, names=None, max_parameters=None, max_bytes=None) -> dict[str, np.ndarray]:
        """The float tensors ``names`` (default: every float tensor) as float32 arrays.

        Their total elements are checked against ``max_parameters`` and bytes against
        ``max_checkpoint_bytes`` (``max_bytes``) before any is read.
        """
        if names is None:
            names = [n for n, info in self.tensors.items() if info.dtype in _FLOATS]
        names = list(dict.fromkeys(names))
        for name in names:
            info = self.tensors.get(name)
            if info is None:
                raise CheckpointError(f"{self.where} has no tensor {name}")
            if info.dtype not in _FLOATS:
                raise CheckpointError(f"{self.where}: tensor {name} is {info.dtype}, not float")
            if name not in self._records:
                raise _bad(self.where, f"tensor {name} is listed but its data is missing")
            if self._records[name] is None:
                raise _partitioned(self.where, name)
        check_limit(
            "max_parameters",
            sum(self.tensors[n].size for n in names),
            f"the tensors read from {self.where}",
            max_parameters,
            error=CheckpointLimitError,
        )
        check_limit(
            "max_checkpoint_bytes",
            sum(
                self.tensors[n].size * np.dtype(_FLOATS[self.tensors[n].dtype]).itemsize
                for n in names
            ),
            f"the tensors read from {self.where}",
            max_bytes,
            error=CheckpointLimitError,
        )
        return _read_v1(self, names) if self.version == 1 else _read_v2(self, names)


# --- shared decoding --------------------------------------------------------------------------


def _bad(where: str, problem: str) -> CheckpointError:
    return CheckpointError(f"{where} is not a valid TensorFlow checkpoint: {problem}")


def _text(raw, where: str, what: str) -> str:
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise _bad(where, f"a {what} is not UTF-8 text") from None


def _dtype(number: int) -> str:
    number = number - 100 if number > 100 else number  # DT_FLOAT_REF is DT_FLOAT + 100
    return _DTYPES.get(number, f"dtype {number}")


def _shape(raw, where: str, name: str) -> tuple[int, ...]:
    proto = message(raw, _SHAPE)
    if proto.get("unknown_rank"):
        raise _bad(where, f"tensor {name} has an unknown rank")
    dims = tuple(message(d, _DIM).get("size", 0) for d in proto.get("dim", []))
    if len(dims) > _MAX_RANK or any(d >= 1 << 40 for d in dims):
        raise _bad(where, f"tensor {name} claims the shape {list(dims)}")
    return dims


def _is_full_slice(raw, shape: tuple[int, ...]) -> bool:
    extents = message(raw, _SLICE).get("extent", [])
    if not extents:
        return True
    if len(extents) != len(shape):
        return False
    for extent, size in zip(extents, shape, strict=True):
        proto = message(extent, _EXTENT)
        if proto.get("start", 0) != 0 or proto.get("length", size) != size:
            return False
    return True


def _partitioned(where: str, name: str) -> CheckpointError:
    return CheckpointError(
        f"{where}: tensor {name} is saved in several slices (a partitioned variable); "
        "melodyrnn reads whole tensors only"
    )


# --- V1 -----------------------------------------------------------------------------------------


def open_v1_checkpoint(data, where: str) -> TFCheckpoint:
    """The V1 checkpoint held in ``data`` (bytes-like; ``where`` names it in errors)."""
    try:
        entries = read_table(data)
        if not entries or entries[0][0] != b"":
            raise _bad(where, "its first entry is not the tensor list")
        meta = message(entries[0][1], _SAVED_SLICES).get("meta")
        if meta is None:
            raise _bad(where, "it has no tensor list")
        tensors: dict[str, TensorInfo] = {}
        sliced: set[str] = set()
        for raw in message(meta, {1: ("tensor", LENGTH, True)}).get("tensor", []):
            proto = message(raw, _SLICE_META)
            name = _text(proto.get("name", b""), where, "tensor name")
            if name in tensors:
                raise _bad(where, f"tensor {name} is listed twice")
            shape = _shape(proto.get("shape", b""), where, name)
            tensors[name] = TensorInfo(name, _dtype(proto.get("type", 0)), shape)
            if len(proto.get("slice", [])) > 1:
                sliced.add(name)
        locations = {}
        for _, value in entries[1:]:
            saved = message(value, _SAVED_SLICES).get("data")
            if saved is None:
                raise _bad(where, "an entry holds no tensor data")
            proto = message(saved, _SAVED_SLICE)
            name = _text(proto.get("name", b""), where, "tensor name")
            if name not in tensors:
                raise _bad(where, f"it holds data for tensor {name}, which its list lacks")
            if (
                name in locations
                or name in sliced
                or not _is_full_slice(proto.get("slice", b""), tensors[name].shape)
            ):
                locations[name] = None  # partitioned: refused if it is read
            else:
                locations[name] = proto.get("data", b"")
    except TableError as exc:
        raise _bad(where, str(exc)) from None
    except WireError as exc:
        raise _bad(where, f"a record is damaged ({exc})") from None
    return TFCheckpoint(where, 1, tensors, locations)


def _read_v1(checkpoint: TFCheckpoint, names: list[str]) -> dict[str, np.ndarray]:
    where = checkpoint.where
    out = {}
    for name in names:
        info, raw = checkpoint.tensors[name], checkpoint._records[name]
        try:
            proto = message(raw, _TENSOR)
        except WireError as exc:
            raise _bad(where, f"the data of tensor {name} is damaged ({exc})") from None
        if "dtype" in proto and _dtype(proto["dtype"]) != info.dtype:
            raise _bad(where, f"tensor {name} is listed as {info.dtype} but stored as another type")
        if "tensor_shape" in proto and _shape(proto["tensor_shape"], where, name) != info.shape:
            raise _bad(where, f"tensor {name} is stored with another shape than listed")
        code = _FLOATS[info.dtype]
        width = np.dtype(code).itemsize
        if "tensor_content" in proto:
            payload = proto["tensor_content"]
        else:
            parts = proto.get("float_val" if info.dtype == "float32" else "double_val", [])
            payload = parts[0] if len(parts) == 1 else b"".join(bytes(p) for p in parts)
        if len(payload) != info.size * width:
            raise _bad(
                where,
                f"tensor {name} has shape {list(info.shape)} ({info.size} values) but its data "
                f"holds {len(payload)} bytes",
            )
        values = np.frombuffer(payload, dtype=code, count=info.size)
        out[name] = values.astype(np.float32).reshape(info.shape)
    return out


# --- V2 -----------------------------------------------------------------------------------------


def _shard_path(prefix: Path, shard: int, shards: int) -> Path:
    return prefix.with_name(f"{prefix.name}.data-{shard:05d}-of-{shards:05d}")


def open_v2_checkpoint(prefix: str | os.PathLike) -> TFCheckpoint:
    """The V2 checkpoint ``prefix`` (``prefix.index`` and its ``.data-*`` shard files)."""
    prefix = Path(prefix)
    index = prefix.with_name(prefix.name + ".index")
    where = str(index)
    data = read_file(index)
    try:
        entries = read_table(data)
        if not entries or entries[0][0] != b"":
            raise _bad(where, "its first entry is not the bundle header")
        header = message(entries[0][1], _HEADER)
        shards = header.get("num_shards", 0)
        if not 1 <= shards <= _MAX_SHARDS:
            raise _bad(where, f"it claims {shards} data shards")
        if header.get("endianness", 0) != 0:
            raise _bad(where, "it is big-endian; melodyrnn reads little-endian checkpoints")
        tensors: dict[str, TensorInfo] = {}
        locations = {}
        for key, value in entries[1:]:
            name = _text(key, where, "tensor name")
            if name in tensors:
                raise _bad(where, f"tensor {name} is listed twice")
            proto = message(value, _ENTRY)
            shape = _shape(proto.get("shape", b""), where, name)
            tensors[name] = TensorInfo(name, _dtype(proto.get("dtype", 0)), shape)
            shard = proto.get("shard_id", 0)
            if shard >= shards:
                raise _bad(where, f"tensor {name} is in shard {shard} of {shards}")
            locations[name] = None if proto.get("slices") else proto
    except TableError as exc:
        raise _bad(where, str(exc)) from None
    except WireError as exc:
        raise _bad(where, f"a record is damaged ({exc})") from None
    checkpoint = TFCheckpoint(where, 2, tensors, locations)
    checkpoint._prefix, checkpoint._shards = prefix, shards
    return checkpoint


def _read_v2(checkpoint: TFCheckpoint, names: list[str]) -> dict[str, np.ndarray]:
    prefix, shards = checkpoint._prefix, checkpoint._shards
    plans = []
    sizes: dict[Path, int] = {}
    for name in names:  # every range is checked before any is read
        info, proto = checkpoint.tensors[name], checkpoint._records[name]
        path = _shard_path(prefix, proto.get("shard_id", 0), shards)
        if path not in sizes:
            sizes[path] = file_size(path)
        offset, size = proto.get("offset", 0), proto.get("size", 0)
        width = np.dtype(_FLOATS[info.dtype]).itemsize
        if size != info.size * width:
            raise _bad(
                checkpoint.where,
                f"tensor {name} has shape {list(info.shape)} ({info.size} values) but {size} bytes",
            )
        if offset > sizes[path] or size > sizes[path] - offset:
            raise CheckpointError(
                f"{path} is truncated or not this checkpoint's data: tensor {name} needs bytes "
                f"{offset}..{offset + size} of its {sizes[path]}"
            )
        plans.append((name, info, path, offset, size, proto.get("crc32c")))
    out = {}
    for name, info, path, offset, size, stored in plans:
        try:
            with open(path, "rb") as handle:
                handle.seek(offset)
                raw = handle.read(size)
        except OSError as exc:
            raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}") from None
        if len(raw) != size:
            raise CheckpointError(f"{path} changed while it was read")
        if stored is not None and unmask(stored) != crc32c(raw):
            raise CheckpointError(f"{path}: tensor {name} fails its CRC-32C check (corrupt data)")
        values = np.frombuffer(raw, dtype=_FLOATS[info.dtype], count=info.size)
        out[name] = values.astype(np.float32).reshape(info.shape)
    return out


# --- finding a checkpoint -------------------------------------------------------------------


_STATE_LINE = re.compile(rb'^model_checkpoint_path:\s*"((?:[^"\\]|\\.)*)"\s*$', re.M)
_STEP = re.compile(r"-(\d+)\.index$")


def _state_prefix(folder: Path) -> Path | None:
    """The prefix TensorFlow's ``checkpoint`` file in ``folder`` names (inside the folder)."""
    path = folder / CHECKPOINT_STATE_FILE
    if not path.is_file():
        return None
    match = _STATE_LINE.search(read_file(path))
    if match is None:
        raise CheckpointError(f"{path} names no model_checkpoint_path")
    value = re.sub(rb"\\(.)", rb"\1", match.group(1)).decode("utf-8", "replace")
    # TensorFlow writes the absolute path of the time of saving; the folder may have moved since.
    candidates = [Path(value).name] if Path(value).is_absolute() else [value, Path(value).name]
    for candidate in candidates:
        prefix = inside_folder(folder, candidate, "checkpoint")
        if prefix.with_name(prefix.name + ".index").is_file() or prefix.is_file():
            return prefix
    raise CheckpointError(
        f"{path} names the checkpoint {value!r}, which is not in {folder} (.index missing)"
    )


def find_checkpoint_prefix(path: str | os.PathLike) -> Path:
    """The checkpoint a folder, run folder, prefix or ``.index`` file means (see the module
    docstring): a V2 prefix, or the path of a V1 file."""
    path = Path(path)
    if path.is_dir():
        for folder in (path, path / "train"):
            if folder.is_dir():
                prefix = _state_prefix(folder)
                if prefix is not None:
                    return prefix
        indexes = sorted(
            path.glob("*.index"),
            key=lambda p: (int(m.group(1)) if (m := _STEP.search(p.name)) else -1, p.name),
        )
        if indexes:
            return indexes[-1].with_suffix("")
        raise CheckpointError(
            f"{path} holds no TensorFlow checkpoint (no '{CHECKPOINT_STATE_FILE}' file and "
            "no .index file)"
        )
    # A path the caller names directly may be a symlink (the files it finds in a folder may not).
    if path.name.endswith(".index") and path.is_file():
        return Path(os.path.realpath(path)).with_suffix("")
    index = path.with_name(path.name + ".index")
    if index.is_file():
        return Path(os.path.realpath(index)).with_suffix("")
    if path.is_file():
        return Path(os.path.realpath(path))
    raise CheckpointError(f"no TensorFlow checkpoint {path} (neither the file nor {path}.index)")


def is_tf_checkpoint_path(path: str | os.PathLike) -> bool:
    """Whether ``path`` looks like a TensorFlow checkpoint (cheap: names and magic numbers only):
    a prefix with an ``.index``, an ``.index`` file, a V1 table file, or a folder with
    TensorFlow's ``checkpoint`` file (itself or in ``train/``)."""
    path = Path(path)
    try:
        if path.is_dir():
            return (path / CHECKPOINT_STATE_FILE).is_file() or (
                path / "train" / CHECKPOINT_STATE_FILE
            ).is_file()
        if path.with_name(path.name + ".index").is_file():
            return True
        if path.name.endswith(".index") and path.is_file():
            return True
        if path.is_file() and path.stat().st_size >= 48:
            with open(path, "rb") as handle:
                handle.seek(-8, os.SEEK_END)
                return is_table(b"\0" * 40 + handle.read(8))
    except (OSError, ValueError):
        return False
    return False


def open_tf_checkpoint(path: str | os.PathLike, max_bytes=None) -> TFCheckpoint:
    """The checkpoint ``path`` means (:func:`find_checkpoint_prefix`), opened: V2 when it has
    an ``.index``, else a V1 file (read whole, within ``max_checkpoint_bytes``)."""
    prefix = find_checkpoint_prefix(path)
    if prefix.with_name(prefix.name + ".index").is_file():
        return open_v2_checkpoint(prefix)
    return open_v1_checkpoint(read_file(prefix, "max_checkpoint_bytes", max_bytes), str(prefix))


def read_tf_checkpoint(path: str | os.PathLike, names=None) -> dict[str, np.ndarray]:
    """``{name: float32 array}`` of the float tensors (or ``names``) of a V1 or V2 checkpoint."""
    return open_tf_checkpoint(path).read(names)
