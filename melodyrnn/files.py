"""Outputs: checked before any work, written atomically, no temporary file left behind.

Everything melodyrnn writes (MIDI, PNG, WAV, datasets, checkpoints, training state) goes through
here: the content is written beside the target under a temporary name
``.NAME.<pid>-<random>.tmp``, then moved onto it with one rename. A process killed half-way leaves
its temporary file; the next write of the same target removes such leftovers of processes that
no longer run. Callers turn ``OSError`` into their own error with the target's name.

:func:`prepare_output_dir` and :func:`check_output_file` refuse, before a command does any work,
an output that cannot be written: a folder that is a file or lies below one, a device such as
``/dev/null``, a place under ``/proc`` or ``/sys``, a folder without write permission.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from melodyrnn.errors import OutputError, OutputExistsError

_SYSTEM_TREES = (Path("/proc"), Path("/sys"))
_LEGACY_AGE = 3600.0  # seconds after which a temporary file without a pid is a leftover


def _temporary_name(path: Path, suffix: str) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.{suffix}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but is someone else's
        return True
    return True


def remove_leftovers(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files and folders an interrupted write of ``path`` left beside it
    (those of processes that no longer run); returns what was removed."""
    path = Path(path)
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.(?:(\d+)-)?[0-9a-f]{{8}}\.(?:tmp|old)$")
    removed = []
    try:
        entries = list(path.parent.iterdir()) if path.parent.is_dir() else []
    except OSError:
        return removed
    for entry in entries:
        match = pattern.match(entry.name)
        if not match:
            continue
        pid = match.group(1)
        if pid is not None and (int(pid) == os.getpid() or _alive(int(pid))):
            continue
        try:
            if pid is None and time.time() - entry.lstat().st_mtime < _LEGACY_AGE:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
        except OSError:
            continue
    return removed


def _refuse_system_tree(path: Path, what: str) -> None:
    resolved = path.resolve(strict=False)
    for tree in _SYSTEM_TREES:
        if resolved == tree or tree in resolved.parents:
            raise OutputError(f"{what} {path} is under {tree}, where no output can go")


def prepare_output_dir(
    path: str | os.PathLike, what: str = "output folder", create: bool = True
) -> Path:
    """Make sure ``path`` is a folder melodyrnn can write into, creating it (and its parents)
    if needed, or with ``create=False`` only checking that it could be; OutputError otherwise.
    Call it before any work."""
    path = Path(path)
    if not str(path):
        raise OutputError(f"the {what} is empty; give a folder")
    _refuse_system_tree(path, f"the {what}")
    for parent in [path, *path.parents]:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                where = "is" if parent == path else f"lies below {parent}, which is"
                raise OutputError(f"the {what} {path} {where} a file, not a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise OutputError(f"the {what} {path} cannot be written ({parent} is read-only)")
            break
    if not create:
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the {what} {path}: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(f"the {what} {path} is not writable")
    return path


def check_output_file(path: str | os.PathLike, force: bool = False) -> Path:
    """OutputError unless ``path`` can be written as a regular file: it does not exist (or
    ``force`` and it is a regular file), and its folder exists or can be made. Nothing is created
    but the folder."""
    path = Path(path)
    _refuse_system_tree(path, "the output")
    if path.is_symlink() or path.exists():
        mode = os.stat(path).st_mode if path.exists() else 0
        if path.exists() and not stat.S_ISREG(mode):
            raise OutputError(f"the output {path} exists and is not a regular file")
        if not force:
            raise OutputExistsError(path)
    prepare_output_dir(path.parent, "folder of the output", create=False)
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a new empty temporary file beside ``path``; it replaces ``path`` when the block
    succeeds and is removed when it fails. Its mode is the usual 0o666 less the umask (not
    ``mkstemp``'s private 0o600), so outputs are as readable as any other file."""
    path = Path(path)
    remove_leftovers(path)
    while True:
        tmp = _temporary_name(path, "tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomically(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (flushed to disk before the rename)."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return path


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a new temporary folder beside ``path``; it replaces ``path`` (a folder, possibly
    existing) when the block succeeds and is removed when it fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(path)
    tmp = _temporary_name(path, "tmp")
    tmp.mkdir()
    try:
        yield tmp
        if path.exists():
            old = _temporary_name(path, "old")
            path.rename(old)
            tmp.rename(path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
