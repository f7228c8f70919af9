"""Models: config registry, the event RNN, our checkpoint format and magenta.js loading."""

from .checkpoint import load_checkpoint, save_checkpoint
from .configs import CONFIGS, ModelConfig, get_config
from .magenta_js import MagentaJsSpec, load_magenta_js_checkpoint, magenta_js_to_config
from .rnn import EventRNN

__all__ = [
    "CONFIGS",
    "EventRNN",
    "MagentaJsSpec",
    "ModelConfig",
    "get_config",
    "load_checkpoint",
    "load_magenta_js_checkpoint",
    "magenta_js_to_config",
    "save_checkpoint",
]
