"""Magenta's TensorFlow variables -> an :class:`~melodyrnn.models.rnn.EventRNN` and its config.

A Magenta events-RNN graph (basic/mono/lookback/attention melody RNNs, drum_kit, improv)
stores the same variables under three generations of TensorFlow names; :func:`canonical_name`
brings each to the names magenta.js uses (:func:`melodyrnn.models.magenta_js.tf_variable_names`):

* TF >= 1.1: ``rnn/multi_rnn_cell/cell_k/basic_lstm_cell/{kernel,bias}``,
  ``fully_connected/{weights,biases}``, and with attention around the whole stack
  ``rnn/attention_cell_wrapper/{kernel, bias, attention/{attn_w, attn_v, kernel, bias},
  attn_output_projection/{kernel, bias}}`` (magenta.js spells the last scope
  ``attention_output_projection``) and the cells under ``rnn/attention_cell_wrapper/``;
* TF 1.0: the same scopes with ``weights``/``biases`` for ``kernel``/``bias`` (the renames
  TensorFlow's own ``checkpoint_convert`` tool makes);
* TF 0.x: ``RNN/MultiRNNCell/Cell{k}/BasicLSTMCell/Linear/{Matrix,Bias}`` and CamelCase
  attention scopes (``AttentionCellWrapper``, ``Attention/AttnW``, ``AttnOutputProjection``,
  each linear layer in its own ``Linear`` scope). The LSTM names are those of
  ``checkpoint_convert``; the attention ones follow the same pattern (inferred).

Attention comes in two layouts (:mod:`melodyrnn.models.attention`), told apart by the names:
around the whole stack (``rnn/attention_cell_wrapper/...``: Magenta before May 2017, the
published bundles) or, Magenta's layout since then, around the first LSTM layer only: the same
wrapper leaves under ``rnn/multi_rnn_cell/cell_0/attention_cell_wrapper/``, cell 0 under its
``basic_lstm_cell/``, the other cells under ``rnn/multi_rnn_cell/cell_k/basic_lstm_cell/``
(:func:`first_layer_variable_names`). That one loads as ``attn_wraps="first"``. A checkpoint
with both layouts, or with a wrapper around another layer, is refused.

Everything else in a checkpoint (``global_step``, Adam's slots ``.../Adam``, ``beta1_power``)
is ignored. Layer sizes come from the LSTM biases, the attention size from ``attn_v``, input
width and classes from the first kernel and the logits bias; the config (event encoding,
attention length) from the generator id, or, without one, from the input width and classes
(:data:`SHAPE_CONFIGS`).

cuDNN LSTMs (``use_cudnn``), whose weights are one opaque buffer, are refused with a message
that says why.
"""

from __future__ import annotations

import math
import re

import torch

from melodyrnn.errors import CheckpointError, CheckpointLimitError, ConfigError
from melodyrnn.limits import check_limit
from melodyrnn.models.configs import ModelConfig, parameter_shapes
from melodyrnn.models.magenta_js import lstm_layer_sizes, tf_variable_names
from melodyrnn.models.rnn import EventRNN
from melodyrnn.models.tf_checkpoint import TFCheckpoint

__all__ = [
    "SHAPE_CONFIGS",
    "canonical_name",
    "canonical_names",
    "first_layer_variable_names",
    "network_from_checkpoint",
]

_ATTN = "rnn/attention_cell_wrapper/"
_FIRST = "rnn/multi_rnn_cell/cell_0/attention_cell_wrapper/"
_PLAIN_CELL_0 = "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/"
_WRAPPED_CELL = re.compile(r"rnn/multi_rnn_cell/cell_(\d+)/attention_cell_wrapper/")
_SCOPES = {
    "RNN": "rnn",
    "MultiRNNCell": "multi_rnn_cell",
    "BasicLSTMCell": "basic_lstm_cell",
    "AttentionCellWrapper": "attention_cell_wrapper",
    "Attention": "attention",
    "AttnW": "attn_w",
    "AttnV": "attn_v",
    "AttnOutputProjection": "attention_output_projection",
    "attn_output_projection": "attention_output_projection",
}
_LEAVES = {"Matrix": "kernel", "Bias": "bias", "weights": "kernel", "biases": "bias"}
_CELL = re.compile(r"Cell(\d+)$")

# (input width, classes) -> the Magenta config of that encoding (Magenta's default note range).
SHAPE_CONFIGS = {
    (38, 38): "basic_rnn",
    (130, 130): "mono_rnn",
    (121, 40): "lookback_rnn",
    (74, 40): "attention_rnn",
    (518, 512): "drum_kit",
    (2, 2): "one_drum",
    (75, 38): "chord_pitches_improv",
    (87, 38): "basic_improv",
    (123, 40): "attention_improv",
}


def canonical_name(name: str) -> str:
    """``name`` as magenta.js spells it (see the module docstring); other names unchanged."""
    parts = name.split("/")
    if not parts or parts[0] not in ("rnn", "RNN"):
        return name
    out = []
    for part in parts:
        cell = _CELL.fullmatch(part)
        if cell:
            out.append(f"cell_{cell.group(1)}")
        elif part == "Linear":
            continue  # TF 0.x put every linear layer in a "Linear" scope
        else:
            out.append(_SCOPES.get(part, part))
    if out[-1] in _LEAVES:
        out[-1] = _LEAVES[out[-1]]
    return "/".join(out)


def canonical_names(checkpoint: TFCheckpoint) -> dict[str, str]:
    """Canonical name -> stored name of every variable of ``checkpoint``; CheckpointError if two
    stored names mean the same variable."""
    out: dict[str, str] = {}
    for stored in checkpoint.tensors:
        name = canonical_name(stored)
        if name in out:
            raise CheckpointError(
                f"{checkpoint.where} holds both {out[name]} and {stored}, the same variable "
                "under two TensorFlow naming schemes"
            )
        out[name] = stored
    return out


def first_layer_variable_names(num_layers: int) -> dict[str, str]:
    """Our parameter name -> canonical TF name (see the module docstring) in Magenta's
    first-layer attention layout, in the model's parameter order."""
    plain = tf_variable_names(num_layers, attention=False)
    stack = tf_variable_names(num_layers, attention=True)
    names = {}
    for ours, theirs in plain.items():
        if ours.startswith("logits."):
            break
        names[ours] = theirs.replace(_PLAIN_CELL_0, _FIRST + "basic_lstm_cell/")
    for ours, theirs in stack.items():
        if ours.startswith("attention."):
            names[ours] = _FIRST + theirs[len(_ATTN) :]
    names["logits.weights"] = plain["logits.weights"]
    names["logits.biases"] = plain["logits.biases"]
    return names


def _attention_layout(where: str, names: dict[str, str]) -> str | None:
    """``"stack"``, ``"first"`` or None (no attention) from the variable names; CheckpointError
    for a cuDNN LSTM and for attention layouts Magenta never made."""
    wrapped = set()
    for name in names:
        match = _WRAPPED_CELL.match(name)
        if match:
            wrapped.add(int(match.group(1)))
        if "cudnn" in name.lower():
            raise CheckpointError(
                f"{where} holds a cuDNN LSTM ({names[name]}); melodyrnn reads Magenta's "
                "BasicLSTMCell checkpoints only"
            )
    stack = any(name.startswith(_ATTN) for name in names)
    if wrapped - {0}:
        raise CheckpointError(
            f"{where} has an attention wrapper around LSTM layer {max(wrapped)}; Magenta wraps "
            "the whole stack or the first layer only, and so does melodyrnn"
        )
    if wrapped and stack:
        raise CheckpointError(
            f"{where} holds attention variables of two layouts (around the whole stack and "
            "around the first LSTM layer); a Magenta model has one"
        )
    if wrapped and any(name.startswith(_PLAIN_CELL_0) for name in names):
        raise CheckpointError(
            f"{where} holds LSTM layer 0 both inside and outside its attention wrapper"
        )
    if wrapped:
        return "first"
    return "stack" if (_ATTN + "kernel") in names else None


def network_from_checkpoint(
    checkpoint: TFCheckpoint, config_for, source: str, description: str = ""
) -> tuple[EventRNN, ModelConfig]:
    """The EventRNN in ``checkpoint`` and its config.

    ``config_for(input_size, num_classes)`` returns the base :class:`ModelConfig` (event
    encoding, attention length, training hyperparameters) or raises CheckpointError; the
    architecture comes from the variables. ``source`` names the model in errors,
    ``description`` (if given) replaces the config's. Every shape
    and the parameter count (``max_parameters``) are checked before a weight is read.
    """
    where = checkpoint.where
    names = canonical_names(checkpoint)
    layout = _attention_layout(where, names)
    shapes = {name: checkpoint.tensors[stored].shape for name, stored in names.items()}
    attention = layout is not None
    wrapper = _FIRST if layout == "first" else _ATTN
    cells = dict(shapes)
    if layout == "first":  # layer 0 where the plain layout has it, for counting the layers
        for part in ("kernel", "bias"):
            if _FIRST + "basic_lstm_cell/" + part in shapes:
                cells[_PLAIN_CELL_0 + part] = shapes[_FIRST + "basic_lstm_cell/" + part]
    layer_sizes = lstm_layer_sizes(cells, _ATTN if layout == "stack" else "rnn/", what=where)
    kernel = cells[
        (_ATTN if layout == "stack" else "rnn/") + "multi_rnn_cell/cell_0/basic_lstm_cell/kernel"
    ]
    if len(kernel) != 2 or kernel[0] <= layer_sizes[0]:
        raise CheckpointError(
            f"{where}: the first LSTM kernel has shape {list(kernel)}, which fits no LSTM of "
            f"{layer_sizes[0]} units"
        )
    input_size = kernel[0] - layer_sizes[0]
    logits_bias = shapes.get("fully_connected/biases")
    if logits_bias is None or len(logits_bias) != 1 or not logits_bias[0]:
        raise CheckpointError(f"{where} lacks the tensor fully_connected/biases (or it is not 1-D)")
    num_classes = logits_bias[0]
    base = config_for(input_size, num_classes)

    attn_length, attn_size = 0, None
    if attention:
        attn_length = base.attn_length or 0
        if not attn_length:
            raise CheckpointError(
                f"{where} has attention but its config {base.name} has no attention length"
            )
        attn_v = shapes.get(wrapper + "attention/attn_v", ())
        if len(attn_v) != 1 or not attn_v[0]:
            raise CheckpointError(f"{where}: attention/attn_v is missing or not 1-D")
        attn_size = attn_v[0]
    expected = parameter_shapes(
        input_size, layer_sizes, num_classes, attn_length, None, attn_size, layout or "stack"
    )
    check_limit(
        "max_parameters",
        sum(math.prod(shape) for shape in expected.values()),
        f"the model in {where}",
        error=CheckpointLimitError,
    )
    if layout == "first":
        mapping = first_layer_variable_names(len(layer_sizes))
    else:
        mapping = tf_variable_names(len(layer_sizes), attention)
    for ours, theirs in mapping.items():  # every shape checked before a weight is read
        if theirs not in names:
            raise CheckpointError(f"{where} lacks the variable {theirs} (or an older name of it)")
        shape = shapes[theirs]
        if ours == "attention.attn_w" and len(shape) == 4 and shape[:2] == (1, 1):
            shape = shape[2:]
        if shape != expected[ours]:
            raise CheckpointError(
                f"{where}: variable {names[theirs]} has shape {list(shapes[theirs])} but a model "
                f"with input width {input_size}, layers {layer_sizes} and {num_classes} classes "
                f"needs {list(expected[ours])}"
            )
    try:
        config = base.replace(
            layer_sizes=layer_sizes,
            attn_length=attn_length,
            attn_output_layer=None,
            attn_size=attn_size,
            attn_query_bias=attention,
            attn_wraps=layout or "stack",
            description=description or base.description,
        )
    except ConfigError as exc:
        raise CheckpointError(f"{source}: {exc}") from None
    tensors = checkpoint.read([names[theirs] for theirs in mapping.values()])
    network = EventRNN.from_config(config)
    params = dict(network.named_parameters())
    with torch.no_grad():
        for ours, theirs in mapping.items():
            value = tensors[names[theirs]].reshape(expected[ours])
            params[ours].copy_(torch.from_numpy(value))
    network.eval()
    return network, config
