"""Where every render output goes: the overwrite check and the atomic write.

:mod:`melodyrnn.render.piano_roll` and :mod:`melodyrnn.render.audio` check each target before
they draw or synthesise anything, and write it through :func:`atomic_output`: a temporary file
in the same folder that replaces the target only once it is complete.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from melodyrnn.errors import OutputError, OutputExistsError, RenderError
from melodyrnn.files import atomic_path


def check_target(path: Path, force: bool) -> None:
    """Refuse an existing ``path`` unless ``force`` (:class:`OutputExistsError`), and a
    missing folder (:class:`RenderError`)."""
    if path.exists() and not path.is_file():
        raise OutputError(f"the output {path} exists and is not a regular file")
    if path.exists() and not force:
        raise OutputExistsError(path)
    if not path.parent.is_dir():
        raise RenderError(f"cannot write '{path}': folder '{path.parent}' does not exist")


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """:func:`melodyrnn.files.atomic_path`, with OSError as a RenderError naming ``path``."""
    try:
        with atomic_path(path) as tmp:
            yield tmp
    except OSError as exc:
        raise RenderError(f"cannot write '{path}': {exc.strerror or exc}") from exc
