"""Do continuations sound like the primer's own? ``melodyrnn evaluate --continuations``.

Held-out melodies are cut at the bar line nearest their middle: the first half is the primer,
the real second half is the human answer. Each model (through the real-file layer,
:func:`~melodyrnn.generation.primer.continue_primer`, with its key, register and ending rules)
and the n-gram continue every primer for as many steps as the real half has, and the same
figures are computed for all of them and for the real second halves:

* ``in_scale``: share of the continuation's notes in the primer's scale (the seven notes of
  the key :func:`~melodyrnn.events.keys.estimate_melody_key` finds in the primer);
* ``register``: share of its notes inside the primer's lowest..highest pitch ± the register
  margin (:data:`~melodyrnn.generation.shaping.REGISTER_MARGIN`);
* ``onset_l1``: L1 distance between the onset-in-bar histograms (each summing to 1) of the
  continuation and of the primer (0 = the same rhythm positions, 2 = disjoint);
* ``motif_reuse``: share of the continuation's 4-note interval figures (three successive
  intervals, so transposed repeats count) that occur in the primer;
* ``copy_share``: the longest run of steps copied verbatim from the primer, over the
  continuation's length;
* ``tonic_end``: share of continuations whose last note is the tonic of that key.

:func:`continuation_metrics` computes them for one continuation; :func:`evaluate_continuations`
runs the comparison and :func:`format_continuations` prints the table.
"""

from __future__ import annotations

import numpy as np

from melodyrnn.constants import DEFAULT_STEPS_PER_QUARTER, MAGENTA_STEPS_PER_BAR
from melodyrnn.events.keys import estimate_melody_key
from melodyrnn.events.melody import Melody
from melodyrnn.events.melody_events import note_spans
from melodyrnn.generation.shaping import REGISTER_MARGIN
from melodyrnn.sequence import NoteSequence, TempoMap

__all__ = [
    "METRICS",
    "continuation_metrics",
    "continuation_report",
    "evaluate_continuations",
    "format_continuations",
    "interval_figures",
    "longest_copied_run",
    "onset_histogram",
    "primer_from_events",
    "split_in_half",
]

METRICS = {
    "in_scale": "notes in the primer's scale",
    "register": "notes in primer register +-5",
    "onset_l1": "onset-in-bar L1 to primer",
    "motif_reuse": "primer 4-note figures reused",
    "copy_share": "verbatim copy share",
    "tonic_end": "ends on the primer's tonic",
}


def onset_histogram(events, steps_per_bar: int = MAGENTA_STEPS_PER_BAR) -> np.ndarray:
    """float [steps_per_bar]: where in the bar notes start, summing to 1 (zeros: no notes)."""
    _, starts, _ = note_spans(events)
    hist = np.bincount(np.asarray(starts) % steps_per_bar, minlength=steps_per_bar).astype(float)
    return hist / hist.sum() if hist.sum() else hist


def interval_figures(events) -> set[tuple[int, int, int]]:
    """The 4-note interval figures (three successive intervals) of a melody."""
    pitches, _, _ = note_spans(events)
    steps = np.diff(pitches)
    return {tuple(int(x) for x in steps[i : i + 3]) for i in range(len(steps) - 2)}


def _figure_list(events) -> list[tuple[int, int, int]]:
    pitches, _, _ = note_spans(events)
    steps = np.diff(pitches)
    return [tuple(int(x) for x in steps[i : i + 3]) for i in range(len(steps) - 2)]


def longest_copied_run(primer, continuation) -> int:
    """Length of the longest run of continuation steps found verbatim in the primer."""
    a = np.asarray(primer, dtype=np.int64)
    b = np.asarray(continuation, dtype=np.int64)
    best = 0
    previous = np.zeros(len(a) + 1, dtype=np.int64)
    for x in b:
        current = np.zeros_like(previous)
        current[1:] = np.where(a == x, previous[:-1] + 1, 0)
        best = max(best, int(current.max()))
        previous = current
    return best


def continuation_metrics(
    primer,
    continuation,
    scale: frozenset[int],
    tonic: int,
    steps_per_bar: int = MAGENTA_STEPS_PER_BAR,
    margin: int = REGISTER_MARGIN,
) -> dict:
    """The module docstring's figures for one continuation (nan where it has no notes)."""
    primer = np.asarray(primer, dtype=np.int64)
    cont = np.asarray(continuation, dtype=np.int64)
    p_pitches, _, _ = note_spans(primer)
    c_pitches, _, _ = note_spans(cont)
    nan = float("nan")
    if len(c_pitches) == 0:
        return dict.fromkeys(METRICS, nan) | {"copy_share": 0.0}
    lo, hi = (int(p_pitches.min()), int(p_pitches.max())) if len(p_pitches) else (0, 127)
    offset = len(primer) % steps_per_bar  # keep bar positions of the continuation right
    shifted = np.concatenate([np.full(offset, -2, dtype=np.int64), cont])
    figures = _figure_list(cont)
    primer_figures = interval_figures(primer)
    return {
        "in_scale": float(np.isin(c_pitches % 12, sorted(scale)).mean()),
        "register": float(((c_pitches >= lo - margin) & (c_pitches <= hi + margin)).mean()),
        "onset_l1": float(
            np.abs(
                onset_histogram(shifted, steps_per_bar) - onset_histogram(primer, steps_per_bar)
            ).sum()
        ),
        "motif_reuse": float(np.mean([f in primer_figures for f in figures])) if figures else nan,
        "copy_share": longest_copied_run(primer, cont) / len(cont),
        "tonic_end": float(int(c_pitches[-1]) % 12 == tonic % 12),
    }


def split_in_half(
    melody, steps_per_bar: int = MAGENTA_STEPS_PER_BAR
) -> tuple[np.ndarray, np.ndarray]:
    """(primer, real second half): the melody cut at the bar line nearest its middle."""
    melody = np.asarray(melody, dtype=np.int64)
    cut = max(steps_per_bar, int(round(len(melody) / 2 / steps_per_bar)) * steps_per_bar)
    cut = min(cut, len(melody) - 1)
    return melody[:cut], melody[cut:]


def primer_from_events(events, steps_per_bar: int = MAGENTA_STEPS_PER_BAR):
    """A :class:`~melodyrnn.generation.primer.Primer` of a bare event array (no file: 120 qpm,
    no key signature), so dataset melodies go through the real-file layer."""
    from melodyrnn.generation.primer import Primer

    events = [int(e) for e in events]
    return Primer(
        source=NoteSequence(),
        instrument=0,
        program=0,
        velocity=100,
        section_start=0.0,
        tempo_map=TempoMap([]),
        steps_per_bar=steps_per_bar,
        melody=Melody(events, steps_per_bar=steps_per_bar,
                      steps_per_quarter=DEFAULT_STEPS_PER_QUARTER),
        end_step=len(events),
    )  # fmt: skip


def _mean(rows: list[dict]) -> dict:
    out = {}
    for key in METRICS:
        values = np.array([r[key] for r in rows], dtype=float)
        out[key] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
    return out


def evaluate_continuations(
    columns: list[tuple[str, object]],
    melodies: list[np.ndarray],
    *,
    num: int = 100,
    temperature: float | None = 1.0,
    seed: int = 0,
    key_finding: str = "profile",
    ending: str = "free",
    top_p: float | None = None,
    pitch_range: tuple[int, int] | None = None,
) -> dict:
    """Mean figures per column (``(name, MusicRNN)`` pairs) and for the real second halves
    (``"real"``) on ``num`` melodies (the longest first is not favoured: a seeded choice)."""
    from melodyrnn.generation.options import SamplingOptions
    from melodyrnn.generation.primer import continue_primer

    usable = [m for m in melodies if len(m) >= 2 * MAGENTA_STEPS_PER_BAR]
    order = np.random.default_rng(seed).permutation(len(usable))[:num]
    cases = []
    for i in order:
        melody = np.asarray(usable[i], dtype=np.int64)
        primer, real = split_in_half(melody)
        key = estimate_melody_key(primer)
        cases.append((primer, real, key))
    table = {"real": _mean([continuation_metrics(p, r, k.scale_pitch_classes, k.tonic)
                            for p, r, k in cases])}  # fmt: skip
    for name, model in columns:
        rng = np.random.default_rng([seed, 2])
        rows = []
        for primer, real, key in cases:
            options = SamplingOptions(
                temperature=temperature, seed=rng, top_p=top_p, pitch_range=pitch_range
            )
            (cont,) = continue_primer(
                primer_from_events(primer), model, len(real), options,
                key_finding=key_finding, ending=ending,
            )  # fmt: skip
            rows.append(continuation_metrics(primer, cont, key.scale_pitch_classes, key.tonic))
        table[name] = _mean(rows)
    return {
        "continuations": table,
        "settings": {
            "num": len(cases),
            "temperature": temperature,
            "seed": seed,
            "key_finding": key_finding,
            "ending": ending,
            "top_p": top_p,
            "pitch_range": pitch_range,
        },
    }


def continuation_report(models, data, baseline="markov", **options) -> dict:
    """:func:`evaluate_continuations` for model specs (None: the shipped model) and the n-gram
    baseline (as :func:`~melodyrnn.training.evaluate.evaluate_models` takes them) on ``data``'s
    held-out melodies; ``options`` go to :func:`evaluate_continuations`."""
    from melodyrnn.generation.music_rnn import load_model
    from melodyrnn.training.evaluate import baseline_model, load_eval_melodies, model_column_name

    taken: set = set()
    columns = []
    for spec in models:
        model = load_model(spec)
        columns.append((model_column_name(spec, model, taken), model))
    ngram, _ = baseline_model(baseline, data, range(1, 12))
    if ngram is not None:
        columns.append(("n-gram" if "n-gram" not in taken else "n-gram baseline", ngram))
    melodies = load_eval_melodies(data, columns[0][1])
    return evaluate_continuations(columns, melodies, **options)


def format_continuations(result: dict) -> str:
    """The table of :func:`evaluate_continuations`, one column per model and the real halves."""
    s = result["settings"]
    table = result["continuations"]
    width = max(10, *(len(n) for n in table))
    lines = [
        f"continuations of {s['num']} held-out melodies cut in half (temperature "
        f"{s['temperature']}, key finding {s['key_finding']}, ending {s['ending']}, seed "
        f"{s['seed']}); real = the real second halves:",
        "metric".ljust(32) + "".join(n.rjust(width + 2) for n in table),
    ]
    for key, label in METRICS.items():
        cells = [
            ("-" if not np.isfinite(v[key]) else f"{v[key]:.3f}").rjust(width + 2)
            for v in table.values()
        ]
        lines.append(label.ljust(32) + "".join(cells))
    return "\n".join(lines)
