"""Training data a batch at a time: batches planned from lengths alone, melodies read by shard.

The training loop never holds an encoded dataset. :class:`Pieces` knows the length of every piece
(a whole melody, or a chunk of ``chunk_steps`` labels) from the dataset's index; the batches of
an epoch are planned from those lengths (:func:`epoch_plan`), and a batch's melodies are read
from their shards and encoded when the batch comes (:meth:`Pieces.collate`), with the few shards
in use kept in a small cache.

The plan depends only on the lengths, the shards, the batch size, the seed and the epoch; never
on how many processes train. When every shard fits in the window (``window_shards``), and for a
dataset in memory, it is exactly the plan of the whole dataset (:func:`bucketed_batches`).
Beyond that, shards are taken in a seeded random order and their pieces shuffled within each
shard; this sequence is cut into groups of about ``window_shards`` shards' pieces, batches of
similar lengths are made within runs of at most ``32 * batch_size`` pieces of a group and
shuffled within the group, so a process reads each shard about once per epoch. A process of a
distributed run takes, of every batch, the rows of the shards it owns (``shard % world == rank``;
a dataset in memory is shared out by melody).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch

from melodyrnn.training.dataset import MelodyDataset
from melodyrnn.training.shards import ShardedDataset

BUCKET = 32  # batches of similar lengths are made within runs of BUCKET * batch_size pieces


@dataclass
class EncodedMelodies:
    """Encoder inputs and labels of a list of melodies (Magenta's next-event framing)."""

    inputs: list[np.ndarray]
    labels: list[np.ndarray]
    is_event: list[np.ndarray]  # the labelled event is not NO_EVENT (melody) / silence (drums)

    @classmethod
    def from_events(cls, encoder, melodies: list[np.ndarray], no_event: int) -> EncodedMelodies:
        inputs, labels, is_event = [], [], []
        for events in melodies:
            if len(events) < 2:
                continue
            x, y, e = encode_melody(encoder, events, no_event)
            inputs.append(x)
            labels.append(y)
            is_event.append(e)
        return cls(inputs, labels, is_event)

    def __len__(self) -> int:
        return len(self.labels)

    def chunked(self, steps: int) -> EncodedMelodies:
        """Cut every melody into pieces of at most ``steps`` (truncated backprop through time:
        many more updates per epoch; encoder features that look back are already computed)."""
        out = EncodedMelodies([], [], [])
        for x, y, e in zip(self.inputs, self.labels, self.is_event):
            for start in range(0, len(y), steps):
                out.inputs.append(x[start : start + steps])
                out.labels.append(y[start : start + steps])
                out.is_event.append(e[start : start + steps])
        return out

    @property
    def num_steps(self) -> int:
        return int(sum(len(y) for y in self.labels))

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(y) for y in self.labels], dtype=np.int64)

    def rows(self, index) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        return [(self.inputs[i], self.labels[i], self.is_event[i]) for i in index]


def encode_melody(encoder, events, no_event: int):
    events = np.asarray(events, dtype=np.int64)
    x, y = encoder.encode(events)
    return x.astype(np.float32, copy=False), y.astype(np.int64, copy=False), events[1:] != no_event


def pad(rows, width: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad (inputs, labels, _) rows: inputs [B, T, X], labels [B, T] (-100 on padding), mask."""
    t_max = max((len(y) for _, y, _ in rows), default=1)
    x = np.zeros((len(rows), t_max, width), dtype=np.float32)
    y = np.full((len(rows), t_max), -100, dtype=np.int64)
    for row, (xi, yi, _) in enumerate(rows):
        x[row, : len(yi)] = xi
        y[row, : len(yi)] = yi
    y_t = torch.from_numpy(y)
    return torch.from_numpy(x), y_t, y_t != -100


def collate(data, index) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad a batch of ``data`` (:class:`EncodedMelodies` or :class:`Pieces`)."""
    rows = data.rows(index)
    return pad(rows, rows[0][0].shape[1])


def bucketed_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list:
    """Index batches of similar lengths: shuffle, sort by length within windows, shuffle batches."""
    order = rng.permutation(len(lengths))
    window = batch_size * BUCKET
    batches = []
    for start in range(0, len(order), window):
        chunk = order[start : start + window]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def epoch_plan(
    lengths: np.ndarray,
    shard: np.ndarray,
    batch_size: int,
    rng: np.random.Generator,
    window_shards: int,
) -> list:
    """The batches of one epoch (see the module docstring): ``ceil(len(lengths) / batch_size)``
    index arrays, whatever the window."""
    num_shards = int(shard.max()) + 1 if len(shard) else 1
    if num_shards <= window_shards:
        return bucketed_batches(lengths, batch_size, rng)
    by_shard = np.argsort(shard, kind="stable")
    bounds = np.searchsorted(shard[by_shard], np.arange(num_shards + 1))
    parts = []
    for k in rng.permutation(num_shards):
        ids = by_shard[bounds[k] : bounds[k + 1]]
        parts.append(ids[rng.permutation(len(ids))])
    order = np.concatenate(parts)
    # A group: about window_shards shards' pieces, a whole number of bucketing windows, each a
    # whole number of batches; so every group but the last gives full batches only.
    per_group = window_shards * len(order) / num_shards
    window = min(batch_size * BUCKET, max(1, round(per_group / batch_size)) * batch_size)
    per_group = max(1, round(per_group / window)) * window
    batches: list = []
    for group in range(0, len(order), per_group):
        made = []
        for start in range(group, min(group + per_group, len(order)), window):
            chunk = order[start : min(start + window, group + per_group)]
            chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
            made.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
        batches.extend(made[i] for i in rng.permutation(len(made)))
    return batches


class Pieces:
    """The pieces of one split of a dataset, read and encoded batch by batch.

    ``split`` "train" or "eval"; ``chunk_steps`` cuts melodies into pieces of that many labels;
    ``max_steps`` keeps the first melodies (in dataset order) up to that many steps; shards are
    cached ``cache_shards`` at a time (their melodies of the split and, if ``keep_encoded``,
    their encodings: by default when every shard fits or melodies are cut into pieces).
    """

    def __init__(
        self,
        ds: MelodyDataset | ShardedDataset,
        split: str,
        encoder,
        no_event: int,
        *,
        chunk_steps: int | None = None,
        max_steps: int | None = None,
        cache_shards: int = 8,
        keep_encoded: bool | None = None,
    ):
        self.ds, self.encoder, self.no_event = ds, encoder, no_event
        want = {"train": 0, "eval": 1}[split]
        if isinstance(ds, ShardedDataset):
            rows = np.flatnonzero(ds.split == want)
            lengths, shard = ds.lengths[rows], ds.shard[rows].astype(np.int64)
            self.num_shards = ds.num_shards
        else:  # in memory: one shard
            rows = np.flatnonzero(ds.split == want)
            lengths = np.diff(ds.offsets)[rows]
            shard = np.zeros(len(rows), dtype=np.int64)
            self.num_shards = 1
        if max_steps:
            keep = np.cumsum(lengths) - lengths < max_steps  # as many melodies as reach it
            rows, lengths, shard = rows[keep], lengths[keep], shard[keep]
        self._rows = rows  # dataset row of each melody of the split
        self.melody_shard = shard
        labels = np.maximum(lengths - 1, 0)
        steps = chunk_steps or max(1, int(labels.max(initial=1)))
        counts = np.where(labels > 0, -(-labels // steps), 0)
        self.melody = np.repeat(np.arange(len(rows)), counts)
        first = np.repeat(np.cumsum(counts) - counts, counts)
        self.start = (np.arange(len(self.melody)) - first) * steps
        self.length = np.minimum(labels[self.melody] - self.start, steps).astype(np.int64)
        self.shard = shard[self.melody]
        # Which process of a distributed run takes a piece: the one that owns its shard, or for
        # a dataset in memory (one shard) the one its melody falls to.
        self.owner = self.shard if isinstance(ds, ShardedDataset) else self.melody
        self._cache: OrderedDict[int, dict] = OrderedDict()
        self._cache_shards = max(1, cache_shards)
        # Encodings (float32, ~40x the events) are kept when every shard stays in the cache
        # (as a dataset in memory always did) or a melody is cut into pieces that come back
        # within the window; whole melodies streamed are encoded once per epoch anyway.
        if keep_encoded is None:
            keep_encoded = bool(chunk_steps) or self.num_shards <= self._cache_shards
        self._keep_encoded = keep_encoded
        self.shards_read = 0

    def __len__(self) -> int:
        return len(self.melody)

    @property
    def lengths(self) -> np.ndarray:
        return self.length

    @property
    def num_steps(self) -> int:
        return int(self.length.sum())

    @property
    def num_melodies(self) -> int:
        return len(self._rows)

    def _shard(self, k: int) -> dict:
        if k in self._cache:
            self._cache.move_to_end(k)
            return self._cache[k]
        if isinstance(self.ds, ShardedDataset):
            in_shard = np.flatnonzero(self.ds.shard == k)  # dataset rows of shard k
            melodies = self.ds.melodies_of_shard(k)
            mine = np.flatnonzero(self.melody_shard == k)
            where = np.searchsorted(in_shard, self._rows[mine])
            events = {int(m): melodies[w] for m, w in zip(mine, where)}
        else:
            ds = self.ds
            events = {
                m: ds.events[ds.offsets[r] : ds.offsets[r + 1]] for m, r in enumerate(self._rows)
            }
        self.shards_read += 1
        self._cache[k] = {"events": events, "encoded": {}}
        while len(self._cache) > self._cache_shards:
            self._cache.popitem(last=False)
        return self._cache[k]

    def _encoded(self, m: int):
        entry = self._shard(int(self.melody_shard[m]))
        if m in entry["encoded"]:
            return entry["encoded"][m]
        encoded = encode_melody(self.encoder, entry["events"][m], self.no_event)
        if self._keep_encoded:
            entry["encoded"][m] = encoded
        return encoded

    def rows(self, index) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        out = []
        for i in index:
            x, y, e = self._encoded(int(self.melody[i]))
            s, n = int(self.start[i]), int(self.length[i])
            out.append((x[s : s + n], y[s : s + n], e[s : s + n]))
        return out

    def melodies(self) -> list[np.ndarray]:
        """Every melody of the split (read shard by shard)."""
        return [
            self._shard(int(self.melody_shard[m]))["events"][m] for m in range(self.num_melodies)
        ]


@torch.no_grad()
def evaluate_model(model, data, default_label: int, batch_size: int = 64) -> dict:
    """Magenta's metrics of ``model`` on encoded melodies (teacher forced); ``data`` is
    :class:`EncodedMelodies` or :class:`Pieces`."""
    from melodyrnn.models.metrics import step_metrics

    was_training = model.training
    model.eval()
    device = next(iter(model.parameters()), torch.zeros(0)).device
    lls, preds, labels, events = [], [], [], []
    order = np.argsort(data.lengths)
    for start in range(0, len(order), batch_size):
        rows = data.rows(order[start : start + batch_size])
        x, y, mask = pad(rows, rows[0][0].shape[1])
        events.extend(e for _, _, e in rows)
        logits, _ = model(x.to(device))
        logp = torch.log_softmax(logits.float(), dim=-1).cpu()
        safe_y = y.clamp_min(0)
        ll = logp.gather(-1, safe_y.unsqueeze(-1)).squeeze(-1)
        lls.append(ll[mask].numpy())
        preds.append(logp.argmax(-1)[mask].numpy())
        labels.append(y[mask].numpy())
    model.train(was_training)
    # Rows come back in batch order, each row's valid steps in time order: same as `events`.
    return step_metrics(
        np.concatenate(lls),
        np.concatenate(preds),
        np.concatenate(labels),
        default_label,
        event_mask=np.concatenate(events),
    )
