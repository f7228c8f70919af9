"""Conversion to and from note-seq's protobuf ``NoteSequence`` (optional ``noteseq`` extra).

Field for field: both sides have the same fields under the same names. magenta.js's JSON shape
is converted in :mod:`melodyrnn.io.magenta_js_json`.
"""

from __future__ import annotations

import dataclasses

from melodyrnn import sequence as S
from melodyrnn.errors import MelodyRNNError


def _music_pb2():
    try:
        from note_seq.protobuf import music_pb2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MelodyRNNError(
            "note-seq is not installed; install it with: pip install 'melodyrnn[noteseq]'"
        ) from exc
    return music_pb2


def to_note_seq(ns: S.NoteSequence):
    """A real ``note_seq.NoteSequence`` protobuf of ``ns`` (needs the ``noteseq`` extra)."""
    music_pb2 = _music_pb2()
    proto = music_pb2.NoteSequence()
    proto.ticks_per_quarter = ns.ticks_per_quarter
    proto.total_time = ns.total_time
    proto.total_quantized_steps = ns.total_quantized_steps
    proto.id = ns.id
    proto.filename = ns.filename
    if ns.quantization_info is not None:
        if ns.quantization_info.steps_per_quarter:
            proto.quantization_info.steps_per_quarter = ns.quantization_info.steps_per_quarter
        elif ns.quantization_info.steps_per_second:
            proto.quantization_info.steps_per_second = ns.quantization_info.steps_per_second
    for name, item_type in S.ITEM_TYPES.items():
        container = getattr(proto, name)
        for item in getattr(ns, name):
            container.add(**{f.name: getattr(item, f.name) for f in dataclasses.fields(item_type)})
    return proto


def from_note_seq(proto) -> S.NoteSequence:
    """A :class:`~melodyrnn.sequence.NoteSequence` built from a ``note_seq.NoteSequence``."""
    ns = S.NoteSequence(
        ticks_per_quarter=proto.ticks_per_quarter or S.STANDARD_PPQ,
        total_time=proto.total_time,
        total_quantized_steps=proto.total_quantized_steps,
        id=proto.id,
        filename=proto.filename,
    )
    qi = proto.quantization_info
    if qi.steps_per_quarter or qi.steps_per_second:
        ns.quantization_info = S.QuantizationInfo(qi.steps_per_quarter, qi.steps_per_second)
    for name, item_type in S.ITEM_TYPES.items():
        fields = [f.name for f in dataclasses.fields(item_type)]
        setattr(
            ns,
            name,
            [item_type(**{f: getattr(p, f) for f in fields}) for p in getattr(proto, name)],
        )
    return ns
