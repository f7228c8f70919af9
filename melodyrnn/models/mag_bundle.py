"""Magenta's models without TensorFlow: ``.mag`` generator bundles and TF training checkpoints.

A ``.mag`` file (``basic_rnn.mag``, ``attention_rnn.mag``, ``drum_kit_rnn.mag``,
``one_drum.mag``, ...) is a ``GeneratorBundle`` protocol buffer (package ``magenta``), decoded
here by hand (:mod:`melodyrnn.models.protowire`):

* ``generator_details`` (1): ``id`` (1), the config it was built with, and ``description`` (2);
* ``checkpoint_file`` (2, repeated bytes): exactly one, a V1 TensorFlow checkpoint
  (:func:`melodyrnn.models.tf_checkpoint.open_v1_checkpoint`);
* ``metagraph_file`` (3): the TF graph, not needed (and never executed);
* ``bundle_details`` (4): ``description`` (1).

:func:`load_magenta_model` loads a bundle, or a checkpoint of someone's own Magenta training
run (a V2 ``model.ckpt-N`` prefix, its run folder, or a V1 file), into an
:class:`~melodyrnn.models.rnn.EventRNN` and a :class:`~melodyrnn.models.configs.ModelConfig`:
the generator id picks the config (:data:`GENERATOR_CONFIGS`; a training checkpoint has no id,
so its input width and classes do), the variables the architecture
(:mod:`melodyrnn.models.tf_variables`). The registry (:mod:`melodyrnn.models.registry`) sends
every model argument that :func:`is_magenta_model` accepts here, so ``--model x.mag`` works
wherever a model does, and ``melodyrnn convert x.mag DST`` writes our format.

A bundle is data: nothing in it is executed or unpickled, the file is read within
``max_checkpoint_bytes``, and every length is checked before it is used; any problem is one
:class:`~melodyrnn.errors.CheckpointError` line naming the file (and the generator id, for a
model melodyrnn does not have).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from melodyrnn.errors import CheckpointError
from melodyrnn.models.configs import CONFIGS, ModelConfig
from melodyrnn.models.folder import read_file
from melodyrnn.models.protowire import LENGTH, WireError, message
from melodyrnn.models.tf_checkpoint import (
    is_tf_checkpoint_path,
    open_tf_checkpoint,
    open_v1_checkpoint,
)
from melodyrnn.models.tf_variables import SHAPE_CONFIGS, network_from_checkpoint

__all__ = [
    "GENERATOR_CONFIGS",
    "MagBundle",
    "config_for_generator",
    "is_magenta_model",
    "load_magenta_model",
    "read_bundle",
]

_MELODY = {"min_note": 48, "max_note": 84}
_IMPROV = {"dropout_keep_prob": 0.5, "batch_size": 128, "transpose_to_key": None}

# Generator id -> config. Magenta's improv configs not in CONFIGS are defined here.
GENERATOR_CONFIGS: dict[str, ModelConfig] = {
    "basic_rnn": CONFIGS["basic_rnn"],
    "mono_rnn": CONFIGS["mono_rnn"],
    "lookback_rnn": CONFIGS["lookback_rnn"],
    "attention_rnn": CONFIGS["attention_rnn"],
    "drum_kit": CONFIGS["drum_kit_rnn"],
    "drum_kit_rnn": CONFIGS["drum_kit_rnn"],
    "one_drum": CONFIGS["one_drum_rnn"],
    "chord_pitches_improv": CONFIGS["chord_pitches_improv"],
    "basic_improv": ModelConfig(
        name="basic_improv",
        encoder={
            "type": "conditional",
            "control": {"type": "triad_chords"},
            "target": {"type": "one_hot_melody", **_MELODY},
        },
        layer_sizes=[64, 64],
        clip_norm=5.0,
        description="Improv RNN: a one-hot melody given one-hot triad chords.",
        **_IMPROV,
    ),
    "attention_improv": ModelConfig(
        name="attention_improv",
        encoder={
            "type": "conditional",
            "control": {"type": "triad_chords"},
            "target": {"type": "key_melody", **_MELODY},
        },
        layer_sizes=[128, 128, 128],
        attn_length=40,
        clip_norm=3.0,
        description="Improv RNN: a key-encoded melody given triad chords, with attention.",
        **_IMPROV,
    ),
}
_BUNDLE = {
    1: ("generator_details", LENGTH, False),
    2: ("checkpoint_file", LENGTH, True),
    3: ("metagraph_file", LENGTH, False),
    4: ("bundle_details", LENGTH, False),
}
_DETAILS = {1: ("id", LENGTH, False), 2: ("description", LENGTH, False)}
_BUNDLE_DETAILS = {1: ("description", LENGTH, False)}


@dataclass
class MagBundle:
    """What a ``.mag`` file holds: its generator id and descriptions, and the V1 checkpoint's
    bytes (a view of the file's)."""

    path: Path
    generator_id: str
    description: str
    bundle_description: str
    checkpoint: memoryview
    metagraph_bytes: int


def _text(raw, path: Path, what: str) -> str:
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise CheckpointError(f"{path}: the bundle's {what} is not UTF-8 text") from None


def read_bundle(path: str | os.PathLike, max_bytes=None) -> MagBundle:
    """Parse the ``.mag`` file ``path`` (within ``max_checkpoint_bytes``, or ``max_bytes``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no Magenta bundle {path} (no such file)")
    data = read_file(os.path.realpath(path), "max_checkpoint_bytes", max_bytes)  # a symlink is fine
    try:
        bundle = message(data, _BUNDLE)
        details = message(bundle.get("generator_details", b""), _DETAILS)
        bundle_details = message(bundle.get("bundle_details", b""), _BUNDLE_DETAILS)
    except WireError as exc:
        raise CheckpointError(
            f"{path} is not a Magenta generator bundle (.mag): {exc}; re-download it"
        ) from None
    generator_id = _text(details.get("id", b""), path, "generator id")
    checkpoints = bundle.get("checkpoint_file", [])
    if not generator_id or len(checkpoints) != 1:
        found = f"{len(checkpoints)} checkpoint files" if generator_id else "no generator id"
        raise CheckpointError(
            f"{path} is not a Magenta generator bundle (.mag): it has {found} "
            "(a bundle has a generator id and one checkpoint)"
        )
    return MagBundle(
        path=path,
        generator_id=generator_id,
        description=_text(details.get("description", b""), path, "description"),
        bundle_description=_text(bundle_details.get("description", b""), path, "description"),
        checkpoint=checkpoints[0],
        metagraph_bytes=len(bundle.get("metagraph_file", b"")),
    )


def _supported() -> str:
    return ", ".join(sorted(set(GENERATOR_CONFIGS) - {"drum_kit_rnn"}))


def config_for_generator(generator_id: str, where: str) -> ModelConfig:
    """The config of a generator id; CheckpointError naming an id melodyrnn has no model for."""
    if generator_id in GENERATOR_CONFIGS:
        return GENERATOR_CONFIGS[generator_id]
    raise CheckpointError(
        f"{where} holds a {generator_id!r} model, which melodyrnn cannot run "
        "(melodyrnn has no such model); "
        f"supported generator ids: {_supported()}"
    )


def _check_shapes(config: ModelConfig, where: str, input_size: int, num_classes: int) -> None:
    if (config.input_size, config.num_classes) != (input_size, num_classes):
        raise CheckpointError(
            f"{where}: its {config.name} model takes inputs of width {input_size} and predicts "
            f"{num_classes} classes, but {config.name} with Magenta's default note range has "
            f"{config.input_size} and {config.num_classes} (trained with other hparams?)"
        )


def is_magenta_model(name_or_path: str | os.PathLike | None) -> bool:
    """Whether a model argument is a ``.mag`` file or a TensorFlow checkpoint (by its name, and
    for a file the table magic number); folders in our or magenta.js's format are not."""
    if name_or_path is None:
        return False
    path = Path(name_or_path)
    if path.suffix.lower() == ".mag":
        return True
    if path.is_dir() and any(
        (path / marker).exists() for marker in ("config.json", "weights_manifest.json")
    ):
        return False
    return is_tf_checkpoint_path(path)


def load_magenta_model(name_or_path: str | os.PathLike) -> tuple[Any, ModelConfig, dict]:
    """``(network, config, metadata)`` of a ``.mag`` bundle or a Magenta TF checkpoint."""
    path = Path(name_or_path)
    if path.suffix.lower() == ".mag":
        bundle = read_bundle(path)
        where = f"{path} (its checkpoint)"
        checkpoint = open_v1_checkpoint(bundle.checkpoint, where)
        base = config_for_generator(bundle.generator_id, str(path))

        def config_for(input_size: int, num_classes: int) -> ModelConfig:
            _check_shapes(base, str(path), input_size, num_classes)
            return base

        network, config = network_from_checkpoint(
            checkpoint, config_for, str(path), description=bundle.description
        )
        metadata = {
            "converted_from": "magenta bundle",
            "source": str(path),
            "generator_id": bundle.generator_id,
            "generator_description": bundle.description,
            "bundle_description": bundle.bundle_description,
        }
        return network, config, metadata

    checkpoint = open_tf_checkpoint(path)
    found: list[str] = []

    def config_from_shapes(input_size: int, num_classes: int) -> ModelConfig:
        generator_id = SHAPE_CONFIGS.get((input_size, num_classes))
        found.append(generator_id)
        if generator_id is None:
            known = ", ".join(f"{k} {x}->{c}" for (x, c), k in SHAPE_CONFIGS.items())
            raise CheckpointError(
                f"{checkpoint.where}: no Magenta config takes inputs of width {input_size} and "
                f"predicts {num_classes} classes (known: {known})"
            )
        return GENERATOR_CONFIGS[generator_id]

    network, config = network_from_checkpoint(checkpoint, config_from_shapes, str(path))
    metadata = {
        "converted_from": f"tensorflow checkpoint V{checkpoint.version}",
        "source": str(path),
        "checkpoint": checkpoint.where,
        "generator_id": found[0],
    }
    return network, config, metadata
