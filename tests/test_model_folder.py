"""The pieces every checkpoint loader reads through: models.folder (paths inside the folder,
bounded reads, depth-capped JSON, pickle-free .npz), models.schema, and ModelConfig's checks
(types, ranges and the parameter count, before any model is built)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from melodyrnn.cli import main
from melodyrnn.errors import CheckpointError, CheckpointLimitError, ConfigError, ConfigLimitError
from melodyrnn.models.configs import CONFIGS, ModelConfig, get_config, parameter_shapes
from melodyrnn.models.folder import (
    inside_folder,
    json_depth,
    parse_json,
    read_file,
    read_files,
    read_npz,
)
from melodyrnn.models.magenta_js import load_magenta_js_checkpoint
from melodyrnn.models.rnn import EventRNN
from melodyrnn.models.schema import (
    Anything,
    Arr,
    Bool,
    Either,
    Int,
    NonFinite,
    Num,
    Obj,
    Opt,
    Str,
    first_problem,
)
from melodyrnn.training.dataset import MelodyDataset, save_dataset
from melodyrnn.training.train import parse_hparams

JS = Path(__file__).parent / "fixtures" / "magenta_js" / "checkpoints"

# --- schema ------------------------------------------------------------------------------------

SCHEMA = Obj(
    {
        "n": Int(1, 9),
        "x": Num(0, 1, exclusive=True),
        "flag": Bool(),
        "kind": Str(("a", "b")),
        "sizes": Arr(Int(0), 1, 3),
        "maybe": Opt(Int()),
        "aux": Arr(
            Either((Str(), Obj({"bits": Int(0, 30)}, extra=Anything())), "a name or {bits}")
        ),
    },
    required=("n",),
)


@pytest.mark.parametrize(
    "value, problem",
    [
        ({"n": 3}, None),
        ({"n": 3.0, "sizes": [1e6], "maybe": None, "aux": ["x", {"bits": 2, "y": [1]}]}, None),
        ({}, ("$", "lacks the key 'n'")),
        ({"n": 0}, ("$.n", "must be an integer from 1 to 9, got 0")),
        ({"n": True}, ("$.n", "must be an integer from 1 to 9, got True")),
        ({"n": 1.5}, ("$.n", "must be an integer from 1 to 9, got 1.5")),
        ({"n": NonFinite("1e400")}, ("$.n", "must be an integer from 1 to 9, got 1e400")),
        ({"n": 1, "x": 0}, ("$.x", "must be a finite number in (0, 1], got 0")),
        ({"n": 1, "x": float("nan")}, ("$.x", "must be a finite number in (0, 1], got nan")),
        ({"n": 1, "flag": 1}, ("$.flag", "must be true or false, got 1")),
        ({"n": 1, "kind": "c"}, ("$.kind", "must be one of a, b, got 'c'")),
        ({"n": 1, "sizes": []}, ("$.sizes", "must hold from 1 to 3 entries, got 0")),
        ({"n": 1, "sizes": [0, -1]}, ("$.sizes[1]", "must be an integer >= 0, got -1")),
        (
            {"n": 1, "aux": [{"bits": "x"}]},
            ("$.aux[0].bits", "must be an integer from 0 to 30, got 'x'"),
        ),
        ({"n": 1, "aux": [[1]]}, ("$.aux[0]", "must be a name or {bits}, got a list")),
        (
            {"n": 1, "aux": [{"bits": 1, "z": NonFinite("NaN")}]},
            ("$.aux[0].z", "must be a finite number, got NaN"),
        ),
        ({"n": 1, "odd key": 1}, ("$", "has the unknown key 'odd key'")),
        ([1], ("$", "must be an object, got a list")),
    ],
)
def test_first_problem_names_the_json_path(value, problem):
    assert first_problem(value, SCHEMA) == problem


def test_paths_of_odd_keys_and_a_bare_root():
    assert first_problem({"a b": {"c": "x"}}, Obj(extra=Obj({"c": Int()}))) == (
        "$['a b'].c",
        "must be an integer, got 'x'",
    )
    assert first_problem({"n": 0}, SCHEMA, root="")[0] == "n"


# --- JSON --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, depth",
    [
        ("1", 0),
        ("[]", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('["[[[[", "\\"[[[", {"x": "]]]]]]"}]', 2),
        ('"\\\\" [', 1),
        ("[" * 5000 + "]" * 5000, 5000),
    ],
)
def test_json_depth_counts_brackets_outside_strings(text, depth):
    assert json_depth(text.encode()) == depth


class Permissive:
    """A schema that accepts every value, NonFinite included."""

    @staticmethod
    def check(value, path):
        return None


def test_parse_json_caps_depth_before_parsing_and_marks_non_finite_numbers():
    with pytest.raises(CheckpointLimitError, match=r"is 65 levels.*max_json_depth"):
        parse_json(b"[" * 65 + b"]" * 65, "x.json", Anything())
    assert parse_json(b"[" * 65 + b"]" * 65, "x.json", Anything(), max_depth=65)
    value = parse_json(b'{"a": NaN, "b": 1e400, "c": -Infinity, "d": 1.5}', "x", Permissive())
    assert isinstance(value["a"], NonFinite) and repr(value["b"]) == "1e400"
    assert value["d"] == 1.5
    with pytest.raises(CheckpointError, match=r"x: \$.a must be a finite number, got NaN"):
        parse_json(b'{"a": NaN}', "x", Anything())
    with pytest.raises(CheckpointError, match="not valid JSON"):
        parse_json(b"1" * 5000, "x", Anything())  # more digits than Python converts
    with pytest.raises(CheckpointError, match="not valid JSON"):
        parse_json(b'{"a": "\xff"}', "x", Anything())


# --- files -------------------------------------------------------------------------------------


def test_inside_folder(tmp_path):
    folder = tmp_path / "ckpt"
    (folder / "sub").mkdir(parents=True)
    (folder / "a").write_bytes(b"x")
    (folder / "sub" / "link").symlink_to(folder / "a")
    (tmp_path / "out").write_bytes(b"secret")
    (folder / "escape").symlink_to(tmp_path / "out")
    (folder / "loop").symlink_to(folder / "loop")
    assert inside_folder(folder, "a") == (folder / "a").resolve()
    assert inside_folder(folder, "sub/../a") == (folder / "a").resolve()
    assert inside_folder(folder, "sub/link") == (folder / "a").resolve()
    assert inside_folder(folder, str(folder / "a")) == (folder / "a").resolve()
    for name in ("../out", "escape", "/etc/passwd", "sub/../../out", ".", ""):
        with pytest.raises(CheckpointError, match=r"leaves the folder$"):
            inside_folder(folder, name)
    for name in ("loop", "a\0b"):
        with pytest.raises(CheckpointError, match="cannot be resolved"):
            inside_folder(folder, name)


def test_read_file_and_read_files(tmp_path):
    (tmp_path / "a").write_bytes(b"abc")
    (tmp_path / "b").write_bytes(b"de")
    assert read_file(tmp_path / "a") == b"abc"
    assert read_files([tmp_path / "a", tmp_path / "b"], "ab") == bytearray(b"abcde")
    with pytest.raises(CheckpointLimitError, match=r"is 3 bytes, over the limit of 2"):
        read_file(tmp_path / "a", max_bytes=2)
    with pytest.raises(CheckpointLimitError, match=r"ab is 5 bytes"):
        read_files([tmp_path / "a", tmp_path / "b"], "ab", max_bytes=4)
    with pytest.raises(CheckpointError, match="is missing"):
        read_file(tmp_path / "c")
    with pytest.raises(CheckpointError, match="not a regular file"):
        read_file(tmp_path)


def test_read_npz_round_trips_plain_arrays_and_refuses_pickles(tmp_path):
    arrays = {
        "meta": np.array('{"x": 1}'),
        "ints": np.arange(10, dtype=np.int64),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "empty": np.zeros(0, np.int32),
    }
    np.savez_compressed(tmp_path / "a.npz", **arrays)
    loaded = read_npz(tmp_path / "a.npz")
    assert sorted(loaded) == sorted(arrays)
    for key, value in arrays.items():
        np.testing.assert_array_equal(loaded[key], value)
        assert loaded[key].dtype == value.dtype
    assert loaded["ints"].flags.writeable
    with pytest.raises(CheckpointLimitError, match="max_parameters"):
        read_npz(tmp_path / "a.npz", max_parameters=10)
    np.savez(tmp_path / "b.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(CheckpointError, match="holds Python objects"):
        read_npz(tmp_path / "b.npz", what="the test file")
    (tmp_path / "c.npz").write_bytes(b"PK not a zip")
    with pytest.raises(CheckpointError, match="cannot read .*c.npz: it is not a valid .npz"):
        read_npz(tmp_path / "c.npz")


# --- valid checkpoints load as before ----------------------------------------------------------


def test_a_shard_symlinked_inside_the_folder_loads_the_same(tmp_path):
    folder = Path(shutil.copytree(JS / "melody_2x64", tmp_path / "js"))
    (folder / "weights").mkdir()
    (folder / "group1-shard1of1").rename(folder / "weights" / "real")
    (folder / "group1-shard1of1").symlink_to(folder / "weights" / "real")
    reference, _ = load_magenta_js_checkpoint(JS / "melody_2x64")
    model, _ = load_magenta_js_checkpoint(folder)
    for (name, a), b in zip(
        model.state_dict().items(), reference.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name


def test_magenta_js_weights_are_the_shard_floats(tmp_path):
    """The loaded parameters are exactly the shard's little-endian floats, in manifest order."""
    folder = JS / "melody_uneven_48_32_40"
    data = np.frombuffer((folder / "group1-shard1of1").read_bytes(), "<f4")
    manifest = json.loads((folder / "weights_manifest.json").read_text())
    model, _ = load_magenta_js_checkpoint(folder)
    ours = {
        "rnn/multi_rnn_cell/cell_1/basic_lstm_cell/kernel": model.cells[1].kernel,
        "fully_connected/biases": model.logits.biases,
    }
    offset = 0
    for entry in manifest[0]["weights"]:
        count = int(np.prod(entry["shape"]))
        if entry["name"] in ours:
            expected = data[offset : offset + count].reshape(entry["shape"])
            assert np.array_equal(ours[entry["name"]].detach().numpy(), expected)
        offset += count


# --- ModelConfig -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        *CONFIGS.values(),
        get_config("attention_rnn", layer_sizes=[12, 8, 10], attn_output_layer=1, attn_size=7),
    ],
    ids=lambda c: c.name,
)
def test_parameter_shapes_are_the_state_dict_of_the_model(config):
    model = EventRNN.from_config(config)
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == config.parameter_shapes()
    assert list(model.state_dict()) == list(config.parameter_shapes())
    assert config.parameter_count() == sum(p.numel() for p in model.parameters())
    magenta_js_layout = parameter_shapes(20, [8, 8, 8], 5, 4, 2, 3)
    assert magenta_js_layout["attention.output_kernel"] == (11, 3)


@pytest.mark.parametrize(
    "hparams, message",
    [
        ("batch_size=0", "batch_size must be an integer >= 1, got 0"),
        ("learning_rate=nan", "learning_rate must be a finite number > 0, got 'nan'"),
        ("learning_rate=NaN", "learning_rate must be a finite number > 0, got nan"),
        ("clip_norm=-1", "clip_norm must be a finite number >= 0"),
        ("dropout_keep_prob=2", "dropout_keep_prob must be a finite number in (0, 1]"),
        ("rnn_layer_sizes=[]", "layer_sizes must hold from 1 to 64 entries, got 0"),
        ('rnn_layer_sizes=[8,"x"]', "layer_sizes[1] must be an integer >= 1, got 'x'"),
        ("attn_length=100000", "attn_length must be an integer from 0 to 1024"),
        ("rnn_layer_sizes=[1e6,1e6]", "over the limit of 100,000,000 (max_parameters)"),
    ],
)
def test_bad_hparams_are_one_config_error_line(hparams, message):
    with pytest.raises(ConfigError) as info:
        get_config("basic_rnn", **parse_hparams(hparams))
    assert message in str(info.value) and "\n" not in str(info.value)
    assert isinstance(info.value, ConfigLimitError) == ("max_parameters" in message)


def test_integral_floats_are_integers_and_direct_construction_is_checked():
    config = get_config("basic_rnn", batch_size=64.0, layer_sizes=[16.0])
    assert config.batch_size == 64 and type(config.batch_size) is int
    assert config.layer_sizes == [16] and type(config.layer_sizes[0]) is int
    with pytest.raises(ConfigError, match="layer_sizes must be a list, got 'abc'"):
        ModelConfig(name="x", encoder={"type": "one_hot_melody"}, layer_sizes="abc")
    with pytest.raises(ConfigError, match="input_size must be an integer >= 1, got inf"):
        ModelConfig(name="x", encoder={"type": "one_hot_melody"}, input_size=float("inf"))


def test_train_with_bad_hparams_is_one_error_line(tmp_path, capsys):
    melodies = [np.tile(np.array([60, -2, 62, -2]), 8) for _ in range(4)]
    save_dataset(MelodyDataset.from_melodies(melodies, [0, 0, 0, 1]), tmp_path / "ds")
    for hparams in ("batch_size=0", "rnn_layer_sizes=[1e6,1e6]"):
        code = main(
            ["train", str(tmp_path / "ds"), "--out", str(tmp_path / "run"), "--hparams", hparams]
        )
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and err.startswith("melodyrnn: error: "), err
    assert not (tmp_path / "run" / "state").exists()
