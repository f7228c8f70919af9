"""EventRNN math, configs, our checkpoint format and magenta.js checkpoint errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from melodyrnn.errors import CheckpointError, ConfigError, ModelInputError
from melodyrnn.models import (
    CONFIGS,
    EventRNN,
    ModelConfig,
    get_config,
    load_checkpoint,
    load_magenta_js_checkpoint,
    magenta_js_to_config,
    save_checkpoint,
)


def random_model(seed=0, scale=1.0, **kwargs) -> EventRNN:
    torch.manual_seed(seed)
    model = EventRNN(**kwargs)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-scale, scale)
    return model.eval()


def small_config(**overrides) -> ModelConfig:
    base = dict(
        name="tiny",
        encoder={"type": "one_hot_melody", "min_note": 48, "max_note": 60},
        input_size=14,
        num_classes=14,
        layer_sizes=[12, 8, 10],
        dropout_keep_prob=0.5,
        attn_length=5,
        attn_output_layer=1,
    )
    base.update(overrides)
    return ModelConfig(**base)


def numpy_reference(model: EventRNN, inputs: np.ndarray) -> np.ndarray:
    """The README's TF BasicLSTMCell math in float64 numpy (no attention): logits [T, C]."""
    params = {k: v.detach().double().numpy() for k, v in model.state_dict().items()}
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    states = [(np.zeros(h), np.zeros(h)) for h in model.layer_sizes]
    logits = []
    for x in inputs.astype(np.float64):
        for k in range(len(model.layer_sizes)):
            c, h = states[k]
            z = np.concatenate([x, h]) @ params[f"cells.{k}.kernel"] + params[f"cells.{k}.bias"]
            i, j, f, o = np.split(z, 4)
            c = sig(i) * np.tanh(j) + c * sig(f + 1.0)
            h = np.tanh(c) * sig(o)
            states[k] = (c, h)
            x = h
        logits.append(x @ params["logits.weights"] + params["logits.biases"])
    return np.stack(logits)


# ----------------------------------------------------------------------- the network


def test_forward_matches_numpy_reference_of_tf_cell_with_unequal_layers():
    model = random_model(input_size=7, layer_sizes=[6, 4, 5], num_classes=9, scale=0.5)
    assert [tuple(c.kernel.shape) for c in model.cells] == [(13, 24), (10, 16), (9, 20)]
    x = np.random.default_rng(0).normal(size=(11, 7)).astype(np.float32)
    with torch.inference_mode():
        logits, _ = model(torch.from_numpy(x)[None])
    np.testing.assert_allclose(logits[0].numpy(), numpy_reference(model, x), atol=2e-5)


@pytest.mark.parametrize("attention", [False, True])
def test_forward_over_sequence_equals_stepping(attention):
    kwargs = dict(input_size=6, layer_sizes=[8, 5, 7], num_classes=6)
    if attention:
        kwargs.update(attn_length=4, attn_output_layer=1)
    model = random_model(**kwargs)
    x = torch.randn(3, 9, 6, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        full, full_state = model(x)
        state = None
        stepped = []
        for t in range(9):
            logits, state = model.step(x[:, t], state)
            stepped.append(logits)
        # Continuing a forward call from a state equals one longer call.
        first, mid_state = model(x[:, :4])
        rest, rest_state = model(x[:, 4:], mid_state)
    torch.testing.assert_close(torch.stack(stepped, 1), full, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.cat([first, rest], 1), full, atol=1e-5, rtol=0)
    for a, b, c in zip(state, full_state, rest_state, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
        torch.testing.assert_close(c, b, atol=1e-5, rtol=0)


def test_fused_forward_gradients_equal_stepwise_gradients():
    model = random_model(input_size=5, layer_sizes=[6, 4], num_classes=5).train()
    x = torch.randn(2, 7, 5, generator=torch.Generator().manual_seed(2))
    logits, _ = model(x)
    logits.square().sum().backward()
    fused = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    state, outs = None, []
    for t in range(7):
        out, state = model.step(x[:, t], state)
        outs.append(out)
    torch.stack(outs, 1).square().sum().backward()
    for name, p in model.named_parameters():
        assert fused[name].abs().sum() > 0
        torch.testing.assert_close(fused[name], p.grad, atol=1e-4, rtol=1e-4)


def test_dropout_only_in_training_mode():
    model = random_model(input_size=6, layer_sizes=[16, 16], num_classes=6, dropout_keep_prob=0.5)
    same = random_model(input_size=6, layer_sizes=[16, 16], num_classes=6, dropout_keep_prob=1.0)
    x = torch.randn(2, 5, 6)
    model.train()
    a, _ = model(x)
    b, _ = model(x)
    assert not torch.allclose(a, b)  # a fresh dropout mask per call
    model.eval()
    with torch.no_grad():
        c, _ = model(x)
        d, _ = model(x)
        e, _ = same.train()(x)  # keep prob 1.0: no dropout even in training mode
    assert torch.equal(c, d)
    torch.testing.assert_close(c, e)


def test_attention_query_bias_flag_switches_tf_layout():
    model = random_model(input_size=4, layer_sizes=[5, 5, 5], num_classes=4, attn_length=3)
    x = torch.randn(1, 6, 4)
    with torch.no_grad():
        js_layout, _ = model(x)
        model.attention.query_bias.zero_()
        zero_bias, _ = model(x)
        model.attention.query_bias.fill_(0.7)
        model.attn_query_bias = True
        tf_layout, _ = model(x)
    torch.testing.assert_close(js_layout, zero_bias)  # bias unused in the magenta.js layout
    assert (tf_layout - js_layout).abs().max() > 1e-3


def test_reorder_state_selects_rows():
    model = random_model(input_size=4, layer_sizes=[5, 6, 5], num_classes=4, attn_length=3)
    x = torch.randn(3, 4, 4)
    with torch.inference_mode():
        _, state = model(x)
        index = torch.tensor([2, 0, 2])
        reordered = model.reorder_state(state, index)
        step_in = torch.randn(3, 4)
        a, _ = model.step(step_in[index], reordered)
        b, _ = model.step(step_in, state)
    torch.testing.assert_close(a, b[index])


def test_bad_input_width_raises():
    model = random_model(input_size=4, layer_sizes=[5], num_classes=4)
    with pytest.raises(ModelInputError, match="X = 4"):
        model(torch.zeros(1, 3, 5))


# ----------------------------------------------------------------------- configs


def test_registry_values():
    expected = {
        "basic_rnn": (38, 38, [128, 128], 0.5, 0, 5.0, 128),
        "mono_rnn": (130, 130, [128, 128], 0.5, 0, 5.0, 128),
        "lookback_rnn": (121, 40, [128, 128], 0.5, 0, 5.0, 128),
        "attention_rnn": (74, 40, [128, 128], 0.5, 40, 3.0, 128),
        "drum_kit_rnn": (518, 512, [256, 256, 256], 0.5, 32, 3.0, 128),
        "one_drum_rnn": (2, 2, [128, 128], 0.5, 0, 5.0, 128),
        "chord_pitches_improv": (75, 38, [256, 256, 256], 0.5, 0, 3.0, 128),
    }
    assert set(CONFIGS) == set(expected)
    for name, values in expected.items():
        c = get_config(name)
        got = (
            c.input_size,
            c.num_classes,
            c.layer_sizes,
            c.dropout_keep_prob,
            c.attn_length,
            c.clip_norm,
            c.batch_size,
        )
        assert got == values, name
        assert c.learning_rate == 0.001
        assert ModelConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
        assert EventRNN.from_config(c).input_size == c.input_size
    assert get_config("basic_rnn").transpose_to_key == 0
    assert get_config("mono_rnn").transpose_to_key is None
    assert get_config("one_drum_rnn").steps_per_quarter == 2


def test_registry_encoder_specs_build_encoders_of_the_configured_size():
    from melodyrnn.encoding.specs import make_encoder

    for name, config in CONFIGS.items():
        encoder = make_encoder(config.encoder)
        sizes = (encoder.input_size, encoder.num_classes)
        assert sizes == (config.input_size, config.num_classes), name


def test_basic_rnn_2x512_parameter_count_matches_the_13_mb_js_checkpoint():
    model = EventRNN.from_config(get_config("basic_rnn", layer_sizes=[512, 512]))
    assert sum(p.numel() for p in model.parameters()) == 3_247_142


def test_get_config_errors_and_overrides():
    with pytest.raises(ConfigError, match="basic_rnn") as info:
        get_config("nope")
    assert "unknown model config 'nope'" in str(info.value)
    assert get_config("basic_rnn", layer_sizes=[64, 64]).layer_sizes == [64, 64]
    assert get_config("basic_rnn").layer_sizes == [128, 128]  # the registry is not mutated
    with pytest.raises(ConfigError, match="unknown model config keys"):
        get_config("basic_rnn", layers=[3])
    with pytest.raises(ConfigError, match="dropout_keep_prob"):
        get_config("basic_rnn", dropout_keep_prob=0.0)


# ----------------------------------------------------------------------- our checkpoints


def test_save_load_round_trip(tmp_path):
    config = small_config()
    model = EventRNN.from_config(config)
    path = save_checkpoint(model, config, tmp_path / "ckpt", metadata={"step": 12, "loss": 1.5})
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.safetensors"]
    loaded, loaded_config, metadata = load_checkpoint(path)
    assert loaded_config == config and metadata == {"step": 12, "loss": 1.5}
    assert not loaded.training
    x = torch.randn(2, 6, 14)
    with torch.no_grad():
        assert torch.equal(model.eval()(x)[0], loaded(x)[0])


def test_save_refuses_to_overwrite_unless_forced(tmp_path):
    config = small_config(attn_length=0)
    save_checkpoint(EventRNN.from_config(config), config, tmp_path / "c")
    with pytest.raises(CheckpointError, match="already exists"):
        save_checkpoint(EventRNN.from_config(config), config, tmp_path / "c")
    model = random_model(
        **{k: v for k, v in dict(input_size=14, layer_sizes=[12, 8, 10]).items()},
        num_classes=14,
        seed=5,
    )
    save_checkpoint(model, config, tmp_path / "c", force=True)
    loaded, _, _ = load_checkpoint(tmp_path / "c")
    assert torch.equal(loaded.cells[0].kernel, model.cells[0].kernel)
    assert [p.name for p in tmp_path.iterdir()] == ["c"]  # no temporary folders left


def test_save_rejects_a_model_that_does_not_match_its_config(tmp_path):
    with pytest.raises(CheckpointError, match="does not match"):
        save_checkpoint(
            EventRNN.from_config(small_config()), get_config("basic_rnn"), tmp_path / "x"
        )
    assert not (tmp_path / "x").exists()


def test_magenta_js_checkpoint_saved_in_our_format_gives_same_outputs(tmp_path, magenta_js):
    for name in ("melody_2x64", "drum_kit_3x16_attn", "improv_3x16"):
        js_model, spec = load_magenta_js_checkpoint(magenta_js / "checkpoints" / name)
        config = magenta_js_to_config(spec, js_model)
        assert config.encoder == spec.encoder
        save_checkpoint(js_model, config, tmp_path / name)
        ours, loaded_config, _ = load_checkpoint(tmp_path / name)
        assert loaded_config == config
        x = torch.randn(2, 7, js_model.input_size, generator=torch.Generator().manual_seed(3))
        with torch.no_grad():
            assert torch.equal(js_model(x)[0], ours(x)[0])
    assert config.attn_output_layer is None and get_config("drum_kit_rnn").attn_length == 32


@pytest.fixture
def saved(tmp_path) -> Path:
    config = small_config()
    return save_checkpoint(EventRNN.from_config(config), config, tmp_path / "ckpt")


def _edit_config(path: Path, edit) -> None:
    data = json.loads((path / "config.json").read_text())
    edit(data)
    (path / "config.json").write_text(json.dumps(data))


def test_load_missing_folder(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nothing")


@pytest.mark.parametrize("missing", ["config.json", "model.safetensors"])
def test_load_folder_without_a_file(saved, missing):
    (saved / missing).unlink()
    with pytest.raises(CheckpointError, match=f"{missing} is missing"):
        load_checkpoint(saved)


def test_load_corrupt_json(saved):
    (saved / "config.json").write_text('{"config": {')
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(saved)


@pytest.mark.parametrize("damage", ["garbage", "truncate"])
def test_load_corrupt_safetensors(saved, damage):
    weights = saved / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(b"\x00not a safetensors file" * 3 if damage == "garbage" else data[:-100])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(saved)


def test_load_missing_tensor(saved):
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(saved / "model.safetensors"))
    del tensors["attention.attn_v"]
    save_file(tensors, str(saved / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"lacks the tensors \['attention.attn_v'\]"):
        load_checkpoint(saved)


def test_load_wrong_shape(saved):
    _edit_config(saved, lambda d: d["config"].update(layer_sizes=[12, 9, 10]))
    with pytest.raises(
        CheckpointError,
        match=r"cells.1.kernel has shape \[20, 32\] but config 'tiny' needs \[21, 36\]",
    ):
        load_checkpoint(saved)


def test_load_unknown_config_key(saved):
    _edit_config(saved, lambda d: d["config"].update(hidden=3))
    with pytest.raises(CheckpointError, match="unknown model config keys"):
        load_checkpoint(saved)


def test_load_never_unpickles(saved):
    """A pickle bomb named model.safetensors is rejected as corrupt, not executed."""
    import pickle

    class Boom:
        def __reduce__(self):
            return (Path(saved / "pwned").touch, ())

    (saved / "model.safetensors").write_bytes(pickle.dumps({"x": Boom()}))
    with pytest.raises(CheckpointError):
        load_checkpoint(saved)
    assert not (saved / "pwned").exists()


# ----------------------------------------------------------------------- bad magenta.js folders


@pytest.fixture
def js_copy(tmp_path, magenta_js) -> Path:
    return Path(shutil.copytree(magenta_js / "checkpoints" / "melody_2x64", tmp_path / "js"))


def _edit_json(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def test_js_unknown_converter(js_copy):
    _edit_json(js_copy / "config.json", lambda d: d["dataConverter"].update(type="TrioConverter"))
    with pytest.raises(CheckpointError, match="data converter 'TrioConverter' is not supported"):
        load_magenta_js_checkpoint(js_copy)


def test_js_unknown_chord_encoder(js_copy):
    _edit_json(js_copy / "config.json", lambda d: d.update(chordEncoder="JazzChordEncoder"))
    with pytest.raises(CheckpointError, match="chord encoder 'JazzChordEncoder'"):
        load_magenta_js_checkpoint(js_copy)


def test_js_missing_tensor(js_copy):
    def rename(manifest):
        manifest[0]["weights"][-1]["name"] = "fully_connected/other"

    _edit_json(js_copy / "weights_manifest.json", rename)
    with pytest.raises(CheckpointError, match="lacks the tensor fully_connected/biases"):
        load_magenta_js_checkpoint(js_copy)


def test_js_shape_mismatch(js_copy):
    def transpose(manifest):
        for w in manifest[0]["weights"]:
            if w["name"] == "fully_connected/weights":
                w["shape"] = [38, 64]

    _edit_json(js_copy / "weights_manifest.json", transpose)
    with pytest.raises(CheckpointError, match=r"fully_connected/weights has shape \[38, 64\]"):
        load_magenta_js_checkpoint(js_copy)


def test_js_config_that_does_not_match_the_weights(js_copy):
    _edit_json(js_copy / "config.json", lambda d: d["dataConverter"]["args"].update(maxPitch=84))
    with pytest.raises(CheckpointError, match=r"needs \[39\]"):
        load_magenta_js_checkpoint(js_copy)


def test_js_missing_shard(js_copy):
    (js_copy / "group1-shard1of1").unlink()
    with pytest.raises(CheckpointError, match="missing shard file"):
        load_magenta_js_checkpoint(js_copy)


def test_js_truncated_shard(js_copy):
    shard = js_copy / "group1-shard1of1"
    shard.write_bytes(shard.read_bytes()[:-8])
    with pytest.raises(CheckpointError, match="truncated shard"):
        load_magenta_js_checkpoint(js_copy)


def test_js_missing_folder_and_files(tmp_path, js_copy):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_magenta_js_checkpoint(tmp_path / "none")
    (js_copy / "weights_manifest.json").unlink()
    with pytest.raises(CheckpointError, match="weights_manifest.json is missing"):
        load_magenta_js_checkpoint(js_copy)


def test_js_tensor_straddling_shards_in_any_name_order(js_copy, magenta_js):
    """Split the weights into 3 shard files at odd byte offsets and shuffle the name order."""
    reference, _ = load_magenta_js_checkpoint(magenta_js / "checkpoints" / "melody_2x64")
    manifest = json.loads((js_copy / "weights_manifest.json").read_text())
    data = (js_copy / "group1-shard1of1").read_bytes()
    entries = manifest[0]["weights"]
    # Rebuild the byte stream in a different tensor order.
    offsets, offset = {}, 0
    for w in entries:
        size = 4 * int(np.prod(w["shape"]))
        offsets[w["name"]] = data[offset : offset + size]
        offset += size
    shuffled = entries[::-1]
    stream = b"".join(offsets[w["name"]] for w in shuffled)
    cuts = [0, 1001, 50_003, len(stream)]
    paths = []
    for n in range(3):
        name = f"group1-shard{n + 1}of3"
        (js_copy / name).write_bytes(stream[cuts[n] : cuts[n + 1]])
        paths.append(name)
    (js_copy / "group1-shard1of1").unlink()
    (js_copy / "weights_manifest.json").write_text(
        json.dumps([{"paths": paths, "weights": shuffled}])
    )
    model, _ = load_magenta_js_checkpoint(js_copy)
    for (name, a), b in zip(
        model.state_dict().items(), reference.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
