"""The protocol buffer wire format, read by hand: enough for TensorFlow checkpoints and bundles.

A serialized message is a sequence of fields, each a varint key ``field_number << 3 |
wire_type`` and a value: a varint (wire type 0), 8 bytes (1), a length-prefixed byte string
(2: strings, bytes, sub-messages and packed repeated numbers) or 4 bytes (5). Groups (3, 4)
are obsolete and refused. :func:`fields` walks one message; every length is checked against
the bytes that are really there before anything is sliced, and byte strings come back as
``memoryview`` slices of the input, never copies, so a message that lies about a length costs
nothing. Problems raise :class:`WireError` (the readers turn it into a CheckpointError that
names the file).

Used by :mod:`melodyrnn.models.tf_table`, :mod:`melodyrnn.models.tf_checkpoint` and
:mod:`melodyrnn.models.mag_bundle`; nothing here knows what the fields mean.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = [
    "FIXED32",
    "FIXED64",
    "LENGTH",
    "VARINT",
    "WireError",
    "fields",
    "message",
    "read_varint",
    "signed64",
]

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5
_MAX_FIELD = (1 << 29) - 1


class WireError(ValueError):
    """Bytes that are not a well-formed protocol buffer message."""


def read_varint(data: memoryview, pos: int) -> tuple[int, int]:
    """``(value, next position)`` of the varint at ``pos`` (at most 10 bytes, 64 bits)."""
    result = shift = 0
    end = len(data)
    for _ in range(10):
        if pos >= end:
            raise WireError("a number runs past the end of the data")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if result >> 64:
                raise WireError("a number is wider than 64 bits")
            return result, pos
        shift += 7
    raise WireError("a number is longer than 10 bytes")


def signed64(value: int) -> int:
    """A varint read as int64 (two's complement)."""
    return value - (1 << 64) if value >> 63 else value


def fields(data) -> Iterator[tuple[int, int, int | memoryview]]:
    """``(field number, wire type, value)`` of every field of the message ``data``, in order.

    Varints and fixed numbers come back as unsigned ints, length-delimited values as
    memoryview slices of ``data``.
    """
    view = data if isinstance(data, memoryview) else memoryview(data)
    pos, end = 0, len(view)
    while pos < end:
        key, pos = read_varint(view, pos)
        number, wire = key >> 3, key & 7
        if not 1 <= number <= _MAX_FIELD:
            raise WireError(f"field number {number} is not valid")
        if wire == VARINT:
            value, pos = read_varint(view, pos)
        elif wire == LENGTH:
            size, pos = read_varint(view, pos)
            if size > end - pos:
                raise WireError(
                    f"field {number} says it holds {size} bytes but only {end - pos} follow"
                )
            value, pos = view[pos : pos + size], pos + size
        elif wire in (FIXED64, FIXED32):
            width = 8 if wire == FIXED64 else 4
            if width > end - pos:
                raise WireError(f"field {number} runs past the end of the data")
            value = int.from_bytes(view[pos : pos + width], "little")
            pos += width
        else:
            raise WireError(f"field {number} has the wire type {wire}, which is not supported")
        yield number, wire, value


def message(data, schema: dict[int, tuple[str, int, bool]]) -> dict[str, object]:
    """The fields of ``data`` that ``schema`` names: ``{number: (name, wire type, repeated)}``.

    A repeated field gives a list; a single one its last value (protobuf's rule); a field
    absent gives nothing (callers use ``.get`` with the proto3 default). A known field with
    another wire type is a WireError; unknown fields are skipped.
    """
    out: dict[str, object] = {}
    for number, wire, value in fields(data):
        if number not in schema:
            continue
        name, want, repeated = schema[number]
        if wire != want:
            raise WireError(f"field {name} has wire type {wire}, expected {want}")
        if repeated:
            out.setdefault(name, []).append(value)
        else:
            out[name] = value
    return out
