"""Token-level generation shared by every model: argmax, sampling, top-k/top-p, masks, beam search.

Nothing here knows what an event means. The caller gives:

* an :class:`~melodyrnn.models.rnn.EventRNN`;
* the primer as model inputs (float32 [P, X]) and as events (int [P]);
* a *feeder* ``feeder(histories [B, L] int, classes [B] int) -> (new_events [B], next_inputs
  float32 [B, X])`` that decodes the chosen classes into events (given each row's history so
  far, without the new event) and encodes the input row fed after them.

The primer is fed from a zero state, its last logits choose token 0, every chosen token is
fed back with one step and the logits after it choose the next token, ``steps`` tokens in all
(the last one is never fed), exactly like magenta.js ``continueSequence``. All ``num_outputs``
rows (times the beam width) run as one batch. How a step runs is the *step backend*
(:func:`choose_step_backend`): on the CPU a :class:`~melodyrnn.models.numpy_step.NumpyStepper`
(fused float32 numpy steps, the primer included), else the primer in one
:meth:`EventRNN.forward` call and then :meth:`EventRNN.stepper` steps under
``torch.inference_mode()``. Both give the same tokens (their logits agree to ~1e-7).

Choosing a token from logits ``x`` (float32):

* ``temperature`` None or 0: ``argmax`` (first index on ties, like ``tf.argMax``);
* otherwise tfjs's multinomial rule: ``p = softmax(x / T)`` in float32, ``cdf`` of classes
  ``0..C-2`` accumulated in float32, token = first ``k`` with ``r < cdf_k`` (else ``C-1``) for a
  uniform ``r`` from a seeded ``numpy.random.Generator`` (or replayed from ``uniforms``).
  Same seed, same tokens. Every output has its own generator (:func:`_row_generators`), so
  variation k is the same whatever ``num_outputs`` is; its beam rows share it, drawn in row
  order. ``shared_stream`` draws every row from one generator in row order instead (the
  layout before per-output streams).
* ``mask`` (allowed classes) and ``top_k``/``top_p`` set the other logits to ``-inf`` first,
  so a masked class is never emitted.

Log-likelihoods are ``log softmax(logits / T)`` of the chosen tokens (T = 1 for argmax) of the
raw model logits, as Magenta scores beams; masks and top-k/top-p shape the choice but not
the score.

Beam search follows ``magenta/common/beam_search.py``: ``beam_size`` copies of the primer;
each iteration replicates every beam ``branch_factor`` times and extends every copy by
``steps_per_iteration`` *sampled* steps (the first iteration takes
``(steps - 1) % steps_per_iteration + 1`` steps), then keeps the ``beam_size`` best by
cumulative log-likelihood; the best beam is returned. With ``beam_size = branch_factor = 1``
it is plain sampling (same seed, same tokens).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from melodyrnn.errors import GenerationError
from melodyrnn.generation.options import SamplingOptions
from melodyrnn.limits import check_limit
from melodyrnn.models.numpy_step import NumpyStepper, blas_threads
from melodyrnn.models.rnn import EventRNN

__all__ = [
    "Feeder",
    "GenerationResult",
    "STEP_BACKENDS",
    "choose_step_backend",
    "choose_tokens",
    "default_num_threads",
    "generate",
    "score",
    "tfjs_softmax",
]

Feeder = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
MaskFn = Callable[[np.ndarray], np.ndarray]


@dataclass
class GenerationResult:
    """The generated rows (one per output).

    Attributes:
        classes: int64 [B, steps], the chosen class indices.
        events: int64 [B, steps], the events the feeder decoded them to.
        log_likelihood: float64 [B], sum of the chosen tokens' log-probabilities.
        logits: float32 [B, steps, C], the raw logits that chose each token (if asked).
        probabilities: float32 [B, steps, C], the distribution each token was drawn from
            (``softmax(logits / T)`` after masks and top-k/top-p; T = 1 for argmax) (if asked).
    """

    classes: np.ndarray
    events: np.ndarray
    log_likelihood: np.ndarray
    logits: np.ndarray | None = None
    probabilities: np.ndarray | None = None


STEP_BACKENDS = ("auto", "numpy", "torch")


def choose_step_backend(model: EventRNN, backend: str = "auto") -> str:
    """``"numpy"`` (:class:`~melodyrnn.models.numpy_step.NumpyStepper`: fused float32 steps,
    no per-op dispatch) or ``"torch"`` (:meth:`EventRNN.stepper`) for stepping ``model``.

    ``"auto"`` takes numpy for a float32 :class:`EventRNN` on the CPU (one BLAS call per
    layer: at batch 1 torch's per-op dispatch costs as much as the arithmetic; from 16 rows
    up, where the products are compute-bound, the two are about even: bench/README.md), torch
    otherwise (a GPU, float64, other networks such as the n-gram model).
    """
    if backend not in STEP_BACKENDS:
        raise GenerationError(
            f"step backend must be one of {', '.join(STEP_BACKENDS)}, got {backend!r}"
        )
    on_cpu = (
        isinstance(model, EventRNN) and model.device.type == "cpu" and model.dtype == torch.float32
    )
    if backend == "numpy" and not on_cpu:
        raise GenerationError("the numpy step backend needs a float32 EventRNN on the CPU")
    if backend == "auto":
        return "numpy" if on_cpu else "torch"
    return backend


def default_num_threads(batch_size: int) -> int:
    """Torch threads for stepping ``batch_size`` rows: 1 for small batches (tiny matmuls
    run slower with more threads), all of torch's threads for large ones."""
    return 1 if batch_size < 16 else torch.get_num_threads()


@contextlib.contextmanager
def _torch_threads(num_threads: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    if num_threads != previous:
        torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def tfjs_softmax(x: np.ndarray) -> np.ndarray:
    """Row softmax as tfjs's CPU kernel computes it (float32 result, sums in double)."""
    x = np.asarray(x, dtype=np.float32)
    shifted = x - x.max(axis=-1, keepdims=True)
    e = np.exp(shifted.astype(np.float64)).astype(np.float32)
    total = e.astype(np.float64).sum(axis=-1, keepdims=True).astype(np.float32)
    return e / total


def _log_probs(logits: torch.Tensor | np.ndarray, temperature: float | None) -> np.ndarray:
    """``log softmax(logits / T)`` (T = 1 for argmax) in float64, as numpy [B, C] (in numpy
    for numpy logits: a torch call costs more than the arithmetic on one row)."""
    if isinstance(logits, np.ndarray):
        x = logits.astype(np.float64)
        if temperature and temperature != 1.0:
            x /= temperature
        x -= x.max(axis=1, keepdims=True)
        x -= np.log(np.exp(x).sum(axis=1, keepdims=True))
        return x
    x = logits.double()
    if temperature and temperature != 1.0:
        x = x / temperature
    return torch.log_softmax(x, dim=1).cpu().numpy()


def _filter_top(z: np.ndarray, top_k: int | None, top_p: float | None) -> np.ndarray:
    """Set everything outside the top-k / nucleus (top-p) classes of each row to -inf."""
    order = np.argsort(-z, axis=1, kind="stable")  # best first, lowest index first on ties
    keep_sorted = np.ones(z.shape, dtype=bool)
    if top_k is not None:
        keep_sorted[:, top_k:] = False
    if top_p is not None:
        p_sorted = np.take_along_axis(tfjs_softmax(z), order, axis=1).astype(np.float64)
        before = np.cumsum(p_sorted, axis=1) - p_sorted  # probability mass ranked above
        keep_sorted &= before < top_p
        keep_sorted[:, 0] = True
    keep = np.empty_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, axis=1)
    return np.where(keep, z, np.float32(-np.inf)).astype(np.float32)


def choose_tokens(
    logits: np.ndarray,
    temperature: float | None,
    uniforms: np.ndarray | None = None,
    allowed: np.ndarray | None = None,
    top_k: int | None = None,
    top_p: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Choose one class per row of ``logits`` [B, C]: ``(tokens int64 [B], probs float32 [B, C])``.

    ``allowed`` (bool [C] or [B, C]) masks classes; ``uniforms`` [B] are needed for sampling.
    """
    x = np.asarray(logits, dtype=np.float32)
    if allowed is not None:
        allowed = np.broadcast_to(np.asarray(allowed, dtype=bool), x.shape)
        if not allowed.any(axis=1).all():
            raise GenerationError("the logit mask allows no class at some step; allow at least one")
        x = np.where(allowed, x, np.float32(-np.inf))
    if not temperature:
        tokens = np.argmax(x, axis=1)
        return tokens.astype(np.int64), tfjs_softmax(x)
    z = x / np.float32(temperature)
    if top_k is not None or top_p is not None:
        z = _filter_top(z, top_k, top_p)
    probs = tfjs_softmax(z)
    cdf = np.cumsum(probs[:, :-1], axis=1, dtype=np.float32)
    tokens = (cdf <= np.asarray(uniforms, dtype=np.float64)[:, None]).sum(axis=1)
    # Round-off can leave r above the last cdf value; never fall back onto a class of
    # probability 0 (masked or filtered): take the last class that has some probability.
    rows = np.arange(len(tokens))
    bad = probs[rows, tokens] == 0
    if bad.any():
        last_allowed = probs.shape[1] - 1 - np.argmax(probs[:, ::-1] > 0, axis=1)
        tokens = np.where(bad, last_allowed, tokens)
    return tokens.astype(np.int64), probs


def _check_primer(model, primer_inputs, primer_events, steps) -> tuple[np.ndarray, np.ndarray]:
    inputs = np.asarray(primer_inputs, dtype=np.float32)
    events = np.asarray(primer_events).astype(np.int64).reshape(-1)
    if inputs.ndim != 2 or inputs.shape[1] != model.input_size:
        raise GenerationError(
            f"primer inputs must have shape [P, {model.input_size}], got {list(inputs.shape)}"
        )
    if len(inputs) == 0:
        raise GenerationError("the primer is empty; give at least one primer step")
    if len(events) != len(inputs):
        raise GenerationError(
            f"primer has {len(inputs)} input rows but {len(events)} events; they must match"
        )
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
        raise GenerationError(
            f"{{steps}} must be an integer >= 1, got {steps!r}", parameters=("steps",)
        )
    check_limit("max_generation_steps", int(steps), "the continuation")
    return inputs, events


def _check_size(options, primer_len: int, steps: int, num_classes: int, per_step: bool) -> None:
    """LimitError before allocating more tokens (or per-step distributions) than allowed."""
    rows = options.num_outputs * options.beam_width
    check_limit("max_generation_tokens", rows * (primer_len + steps), "rows x (primer + steps)")
    if per_step:
        check_limit("max_generation_tokens", rows * steps * num_classes, "the logits asked for")


def _uniform_source(options: SamplingOptions, uniforms, steps: int, rows: int):
    """``draw(t) -> uniforms [rows]`` for step ``t``: replayed ones or the seeded generator's."""
    if not options.sampling:
        return None
    if uniforms is not None:
        table = np.asarray(uniforms, dtype=np.float64)
        if table.ndim == 1:
            table = table[:, None]
        if table.shape != (steps, rows):
            raise GenerationError(
                f"uniforms must have shape [{steps}] or [{steps}, {rows}], got {list(table.shape)}"
            )
        return lambda t: table[t]
    if options.shared_stream:  # one stream for every row, drawn in row order each step
        rng = _generator(options.seed)
        return lambda t: rng.random(rows)
    width = rows // options.num_outputs
    tables = [g.random(steps * width).reshape(steps, width) for g in _row_generators(options)]
    table = np.concatenate(tables, axis=1)
    return lambda t: table[t]


def _generator(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _row_generators(options: SamplingOptions) -> list[np.random.Generator]:
    """One generator per output: output 0 draws from ``default_rng(seed)`` (the stream a single
    output always had), output k >= 1 from ``default_rng([seed, k])``; a Generator seed is
    output 0's stream and its spawned children are the others'. Output k depends only on the
    seed and k, never on ``num_outputs``."""
    first = _generator(options.seed)
    others = options.num_outputs - 1
    if not others:
        return [first]
    if isinstance(options.seed, np.random.Generator) or options.seed is None:
        return [first, *first.spawn(others)]
    return [first, *(np.random.default_rng([options.seed, k]) for k in range(1, others + 1))]


def _static_mask(mask, num_classes: int) -> np.ndarray | None:
    if mask is None or callable(mask):
        return None
    static = np.asarray(mask, dtype=bool)
    if static.shape != (num_classes,):
        raise GenerationError(
            f"mask must be a bool array of {num_classes} classes, got shape {list(static.shape)}"
        )
    return static


class _Beams:
    """Every row's history, chosen classes, score and (if asked) logits and distributions.

    Rows are ``num_outputs`` blocks of ``beam_width`` rows; :meth:`prune` keeps each block's
    ``beam_size`` best rows and replicates them ``branch_factor`` times (Magenta's beam search).
    """

    def __init__(self, events, steps, options, num_classes, keep_logits, keep_probabilities):
        self.options = options
        self.primer_len = len(events)
        self.rows = options.num_outputs * options.beam_width
        self.histories = np.empty((self.rows, self.primer_len + steps), dtype=np.int64)
        self.histories[:, : self.primer_len] = events
        self.classes = np.empty((self.rows, steps), dtype=np.int64)
        self.loglik = np.zeros(self.rows, dtype=np.float64)
        shape = (self.rows, steps, num_classes)
        self.logits = np.empty(shape, np.float32) if keep_logits else None
        self.probabilities = np.empty(shape, np.float32) if keep_probabilities else None
        every = options.steps_per_iteration
        first = (steps - 1) % every + 1
        self.prune_at = set(range(first, steps, every)) if options.beam_width > 1 else set()

    def history(self, t: int) -> np.ndarray:
        return self.histories[:, : self.primer_len + t]

    def record(self, t, tokens, new_events, log_probs, logits, probs) -> None:
        self.loglik += log_probs[np.arange(self.rows), tokens]
        self.classes[:, t] = tokens
        self.histories[:, self.primer_len + t] = new_events
        if self.logits is not None:
            self.logits[:, t] = logits
        if self.probabilities is not None:
            self.probabilities[:, t] = probs

    def prune(self) -> np.ndarray:
        """Reorder the rows for the next iteration; returns the order (to reorder the state)."""
        o = self.options
        order = _prune_and_branch(
            self.loglik, o.num_outputs, o.beam_width, o.beam_size, o.branch_factor
        )
        self.histories, self.classes, self.loglik = (
            self.histories[order],
            self.classes[order],
            self.loglik[order],
        )
        if self.logits is not None:
            self.logits = self.logits[order]
        if self.probabilities is not None:
            self.probabilities = self.probabilities[order]
        return order

    def best(self) -> GenerationResult:
        width = self.options.beam_width
        best = np.arange(self.options.num_outputs) * width
        if width > 1:
            best = best + self.loglik.reshape(-1, width).argmax(axis=1)
        return GenerationResult(
            classes=self.classes[best],
            events=self.histories[best, self.primer_len :],
            log_likelihood=self.loglik[best],
            logits=None if self.logits is None else self.logits[best],
            probabilities=None if self.probabilities is None else self.probabilities[best],
        )


@contextlib.contextmanager
def _eval_mode(model) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def generate(
    model: EventRNN,
    primer_inputs: np.ndarray,
    primer_events: np.ndarray,
    feeder: Feeder,
    steps: int,
    options: SamplingOptions | None = None,
    *,
    mask: np.ndarray | MaskFn | None = None,
    uniforms: np.ndarray | None = None,
    return_logits: bool = False,
    return_probabilities: bool = False,
    num_threads: int | None = None,
    backend: str = "auto",
) -> GenerationResult:
    """Generate ``steps`` tokens after the primer for ``options.num_outputs`` rows in one batch.

    Args:
        model: the network (put in eval mode for the call, then restored).
        primer_inputs: float32 [P, X], the input row of every primer step.
        primer_events: int [P], the primer events (start of every row's history).
        feeder: decodes chosen classes to events and encodes the next input (module docstring).
        steps: number of tokens to generate.
        options: token choice (temperature, seed, num_outputs, top-k/top-p, beam search); the
            sampler works on classes, so pitch constraints must come as a ``mask``.
        mask: bool [C] of allowed classes, or a callable ``histories [B, L] -> bool [B, C]``.
        uniforms: explicit uniforms [steps] or [steps, rows] to replay (e.g. a tfjs run).
        return_logits, return_probabilities: also return the per-step logits / distributions.
        num_threads: torch (and, with the numpy backend, BLAS) threads for the loop (default
            :func:`default_num_threads`).
        backend: how each step runs, one of :data:`STEP_BACKENDS` (see
            :func:`choose_step_backend`); every backend gives the same tokens.
    """
    options = options or SamplingOptions()
    if options.allowed_pitches() is not None:
        raise GenerationError(
            "generate chooses classes, not pitches: turn pitch_range/key/scale into a mask "
            "(MusicRNN.continue_events does)"
        )
    inputs, events = _check_primer(model, primer_inputs, primer_events, steps)
    steps = int(steps)
    per_step = return_logits or return_probabilities
    _check_size(options, len(events), steps, model.num_classes, per_step)
    beams = _Beams(events, steps, options, model.num_classes, return_logits, return_probabilities)
    draw = _uniform_source(options, uniforms, steps, beams.rows)
    static_mask = _static_mask(mask, model.num_classes)
    threads = num_threads or default_num_threads(beams.rows)
    backend = choose_step_backend(model, backend)
    numpy_threads = blas_threads(threads) if backend == "numpy" else contextlib.nullcontext()
    with _eval_mode(model), torch.inference_mode(), _torch_threads(threads), numpy_threads:
        _step_loop(model, backend, inputs, feeder, steps, options, beams, draw, mask, static_mask)
    return beams.best()


class _TorchSteps:
    """:meth:`EventRNN.stepper` behind :class:`NumpyStepper`'s interface (numpy in and out)."""

    def __init__(self, model: EventRNN, state) -> None:
        self.model, self.state, self.device = model, state, model.device
        self.on_cpu = self.device.type == "cpu" and model.dtype == torch.float32
        self.fn = model.stepper()

    def reorder(self, order: np.ndarray) -> None:
        self.state = self.model.reorder_state(self.state, torch.from_numpy(order).to(self.device))

    def step(self, x: np.ndarray) -> torch.Tensor:
        inputs = torch.from_numpy(x)
        if not self.on_cpu:
            inputs = inputs.to(device=self.device, dtype=self.model.dtype)
        logits, self.state = self.fn(inputs, self.state)
        return logits


def _step_loop(model, backend, inputs, feeder, steps, options, beams, draw, mask, static_mask):
    """Feed the primer, then choose, record and feed back one token per step (module doc)."""
    device = model.device
    input_shape = (beams.rows, model.input_size)
    temperature = options.temperature
    plain_argmax = not options.sampling and mask is None and beams.probabilities is None
    if backend == "numpy":  # the primer too, step by step: no torch call at all
        stepper = NumpyStepper(model, beams.rows)
        for row in inputs:
            last = stepper.step(np.broadcast_to(row, input_shape))
        logits = last.copy()
    else:
        primer = torch.from_numpy(inputs).to(device=device, dtype=model.dtype)
        primer_logits, state = model(primer.unsqueeze(0))
        rows = torch.zeros(beams.rows, dtype=torch.long, device=device)
        stepper = _TorchSteps(model, model.reorder_state(state, rows))
        last = primer_logits[0, -1:].expand(beams.rows, -1)
        logits = last.float().cpu().numpy()
    log_probs = _log_probs(last, temperature)
    for t in range(steps):
        if t in beams.prune_at:
            order = beams.prune()
            logits, log_probs = logits[order], log_probs[order]
            stepper.reorder(order)
        history = beams.history(t)
        probs = None
        if plain_argmax:
            tokens = logits.argmax(axis=1)
        else:
            allowed = mask(history) if callable(mask) else static_mask
            r = draw(t) if draw is not None else None
            tokens, probs = choose_tokens(
                logits, temperature, r, allowed, options.top_k, options.top_p
            )
        new_events, next_inputs = feeder(history, tokens)
        beams.record(t, tokens, new_events, log_probs, logits, probs)
        if t + 1 < steps:
            next_inputs = np.asarray(next_inputs, dtype=np.float32)
            if next_inputs.shape != input_shape:
                raise GenerationError(
                    f"the feeder returned inputs of shape {list(next_inputs.shape)}, "
                    f"expected {list(input_shape)}"
                )
            step_logits = stepper.step(next_inputs)
            log_probs = _log_probs(step_logits, temperature)
            if isinstance(step_logits, torch.Tensor):
                step_logits = step_logits.float().cpu().numpy()
            logits = step_logits  # numpy's is a buffer: used (and copied) before the next step


def _prune_and_branch(
    loglik: np.ndarray, num_outputs: int, width: int, beam_size: int, branch_factor: int
) -> np.ndarray:
    """Row order after keeping each output's ``beam_size`` best rows (stable, best first, like
    ``heapq.nlargest``) and replicating them ``branch_factor`` times."""
    scores = loglik.reshape(num_outputs, width)
    kept = np.argsort(-scores, axis=1, kind="stable")[:, :beam_size]
    branched = np.tile(kept, (1, branch_factor))
    return (branched + (np.arange(num_outputs) * width)[:, None]).reshape(-1)


def score(model: EventRNN, inputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Teacher-forced log-likelihood of ``labels`` at every step: float64 [P] (or [B, P]).

    ``inputs`` [P, X] (or [B, P, X]) are fed from a zero state; step i's logits score
    ``labels[i]`` (the encoder's training framing: inputs of positions 0..n-2, labels 1..n-1).
    """
    x = np.asarray(inputs, dtype=np.float32)
    y = np.asarray(labels).astype(np.int64)
    single = x.ndim == 2
    if single:
        x, y = x[None], y[None]
    if x.ndim != 3 or x.shape[2] != model.input_size or y.shape != x.shape[:2]:
        raise GenerationError(
            f"score needs inputs [P, {model.input_size}] and labels [P], got "
            f"{list(np.shape(inputs))} and {list(np.shape(labels))}"
        )
    if y.size and (y.min() < 0 or y.max() >= model.num_classes):
        raise GenerationError(f"labels must lie in 0..{model.num_classes - 1}")
    with _eval_mode(model), torch.inference_mode():
        tensor = torch.from_numpy(x).to(device=model.device, dtype=model.dtype)
        logits, _ = model(tensor)
        log_probs = torch.log_softmax(logits.double(), dim=-1)
        picked = log_probs.gather(2, torch.from_numpy(y).to(model.device)[..., None])[..., 0]
        result = picked.cpu().numpy()
    return result[0] if single else result
