"""How good is a melody model? Next-event likelihood and musical statistics, vs an n-gram.

Two kinds of numbers, both against held-out data:

* **Likelihood** (teacher forced): Magenta's loss / perplexity / accuracy plus the NLL on event
  steps (:func:`melodyrnn.models.metrics.step_metrics`), over positions 1..n-1 of every evaluation
  melody. Event steps are the steps whose *event* is not NO_EVENT, the same steps for every
  model whatever its labels are (a lookback repeat label can stand for NO_EVENT), so the LSTM
  and the n-gram baseline score exactly the same steps and their numbers compare directly.
* **Musical statistics** of generated continuations (``steps`` events after the first
  ``primer_steps`` of evaluation melodies) next to the real continuations of the same primers:
  pitch-class entropy, scale consistency, pitch range, notes per bar, empty-beat rate, and
  Yang & Lerch (2018)'s overlap areas: for a feature (pitch count, pitch range, average
  interval, pitch-class histogram, note count, average inter-onset interval), the distribution
  of distances between real melodies (intra-set) against the distribution of distances between
  real and generated melodies (inter-set), both smoothed with a Gaussian KDE; the overlap area
  of the two densities is 1 when the generated set is spread like the data and 0 when it lies
  elsewhere. Densities are integrated over the pooled range widened by four bandwidths (mgeval
  stops at the data range, which loses the tails).

Events are squashed melody arrays at 4 steps per quarter, 16 per bar (4/4).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from melodyrnn.constants import DEFAULT_STEPS_PER_QUARTER, MAGENTA_STEPS_PER_BAR, MELODY_NO_EVENT
from melodyrnn.errors import ConfigError, DatasetError
from melodyrnn.models.metrics import format_table

MUSICAL_METRICS = {
    "pitch_class_entropy": "pitch-class entropy (bits)",
    "scale_consistency": "scale consistency",
    "pitch_range": "pitch range (semitones)",
    "note_density": "notes per bar",
    "empty_beat_rate": "empty-beat rate",
}
OVERLAP_FEATURES = {
    "pitch_count": "used pitches",
    "pitch_range": "pitch range",
    "avg_pitch_interval": "average interval",
    "pitch_class_histogram": "pitch-class histogram",
    "note_count": "note count",
    "avg_ioi": "average inter-onset interval",
}


# --- the data --------------------------------------------------------------------------------


def model_settings(model):
    """The :class:`~melodyrnn.pipelines.DatasetSettings` a melody model's data must have."""
    from melodyrnn.pipelines import DatasetSettings

    if model.kind == "drums":
        raise ConfigError("evaluate works on melody models; this is a drum model")
    low, high = model.pitch_range
    config = model.config
    return DatasetSettings(
        min_note=low,
        max_note=high + 1,
        transpose_to_key=getattr(config, "transpose_to_key", None),
        steps_per_quarter=getattr(config, "steps_per_quarter", 4),
    )


def _check_data(data) -> None:
    """DatasetError unless ``data`` is a dataset or an existing folder (of MIDI files)."""
    if not isinstance(data, str | os.PathLike) or Path(data).is_dir():
        return
    why = "not a folder" if Path(data).exists() else "no such file or folder"
    raise DatasetError(f"{data}: {why}; give a dataset or a MIDI folder")


def _is_dataset(data) -> bool:
    from melodyrnn.training.dataset import MelodyDataset
    from melodyrnn.training.shards import is_sharded

    if isinstance(data, MelodyDataset):
        return True
    return (Path(data) / "melodies.npz").is_file() or is_sharded(data)


def load_eval_melodies(data, model_or_settings, jobs: int | None = None) -> list[np.ndarray]:
    """Evaluation melodies for a model (or :class:`DatasetSettings`), squashed for it.

    ``data`` is a dataset (folder or :class:`MelodyDataset`: its eval split, which must have
    been built for the model's range and key) or a folder of MIDI files (every melody of every
    file, extracted with Magenta's training settings and squashed into the model's range and
    key; no split).
    """
    from melodyrnn.pipelines import DatasetSettings
    from melodyrnn.training.dataset import (
        MelodyDataset,
        extract_folder,
        find_midi_files,
        load_dataset,
    )

    _check_data(data)
    settings = (
        model_or_settings
        if isinstance(model_or_settings, DatasetSettings)
        else model_settings(model_or_settings)
    )
    if _is_dataset(data):
        ds = data if isinstance(data, MelodyDataset) else load_dataset(data)
        _check_settings(ds, settings)
        melodies = [m.astype(np.int64) for m in ds.melodies("eval")]
        if not melodies:
            raise DatasetError(
                f"{ds.info.get('source', data)}: the dataset has no eval melodies; rebuild it "
                "with {eval_fraction} > 0",
                parameters=("eval_fraction",),
            )
        return melodies
    results = extract_folder(find_midi_files(data), settings, jobs=jobs, progress=False)
    melodies = [m.astype(np.int64) for r in results for m in r.melodies]
    if not melodies:
        raise DatasetError(
            f"{data}: no melodies in these MIDI files (each needs a monophonic line of at least "
            f"{settings.min_bars} bars with {settings.min_unique_pitches} different pitch classes)"
        )
    return melodies


def _check_settings(ds, settings) -> None:
    have = (ds.settings.min_note, ds.settings.max_note, ds.settings.transpose_to_key)
    want = (settings.min_note, settings.max_note, settings.transpose_to_key)
    if have != want:
        raise DatasetError(
            f"{ds.info.get('source', 'the dataset')}: the dataset was built for notes "
            f"{have[0]}..{have[1] - 1} in key {have[2]}, but the model plays {want[0]}..."
            f"{want[1] - 1} in key {want[2]}; evaluate on a dataset built for the model or on "
            "a MIDI folder"
        )


# --- likelihood -------------------------------------------------------------------------------


def evaluate_likelihood(model, melodies: list[np.ndarray]) -> dict:
    """Teacher-forced next-event metrics of ``model`` on squashed melody event arrays.

    ``model`` is a :class:`~melodyrnn.generation.music_rnn.MusicRNN` with a melody encoder
    (one-hot, lookback or key): an LSTM or the n-gram baseline. Positions 1..n-1 of every melody
    of at least two events are scored; event steps are those whose event is not NO_EVENT. Both
    kinds of model score exactly the same steps.
    """
    from melodyrnn.models.ngram_net import NGramNet

    melodies = [np.asarray(m, dtype=np.int64) for m in melodies]
    scored = [m for m in melodies if len(m) >= 2]
    if not scored:
        raise DatasetError("no melodies of at least two steps to evaluate on")
    if isinstance(model.network, NGramNet):
        # One-hot labels: label 0 <=> NO_EVENT, so NGramModel's event mask (label != 0) is the
        # event mask events[1:] != NO_EVENT.
        labels = [model.encoder.labels(m) for m in scored]
        ngram = model.network.ngram
        return ngram.evaluate(labels, model.encoder.default_event_label, skip_first=True)
    from melodyrnn.training.train import EncodedMelodies, evaluate_model

    if model.kind != "melody":
        raise ConfigError(
            "evaluate_likelihood needs a melody model without chord input "
            f"(got {model.config.name})"
        )
    data = EncodedMelodies.from_events(model.encoder, scored, MELODY_NO_EVENT)
    return evaluate_model(model.network, data, model.encoder.default_event_label)


# --- musical statistics ---------------------------------------------------------------------


def _scale_sets() -> np.ndarray:
    """bool [24, 12]: the 12 major and 12 natural minor scales."""
    from melodyrnn.scales import scale_pitch_classes

    rows = []
    for scale in ("major", "minor"):
        for tonic in range(12):
            row = np.zeros(12, bool)
            row[list(scale_pitch_classes(tonic, scale))] = True
            rows.append(row)
    return np.array(rows)


_SCALES = _scale_sets()


def sounding_steps(events) -> np.ndarray:
    """bool [n]: whether a note sounds at each step (the latest non-hold event is a pitch)."""
    ev = np.asarray(events, dtype=np.int64)
    changes = np.where(ev != MELODY_NO_EVENT, np.arange(len(ev)), -1)
    latest = np.maximum.accumulate(changes) if len(ev) else changes
    return (latest >= 0) & (ev[np.maximum(latest, 0)] >= 0)


def melody_features(events, steps_per_bar: int = MAGENTA_STEPS_PER_BAR) -> dict:
    """The musical statistics of one melody event array (NaN where a melody has too few notes).

    pitch_class_entropy: entropy (bits) of the note-count histogram of pitch classes;
    scale_consistency: largest fraction of notes inside one major or natural minor scale;
    pitch_range: highest minus lowest pitch; note_density: onsets per bar;
    empty_beat_rate: fraction of beats (4 steps, the last one may be shorter) where no note
    sounds; and the overlap-area features (module docstring).
    """
    ev = np.asarray(events, dtype=np.int64)
    onsets = np.flatnonzero(ev >= 0)
    pitches = ev[onsets]
    n = len(pitches)
    nan = float("nan")
    histogram = np.bincount(pitches % 12, minlength=12).astype(float)
    if n:
        p = histogram[histogram > 0] / n
        entropy = float(-(p * np.log2(p)).sum()) + 0.0  # no -0.0
        in_scale = float((_SCALES.astype(float) @ histogram).max() / n)
        histogram /= n
    else:
        entropy = in_scale = nan
        histogram[:] = nan
    sounding = sounding_steps(ev)
    beats = math.ceil(len(ev) / DEFAULT_STEPS_PER_QUARTER)
    padded = np.zeros(beats * DEFAULT_STEPS_PER_QUARTER, bool)
    padded[: len(ev)] = sounding
    empty = ~padded.reshape(beats, DEFAULT_STEPS_PER_QUARTER).any(axis=1)
    return {
        "pitch_class_entropy": entropy,
        "scale_consistency": in_scale,
        "pitch_range": float(pitches.max() - pitches.min()) if n else nan,
        "note_density": n / (len(ev) / steps_per_bar) if len(ev) else nan,
        "empty_beat_rate": float(empty.mean()) if beats else nan,
        "pitch_count": float(len(np.unique(pitches))),
        "note_count": float(n),
        "avg_pitch_interval": float(np.abs(np.diff(pitches)).mean()) if n > 1 else nan,
        "avg_ioi": float(np.diff(onsets).mean()) if n > 1 else nan,
        "pitch_class_histogram": histogram,
    }


def musical_metrics(melodies: list[np.ndarray]) -> dict:
    """Mean (and ``<name>_std``) of each musical statistic over a set of melodies."""
    features = [melody_features(m) for m in melodies]
    out: dict = {"melodies": len(features)}
    for key in MUSICAL_METRICS:
        values = np.array([f[key] for f in features], dtype=float)
        values = values[np.isfinite(values)]
        out[key] = float(values.mean()) if len(values) else float("nan")
        out[f"{key}_std"] = float(values.std()) if len(values) else float("nan")
    return out


def _feature_matrix(features: list[dict], key: str) -> np.ndarray:
    """[N, D] values of one feature, melodies where it is undefined left out."""
    rows = [np.atleast_1d(np.asarray(f[key], dtype=float)) for f in features]
    rows = [r for r in rows if np.all(np.isfinite(r))]
    width = len(rows[0]) if rows else 1
    return np.array(rows, dtype=float).reshape(len(rows), width)


def _scipy():
    """scipy's modules used here (an optional dependency: only evaluation needs it)."""
    try:
        from scipy import integrate, spatial, stats
    except ImportError:  # pragma: no cover - scipy is installed with the dev extra
        raise ConfigError("evaluation needs scipy; install it with: pip install scipy") from None
    return integrate, spatial.distance, stats


def _kde(values: np.ndarray):
    """scipy's Gaussian KDE of ``values`` (Scott's bandwidth); None when they are all equal."""
    if len(values) > 1 and np.ptp(values) > 0:
        return _scipy()[2].gaussian_kde(values)
    return None


def _pdf(values: np.ndarray, kde, grid: np.ndarray, bandwidth: float) -> np.ndarray:
    if kde is not None:
        return kde(grid)
    z = (grid - values[0]) / bandwidth  # all values equal: one Gaussian
    return np.exp(-0.5 * z * z) / (bandwidth * math.sqrt(2 * math.pi))


def overlap_area(a, b, points_per_bandwidth: int = 8) -> float:
    """Overlap area (integral of the pointwise minimum) of the KDE densities of ``a`` and ``b``.

    1 for identical distributions, 0 for disjoint ones. A sample whose values are all equal is
    smoothed with the other sample's bandwidth; two such samples overlap fully when equal and
    not at all otherwise. NaN when a sample is empty. The densities are integrated with the
    trapezoid rule on a grid of ``points_per_bandwidth`` points per (smaller) bandwidth.
    """
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if not len(a) or not len(b):
        return float("nan")
    kde_a, kde_b = _kde(a), _kde(b)
    bw_a = float(np.sqrt(kde_a.covariance[0, 0])) if kde_a is not None else 0.0
    bw_b = float(np.sqrt(kde_b.covariance[0, 0])) if kde_b is not None else 0.0
    if bw_a == 0 and bw_b == 0:
        return float(np.isclose(a[0], b[0]))
    widest, finest = max(bw_a, bw_b), min(bw for bw in (bw_a, bw_b) if bw > 0)
    lo = min(a.min(), b.min()) - 4 * widest
    hi = max(a.max(), b.max()) + 4 * widest
    points = int(np.clip((hi - lo) / finest * points_per_bandwidth, 256, 50_000)) + 1
    grid = np.linspace(lo, hi, points)
    pa = _pdf(a, kde_a, grid, bw_a or bw_b)
    pb = _pdf(b, kde_b, grid, bw_b or bw_a)
    return float(min(1.0, _scipy()[0].trapezoid(np.minimum(pa, pb), grid)))


def pairwise_distances(features: list[dict], key: str, others: list[dict] | None = None):
    """Euclidean distances of one feature: within ``features`` (each pair once) or between
    ``features`` and ``others`` (every pair)."""
    distance = _scipy()[1]
    x = _feature_matrix(features, key)
    if others is None:
        return distance.pdist(x) if len(x) > 1 else np.zeros(0)
    y = _feature_matrix(others, key)
    return distance.cdist(x, y).ravel() if len(x) and len(y) else np.zeros(0)


def overlap_areas(generated: list[np.ndarray], reference: list[np.ndarray]) -> dict:
    """Yang & Lerch's OA(intra-set distances of ``reference``, inter-set distances) per
    feature of :data:`OVERLAP_FEATURES`."""
    gen = [melody_features(m) for m in generated]
    ref = [melody_features(m) for m in reference]
    return {
        key: overlap_area(pairwise_distances(ref, key), pairwise_distances(ref, key, gen))
        for key in OVERLAP_FEATURES
    }


# --- generation ---------------------------------------------------------------------------------


def pick_primers(
    melodies: list[np.ndarray], num: int, primer_steps: int, steps: int, seed: int = 0
) -> list[int]:
    """Indices of ``num`` melodies long enough for a primer and a real continuation
    (seeded; melodies are reused in turn when there are fewer than ``num``)."""
    if num < 1 or primer_steps < 1 or steps < 1:
        raise ConfigError("num, primer_steps and steps must all be >= 1")
    long_enough = [i for i, m in enumerate(melodies) if len(m) >= primer_steps + steps]
    if not long_enough:
        raise DatasetError(
            f"no evaluation melody has {primer_steps + steps} steps for a {primer_steps}-step "
            f"primer and a {steps}-step continuation; use shorter ones"
        )
    order = np.random.default_rng(seed).permutation(len(long_enough))
    return [long_enough[k] for k in np.resize(order, num)]


def reference_continuations(
    melodies: list[np.ndarray], num: int = 50, primer_steps: int = 32, steps: int = 64, seed=0
) -> list[np.ndarray]:
    """The real continuations of the primers :func:`generate_for_eval` uses."""
    picks = pick_primers(melodies, num, primer_steps, steps, seed)
    return [np.asarray(melodies[i][primer_steps : primer_steps + steps], np.int64) for i in picks]


def generate_for_eval(
    model,
    melodies: list[np.ndarray],
    num: int = 50,
    primer_steps: int = 32,
    steps: int = 64,
    temperature: float | None = 1.0,
    seed: int = 0,
) -> list[np.ndarray]:
    """Continue the first ``primer_steps`` of ``num`` evaluation melodies by ``steps`` events.

    The same ``seed`` picks the same primers for every model (:func:`pick_primers`) and drives
    the sampling; ``temperature`` None or 0 takes the most likely event at every step.
    """
    from melodyrnn.generation.options import SamplingOptions

    rng = np.random.default_rng([seed, 1])
    outputs = []
    for i in pick_primers(melodies, num, primer_steps, steps, seed):
        primer = np.asarray(melodies[i][:primer_steps], dtype=np.int64)
        options = SamplingOptions(temperature=temperature or None, seed=rng)
        result = model.continue_events(primer, steps, options)
        outputs.append(result.events[0])
    return outputs


# --- several models ---------------------------------------------------------------------------


# Folder names that say nothing about the model in them: a run's best checkpoint, ...
_GENERIC_FOLDERS = {"best", "state", "model", "checkpoint", "checkpoints", "train", "run", "."}


def model_column_name(spec, model, taken: set) -> str:
    """The column a model gets in a report: the shipped model's name, a folder by the last part
    of its path that names it (``runs/folk/best`` is ``folk/best``), ``markov:`` kept; else its
    config's name. Repeats get `` (2)``, `` (3)``, ...; ``taken`` collects the names."""
    if spec is None:  # the shipped default model
        from melodyrnn.models.registry import DEFAULT_MODEL

        name = DEFAULT_MODEL
    elif isinstance(spec, str | os.PathLike):
        text = str(spec)
        prefix = "markov:" if text.startswith("markov:") else ""
        path = Path(text[len(prefix) :])
        parts = [p for p in path.parts if p not in ("/", "")]
        name = "/".join(parts[-2:]) if len(parts) > 1 and path.name in _GENERIC_FOLDERS else ""
        name = prefix + (name or path.name or text)
    else:
        name = getattr(model.config, "name", type(model).__name__)
    base, k = name, 2
    while name in taken:
        name, k = f"{base} ({k})", k + 1
    taken.add(name)
    return name


def _model_description(model, spec) -> dict:
    """What a report's column is: the model as given (path or name) and its config."""
    from melodyrnn.models.registry import DEFAULT_MODEL

    if spec == "markov":
        given = "fitted on the train split"
    elif spec is None or not isinstance(spec, str | os.PathLike):
        given = DEFAULT_MODEL if spec is None else type(spec).__name__
    else:
        given = str(spec)
    return {"model": given, "config": getattr(model.config, "name", type(model).__name__)}


def baseline_model(baseline, data, orders):
    """(model, order table) of the n-gram baseline, or (None, None)."""
    from melodyrnn.generation.music_rnn import MusicRNN
    from melodyrnn.models.ngram_net import load_ngram_model
    from melodyrnn.training.ngram import train_ngram_model

    if baseline is None:
        return None, None
    if isinstance(baseline, MusicRNN):
        return baseline, None
    text = str(baseline)
    if text != "markov":
        path = text[len("markov:") :] if text.startswith("markov:") else text
        return MusicRNN(*load_ngram_model(path)), None
    if not _is_dataset(data):
        raise DatasetError(
            f"{data} is a MIDI folder, which has no train split to fit the n-gram baseline on; "
            "give a trained one with {baseline}=markov:PATH, or evaluate on a dataset folder",
            parameters=("baseline",),
        )
    return train_ngram_model(data, orders)


def evaluate_models(
    models,
    data,
    baseline="markov",
    *,
    num: int = 50,
    primer_steps: int = 32,
    steps: int = 64,
    temperature: float | None = 1.0,
    seed: int = 0,
    orders=range(1, 12),
    describe_models: bool = False,
) -> dict:
    """Likelihood and musical metrics of each model and of the n-gram baseline on ``data``.

    ``models``: one or a list of model paths/names/``markov:PATH`` or loaded models.
    ``data``: a dataset folder (eval split) or a MIDI folder (every melody).
    ``baseline``: ``"markov"`` (fit one on the dataset's train split, the order chosen on its
    eval split), ``"markov:PATH"``/a loaded n-gram :class:`MusicRNN`, or None.
    Returns ``{"likelihood": {name: metrics}, "musical": {"data"|name: means},
    "overlap": {name: {feature: area}}, "baseline": ..., "settings": ...}``; the baseline's
    column is ``"n-gram"``. ``describe_models`` adds ``"models": {name: {"model", "config"}}``
    (the path or name each column was given, and its config), which :func:`format_evaluation`
    lists above the table. :func:`format_evaluation` prints it.
    """
    from melodyrnn.generation.music_rnn import load_model

    specs = models if isinstance(models, list | tuple) else [models]
    if not specs:
        raise ConfigError("give at least one model to evaluate")
    _check_data(data)
    taken: set = set()
    columns = []
    for spec in specs:
        model = load_model(spec)
        columns.append((model_column_name(spec, model, taken), model))
    ngram, table = baseline_model(baseline, data, orders)
    if ngram is not None:
        columns.append(("n-gram" if "n-gram" not in taken else "n-gram baseline", ngram))

    cache: dict = {}

    def melodies_for(model) -> list[np.ndarray]:
        s = model_settings(model)
        key = (s.min_note, s.max_note, s.transpose_to_key)
        if key not in cache:
            cache[key] = load_eval_melodies(data, s)
        return cache[key]

    reference_melodies = melodies_for(columns[0][1])
    options = dict(num=num, primer_steps=primer_steps, steps=steps, seed=seed)
    reference = reference_continuations(reference_melodies, **options)
    result: dict = {
        "data": str(getattr(data, "info", {}).get("source", data)),
        "eval_melodies": len(reference_melodies),
        "likelihood": {},
        "musical": {"data": musical_metrics(reference)},
        "overlap": {},
        "settings": {**options, "temperature": temperature},
    }
    if describe_models:
        result["models"] = {
            name: _model_description(model, spec)
            for (name, model), spec in zip(columns, [*specs, baseline])
        }
    for name, model in columns:
        melodies = melodies_for(model)
        result["likelihood"][name] = evaluate_likelihood(model, melodies)
        generated = generate_for_eval(model, melodies, temperature=temperature, **options)
        result["musical"][name] = musical_metrics(generated)
        result["overlap"][name] = overlap_areas(generated, reference)
    if ngram is not None:
        result["baseline"] = {
            "order": ngram.network.order,
            "order_selection": [{"order": r["order"], "loss": r["loss"]} for r in table or []],
        }
    return result


def _table(rows: dict[str, str], columns: dict[str, dict], width: int) -> list[str]:
    lines = ["metric".ljust(28) + "".join(n.rjust(width + 2) for n in columns)]
    for key, label in rows.items():
        cells = []
        for values in columns.values():
            v = values.get(key)
            cells.append(("-" if v is None or not np.isfinite(v) else f"{v:.4f}").rjust(width + 2))
        lines.append(label.ljust(28) + "".join(cells))
    return lines


def format_evaluation(result: dict) -> str:
    """The text report of :func:`evaluate_models`."""
    s = result["settings"]
    lines = [
        f"next-event prediction on {result['eval_melodies']} evaluation melodies of "
        f"{result['data']} (teacher forced):",
    ]
    for name, about in result.get("models", {}).items():
        lines.append(f"  {name}: {about['model']} (config {about['config']})")
    lines.append(format_table(result["likelihood"]))
    steps = {m.get("steps") for m in result["likelihood"].values()}
    if len(steps) > 1:
        lines.append("warning: the models scored different steps (different ranges or keys)")
    baseline = result.get("baseline")
    if baseline:
        lines.append(f"n-gram baseline: order {baseline['order']}")
        for row in baseline["order_selection"]:
            lines.append(f"  order {row['order']:2d}: eval loss {row['loss']:.4f}")
    width = max(12, *(len(n) for n in result["musical"]))
    lines += [
        "",
        f"continuations of {s['num']} primers ({s['steps']} steps after {s['primer_steps']} "
        f"primer steps, temperature {s['temperature']}, seed {s['seed']}); data = the real "
        "continuations:",
        *_table(MUSICAL_METRICS, result["musical"], width),
        "",
        "overlap area with the data (Yang & Lerch 2018; 1 = distributed like the data):",
        *_table(OVERLAP_FEATURES, result["overlap"], width),
    ]
    return "\n".join(lines)
