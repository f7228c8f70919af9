"""The n-gram model's file (``ngram.npz``): what it holds, and the checks it passes when read.

:meth:`melodyrnn.models.ngram.NGramModel.save` writes, without pickles, a ``meta`` string (JSON:
format, version, order, num_classes, discount, modified) and per order ``m`` the sorted arrays
``ctx_keys_m`` (m > 1), ``ngram_keys_m``, ``raw_m`` and ``continuation_m`` (m < order).
:func:`read_ngram_file` reads them back with :func:`melodyrnn.models.folder.read_npz` (size,
element and pickle checks before any array is read), checks ``meta`` against
:data:`NGRAM_META_SCHEMA` and every table (:func:`check_tables`), so a damaged or hand-edited
file is a CheckpointError, never nonsense probabilities or a huge allocation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from melodyrnn.errors import CheckpointError
from melodyrnn.models.folder import parse_json, read_npz
from melodyrnn.models.schema import Anything, Bool, Int, Obj, Str

__all__ = ["FORMAT", "FORMAT_VERSION", "NGRAM_META_SCHEMA", "check_tables", "read_ngram_file"]

FORMAT = "melodyrnn-ngram"
FORMAT_VERSION = 1
NGRAM_META_SCHEMA = Obj(
    {
        "format": Str(),
        "version": Int(),
        "order": Int(1),
        "num_classes": Int(1),
        "discount": Anything(),  # checked by NGramModel
        "modified": Bool(),
    },
    required=("format", "version", "order", "num_classes", "discount", "modified"),
)


def read_ngram_file(path: Path) -> tuple[dict, dict[str, list[np.ndarray]]]:
    """``(meta, tables)`` of the n-gram file ``path`` (a path from ``inside_folder``)."""
    what = f"n-gram model {path}"
    arrays = read_npz(path, what=what)
    meta_text = arrays.pop("meta", None)
    if meta_text is None or meta_text.dtype.kind != "U" or meta_text.ndim:
        raise CheckpointError(f"cannot read {what}: it has no meta string")
    meta = parse_json(str(meta_text).encode(), f"{what} (meta)", NGRAM_META_SCHEMA)
    if meta["format"] != FORMAT or meta["version"] != FORMAT_VERSION:
        raise CheckpointError(f"{path} is not a melodyrnn n-gram model file")
    meta["order"], meta["num_classes"] = int(meta["order"]), int(meta["num_classes"])
    order = meta["order"]
    try:
        tables = {
            "ctx_keys": [np.zeros(0, np.int64)]
            + [arrays[f"ctx_keys_{m}"] for m in range(2, order + 1)],
            "ngram_keys": [arrays[f"ngram_keys_{m}"] for m in range(1, order + 1)],
            "raw": [arrays[f"raw_{m}"] for m in range(1, order + 1)],
            "continuation": [arrays[f"continuation_{m}"] for m in range(1, order)],
        }
    except KeyError as error:
        raise CheckpointError(f"cannot read {what}: it lacks the array {error}") from None
    check_tables(tables, meta["num_classes"], path)
    return meta, tables


def check_tables(tables: dict, num_classes: int, path) -> None:
    """Reject a damaged or hand-edited file before it yields nonsense probabilities."""
    base = num_classes + 1

    def bad(what: str):
        raise CheckpointError(f"n-gram model {path} is damaged ({what})")

    for kind, arrays in tables.items():
        for m, array in enumerate(arrays[1:] if kind == "ctx_keys" else arrays, 1):
            if array.ndim != 1 or array.dtype.kind not in "iu":
                bad(f"{kind} of order {m + (kind == 'ctx_keys')} is not a list of integers")
    previous_contexts = 1
    for m, keys in enumerate(tables["ngram_keys"], 1):
        ctx = tables["ctx_keys"][m - 1]
        n_ctx = len(ctx) if m > 1 else 1
        if m > 1 and (
            len(ctx) == 0
            or ctx[0] < 0
            or np.any(np.diff(ctx) <= 0)
            or ctx[-1] // base >= previous_contexts
        ):
            bad(f"context keys of order {m}")
        if len(keys) == 0 or np.any(np.diff(keys) <= 0) or keys[0] < 0:
            bad(f"n-gram keys of order {m}")
        if keys[-1] // num_classes >= n_ctx:  # before bincount allocates by the largest key
            bad(f"n-gram contexts of order {m}")
        per_context = np.bincount(keys // num_classes, minlength=n_ctx)
        if len(per_context) != n_ctx or np.any(per_context == 0):
            bad(f"n-gram contexts of order {m}")
        counts = [tables["raw"][m - 1]]
        if m <= len(tables["continuation"]):
            counts.append(tables["continuation"][m - 1])
        for c in counts:
            if c.shape != keys.shape or not np.issubdtype(c.dtype, np.integer) or c.min() < 1:
                bad(f"counts of order {m}")
        previous_contexts = n_ctx
