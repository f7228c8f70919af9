"""Render files: the piano roll and/or audio of a MIDI file or of a sequence in memory.

:func:`render_file` reads FILE.mid and writes FILE.png and/or FILE.wav beside it (or in another
folder); :func:`render_sequence` does the same for a NoteSequence the caller already holds, with
the output paths given by a stem. Both check every target before writing anything. The drawing
is :mod:`melodyrnn.render.piano_roll`, the audio :mod:`melodyrnn.render.audio`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from melodyrnn.render.audio import render_wav
from melodyrnn.render.piano_roll import bar_start_times, piano_roll_png
from melodyrnn.render.targets import check_target
from melodyrnn.sequence import NoteSequence, extract_subsequence


class RenderedFiles(dict):
    """What :func:`render_file` or :func:`render_sequence` wrote: ``{"png": Path, "wav": Path}``
    (the kinds asked for), plus ``wav_method``, the renderer that made the WAV (None without
    one)."""

    wav_method: str | None = None


def render_sequence(
    ns: NoteSequence,
    stem: str | os.PathLike,
    *,
    png: bool = True,
    wav: bool = False,
    title: str | None = None,
    continuation_start: float | None = None,
    force: bool = False,
    sample_rate: int = 22050,
    soundfont: str | os.PathLike | None = None,
    method: str = "auto",
    new_notes=None,
    view_start: float | None = None,
) -> RenderedFiles:
    """Write STEM.png and/or STEM.wav of ``ns`` (``stem``: the output path without its suffix).

    ``title`` is the piano roll's (default: the sequence's file name, else the stem). Every
    target is checked before anything is written, so a refusal to overwrite leaves no half-done
    set of files. ``new_notes`` (indices into ``ns.notes``) are coloured as the continuation
    (default: pitched notes from ``continuation_start`` on). ``view_start`` (seconds) draws and
    renders only from there to the end (the WAV then starts there). Returns the paths written
    (a dict with ``wav_method`` set).
    """
    stem = os.fspath(stem)
    targets = {kind: Path(f"{stem}.{kind}") for kind, on in (("png", png), ("wav", wav)) if on}
    for target in targets.values():
        check_target(target, force)

    result = RenderedFiles()
    if "png" in targets:
        result["png"] = piano_roll_png(
            ns,
            targets["png"],
            continuation_start=continuation_start,
            title=title,
            force=force,
            new_notes=new_notes,
            view_start=view_start,
        )
    if "wav" in targets:
        heard = ns
        if view_start is not None and view_start > 0 and not ns.is_quantized:
            end = max([ns.total_time, *(n.end_time for n in ns.notes)])
            heard = extract_subsequence(ns, view_start, end + 1e-6)
        result["wav"], result.wav_method = render_wav(
            heard,
            targets["wav"],
            sample_rate=sample_rate,
            soundfont=soundfont,
            method=method,
            force=force,
        )
    return result


def render_file(
    midi_path: str | os.PathLike,
    *,
    png: bool = True,
    wav: bool = False,
    out_dir: str | os.PathLike | None = None,
    continuation_start: float | None = None,
    force: bool = False,
    sample_rate: int = 22050,
    soundfont: str | os.PathLike | None = None,
    method: str = "auto",
    view_bars: int | None = None,
) -> RenderedFiles:
    """Write FILE.png and/or FILE.wav for the MIDI file FILE.mid, beside it or in ``out_dir``.

    With ``continuation_start`` and ``view_bars``, both show only from ``view_bars`` bars before
    the bar where the continuation starts. Every target is checked before anything is written,
    so a refusal to overwrite leaves no half-done set of files. Returns the paths written (a
    dict with ``wav_method`` set).
    """
    from melodyrnn.io.midi import midi_to_sequence

    midi_path = Path(midi_path)
    ns = midi_to_sequence(midi_path)
    folder = Path(out_dir) if out_dir is not None else midi_path.parent
    view_start = None
    if continuation_start is not None and view_bars and math.isfinite(continuation_start):
        until = min(continuation_start, max([ns.total_time, *(n.end_time for n in ns.notes)]))
        bars = [b for b in bar_start_times(ns, until) if b <= until]
        view_start = bars[max(0, len(bars) - 1 - view_bars)] if bars else None
    return render_sequence(
        ns,
        folder / midi_path.stem,
        png=png,
        wav=wav,
        title=midi_path.name,
        continuation_start=continuation_start,
        force=force,
        sample_rate=sample_rate,
        soundfont=soundfont,
        method=method,
        view_start=view_start,
    )
