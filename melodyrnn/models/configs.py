"""Model configurations: Magenta's named RNN configs as plain, JSON-able data.

A :class:`ModelConfig` says everything needed to rebuild a model (encoder spec, input width,
number of classes, layer sizes, attention layout) plus the training hyperparameters Magenta
used for it. Checkpoints store ``config.to_dict()`` and rebuild the model from it.

The registry :data:`CONFIGS` holds Magenta's values (``melody_rnn_model.py``,
``drums_rnn_model.py``, ``improv_rnn_model.py``); Magenta's defaults that a config does not
override are ``batch_size=64, rnn_layer_sizes=[128, 128], dropout_keep_prob=1.0,
attn_length=0, clip_norm=3, learning_rate=0.001``.

Every config is checked when it is made: :data:`MODEL_CONFIG_SCHEMA` (types and ranges, the
first problem named by its field path, e.g. ``layer_sizes[0]``), then the rules between fields
(:meth:`ModelConfig.validate`). Configs read from outside (:meth:`ModelConfig.from_dict`, hence
``get_config`` overrides, ``--hparams`` and checkpoints) also have their parameter count,
computed without building anything (:func:`parameter_shapes`), checked against
``max_parameters`` (:mod:`melodyrnn.limits`). Format ranges: at most :data:`MAX_LAYERS` layers
and an attention window of at most :data:`MAX_ATTENTION_LENGTH` steps.

This module imports no torch, so configs can be listed and validated cheaply.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from melodyrnn.constants import DEFAULT_STEPS_PER_QUARTER
from melodyrnn.errors import ConfigError, ConfigLimitError, MelodyRNNError
from melodyrnn.limits import check_limit
from melodyrnn.models.schema import Anything, Arr, Bool, Int, Num, Obj, Opt, Str, first_problem

__all__ = [
    "ATTENTION_LAYOUTS",
    "CONFIGS",
    "MAX_ATTENTION_LENGTH",
    "MAX_LAYERS",
    "MODEL_CONFIG_SCHEMA",
    "ModelConfig",
    "get_config",
    "parameter_shapes",
]

MAX_LAYERS = 64
MAX_ATTENTION_LENGTH = 1024
# Where the attention wrapper sits (melodyrnn.models.attention): around the whole LSTM stack
# (magenta.js, Magenta before May 2017) or around layer 0 only (Magenta since then).
ATTENTION_LAYOUTS = ("stack", "first")

MODEL_CONFIG_SCHEMA = Obj(
    {
        "name": Str(),
        "encoder": Obj({"type": Str()}, required=("type",), extra=Anything()),
        "input_size": Opt(Int(1)),
        "num_classes": Opt(Int(1)),
        "layer_sizes": Arr(Int(1), 1, MAX_LAYERS),
        "dropout_keep_prob": Num(0, 1, exclusive=True),
        "attn_length": Int(0, MAX_ATTENTION_LENGTH),
        "attn_output_layer": Opt(Int(0, MAX_LAYERS - 1)),
        "attn_size": Opt(Int(1)),
        "attn_query_bias": Bool(),
        "attn_wraps": Str(ATTENTION_LAYOUTS),
        "clip_norm": Num(0),
        "learning_rate": Num(0, exclusive=True),
        "batch_size": Int(1),
        "steps_per_quarter": Int(1),
        "min_note": Opt(Int(0, 128)),
        "max_note": Opt(Int(0, 128)),
        "transpose_to_key": Opt(Int(0, 11)),
        "description": Str(),
    },
    extra=Anything(),  # unknown keys are from_dict's to report
)
_INT_FIELDS = (
    "input_size",
    "num_classes",
    "attn_length",
    "attn_output_layer",
    "attn_size",
    "batch_size",
    "steps_per_quarter",
    "min_note",
    "max_note",
    "transpose_to_key",
)


def parameter_shapes(
    input_size: int,
    layer_sizes: list[int],
    num_classes: int,
    attn_length: int = 0,
    attn_output_layer: int | None = None,
    attn_size: int | None = None,
    attn_wraps: str = "stack",
) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every parameter of the EventRNN these arguments build, in its
    ``state_dict`` order (:mod:`melodyrnn.models.rnn` and :mod:`melodyrnn.models.attention`
    list them), computed without torch."""
    shapes: dict[str, tuple[int, ...]] = {}
    first = bool(attn_length) and attn_wraps == "first"
    sizes_in = [input_size, *layer_sizes[:-1]]
    if attn_length:
        layer = 0 if first else len(layer_sizes) - 1
        layer = layer if attn_output_layer is None else attn_output_layer
        s, x = attn_size or layer_sizes[layer], input_size
        if first and len(layer_sizes) > 1:
            sizes_in[1] = s  # layer 1 reads the output of the wrapper around layer 0
    for k, (n_in, n_h) in enumerate(zip(sizes_in, layer_sizes)):
        shapes[f"cells.{k}.kernel"] = (n_in + n_h, 4 * n_h)
        shapes[f"cells.{k}.bias"] = (4 * n_h,)
    out = layer_sizes[-1]
    if attn_length:
        shapes["attention.input_kernel"] = (x + s, x)
        shapes["attention.input_bias"] = (x,)
        shapes["attention.attn_w"] = (s, s)
        shapes["attention.attn_v"] = (s,)
        wrapped = layer_sizes[:1] if first else layer_sizes
        shapes["attention.query_kernel"] = (2 * sum(wrapped), s)
        shapes["attention.query_bias"] = (s,)
        shapes["attention.output_kernel"] = (layer_sizes[layer] + s, s)
        shapes["attention.output_bias"] = (s,)
        if not first or len(layer_sizes) == 1:
            out = s
    shapes["logits.weights"] = (out, num_classes)
    shapes["logits.biases"] = (num_classes,)
    return shapes


@dataclass
class ModelConfig:
    """One model configuration (architecture + training hyperparameters).

    Attributes:
        name: config id, e.g. ``"basic_rnn"``.
        encoder: JSON-able encoder spec understood by ``melodyrnn.encoding.specs.make_encoder``.
        input_size: width of one input row (the encoder's ``input_size``; derived from it).
        num_classes: number of output classes (the encoder's ``num_classes``; derived from it).
        layer_sizes: LSTM layer sizes, bottom first; they may differ.
        dropout_keep_prob: keep probability of the output dropout after every layer (training).
        attn_length: attention window length; 0 means no attention.
        attn_output_layer: layer whose ``h`` feeds the attention output projection; ``None``
            means the last layer (magenta.js checkpoints use layer 2).
        attn_size: attention vector size; ``None`` means the size of ``attn_output_layer``.
        attn_query_bias: add ``attention/bias`` to the query (TF's AttentionCellWrapper does,
            magenta.js does not).
        attn_wraps: where the attention wrapper sits: ``"stack"`` (around the whole stack:
            magenta.js, Magenta before May 2017) or ``"first"`` (around layer 0 only: Magenta
            since then; ``attn_output_layer`` is then None and ``attn_size`` defaults to layer
            0's size). Stored by :meth:`to_dict` only when it is ``"first"``.
        clip_norm: per-tensor gradient clipping norm (Magenta clips each gradient separately).
        learning_rate: Adam learning rate.
        batch_size: training batch size.
        steps_per_quarter: quantization grid of the training data.
        min_note, max_note: melody pitch range (max exclusive), ``None`` for drum models.
        transpose_to_key: key melodies are transposed to (0..11) or ``None`` for no transposition.
        description: a human-readable line.
    """

    name: str
    encoder: dict[str, Any]
    input_size: int | None = None
    num_classes: int | None = None
    layer_sizes: list[int] = field(default_factory=lambda: [128, 128])
    dropout_keep_prob: float = 1.0
    attn_length: int = 0
    attn_output_layer: int | None = None
    attn_size: int | None = None
    attn_query_bias: bool = False
    attn_wraps: str = "stack"
    clip_norm: float = 3.0
    learning_rate: float = 0.001
    batch_size: int = 64
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER
    min_note: int | None = None
    max_note: int | None = None
    transpose_to_key: int | None = None
    description: str = ""

    def __post_init__(self) -> None:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        problem = first_problem(values, MODEL_CONFIG_SCHEMA, root="")
        if problem:
            raise ConfigError(f"config {self.name!r}: {problem[0]} {problem[1]}")
        self.layer_sizes = [int(size) for size in self.layer_sizes]
        for name in _INT_FIELDS:  # JSON's 64.0 is the integer 64
            if getattr(self, name) is not None:
                setattr(self, name, int(getattr(self, name)))
        self._derive_from_encoder()
        self.validate()

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Name -> shape of every parameter of this config's EventRNN (nothing is built)."""
        return parameter_shapes(
            self.input_size,
            self.layer_sizes,
            self.num_classes,
            self.attn_length,
            self.attn_output_layer,
            self.attn_size,
            self.attn_wraps,
        )

    def parameter_count(self) -> int:
        """The number of weights of this config's EventRNN."""
        return sum(math.prod(shape) for shape in self.parameter_shapes().values())

    def check_size(self, max_parameters: int | None = None) -> None:
        """ConfigLimitError (a ConfigError) if the model has more than ``max_parameters``
        (default: the ``max_parameters`` limit) weights."""
        check_limit(
            "max_parameters",
            self.parameter_count(),
            f"the model of config {self.name!r}",
            max_parameters,
            error=ConfigLimitError,
        )

    def _derive_from_encoder(self) -> None:
        """Fill input_size, num_classes, min_note and max_note from the encoder spec, which
        determines them; a given value that disagrees is a ConfigError."""
        from melodyrnn.encoding.specs import make_encoder

        if not isinstance(self.encoder, dict) or "type" not in self.encoder:
            raise ConfigError(f"config {self.name!r}: encoder must be a spec dict with a 'type'")
        try:
            encoder = make_encoder(self.encoder)
        except MelodyRNNError as exc:
            raise ConfigError(f"config {self.name!r}: {exc}") from None
        target = self.encoder.get("target", self.encoder)
        derived = {
            "input_size": encoder.input_size,
            "num_classes": encoder.num_classes,
            "min_note": target.get("min_note"),
            "max_note": target.get("max_note"),
        }
        for field_name, value in derived.items():
            given = getattr(self, field_name)
            if given is not None and given != value:
                raise ConfigError(
                    f"config {self.name!r}: {field_name} is {given} but its encoder gives {value}"
                )
            setattr(self, field_name, value)

    def validate(self) -> None:
        """Raise :class:`ConfigError` for values no model can be built from."""
        if not isinstance(self.encoder, dict) or "type" not in self.encoder:
            raise ConfigError(f"config {self.name!r}: encoder must be a spec dict with a 'type'")
        if self.input_size < 1 or self.num_classes < 1:
            raise ConfigError(f"config {self.name!r}: input_size and num_classes must be >= 1")
        if not self.layer_sizes or min(self.layer_sizes) < 1:
            raise ConfigError(f"config {self.name!r}: layer_sizes must be a non-empty list of >= 1")
        if not 0.0 < self.dropout_keep_prob <= 1.0:
            raise ConfigError(f"config {self.name!r}: dropout_keep_prob must be in (0, 1]")
        if self.attn_length < 0:
            raise ConfigError(f"config {self.name!r}: attn_length must be >= 0")
        if self.attn_output_layer is not None and not (
            0 <= self.attn_output_layer < len(self.layer_sizes)
        ):
            raise ConfigError(
                f"config {self.name!r}: attn_output_layer {self.attn_output_layer} is not a layer "
                f"index of {len(self.layer_sizes)} layers"
            )
        first = self.attn_wraps == "first"
        if first and (not self.attn_length or self.attn_output_layer is not None):
            raise ConfigError(
                f"config {self.name!r}: attn_wraps 'first' needs attn_length > 0 and no "
                "attn_output_layer (the wrapper around layer 0 projects layer 0's output)"
            )
        if self.min_note is not None and self.max_note is not None:
            if not 0 <= self.min_note < self.max_note <= 128:
                raise ConfigError(f"config {self.name!r}: need 0 <= min_note < max_note <= 128")
            if self.max_note - self.min_note < 12:
                raise ConfigError(f"config {self.name!r}: the note range must span >= 12 pitches")
        if self.transpose_to_key is not None and not 0 <= self.transpose_to_key <= 11:
            raise ConfigError(f"config {self.name!r}: transpose_to_key must be 0..11 or None")
        if self.steps_per_quarter < 1:
            raise ConfigError(f"config {self.name!r}: steps_per_quarter must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (deep copy) of every field, but ``attn_wraps`` only when it is not
        ``"stack"`` (so the configs of whole-stack and attention-free models read as before
        the field existed)."""
        data = copy.deepcopy(dataclasses.asdict(self))
        if data["attn_wraps"] == "stack":
            del data["attn_wraps"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown or missing keys, a wrong type or range and a
        model over ``max_parameters`` raise :class:`ConfigError`."""
        if not isinstance(data, dict):
            raise ConfigError(f"a model config must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown model config keys {unknown}; known keys: {sorted(known)}")
        required = {
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }
        missing = sorted(required - set(data))
        if missing:
            raise ConfigError(f"model config lacks the keys {missing}")
        try:
            config = cls(**copy.deepcopy(data))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"invalid model config: {exc}") from None
        config.check_size()
        return config

    def replace(self, **overrides: Any) -> ModelConfig:
        """A copy with some fields replaced (validated). A new encoder brings its own
        input_size, num_classes and note range unless those are given too."""
        data = self.to_dict()
        if "encoder" in overrides:
            for derived in ("input_size", "num_classes", "min_note", "max_note"):
                data.pop(derived)
        data.update(overrides)
        return ModelConfig.from_dict(data)


def _melody_encoder(kind: str, min_note: int = 48, max_note: int = 84) -> dict[str, Any]:
    return {"type": kind, "min_note": min_note, "max_note": max_note}


_MELODY_HPARAMS: dict[str, Any] = {
    "batch_size": 128,
    "layer_sizes": [128, 128],
    "dropout_keep_prob": 0.5,
    "clip_norm": 5.0,
    "learning_rate": 0.001,
}

CONFIGS: dict[str, ModelConfig] = {
    "basic_rnn": ModelConfig(
        name="basic_rnn",
        encoder=_melody_encoder("one_hot_melody"),
        transpose_to_key=0,
        description="Melody RNN with one-hot encoding.",
        **_MELODY_HPARAMS,
    ),
    "mono_rnn": ModelConfig(
        name="mono_rnn",
        encoder=_melody_encoder("one_hot_melody", 0, 128),
        transpose_to_key=None,
        description="Monophonic RNN with one-hot encoding over all 128 pitches.",
        **_MELODY_HPARAMS,
    ),
    "lookback_rnn": ModelConfig(
        name="lookback_rnn",
        encoder=_melody_encoder("lookback_melody"),
        transpose_to_key=0,
        description="Melody RNN with lookback encoding.",
        **_MELODY_HPARAMS,
    ),
    "attention_rnn": ModelConfig(
        name="attention_rnn",
        encoder=_melody_encoder("key_melody"),
        transpose_to_key=0,
        description="Melody RNN with lookback (key) encoding and attention.",
        **{**_MELODY_HPARAMS, "attn_length": 40, "clip_norm": 3.0},
    ),
    "one_drum_rnn": ModelConfig(
        name="one_drum_rnn",
        # Magenta's one_drum: one class of every pitch (hits decode to 39), plain one-hot input
        encoder={"type": "drums", "binary_counter_bits": 0, "pitch_classes": "one_drum"},
        layer_sizes=[128, 128],
        dropout_keep_prob=0.5,
        clip_norm=5.0,
        learning_rate=0.001,
        batch_size=128,
        steps_per_quarter=2,
        description="Drums RNN with 2-state encoding.",
    ),
    "drum_kit_rnn": ModelConfig(
        name="drum_kit_rnn",
        encoder={"type": "drums", "binary_counter_bits": 6, "pitch_classes": "magenta"},
        layer_sizes=[256, 256, 256],
        dropout_keep_prob=0.5,
        attn_length=32,
        clip_norm=3.0,
        learning_rate=0.001,
        batch_size=128,
        description="Drums RNN with multiple drums and binary counters.",
    ),
    "chord_pitches_improv": ModelConfig(
        name="chord_pitches_improv",
        encoder={
            "type": "conditional",
            "control": {"type": "pitch_chords"},
            "target": _melody_encoder("one_hot_melody"),
        },
        layer_sizes=[256, 256, 256],
        dropout_keep_prob=0.5,
        clip_norm=3.0,
        learning_rate=0.001,
        batch_size=128,
        transpose_to_key=None,
        description="Melody-given-chords RNN with chord pitches encoding.",
    ),
}


def get_config(name: str, **overrides: Any) -> ModelConfig:
    """A copy of the registered config ``name`` with ``overrides`` applied.

    Raises :class:`ConfigError` for an unknown name (listing the known ones) or a bad override.
    """
    if name not in CONFIGS:
        raise ConfigError(f"unknown model config {name!r}; known configs: {', '.join(CONFIGS)}")
    return CONFIGS[name].replace(**overrides)
