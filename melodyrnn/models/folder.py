"""Reading the files of a model folder without trusting them.

Every checkpoint loader reads through here: our checkpoints (:mod:`~melodyrnn.models.checkpoint`),
magenta.js folders (:mod:`~melodyrnn.models.magenta_js`, :mod:`~melodyrnn.models.tfjs_weights`),
n-gram folders (:mod:`~melodyrnn.models.ngram_net`, :mod:`~melodyrnn.models.ngram`), and any
later reader (``.mag`` bundles, TF checkpoints) must too:

* :func:`inside_folder`: the real path of a file a folder (or its manifest) names. A name that
  leads outside the folder, by ``..``, an absolute path or a symlink, is refused before anything
  is opened, and the message says only that it leaves the folder.
* :func:`read_file` / :func:`read_files`: a regular file's bytes (several files back to back),
  their real size checked against a cap (``max_file_bytes``, ``max_checkpoint_bytes``) before
  anything is read; FIFOs and devices are refused without blocking.
* :func:`parse_json` / :func:`read_json`: JSON whose nesting is measured by scanning its brackets
  (``max_json_depth``) before ``json.loads`` recurses; NaN, Infinity and ``1e400`` come back as
  :class:`~melodyrnn.models.schema.NonFinite`; the value is checked against a schema
  (:mod:`melodyrnn.models.schema`) and the first problem is reported with its JSON path.
* :func:`read_npz`: the arrays of an ``.npz`` without pickles: every member's header is read and
  checked (no object dtype, data within its zip entry, totals within ``max_checkpoint_bytes``
  and ``max_parameters``) before any array data is.

Every problem is one :class:`~melodyrnn.errors.CheckpointError` line naming the file (a
:class:`~melodyrnn.errors.CheckpointLimitError` where a cap is hit).
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import stat
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from melodyrnn.errors import CheckpointError, CheckpointLimitError, MelodyRNNError
from melodyrnn.limits import check_limit
from melodyrnn.models.schema import NonFinite, first_problem

__all__ = [
    "file_size",
    "inside_folder",
    "json_depth",
    "parse_json",
    "read_file",
    "read_files",
    "read_json",
    "read_npz",
]

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_MAX_ZIP_DIRECTORY = 1 << 20  # bytes of zip central directory: thousands of members, no more


def _name(value: Any) -> str:
    text = repr(str(value))
    return text if len(text) <= 60 else text[:57] + "...'"


def inside_folder(folder: str | os.PathLike, name: str | os.PathLike, what: str = "path") -> Path:
    """The resolved path of ``name`` (relative to ``folder``), symlinks followed.

    CheckpointError if it is not inside ``folder`` (``..``, an absolute path, a symlink that
    points out) or names the folder itself. Nothing is opened; outside paths are only resolved.
    """
    folder = Path(folder)
    try:
        root = folder.resolve()
        target = (root / name).resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte, ...
        raise CheckpointError(f"{folder}: the {what} {_name(name)} cannot be resolved") from None
    if target == root or not target.is_relative_to(root):
        raise CheckpointError(f"{folder}: the {what} {_name(name)} leaves the folder")
    return target


def _open_regular(path: Path) -> tuple[io.BufferedReader, int]:
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise CheckpointError(f"{path} is not a regular file")
    return os.fdopen(fd, "rb"), info.st_size


def file_size(path: str | os.PathLike) -> int:
    """The size of the regular file ``path`` (CheckpointError if missing or not a file)."""
    handle, size = _open_regular(Path(path))
    handle.close()
    return size


def read_files(
    paths: list[Path], what: str, limit_name: str = "max_checkpoint_bytes", max_bytes=None
) -> bytearray:
    """The regular files ``paths`` back to back in one buffer (``what`` names them in errors);
    their total real size is checked against ``limit_name`` before anything is read."""
    handles = []
    try:
        for path in paths:
            handles.append(_open_regular(Path(path)))
        total = sum(size for _, size in handles)
        check_limit(limit_name, total, what, max_bytes, error=CheckpointLimitError)
        buffer = bytearray(total)
        view, offset = memoryview(buffer), 0
        for (handle, size), path in zip(handles, paths, strict=True):
            while size:
                got = handle.readinto(view[offset : offset + size])
                if not got:
                    raise CheckpointError(f"{path} shrank while it was read")
                offset, size = offset + got, size - got
            if handle.read(1):
                raise CheckpointError(f"{path} grew while it was read")
        return buffer
    except OSError as exc:
        raise CheckpointError(f"cannot read {what}: {exc.strerror or exc}") from None
    finally:
        for handle, _ in handles:
            handle.close()


def read_file(path: str | os.PathLike, limit_name: str = "max_file_bytes", max_bytes=None) -> bytes:
    """The bytes of the regular file ``path`` (a path from :func:`inside_folder`: a symlink is
    refused), its size checked against ``limit_name`` (or ``max_bytes``) first."""
    path = Path(path)
    handle, size = _open_regular(path)
    with handle:
        check_limit(limit_name, size, str(path), max_bytes, error=CheckpointLimitError)
        try:
            data = handle.read(size + 1)
        except OSError as exc:
            raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) != size:
        raise CheckpointError(f"{path} changed while it was read")
    return data


def json_depth(data: bytes | bytearray) -> int:
    """How deeply ``data`` (JSON text) nests arrays and objects, found without parsing it."""
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for start in range(0, len(brackets), 1 << 20):
        chunk = np.frombuffer(
            brackets, np.uint8, count=min(1 << 20, len(brackets) - start), offset=start
        )
        levels = depth + np.cumsum(np.where((chunk == 0x5B) | (chunk == 0x7B), 1, -1))
        deepest, depth = max(deepest, int(levels.max())), int(levels[-1])
    return deepest


def _finite_float(text: str) -> float | NonFinite:
    value = float(text)
    return value if math.isfinite(value) else NonFinite(text)


def parse_json(
    data: bytes | bytearray, where: str, schema, *, max_depth=None, hint: str = "", root: str = "$"
) -> Any:
    """``data`` parsed as JSON and checked against ``schema`` (see the module docstring);
    ``where`` names the source in errors and ``hint`` is added to a parse error."""
    check_limit(
        "max_json_depth",
        json_depth(data),
        f"the nesting of {where}",
        max_depth,
        error=CheckpointLimitError,
    )
    try:
        value = json.loads(
            data.decode("utf-8"), parse_constant=NonFinite, parse_float=_finite_float
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"{where} is not valid JSON ({exc}){hint}") from None
    problem = first_problem(value, schema, root)
    if problem:
        raise CheckpointError(f"{where}: {problem[0]} {problem[1]}")
    return value


def read_json(path: str | os.PathLike, schema, *, max_bytes=None, max_depth=None, hint: str = ""):
    """:func:`parse_json` of the file ``path`` (size capped by ``max_file_bytes``)."""
    return parse_json(
        read_file(path, max_bytes=max_bytes), str(path), schema, max_depth=max_depth, hint=hint
    )


# --- .npz --------------------------------------------------------------------------------------


def _zip_directory_size(data: bytes | bytearray) -> int:
    """The size of the zip central directory, as zipfile will read it (zip64 included); 0 when
    there is none (zipfile then refuses the file)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or end + 22 > len(data):
        return 0
    size = int.from_bytes(data[end + 12 : end + 16], "little")
    record = end - 20 - 56  # zipfile reads a zip64 end record just before its locator
    zip64 = end >= 20 and data[end - 20 : end - 16] == b"PK\x06\x07"
    if zip64 and record >= 0 and data[record : record + 4] == b"PK\x06\x06":
        size = max(size, int.from_bytes(data[record + 40 : record + 48], "little"))
    return size


def _npy_header(member, name) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        header = np.lib.format.read_array_header_1_0(member, max_header_size=10_000)
    elif version == (2, 0):
        header = np.lib.format.read_array_header_2_0(member, max_header_size=10_000)
    else:
        raise ValueError(f"array {_name(name)} has the .npy version {version}")
    shape, fortran, dtype = header
    if dtype.hasobject:
        raise ValueError(
            f"array {_name(name)} holds Python objects (a pickle); melodyrnn reads plain "
            "arrays only"
        )
    return shape, fortran, dtype


def read_npz(
    path: str | os.PathLike, what: str | None = None, max_bytes=None, max_parameters=None
) -> dict[str, np.ndarray]:
    """The arrays of the ``.npz`` file ``path`` (from :func:`inside_folder`), never unpickled;
    ``what`` names the file in errors (``cannot read <what>: ...``).

    The file, and all its arrays uncompressed, must fit in ``max_checkpoint_bytes`` (or
    ``max_bytes``); their elements in ``max_parameters``. Each array's header is checked
    against its zip entry before the array is read, so a lying header allocates nothing.
    """
    what = what or str(path)

    def bad(problem: str) -> CheckpointError:
        return CheckpointError(f"cannot read {what}: {problem}")

    data = read_file(path, "max_checkpoint_bytes", max_bytes)
    if _zip_directory_size(data) > _MAX_ZIP_DIRECTORY:
        raise bad("it lists too many entries for an .npz of melodyrnn")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            check_limit(
                "max_checkpoint_bytes",
                sum(i.file_size for i in infos),
                f"the uncompressed arrays of {what}",
                max_bytes,
                error=CheckpointLimitError,
            )
            headers = {}
            for info in infos:
                key = info.filename[:-4]
                if not info.filename.endswith(".npy") or key in headers:
                    raise bad(f"{_name(info.filename)} is not an array entry")
                with archive.open(info) as member:
                    shape, fortran, dtype = _npy_header(member, key)
                    nbytes = math.prod(shape) * dtype.itemsize
                    if nbytes > info.file_size - member.tell():
                        raise bad(
                            f"array {_name(key)} claims shape {list(shape)} of {dtype}, more "
                            f"than its entry of {info.file_size} bytes holds"
                        )
                headers[key] = (info, shape, fortran, dtype, nbytes)
            check_limit(
                "max_parameters",
                sum(math.prod(h[1]) for h in headers.values()),
                f"the arrays of {what}",
                max_parameters,
                error=CheckpointLimitError,
            )
            arrays = {}
            for key, (info, shape, fortran, dtype, nbytes) in headers.items():
                with archive.open(info) as member:
                    _npy_header(member, key)
                    raw = bytearray(nbytes)
                    if member.readinto(raw) != nbytes:
                        raise bad(f"array {_name(key)} is truncated")
                flat = np.frombuffer(raw, dtype=dtype, count=math.prod(shape))
                arrays[key] = flat.reshape(shape, order="F" if fortran else "C")
            return arrays
    except MelodyRNNError:
        raise
    except Exception as exc:  # zipfile, zlib and header errors of a damaged file
        raise bad(f"it is not a valid .npz file ({exc})") from None
