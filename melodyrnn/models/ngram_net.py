"""The n-gram baseline as a network: :class:`NGramNet`, its :class:`MarkovConfig` and its files.

The n-gram (:class:`~melodyrnn.models.ngram.NGramModel`) is trained on basic_rnn's one-hot melody
labels (38 classes: NO_EVENT, NOTE_OFF, pitches 48..83 after squashing into C major), the tokens
the LSTM sees. :class:`NGramNet` wraps it in :class:`~melodyrnn.models.rnn.EventRNN`'s protocol
(``forward``, ``stepper``, ``reorder_state``, ``input_size``, ``num_classes``, ``device``,
``dtype``): its "logits" are the log of the n-gram's next-token distribution and its "state" is
the last ``order - 1`` tokens. So an n-gram model is the melody event family plus this network,
one :class:`~melodyrnn.generation.music_rnn.MusicRNN` like any LSTM: generation runs through
:func:`melodyrnn.generation.sampler.generate` (argmax, seeded sampling, top-k/top-p, masks,
Magenta's beam search: the same seed gives the same choices as it would for an LSTM with the same
distributions), primers are read and continuations decoded by the same family code.

A saved n-gram model is a folder: ``config.json`` (format, the :class:`MarkovConfig`, metadata
such as the order-selection table) and ``ngram.npz`` (:meth:`NGramModel.save`). Loading reads
both through :mod:`melodyrnn.models.folder` (inside the folder, size and depth caps,
:data:`NGRAM_FOLDER_SCHEMA`; the arrays without pickles).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from melodyrnn.constants import DEFAULT_STEPS_PER_QUARTER
from melodyrnn.errors import CheckpointError, ConfigError, MelodyRNNError
from melodyrnn.files import atomic_folder
from melodyrnn.models.checkpoint import CONFIG_FILE
from melodyrnn.models.folder import inside_folder, read_json
from melodyrnn.models.ngram import NGramModel
from melodyrnn.models.schema import Anything, Int, Obj, Opt, Str, first_problem

FORMAT = "melodyrnn-markov"
FORMAT_VERSION = 1
NGRAM_FILE = "ngram.npz"
MARKOV_CONFIG_SCHEMA = Obj(
    {
        "order": Int(1),
        "min_note": Int(0, 127),
        "max_note": Int(1, 128),
        "transpose_to_key": Opt(Int(0, 11)),
        "steps_per_quarter": Int(1),
        "name": Str(),
        "encoder": Obj(
            {"type": Str(), "min_note": Int(0, 127), "max_note": Int(1, 128)}, extra=Anything()
        ),
    },
    required=("order",),
)
NGRAM_FOLDER_SCHEMA = Obj(
    {
        "format": Str(),
        "format_version": Int(),
        "config": Opt(MARKOV_CONFIG_SCHEMA),
        "metadata": Opt(Obj(extra=Anything())),
    },
    extra=Anything(),
)


@dataclass
class MarkovConfig:
    """What an n-gram model is: its order, range and key, and its (one-hot melody) encoder."""

    order: int
    min_note: int = 48
    max_note: int = 84  # exclusive
    transpose_to_key: int | None = 0
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER
    name: str = "markov"
    encoder: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        problem = first_problem(asdict(self), MARKOV_CONFIG_SCHEMA, root="")
        if problem:
            raise ConfigError(f"invalid n-gram model config: {problem[0]} {problem[1]}")
        if self.min_note >= self.max_note:
            raise ConfigError("the n-gram config needs min_note < max_note")
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
        problem = first_problem(data, MARKOV_CONFIG_SCHEMA, root="")
        if problem:
            raise ConfigError(f"invalid n-gram model config: {problem[0]} {problem[1]}")
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
        if not ngram.fitted:
            raise ConfigError("the n-gram model is not fitted; train it first")
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

    @property
    def order(self) -> int:
        return self.ngram.order

    def __repr__(self) -> str:
        return f"NGramNet(order={self.order}, classes={self.num_classes})"


def check_network_config(net: NGramNet, config: MarkovConfig) -> None:
    """ConfigError unless the network and its config agree on order and classes."""
    if config.order != net.order or config.num_classes != net.num_classes:
        raise ConfigError(
            f"the n-gram model (order {net.order}, {net.num_classes} classes) does not "
            f"match its config (order {config.order}, {config.num_classes} classes)"
        )


def save_ngram_model(
    net: NGramNet,
    config: MarkovConfig,
    path: str | os.PathLike,
    metadata: dict | None = None,
    force: bool = False,
) -> Path:
    """Write a folder with ``config.json`` and ``ngram.npz``, atomically (via a temporary
    sibling folder). Refuses to replace an existing ``path`` unless ``force``."""
    path = Path(path)
    if path.exists() and not force:
        raise CheckpointError(
            f"{path} already exists; pass {{force}} to overwrite it",
            parameters=("force",),
        )
    if path.exists() and not path.is_dir():
        raise CheckpointError(f"{path} exists and is not a folder")
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": config.to_dict(),
        "metadata": dict(metadata or {}),
    }
    try:
        text = json.dumps(payload, indent=2, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"the model's metadata is not JSON-able: {exc}") from None
    try:
        with atomic_folder(path) as tmp:
            (tmp / CONFIG_FILE).write_text(text + "\n", encoding="utf-8")
            net.ngram.save(tmp / NGRAM_FILE)
    except OSError as exc:
        raise CheckpointError(f"cannot write n-gram model {path}: {exc}") from None
    return path


def is_ngram_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` holds an n-gram model (its config.json names this format)."""
    try:
        data = read_json(inside_folder(path, CONFIG_FILE, "config"), Anything())
    except MelodyRNNError:
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT


def load_ngram_model(path: str | os.PathLike) -> tuple[NGramNet, MarkovConfig, dict]:
    """Read a folder written by :func:`save_ngram_model`: (network, config, metadata);
    :class:`CheckpointError` for anything else."""
    path = Path(path)
    if not path.is_dir():
        what = "is a file, not" if path.exists() else "does not exist; expected"
        raise CheckpointError(f"n-gram model {path} {what} a folder written by save_ngram_model")
    config_path = inside_folder(path, CONFIG_FILE, "config")
    if not config_path.exists():
        raise CheckpointError(f"{path} is not an n-gram model: {CONFIG_FILE} is missing")
    data = read_json(config_path, Anything())  # the format first, for its own message
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
    problem = first_problem(data, NGRAM_FOLDER_SCHEMA)
    if problem:
        raise CheckpointError(f"{config_path}: {problem[0]} {problem[1]}")
    try:
        config = MarkovConfig.from_dict(data.get("config") or {})
    except (ConfigError, KeyError) as exc:
        raise CheckpointError(f"{config_path}: {exc}") from None
    ngram = NGramModel.load(inside_folder(path, NGRAM_FILE, "n-gram file"))
    try:
        net = NGramNet(ngram)
        check_network_config(net, config)
    except ConfigError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    return net, config, data.get("metadata") or {}
