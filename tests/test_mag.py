"""Magenta's ``.mag`` bundles and TF checkpoints, read without TensorFlow, against TensorFlow.

The fixtures (tests/fixtures/mag, written by scripts/make_tf_fixtures.py with tensorflow-cpu
2.21) hold, for every supported generator id, a V1 bundle, a V2 run folder and the same weights
with the logits TensorFlow computed for fixed inputs, in both of Magenta's attention layouts
(around the whole stack, and since 2017 around the first layer only: the ``*_layer0``
fixtures, loaded as ``attn_wraps="first"``). Here, with no TensorFlow: each loads to
exactly the saved weights, the network reproduces TensorFlow's logits, every way of naming a
checkpoint gives the same network, continuations equal those of the same weights built directly
or loaded in magenta.js format, and ``convert`` round-trips bit for bit. Hostile inputs are in
tests/test_mag_attacks.py.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from mag_helpers import FIRST_LAYER, GENERATORS, OLD_NAMES, load_npz, tf_names, unpack_fixtures

from melodyrnn.cli import main
from melodyrnn.events.base import quantized_sequence
from melodyrnn.generation.music_rnn import MusicRNN
from melodyrnn.generation.options import SamplingOptions
from melodyrnn.models.crc32c import crc32c, mask, unmask
from melodyrnn.models.mag_bundle import read_bundle
from melodyrnn.models.numpy_step import NumpyStepper
from melodyrnn.models.registry import load_network
from melodyrnn.models.rnn import EventRNN
from melodyrnn.models.tf_checkpoint import open_tf_checkpoint, open_v1_checkpoint
from melodyrnn.models.tf_variables import canonical_name, canonical_names

WITH_RUN = sorted(GENERATORS) + sorted(FIRST_LAYER)  # a bundle, a V2 run folder and an npz
WITH_NPZ = WITH_RUN + OLD_NAMES
IDS = {**GENERATORS, **FIRST_LAYER}
CHORDS = {"chord_melody": ["C", "G", "Am", "F"]}


@pytest.fixture(scope="module")
def mag(tmp_path_factory):
    return unpack_fixtures(tmp_path_factory.mktemp("fixtures") / "mag")


def weights_of(npz: dict) -> dict:
    return {k: v for k, v in npz.items() if not k.startswith("oracle/")}


def state(network) -> dict:
    return {k: v.detach().clone() for k, v in network.state_dict().items()}


def assert_same_state(a, b) -> None:
    a, b = state(a), state(b)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def primer_for(rnn: MusicRNN, length: int = 24) -> np.ndarray:
    rng = np.random.default_rng(3)
    if rnn.kind == "drums":  # 512 events for drum_kit, 2 for one_drum
        return rng.integers(0, rnn.num_classes, size=length)
    low, high = rnn.pitch_range
    return np.where(rng.random(length) < 0.4, rng.integers(low, high + 1, size=length), -2)


def continuations(rnn: MusicRNN, steps: int = 24):
    primer = primer_for(rnn)
    chords = CHORDS.get(rnn.kind)
    out = []
    for options in (SamplingOptions(temperature=None), SamplingOptions(seed=11, num_outputs=3)):
        result = rnn.continue_events(
            primer, steps, options, chord_progression=chords, return_logits=True
        )
        out.append((result.classes, result.logits))
    return out


def assert_same_continuations(a: MusicRNN, b: MusicRNN) -> None:
    for (classes_a, logits_a), (classes_b, logits_b) in zip(
        continuations(a), continuations(b), strict=True
    ):
        assert np.array_equal(classes_a, classes_b)
        assert np.array_equal(logits_a, logits_b)


# --- the formats --------------------------------------------------------------------------------


def test_crc32c_known_values_and_chunking():
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    data = np.random.default_rng(0).integers(0, 256, 300_001, dtype=np.uint8).tobytes()
    whole = crc32c(data)  # many chunks at once
    assert whole == crc32c(data[100_000:], crc32c(data[:100_000]))
    assert whole == crc32c(data[7:], crc32c(data[:7]))
    assert unmask(mask(whole)) == whole


@pytest.mark.parametrize("name", WITH_NPZ)
def test_bundle_holds_exactly_the_weights_tensorflow_saved(mag, name):
    bundle = read_bundle(mag / f"{name}.mag")
    assert bundle.generator_id in GENERATORS.values() and bundle.metagraph_bytes > 0
    checkpoint = open_v1_checkpoint(bundle.checkpoint, name)
    assert checkpoint.tensors["global_step"].dtype == "int64"
    stored = canonical_names(checkpoint)
    expected = weights_of(load_npz(mag, name))
    values = checkpoint.read([stored[canonical_name(n)] for n in expected])
    for name_, value in expected.items():
        got = values[stored[canonical_name(name_)]]
        assert got.dtype == np.float32 and np.array_equal(got, value), name_


@pytest.mark.parametrize("name", WITH_RUN)
def test_run_folder_holds_exactly_the_weights_tensorflow_saved(mag, name):
    checkpoint = open_tf_checkpoint(mag / f"{name}_run")
    assert checkpoint.version == 2 and checkpoint.where.endswith("model.ckpt-321.index")
    values = checkpoint.read()
    expected = weights_of(load_npz(mag, name))
    if name == "basic_rnn":  # training's Adam slots are there, and ignored by the model
        assert any(n.endswith("/Adam_1") for n in values)
    for canonical, value in expected.items():
        assert np.array_equal(values[canonical], value), canonical


@pytest.mark.parametrize("name", WITH_NPZ)
def test_network_reproduces_tensorflows_logits(mag, name):
    network, config, metadata = load_network(mag / f"{name}.mag")
    assert config.attn_wraps == ("first" if name in FIRST_LAYER else "stack")
    npz = load_npz(mag, name)
    inputs = torch.from_numpy(npz["oracle/inputs"])
    with torch.inference_mode():
        logits, _ = network(inputs)
        stepper = network.stepper()
        state_, steps, fast_state, fast = None, [], network.zero_state(len(inputs)), []
        for t in range(inputs.shape[1]):
            step, state_ = network.step(inputs[:, t], state_)
            steps.append(step)
            step, fast_state = stepper(inputs[:, t], fast_state)
            fast.append(step)
    numpy_stepper = NumpyStepper(network.eval(), len(inputs))
    numpy_steps = [numpy_stepper.step(inputs[:, t].numpy()).copy() for t in range(inputs.shape[1])]
    expected = npz["oracle/logits"]
    np.testing.assert_allclose(np.stack(numpy_steps, 1), expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(logits.numpy(), expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(torch.stack(steps, 1).numpy(), expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(torch.stack(fast, 1).numpy(), expected, rtol=0, atol=1e-6)
    assert metadata["generator_id"] == read_bundle(mag / f"{name}.mag").generator_id


@pytest.mark.parametrize("name", WITH_RUN)
def test_every_name_of_a_checkpoint_gives_the_same_network(mag, name, tmp_path):
    reference, config, _ = load_network(mag / f"{name}.mag")
    run = mag / f"{name}_run"
    prefix = run / "train" / "model.ckpt-321"
    v1 = tmp_path / "model.ckpt"
    v1.write_bytes(read_bundle(mag / f"{name}.mag").checkpoint)
    for path in (run, run / "train", prefix, f"{prefix}.index", v1):
        network, other, metadata = load_network(path)
        assert_same_state(network, reference)
        assert other.encoder == config.encoder and other.layer_sizes == config.layer_sizes
        assert (other.attn_length, other.attn_size) == (config.attn_length, config.attn_size)
        assert other.attn_wraps == config.attn_wraps
        assert metadata["generator_id"] in (IDS[name], "drum_kit")


def test_symlinks_named_directly_are_followed(mag, tmp_path):
    reference, _, _ = load_network(mag / "basic_rnn.mag")
    (tmp_path / "link.mag").symlink_to(mag / "basic_rnn.mag")
    (tmp_path / "model.ckpt").write_bytes(read_bundle(mag / "basic_rnn.mag").checkpoint)
    (tmp_path / "link.ckpt").symlink_to(tmp_path / "model.ckpt")
    prefix = mag / "basic_rnn_run" / "train" / "model.ckpt-321"
    (tmp_path / "link.index").symlink_to(f"{prefix}.index")
    for path in ("link.mag", "link.ckpt", "link.index"):
        assert_same_state(load_network(tmp_path / path)[0], reference)


@pytest.mark.parametrize("name", WITH_NPZ)
def test_continuation_equals_the_weights_built_directly(mag, name):
    network, config, metadata = load_network(mag / f"{name}.mag")
    weights = weights_of(load_npz(mag, name))
    attention = config.attn_length > 0
    first_layer = name in FIRST_LAYER
    direct = EventRNN(
        config.input_size,
        config.layer_sizes,
        config.num_classes,
        attn_length=config.attn_length,
        attn_query_bias=True,
        attn_wraps="first" if first_layer else "stack",
    )
    # the npz holds TF >= 1.1 names
    names = tf_names(len(config.layer_sizes), attention, first_layer)
    with torch.no_grad():
        for ours, param in direct.named_parameters():
            param.copy_(torch.from_numpy(weights[names[ours]].reshape(param.shape)))
    assert_same_state(network, direct)
    assert_same_continuations(
        MusicRNN(network, config, metadata), MusicRNN(direct.eval(), config, metadata)
    )


JS_SPECS = {
    "basic_rnn": {
        "dataConverter": {"type": "MelodyConverter", "args": {"minPitch": 48, "maxPitch": 83}}
    },
    "mono_rnn": {
        "dataConverter": {"type": "MelodyConverter", "args": {"minPitch": 0, "maxPitch": 127}}
    },
    "chord_pitches_improv": {
        "dataConverter": {"type": "MelodyConverter", "args": {"minPitch": 48, "maxPitch": 83}},
        "chordEncoder": "PitchChordEncoder",
    },
    "basic_improv": {
        "dataConverter": {"type": "MelodyConverter", "args": {"minPitch": 48, "maxPitch": 83}},
        "chordEncoder": "TriadChordEncoder",
    },
    "drum_kit": {
        "dataConverter": {"type": "DrumsOneHotConverter"},
        "auxInputs": [{"type": "BinaryCounter", "args": {"numBits": 6}}],
        "attentionLength": 32,
    },
}


def write_magenta_js(folder, weights: dict, spec: dict) -> None:
    """The weights as a magenta.js checkpoint folder (one shard, magenta.js's names)."""
    folder.mkdir()
    entries, chunks = [], []
    for name, value in weights.items():
        js_name = name.replace("/attn_output_projection/", "/attention_output_projection/")
        entries.append({"name": js_name, "shape": list(value.shape), "dtype": "float32"})
        chunks.append(np.ascontiguousarray(value, "<f4").tobytes())
    (folder / "group1-shard1of1").write_bytes(b"".join(chunks))
    manifest = [{"paths": ["group1-shard1of1"], "weights": entries}]
    (folder / "weights_manifest.json").write_text(json.dumps(manifest))
    (folder / "config.json").write_text(json.dumps({"type": "MusicRNN", **spec}))


@pytest.mark.parametrize("name", sorted(JS_SPECS))
def test_continuation_equals_the_same_weights_in_magenta_js_format(mag, name, tmp_path):
    bundle = MusicRNN.from_pretrained(mag / f"{name}.mag")
    write_magenta_js(tmp_path / "js", weights_of(load_npz(mag, name)), JS_SPECS[name])
    js = MusicRNN.from_pretrained(tmp_path / "js")
    if bundle.network.attention is not None:
        # TF adds attention/bias to the query; magenta.js leaves it out. With it zeroed the two
        # are the same network (the TF oracle test covers the bias).
        assert bundle.network.attn_query_bias and not js.network.attn_query_bias
        assert torch.any(bundle.network.attention.query_bias != 0)
        with torch.no_grad():
            bundle.network.attention.query_bias.zero_()
            js.network.attention.query_bias.zero_()  # stored by magenta.js, never used
        assert bundle.network.attn_output_layer == js.network.attn_output_layer == 2
    assert_same_state(bundle.network, js.network)
    assert_same_continuations(bundle, js)


# --- names, refusals, the CLI ---------------------------------------------------------------


@pytest.mark.parametrize(
    "old, new",
    [
        (
            "rnn/multi_rnn_cell/cell_1/basic_lstm_cell/weights",
            "rnn/multi_rnn_cell/cell_1/basic_lstm_cell/kernel",
        ),
        (
            "RNN/MultiRNNCell/Cell0/BasicLSTMCell/Linear/Matrix",
            "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel",
        ),
        (
            "RNN/MultiRNNCell/Cell2/BasicLSTMCell/Linear/Bias",
            "rnn/multi_rnn_cell/cell_2/basic_lstm_cell/bias",
        ),
        (
            "rnn/attention_cell_wrapper/attn_output_projection/biases",
            "rnn/attention_cell_wrapper/attention_output_projection/bias",
        ),
        ("RNN/AttentionCellWrapper/Attention/AttnW", "rnn/attention_cell_wrapper/attention/attn_w"),
        ("RNN/AttentionCellWrapper/Linear/Matrix", "rnn/attention_cell_wrapper/kernel"),
        ("fully_connected/weights", "fully_connected/weights"),
        (
            "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel/Adam",
            "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel/Adam",
        ),
        ("global_step", "global_step"),
    ],
)
def test_canonical_names(old, new):
    assert canonical_name(old) == new


@pytest.mark.parametrize("name", sorted(FIRST_LAYER))
def test_first_layer_layout_wraps_layer_0_only(mag, name):
    """The post-2017 layout: the query reads cell 0's state only, the wrapper's output (S =
    layer 0's size) feeds cell 1, and the logits read the last layer."""
    network, config, _ = load_network(mag / f"{name}_run")
    h = config.layer_sizes
    assert config.attn_wraps == "first" and config.attn_output_layer is None
    assert config.attn_size == h[0] and config.attn_query_bias
    shapes = {k: tuple(v.shape) for k, v in network.state_dict().items()}
    assert shapes["attention.query_kernel"] == (2 * h[0], h[0])
    assert shapes["attention.output_kernel"] == (2 * h[0], h[0])
    assert shapes["cells.1.kernel"] == (h[0] + h[1], 4 * h[1])
    assert shapes["logits.weights"] == (h[-1], config.num_classes)
    assert shapes == config.parameter_shapes()


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "name", ["attention_rnn", "drum_kit", "one_drum", "chord_pitches_improv", *sorted(FIRST_LAYER)]
)
def test_convert_round_trip_is_bit_identical(mag, name, tmp_path, capsys):
    code, out, err = run_cli(capsys, "convert", mag / f"{name}.mag", tmp_path / "a")
    assert code == 0, err
    assert run_cli(capsys, "convert", mag / f"{name}_run", tmp_path / "b")[0] == 0
    first = (tmp_path / "a" / "model.safetensors").read_bytes()
    assert (tmp_path / "b" / "model.safetensors").read_bytes() == first
    bundle, ours = (
        MusicRNN.from_pretrained(mag / f"{name}.mag"),
        MusicRNN.from_pretrained(tmp_path / "a"),
    )
    assert ours.config.to_dict() == bundle.config.to_dict()
    assert ours.config.attn_wraps == bundle.config.attn_wraps
    stored = json.loads((tmp_path / "a" / "config.json").read_text())["config"]
    # the layout is stored where it is not the default (whole stack)
    assert stored.get("attn_wraps") == ("first" if name in FIRST_LAYER else None)
    assert ours.metadata["generator_id"] == IDS[name]
    assert_same_state(ours.network, bundle.network)
    assert_same_continuations(ours, bundle)
    code, _, err = run_cli(capsys, "convert", mag / f"{name}.mag", tmp_path / "a")
    assert code == 2 and "exists" in err


def test_inspect_model(mag, capsys):
    code, out, _ = run_cli(capsys, "inspect-model", mag / "attention_rnn.mag")
    assert code == 0
    assert "generator id:     attention_rnn" in out and "layer sizes:      [12, 10]" in out
    assert "attention length: 40" in out and "parameters:       12,596" in out
    code, out, _ = run_cli(capsys, "inspect-model", mag / "drum_kit_run", "--json")
    summary = json.loads(out)
    assert summary["generator_id"] == "drum_kit" and summary["layer_sizes"] == [8, 8, 8]
    assert summary["encoder"]["type"] == "drums" and summary["input_size"] == 518
    assert "attention wraps:  stack" in run_cli(capsys, "inspect-model", mag / "drum_kit_run")[1]
    code, out, _ = run_cli(capsys, "inspect-model", mag / "attention_rnn_layer0.mag")
    assert code == 0 and "attention wraps:  first" in out and "layer sizes:      [4, 4]" in out
    code, out, _ = run_cli(capsys, "inspect-model", mag / "basic_rnn.mag")
    assert code == 0 and "attention wraps" not in out


def test_one_drum_bundle_continues_drums_as_hand_claps(mag):
    """Magenta's one_drum: one class of every pitch, so a primer of any drums reads as hits,
    and the continuation (from the bundle, and from the same weights built directly) plays
    every hit as pitch 39."""
    bundle = MusicRNN.from_pretrained(mag / "one_drum.mag")
    config = bundle.config
    assert (bundle.kind, config.name, config.steps_per_quarter) == ("drums", "one_drum_rnn", 2)
    assert (config.input_size, config.num_classes, config.attn_length) == (2, 2, 0)
    assert config.encoder == {
        "type": "drums",
        "binary_counter_bits": 0,
        "pitch_classes": "one_drum",
    }
    assert config.layer_sizes == [8, 6]  # the fixture's; Magenta's own are [128, 128]
    steps = [0, 1, 1, 3, 4, 6, 7]
    pitches = [36, 42, 38, 0, 127, 49, 39]
    primer = quantized_sequence(pitches, steps, [s + 1 for s in steps], 8, 2, 120.0, 100)
    assert bundle.primer_events(primer).tolist() == [1, 1, 0, 1, 1, 0, 1, 1]

    direct = EventRNN(config.input_size, config.layer_sizes, config.num_classes)
    names = tf_names(len(config.layer_sizes), attention=False)
    weights = weights_of(load_npz(mag, "one_drum"))
    with torch.no_grad():
        for ours, param in direct.named_parameters():
            param.copy_(torch.from_numpy(weights[names[ours]].reshape(param.shape)))
    built = MusicRNN(direct.eval(), config, bundle.metadata)
    options = SamplingOptions(seed=5, num_outputs=3, temperature=1.5)
    outputs = bundle.continue_sequence(primer, 32, options=options)
    assert len(outputs) == 3
    hits = [n for ns in outputs for n in ns.notes]
    assert hits and {n.pitch for n in hits} == {39} and all(n.is_drum for n in hits)
    for ours, theirs in zip(outputs, built.continue_sequence(primer, 32, options=options)):
        assert [(n.pitch, n.quantized_start_step) for n in ours.notes] == [
            (n.pitch, n.quantized_start_step) for n in theirs.notes
        ]
        assert ours.total_quantized_steps == 32  # the continuation only, from step 0


def test_continue_a_midi_file_with_a_bundle(mag, tmp_path, capsys):
    primer = os.path.join(os.path.dirname(__file__), "..", "midi_samples", "ode_to_joy.mid")
    args = ["continue", primer, "--model", mag / "attention_rnn.mag", "-o", tmp_path, "--seed", 1]
    code, out, err = run_cli(capsys, *args, "--steps", 16)
    assert code == 0, err
    assert len(list(tmp_path.glob("*.mid"))) == 1
