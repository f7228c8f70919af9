"""What a model is, in a few lines: ``melodyrnn inspect-model`` (issue 13) and the API.

:func:`describe_model` loads any model argument the registry accepts (a shipped name, our
checkpoint folder, a magenta.js folder, an n-gram folder, a Magenta ``.mag`` bundle or TF
checkpoint, see :mod:`melodyrnn.models.registry`) and returns a JSON-able summary: the generator
id and description of a Magenta model, the config, encoder, input width, classes, layer sizes,
attention length and layout (``stack`` or ``first``, :mod:`melodyrnn.models.attention`) and
parameter count. :func:`format_model_summary` prints it as aligned lines.
"""

from __future__ import annotations

import json
import os
from typing import Any

from melodyrnn.models.registry import load_network

__all__ = ["describe_model", "format_model_summary"]


def describe_model(name_or_path: str | os.PathLike | None) -> dict[str, Any]:
    """The summary of a model argument (keys with nothing to say are None)."""
    network, config, metadata = load_network(name_or_path)
    description = metadata.get("generator_description") or getattr(config, "description", "")
    return {
        "model": None if name_or_path is None else os.fspath(name_or_path),
        "generator_id": metadata.get("generator_id"),
        "description": description or None,
        "config": config.name,
        "encoder": config.encoder,
        "input_size": getattr(network, "input_size", None),
        "num_classes": getattr(network, "num_classes", None),
        "layer_sizes": list(getattr(config, "layer_sizes", [])) or None,
        "attention_length": getattr(config, "attn_length", None),
        "attention_wraps": getattr(config, "attn_wraps", None)
        if getattr(config, "attn_length", 0)
        else None,
        "ngram_order": getattr(config, "order", None),
        "parameters": sum(p.numel() for p in network.parameters()),
        "source": metadata.get("converted_from"),
    }


def format_model_summary(summary: dict[str, Any]) -> str:
    """``key: value`` lines of a :func:`describe_model` summary, None values left out."""
    lines = []
    for key, value in summary.items():
        if value is None:
            continue
        if key == "parameters":
            value = f"{value:,}"
        elif isinstance(value, dict | list):
            value = json.dumps(value)
        lines.append(f"{key.replace('_', ' ') + ':':<18}{value}")
    return "\n".join(lines)
