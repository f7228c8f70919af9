"""magenta.js MusicRNN fixtures: our loader + generator reproduce tfjs's tokens and logits.

Primer inputs are built here straight from ``primer.indices`` (no encoder involved) with the
rules of the fixtures README: one-hot of D (a drum label >= D is an all-zero row), the
BinaryCounter aux rows of drum models, and PitchChord control rows one step ahead for improv.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import MAGENTA_JS_EXPECTED, load_json

from melodyrnn.encoding.specs import make_encoder
from melodyrnn.generation.options import SamplingOptions
from melodyrnn.generation.sampler import generate
from melodyrnn.models.magenta_js import load_magenta_js_checkpoint

EXPECTED = [
    f"expected/{name}"
    for name in MAGENTA_JS_EXPECTED
    if name != "encode.json" and "sampled" not in name
]
SAMPLED = "expected/melody_2x64__teapot__sampled_t1_seed7.json"
LOGIT_TOLERANCE = 1e-4

# Chord symbol -> (root pitch class, chord pitch classes), spelled as the README's tonal rule.
CHORDS = {
    "C": (0, {0, 4, 7}),
    "G": (7, {7, 11, 2}),
    "Am": (9, {9, 0, 4}),
    "F": (5, {5, 9, 0}),
    "A": (9, {9, 1, 4}),
    "D": (2, {2, 6, 9}),
    "E7": (4, {4, 8, 11, 2}),
    "F#m": (6, {6, 9, 1}),
}


def floats(values) -> np.ndarray:
    """Fixture floats: parse as float64, then cast to float32 (the exact tfjs values)."""
    return np.asarray(values, dtype=np.float64).astype(np.float32)


def pitch_chord_row(symbol: str) -> np.ndarray:
    """37 values: [no chord] + root one-hot + chord pitch classes + bass (= root) one-hot."""
    row = np.zeros(37, np.float32)
    root, pitch_classes = CHORDS[symbol]
    row[1 + root] = 1.0
    row[[13 + pc for pc in pitch_classes]] = 1.0
    row[25 + root] = 1.0
    return row


class FixtureInputs:
    """Builds the magenta.js input row of any step: concat(controls[i+1], onehot(e_i), aux[i])."""

    def __init__(self, case: dict, spec) -> None:
        self.num_classes = spec.num_classes
        self.aux_bits = spec.aux_bits
        self.controls = None
        if case.get("chordProgression"):
            rows = np.stack([pitch_chord_row(s) for s in case["chordProgression"]])
            self.controls = rows[np.asarray(case["chordIndexPerStep"])]
            assert self.controls.shape[1] == spec.control_size

    def row(self, label: int, step: int) -> np.ndarray:
        parts = []
        if self.controls is not None:
            # The generator also asks for the input after the last token (never fed): clamp.
            parts.append(self.controls[min(step + 1, len(self.controls) - 1)])
        one_hot = np.zeros(self.num_classes, np.float32)
        if label < self.num_classes:  # tf.oneHot gives an all-zero row for labels >= depth
            one_hot[label] = 1.0
        parts.append(one_hot)
        if self.aux_bits:
            bits = [1.0 if ((step + 1) >> b) & 1 else -1.0 for b in range(self.aux_bits)]
            parts.append(np.asarray(bits, np.float32))
        return np.concatenate(parts)

    def primer(self, indices: list[int]) -> np.ndarray:
        return np.stack([self.row(label, i) for i, label in enumerate(indices)])

    def feeder(self, histories: np.ndarray, classes: np.ndarray):
        step = histories.shape[1]  # the chosen token becomes event `step`
        return classes, np.stack([self.row(int(c), step) for c in classes])


def load_case(magenta_js: Path, relative: str):
    """The expectations in ``relative`` (under magenta_js/), their checkpoint and inputs."""
    case = load_json(relative)
    model, spec = load_magenta_js_checkpoint(magenta_js / "checkpoints" / case["checkpoint"])
    return case, model, spec, FixtureInputs(case, spec)


def test_fixture_files_found():
    assert len(EXPECTED) == 10


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("relative", EXPECTED, ids=lambda r: Path(r).stem)
def test_argmax_continuation_matches_magenta_js(magenta_js, relative, backend):
    case, model, spec, inputs = load_case(magenta_js, relative)
    indices = case["primer"]["indices"]
    assert len(indices) == case["primer"]["totalQuantizedSteps"]
    primer = inputs.primer(indices)
    assert primer.shape == (len(indices), model.input_size)

    result = generate(
        model,
        primer,
        np.asarray(indices),
        inputs.feeder,
        case["steps"],
        options=SamplingOptions(temperature=None),
        return_logits=True,
        backend=backend,
    )
    assert result.classes[0].tolist() == case["continuation"]["tokens"]
    assert result.events[0].tolist() == case["continuation"]["tokens"]
    expected = floats(case["logits"]["generated"])
    assert np.abs(result.logits[0] - expected).max() <= LOGIT_TOLERANCE

    # The teacher-forced primer pass on its own.
    import torch

    with torch.inference_mode():
        logits, _ = model(torch.from_numpy(primer)[None])
    last = logits[0, -1].numpy()
    assert np.abs(last - floats(case["logits"]["lastPrimerStep"])).max() <= LOGIT_TOLERANCE


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_sampled_run_replays_with_recorded_uniforms(magenta_js, backend):
    case, model, spec, inputs = load_case(magenta_js, SAMPLED)
    assert case["temperature"] == 1.0
    sampling = case["sampling"]
    indices = case["primer"]["indices"]
    result = generate(
        model,
        inputs.primer(indices),
        np.asarray(indices),
        inputs.feeder,
        case["steps"],
        options=SamplingOptions(temperature=1.0),
        uniforms=np.asarray(sampling["uniforms"], dtype=np.float64),
        return_logits=True,
        return_probabilities=True,
        backend=backend,
    )
    assert result.classes[0].tolist() == case["continuation"]["tokens"]
    assert np.abs(result.logits[0] - floats(case["logits"]["generated"])).max() <= LOGIT_TOLERANCE
    assert np.abs(result.probabilities[0] - floats(sampling["probs"])).max() <= 1e-5


@pytest.mark.parametrize("rows, tolerance", [(1, 1e-5), (3, 2e-5)])
@pytest.mark.parametrize("relative", [*EXPECTED, SAMPLED], ids=lambda r: Path(r).stem)
def test_fast_step_logits_equal_the_reference_step(magenta_js, relative, rows, tolerance):
    """The numpy stepper gives the torch stepper's tokens, and logits within float32 round-off
    of the network's math: the network run in float64 over the chosen tokens. Both float32
    paths stay within 2e-5 of it; at one row the numpy one within 1e-5 (on the attention
    checkpoint the torch path is 1.3e-5 away, and at 3 rows OpenBLAS's sgemm sums the wide
    first layer less exactly than its one-row gemv: 1.6e-5)."""
    import torch

    case, model, spec, inputs = load_case(magenta_js, relative)
    indices = case["primer"]["indices"]
    options = SamplingOptions(temperature=case.get("temperature"), num_outputs=rows, seed=2)
    runs = {
        backend: generate(
            model,
            inputs.primer(indices),
            np.asarray(indices),
            inputs.feeder,
            case["steps"],
            options=options,
            return_logits=True,
            backend=backend,
        )
        for backend in ("numpy", "torch")
    }
    np.testing.assert_array_equal(runs["numpy"].classes, runs["torch"].classes)
    exact = model.double()
    for row, classes in enumerate(runs["numpy"].classes):
        fed = [inputs.row(int(c), len(indices) + t) for t, c in enumerate(classes[:-1])]
        sequence = np.concatenate([inputs.primer(indices), np.stack(fed)])
        with torch.inference_mode():
            logits, _ = exact(torch.from_numpy(sequence).double()[None])
        reference = logits[0, len(indices) - 1 :].numpy()
        assert np.abs(runs["numpy"].logits[row] - reference).max() <= tolerance
        assert np.abs(runs["torch"].logits[row] - reference).max() <= 2e-5
    assert np.abs(runs["numpy"].log_likelihood - runs["torch"].log_likelihood).max() <= 1e-4


def test_sampled_run_differs_without_the_recorded_uniforms(magenta_js):
    """The replay test can fail: other uniforms give another continuation."""
    case, model, spec, inputs = load_case(magenta_js, SAMPLED)
    indices = case["primer"]["indices"]
    result = generate(
        model,
        inputs.primer(indices),
        np.asarray(indices),
        inputs.feeder,
        case["steps"],
        options=SamplingOptions(temperature=1.0, seed=0),
    )
    assert result.classes[0].tolist() != case["continuation"]["tokens"]


def test_feeding_one_hot_zero_for_out_of_range_drum_label_is_detectably_wrong(magenta_js):
    """Guards the all-zero row rule: the drum-beat primer holds label 514."""
    case, model, spec, inputs = load_case(magenta_js, "expected/drum_kit_3x16_attn__drum_beat.json")
    indices = case["primer"]["indices"]
    assert max(indices) >= 512
    wrong = [label if label < 512 else 0 for label in indices]
    import torch

    with torch.inference_mode():
        logits, _ = model(torch.from_numpy(inputs.primer(wrong))[None])
    delta = np.abs(logits[0, -1].numpy() - floats(case["logits"]["lastPrimerStep"])).max()
    assert delta > 100 * LOGIT_TOLERANCE


def test_spec_and_encoder_of_each_checkpoint(magenta_js):
    expectations = {
        "melody_2x64": ({"type": "one_hot_melody", "min_note": 48, "max_note": 84}, [64, 64]),
        "melody_uneven_48_32_40": (
            {"type": "one_hot_melody", "min_note": 48, "max_note": 84},
            [48, 32, 40],
        ),
        "melody_full_2x32": ({"type": "one_hot_melody", "min_note": 0, "max_note": 128}, [32, 32]),
        "drum_kit_3x16_attn": (
            {"type": "drums", "binary_counter_bits": 6, "pitch_classes": "magenta_js"},
            [16, 16, 16],
        ),
        "improv_3x16": (
            {
                "type": "conditional",
                "control": {"type": "pitch_chords", "slash_bass": False},
                "target": {"type": "one_hot_melody", "min_note": 48, "max_note": 84},
            },
            [16, 16, 16],
        ),
    }
    sizes = {
        "melody_2x64": (38, 38),
        "melody_uneven_48_32_40": (38, 38),
        "melody_full_2x32": (130, 130),
        "drum_kit_3x16_attn": (518, 512),
        "improv_3x16": (75, 38),
    }
    for name, (encoder, layers) in expectations.items():
        model, spec = load_magenta_js_checkpoint(magenta_js / "checkpoints" / name)
        assert spec.encoder == encoder
        built = make_encoder(spec.encoder)
        assert (built.input_size, built.num_classes) == sizes[name]
        assert model.layer_sizes == layers == spec.layer_sizes
        assert (model.input_size, model.num_classes) == sizes[name]
        assert (model.attn_length > 0) == (name == "drum_kit_3x16_attn")
        info = load_json(f"checkpoints/{name}/make_ckpt_info.json")
        n_params = sum(p.numel() for p in model.parameters())
        assert n_params == info["numParams"]
