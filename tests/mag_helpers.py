"""Helpers for the tests of Magenta bundles and TF checkpoints (tests/test_mag*.py).

tests/fixtures/mag/ was written by real TensorFlow (scripts/make_tf_fixtures.py, run by hand);
its bigger files are gzipped. :func:`unpack_fixtures` copies it into a folder with every ``.gz``
unpacked. The rest builds hostile inputs without TensorFlow: :func:`encode_bundle` writes a
GeneratorBundle, :func:`write_table` a TF table (with correct CRCs, so a test can make a table
that lies about what it holds and still passes the checksum), :func:`v1_checkpoint` a V1
checkpoint of given tensors. These writers are test code only; the fixtures from TensorFlow are
the oracle that the reader is checked against.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np

from melodyrnn.models.crc32c import crc32c, mask

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "mag"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())


def _with_run(f: dict) -> bool:
    return any(file.endswith("_run/") for file in f["files"])


# name -> generator id, for the fixtures made under TF >= 1.1 names with a V2 run folder
# (no attention, or attention around the whole stack)
GENERATORS = {
    f["name"]: f["generator_id"]
    for f in MANIFEST["fixtures"]
    if _with_run(f) and f.get("attn_wraps", "stack") == "stack"
}
OLD_NAMES = ["attention_rnn_tf1_0", "attention_rnn_tf0", "basic_rnn_tf0"]
# name -> generator id, for Magenta's post-2017 layout (attention around the first layer only);
# each has a V2 run folder too
FIRST_LAYER = {
    f["name"]: f["generator_id"]
    for f in MANIFEST["fixtures"]
    if f.get("attn_wraps") == "first" and _with_run(f)
}

# Our parameter name -> the TF (>= 1.1) variable, written out here independently of the package.
_ATTN = "rnn/attention_cell_wrapper/"
_FIRST = "rnn/multi_rnn_cell/cell_0/attention_cell_wrapper/"


def tf_names(num_layers: int, attention: bool, first_layer: bool = False) -> dict[str, str]:
    """``first_layer``: Magenta's post-2017 layout (the wrapper around cell 0 only)."""
    prefix = _ATTN if attention and not first_layer else "rnn/"
    wrapper = _FIRST if first_layer else _ATTN
    names = {}
    for k in range(num_layers):
        cell = f"{prefix}multi_rnn_cell/cell_{k}/basic_lstm_cell/"
        if first_layer and k == 0:
            cell = _FIRST + "basic_lstm_cell/"
        names[f"cells.{k}.kernel"] = cell + "kernel"
        names[f"cells.{k}.bias"] = cell + "bias"
    if attention:
        names["attention.input_kernel"] = wrapper + "kernel"
        names["attention.input_bias"] = wrapper + "bias"
        names["attention.attn_w"] = wrapper + "attention/attn_w"
        names["attention.attn_v"] = wrapper + "attention/attn_v"
        names["attention.query_kernel"] = wrapper + "attention/kernel"
        names["attention.query_bias"] = wrapper + "attention/bias"
        names["attention.output_kernel"] = wrapper + "attn_output_projection/kernel"
        names["attention.output_bias"] = wrapper + "attn_output_projection/bias"
    names["logits.weights"] = "fully_connected/weights"
    names["logits.biases"] = "fully_connected/biases"
    return names


def unpack_fixtures(target: Path) -> Path:
    """A copy of tests/fixtures/mag in ``target`` with every ``.gz`` file unpacked."""
    shutil.copytree(FIXTURES, target)
    for packed in sorted(target.rglob("*.gz")):
        with gzip.open(packed, "rb") as src, open(packed.with_suffix(""), "wb") as dst:
            shutil.copyfileobj(src, dst)
        packed.unlink()
    return target


def load_npz(folder: Path, name: str) -> dict[str, np.ndarray]:
    with np.load(folder / f"{name}.npz", allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


# --- protobuf and table writers (test code) -----------------------------------------------------


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, value) -> bytes:
    """A length-delimited field (bytes or a str), or a varint field (an int)."""
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    raw = value.encode() if isinstance(value, str) else bytes(value)
    return varint(number << 3 | 2) + varint(len(raw)) + raw


def encode_bundle(
    generator_id: str, checkpoints: list[bytes], description: str = "", metagraph: bytes = b""
) -> bytes:
    details = field(1, generator_id) + field(2, description)
    out = field(1, details)
    for checkpoint in checkpoints:
        out += field(2, checkpoint)
    return out + field(3, metagraph) + field(4, field(1, "a test bundle"))


def parse_bundle_checkpoint(data: bytes) -> tuple[str, bytes]:
    """(generator id, checkpoint bytes) of a bundle, with a tiny reader of this test's own."""
    from melodyrnn.models.protowire import fields

    generator_id, checkpoint = "", b""
    for number, _, value in fields(data):
        if number == 1:
            for sub, _, text in fields(value):
                if sub == 1:
                    generator_id = bytes(text).decode()
        elif number == 2:
            checkpoint = bytes(value)
    return generator_id, checkpoint


def block(entries: list[tuple[bytes, bytes]], restarts: int = 1) -> bytes:
    """A table block of ``entries`` (keys stored whole); ``restarts`` may lie."""
    out = bytearray()
    for key, value in entries:
        out += varint(0) + varint(len(key)) + varint(len(value)) + key + value
    return bytes(out) + (0).to_bytes(4, "little") + restarts.to_bytes(4, "little")


def _trailer(contents: bytes) -> bytes:
    return b"\0" + mask(crc32c(contents + b"\0")).to_bytes(4, "little")


def table_of_block(data: bytes, index_copies: int = 1) -> bytes:
    """A TF table whose one data block is ``data`` (CRCs right); the index may list it
    ``index_copies`` times."""
    out = data + _trailer(data)
    meta = block([])
    meta_offset = len(out)
    out += meta + _trailer(meta)
    handle = varint(0) + varint(len(data))
    index = block([(b"\xff" * (k + 1), handle) for k in range(index_copies)])
    index_offset = len(out)
    out += index + _trailer(index)
    return out + footer(meta_offset, len(meta), index_offset, len(index))


def footer(meta_offset: int, meta_size: int, index_offset: int, index_size: int) -> bytes:
    handles = varint(meta_offset) + varint(meta_size) + varint(index_offset) + varint(index_size)
    return handles + b"\0" * (40 - len(handles)) + (0xDB4775248B80FB57).to_bytes(8, "little")


def write_table(entries: list[tuple[bytes, bytes]]) -> bytes:
    """A TF table of ``entries`` (one data block), CRCs right."""
    return table_of_block(block(entries))


def _shape(shape) -> bytes:
    return b"".join(field(2, field(1, size)) for size in shape)


def v1_checkpoint(
    tensors: dict[str, np.ndarray],
    claimed_shapes: dict | None = None,
    dtypes: dict | None = None,
    sliced: tuple = (),
) -> bytes:
    """A V1 checkpoint of float32 ``tensors``. It can lie: ``claimed_shapes`` (name -> shape in
    the tensor list), ``dtypes`` (name -> DataType number listed), ``sliced`` (names listed
    with two slices)."""
    claimed_shapes, dtypes = claimed_shapes or {}, dtypes or {}
    meta = b""
    entries = []
    for name, value in sorted(tensors.items()):
        shape = claimed_shapes.get(name, value.shape)
        slice_ = b"".join(field(1, b"") for _ in shape)
        slices = field(4, slice_) * (2 if name in sliced else 1)
        listed = field(1, name) + field(2, _shape(shape)) + field(3, dtypes.get(name, 1))
        meta += field(1, listed + slices)
        data = field(5, np.ascontiguousarray(value, "<f4").tobytes())
        saved = field(1, name) + field(2, slice_) + field(3, data)
        entries.append((b"\0" + name.encode(), field(2, saved)))
    return write_table([(b"", field(1, meta)), *entries])
