"""Hostile checkpoint folders, for every loader (ours, magenta.js, n-gram): each is one
CheckpointError line, nothing outside the folder is opened, and nothing big is allocated.

Every case builds its folder in a sandbox that also holds, in ``outside/``, valid files of each
kind (a magenta.js shard and manifest, our config and weights, an n-gram file): the canaries a
path escape would reach. The cases run twice: here, one test each (the error and its message),
and all together in one subprocess (:func:`test_no_case_opens_outside_files_or_allocates`) that
watches every ``open`` with ``sys.addaudithook``, caps the address space (``RLIMIT_AS``) and
measures the peak RSS (VmHWM).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from helpers import peak_rss_kib

from melodyrnn.errors import CheckpointError, LimitError
from melodyrnn.models.checkpoint import save_checkpoint
from melodyrnn.models.configs import get_config
from melodyrnn.models.ngram import NGramModel
from melodyrnn.models.ngram_net import MarkovConfig, NGramNet, save_ngram_model
from melodyrnn.models.rnn import EventRNN
from melodyrnn.models.tfjs_weights import read_tfjs_weights

JS = Path(__file__).parent / "fixtures" / "magenta_js" / "checkpoints"
SHARD = "group1-shard1of1"
BIAS0 = "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias"
PEAK_RSS_MB = 300  # above the baseline after loading one valid checkpoint of each kind


class Pwned:
    """Unpickling this touches ``marker``: it must never happen."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (self.marker.touch, ())


class Sandbox:
    """A temporary root with valid canaries in ``outside/`` and helpers to build folders."""

    def __init__(self, root: Path):
        self.root = root
        self.outside = root / "outside"
        self.outside.mkdir()
        self.marker = root / "pwned"
        shutil.copy(JS / "melody_2x64" / SHARD, self.outside / SHARD)
        shutil.copy(JS / "melody_2x64" / "weights_manifest.json", self.outside)
        ours = self.ours("ours_canary")
        for name in ("config.json", "model.safetensors"):
            shutil.copy(ours / name, self.outside / name)
        shutil.copy(self.ngram("ngram_canary") / "ngram.npz", self.outside / "ngram.npz")
        self.canaries = sorted(str(p) for p in self.outside.iterdir())
        self.folder = root / "ckpt"

    def js(self, name: str = "melody_2x64") -> Path:
        return Path(shutil.copytree(JS / name, self.folder))

    def ours(self, name: str = "ckpt", **overrides) -> Path:
        config = get_config("basic_rnn", layer_sizes=[8], **overrides)
        return save_checkpoint(EventRNN.from_config(config), config, self.root / name)

    def ngram(self, name: str = "ckpt") -> Path:
        model = NGramModel(3, 38).fit([np.arange(38) % 38, np.arange(20) % 7])
        return save_ngram_model(NGramNet(model), MarkovConfig(order=3), self.root / name)


def edit_json(path: Path, edit: Callable) -> None:
    data = json.loads(path.read_text())
    edited = edit(data)
    path.write_text(json.dumps(data if edited is None else edited))


def write_js_weights(folder: Path, tensors: dict[str, np.ndarray]) -> None:
    """Rewrite a magenta.js folder's manifest and one shard to hold exactly ``tensors``."""
    (folder / SHARD).write_bytes(b"".join(v.astype("<f4").tobytes() for v in tensors.values()))
    weights = [{"name": n, "shape": list(v.shape), "dtype": "float32"} for n, v in tensors.items()]
    (folder / "weights_manifest.json").write_text(
        json.dumps([{"paths": [SHARD], "weights": weights}])
    )


def sparse(path: Path, size: int) -> None:
    """A file of ``size`` bytes that takes no disk space: its real size, not its content."""
    path.unlink(missing_ok=True)
    with open(path, "wb") as handle:
        handle.truncate(size)


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


# --- the cases ---------------------------------------------------------------------------------


@dataclass
class Case:
    build: Callable[[Sandbox], Path]
    loader: str  # ours | js | ngram | any
    expect: str  # a part of the message
    limit: bool = False  # a cap: also a LimitError
    env: dict = field(default_factory=dict)


CASES: dict[str, Case] = {}


def case(loader: str, expect: str, limit: bool = False, env: dict | None = None):
    def register(build):
        CASES[build.__name__] = Case(build, loader, expect, limit, env or {})
        return build

    return register


LEAVES = "leaves the folder"


def _manifest_paths(box: Sandbox, paths: list[str]) -> Path:
    folder = box.js()
    edit_json(folder / "weights_manifest.json", lambda m: m[0].update(paths=paths))
    return folder


@case("js", LEAVES)
def js_dotdot_to_valid_outside_weights(box):
    return _manifest_paths(box, [f"../outside/{SHARD}"])


@case("js", LEAVES)
def js_deep_dotdot(box):
    return _manifest_paths(box, ["../../../../../../../../etc/passwd"])


@case("js", LEAVES)
def js_absolute_etc_passwd(box):
    return _manifest_paths(box, ["/etc/passwd"])


@case("js", LEAVES)
def js_proc_self_environ(box):
    return _manifest_paths(box, ["/proc/self/environ"])


@case("js", LEAVES)
def js_absolute_canary(box):
    return _manifest_paths(box, [str(box.outside / SHARD)])


@case("js", LEAVES)
def js_symlinked_shard(box):
    folder = box.js()
    (folder / SHARD).unlink()
    (folder / SHARD).symlink_to(box.outside / SHARD)
    return folder


@case("js", LEAVES)
def js_shard_in_symlinked_subfolder(box):
    folder = _manifest_paths(box, [f"sub/{SHARD}"])
    (folder / "sub").symlink_to(box.outside, target_is_directory=True)
    return folder


@case("js", LEAVES)
def js_symlinked_manifest(box):
    folder = box.js()
    (folder / "weights_manifest.json").unlink()
    (folder / "weights_manifest.json").symlink_to(box.outside / "weights_manifest.json")
    return folder


@case("js", LEAVES)
def js_shared_library_20_times(box):
    torch_lib = Path(__import__("torch").__file__).parent / "lib"
    biggest = max(torch_lib.glob("*.so*"), key=lambda p: p.stat().st_size)
    return _manifest_paths(box, [str(biggest)] * 20)


@case("js", "lists the shard file 'group1-shard1of1' twice")
def js_one_shard_12000_times(box):
    return _manifest_paths(box, [SHARD] * 12_000)


@case("js", "needs [8038, 32000]")
def js_bias_of_32000_values(box):
    folder = box.js()
    tensors = read_tfjs_weights(folder)
    tensors[BIAS0] = np.zeros(32_000, np.float32)  # 128 KB that ask for layer size 8000
    write_js_weights(folder, tensors)
    return folder


@case("js", "truncated shard data")
def js_shape_lies_about_the_data(box):
    folder = box.js()
    edit_json(
        folder / "weights_manifest.json", lambda m: m[0]["weights"][0].update(shape=[10**6, 10**6])
    )
    return folder


@case("js", "shape[0] must be an integer >= 0, got -1")
def js_negative_shape(box):
    folder = box.js()
    edit_json(folder / "weights_manifest.json", lambda m: m[0]["weights"][0].update(shape=[-1]))
    return folder


@case("js", "lists the tensor")
def js_tensor_listed_twice(box):
    folder = box.js()
    edit_json(
        folder / "weights_manifest.json", lambda m: m[0]["weights"].append(m[0]["weights"][-1])
    )
    return folder


@case("js", "over the limit", limit=True)
def js_shard_bigger_than_the_cap(box):
    folder = box.js()
    sparse(folder / SHARD, 2**30 + 8)
    return folder


@case("js", "over the limit", limit=True)
def js_manifest_bigger_than_the_cap(box):
    folder = box.js()
    sparse(folder / "weights_manifest.json", 64 * 2**20 + 1)
    return folder


@case("js", "over the limit", limit=True, env={"MELODYRNN_MAX_PARAMETERS": "1000"})
def js_more_parameters_than_the_cap(box):
    return box.js()


@case("js", "not a regular file")
def js_shard_is_a_fifo(box):
    folder = box.js()
    (folder / SHARD).unlink()
    os.mkfifo(folder / SHARD)
    return folder


@case("js", "truncated shard data")
def js_shard_is_a_pickle(box):
    folder = _manifest_paths(box, ["weights.pt"])
    (folder / "weights.pt").write_bytes(__import__("pickle").dumps(Pwned(box.marker)))
    return folder


def _js_config(edit):
    def build(box):
        folder = box.js("drum_kit_3x16_attn")
        edit_json(folder / "config.json", edit)
        return folder

    return build


for _name, _edit, _expect in [
    ("numbits_1e7", lambda c: c["auxInputs"][0]["args"].update(numBits=10**7), "got 10000000"),
    ("numbits_text", lambda c: c["auxInputs"][0]["args"].update(numBits="x"), "numBits must"),
    ("attention_text", lambda c: c.update(attentionLength="abc"), "attentionLength must"),
    (
        "converter_args_list",
        lambda c: c["dataConverter"].update(args=[1]),
        "args must be an object",
    ),
    ("aux_args_list", lambda c: c["auxInputs"][0].update(args=[6]), "args must be an object"),
    ("chord_encoder_list", lambda c: c.update(chordEncoder=["x"]), "chordEncoder must be a string"),
    ("config_not_an_object", lambda c: [c], "$ must be an object"),
]:
    CASES[f"js_config_{_name}"] = Case(_js_config(_edit), "js", _expect)


@case("js", "over the limit", limit=True)
def js_config_200000_deep(box):
    folder = box.js()
    (folder / "config.json").write_text(deep(200_000))
    return folder


@case("js", "over the limit", limit=True)
def js_manifest_200000_deep(box):
    folder = box.js()
    (folder / "weights_manifest.json").write_text(deep(200_000))
    return folder


# Our checkpoint format.


@case("ours", "578,328,038 parameters, over the limit", limit=True)
def ours_layer_sizes_12000(box):
    folder = box.ours()
    edit_json(folder / "config.json", lambda d: d["config"].update(layer_sizes=[12_000]))
    return folder


@case("ours", "needs [4038, 16000]")
def ours_layer_sizes_lie_about_the_weights(box):
    folder = box.ours()  # 64 M parameters: under the cap, but the file holds a few thousand
    edit_json(folder / "config.json", lambda d: d["config"].update(layer_sizes=[4000]))
    return folder


@case("ours", LEAVES)
def ours_symlinked_config(box):
    folder = box.ours()
    (folder / "config.json").unlink()
    (folder / "config.json").symlink_to(box.outside / "config.json")
    return folder


@case("ours", LEAVES)
def ours_symlinked_weights(box):
    folder = box.ours()
    (folder / "model.safetensors").unlink()
    (folder / "model.safetensors").symlink_to(box.outside / "model.safetensors")
    return folder


def _ours_config_text(old: str, new: str):
    def build(box):
        folder = box.ours()
        path = folder / "config.json"
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))
        return folder

    return build


for _name, _old, _new, _expect in [
    ("input_size_nan", '"input_size": 38', '"input_size": NaN', "input_size must be an integer"),
    ("input_size_1e400", '"input_size": 38', '"input_size": 1e400', "got 1e400"),
    ("layer_sizes_text", '"layer_sizes": [\n      8\n    ]', '"layer_sizes": "abc"', "a list"),
    ("batch_size_0", '"batch_size": 128', '"batch_size": 0', "batch_size must be an integer >= 1"),
    ("learning_rate_text", '"learning_rate": 0.001', '"learning_rate": "x"', "learning_rate"),
    ("metadata_list", '"metadata": {}', '"metadata": []', "$.metadata must be an object"),
]:
    CASES[f"ours_config_{_name}"] = Case(_ours_config_text(_old, _new), "ours", _expect)


@case("ours", "over the limit", limit=True)
def ours_config_200000_deep(box):
    folder = box.ours()
    (folder / "config.json").write_text(deep(200_000))
    return folder


@case("ours", "over the limit", limit=True)
def ours_metadata_100_deep(box):
    folder = box.ours()
    edit_json(folder / "config.json", lambda d: d.update(metadata={"x": json.loads(deep(100))}))
    return folder


@case("ours", "corrupt")
def ours_weights_are_a_pickle(box):
    folder = box.ours()
    (folder / "model.safetensors").write_bytes(__import__("pickle").dumps(Pwned(box.marker)))
    return folder


@case("ours", "model.safetensors is missing")
def ours_pytorch_bin_instead_of_safetensors(box):
    folder = box.ours()
    (folder / "model.safetensors").unlink()
    for name in ("pytorch_model.bin", "model.pt"):
        (folder / name).write_bytes(__import__("pickle").dumps(Pwned(box.marker)))
    return folder


@case("ours", "lies past its end")
def ours_header_lies_about_the_data(box):
    folder = box.ours()
    path = folder / "model.safetensors"
    data = path.read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    header["logits.biases"]["data_offsets"][1] = 10**12
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + data[8 + size :])
    return folder


@case("ours", "over the limit", limit=True)
def ours_header_200000_deep(box):
    folder = box.ours()
    text = deep(200_000).encode()
    (folder / "model.safetensors").write_bytes(len(text).to_bytes(8, "little") + text)
    return folder


@case("ours", "over the limit", limit=True)
def ours_weights_bigger_than_the_cap(box):
    folder = box.ours()
    sparse(folder / "model.safetensors", 2**30 + 1)
    return folder


@case("ours", "not a regular file")
def ours_weights_are_a_fifo(box):
    folder = box.ours()
    (folder / "model.safetensors").unlink()
    os.mkfifo(folder / "model.safetensors")
    return folder


# The n-gram format.


@case("ngram", LEAVES)
def ngram_symlinked_npz(box):
    folder = box.ngram()
    (folder / "ngram.npz").unlink()
    (folder / "ngram.npz").symlink_to(box.outside / "ngram.npz")
    return folder


@case("ngram", LEAVES)
def ngram_symlinked_config(box):
    folder = box.ngram()
    config = folder / "config.json"
    (box.outside / "ngram_config.json").write_bytes(config.read_bytes())
    config.unlink()
    config.symlink_to(box.outside / "ngram_config.json")
    return folder


def _npz(folder: Path, **arrays) -> None:
    with open(folder / "ngram.npz", "wb") as handle:
        np.savez(handle, **arrays)


def _saved_arrays(folder: Path) -> dict:
    with np.load(folder / "ngram.npz") as data:
        return dict(data)


@case("ngram", "holds Python objects")
def ngram_object_array(box):
    folder = box.ngram()
    arrays = _saved_arrays(folder)
    arrays["raw_1"] = np.array([Pwned(box.marker)], dtype=object)
    _npz(folder, **arrays)
    return folder


@case("ngram", "more than its entry")
def ngram_array_header_lies(box):
    folder = box.ngram()
    with (
        zipfile.ZipFile(folder / "ngram.npz", "w") as archive,
        archive.open("raw_1.npy", "w") as member,
    ):
        np.lib.format.write_array_header_1_0(
            member, {"descr": "<i8", "fortran_order": False, "shape": (10**9,)}
        )
    return folder


@case("ngram", "over the limit", limit=True, env={"MELODYRNN_MAX_CHECKPOINT_BYTES": "1000000"})
def ngram_zip_bomb(box):
    folder = box.ngram()
    arrays = _saved_arrays(folder)
    arrays["raw_1"] = np.zeros(1_000_000, np.int64)  # 8 MB that compress to a few KB
    with open(folder / "ngram.npz", "wb") as handle:
        np.savez_compressed(handle, **arrays)
    return folder


@case("ngram", "too many entries")
def ngram_zip_of_30000_entries(box):
    folder = box.ngram()
    with zipfile.ZipFile(folder / "ngram.npz", "w") as archive:
        for n in range(30_000):
            archive.writestr(f"entry_{n:040d}.npy", b"")
    return folder


@case("ngram", "damaged")
def ngram_key_of_2_to_62(box):
    folder = box.ngram()
    arrays = _saved_arrays(folder)
    arrays["ngram_keys_1"] = np.array([0, 2**62], np.int64)  # bincount would allocate 2^62/38
    arrays["raw_1"] = arrays["continuation_1"] = np.ones(2, np.int64)
    _npz(folder, **arrays)
    return folder


@case("ngram", "damaged")
def ngram_float_keys(box):
    folder = box.ngram()
    arrays = _saved_arrays(folder)
    arrays["ngram_keys_2"] = arrays["ngram_keys_2"].astype(np.float64)
    _npz(folder, **arrays)
    return folder


def _ngram_meta(edit):
    def build(box):
        folder = box.ngram()
        arrays = _saved_arrays(folder)
        meta = json.loads(str(arrays["meta"]))
        edited = edit(meta)
        arrays["meta"] = np.array(edited if isinstance(edited, str) else json.dumps(meta))
        _npz(folder, **arrays)
        return folder

    return build


for _name, _edit, _expect in [
    ("order_text", lambda m: m.update(order="x"), "order must be an integer"),
    ("order_1e9", lambda m: m.update(order=10**9), "lacks the array"),
    ("num_classes_nan", lambda m: m.update(num_classes=float("nan")), "num_classes must"),
    ("discount_list", lambda m: m.update(discount=[1, 2]), "discount"),
    ("200000_deep", lambda m: deep(200_000), "over the limit"),
]:
    CASES[f"ngram_meta_{_name}"] = Case(_ngram_meta(_edit), "ngram", _expect, "deep" in _name)


for _name, _edit, _expect in [
    ("order_text", lambda d: d["config"].update(order="x"), "$.config.order must be an integer"),
    ("min_note_list", lambda d: d["config"].update(min_note=[1]), "min_note must"),
    ("encoder_list", lambda d: d["config"].update(encoder=[]), "encoder must be an object"),
]:

    def _build(box, edit=_edit):
        folder = box.ngram()
        edit_json(folder / "config.json", edit)
        return folder

    CASES[f"ngram_config_{_name}"] = Case(_build, "ngram", _expect)


@case("ngram", "over the limit", limit=True)
def ngram_config_200000_deep(box):
    folder = box.ngram()
    (folder / "config.json").write_text(deep(200_000))
    return folder


@case("any", LEAVES)
def registry_sniffs_a_symlinked_manifest(box):
    return js_symlinked_manifest(box)


# --- running them ------------------------------------------------------------------------------


def loaders() -> dict[str, Callable]:
    from melodyrnn.models.checkpoint import load_checkpoint
    from melodyrnn.models.magenta_js import load_magenta_js_checkpoint
    from melodyrnn.models.ngram_net import load_ngram_model
    from melodyrnn.models.registry import load_network

    return {
        "ours": load_checkpoint,
        "js": load_magenta_js_checkpoint,
        "ngram": load_ngram_model,
        "any": load_network,
    }


def run_case(name: str, folder: Path):
    """The error loading ``folder`` raises (None if it loads)."""
    spec = CASES[name]
    saved = {key: os.environ.get(key) for key in spec.env}
    os.environ.update(spec.env)
    try:
        loaders()[spec.loader](folder)
    except Exception as error:  # noqa: BLE001 - the caller checks the type
        return error
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return None


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_is_one_checkpoint_error_line(name, tmp_path):
    box = Sandbox(tmp_path)
    folder = CASES[name].build(box)
    error = run_case(name, folder)
    assert isinstance(error, CheckpointError), f"{name}: {error!r}"
    assert isinstance(error, LimitError) == CASES[name].limit, f"{name}: {error!r}"
    message = str(error)
    assert "\n" not in message and CASES[name].expect in message, message
    if CASES[name].expect == LEAVES:
        assert message.endswith(LEAVES) and "bytes" not in message
    assert not box.marker.exists()


def watch_all() -> None:
    """Run every case in this process (a subprocess of the test) and print a JSON report:
    each case's error, the outside files opened, and the peak RSS above the baseline."""
    import resource
    import tempfile

    root = Path(tempfile.mkdtemp())
    boxes = {}
    for name in sorted(CASES):
        (root / name).mkdir()
        box = Sandbox(root / name)
        boxes[name] = (box, CASES[name].build(box))
    valid = Sandbox(Path(tempfile.mkdtemp()))
    for loader, folder in [
        ("js", valid.js()),
        ("ours", valid.ours("o")),
        ("ngram", valid.ngram("n")),
    ]:
        loaders()[loader](folder)  # imports done, caches warm: the baseline
    base = peak_rss_kib()
    with open("/proc/self/statm") as handle:
        mapped = int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (mapped + 2**30, resource.RLIM_INFINITY))

    torch_lib = os.path.realpath(Path(__import__("torch").__file__).parent / "lib")
    current: list = [None]
    opened: list = []

    def audit(event, args):
        if event != "open" or current[0] is None:
            return
        if not isinstance(args[0], str | bytes | os.PathLike):
            return
        path = os.path.realpath(os.fsdecode(args[0]))
        box, folder = boxes[current[0]]
        inside = path.startswith(str(folder.resolve()) + os.sep)
        outside = path.startswith(str(box.root)) and not inside
        watched = path in ("/etc/passwd", "/proc/self/environ") or path in box.canaries
        if watched or outside or path.startswith(torch_lib):
            opened.append((current[0], path))

    sys.addaudithook(audit)
    results = {}
    for name, (box, folder) in boxes.items():
        current[0] = name
        error = run_case(name, folder)
        current[0] = None
        ok = isinstance(error, CheckpointError) and not box.marker.exists()
        results[name] = [ok, type(error).__name__, str(error)[:200]]
    peak = peak_rss_kib()
    print(json.dumps({"results": results, "opened": opened, "peak_mb": (peak - base) / 1024}))
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(valid.root, ignore_errors=True)


def test_no_case_opens_outside_files_or_allocates(tmp_path):
    """All cases in one process: no outside file opened, no MemoryError under a 1 GiB address
    space headroom, and a peak RSS within PEAK_RSS_MB of the baseline."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
    code += "import test_checkpoint_attacks as attacks; attacks.watch_all()"
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    failed = {name: result for name, result in report["results"].items() if not result[0]}
    assert not failed
    assert report["opened"] == []
    assert report["peak_mb"] < PEAK_RSS_MB, report["peak_mb"]
