"""Our checkpoint format: a folder with ``config.json`` and ``model.safetensors``.

``config.json``::

    {"format": "melodyrnn-checkpoint", "format_version": 1,
     "config": {...ModelConfig.to_dict()...},
     "metadata": {...training metadata: steps, losses, dataset, ...}}

``model.safetensors`` holds the :class:`EventRNN` parameters under their state-dict names
(TF layout, see :mod:`melodyrnn.models.rnn`), float32.

Saving is atomic (everything is written to a temporary sibling folder that is then renamed),
and loading never unpickles anything: weights are read with safetensors only. Every problem
with a checkpoint raises :class:`CheckpointError` naming the file and what is wrong.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from melodyrnn.errors import CheckpointError, ConfigError
from melodyrnn.files import atomic_folder
from melodyrnn.models.configs import ModelConfig
from melodyrnn.models.rnn import EventRNN

__all__ = ["CONFIG_FILE", "FORMAT", "WEIGHTS_FILE", "load_checkpoint", "save_checkpoint"]

FORMAT = "melodyrnn-checkpoint"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
_TOP_LEVEL_KEYS = {"format", "format_version", "config", "metadata"}


def save_checkpoint(
    model: EventRNN,
    config: ModelConfig,
    path: str | Path,
    metadata: dict[str, Any] | None = None,
    force: bool = False,
) -> Path:
    """Write ``model`` + ``config`` (+ JSON-able ``metadata``) as a checkpoint folder at ``path``.

    Refuses to replace an existing ``path`` unless ``force``. Returns the folder path.
    """
    from safetensors.torch import save_file

    path = Path(path)
    if path.exists() and not force:
        raise CheckpointError(
            f"{path} already exists; pass {{force}} to overwrite it", parameters=("force",)
        )
    if path.exists() and not path.is_dir():
        raise CheckpointError(f"{path} exists and is not a folder")
    _check_model_matches_config(model, config)
    try:
        payload = json.dumps(
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "config": config.to_dict(),
                "metadata": metadata or {},
            },
            indent=2,
            allow_nan=False,
        )
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint metadata is not JSON-able: {exc}") from None
    tensors = {
        name: value.detach().to("cpu", torch.float32).contiguous().clone()
        for name, value in model.state_dict().items()
    }

    try:
        with atomic_folder(path) as tmp:
            (tmp / CONFIG_FILE).write_text(payload + "\n", encoding="utf-8")
            save_file(tensors, str(tmp / WEIGHTS_FILE), metadata={"format": "pt"})
    except OSError as exc:
        raise CheckpointError(f"cannot write checkpoint {path}: {exc}") from None
    return path


def _check_model_matches_config(model: EventRNN, config: ModelConfig) -> None:
    expected = EventRNN.from_config(config).state_dict()
    actual = model.state_dict()
    if set(expected) != set(actual) or any(
        expected[name].shape != actual[name].shape for name in expected
    ):
        raise CheckpointError(
            f"the model does not match config {config.name!r} (layer sizes, input size, "
            "classes or attention differ); save it with its own config"
        )


def _read_config(path: Path) -> tuple[ModelConfig, dict[str, Any]]:
    config_path = path / CONFIG_FILE
    if not config_path.is_file():
        raise CheckpointError(f"{path} is not a checkpoint: {CONFIG_FILE} is missing")
    try:
        data = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{config_path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or "config" not in data:
        raise CheckpointError(
            f"{config_path} has no 'config' object; is it a melodyrnn checkpoint?"
        )
    unknown = sorted(set(data) - _TOP_LEVEL_KEYS)
    if unknown:
        raise CheckpointError(f"{config_path} has unknown keys {unknown}")
    if data.get("format", FORMAT) != FORMAT:
        raise CheckpointError(f"{config_path} has format {data['format']!r}, expected {FORMAT!r}")
    version = data.get("format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{config_path} has format_version {version}; this melodyrnn reads {FORMAT_VERSION}"
        )
    try:
        config = ModelConfig.from_dict(data["config"])
    except ConfigError as exc:
        raise CheckpointError(f"{config_path}: {exc}") from None
    metadata = data.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise CheckpointError(f"{config_path}: 'metadata' must be a JSON object")
    return config, metadata


def load_checkpoint(path: str | Path) -> tuple[EventRNN, ModelConfig, dict[str, Any]]:
    """Load a checkpoint folder: ``(model in eval mode, config, metadata)``.

    Only safetensors is read (no pickle). Raises :class:`CheckpointError` for a missing folder,
    a missing/corrupt ``config.json`` or ``model.safetensors``, unknown config keys, and missing,
    unexpected or wrongly shaped tensors.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"checkpoint folder {path} does not exist")
    config, metadata = _read_config(path)
    weights_path = path / WEIGHTS_FILE
    if not weights_path.is_file():
        raise CheckpointError(f"{path} is not a checkpoint: {WEIGHTS_FILE} is missing")
    try:
        tensors = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{weights_path} is corrupt ({exc})") from None

    try:
        model = EventRNN.from_config(config)
    except ConfigError as exc:
        raise CheckpointError(f"{path / CONFIG_FILE}: {exc}") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    if missing:
        raise CheckpointError(f"{weights_path} lacks the tensors {missing}")
    unexpected = sorted(set(tensors) - set(expected))
    if unexpected:
        raise CheckpointError(f"{weights_path} has tensors the config does not use: {unexpected}")
    for name in expected:  # the model's order, so the first mismatch reported is the lowest
        value = tensors[name]
        if tuple(value.shape) != tuple(expected[name].shape):
            raise CheckpointError(
                f"{weights_path}: tensor {name} has shape {list(value.shape)} but config "
                f"{config.name!r} needs {list(expected[name].shape)}"
            )
        if not value.is_floating_point():
            raise CheckpointError(f"{weights_path}: tensor {name} is {value.dtype}, not float")
    model.load_state_dict({name: value.float() for name, value in tensors.items()})
    model.eval()
    return model, config, metadata
