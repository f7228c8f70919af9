"""Hostile ``.mag`` bundles and TF checkpoints: each is one CheckpointError line, nothing big is
allocated.

Every case builds its input from the TensorFlow fixtures (tests/fixtures/mag) or from scratch
with the writers of tests/mag_helpers.py (which get the CRCs right, so a file can lie about a
size and still pass its checksums). The cases run twice: one test each (the error and its
message), and all together in one subprocess that caps the address space (``RLIMIT_AS``: 1 GiB
above what a valid load maps) and measures the peak RSS (VmHWM).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from helpers import peak_rss_kib
from mag_helpers import (
    block,
    encode_bundle,
    footer,
    load_npz,
    parse_bundle_checkpoint,
    table_of_block,
    unpack_fixtures,
    v1_checkpoint,
    varint,
    write_table,
)
from mag_helpers import (
    field as pb,
)

from melodyrnn.errors import CheckpointError, LimitError

PEAK_RSS_MB = 60  # above the baseline after loading one valid bundle
BIAS0 = "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias"
KERNEL0 = "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel"


@dataclass
class Case:
    build: Callable
    expect: str
    limit: bool = False
    env: dict = field(default_factory=dict)


CASES: dict[str, Case] = {}


def case(expect: str, limit: bool = False, env: dict | None = None):
    def register(build):
        CASES[build.__name__] = Case(build, expect, limit, env or {})
        return build

    return register


def basic_weights(mag: Path) -> dict[str, np.ndarray]:
    return {k: v for k, v in load_npz(mag, "basic_rnn").items() if not k.startswith("oracle/")}


def bundle_of(out: Path, checkpoint: bytes, generator_id: str = "basic_rnn") -> Path:
    path = out / f"{generator_id}.mag"
    path.write_bytes(encode_bundle(generator_id, [checkpoint]))
    return path


def fixture_checkpoint(mag: Path, name: str = "basic_rnn") -> bytes:
    return parse_bundle_checkpoint((mag / f"{name}.mag").read_bytes())[1]


# --- the bundle ---------------------------------------------------------------------------------


NOT_A_BUNDLE = "is not a Magenta generator bundle (.mag)"


@case(NOT_A_BUNDLE)
def truncated_bundle(mag, out):
    data = (mag / "basic_rnn.mag").read_bytes()
    (out / "x.mag").write_bytes(data[: len(data) // 2])
    return out / "x.mag"


@case(NOT_A_BUNDLE)
def random_bytes_named_mag(mag, out):
    (out / "x.mag").write_bytes(np.random.default_rng(5).bytes(65536))
    return out / "x.mag"


@case(NOT_A_BUNDLE)
def text_named_mag(mag, out):
    (out / "x.mag").write_text("this is not a bundle\n" * 50)
    return out / "x.mag"


@case(NOT_A_BUNDLE)
def empty_file_named_mag(mag, out):
    (out / "x.mag").write_bytes(b"")
    return out / "x.mag"


@case("says it holds 4611686018427387904 bytes")
def bundle_field_of_2_to_62_bytes(mag, out):
    (out / "x.mag").write_bytes(varint(2 << 3 | 2) + varint(1 << 62) + b"abc")
    return out / "x.mag"


@case("longer than 10 bytes")
def bundle_varint_of_11_bytes(mag, out):
    (out / "x.mag").write_bytes(b"\x0a" + b"\xff" * 11 + b"\x01")
    return out / "x.mag"


@case("2 checkpoint files")
def bundle_with_two_checkpoints(mag, out):
    checkpoint = fixture_checkpoint(mag)
    (out / "x.mag").write_bytes(encode_bundle("basic_rnn", [checkpoint, checkpoint]))
    return out / "x.mag"


@case("'performance_with_dynamics' model, which melodyrnn cannot run")
def bundle_of_an_unsupported_model(mag, out):
    return bundle_of(out, fixture_checkpoint(mag), "performance_with_dynamics")


@case("one_drum_rnn with Magenta's default note range has 2 and 2")
def bundle_of_one_drum_with_melody_weights(mag, out):
    return bundle_of(out, fixture_checkpoint(mag), "one_drum")


@case("lookback_rnn with Magenta's default note range has 121 and 40")
def bundle_whose_id_does_not_fit_its_weights(mag, out):
    return bundle_of(out, fixture_checkpoint(mag), "lookback_rnn")


@case("max_checkpoint_bytes", limit=True, env={"MELODYRNN_MAX_CHECKPOINT_BYTES": "4096"})
def bundle_over_the_byte_cap(mag, out):
    shutil.copy(mag / "basic_rnn.mag", out / "x.mag")
    return out / "x.mag"


@case("max_parameters", limit=True, env={"MELODYRNN_MAX_PARAMETERS": "1000"})
def bundle_over_the_parameter_cap(mag, out):
    shutil.copy(mag / "basic_rnn.mag", out / "x.mag")
    return out / "x.mag"


# --- the V1 checkpoint inside -----------------------------------------------------------------


@case("fails its CRC-32C check")
def checkpoint_with_a_flipped_byte(mag, out):
    checkpoint = bytearray(fixture_checkpoint(mag))
    checkpoint[len(checkpoint) // 3] ^= 0x10
    return bundle_of(out, bytes(checkpoint))


@case("does not end with the table magic number")
def checkpoint_cut_short(mag, out):
    return bundle_of(out, fixture_checkpoint(mag)[:-100])


@case("max_parameters", limit=True)
def checkpoint_claims_a_layer_of_10_to_8_units(mag, out):
    weights = basic_weights(mag)
    lies = {BIAS0: (4 * 10**8,), KERNEL0: (38 + 10**8, 4 * 10**8)}
    return bundle_of(out, v1_checkpoint(weights, claimed_shapes=lies))


@case("but its data holds 148 bytes")
def checkpoint_shape_says_more_than_its_data(mag, out):
    weights = basic_weights(mag)
    weights["fully_connected/biases"] = weights["fully_connected/biases"][:37]
    lie = {"fully_connected/biases": (38,)}
    return bundle_of(out, v1_checkpoint(weights, claimed_shapes=lie))


@case("claims the shape")
def checkpoint_dimension_of_2_to_41(mag, out):
    return bundle_of(out, v1_checkpoint(basic_weights(mag), claimed_shapes={BIAS0: (2**41,)}))


@case("several slices (a partitioned variable)")
def checkpoint_partitioned_variable(mag, out):
    return bundle_of(out, v1_checkpoint(basic_weights(mag), sliced=(KERNEL0,)))


@case("is int64, not float")
def checkpoint_integer_weights(mag, out):
    return bundle_of(out, v1_checkpoint(basic_weights(mag), dtypes={BIAS0: 9}))


@case("the same variable under two TensorFlow naming schemes")
def checkpoint_with_old_and_new_names(mag, out):
    weights = basic_weights(mag)
    weights[KERNEL0.replace("kernel", "weights")] = weights[KERNEL0]
    return bundle_of(out, v1_checkpoint(weights))


@case("lacks the variable fully_connected/weights")
def checkpoint_without_logits_weights(mag, out):
    weights = basic_weights(mag)
    del weights["fully_connected/weights"]
    return bundle_of(out, v1_checkpoint(weights))


FIRST = "rnn/multi_rnn_cell/cell_0/attention_cell_wrapper/"


def first_layer_weights(mag: Path) -> dict[str, np.ndarray]:
    """attention_rnn's weights in Magenta's post-2017 layout (attention around cell 0)."""
    npz = load_npz(mag, "attention_rnn_layer0")
    return {k: v for k, v in npz.items() if not k.startswith("oracle/")}


@case("has an attention wrapper around LSTM layer 1")
def checkpoint_with_attention_around_layer_1(mag, out):
    weights = {
        name.replace("cell_0/attention_cell_wrapper/", "cell_1/attention_cell_wrapper/"): value
        for name, value in first_layer_weights(mag).items()
    }
    return bundle_of(out, v1_checkpoint(weights), "attention_rnn")


@case("attention variables of two layouts")
def checkpoint_with_both_attention_layouts(mag, out):
    weights = first_layer_weights(mag)
    weights["rnn/attention_cell_wrapper/kernel"] = weights[FIRST + "kernel"]
    return bundle_of(out, v1_checkpoint(weights), "attention_rnn")


@case("LSTM layer 0 both inside and outside its attention wrapper")
def checkpoint_with_layer_0_twice(mag, out):
    weights = first_layer_weights(mag)
    weights[KERNEL0] = weights[FIRST + "basic_lstm_cell/kernel"]
    return bundle_of(out, v1_checkpoint(weights), "attention_rnn")


@case(f"variable {FIRST}attention/kernel has shape [16, 4] but a model with input width 74")
def checkpoint_first_layer_query_of_the_whole_stack(mag, out):
    weights = first_layer_weights(mag)
    weights[FIRST + "attention/kernel"] = np.zeros((16, 4), np.float32)  # c, h of both layers
    return bundle_of(out, v1_checkpoint(weights), "attention_rnn")


@case(f"lacks the variable {FIRST}attention_output_projection/kernel")
def checkpoint_first_layer_without_output_projection(mag, out):
    weights = first_layer_weights(mag)
    del weights[FIRST + "attn_output_projection/kernel"]
    return bundle_of(out, v1_checkpoint(weights), "attention_rnn")


@case("holds a cuDNN LSTM")
def checkpoint_of_a_cudnn_lstm(mag, out):
    weights = basic_weights(mag)
    weights["cudnn_lstm/opaque_kernel"] = np.zeros(8, np.float32)
    return bundle_of(out, v1_checkpoint(weights))


@case("past the end of the table")
def table_index_handle_past_the_end(mag, out):
    table = bytearray(write_table([(b"", b"x")]))
    table[-48:] = footer(0, 0, 2**40, 100)
    return bundle_of(out, bytes(table))


@case("past the end of the table")
def table_index_size_of_2_to_62(mag, out):
    table = bytearray(write_table([(b"", b"x")]))
    table[-48:] = footer(0, 0, 0, 2**62)
    return bundle_of(out, bytes(table))


@case("overlaps the block before it")
def table_lists_one_block_twice(mag, out):
    return bundle_of(out, table_of_block(block([(b"", b"x")]), index_copies=2))


@case("restart points, more than it can hold")
def table_block_claims_2_to_31_restarts(mag, out):
    return bundle_of(out, table_of_block(block([(b"", b"x")], restarts=2**31)))


@case("runs past the end of its block")
def table_entry_value_runs_past_its_block(mag, out):
    raw = varint(0) + varint(1) + varint(2**40) + b"k" + b"v" * 10
    return bundle_of(out, table_of_block(raw + (0).to_bytes(4, "little") + b"\x01\0\0\0"))


# --- V2 run folders -----------------------------------------------------------------------------


def run_copy(mag: Path, out: Path, name: str = "basic_rnn") -> Path:
    shutil.copytree(mag / f"{name}_run", out / "run")
    return out / "run"


DATA = "model.ckpt-321.data-00000-of-00001"


@case("is truncated or not this checkpoint's data")
def v2_data_file_cut_in_half(mag, out):
    run = run_copy(mag, out)
    data = run / "train" / DATA
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    return run


@case("fails its CRC-32C check")
def v2_data_file_with_a_flipped_byte(mag, out):
    run = run_copy(mag, out)
    data = run / "train" / DATA
    raw = bytearray(data.read_bytes())
    raw[100] ^= 1
    data.write_bytes(bytes(raw))
    return run


@case("is missing")
def v2_data_file_missing(mag, out):
    run = run_copy(mag, out)
    (run / "train" / DATA).unlink()
    return run


@case("does not end with the table magic number")
def v2_index_cut_short(mag, out):
    run = run_copy(mag, out)
    index = run / "train" / "model.ckpt-321.index"
    index.write_bytes(index.read_bytes()[:-10])
    return run


@case("needs bytes 1125899906842624..")
def v2_offset_of_2_to_50(mag, out):
    from melodyrnn.models.protowire import fields
    from melodyrnn.models.tf_table import read_table

    run = run_copy(mag, out)
    index = run / "train" / "model.ckpt-321.index"
    entries = []
    for key, value in read_table(index.read_bytes()):
        if key == BIAS0.encode():
            value = b"".join(
                pb(n, 2**50 if n == 4 else v) if wire == 0 else pb(n, v)
                for n, wire, v in fields(value)
                if wire in (0, 2)
            )  # (drops the CRC field, fixed32)
        entries.append((bytes(key), bytes(value)))
    index.write_bytes(write_table(entries))
    return run


@case("which is not in")
def v2_checkpoint_file_names_a_missing_step(mag, out):
    run = run_copy(mag, out)
    (run / "train" / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-999"\n')
    return run


@case("leaves the folder")
def v2_checkpoint_file_names_a_path_outside(mag, out):
    run = run_copy(mag, out)
    shutil.copytree(run / "train", out / "elsewhere")
    (run / "train" / "checkpoint").write_text(
        'model_checkpoint_path: "../../elsewhere/model.ckpt-321"\n'
    )
    for name in ("model.ckpt-321.index", DATA):
        (run / "train" / name).unlink()
    return run


@case("no Magenta config takes inputs of width 38 and predicts 39 classes")
def v1_file_of_no_known_config(mag, out):
    weights = basic_weights(mag)
    weights["fully_connected/weights"] = np.zeros((12, 39), np.float32)
    weights["fully_connected/biases"] = np.zeros(39, np.float32)
    (out / "model.ckpt").write_bytes(v1_checkpoint(weights))
    return out / "model.ckpt"


# --- running them -----------------------------------------------------------------------------


def run_case(name: str, path: Path):
    """The error loading ``path`` raises (None if it loads)."""
    from melodyrnn.models.registry import load_network

    spec = CASES[name]
    saved = {key: os.environ.get(key) for key in spec.env}
    os.environ.update(spec.env)
    try:
        load_network(path)
    except Exception as error:  # noqa: BLE001 - the caller checks the type
        return error
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return None


@pytest.fixture(scope="module")
def mag(tmp_path_factory):
    return unpack_fixtures(tmp_path_factory.mktemp("fixtures") / "mag")


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_is_one_checkpoint_error_line(name, mag, tmp_path):
    path = CASES[name].build(mag, tmp_path)
    error = run_case(name, path)
    assert isinstance(error, CheckpointError), f"{name}: {error!r}"
    assert isinstance(error, LimitError) == CASES[name].limit, f"{name}: {error!r}"
    message = str(error)
    assert "\n" not in message and CASES[name].expect in message, message
    assert str(path.name) in message or path.name in str(error), message


def watch_all() -> None:
    """Run every case in this process and print a JSON report: each case's error and the peak
    RSS above the baseline (a valid bundle loaded first)."""
    import resource
    import tempfile

    from melodyrnn.models.registry import load_network

    root = Path(tempfile.mkdtemp())
    mag = unpack_fixtures(root / "mag")
    built = {}
    for name in sorted(CASES):
        (root / name).mkdir()
        built[name] = CASES[name].build(mag, root / name)
    load_network(mag / "attention_rnn.mag")
    load_network(mag / "drum_kit_run")  # imports done, caches warm: the baseline
    base = peak_rss_kib()
    with open("/proc/self/statm") as handle:
        mapped = int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (mapped + 2**30, resource.RLIM_INFINITY))
    results = {}
    for name, path in built.items():
        error = run_case(name, path)
        results[name] = [isinstance(error, CheckpointError), type(error).__name__, str(error)]
    peak = peak_rss_kib()
    print(json.dumps({"results": results, "peak_mb": (peak - base) / 1024}))
    shutil.rmtree(root, ignore_errors=True)


def test_no_case_allocates(tmp_path):
    """All cases in one process: no MemoryError under 1 GiB of address-space headroom, and a
    peak RSS within PEAK_RSS_MB of the baseline."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
    code += "import test_mag_attacks as attacks; attacks.watch_all()"
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    failed = {name: result for name, result in report["results"].items() if not result[0]}
    assert not failed
    assert report["peak_mb"] < PEAK_RSS_MB, report["peak_mb"]
