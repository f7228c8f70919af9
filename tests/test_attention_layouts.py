"""EventRNN's two attention layouts: around the whole stack, and around layer 0 only.

The first-layer layout (``attn_wraps="first"``, Magenta since May 2017) is checked against
TensorFlow in tests/test_mag.py (the ``*_layer0`` fixtures); here: a float64 numpy reference
of it (also for an attention size other than layer 0's and for one layer), forward against
stepping, where dropout applies, gradients, configs and our checkpoint format.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from melodyrnn.errors import CheckpointError, ConfigError
from melodyrnn.models import EventRNN, ModelConfig, load_checkpoint, save_checkpoint
from melodyrnn.models.configs import parameter_shapes


def random_model(seed=0, scale=0.5, **kwargs) -> EventRNN:
    torch.manual_seed(seed)
    model = EventRNN(**kwargs)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-scale, scale)
    return model.eval()


def first_layer_reference(model: EventRNN, inputs: np.ndarray) -> np.ndarray:
    """TF's AttentionCellWrapper around a BasicLSTMCell as layer 0 of a MultiRNNCell, in float64
    numpy, for one sequence [T, X]: logits [T, C]."""
    p = {k: v.detach().double().numpy() for k, v in model.state_dict().items()}
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731

    def lstm(k, x, c, h):
        z = np.concatenate([x, h]) @ p[f"cells.{k}.kernel"] + p[f"cells.{k}.bias"]
        i, j, f, o = np.split(z, 4)
        c = sig(i) * np.tanh(j) + c * sig(f + 1.0)
        return c, np.tanh(c) * sig(o)

    s, length = model.attn_size, model.attn_length
    states = [(np.zeros(h), np.zeros(h)) for h in model.layer_sizes]
    attns, window = np.zeros(s), np.zeros((length, s))
    logits = []
    for x in inputs.astype(np.float64):
        u = np.concatenate([x, attns]) @ p["attention.input_kernel"] + p["attention.input_bias"]
        c0, h0 = states[0] = lstm(0, u, *states[0])
        query = np.concatenate([c0, h0]) @ p["attention.query_kernel"]
        query = query + p["attention.query_bias"]
        scores = np.tanh(window @ p["attention.attn_w"] + query) @ p["attention.attn_v"]
        weights = np.exp(scores - scores.max())
        attns = (weights / weights.sum()) @ window
        out = np.concatenate([h0, attns]) @ p["attention.output_kernel"]
        out = out + p["attention.output_bias"]
        window = np.concatenate([window[1:], out[None]])
        for k in range(1, len(model.layer_sizes)):
            states[k] = lstm(k, out, *states[k])
            out = states[k][1]
        logits.append(out @ p["logits.weights"] + p["logits.biases"])
    return np.stack(logits)


FIRST_LAYER_MODELS = {
    "3 unequal layers": dict(input_size=7, layer_sizes=[6, 4, 5], num_classes=9, attn_length=3),
    "attention size 5": dict(
        input_size=7, layer_sizes=[6, 4], num_classes=9, attn_length=4, attn_size=5
    ),
    "one layer": dict(input_size=7, layer_sizes=[6], num_classes=9, attn_length=3),
}


@pytest.mark.parametrize("name", sorted(FIRST_LAYER_MODELS))
def test_first_layer_layout_matches_numpy_reference(name):
    model = random_model(**FIRST_LAYER_MODELS[name], attn_query_bias=True, attn_wraps="first")
    x = np.random.default_rng(0).normal(size=(11, 7)).astype(np.float32)
    with torch.inference_mode():
        logits, _ = model(torch.from_numpy(x)[None])
    np.testing.assert_allclose(logits[0].numpy(), first_layer_reference(model, x), atol=2e-6)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == parameter_shapes(
        7, model.layer_sizes, 9, model.attn_length, None, model.attn_size, "first"
    )


@pytest.mark.parametrize("name", sorted(FIRST_LAYER_MODELS))
def test_first_layer_forward_equals_stepping_and_continues(name):
    model = random_model(**FIRST_LAYER_MODELS[name], attn_wraps="first")
    x = torch.randn(3, 9, 7, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        full, full_state = model(x)
        state, stepped = None, []
        for t in range(9):
            logits, state = model.step(x[:, t], state)
            stepped.append(logits)
        first, mid_state = model(x[:, :4])
        rest, rest_state = model(x[:, 4:], mid_state)
        assert model.stepper() == model.step  # attention models step with step itself
        index = torch.tensor([2, 0, 2])
        picked, _ = model.step(x[index, 4], model.reorder_state(mid_state, index))
        unpicked, _ = model.step(x[:, 4], mid_state)
    torch.testing.assert_close(torch.stack(stepped, 1), full, atol=1e-6, rtol=0)
    torch.testing.assert_close(torch.cat([first, rest], 1), full, atol=1e-6, rtol=0)
    assert len(full_state) == 2 * len(model.layer_sizes) + 2
    for a, b, c in zip(state, full_state, rest_state, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
        torch.testing.assert_close(c, b, atol=1e-6, rtol=0)
    torch.testing.assert_close(picked, unpicked[index])


def test_first_layer_dropout_is_on_the_wrappers_output_only():
    """Layer 0 sits inside the wrapper and the dropout outside it: in training mode cell 0's
    state, the attention vector and the window are those of eval mode; the layers above are
    not."""
    kwargs = dict(input_size=5, layer_sizes=[6, 6], num_classes=5, attn_length=3)
    model = random_model(**kwargs, attn_wraps="first", dropout_keep_prob=0.5)
    x = torch.randn(4, 6, 5, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        eval_logits, eval_state = model(x)
        torch.manual_seed(3)
        train_logits, train_state = model.train()(x)
    for k in (0, 1, -2, -1):  # c_0, h_0, a, M
        torch.testing.assert_close(train_state[k], eval_state[k], atol=1e-6, rtol=0)
    assert (train_state[3] - eval_state[3]).abs().max() > 1e-3  # h_1
    assert (train_logits - eval_logits).abs().max() > 1e-3


def test_first_layer_fused_gradients_equal_stepwise_gradients():
    kwargs = dict(input_size=5, layer_sizes=[6, 4, 3], num_classes=5, attn_length=3)
    model = random_model(**kwargs, attn_wraps="first", attn_query_bias=True).train()
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
        assert fused[name].abs().sum() > 0, name
        torch.testing.assert_close(fused[name], p.grad, atol=1e-4, rtol=1e-4)


def test_the_layouts_differ_and_the_stack_layout_is_the_default():
    kwargs = dict(input_size=5, layer_sizes=[6, 6], num_classes=5, attn_length=3)
    stack, first = random_model(**kwargs), random_model(**kwargs, attn_wraps="first")
    assert stack.attn_wraps == "stack" and not stack.first_layer_attention
    assert first.first_layer_attention and first.attn_output_layer is None
    assert stack.attention.query_kernel.shape == (24, 6)  # c, h of both layers
    assert first.attention.query_kernel.shape == (12, 6)  # c_0, h_0
    # one layer: the same parameters, and the same network outside training
    one = dict(input_size=5, layer_sizes=[6], num_classes=5, attn_length=3)
    a, b = random_model(**one), random_model(**one, attn_wraps="first")
    x = torch.randn(2, 5, 5)
    with torch.no_grad():
        assert torch.equal(a(x)[0], b(x)[0])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(attn_wraps="middle", attn_length=3), "attn_wraps must be one of stack, first"),
        (dict(attn_wraps="first"), "attn_wraps 'first' needs attn_length > 0"),
        (dict(attn_wraps="first", attn_length=3, attn_output_layer=1), "no attn_output_layer"),
    ],
)
def test_bad_layouts_are_config_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        EventRNN(input_size=5, layer_sizes=[6, 6], num_classes=5, **kwargs)
    config = dict(
        name="tiny", encoder={"type": "one_hot_melody", "min_note": 48, "max_note": 60}, **kwargs
    )
    with pytest.raises(ConfigError, match=message.split(" must")[0]):
        ModelConfig(layer_sizes=[6, 6], **config)


def tiny_config(**overrides) -> ModelConfig:
    return ModelConfig(
        name="tiny",
        encoder={"type": "one_hot_melody", "min_note": 48, "max_note": 60},
        layer_sizes=[8, 6, 5],
        attn_length=4,
        attn_query_bias=True,
        **overrides,
    )


def test_config_stores_the_layout_only_where_it_is_not_the_default():
    first, stack = tiny_config(attn_wraps="first"), tiny_config()
    assert first.to_dict()["attn_wraps"] == "first" and "attn_wraps" not in stack.to_dict()
    assert ModelConfig.from_dict(json.loads(json.dumps(first.to_dict()))) == first
    assert ModelConfig.from_dict(stack.to_dict()).attn_wraps == "stack"  # older configs too
    for config in (first, stack):
        model = EventRNN.from_config(config)
        shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        assert shapes == config.parameter_shapes()
        assert config.parameter_count() == sum(p.numel() for p in model.parameters())
    assert first.parameter_shapes()["attention.query_kernel"] == (2 * 8, 8)  # c_0, h_0 -> S
    assert stack.parameter_shapes()["attention.query_kernel"] == (2 * (8 + 6 + 5), 5)


def test_checkpoint_round_trip_keeps_the_layout(tmp_path):
    config = tiny_config(attn_wraps="first")
    model = random_model(
        seed=4,
        **{k: getattr(config, k) for k in ("input_size", "layer_sizes")},
        num_classes=config.num_classes,
        attn_length=4,
        attn_query_bias=True,
        attn_wraps="first",
    )
    path = save_checkpoint(model, config, tmp_path / "first")
    assert json.loads((path / "config.json").read_text())["config"]["attn_wraps"] == "first"
    loaded, loaded_config, _ = load_checkpoint(path)
    assert loaded_config == config and loaded.first_layer_attention
    x = torch.randn(2, 6, config.input_size)
    with torch.no_grad():
        assert torch.equal(model(x)[0], loaded(x)[0])
    # without the layout the weights fit no model of that config
    data = json.loads((path / "config.json").read_text())
    del data["config"]["attn_wraps"]
    (path / "config.json").write_text(json.dumps(data))
    with pytest.raises(
        CheckpointError, match=r"tensor attention\.\w+ has shape .* but config .tiny. needs"
    ):
        load_checkpoint(path)
