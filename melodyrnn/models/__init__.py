"""Models: what a network is, how it is stored, and which one a name means.

* ``configs``: Magenta's named configs (:data:`CONFIGS`) as plain data;
* ``rnn``: :class:`EventRNN`, the LSTM (TF ``BasicLSTMCell`` semantics, magenta.js attention);
* ``checkpoint``: our safetensors checkpoint folders; ``magenta_js``: magenta.js checkpoints;
* ``ngram``: the Kneser-Ney n-gram; ``ngram_net``: it as a network, with its folder format;
* ``families``: event families (melody, drums, chord-conditioned melody) with no torch;
* ``registry``: the one place that turns a model name or folder into a network and config;
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
