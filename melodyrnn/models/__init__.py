"""Models: config registry, the event RNN, our checkpoint format and magenta.js loading."""

from melodyrnn.models.checkpoint import load_checkpoint, save_checkpoint
from melodyrnn.models.configs import CONFIGS, ModelConfig, get_config
from melodyrnn.models.magenta_js import (
    MagentaJsSpec,
    load_magenta_js_checkpoint,
    magenta_js_to_config,
)
from melodyrnn.models.rnn import EventRNN

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
