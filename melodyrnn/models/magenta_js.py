"""Load magenta.js ``MusicRNN`` checkpoints (TF.js weights) into an :class:`EventRNN`.

A magenta.js checkpoint folder holds ``config.json`` (the MusicRNN spec),
``weights_manifest.json`` and binary shard files. For every weight group of the manifest, the
shard files listed in ``paths`` are concatenated in that order; they hold the group's tensors
back to back in ``weights`` order, each as little-endian float32 in row-major order with the
manifest ``shape`` (a tensor may straddle two shard files). Tensors are then looked up by
name, never by position.

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

import numpy as np
import torch

from melodyrnn.errors import CheckpointError
from melodyrnn.models.configs import CONFIGS, ModelConfig
from melodyrnn.models.rnn import EventRNN

__all__ = [
    "MagentaJsSpec",
    "encoder_spec_from_js_config",
    "load_magenta_js_checkpoint",
    "magenta_js_to_config",
    "read_tfjs_weights",
]

_CELL = "multi_rnn_cell/cell_{k}/basic_lstm_cell/{part}"
_ATTN = "rnn/attention_cell_wrapper/"
_CHORD_ENCODERS = {
    "PitchChordEncoder": ("pitch_chords", 37),
    "MajorMinorChordEncoder": ("major_minor_chords", 25),
    "TriadChordEncoder": ("triad_chords", 49),
}
_JS_ATTENTION_OUTPUT_LAYER = 2  # magenta.js hard-codes h of layer index 2


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


def _read_json(path: Path, what: str) -> Any:
    if not path.is_file():
        raise CheckpointError(f"{path.parent} is not a magenta.js checkpoint: {what} is missing")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(
            f"{path} is not valid JSON ({exc}); re-download the checkpoint"
        ) from None


def encoder_spec_from_js_config(js_config: dict[str, Any]) -> tuple[dict[str, Any], int, int, int]:
    """``(encoder_spec, input_size, num_classes, aux_bits)`` of a magenta.js MusicRNN spec.

    Raises :class:`CheckpointError` for converters, chord encoders or aux inputs that have no
    equivalent here.
    """
    if not isinstance(js_config, dict):
        raise CheckpointError("magenta.js config.json must be a JSON object")
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
        aux_bits += int((aux.get("args") or {}).get("numBits", 0))

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


def read_tfjs_weights(folder: str | Path) -> dict[str, np.ndarray]:
    """All tensors of a TF.js weights manifest as float32 arrays, by name."""
    folder = Path(folder)
    manifest = _read_json(folder / "weights_manifest.json", "weights_manifest.json")
    if not isinstance(manifest, list):
        raise CheckpointError(f"{folder}/weights_manifest.json must be a list of weight groups")
    tensors: dict[str, np.ndarray] = {}
    for group_index, group in enumerate(manifest):
        try:
            paths = [str(p) for p in group["paths"]]
            entries = list(group["weights"])
        except (KeyError, TypeError):
            raise CheckpointError(
                f"{folder}/weights_manifest.json group {group_index} lacks 'paths' or 'weights'"
            ) from None
        chunks = []
        for name in paths:
            shard = folder / name
            if not shard.is_file():
                raise CheckpointError(f"missing shard file {shard}; re-download the checkpoint")
            chunks.append(shard.read_bytes())
        data = b"".join(chunks)
        offset = 0
        for entry in entries:
            try:
                name = str(entry["name"])
                shape = [int(n) for n in entry["shape"]]
            except (KeyError, TypeError, ValueError):
                raise CheckpointError(
                    f"{folder}/weights_manifest.json has a weight entry without name/shape"
                ) from None
            dtype = entry.get("dtype", "float32")
            if dtype != "float32" or entry.get("quantization"):
                raise CheckpointError(
                    f"tensor {name} is {dtype}{' quantized' if entry.get('quantization') else ''}; "
                    "only unquantized float32 weights are supported"
                )
            count = math.prod(shape)
            end = offset + 4 * count
            if end > len(data):
                raise CheckpointError(
                    f"truncated shard data in {folder}: tensor {name} needs bytes {offset}..{end} "
                    f"but the shards of group {group_index} ({', '.join(paths)}) hold "
                    f"{len(data)} bytes"
                )
            values = np.frombuffer(data, dtype="<f4", count=count, offset=offset)
            tensors[name] = values.reshape(shape).astype(np.float32)
            offset = end
        if offset != len(data):
            raise CheckpointError(
                f"shards of group {group_index} in {folder} hold {len(data)} bytes but the "
                f"manifest describes {offset}; the checkpoint is corrupt"
            )
    return tensors


def _tensor(tensors: dict[str, np.ndarray], name: str) -> np.ndarray:
    if name not in tensors:
        raise CheckpointError(f"magenta.js checkpoint lacks the tensor {name}")
    return tensors[name]


def _js_names(model: EventRNN) -> dict[str, str]:
    """Our parameter name -> magenta.js tensor name."""
    prefix = _ATTN if model.attention is not None else "rnn/"
    names = {}
    for k in range(len(model.layer_sizes)):
        for part in ("kernel", "bias"):
            names[f"cells.{k}.{part}"] = prefix + _CELL.format(k=k, part=part)
    if model.attention is not None:
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


def load_magenta_js_checkpoint(folder: str | Path) -> tuple[EventRNN, MagentaJsSpec]:
    """Load a magenta.js MusicRNN checkpoint folder: ``(model in eval mode, spec)``.

    Raises :class:`CheckpointError` naming the problem for a missing folder or file, an
    unsupported converter, a missing tensor, a shape mismatch or missing/truncated shards.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"magenta.js checkpoint folder {folder} does not exist")
    js_config = _read_json(folder / "config.json", "config.json")
    encoder, input_size, num_classes, aux_bits = encoder_spec_from_js_config(js_config)
    tensors = read_tfjs_weights(folder)

    attention = (_ATTN + "kernel") in tensors
    prefix = _ATTN if attention else "rnn/"
    layer_sizes = []
    while (prefix + _CELL.format(k=len(layer_sizes), part="kernel")) in tensors:
        bias = _tensor(tensors, prefix + _CELL.format(k=len(layer_sizes), part="bias"))
        if bias.ndim != 1 or bias.shape[0] % 4:
            raise CheckpointError(
                f"tensor {prefix + _CELL.format(k=len(layer_sizes), part='bias')} has shape "
                f"{list(bias.shape)}; an LSTM bias must be [4 * units]"
            )
        layer_sizes.append(bias.shape[0] // 4)
    if not layer_sizes:
        raise CheckpointError(
            f"magenta.js checkpoint lacks the tensor {prefix + _CELL.format(k=0, part='kernel')}"
        )

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
        attn_size = int(_tensor(tensors, _ATTN + "attention/attn_v").shape[0])

    fc_bias = _tensor(tensors, "fully_connected/biases")
    if fc_bias.shape != (num_classes,):
        raise CheckpointError(
            f"tensor fully_connected/biases has shape {list(fc_bias.shape)} but the "
            f"{js_config['dataConverter']['type']} needs [{num_classes}]"
        )
    model = EventRNN(
        input_size=input_size,
        layer_sizes=layer_sizes,
        num_classes=num_classes,
        attn_length=attn_length,
        attn_output_layer=_JS_ATTENTION_OUTPUT_LAYER if attention else None,
        attn_size=attn_size,
        attn_query_bias=False,
    )
    params = dict(model.named_parameters())
    with torch.no_grad():
        for ours, theirs in _js_names(model).items():
            value = _tensor(tensors, theirs)
            target = params[ours]
            if ours == "attention.attn_w" and value.ndim == 4 and value.shape[:2] == (1, 1):
                value = value[0, 0]
            if tuple(value.shape) != tuple(target.shape):
                expected = list(target.shape)
                if ours == "attention.attn_w":
                    expected = [1, 1, *expected]
                raise CheckpointError(
                    f"tensor {theirs} has shape {list(value.shape)} but the model needs "
                    f"{expected} (input width {input_size} from config.json, "
                    f"layers {layer_sizes})"
                )
            target.copy_(torch.from_numpy(np.ascontiguousarray(value)))
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
