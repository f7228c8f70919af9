"""Our checkpoint format: a folder with ``config.json`` and ``model.safetensors``.

``config.json``::

    {"format": "melodyrnn-checkpoint", "format_version": 1,
     "config": {...ModelConfig.to_dict()...},
     "metadata": {...training metadata: steps, losses, dataset, ...}}

``model.safetensors`` holds the :class:`EventRNN` parameters under their state-dict names
(TF layout, see :mod:`melodyrnn.models.rnn`), float32.

Saving is atomic (everything is written to a temporary sibling folder that is then renamed),
and loading never unpickles anything: weights are read with safetensors only. Loading trusts
nothing, and checks before it allocates: both files must lie inside the folder (symlinks
included, :func:`melodyrnn.models.folder.inside_folder`); ``config.json`` is read with a size
and a depth cap and checked against :data:`CHECKPOINT_SCHEMA` (the ``config`` part is
:data:`~melodyrnn.models.configs.MODEL_CONFIG_SCHEMA`) and the model's parameter count against
``max_parameters``; the weights file's real size against ``max_checkpoint_bytes``; and the
safetensors header's tensor names, dtypes and shapes against the config before any tensor or
model is made. Every problem raises :class:`CheckpointError` naming the file and what is wrong
(:class:`~melodyrnn.errors.CheckpointLimitError`, a CheckpointError, where a cap is hit).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from melodyrnn.errors import CheckpointError, CheckpointLimitError, ConfigError, LimitError
from melodyrnn.files import atomic_folder
from melodyrnn.models.configs import MODEL_CONFIG_SCHEMA, ModelConfig
from melodyrnn.models.folder import inside_folder, parse_json, read_file, read_json
from melodyrnn.models.rnn import EventRNN
from melodyrnn.models.schema import Anything, Arr, Int, Obj, Opt, Str

__all__ = [
    "CHECKPOINT_SCHEMA",
    "CONFIG_FILE",
    "FORMAT",
    "WEIGHTS_FILE",
    "load_checkpoint",
    "save_checkpoint",
]

FORMAT = "melodyrnn-checkpoint"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
_TOP_LEVEL_KEYS = {"format", "format_version", "config", "metadata"}
CHECKPOINT_SCHEMA = Obj(
    {
        "format": Str(),
        "format_version": Int(),
        "config": MODEL_CONFIG_SCHEMA,
        "metadata": Opt(Obj(extra=Anything())),
    },
    extra=Anything(),  # unknown keys get their own message
)
_HEADER_SCHEMA = Obj(  # a safetensors header
    {"__metadata__": Opt(Obj(extra=Str()))},
    extra=Obj(
        {"dtype": Str(), "shape": Arr(Int(0), 0, 8), "data_offsets": Arr(Int(0), 2, 2)},
        required=("dtype", "shape", "data_offsets"),
    ),
)
_FLOAT_DTYPES = {"F16", "BF16", "F32", "F64"}


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
    config_path = inside_folder(path, CONFIG_FILE, "config")
    if not config_path.exists():
        raise CheckpointError(f"{path} is not a checkpoint: {CONFIG_FILE} is missing")
    data = read_json(config_path, CHECKPOINT_SCHEMA)
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
        config = ModelConfig.from_dict(data["config"])  # checks max_parameters too
    except LimitError as exc:
        raise CheckpointLimitError(f"{config_path}: {exc}") from None
    except ConfigError as exc:
        raise CheckpointError(f"{config_path}: {exc}") from None
    return config, data.get("metadata") or {}


def _check_header(weights_path: Path, data: bytes, config: ModelConfig) -> None:
    """The safetensors header of ``data`` names exactly the config's tensors, as floats of the
    config's shapes, within the file: checked before any tensor is made."""
    size = int.from_bytes(data[:8], "little") if len(data) >= 8 else -1
    if not 0 < size <= len(data) - 8:
        raise CheckpointError(f"{weights_path} is corrupt (no safetensors header)")
    try:
        header = parse_json(data[8 : 8 + size], "its header", _HEADER_SCHEMA)
    except CheckpointLimitError as exc:
        raise CheckpointLimitError(f"{weights_path}: {exc}") from None
    except CheckpointError as exc:
        raise CheckpointError(f"{weights_path} is corrupt ({exc})") from None
    header.pop("__metadata__", None)
    expected = config.parameter_shapes()
    missing = sorted(set(expected) - set(header))
    if missing:
        raise CheckpointError(f"{weights_path} lacks the tensors {missing}")
    unexpected = sorted(set(header) - set(expected))
    if unexpected:
        raise CheckpointError(f"{weights_path} has tensors the config does not use: {unexpected}")
    for name, shape in expected.items():  # the model's order: the first mismatch is the lowest
        entry = header[name]
        if tuple(entry["shape"]) != shape:
            raise CheckpointError(
                f"{weights_path}: tensor {name} has shape {list(entry['shape'])} but config "
                f"{config.name!r} needs {list(shape)}"
            )
        if entry["dtype"] not in _FLOAT_DTYPES:
            raise CheckpointError(f"{weights_path}: tensor {name} is {entry['dtype']}, not float")
        if entry["data_offsets"][1] > len(data) - 8 - size:
            raise CheckpointError(f"{weights_path} is corrupt (tensor {name} lies past its end)")


def load_checkpoint(path: str | Path) -> tuple[EventRNN, ModelConfig, dict[str, Any]]:
    """Load a checkpoint folder: ``(model in eval mode, config, metadata)``.

    Only safetensors is read (no pickle). Raises :class:`CheckpointError` for a missing folder,
    a missing/corrupt ``config.json`` or ``model.safetensors``, a file outside the folder, a
    config that breaks :data:`CHECKPOINT_SCHEMA`, and missing, unexpected or wrongly shaped
    tensors; :class:`~melodyrnn.errors.CheckpointLimitError` over ``max_parameters``,
    ``max_checkpoint_bytes``, ``max_file_bytes`` or ``max_json_depth``.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"checkpoint folder {path} does not exist")
    config, metadata = _read_config(path)
    weights_path = inside_folder(path, WEIGHTS_FILE, "weights file")
    if not weights_path.exists():
        raise CheckpointError(f"{path} is not a checkpoint: {WEIGHTS_FILE} is missing")
    data = read_file(weights_path, "max_checkpoint_bytes")
    _check_header(weights_path, data, config)
    try:
        tensors = load(data)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{weights_path} is corrupt ({exc})") from None
    del data
    try:
        model = EventRNN.from_config(config)
    except ConfigError as exc:
        raise CheckpointError(f"{path / CONFIG_FILE}: {exc}") from None
    model.load_state_dict({name: value.float() for name, value in tensors.items()})
    model.eval()
    return model, config, metadata
