"""Conversion to and from magenta.js's JSON ``NoteSequence`` (``INoteSequence``).

The same fields as note-seq's protobuf, in camelCase (``startTime``, ``quantizationInfo``, ...);
the quantized steps of notes and events appear only in a quantized sequence.
:func:`to_magenta_js_json` writes fields with default values explicitly;
:func:`from_magenta_js_json` gives a missing field its protobuf default (but a missing velocity
is magenta.js's 80). note-seq's own
protobuf is converted in :mod:`melodyrnn.io.note_seq_proto`.
"""

from __future__ import annotations

import dataclasses

from melodyrnn.fields import camel_case, item_from_dict
from melodyrnn.sequence import ITEM_TYPES, STANDARD_PPQ, Note, NoteSequence, QuantizationInfo

# The velocity magenta.js's MIDI writer gives a note without one (its core constants'
# DEFAULT_VELOCITY); a protobuf default of 0 would make a silent file (magenta-js#448).
MAGENTA_JS_DEFAULT_VELOCITY = 80

# Fields of each item magenta.js writes only when the sequence is quantized.
_QUANTIZED_ITEM_FIELDS = {"quantized_start_step", "quantized_end_step", "quantized_step"}


_camel = camel_case


def to_magenta_js_json(ns: NoteSequence) -> dict:
    """Serialise to magenta.js's JSON shape (fields with default values are kept explicit)."""
    quantized = ns.is_quantized
    out: dict = {"ticksPerQuarter": ns.ticks_per_quarter, "totalTime": ns.total_time}
    for name, item_type in ITEM_TYPES.items():
        items = []
        for item in getattr(ns, name):
            obj = {}
            for f in dataclasses.fields(item_type):
                if f.name in _QUANTIZED_ITEM_FIELDS and not quantized:
                    continue
                obj[_camel(f.name)] = getattr(item, f.name)
            items.append(obj)
        out[_camel(name)] = items
    if quantized:
        qi = ns.quantization_info
        out["quantizationInfo"] = (
            {"stepsPerQuarter": qi.steps_per_quarter}
            if qi.steps_per_quarter
            else {"stepsPerSecond": qi.steps_per_second}
        )
        out["totalQuantizedSteps"] = ns.total_quantized_steps
    if ns.id:
        out["id"] = ns.id
    if ns.filename:
        out["filename"] = ns.filename
    return out


def from_magenta_js_json(obj: dict) -> NoteSequence:
    """Parse magenta.js's JSON (camelCase keys; snake_case ones are read too, keys that are no
    field are ignored). Missing fields take protobuf defaults, but a note without a velocity
    gets :data:`MAGENTA_JS_DEFAULT_VELOCITY`, as magenta.js plays and writes it: its
    tutorials' sequences (``TWINKLE_TWINKLE``) have none, and velocity 0 would be silent."""
    ns = NoteSequence()
    for name, item_type in ITEM_TYPES.items():
        items = []
        for raw in obj.get(_camel(name), []) or []:
            item = item_from_dict(item_type, raw, strict=False)
            if item_type is Note:
                if raw.get("velocity") is None:
                    item.velocity = MAGENTA_JS_DEFAULT_VELOCITY
                if raw.get("pitch") is None:
                    item.pitch = 0
            items.append(item)
        setattr(ns, name, items)
    ns.ticks_per_quarter = int(obj.get("ticksPerQuarter", STANDARD_PPQ) or STANDARD_PPQ)
    ns.total_time = float(obj.get("totalTime", 0.0) or 0.0)
    ns.total_quantized_steps = int(obj.get("totalQuantizedSteps", 0) or 0)
    qi = obj.get("quantizationInfo")
    if qi:
        ns.quantization_info = QuantizationInfo(
            steps_per_quarter=int(qi.get("stepsPerQuarter", 0) or 0),
            steps_per_second=int(qi.get("stepsPerSecond", 0) or 0),
        )
    ns.id = obj.get("id", "") or ""
    ns.filename = obj.get("filename", "") or ""
    return ns
