"""The one place that turns a model's name or folder into a network and its config.

A model argument (``--model`` on the command line, ``model=`` in the API) is one of:

* None: the shipped default, :data:`DEFAULT_MODEL`;
* a shipped model's name (:func:`pretrained_models`, folders under ``melodyrnn/pretrained``);
* a folder in our checkpoint format (:mod:`melodyrnn.models.checkpoint`), an n-gram folder
  (:mod:`melodyrnn.models.ngram_net`) or a magenta.js MusicRNN checkpoint folder
  (``weights_manifest.json``, :mod:`melodyrnn.models.magenta_js`);
* ``markov:PATH``, the older spelling of an n-gram folder;
* Magenta's own models (issue 13, :mod:`melodyrnn.models.mag_bundle`): a ``.mag`` generator
  bundle, a TensorFlow checkpoint (``model.ckpt-N`` prefix or its ``.index``, a V1 file) or a
  folder with TensorFlow's ``checkpoint`` file (a ``melody_rnn_train`` run folder).

:func:`load_network` reads any of them into ``(network, config, metadata)``, where the network
speaks :class:`~melodyrnn.models.rnn.EventRNN`'s protocol; :func:`save_network` writes one back
in its own format. The named *configs* for training a new model are
:data:`melodyrnn.models.configs.CONFIGS`.
"""

from __future__ import annotations

import os
from pathlib import Path

from melodyrnn.errors import CheckpointError
from melodyrnn.models.checkpoint import load_checkpoint, save_checkpoint
from melodyrnn.models.ngram_net import (
    NGramNet,
    is_ngram_folder,
    load_ngram_model,
    save_ngram_model,
)

__all__ = [
    "DEFAULT_MODEL",
    "PRETRAINED_DIR",
    "load_network",
    "pretrained_models",
    "resolve_model_path",
    "save_network",
]

PRETRAINED_DIR = Path(__file__).parents[1] / "pretrained"
DEFAULT_MODEL = "folk_rnn"
MARKOV_PREFIX = "markov:"


def pretrained_models() -> list[str]:
    """Names of the models shipped inside the package."""
    if not PRETRAINED_DIR.is_dir():
        return []
    return sorted(p.name for p in PRETRAINED_DIR.iterdir() if (p / "config.json").is_file())


def resolve_model_path(name_or_path: str | os.PathLike | None) -> Path:
    """The folder of a shipped model's name or of a checkpoint folder (None: the default)."""
    if name_or_path is None:
        name_or_path = DEFAULT_MODEL
    if not str(name_or_path).strip():
        raise CheckpointError(
            "{model} is empty; give a shipped model's name or a checkpoint folder "
            "(or leave it out for the default)",
            parameters=("model",),
        )
    path = Path(name_or_path)
    if path.is_dir():
        return path
    if str(name_or_path) in pretrained_models():
        return PRETRAINED_DIR / str(name_or_path)
    if path.exists():
        raise CheckpointError(f"{path}: not a checkpoint folder (it is a file)")
    known = ", ".join(pretrained_models()) or "none"
    raise CheckpointError(
        f"unknown model {str(name_or_path)!r}: not a shipped model ({known}) and no such folder"
    )


def load_network(name_or_path: str | os.PathLike | None = None):
    """``(network, config, metadata)`` of any model argument (see the module docstring)."""
    text = "" if name_or_path is None else os.fspath(name_or_path)
    if text.startswith(MARKOV_PREFIX):
        return load_ngram_model(text[len(MARKOV_PREFIX) :])
    # issue 13: Magenta .mag bundles and TensorFlow checkpoints
    from melodyrnn.models.mag_bundle import is_magenta_model, load_magenta_model

    if text.strip() and is_magenta_model(text):
        return load_magenta_model(text)
    path = resolve_model_path(name_or_path)
    if (path / "weights_manifest.json").is_file():
        from melodyrnn.models.magenta_js import load_magenta_js_checkpoint, magenta_js_to_config

        network, spec = load_magenta_js_checkpoint(path)
        config = magenta_js_to_config(spec, network)
        return network, config, {"converted_from": "magenta.js", "source": str(path)}
    if is_ngram_folder(path):
        return load_ngram_model(path)
    return load_checkpoint(path)


def save_network(
    network, config, path: str | os.PathLike, metadata: dict | None = None, force: bool = False
) -> Path:
    """Write a network in its own format (an n-gram folder or our checkpoint), atomically."""
    if isinstance(network, NGramNet):
        return save_ngram_model(network, config, path, metadata=metadata, force=force)
    return save_checkpoint(network, config, path, metadata=metadata, force=force)
