"""CRC-32C (Castagnoli), the checksum of TensorFlow's table files and checkpoint data, in numpy.

TensorFlow checks every block of a table file (:mod:`melodyrnn.models.tf_table`) and every
tensor of a V2 checkpoint (:mod:`melodyrnn.models.tf_checkpoint`) with CRC-32C: the reflected
polynomial ``0x82F63B78``, initial value and final XOR ``0xFFFFFFFF`` (``crc32c(b"123456789")
== 0xE3069283``). It stores the checksum *masked* (:func:`mask`: rotated right by 15 bits plus
``0xA282EAD8``), so that the CRC of data that holds CRCs stays well distributed.

No dependency of melodyrnn computes CRC-32C (``zlib.crc32`` is the other CRC-32), so it is done
here: byte-at-a-time table lookups, run on up to a few thousand equal chunks of the data at
once with numpy, the chunk checksums then joined with the GF(2) matrix of "append L zero bytes"
(the CRC register is linear in its start value). About 100 MB/s; a published bundle takes well
under a second.
"""

from __future__ import annotations

import numpy as np

__all__ = ["crc32c", "mask", "unmask"]

_POLY = 0x82F63B78
_MASK_DELTA = 0xA282EAD8
_SERIAL_BYTES = 1 << 14  # below this, one numpy-free loop is faster than chunking
_MAX_CHUNKS = 8192


def _byte_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(_POLY), table >> 1).astype(np.uint32)
    return table


_TABLE = _byte_table()
_TABLE_LIST = [int(v) for v in _TABLE]


def _serial(register: int, data) -> int:
    table = _TABLE_LIST
    for byte in bytes(data):
        register = table[(register ^ byte) & 0xFF] ^ (register >> 8)
    return register


def _zeros_operator(length: int) -> list[int]:
    """The register after ``length`` zero bytes, as a linear map: the images of the 32 bits."""
    # One zero byte maps bit k of the register to the register that bit alone becomes.
    step = [_serial(1 << k, b"\0") for k in range(32)]
    result = [1 << k for k in range(32)]  # identity
    while length:
        if length & 1:
            result = [_apply(step, column) for column in result]
        step = [_apply(step, column) for column in step]
        length >>= 1
    return result


def _apply(operator: list[int], value: int) -> int:
    out = 0
    k = 0
    while value:
        if value & 1:
            out ^= operator[k]
        value >>= 1
        k += 1
    return out


def _byte_lookup(operator: list[int]) -> list[list[int]]:
    """For each of the 4 bytes of a register, the operator's image of all 256 values."""
    tables = []
    for position in range(4):
        images = [0] * 256
        for value in range(1, 256):
            low = value & -value
            bit = low.bit_length() - 1
            images[value] = images[value ^ low] ^ operator[8 * position + bit]
        tables.append(images)
    return tables


def _chunked(register: int, data: np.ndarray) -> int:
    """The register after ``data`` (uint8), computed on equal chunks at once."""
    chunks = min(_MAX_CHUNKS, max(1, len(data) // 2048))
    length = len(data) // chunks
    body = data[: chunks * length].reshape(chunks, length).T.copy()  # [length, chunks]
    states = np.zeros(chunks, dtype=np.uint32)
    table = _TABLE
    for row in body:
        states = table[(states ^ row) & 0xFF] ^ (states >> np.uint32(8))
    # Registers are linear: register(start, chunk) = Z_length(start) ^ register(0, chunk).
    t0, t1, t2, t3 = _byte_lookup(_zeros_operator(length))
    for state in states.tolist():
        register = (
            t0[register & 0xFF]
            ^ t1[(register >> 8) & 0xFF]
            ^ t2[(register >> 16) & 0xFF]
            ^ t3[register >> 24]
            ^ state
        )
    return _serial(register, data[chunks * length :].tobytes())


def crc32c(data, value: int = 0) -> int:
    """The CRC-32C of ``data`` (bytes-like), continuing from the CRC ``value`` of earlier data."""
    view = memoryview(data).cast("B")
    register = value ^ 0xFFFFFFFF
    if len(view) < _SERIAL_BYTES:
        register = _serial(register, view)
    else:
        register = _chunked(register, np.frombuffer(view, dtype=np.uint8))
    return register ^ 0xFFFFFFFF


def mask(crc: int) -> int:
    """The masked form TensorFlow stores."""
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def unmask(masked: int) -> int:
    """Inverse of :func:`mask`."""
    rot = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF
