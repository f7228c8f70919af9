"""The fused numpy step (models/numpy_step.py) against the reference ``EventRNN.step``.

Fixture checkpoints are covered where their truth lives: magenta.js's logits and tokens on both
backends (test_magenta_js_checkpoints.py) and TensorFlow's logits for every .mag fixture
(test_mag.py). Here: our own models of every shape (unequal layers, attention in both layouts,
one layer, many rows), the state in and out, beam reordering, and the backend choice.
"""

from __future__ import annotations

import numpy as np
import pytest
import threadpoolctl
import torch

from melodyrnn.errors import GenerationError, ModelInputError
from melodyrnn.generation.options import SamplingOptions
from melodyrnn.generation.sampler import choose_step_backend, generate
from melodyrnn.models import EventRNN
from melodyrnn.models.numpy_step import NumpyStepper, blas_threads, fused_weights

SHAPES = {
    "2x64": dict(input_size=38, layer_sizes=[64, 64], num_classes=38),
    "unequal_48_32_40": dict(input_size=38, layer_sizes=[48, 32, 40], num_classes=38),
    "one_layer": dict(input_size=7, layer_sizes=[9], num_classes=5),
    "attention_stack": dict(input_size=20, layer_sizes=[16, 12], num_classes=20, attn_length=6),
    "attention_stack_layer0_out": dict(
        input_size=20, layer_sizes=[16, 12, 8], num_classes=20, attn_length=5,
        attn_output_layer=0, attn_query_bias=True,
    ),
    "attention_first": dict(
        input_size=20, layer_sizes=[10, 8, 6], num_classes=20, attn_length=4, attn_wraps="first"
    ),
    "attention_first_one_layer": dict(
        input_size=11, layer_sizes=[8], num_classes=11, attn_length=3, attn_wraps="first"
    ),
}  # fmt: skip


def make_model(shape: str, seed: int = 0) -> EventRNN:
    torch.manual_seed(seed)
    model = EventRNN(**SHAPES[shape])
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-0.5, 0.5)
    return model.eval()


def rollout(model, stepper, rows, steps, seed):
    """Feed the same inputs to the reference step and to ``stepper``: the largest |Δ| of the
    logits and of the state."""
    rng = np.random.default_rng(seed)
    x = rng.random((rows, steps, model.input_size)).astype(np.float32)
    worst_logits = 0.0
    with torch.inference_mode():
        _, state = model(torch.from_numpy(x[:, :3]))
        stepper.load_state(state)
        for t in range(3, steps):
            ref, state = model.step(torch.from_numpy(x[:, t]), state)
            got = stepper.step(x[:, t])
            worst_logits = max(worst_logits, float(np.abs(ref.numpy() - got).max()))
    worst_state = max(
        float(np.abs(a.numpy() - b.numpy()).max())
        for a, b in zip(state, stepper.state(), strict=True)
    )
    return worst_logits, worst_state


@pytest.mark.parametrize("rows", [1, 5])
@pytest.mark.parametrize("shape", SHAPES)
def test_numpy_step_equals_reference_step(shape, rows):
    model = make_model(shape)
    worst_logits, worst_state = rollout(model, NumpyStepper(model, rows), rows, 30, seed=1)
    assert worst_logits <= 1e-5
    assert worst_state <= 1e-5


def test_a_wrong_weight_is_detected():
    """The comparison can fail: one changed weight moves the logits well beyond 1e-5."""
    model = make_model("attention_first")
    stepper = NumpyStepper(model, 2)
    stepper.cells[1].kernel = stepper.cells[1].kernel.copy()  # the cached one stays as it is
    stepper.cells[1].kernel[3, 5] += 0.1
    assert rollout(model, stepper, 2, 12, seed=2)[0] > 1e-4


def test_fused_weights_are_rebuilt_when_a_parameter_changes():
    model = make_model("unequal_48_32_40")
    first = fused_weights(model)
    assert fused_weights(model) is first  # built once
    with torch.no_grad():
        model.cells[2].bias[7] += 0.25  # in place: the same storage, a new version
    assert fused_weights(model) is not first
    assert rollout(model, NumpyStepper(model, 2), 2, 10, seed=3)[0] <= 1e-5
    model.load_state_dict({k: v + 0.01 for k, v in model.state_dict().items()})
    assert rollout(model, NumpyStepper(model, 2), 2, 10, seed=4)[0] <= 1e-5


def test_state_round_trip_and_reorder():
    model = make_model("attention_stack")
    stepper = NumpyStepper(model, 4)
    state = tuple(torch.randn(part.shape) for part in model.zero_state(4))
    stepper.load_state(state)
    for a, b in zip(state, stepper.state(), strict=True):
        assert torch.equal(a, b)
    order = np.array([2, 2, 0, 3])
    stepper.reorder(order)
    for a, b in zip(model.reorder_state(state, torch.from_numpy(order)), stepper.state()):
        assert torch.equal(a, b)


def test_wrong_input_shape_is_refused():
    stepper = NumpyStepper(make_model("2x64"), 2)
    with pytest.raises(ModelInputError, match=r"\[2, 38\]"):
        stepper.step(np.zeros((3, 38), np.float32))


def feeder(histories, classes):
    return classes, np.eye(20, dtype=np.float32)[classes]


@pytest.mark.parametrize("shape", ["attention_stack", "attention_first"])
@pytest.mark.parametrize(
    "options",
    [
        SamplingOptions(temperature=None, num_outputs=3),
        SamplingOptions(temperature=1.1, seed=5, num_outputs=2, top_k=8, top_p=0.95),
        SamplingOptions(temperature=0.9, seed=7, beam_size=3, branch_factor=2,
                        steps_per_iteration=3),
    ],
    ids=["argmax", "top_k_p", "beam"],
)  # fmt: skip
def test_generate_gives_the_same_tokens_on_both_backends(shape, options):
    model = make_model(shape, seed=3)
    primer = np.array([1, 4, 9, 0, 7])
    runs = [
        generate(
            model, np.eye(20, dtype=np.float32)[primer], primer, feeder, 40, options,
            return_logits=True, backend=backend,
        )
        for backend in ("numpy", "torch")
    ]  # fmt: skip
    np.testing.assert_array_equal(runs[0].classes, runs[1].classes)
    assert np.abs(runs[0].logits - runs[1].logits).max() <= 1e-5
    np.testing.assert_allclose(runs[0].log_likelihood, runs[1].log_likelihood, atol=1e-4)


class NotAnEventRNN(torch.nn.Module):
    device = torch.device("cpu")
    dtype = torch.float32


def test_backend_choice():
    model = make_model("2x64")
    assert choose_step_backend(model) == "numpy"
    assert choose_step_backend(model, "torch") == "torch"
    assert choose_step_backend(model.double()) == "torch"
    assert choose_step_backend(NotAnEventRNN()) == "torch"
    with pytest.raises(GenerationError, match="float32 EventRNN"):
        choose_step_backend(NotAnEventRNN(), "numpy")
    with pytest.raises(GenerationError, match="auto, numpy, torch"):
        choose_step_backend(make_model("2x64"), "jax")


def blas_thread_counts() -> list[int]:
    return [lib["num_threads"] for lib in threadpoolctl.threadpool_info()
            if lib["user_api"] == "blas"]  # fmt: skip


def test_blas_threads_are_set_inside_and_restored_after():
    before = blas_thread_counts()
    with blas_threads(1):
        assert set(blas_thread_counts()) <= {1}
    assert blas_thread_counts() == before
