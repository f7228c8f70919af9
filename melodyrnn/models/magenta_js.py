"""Load magenta.js ``MusicRNN`` checkpoints (TF.js weights) into an :class:`EventRNN`.

A magenta.js checkpoint folder holds ``config.json`` (the MusicRNN spec),
``weights_manifest.json`` and binary shard files, read by :mod:`melodyrnn.models.tfjs_weights`.
Tensors are looked up by name, never by position.

Nothing is trusted: ``config.json`` is checked against :data:`JS_CONFIG_SCHEMA` (types and
ranges, e.g. ``numBits`` 0..30, ``attentionLength`` 0..1024), the manifest and the shards'
real sizes as :mod:`~melodyrnn.models.tfjs_weights` says, and every tensor shape against the
model the config and the biases describe (:func:`~melodyrnn.models.configs.parameter_shapes`)
and its parameter count against ``max_parameters``, all before any shard is read or any
weight is allocated.

Layers are discovered like magenta.js does: ``cell_0``, ``cell_1``, ... until a kernel is
missing; the model has attention iff ``rnn/attention_cell_wrapper/kernel`` exists, and then
uses magenta.js's layout (output projection fed by layer 2, no ``attention/bias`` in the query).

The spec is also turned into one of our encoder specs (see ``melodyrnn.encoding.specs``):

* ``MelodyConverter {minPitch, maxPitch}`` -> ``one_hot_melody`` with ``max_note = maxPitch + 1``;
* ``DrumsOneHotConverter`` (+ ``BinaryCounter(numBits)`` aux input) -> ``drums`` with
  ``pitch_classes = "magenta_js"``;
* ``chordEncoder`` (``PitchChordEncoder``, ``MajorMinorChordEncoder``, ``TriadChordEncoder``)
  -> a ``conditional`` spec whose control rows come first, one step ahead (``pitch_chords``
  with ``slash_bass: false``: magenta.js's PitchChordEncoder always uses the root as bass).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from melodyrnn.errors import CheckpointError, CheckpointLimitError
from melodyrnn.limits import check_limit
from melodyrnn.models.configs import CONFIGS, MAX_ATTENTION_LENGTH, ModelConfig, parameter_shapes
from melodyrnn.models.folder import inside_folder, read_json
from melodyrnn.models.rnn import EventRNN
from melodyrnn.models.schema import Anything, Arr, Either, Int, Obj, Opt, Str, first_problem
from melodyrnn.models.tfjs_weights import read_manifest, read_tfjs_weights

__all__ = [
    "JS_CONFIG_SCHEMA",
    "MagentaJsSpec",
    "encoder_spec_from_js_config",
    "load_magenta_js_checkpoint",
    "lstm_layer_sizes",
    "magenta_js_to_config",
    "tf_variable_names",
]

_CELL = "multi_rnn_cell/cell_{k}/basic_lstm_cell/{part}"
_ATTN = "rnn/attention_cell_wrapper/"
_CHORD_ENCODERS = {
    "PitchChordEncoder": ("pitch_chords", 37),
    "MajorMinorChordEncoder": ("major_minor_chords", 25),
    "TriadChordEncoder": ("triad_chords", 49),
}
_JS_ATTENTION_OUTPUT_LAYER = 2  # magenta.js hard-codes h of layer index 2

_ARGS = Obj(
    {"minPitch": Int(0, 127), "maxPitch": Int(0, 127), "numBits": Int(0, 30)},
    extra=Anything(),
)
_AUX_INPUT = Obj({"type": Str(), "args": Opt(_ARGS)}, required=("type",), extra=Anything())
JS_CONFIG_SCHEMA = Obj(
    {
        "type": Str(),
        "dataConverter": Obj({"type": Str(), "args": Opt(_ARGS)}, extra=Anything()),
        "auxInputs": Opt(Arr(Either((Str(), _AUX_INPUT), "a name or {type, args}"), 0, 16)),
        "chordEncoder": Opt(Str()),
        "attentionLength": Opt(Int(0, MAX_ATTENTION_LENGTH)),
    },
    extra=Anything(),
)


@dataclass
class MagentaJsSpec:
    """What a magenta.js checkpoint's ``config.json`` says, translated to our terms.

    Attributes:
        name: the checkpoint folder name.
        js_config: ``config.json`` as read.
        encoder: our encoder spec dict (for ``melodyrnn.encoding.specs.make_encoder``).
        input_size: X, the width of one input row (controls + one-hot + aux).
        num_classes: D, the number of output classes.
        control_size: width of the chord rows (0 without a chord encoder).
        aux_bits: BinaryCounter bits (0 without aux inputs).
        attention_length: ``attentionLength`` (0 without attention).
        layer_sizes: LSTM sizes found in the weights.
    """

    name: str
    js_config: dict[str, Any]
    encoder: dict[str, Any]
    input_size: int
    num_classes: int
    control_size: int = 0
    aux_bits: int = 0
    attention_length: int = 0
    layer_sizes: list[int] = field(default_factory=list)


def _read_config(folder: Path) -> dict[str, Any]:
    path = inside_folder(folder, "config.json", "config")
    if not path.exists():
        raise CheckpointError(f"{folder} is not a magenta.js checkpoint: config.json is missing")
    return read_json(path, JS_CONFIG_SCHEMA, hint="; re-download the checkpoint")


def encoder_spec_from_js_config(js_config: dict[str, Any]) -> tuple[dict[str, Any], int, int, int]:
    """``(encoder_spec, input_size, num_classes, aux_bits)`` of a magenta.js MusicRNN spec.

    Raises :class:`CheckpointError` for converters, chord encoders or aux inputs that have no
    equivalent here.
    """
    problem = first_problem(js_config, JS_CONFIG_SCHEMA)
    if problem:
        raise CheckpointError(f"magenta.js config.json: {problem[0]} {problem[1]}")
    if js_config.get("type", "MusicRNN") != "MusicRNN":
        raise CheckpointError(
            f"magenta.js model type {js_config.get('type')!r} is not supported; only MusicRNN is"
        )
    converter = js_config.get("dataConverter")
    if not isinstance(converter, dict) or "type" not in converter:
        raise CheckpointError("magenta.js config.json has no dataConverter {type, args}")
    kind = converter["type"]
    args = converter.get("args") or {}

    aux_bits = 0
    for aux in js_config.get("auxInputs") or []:
        aux_type = aux.get("type") if isinstance(aux, dict) else aux
        if aux_type != "BinaryCounter":
            raise CheckpointError(
                f"magenta.js aux input {aux_type!r} is not supported (only BinaryCounter)"
            )
        args = aux.get("args") if isinstance(aux, dict) else None
        aux_bits += int((args or {}).get("numBits", 0))

    if kind == "MelodyConverter":
        try:
            min_pitch, max_pitch = int(args["minPitch"]), int(args["maxPitch"])
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(
                "MelodyConverter needs integer args minPitch and maxPitch"
            ) from None
        if not 0 <= min_pitch <= max_pitch <= 127:
            raise CheckpointError(f"MelodyConverter range {min_pitch}..{max_pitch} is not MIDI")
        if aux_bits:
            raise CheckpointError(
                "BinaryCounter aux inputs with MelodyConverter have no encoder here; "
                "only DrumsOneHotConverter supports them"
            )
        target = {"type": "one_hot_melody", "min_note": min_pitch, "max_note": max_pitch + 1}
        num_classes = max_pitch - min_pitch + 3
    elif kind == "DrumsOneHotConverter":
        if args.get("pitchClasses") is not None:
            raise CheckpointError(
                "DrumsOneHotConverter with custom pitchClasses is not supported; "
                "only magenta.js's default drum classes are"
            )
        target = {"type": "drums", "binary_counter_bits": aux_bits, "pitch_classes": "magenta_js"}
        num_classes = 512
    else:
        raise CheckpointError(
            f"magenta.js data converter {kind!r} is not supported; "
            "supported: MelodyConverter, DrumsOneHotConverter"
        )
    input_size = num_classes + aux_bits

    chord_encoder = js_config.get("chordEncoder")
    if chord_encoder is None:
        return target, input_size, num_classes, aux_bits
    if chord_encoder not in _CHORD_ENCODERS:
        raise CheckpointError(
            f"magenta.js chord encoder {chord_encoder!r} is not supported; "
            f"supported: {', '.join(_CHORD_ENCODERS)}"
        )
    control_type, control_size = _CHORD_ENCODERS[chord_encoder]
    control: dict[str, Any] = {"type": control_type}
    if control_type == "pitch_chords":
        control["slash_bass"] = False  # magenta.js always uses the root as the bass
    spec = {"type": "conditional", "control": control, "target": target}
    return spec, input_size + control_size, num_classes, aux_bits


def _shape(shapes: dict[str, tuple[int, ...]], name: str) -> tuple[int, ...]:
    if name not in shapes:
        raise CheckpointError(f"magenta.js checkpoint lacks the tensor {name}")
    return shapes[name]


def tf_variable_names(num_layers: int, attention: bool) -> dict[str, str]:
    """Our parameter name -> magenta.js tensor name (TF's names of the whole-stack attention
    layout, but ``attention_output_projection`` for TF's ``attn_output_projection``; also used
    by :mod:`melodyrnn.models.tf_variables` for Magenta's own checkpoints)."""
    prefix = _ATTN if attention else "rnn/"
    names = {}
    for k in range(num_layers):
        for part in ("kernel", "bias"):
            names[f"cells.{k}.{part}"] = prefix + _CELL.format(k=k, part=part)
    if attention:
        names.update(
            {
                "attention.input_kernel": _ATTN + "kernel",
                "attention.input_bias": _ATTN + "bias",
                "attention.attn_w": _ATTN + "attention/attn_w",
                "attention.attn_v": _ATTN + "attention/attn_v",
                "attention.query_kernel": _ATTN + "attention/kernel",
                "attention.query_bias": _ATTN + "attention/bias",
                "attention.output_kernel": _ATTN + "attention_output_projection/kernel",
                "attention.output_bias": _ATTN + "attention_output_projection/bias",
            }
        )
    names["logits.weights"] = "fully_connected/weights"
    names["logits.biases"] = "fully_connected/biases"
    return names


def lstm_layer_sizes(
    shapes: dict[str, tuple[int, ...]], prefix: str, what: str = "magenta.js checkpoint"
) -> list[int]:
    """LSTM sizes from the biases ``cell_0``, ``cell_1``, ... until a kernel is missing
    (``prefix``: ``rnn/`` or the attention wrapper's; ``what`` names the source in errors)."""
    layer_sizes: list[int] = []
    while (prefix + _CELL.format(k=len(layer_sizes), part="kernel")) in shapes:
        name = prefix + _CELL.format(k=len(layer_sizes), part="bias")
        bias = _shape(shapes, name)
        if len(bias) != 1 or bias[0] % 4 or not bias[0]:
            raise CheckpointError(
                f"tensor {name} has shape {list(bias)}; an LSTM bias must be [4 * units]"
            )
        layer_sizes.append(bias[0] // 4)
    if not layer_sizes:
        raise CheckpointError(
            f"{what} lacks the tensor {prefix + _CELL.format(k=0, part='kernel')}"
        )
    return layer_sizes


def load_magenta_js_checkpoint(folder: str | Path) -> tuple[EventRNN, MagentaJsSpec]:
    """Load a magenta.js MusicRNN checkpoint folder: ``(model in eval mode, spec)``.

    Raises :class:`CheckpointError` naming the problem for a missing folder or file, a config
    that breaks :data:`JS_CONFIG_SCHEMA`, an unsupported converter, a shard path that leaves the
    folder, a missing tensor, a shape mismatch or missing/truncated shards;
    :class:`~melodyrnn.errors.CheckpointLimitError` (a CheckpointError) over a cap.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"magenta.js checkpoint folder {folder} does not exist")
    js_config = _read_config(folder)
    encoder, input_size, num_classes, aux_bits = encoder_spec_from_js_config(js_config)
    manifest = read_manifest(folder)
    shapes = manifest.shapes

    attention = (_ATTN + "kernel") in shapes
    layer_sizes = lstm_layer_sizes(shapes, _ATTN if attention else "rnn/")
    attn_length = 0
    attn_size = None
    if attention:
        attn_length = int(js_config.get("attentionLength") or 0)
        if attn_length < 1:
            raise CheckpointError(
                "the weights have attention but config.json has no attentionLength"
            )
        if len(layer_sizes) <= _JS_ATTENTION_OUTPUT_LAYER:
            raise CheckpointError(
                f"magenta.js attention needs at least 3 LSTM layers, found {len(layer_sizes)}"
            )
        attn_v = _shape(shapes, _ATTN + "attention/attn_v")
        if len(attn_v) != 1 or not attn_v[0]:
            raise CheckpointError(
                f"tensor {_ATTN}attention/attn_v has shape {list(attn_v)}; it must be [size]"
            )
        attn_size = attn_v[0]

    fc_bias = _shape(shapes, "fully_connected/biases")
    if fc_bias != (num_classes,):
        raise CheckpointError(
            f"tensor fully_connected/biases has shape {list(fc_bias)} but the "
            f"{js_config['dataConverter']['type']} needs [{num_classes}]"
        )
    attn_output_layer = _JS_ATTENTION_OUTPUT_LAYER if attention else None
    expected = parameter_shapes(
        input_size, layer_sizes, num_classes, attn_length, attn_output_layer, attn_size
    )
    names = tf_variable_names(len(layer_sizes), attention)
    for ours, theirs in names.items():  # every shape checked before anything is allocated
        shape = _shape(shapes, theirs)
        want = expected[ours]
        if ours == "attention.attn_w" and len(shape) == 4 and shape[:2] == (1, 1):
            shape = shape[2:]
        if shape != want:
            want = [1, 1, *want] if ours == "attention.attn_w" else list(want)
            raise CheckpointError(
                f"tensor {theirs} has shape {list(_shape(shapes, theirs))} but the model needs "
                f"{want} (input width {input_size} from config.json, layers {layer_sizes})"
            )
    check_limit(
        "max_parameters",
        sum(math.prod(shape) for shape in expected.values()),
        f"the magenta.js model {folder}",
        error=CheckpointLimitError,
    )
    tensors = read_tfjs_weights(folder, manifest)
    model = EventRNN(
        input_size=input_size,
        layer_sizes=layer_sizes,
        num_classes=num_classes,
        attn_length=attn_length,
        attn_output_layer=attn_output_layer,
        attn_size=attn_size,
        attn_query_bias=False,
    )
    params = dict(model.named_parameters())
    with torch.no_grad():
        for ours, theirs in names.items():
            value = tensors[theirs].reshape(expected[ours])
            params[ours].copy_(torch.from_numpy(value))
    model.eval()
    spec = MagentaJsSpec(
        name=folder.resolve().name,
        js_config=js_config,
        encoder=encoder,
        input_size=input_size,
        num_classes=num_classes,
        control_size=input_size - num_classes - aux_bits,
        aux_bits=aux_bits,
        attention_length=attn_length,
        layer_sizes=layer_sizes,
    )
    return model, spec


def _matching_registry_config(encoder: dict[str, Any]) -> ModelConfig | None:
    """The Magenta config a converted checkpoint most likely came from (for training hparams)."""
    target = encoder.get("target", encoder)
    if encoder.get("type") == "conditional":
        return CONFIGS["chord_pitches_improv"]
    if target.get("type") == "drums":
        return CONFIGS["drum_kit_rnn"]
    if target.get("type") == "one_hot_melody":
        if (target["min_note"], target["max_note"]) == (0, 128):
            return CONFIGS["mono_rnn"]
        return CONFIGS["basic_rnn"]
    return None


def magenta_js_to_config(spec: MagentaJsSpec, model: EventRNN) -> ModelConfig:
    """A :class:`ModelConfig` for a loaded magenta.js model, so it can be saved in our format.

    Architecture fields come from the model; training hyperparameters (keep prob, clip norm,
    learning rate, batch size) from the Magenta config the checkpoint was converted from.
    """
    base = _matching_registry_config(spec.encoder)
    hparams: dict[str, Any] = {}
    if base is not None:
        hparams = {
            "dropout_keep_prob": base.dropout_keep_prob,
            "clip_norm": base.clip_norm,
            "learning_rate": base.learning_rate,
            "batch_size": base.batch_size,
            "steps_per_quarter": base.steps_per_quarter,
        }
    target = spec.encoder.get("target", spec.encoder)
    return ModelConfig(
        name=spec.name,
        encoder=json.loads(json.dumps(spec.encoder)),
        input_size=model.input_size,
        num_classes=model.num_classes,
        layer_sizes=list(model.layer_sizes),
        attn_length=model.attn_length,
        attn_output_layer=model.attn_output_layer,
        attn_size=model.attn_size,
        attn_query_bias=model.attn_query_bias,
        min_note=target.get("min_note"),
        max_note=target.get("max_note"),
        transpose_to_key=None,
        description=f"converted from the magenta.js checkpoint {spec.name}",
        **hparams,
    )
