"""Reading an input file safely: only a regular file, and at most a capped number of bytes.

A path given by a user can name anything: a named pipe (FIFO) or a terminal, which block a
plain ``open().read()`` forever; ``/dev/zero`` or ``/dev/urandom`` (or a ``.mid`` symbolic link
to them), which never end; a folder, a broken link or a loop of links; a regular file of
gigabytes. :func:`read_regular_file` looks at what the path is (``os.stat``) before opening it,
refuses all but a regular file with one line naming the path and what it is, and reads at most
``max_bytes`` + 1 bytes, so that a file over the cap is refused without being read whole. The
cap is the ``max_file_bytes`` limit of :mod:`melodyrnn.limits` unless the caller gives another.

Used by :func:`melodyrnn.io.midi.midi_to_sequence`; anything else that reads user files (JSON,
checkpoints) can use it too, with its own error class.
"""

from __future__ import annotations

import errno
import os
import stat

from melodyrnn.errors import MelodyRNNError, MidiError
from melodyrnn.limits import check_limit, limit

_KINDS = (
    (stat.S_ISDIR, "a directory, not a file"),
    (stat.S_ISFIFO, "a named pipe (FIFO), not a regular file"),
    (stat.S_ISCHR, "a character device, not a regular file"),
    (stat.S_ISBLK, "a block device, not a regular file"),
    (stat.S_ISSOCK, "a socket, not a regular file"),
)
_CHUNK = 1 << 20


def read_regular_file(
    path: str | os.PathLike,
    where: str,
    max_bytes: int | None = None,
    error: type[MelodyRNNError] = MidiError,
) -> bytes:
    """The bytes of the regular file at ``path``.

    ``where`` starts every message (e.g. ``"cannot read MIDI file 'x.mid'"``); failures are
    ``error`` (a missing file, a folder, a FIFO, a device, a socket, a broken link or a loop of
    links, no permission) or :class:`~melodyrnn.errors.LimitError` for a file of more than
    ``max_bytes`` bytes (default: the ``max_file_bytes`` limit).
    """
    cap = limit("max_file_bytes", max_bytes)
    if os.fspath(path) in ("", b""):
        raise error(f"{where}: the path is empty")
    try:
        info = os.stat(path)
    except OSError as exc:
        raise error(f"{where}: {_stat_failure(path, exc)}") from None
    except ValueError as exc:  # e.g. a NUL character in the path
        raise error(f"{where}: not a usable path ({exc})") from None
    _check_kind(info, path, where, error)
    check_limit("max_file_bytes", info.st_size, f"{where}: its size", cap)
    try:
        # O_NONBLOCK: should the path have become a FIFO since the stat, opening it does not
        # wait for a writer; fstat then refuses it.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise error(f"{where}: {_stat_failure(path, exc)}") from None
    try:
        _check_kind(os.fstat(fd), path, where, error)
        chunks, size = [], 0
        while size <= cap:
            chunk = os.read(fd, min(_CHUNK, cap + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise error(f"{where}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if size > cap:  # the file grew after the stat
        check_limit("max_file_bytes", size, f"{where}: its size (at least)", cap)
    return b"".join(chunks)


def _check_kind(info: os.stat_result, path, where: str, error: type[MelodyRNNError]) -> None:
    if stat.S_ISREG(info.st_mode):
        return
    kind = next((text for test, text in _KINDS if test(info.st_mode)), "not a regular file")
    if os.path.islink(path):
        kind += f" (the symbolic link leads to '{os.path.realpath(path)}')"
    raise error(f"{where}: it is {kind}")


def _stat_failure(path, exc: OSError) -> str:
    """What an OSError of stat or open says about ``path``, in words."""
    if exc.errno == errno.ENOENT:
        return "it is a broken symbolic link" if os.path.lexists(path) else "no such file"
    if exc.errno == errno.ELOOP:
        return "it is a loop of symbolic links"
    if exc.errno == errno.ENOTDIR:
        return "no such file (a part of the path is not a folder)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return exc.strerror or str(exc)
