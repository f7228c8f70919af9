"""Encoder specs: the JSON-able dicts configs and checkpoints store, and the encoders they name.

:func:`make_encoder` is the one place that turns a spec into an encoder/decoder (validating
every field, filling Magenta's defaults); :func:`encoder_spec` is its inverse, asking the
encoder for its ``spec()``. The encoders are in :mod:`~melodyrnn.encoding.one_hot`,
:mod:`~melodyrnn.encoding.lookback`, :mod:`~melodyrnn.encoding.key_melody` and
:mod:`~melodyrnn.encoding.conditional`; the drum and chord encodings they use come from
:mod:`melodyrnn.events`.
"""

from __future__ import annotations

from typing import Any

from melodyrnn.encoding.conditional import (
    CHORD_CONTROL_TYPES,
    ConditionalEventSequenceEncoderDecoder,
)
from melodyrnn.encoding.key_melody import KeyMelodyEncoderDecoder
from melodyrnn.encoding.lookback import (
    DEFAULT_LOOKBACK_DISTANCES,
    LookbackEventSequenceEncoderDecoder,
)
from melodyrnn.encoding.one_hot import MelodyOneHotEncoding, OneHotEventSequenceEncoderDecoder
from melodyrnn.errors import ConfigError
from melodyrnn.events.chords import make_chord_encoding
from melodyrnn.events.drums import DRUM_PITCH_CLASS_NAMES, MultiDrumOneHotEncoding

_REQUIRED = object()

_SPEC_FIELDS = {
    "one_hot_melody": {"min_note": 48, "max_note": 84},
    "lookback_melody": {
        "min_note": 48,
        "max_note": 84,
        "lookback_distances": list(DEFAULT_LOOKBACK_DISTANCES),
        "binary_counter_bits": 5,
    },
    "key_melody": {
        "min_note": 48,
        "max_note": 84,
        "lookback_distances": list(DEFAULT_LOOKBACK_DISTANCES),
        "binary_counter_bits": 7,
    },
    "drums": {"binary_counter_bits": 6, "pitch_classes": "magenta", "lookback_distances": []},
    "conditional": {"control": _REQUIRED, "target": _REQUIRED},
}


def _spec_fields(spec: Any) -> tuple[str, dict]:
    if not isinstance(spec, dict):
        raise ConfigError(f"an encoder spec must be a dict, got {spec!r}")
    kind = spec.get("type")
    if kind not in _SPEC_FIELDS:
        raise ConfigError(
            f"unknown encoder type {kind!r}; known types: {', '.join(sorted(_SPEC_FIELDS))}"
        )
    defaults = _SPEC_FIELDS[kind]
    unknown = sorted(set(spec) - set(defaults) - {"type"})
    if unknown:
        raise ConfigError(f"encoder type {kind!r} has no field(s) {', '.join(unknown)}")
    fields = {key: spec.get(key, default) for key, default in defaults.items()}
    missing = [key for key, value in fields.items() if value is _REQUIRED]
    if missing:
        raise ConfigError(f"encoder type {kind!r} needs field(s) {', '.join(missing)}")
    return kind, fields


def make_encoder(spec: dict) -> Any:
    """Build an encoder/decoder from its JSON-able spec (what configs and checkpoints store).

    Types: one_hot_melody, lookback_melody, key_melody (min_note, max_note exclusive, and for
    the last two optional lookback_distances and binary_counter_bits), drums
    (binary_counter_bits, pitch_classes "magenta" | "magenta_js" | "one_drum"; 0 bits and no
    lookback_distances is a plain one-hot encoder, as Magenta's one_drum) and conditional
    ({"control": {"type": "pitch_chords" | "triad_chords" | "major_minor_chords"}, "target":
    <spec>}; pitch_chords may add "slash_bass": false for magenta.js). Raises ConfigError for
    anything else.
    """
    kind, f = _spec_fields(spec)
    if kind == "one_hot_melody":
        return OneHotEventSequenceEncoderDecoder(MelodyOneHotEncoding(f["min_note"], f["max_note"]))
    if kind == "lookback_melody":
        return LookbackEventSequenceEncoderDecoder(
            MelodyOneHotEncoding(f["min_note"], f["max_note"]),
            f["lookback_distances"],
            f["binary_counter_bits"],
        )
    if kind == "key_melody":
        return KeyMelodyEncoderDecoder(
            f["min_note"], f["max_note"], f["lookback_distances"], f["binary_counter_bits"]
        )
    if kind == "drums":
        if f["pitch_classes"] not in DRUM_PITCH_CLASS_NAMES:
            *first, last = (repr(name) for name in DRUM_PITCH_CLASS_NAMES)
            raise ConfigError(
                f"unknown drum pitch_classes {f['pitch_classes']!r}; "
                f"use {', '.join(first)} or {last}"
            )
        return LookbackEventSequenceEncoderDecoder(
            MultiDrumOneHotEncoding(pitch_classes=f["pitch_classes"]),
            f["lookback_distances"],
            f["binary_counter_bits"],
        )
    # conditional
    control_kind, control_options = _control_spec(f["control"])
    target = make_encoder(f["target"])
    if isinstance(target, ConditionalEventSequenceEncoderDecoder):
        raise ConfigError("the target of a conditional encoder cannot itself be conditional")
    control = make_chord_encoding(control_kind, **control_options)
    return ConditionalEventSequenceEncoderDecoder(control, target)


def _control_spec(spec: Any) -> tuple[str, dict]:
    """(chord encoding name, its options) of a control spec.

    ``pitch_chords`` takes ``slash_bass`` (default true, note-seq; false is magenta.js, whose
    PitchChordEncoder always uses the root as bass)."""
    if not isinstance(spec, dict) or spec.get("type") not in CHORD_CONTROL_TYPES:
        raise ConfigError(
            f"unknown control spec {spec!r}; its type must be one of"
            f" {', '.join(CHORD_CONTROL_TYPES)}"
        )
    allowed = {"type", "slash_bass"} if spec["type"] == "pitch_chords" else {"type"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ConfigError(f"control type {spec['type']!r} has no field(s) {', '.join(unknown)}")
    options = {key: value for key, value in spec.items() if key != "type"}
    if not isinstance(options.get("slash_bass", True), bool):
        raise ConfigError(f"slash_bass must be true or false, got {options['slash_bass']!r}")
    return spec["type"], options


def encoder_spec(encoder: Any) -> dict:
    """The JSON-able spec that :func:`make_encoder` turns back into an equal encoder."""
    spec = getattr(encoder, "spec", None)
    if not callable(spec):
        raise ConfigError(f"{encoder!r} is not a melodyrnn encoder")
    return spec()
