"""Atomic outputs: a reader, or a crash half-way, never sees a half-written file or folder.

Everything melodyrnn writes (MIDI, PNG, WAV, datasets, checkpoints, training state) goes through
here: the content is written beside the target under a temporary name, then moved onto it with
one rename. Callers turn ``OSError`` into their own error with the target's name.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path


def _temporary_name(path: Path, suffix: str) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.{suffix}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a new empty temporary file beside ``path``; it replaces ``path`` when the block
    succeeds and is removed when it fails. Its mode is the usual 0o666 less the umask (not
    ``mkstemp``'s private 0o600), so outputs are as readable as any other file."""
    path = Path(path)
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
