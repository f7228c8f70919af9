"""Models: what a network is, how it is stored, and which one a name means.

* ``configs``: Magenta's named configs (:data:`CONFIGS`) as plain data, checked on creation;
* ``rnn``: :class:`EventRNN`, the LSTM (TF ``BasicLSTMCell`` semantics, TF's attention around
  the whole stack as magenta.js has it, or around the first layer as Magenta since 2017 has it),
  built from ``layers`` (the cell, the linear layer) and ``attention`` (the wrapper);
* ``folder``: reading a model folder's files without trusting them (paths inside the folder,
  size and depth caps, pickle-free ``.npz``), used by every loader; ``schema``: the small
  checker of their JSON;
* ``checkpoint``: our safetensors checkpoint folders; ``magenta_js``: magenta.js checkpoints,
  whose TF.js weights ``tfjs_weights`` reads;
* ``ngram``: the Kneser-Ney n-gram, ``ngram_files`` its file; ``ngram_net``: it as a network,
  with its folder format;
* ``families``: event families (melody, drums, chord-conditioned melody) with no torch;
* ``registry``: the one place that turns a model name or folder into a network and config;
* ``mag_bundle``: Magenta's ``.mag`` bundles and TF checkpoints (issue 13), read by ``tf_table``,
  ``tf_checkpoint`` and ``tf_variables`` (with ``protowire`` and ``crc32c``); ``describe``: the
  summary ``melodyrnn inspect-model`` prints;
* ``metrics``: the likelihood metrics shared by training and evaluation.

The names below load lazily, so ``import melodyrnn.models.configs`` or ``.families`` stays free of
torch.
"""

from importlib import import_module

_LAZY = {
    "CONFIGS": "configs",
    "ModelConfig": "configs",
    "get_config": "configs",
    "EventRNN": "rnn",
    "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "MagentaJsSpec": "magenta_js",
    "load_magenta_js_checkpoint": "magenta_js",
    "magenta_js_to_config": "magenta_js",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'melodyrnn.models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
