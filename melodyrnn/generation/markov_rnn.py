"""``MarkovMelodyModel``: the n-gram baseline behind the same face as :class:`MusicRNN`.

The n-gram (:class:`~melodyrnn.models.ngram.NGramModel`) is trained on basic_rnn's one-hot melody
labels (38 classes: NO_EVENT, NOTE_OFF, pitches 48..83 after squashing into C major), the tokens
the LSTM sees, so ``melodyrnn continue --model markov:PATH`` and ``melodyrnn evaluate`` can put
the two side by side.

How the face is shared without copying code: the n-gram is wrapped as a tiny network,
:class:`NGramNet`, that speaks :class:`~melodyrnn.models.rnn.EventRNN`'s protocol (``forward``,
``stepper``, ``reorder_state``, ``input_size``, ``num_classes``, ``device``, ``dtype``): its
"logits" are the log of the n-gram's next-token distribution and its "state" is the last
``order - 1`` tokens. Everything above the network is then :class:`MusicRNN`'s own code, taken
over method by method: generation runs through
:func:`melodyrnn.generation.sampler.generate` (argmax,
seeded sampling, top-k/top-p, masks, Magenta's beam search: the same seed gives the same
choices as it would for an LSTM with the same distributions), chords are refused by
``MusicRNN._control_rows`` and primers are read exactly as for the LSTM.

A saved model is a folder: ``config.json`` (format, the :class:`MarkovConfig`, metadata such as
the order-selection table) and ``ngram.npz`` (:meth:`NGramModel.save`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from melodyrnn.encoding.specs import make_encoder
from melodyrnn.errors import CheckpointError, ConfigError, DatasetError
from melodyrnn.files import atomic_folder
from melodyrnn.generation.music_rnn import MusicRNN
from melodyrnn.models.ngram import NGramModel, select_order

FORMAT = "melodyrnn-markov"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
NGRAM_FILE = "ngram.npz"


@dataclass
class MarkovConfig:
    """What the n-gram model is, in the fields :class:`MusicRNN`'s code reads from a config."""

    order: int
    min_note: int = 48
    max_note: int = 84  # exclusive
    transpose_to_key: int | None = 0
    steps_per_quarter: int = 4
    name: str = "markov"
    encoder: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.encoder:
            self.encoder = {
                "type": "one_hot_melody",
                "min_note": self.min_note,
                "max_note": self.max_note,
            }
        if self.encoder.get("type") != "one_hot_melody":
            raise ConfigError(
                f"the n-gram baseline works on one-hot melody labels, not {self.encoder!r}"
            )
        if (self.encoder["min_note"], self.encoder["max_note"]) != (self.min_note, self.max_note):
            raise ConfigError("the n-gram config's encoder range differs from its min/max_note")

    @property
    def num_classes(self) -> int:
        return self.max_note - self.min_note + 2

    @property
    def input_size(self) -> int:
        return self.num_classes

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> MarkovConfig:
        try:
            return cls(**data)
        except (TypeError, AttributeError, KeyError) as exc:
            raise ConfigError(f"invalid n-gram model config: {exc}") from None


class NGramNet(torch.nn.Module):
    """An :class:`NGramModel` seen as a network over one-hot inputs (see the module docstring).

    Input rows are one-hot class rows (an all-zero padding row reads as class 0; padded steps
    are never scored). The state is an int64 tensor [B, order - 1] of the latest tokens, oldest
    first, -1 where the sequence has not started yet.
    """

    def __init__(self, ngram: NGramModel):
        super().__init__()
        self.ngram = ngram
        self.input_size = ngram.num_classes
        self.num_classes = ngram.num_classes
        self.context = ngram.order - 1

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        return torch.float32

    def zero_state(self, batch_size: int) -> torch.Tensor:
        return torch.full((batch_size, self.context), -1, dtype=torch.long)

    @staticmethod
    def reorder_state(state: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return state.index_select(0, index.to(torch.long))

    def _log_dists(self, contexts: list[np.ndarray]) -> torch.Tensor:
        with np.errstate(divide="ignore"):
            return torch.from_numpy(np.log(self.ngram.prob_dists(contexts)).astype(np.float32))

    def forward(self, inputs: torch.Tensor, state: torch.Tensor | None = None):
        """``inputs`` [B, T, X] -> (log P(next | tokens so far) [B, T, C], last-tokens state)."""
        batch, steps, _ = inputs.shape
        if state is None:
            state = self.zero_state(batch)
        tokens = torch.cat([state, inputs.argmax(dim=-1).to(torch.long)], dim=1).numpy()
        contexts = []  # the last order - 1 tokens (fewer only at the start of a sequence)
        for row in tokens:
            row = row[row >= 0]
            ends = range(len(row) - steps + 1, len(row) + 1)
            contexts.extend(row[max(0, end - self.context) : end] for end in ends)
        log_p = self._log_dists(contexts).reshape(batch, steps, self.num_classes)
        new_state = torch.from_numpy(tokens[:, tokens.shape[1] - self.context :].copy())
        return log_p, new_state

    def step(self, x: torch.Tensor, state: torch.Tensor):
        """One step: ``x`` [B, X] -> (log P [B, C], new state)."""
        logits, new_state = self.forward(x[:, None, :], state)
        return logits[:, 0], new_state

    def stepper(self):
        return self.step


class MarkovMelodyModel(MusicRNN):
    """An n-gram melody model that continues, scores and saves like :class:`MusicRNN`."""

    def __init__(
        self, ngram: NGramModel, config: MarkovConfig | None = None, metadata: dict | None = None
    ):
        if not ngram.fitted:
            raise ConfigError("the n-gram model is not fitted; train it first")
        self.ngram = ngram
        self.config = config or MarkovConfig(order=ngram.order)
        if self.config.order != ngram.order or self.config.num_classes != ngram.num_classes:
            raise ConfigError(
                f"the n-gram model (order {ngram.order}, {ngram.num_classes} classes) does not "
                f"match its config (order {self.config.order}, {self.config.num_classes} classes)"
            )
        # Everything else is MusicRNN's own code: it reads only self.config (name,
        # num_classes, encoder, range), self.encoder and self.model, the EventRNN protocol
        # NGramNet speaks.
        super().__init__(NGramNet(ngram), self.config, metadata)

    @property
    def min_note(self) -> int:
        return self.config.min_note

    @property
    def max_note(self) -> int:
        return self.config.max_note

    @property
    def order(self) -> int:
        return self.ngram.order

    def __repr__(self) -> str:
        return (
            f"MarkovMelodyModel(order={self.order}, notes {self.min_note}..{self.max_note - 1}, "
            f"key {self.config.transpose_to_key})"
        )

    # -- training --------------------------------------------------------------------------

    def labels(self, melodies) -> list[np.ndarray]:
        """The one-hot class labels of every position of each melody (n-gram tokens)."""
        return [self.encoder.labels(np.asarray(m, dtype=np.int64)) for m in melodies]

    @classmethod
    def from_melodies(
        cls,
        melodies,
        order: int = 5,
        *,
        squash: bool = True,
        config: MarkovConfig | None = None,
        discount=None,
        modified: bool = True,
        metadata: dict | None = None,
    ) -> MarkovMelodyModel:
        """Fit an order-``order`` model on melody event arrays.

        With ``squash`` each melody is first squashed into the config's range and key (as the
        dataset and primer code do); give ``squash=False`` for melodies that already are.
        """
        config = config or MarkovConfig(order=order)
        if config.order != order:
            config = MarkovConfig(**{**config.to_dict(), "order": order})
        arrays = [np.asarray(m, dtype=np.int64) for m in melodies]
        if squash:
            arrays = [_squashed(m, config) for m in arrays]
        encoder = make_encoder(config.encoder)
        tokens = [encoder.labels(m) for m in arrays if len(m)]
        ngram = NGramModel(order, config.num_classes, discount=discount, modified=modified)
        return cls(ngram.fit(tokens), config, metadata)

    @classmethod
    def train(
        cls, dataset, orders=range(1, 12), *, discount=None, modified: bool = True
    ) -> tuple[MarkovMelodyModel, list[dict]]:
        """Fit on a dataset's train split, choosing the order on its eval split.

        ``dataset`` is a :class:`~melodyrnn.training.dataset.MelodyDataset` or a dataset folder.
        Returns the
        model (fitted on the train split at the best order) and :func:`select_order`'s table.
        """
        from melodyrnn.training.dataset import MelodyDataset, load_dataset

        ds = dataset if isinstance(dataset, MelodyDataset) else load_dataset(dataset)
        s = ds.settings
        config = MarkovConfig(
            order=1,
            min_note=s.min_note,
            max_note=s.max_note,
            transpose_to_key=s.transpose_to_key,
            steps_per_quarter=s.steps_per_quarter,
        )
        encoder = make_encoder(config.encoder)
        train = [encoder.labels(m.astype(np.int64)) for m in ds.melodies("train") if len(m)]
        evals = [encoder.labels(m.astype(np.int64)) for m in ds.melodies("eval") if len(m) > 1]
        orders = [int(k) for k in orders]
        if not train:
            raise DatasetError("the dataset has no training melodies to fit the n-gram on")
        if len(orders) > 1 and not evals:
            raise DatasetError(
                "the dataset has no eval melodies to choose the n-gram order on; rebuild it "
                "with --eval-fraction > 0 or give a single order"
            )
        if len(orders) > 1:
            best, table = select_order(
                train,
                evals,
                config.num_classes,
                orders,
                default_label=encoder.default_event_label,
                discount=discount,
                modified=modified,
            )
        else:
            best, table = orders[0], []
        config = MarkovConfig(**{**config.to_dict(), "order": best})
        ngram = NGramModel(best, config.num_classes, discount=discount, modified=modified)
        metadata = {
            "dataset": ds.info.get("source"),
            "train_melodies": len(train),
            "eval_melodies": len(evals),
            "order_selection": [{"order": row["order"], "loss": row["loss"]} for row in table],
        }
        return cls(ngram.fit(train), config, metadata), table

    # -- files -----------------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike) -> MarkovMelodyModel:
        """The same as :meth:`load` (a saved n-gram folder)."""
        return cls.load(path)

    @classmethod
    def from_magenta_js(cls, folder):
        raise CheckpointError("an n-gram model cannot be loaded from a magenta.js checkpoint")

    def save(self, path: str | os.PathLike, force: bool = False) -> Path:
        """Write a folder with ``config.json`` and ``ngram.npz``, atomically (via a temporary
        sibling folder). Refuses to replace an existing ``path`` unless ``force``."""
        path = Path(path)
        if path.exists() and not force:
            raise CheckpointError(f"{path} already exists; pass force=True to overwrite it")
        if path.exists() and not path.is_dir():
            raise CheckpointError(f"{path} exists and is not a folder")
        payload = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "config": self.config.to_dict(),
            "metadata": self.metadata,
        }
        try:
            text = json.dumps(payload, indent=2, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"the model's metadata is not JSON-able: {exc}") from None
        try:
            with atomic_folder(path) as tmp:
                (tmp / CONFIG_FILE).write_text(text + "\n", encoding="utf-8")
                self.ngram.save(tmp / NGRAM_FILE)
        except OSError as exc:
            raise CheckpointError(f"cannot write n-gram model {path}: {exc}") from None
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> MarkovMelodyModel:
        """Read a folder written by :meth:`save`; :class:`CheckpointError` for anything else."""
        path = Path(path)
        if not path.is_dir():
            what = "is a file, not" if path.exists() else "does not exist; expected"
            raise CheckpointError(
                f"n-gram model {path} {what} a folder from MarkovMelodyModel.save"
            )
        config_path = path / CONFIG_FILE
        if not config_path.is_file():
            raise CheckpointError(f"{path} is not an n-gram model: {CONFIG_FILE} is missing")
        try:
            data = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{config_path} is not valid JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise CheckpointError(
                f"{config_path} is not an n-gram model's config (format {FORMAT!r} expected); "
                "for an LSTM checkpoint leave out the markov: prefix"
            )
        if data.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(
                f"{config_path} has format_version {data.get('format_version')}; "
                f"this melodyrnn reads {FORMAT_VERSION}"
            )
        try:
            config = MarkovConfig.from_dict(data.get("config") or {})
        except (ConfigError, KeyError) as exc:
            raise CheckpointError(f"{config_path}: {exc}") from None
        ngram = NGramModel.load(path / NGRAM_FILE)
        try:
            return cls(ngram, config, data.get("metadata") or {})
        except ConfigError as exc:
            raise CheckpointError(f"{path}: {exc}") from None


def _squashed(events: np.ndarray, config: MarkovConfig) -> np.ndarray:
    from melodyrnn.events.melody import Melody

    melody = Melody.from_array(events)
    melody.squash(config.min_note, config.max_note, config.transpose_to_key)
    return melody.to_array()
