"""Order-k n-gram language model over integer tokens: the honest baseline for the melody LSTM.

The model works on the same class tokens the LSTM is trained on (e.g. Magenta's 38 melody
classes) and is scored on the same positions, so its numbers compare directly with the LSTM's.

Smoothing: interpolated Kneser-Ney (Chen & Goodman 1998), by default the "modified" variant with
three discounts per order (for n-grams seen once, twice, three times or more) estimated from
count-of-counts. For a context ``h`` and a token ``w`` at n-gram order ``m``::

    P_m(w | h) = (max(c(h w) - D(c(h w)), 0) + G(h) * P_{m-1}(w | h')) / T(h)

    T(h) = sum_w c(h w),   G(h) = D1 N1(h) + D2 N2(h) + D3 N3+(h)

where ``h'`` is ``h`` without its oldest token, ``Nk(h)`` counts the tokens seen exactly ``k``
times after ``h`` (``N3+``: three or more) and ``P_0`` is uniform over the classes, so every class
keeps a non-zero probability. Contexts never seen in training back off to their longest seen
suffix. ``c`` is the raw count at the model's own order and the Kneser-Ney *continuation count*
(the number of distinct tokens seen just before the n-gram) at lower orders. The formula sums to
one over ``w`` for every context as long as ``D_k <= k``, which the estimates respect.

Sequence starts: each sequence is padded on the left with ``order - 1`` copies of a BOS symbol
(id ``num_classes``, never predicted), so the first token has the context "BOS ... BOS" and gets
a proper distribution too; a context shorter than ``order - 1`` tokens is read as the start of a
sequence. An n-gram that begins with BOS cannot be extended to the left in a meaningful way, so
it keeps its raw count at lower orders (as KenLM does), otherwise every sequence start would count
once only.

Framing: Magenta (and melodyrnn's LSTM) predicts token ``t`` from tokens ``< t`` for
``t = 1 .. n-1``; the first token is never a label. ``evaluate(..., skip_first=True)`` (the
default) scores exactly those positions.

Sampling is not done here: :class:`~melodyrnn.models.ngram_net.NGramNet` shows the model as a
network, and :mod:`melodyrnn.generation.sampler` samples it like every other model.

Implementation: everything is numpy. An n-gram context is identified by a dense integer id,
built one token at a time from the nearest token outwards (``id_L = rank of id_{L-1} * (V+1) +
token``), so any order works with int64 keys; n-grams are sorted ``(context id, token)`` pairs,
found with ``searchsorted``. Files are ``.npz`` without pickles, read and checked by
:mod:`melodyrnn.models.ngram_files` before the model uses them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from melodyrnn.errors import CheckpointError, ConfigError, DatasetError
from melodyrnn.files import atomic_path
from melodyrnn.models.metrics import step_metrics
from melodyrnn.models.ngram_files import FORMAT, FORMAT_VERSION, read_ngram_file

_CHUNK = 1 << 16  # positions scored at once: bounds memory to ~_CHUNK * num_classes floats


@dataclass
class _Level:
    """What order ``m`` needs to compute P_m for its contexts (context length ``m - 1``)."""

    ctx_keys: np.ndarray  # sorted keys (parent id * (V+1) + oldest token) of contexts; [] if m=1
    ctx_parent: np.ndarray  # id of each context without its oldest token (order m-1's context)
    indptr: np.ndarray  # entries of context c are indptr[c]:indptr[c+1]
    words: np.ndarray  # token of each entry
    discounted: np.ndarray  # max(c - D(c), 0) of each entry
    total: np.ndarray  # T(h) per context
    backoff: np.ndarray  # G(h) per context
    discounts: tuple[float, float, float]


class NGramModel:
    """Interpolated Kneser-Ney n-gram model over tokens ``0 .. num_classes - 1``.

    ``order`` is the n-gram length: 1 is a (smoothed) unigram, 3 predicts from the two previous
    tokens. ``discount`` is ``None`` to estimate discounts from the data (three per order when
    ``modified``, else one), or a number or a ``(D1, D2, D3)`` triple used at every order.
    """

    def __init__(
        self,
        order: int,
        num_classes: int,
        *,
        discount: float | tuple[float, float, float] | None = None,
        modified: bool = True,
    ):
        if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
            raise ConfigError(f"n-gram order must be an integer >= 1, got {order!r}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
            raise ConfigError(f"num_classes must be an integer >= 1, got {num_classes!r}")
        if num_classes < 1:
            raise ConfigError(f"num_classes must be an integer >= 1, got {num_classes!r}")
        self.order = int(order)
        self.num_classes = int(num_classes)
        self.discount = _check_discount(discount)
        self.modified = bool(modified)
        self._base = self.num_classes + 1  # token values in contexts, BOS included
        self._bos = self.num_classes
        self._tables: dict | None = None
        self._levels: list[_Level] = []

    def __repr__(self) -> str:
        state = "fitted" if self.fitted else "not fitted"
        return f"NGramModel(order={self.order}, num_classes={self.num_classes}, {state})"

    @property
    def fitted(self) -> bool:
        return self._tables is not None

    @property
    def discounts(self) -> list[tuple[float, float, float]]:
        """The (D1, D2, D3+) discounts in use, one triple per order 1 .. order."""
        self._require_fitted()
        return [level.discounts for level in self._levels]

    # --- training ------------------------------------------------------------------------------

    def fit(self, sequences) -> NGramModel:
        """Count the n-grams of ``sequences`` (1-D integer arrays); returns ``self``."""
        seqs = [s for s in self._check_sequences(sequences) if len(s)]
        if not seqs:
            raise DatasetError("no tokens to fit the n-gram model on; give non-empty sequences")
        stream, positions = self._padded_stream(seqs)
        words = stream[positions]
        base, v = self._base, self.num_classes

        ctx_keys: list[np.ndarray] = [np.zeros(0, np.int64)]  # by context length L
        ngram_keys: list[np.ndarray] = []  # by order m - 1: sorted context id * V + token
        raw: list[np.ndarray] = []
        ctx_id = np.zeros(len(positions), np.int64)
        for m in range(1, self.order + 1):
            if m > 1:
                keys = ctx_id * base + stream[positions - (m - 1)]
                unique_keys, ctx_id = np.unique(keys, return_inverse=True)
                ctx_keys.append(unique_keys)
            unique_ngrams, counts = np.unique(ctx_id * v + words, return_counts=True)
            ngram_keys.append(unique_ngrams)
            raw.append(counts)

        # Continuation counts of order m: distinct oldest tokens among order m+1's n-grams that
        # end with the same m tokens. N-grams starting with BOS keep their raw counts.
        continuation: list[np.ndarray] = []
        for m in range(1, self.order):
            higher = ngram_keys[m]
            parent_ctx = ctx_keys[m][higher // v] // base
            index = np.searchsorted(ngram_keys[m - 1], parent_ctx * v + higher % v)
            counts = np.bincount(index, minlength=len(ngram_keys[m - 1]))
            if m > 1:
                starts_with_bos = ctx_keys[m - 1][ngram_keys[m - 1] // v] % base == self._bos
                counts = np.where(starts_with_bos, raw[m - 1], counts)
            continuation.append(counts)

        self._tables = {"ctx_keys": ctx_keys, "ngram_keys": ngram_keys, "raw": raw}
        self._tables["continuation"] = continuation
        self._prepare()
        return self

    def with_order(self, order: int) -> NGramModel:
        """The same counts as a model of a lower ``order`` (equal to fitting at that order)."""
        self._require_fitted()
        if not 1 <= order <= self.order:
            raise ConfigError(f"order must be between 1 and {self.order}, got {order}")
        model = NGramModel(order, self.num_classes, discount=self.discount, modified=self.modified)
        t = self._tables
        model._tables = {
            "ctx_keys": t["ctx_keys"][:order],
            "ngram_keys": t["ngram_keys"][:order],
            "raw": t["raw"][:order],
            "continuation": t["continuation"][: order - 1],
        }
        model._prepare()
        return model

    def _prepare(self) -> None:
        """Per-order discounts, totals and backoff weights for this model's order."""
        t = self._tables
        v = self.num_classes
        self._levels = []
        for m in range(1, self.order + 1):
            keys = t["ngram_keys"][m - 1]
            counts = t["raw"][m - 1] if m == self.order else t["continuation"][m - 1]
            ctx = keys // v
            n_ctx = len(t["ctx_keys"][m - 1]) if m > 1 else 1
            d1, d2, d3 = self._discounts_for(counts)
            per_count = np.array([0.0, d1, d2, d3])[np.minimum(counts, 3)]
            total = np.bincount(ctx, weights=counts, minlength=n_ctx)
            backoff = np.bincount(ctx, weights=per_count, minlength=n_ctx)
            self._levels.append(
                _Level(
                    ctx_keys=t["ctx_keys"][m - 1],
                    ctx_parent=t["ctx_keys"][m - 1] // self._base,
                    indptr=np.searchsorted(ctx, np.arange(n_ctx + 1)),
                    words=(keys % v).astype(np.int64),
                    discounted=np.maximum(counts - per_count, 0.0),
                    total=total,
                    backoff=backoff,
                    discounts=(d1, d2, d3),
                )
            )

    def _discounts_for(self, counts: np.ndarray) -> tuple[float, float, float]:
        if self.discount is not None:
            return self.discount
        return estimate_discounts(counts, modified=self.modified)

    # --- probabilities -------------------------------------------------------------------------

    def prob_dist(self, context=()) -> np.ndarray:
        """P(next token | context) over ``num_classes``; ``context`` is the sequence so far."""
        return self.prob_dists([context])[0]

    def prob_dists(self, contexts) -> np.ndarray:
        """One distribution per context, shape ``[len(contexts), num_classes]``."""
        self._require_fitted()
        near = self._near_rows(self._check_sequences(contexts, what="context"))
        return self._distributions(near)

    def log_prob(self, sequences) -> list[np.ndarray]:
        """Natural-log probability of every token of every sequence, given the tokens before it.

        Returns one array per sequence, as long as the sequence (position 0 included).
        """
        self._require_fitted()
        seqs = self._check_sequences(sequences)
        if not any(len(s) for s in seqs):
            return [np.zeros(0) for _ in seqs]
        ll, _, _, _ = self._score(seqs)
        return np.split(ll, np.cumsum([len(s) for s in seqs])[:-1])

    def evaluate(self, sequences, default_label: int = 0, skip_first: bool = True) -> dict:
        """Magenta's next-step metrics on ``sequences``
        (:func:`melodyrnn.models.metrics.step_metrics`).

        ``skip_first=True`` scores positions 1 .. n-1 of each sequence, as the LSTM's training
        labels do; ``False`` scores the first token too.
        """
        self._require_fitted()
        seqs = [s for s in self._check_sequences(sequences) if len(s)]
        if seqs:
            ll, predictions, labels, first = self._score(seqs)
            keep = ~first if skip_first else np.ones(len(ll), bool)
        if not seqs or not keep.any():
            raise DatasetError("no steps to score; give sequences of at least 2 tokens")
        return step_metrics(ll[keep], predictions[keep], labels[keep], default_label)

    def _score(self, seqs: list[np.ndarray]):
        """Log-likelihood, argmax prediction, label and is-first-token flag of every position."""
        stream, positions = self._padded_stream(seqs)
        lengths = np.array([len(s) for s in seqs])
        first = np.zeros(len(positions), bool)
        first[(np.cumsum(lengths) - lengths)[lengths > 0]] = True
        labels = stream[positions]
        ll = np.empty(len(positions))
        predictions = np.empty(len(positions), np.int64)
        offsets = np.arange(1, self.order)
        for start in range(0, len(positions), _CHUNK):
            chunk = slice(start, start + _CHUNK)
            near = stream[positions[chunk, None] - offsets[None, :]]
            dist = self._distributions(near)
            ll[chunk] = np.log(dist[np.arange(len(dist)), labels[chunk]])
            predictions[chunk] = dist.argmax(axis=1)
        return ll, predictions, labels, first

    def _near_rows(self, seqs: list[np.ndarray]) -> np.ndarray:
        """The last ``order - 1`` tokens of each sequence, nearest first, BOS where none."""
        width = self.order - 1
        near = np.full((len(seqs), width), self._bos, np.int64)
        for row, seq in enumerate(seqs):
            tail = seq[max(len(seq) - width, 0) :][::-1]
            near[row, : len(tail)] = tail
        return near

    def _distributions(self, near: np.ndarray) -> np.ndarray:
        """Distributions for contexts given as rows of tokens, nearest first, BOS-padded."""
        n = len(near)
        out = np.empty((n, self.num_classes))
        # Id of each row's context at every length, and the longest length seen in training.
        ids = [np.zeros(n, np.int64)]
        alive = np.ones(n, bool)
        depth = np.zeros(n, np.int64)
        for length in range(1, self.order):
            keys = self._levels[length].ctx_keys
            key = ids[-1] * self._base + near[:, length - 1]
            index = np.minimum(np.searchsorted(keys, key), max(len(keys) - 1, 0))
            found = alive & (len(keys) > 0)
            if len(keys):
                found &= keys[index] == key
            ids.append(np.where(found, index, 0))
            depth[found] = length
            alive = found
        # P for every context some row needs, from the empty context up.
        previous_ids = np.zeros(1, np.int64)
        previous = np.full((1, self.num_classes), 1.0 / self.num_classes)
        for length, level in enumerate(self._levels):
            needed = np.unique(ids[length][depth >= length])
            if len(needed) == 0:
                break
            if length == 0:
                parent_rows = np.zeros(len(needed), np.int64)
            else:
                parent_rows = np.searchsorted(previous_ids, level.ctx_parent[needed])
            dist = level.backoff[needed, None] * previous[parent_rows]
            starts, stops = level.indptr[needed], level.indptr[needed + 1]
            lengths = stops - starts
            rows = np.repeat(np.arange(len(needed)), lengths)
            entries = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            entries += np.repeat(starts, lengths)
            dist[rows, level.words[entries]] += level.discounted[entries]
            dist /= level.total[needed, None]
            mine = depth == length
            out[mine] = dist[np.searchsorted(needed, ids[length][mine])]
            previous_ids, previous = needed, dist
        return out

    # --- files ---------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """Write the counts to an ``.npz`` file (no pickles); returns the path written."""
        self._require_fitted()
        path = Path(path)
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "order": self.order,
            "num_classes": self.num_classes,
            "discount": self.discount,
            "modified": self.modified,
        }
        arrays = {"meta": np.array(json.dumps(meta))}
        t = self._tables
        for m in range(1, self.order + 1):
            if m > 1:
                arrays[f"ctx_keys_{m}"] = t["ctx_keys"][m - 1]
            arrays[f"ngram_keys_{m}"] = t["ngram_keys"][m - 1]
            arrays[f"raw_{m}"] = t["raw"][m - 1]
            if m < self.order:
                arrays[f"continuation_{m}"] = t["continuation"][m - 1]
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> NGramModel:
        """Read a model written by :meth:`save` (CheckpointError for anything else)."""
        path = Path(path).resolve()
        meta, arrays = read_ngram_file(path)
        try:
            model = cls(
                meta["order"],
                meta["num_classes"],
                discount=meta["discount"],
                modified=meta["modified"],
            )
        except ConfigError as error:
            raise CheckpointError(f"cannot read n-gram model {path}: {error}") from None
        model._tables = arrays
        model._prepare()
        return model

    # --- helpers -------------------------------------------------------------------------------

    def _require_fitted(self) -> None:
        if self._tables is None:
            raise ConfigError("the n-gram model is not fitted; call fit() or load() first")

    def _check_sequences(self, sequences, what: str = "sequence") -> list[np.ndarray]:
        if isinstance(sequences, np.ndarray) and sequences.ndim == 1:
            raise DatasetError(f"give a list of {what}s (1-D arrays), not one flat array")
        checked = []
        for i, seq in enumerate(sequences):
            arr = np.asarray(seq)
            if arr.ndim != 1:
                raise DatasetError(f"{what} {i} must be 1-D, got shape {arr.shape}")
            if arr.size == 0:
                checked.append(np.zeros(0, np.int64))
                continue
            if not np.issubdtype(arr.dtype, np.integer):
                raise DatasetError(f"{what} {i} must hold integer tokens, got {arr.dtype}")
            if arr.min() < 0 or arr.max() >= self.num_classes:
                raise DatasetError(
                    f"{what} {i} has tokens outside 0..{self.num_classes - 1} "
                    f"(min {arr.min()}, max {arr.max()})"
                )
            checked.append(arr.astype(np.int64))
        return checked

    def _padded_stream(self, seqs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """All sequences, each after ``order - 1`` BOS tokens; and where the real tokens are."""
        pad = self.order - 1
        lengths = np.array([len(s) for s in seqs], np.int64)
        stream = np.full(int(lengths.sum() + pad * len(seqs)), self._bos, np.int64)
        starts = np.cumsum(lengths + pad) - lengths  # first real token of each sequence
        positions = np.repeat(starts - np.cumsum(np.r_[0, lengths[:-1]]), lengths)
        positions += np.arange(int(lengths.sum()))
        stream[positions] = np.concatenate(seqs)
        return stream, positions


def _check_discount(discount) -> tuple[float, float, float] | None:
    if discount is None:
        return None
    values = (discount,) * 3 if np.isscalar(discount) else tuple(discount)
    try:
        values = tuple(float(d) for d in values)
    except (TypeError, ValueError):
        raise ConfigError(f"discount must be a number or three numbers, got {discount!r}") from None
    if len(values) != 3 or not all(0.0 <= d <= k for k, d in enumerate(values, 1)):
        raise ConfigError(
            f"discounts must be 0 <= D1 <= 1, 0 <= D2 <= 2, 0 <= D3 <= 3, got {discount!r}"
        )
    return values


def estimate_discounts(counts: np.ndarray, modified: bool = True) -> tuple[float, float, float]:
    """Kneser-Ney discounts from count-of-counts (Chen & Goodman 1998, eq. 26).

    ``Y = n1 / (n1 + 2 n2)``; modified KN uses ``D1 = 1 - 2Y n2/n1``, ``D2 = 2 - 3Y n3/n2``,
    ``D3+ = 3 - 4Y n4/n3``, plain KN uses ``D = Y`` for all. Where the counts are too few for an
    estimate (a count-of-count is zero, or a discount leaves its range) it falls back to plain KN,
    and to 0.5 when even ``Y`` is undefined.
    """
    n1, n2, n3, n4 = (int(np.count_nonzero(counts == k)) for k in (1, 2, 3, 4))
    if n1 == 0 or n2 == 0:
        return (0.5, 0.5, 0.5)
    y = n1 / (n1 + 2 * n2)
    if modified and n3 > 0 and n4 > 0:
        d = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
        if all(0 < dk <= k for k, dk in enumerate(d, 1)):
            return d
    return (y, y, y)


def select_order(
    train,
    eval,
    num_classes: int,
    orders=range(1, 12),
    *,
    default_label: int = 0,
    skip_first: bool = True,
    discount: float | tuple[float, float, float] | None = None,
    modified: bool = True,
) -> tuple[int, list[dict]]:
    """Pick the order with the lowest loss on ``eval`` after training on ``train``.

    Counts once at the highest order and scores each order in ``orders`` (lower orders share
    the counts, exactly as if fitted alone). Returns the best order and one row of metrics per
    order (``{"order": k, "loss": ..., "perplexity": ..., ...}``), in the order given.
    """
    orders = [int(k) for k in orders]
    if not orders or min(orders) < 1:
        raise ConfigError(f"orders must be integers >= 1, got {orders!r}")
    full = NGramModel(max(orders), num_classes, discount=discount, modified=modified).fit(train)
    table = []
    for order in orders:
        metrics = full.with_order(order).evaluate(eval, default_label, skip_first=skip_first)
        table.append({"order": order, **metrics})
    best = min(table, key=lambda row: row["loss"])["order"]
    return best, table
