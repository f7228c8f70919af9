"""TensorFlow's table files (the LevelDB "SSTable" layout), read from bytes without TensorFlow.

A V1 checkpoint (``model.ckpt``, the checkpoint inside a ``.mag`` bundle) and the ``.index``
file of a V2 checkpoint are both such a table: a sorted map from byte-string keys to byte-string
values, laid out as

* **data blocks**, each a run of entries ``varint shared | varint non_shared | varint
  value_length | key[shared:] | value`` (a key stores only what it does not share with the key
  before it), then an array of ``uint32`` restart offsets and their ``uint32`` count;
* after every block a 5-byte trailer: a compression type (0: none) and the masked CRC-32C
  (:mod:`melodyrnn.models.crc32c`) of the block and that type byte;
* a **meta-index block** (empty in TensorFlow's files) and an **index block** whose entries map
  a key at or after each data block's last key to that block's ``varint offset | varint size``;
* a 48-byte **footer**: the handles of the meta-index and index blocks, zero padding, and the
  magic number ``0xdb4775248b80fb57`` (little-endian).

:func:`read_table` checks the footer, every block's bounds and checksum, that the index names
each data block once and in file order (so no byte is parsed twice), and that entries stay in
their block, before it hands out anything. Values are ``memoryview`` slices of the input.
Any problem is a :class:`TableError` saying what is wrong; the checkpoint readers
(:mod:`melodyrnn.models.tf_checkpoint`) add the file's name.

TensorFlow writes its checkpoint tables uncompressed; a block compressed with snappy (type 1)
is refused with a message that says so.
"""

from __future__ import annotations

from melodyrnn.models.crc32c import crc32c, unmask
from melodyrnn.models.protowire import WireError, read_varint

__all__ = ["TABLE_MAGIC", "TableError", "is_table", "read_table"]

TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_BYTES = 48
_TRAILER_BYTES = 5
_MAX_KEY_BYTES = 4096  # tensor names and V1 slice keys are far shorter
_MAX_ENTRIES = 100_000  # a checkpoint of a melodyrnn-sized model has a few hundred


class TableError(ValueError):
    """Bytes that are not a well-formed TensorFlow table."""


def is_table(data) -> bool:
    """Whether ``data`` ends with the table magic number (cheap; nothing else is checked)."""
    view = memoryview(data)
    return len(view) >= _FOOTER_BYTES and int.from_bytes(view[-8:], "little") == TABLE_MAGIC


def _handle(view: memoryview, pos: int, what: str) -> tuple[int, int, int]:
    try:
        offset, pos = read_varint(view, pos)
        size, pos = read_varint(view, pos)
    except WireError as exc:
        raise TableError(f"the {what} handle is damaged ({exc})") from None
    return offset, size, pos


def _block(data: memoryview, offset: int, size: int, what: str) -> memoryview:
    """The checked contents of the block at ``offset`` (``size`` bytes before its trailer)."""
    end = len(data) - _FOOTER_BYTES
    if offset > end or size > end - offset or end - offset - size < _TRAILER_BYTES:
        raise TableError(
            f"the {what} at byte {offset} claims {size} bytes, past the end of the table "
            f"({len(data)} bytes)"
        )
    contents = data[offset : offset + size]
    kind = data[offset + size]
    stored = int.from_bytes(data[offset + size + 1 : offset + size + 5], "little")
    if unmask(stored) != crc32c(data[offset + size : offset + size + 1], crc32c(contents)):
        raise TableError(f"the {what} at byte {offset} fails its CRC-32C check (corrupt data)")
    if kind == 1:
        raise TableError(
            f"the {what} at byte {offset} is snappy-compressed; TensorFlow writes checkpoints "
            "uncompressed and melodyrnn reads only those"
        )
    if kind != 0:
        raise TableError(f"the {what} at byte {offset} has the unknown compression type {kind}")
    return contents


def _entries(block: memoryview, what: str, budget: list[int]):
    """``(key, value)`` of every entry of a block's contents (``budget``: entries and key bytes
    left for the whole table)."""
    if len(block) < 4:
        raise TableError(f"the {what} is {len(block)} bytes, too short for a block")
    restarts = int.from_bytes(block[-4:], "little")
    if restarts > (len(block) - 4) // 4:
        raise TableError(f"the {what} claims {restarts} restart points, more than it can hold")
    limit = len(block) - 4 - 4 * restarts
    pos, key = 0, b""
    try:
        while pos < limit:
            shared, pos = read_varint(block, pos)
            unshared, pos = read_varint(block, pos)
            size, pos = read_varint(block, pos)
            if shared > len(key) or unshared > limit - pos or size > limit - pos - unshared:
                raise TableError(f"an entry of the {what} runs past the end of its block")
            if shared + unshared > _MAX_KEY_BYTES:
                raise TableError(f"a key of the {what} is {shared + unshared} bytes long")
            budget[0] -= 1
            budget[1] -= shared + unshared
            if budget[0] < 0 or budget[1] < 0:
                raise TableError(f"the table has more than {_MAX_ENTRIES:,} entries or key bytes")
            key = key[:shared] + bytes(block[pos : pos + unshared])
            pos += unshared
            yield key, block[pos : pos + size]
            pos += size
    except WireError as exc:
        raise TableError(f"an entry of the {what} is damaged ({exc})") from None


def read_table(data) -> list[tuple[bytes, memoryview]]:
    """Every ``(key, value)`` of the table ``data`` (bytes-like), in file order.

    Raises :class:`TableError` for a missing magic number, a handle or entry that points
    outside the file or its block, a data block listed twice or out of order, or a checksum
    that does not match.
    """
    view = memoryview(data).cast("B")
    if not is_table(view):
        raise TableError("it does not end with the table magic number (not a TensorFlow table)")
    footer = len(view) - _FOOTER_BYTES
    _, _, pos = _handle(view, footer, "meta-index")
    index_offset, index_size, pos = _handle(view, pos, "index")
    if pos > len(view) - 8:
        raise TableError("the footer's handles run into its magic number")
    budget = [_MAX_ENTRIES, _MAX_ENTRIES * 64]
    index = _block(view, index_offset, index_size, "index block")
    out: list[tuple[bytes, memoryview]] = []
    next_free = 0
    for number, (_, handle) in enumerate(_entries(index, "index block", budget)):
        offset, size, end = _handle(handle, 0, f"data block {number}")
        if end != len(handle):
            raise TableError(f"the index entry of data block {number} has trailing bytes")
        if offset < next_free:
            raise TableError(
                f"data block {number} at byte {offset} overlaps the block before it; "
                "the index is corrupt"
            )
        if offset + size > index_offset:
            raise TableError(
                f"data block {number} at byte {offset} ({size} bytes) runs into the index block"
            )
        block = _block(view, offset, size, f"data block {number}")
        out.extend(_entries(block, f"data block {number}", budget))
        next_free = offset + size + _TRAILER_BYTES
    return out
