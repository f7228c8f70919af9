"""See a NoteSequence: a piano-roll PNG with bar lines and colours for primer and continuation.

:func:`piano_roll_png` draws one bar per note (time in seconds across, pitch up), bar lines from
the tempo map and time signatures (:func:`bar_start_times`), and colours that tell a primer from
the continuation a model wrote after it (and drums from both). Matplotlib is used through its
object-oriented API on an Agg canvas, so nothing here touches pyplot's global state. The file is
written atomically and only replaces an existing one with ``force=True``
(:mod:`melodyrnn.render.targets`). Audio is :mod:`melodyrnn.render.audio`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from melodyrnn.constants import pitch_name
from melodyrnn.errors import RenderError
from melodyrnn.render.targets import atomic_output, check_target
from melodyrnn.sequence import NoteSequence, TempoMap, TimeSignature

# Piano-roll colours (matplotlib's tab10 blue, orange and green); tests look for them.
PRIMER_COLOR = "#1f77b4"
CONTINUATION_COLOR = "#ff7f0e"
DRUM_COLOR = "#2ca02c"
BAR_LINE_COLOR = "#d0d0d0"
CONTINUATION_LINE_COLOR = "#b0b0b0"

# Height of one pitch row when the default 4-inch plot would make rows smaller.
ROW_INCHES = 0.12

# Beyond this many bars, only every n-th bar line is drawn, or they would grey out the plot.
_MAX_BAR_LINES = 400


def bar_start_times(ns: NoteSequence, end_time: float | None = None) -> list[float]:
    """Seconds at which bars start up to ``end_time`` (default: the sequence's end).

    Bars are counted in quarter notes through the tempo map; each time signature starts a new
    bar where it takes effect (4/4 until the first one, as in MIDI).
    """
    end = ns.total_time if end_time is None else end_time
    tempo_map = TempoMap(ns.tempos)
    end_beats = tempo_map.beats_at(end)
    meters = sorted(ns.time_signatures, key=lambda ts: ts.time)
    if not meters or meters[0].time > 0:
        meters = [TimeSignature(0.0), *meters]
    starts = [tempo_map.beats_at(ts.time) for ts in meters] + [math.inf]
    bars: list[float] = []
    for ts, begin, stop in zip(meters, starts[:-1], starts[1:]):
        if ts.numerator <= 0 or ts.denominator <= 0 or begin > end_beats + 1e-9:
            continue
        bar_length = ts.numerator * 4.0 / ts.denominator
        last = min(stop - 1e-9, end_beats + 1e-9)
        count = math.floor((last - begin) / bar_length) + 1 if last >= begin else 0
        bars.extend((begin + bar_length * np.arange(count)).tolist())
    return [tempo_map.seconds_at(b) for b in bars]


def piano_roll_png(
    ns: NoteSequence,
    path: str | os.PathLike,
    *,
    continuation_start: float | None = None,
    title: str | None = None,
    width: float = 12.0,
    height: float | None = None,
    dpi: int = 100,
    force: bool = False,
    new_notes=None,
    view_start: float | None = None,
) -> Path:
    """Draw ``ns`` as a piano roll and write it to ``path`` as a ``width*dpi`` x ``height*dpi``
    pixel PNG (``height`` default: 4 inches, taller when more than 33 pitch rows need
    :data:`ROW_INCHES` each; every row is labelled with its note name, sharps included).

    The new notes are drawn in :data:`CONTINUATION_COLOR` (drum hits as crosses of that colour),
    the others in :data:`PRIMER_COLOR` (drum hits: :data:`DRUM_COLOR` crosses). ``new_notes``
    (indices into ``ns.notes``) says which are new; without it, the pitched notes starting at
    or after ``continuation_start`` seconds (within a millisecond: MIDI ticks round times).
    ``view_start`` (seconds) draws only from there on (notes sounding there or later).
    ``title`` defaults to the sequence's file name.
    Raises :class:`OutputExistsError` if ``path`` exists and ``force`` is false.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    path = Path(path)
    check_target(path, force)
    begin = max(0.0, float(view_start or 0.0))
    end_time = max([ns.total_time, *(n.end_time for n in ns.notes)])
    if continuation_start is not None:
        end_time = max(end_time, continuation_start)
    end_time = end_time or 1.0
    if new_notes is None:
        new = {
            i
            for i, n in enumerate(ns.notes)
            if continuation_start is not None
            and not n.is_drum
            and n.start_time >= continuation_start - 1e-3
        }
    else:
        new = set(new_notes)
    shown = [(i, n) for i, n in enumerate(ns.notes) if n.end_time > begin or n.start_time >= begin]
    pitches = [n.pitch for _, n in shown] or [60]
    low, high = min(pitches) - 1, max(pitches) + 1
    if height is None:
        height = max(4.0, (high - low + 1) * ROW_INCHES)
    if width <= 0 or height <= 0 or dpi <= 0:
        raise RenderError(f"width, height and dpi must be positive, got {width}, {height}, {dpi}")
    pitched = [n for i, n in shown if not n.is_drum]
    is_continuation = np.array([i in new for i, n in shown if not n.is_drum], dtype=bool)
    drums = [n for i, n in shown if n.is_drum and i not in new]
    new_drums = [n for i, n in shown if n.is_drum and i in new]

    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    span = end_time - begin
    ax.set_xlim(begin - (0.01 * span if begin else 0.0), end_time + 0.01 * span)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("pitch")
    ax.set_title(title if title is not None else _default_title(ns, path))

    bars = [b for b in bar_start_times(ns, end_time) if b >= begin - 1e-9]
    for bar in bars[:: math.ceil(len(bars) / _MAX_BAR_LINES) or 1]:
        ax.axvline(bar, color=BAR_LINE_COLOR, linewidth=0.6, zorder=0)

    ax.set_ylim(low - 0.5, high + 0.5)
    rows = pitch_rows(low, high)
    row_points = height * 72 / len(rows) * 0.8  # a row's height, in points, less margins
    ax.set_yticks(
        [p for p, _ in rows],
        [name for _, name in rows],
        fontsize=min(8.0, max(3.0, row_points * 0.8)),
    )
    for c in (p for p in range(low, high + 1) if p % 12 == 0):
        ax.axhline(c - 0.5, color=BAR_LINE_COLOR, linewidth=0.6, zorder=0)

    legend: list = []
    labelled = continuation_start is not None or bool(new)
    groups = [
        (~is_continuation, PRIMER_COLOR, "primer" if labelled else "notes"),
        (is_continuation, CONTINUATION_COLOR, "continuation"),
    ]
    for mask, color, label in groups:
        chosen = [n for n, keep in zip(pitched, mask) if keep]
        if chosen:
            ax.add_collection(
                PolyCollection(
                    _note_boxes(chosen), facecolors=color, edgecolors="white", linewidths=0.5
                )
            )
            legend.append(Patch(facecolor=color, label=label))
    for hits, color, label in ((drums, DRUM_COLOR, "drums"), (new_drums, CONTINUATION_COLOR,
                                                               "new drums")):  # fmt: skip
        if not hits:
            continue
        ax.plot(
            [n.start_time for n in hits],
            [n.pitch for n in hits],
            linestyle="none",
            marker="x",
            markersize=4,
            markeredgewidth=1.2,
            color=color,
        )
        legend.append(Line2D([], [], linestyle="none", marker="x", color=color, label=label))
    if continuation_start is not None:
        ax.axvline(continuation_start, color=CONTINUATION_LINE_COLOR, linewidth=1.5, linestyle="--")
        legend.append(
            Line2D(
                [], [], color=CONTINUATION_LINE_COLOR, linestyle="--", label="continuation starts"
            )
        )
    if not ns.notes:
        ax.text(0.5, 0.5, "(no notes)", transform=ax.transAxes, ha="center", va="center")
    if legend:
        fig.legend(handles=legend, loc="outside right upper", fontsize="small")

    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return path


def pitch_rows(low: int, high: int) -> list[tuple[int, str]]:
    """Every pitch row from ``low`` to ``high`` with its label (sharps included: C#4)."""
    return [(p, pitch_name(p)) for p in range(low, high + 1)]


def _note_boxes(notes) -> np.ndarray:
    """Corner points (n, 4, 2) of one box per note: its time span, its pitch +- 0.4."""
    start = np.array([n.start_time for n in notes], dtype=float)
    end = np.array([n.end_time for n in notes], dtype=float)
    pitch = np.array([n.pitch for n in notes], dtype=float)
    end = np.maximum(end, start + 1e-3)  # a zero-length note still shows
    low, high = pitch - 0.4, pitch + 0.4
    xs = np.stack([start, start, end, end], axis=1)
    ys = np.stack([low, high, high, low], axis=1)
    return np.stack([xs, ys], axis=2)


def _default_title(ns: NoteSequence, path: Path) -> str:
    return Path(ns.filename).name if ns.filename else path.stem
