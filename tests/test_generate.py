"""Token-level generation: argmax, seeded sampling, top-k/top-p, masks, beam search, scoring."""

from __future__ import annotations

import heapq

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from melodyrnn.errors import GenerationError
from melodyrnn.generation.options import SamplingOptions
from melodyrnn.generation.sampler import choose_tokens, generate, score, tfjs_softmax
from melodyrnn.models import EventRNN
from melodyrnn.models.numpy_step import NumpyStepper

C = 10
PRIMER = np.array([1, 4, 4, 0, 7])


def make_model(seed=0, scale=1.5, **kwargs) -> EventRNN:
    torch.manual_seed(seed)
    args = dict(input_size=C, layer_sizes=[16, 12], num_classes=C)
    args.update(kwargs)
    model = EventRNN(**args)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-scale, scale)
    return model.eval()


def one_hot(labels) -> np.ndarray:
    return np.eye(C, dtype=np.float32)[np.asarray(labels)]


def feeder(histories, classes):
    return classes, one_hot(classes)


def run(
    model,
    steps=24,
    *,
    mask=None,
    uniforms=None,
    return_logits=False,
    return_probabilities=False,
    backend="auto",
    **sampling,
):
    """generate() on the test primer; ``sampling`` are SamplingOptions fields."""
    return generate(
        model,
        one_hot(PRIMER),
        PRIMER,
        feeder,
        steps,
        SamplingOptions(**sampling),
        mask=mask,
        uniforms=uniforms,
        return_logits=return_logits,
        return_probabilities=return_probabilities,
        backend=backend,
    )


@pytest.fixture(scope="module")
def model() -> EventRNN:
    return make_model(seed=4)


def reference_rollout(model, uniforms, temperature):
    """Plain one-row sampling written from the rules: prime, then step per token."""
    with torch.inference_mode():
        logits, state = model(torch.from_numpy(one_hot(PRIMER))[None])
        logits = logits[0, -1:]
        tokens, loglik = [], 0.0
        for t, r in enumerate(uniforms):
            x = logits[0].numpy() / np.float32(temperature)
            p = tfjs_softmax(x[None])[0]
            cdf = np.cumsum(p[:-1], dtype=np.float32)
            below = np.nonzero(r < cdf)[0]
            token = int(below[0]) if len(below) else C - 1
            loglik += float(torch.log_softmax(logits[0].double() / temperature, 0)[token])
            tokens.append(token)
            if t + 1 < len(uniforms):
                logits, state = model.step(torch.from_numpy(one_hot([token])), state)
    return tokens, loglik


# ----------------------------------------------------------------------- sampling and argmax


@pytest.mark.parametrize("backend, tolerance", [("torch", 1e-6), ("numpy", 2e-5)])
def test_sampling_matches_a_reference_rollout(model, backend, tolerance):
    """The torch stepper is the reference step's math op for op; the numpy stepper sums in
    another order (float32 round-off of ~1e-7 per logit: these weights give logits of ~10)."""
    uniforms = np.random.default_rng(11).random(24)
    result = run(model, temperature=0.8, uniforms=uniforms, backend=backend)
    tokens, loglik = reference_rollout(model, uniforms, 0.8)
    assert result.classes[0].tolist() == tokens
    assert result.log_likelihood[0] == pytest.approx(loglik, abs=tolerance)


def test_seeded_sampling_is_reproducible(model):
    a = run(model, num_outputs=3, seed=42)
    b = run(model, num_outputs=3, seed=42)
    c = run(model, num_outputs=3, seed=43)
    np.testing.assert_array_equal(a.classes, b.classes)
    assert not np.array_equal(a.classes, c.classes)
    assert len({tuple(row) for row in a.classes}) == 3  # rows are independent draws
    np.testing.assert_array_equal(a.events, a.classes)  # the identity feeder


def test_uniforms_come_from_numpy_generator(model):
    # Output 0 draws from default_rng(seed), output k from default_rng([seed, k]).
    per_output = np.stack(
        [np.random.default_rng(5).random(24), np.random.default_rng([5, 1]).random(24)], axis=1
    )
    np.testing.assert_array_equal(
        run(model, num_outputs=2, seed=5).classes,
        run(model, num_outputs=2, uniforms=per_output).classes,
    )
    # shared_stream: one generator, every step's uniforms drawn in row order.
    shared = np.random.default_rng(5).random((24, 2))
    np.testing.assert_array_equal(
        run(model, num_outputs=2, seed=5, shared_stream=True).classes,
        run(model, num_outputs=2, uniforms=shared).classes,
    )


@pytest.mark.parametrize("beam", [{}, {"beam_size": 2, "branch_factor": 2}])
def test_variation_k_does_not_depend_on_num_outputs(model, beam):
    four = run(model, num_outputs=4, seed=5, **beam)
    for n in (1, 2, 3):
        fewer = run(model, num_outputs=n, seed=5, **beam)
        np.testing.assert_array_equal(fewer.classes, four.classes[:n])
    generator = run(model, num_outputs=3, seed=np.random.default_rng(8))
    np.testing.assert_array_equal(
        generator.classes[:1], run(model, num_outputs=1, seed=np.random.default_rng(8)).classes
    )


def argmax_rollout(model, steps=24):
    result = run(model, steps, temperature=None, return_logits=True)
    logits = result.logits[0]
    top2 = np.sort(logits, axis=1)[:, -2:]
    return result, float((top2[:, 1] - top2[:, 0]).min())


def test_argmax_picks_the_best_logit_and_low_temperature_approaches_it(model):
    result, gap = argmax_rollout(model)
    np.testing.assert_array_equal(result.classes[0], result.logits[0].argmax(axis=1))
    assert gap > 0.02  # so that T = 1e-3 leaves the runner-up < exp(-20)
    cold = run(model, temperature=1e-3, seed=1)
    np.testing.assert_array_equal(cold.classes, result.classes)
    warm = run(model, temperature=1.0, seed=1)
    assert not np.array_equal(warm.classes, result.classes)


def test_argmax_breaks_ties_on_the_first_index():
    logits = np.array([[0.0, 3.0, 1.0, 3.0], [2.0, 2.0, 2.0, 2.0]], np.float32)
    tokens, _ = choose_tokens(logits, None)
    assert tokens.tolist() == [1, 0]


def test_tfjs_inverse_cdf_rule_by_hand():
    logits = np.log(np.array([[0.25, 0.25, 0.5]], np.float32))
    for r, expected in [(0.0, 0), (0.2499, 0), (0.25, 1), (0.4999, 1), (0.5, 2), (0.999, 2)]:
        tokens, probs = choose_tokens(logits, 1.0, np.array([r]))
        assert tokens[0] == expected, r
    np.testing.assert_allclose(probs[0], [0.25, 0.25, 0.5], atol=1e-7)


@pytest.mark.parametrize("option", [{"top_k": 1}, {"top_p": 1e-6}])
def test_top_k_1_and_tiny_top_p_equal_argmax(model, option):
    result, _ = argmax_rollout(model)
    for temperature in (0.5, 1.0, 3.0):
        other = run(model, temperature=temperature, seed=3, **option)
        np.testing.assert_array_equal(other.classes, result.classes)


def test_top_k_and_top_p_keep_tokens_in_the_allowed_set(model):
    result = run(model, num_outputs=4, temperature=2.0, top_k=3, seed=9, return_logits=True)
    ranks = (result.logits > np.take_along_axis(result.logits, result.classes[..., None], 2)).sum(2)
    assert ranks.max() <= 2 and ranks.max() >= 1
    result = run(
        model, num_outputs=4, temperature=1.0, top_p=0.6, seed=9, return_probabilities=True
    )
    probs = result.probabilities
    assert np.all(np.take_along_axis(probs, result.classes[..., None], 2) > 0)
    nucleus = (probs > 0).sum(axis=2)
    assert nucleus.min() >= 1 and nucleus.max() < C


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    allowed=st.lists(st.booleans(), min_size=C, max_size=C).filter(any),
    seed=st.integers(0, 2**32 - 1),
    temperature=st.sampled_from([None, 0.05, 1.0, 20.0]),
    top_k=st.sampled_from([None, 1, 4]),
)
def test_masked_classes_are_never_emitted(model, allowed, seed, temperature, top_k):
    mask = np.array(allowed)
    result = run(
        model,
        steps=12,
        num_outputs=3,
        temperature=temperature,
        top_k=top_k if temperature else None,  # top-k is for sampling
        mask=mask,
        seed=seed,
        return_probabilities=True,
    )
    assert mask[result.classes].all()
    assert np.all(result.probabilities[..., ~mask] == 0)


def test_mask_fallback_never_lands_on_a_masked_last_class():
    # The float32 cdf of these allowed classes ends at 0.9999999 < 1: a uniform above it
    # falls through every cdf value, and tfjs's rule would pick the (masked) last class.
    logits = np.array([[1.3, 0.9, -0.7, -1.3, -0.6, 9.0]], np.float32)
    allowed = np.array([True, True, True, True, True, False])
    cdf = np.cumsum(tfjs_softmax(np.where(allowed, logits, -np.inf))[0, :-1], dtype=np.float32)
    assert cdf[-1] < 1.0
    tokens, probs = choose_tokens(logits, 1.0, np.array([0.99999995]), allowed)
    assert tokens[0] == 4 and probs[0, 5] == 0


def test_callable_mask_sees_histories(model):
    seen = []

    def no_repeats(histories):
        seen.append(histories.shape)
        allowed = np.ones((len(histories), C), bool)
        allowed[np.arange(len(histories)), histories[:, -1]] = False
        return allowed

    result = run(model, steps=30, num_outputs=2, seed=0, mask=no_repeats)
    full = np.concatenate([np.tile(PRIMER, (2, 1)), result.events], axis=1)
    assert np.all(full[:, len(PRIMER) :] != full[:, len(PRIMER) - 1 : -1])
    assert seen[0] == (2, len(PRIMER)) and seen[-1] == (2, len(PRIMER) + 29)


def test_all_classes_masked_is_an_error(model):
    with pytest.raises(GenerationError, match="allows no class"):
        run(model, mask=lambda h: np.zeros((len(h), C), bool))


# ----------------------------------------------------------------------- batching and modes


def test_outputs_are_one_batch(model, monkeypatch):
    """All rows step together: one model step per token, not one per token and output."""
    calls = []
    make_stepper = model.stepper

    def counting_stepper():
        step = make_stepper()

        def counted(x, state):
            calls.append(x.shape[0])
            return step(x, state)

        return counted

    monkeypatch.setattr(model, "stepper", counting_stepper)
    run(model, steps=20, num_outputs=8, seed=0, backend="torch")
    assert calls == [8] * 19  # the last token is never fed
    calls.clear()
    run(
        model, steps=20, num_outputs=2, beam_size=3, branch_factor=2, steps_per_iteration=4,
        seed=0, backend="torch",
    )  # fmt: skip
    assert calls == [12] * 19
    calls.clear()
    original = NumpyStepper.step

    def counted_numpy(self, x):
        calls.append(x.shape[0])
        return original(self, x)

    monkeypatch.setattr(NumpyStepper, "step", counted_numpy)
    run(model, steps=20, num_outputs=8, seed=0)  # auto: numpy on the CPU, the primer too
    assert calls == [8] * (len(PRIMER) + 19)


def test_stepper_equals_step(model):
    step = model.stepper()
    assert step is not model.step
    x = torch.from_numpy(one_hot([3, 1]))
    with torch.inference_mode():
        _, state = model(torch.randn(2, 4, C))
        a, state_a = model.step(x, state)
        b, state_b = step(x, state)
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    for u, v in zip(state_a, state_b, strict=True):
        torch.testing.assert_close(u, v, atol=0, rtol=0)


def test_generation_uses_eval_mode_and_restores_state(model):
    dropout_model = make_model(dropout_keep_prob=0.5).train()
    threads = torch.get_num_threads()
    a = run(dropout_model, temperature=None)
    assert dropout_model.training and torch.get_num_threads() == threads
    b = run(make_model(dropout_keep_prob=0.5), temperature=None)
    np.testing.assert_array_equal(a.classes, b.classes)


def test_bad_arguments(model):
    with pytest.raises(GenerationError, match="empty"):
        generate(model, np.zeros((0, C), np.float32), np.zeros(0, int), feeder, 4)
    with pytest.raises(GenerationError, match=r"shape \[P, 10\]"):
        generate(model, np.zeros((3, 4), np.float32), np.zeros(3, int), feeder, 4)
    with pytest.raises(GenerationError, match="mask"):
        run(model, mask=np.ones(3, bool))
    with pytest.raises(GenerationError, match="uniforms"):
        run(model, uniforms=np.zeros(5))
    with pytest.raises(GenerationError, match="temperature"):
        run(model, temperature=-1.0)
    with pytest.raises(GenerationError, match=r"feeder returned inputs of shape \[1, 3\]"):
        generate(model, one_hot(PRIMER), PRIMER, lambda h, c: (c, np.zeros((1, 3))), 4)


# ----------------------------------------------------------------------- beam search


def magenta_beam_search(
    model, steps, beam_size, branch_factor, steps_per_iteration, uniforms, temperature
):
    """magenta/common/beam_search.py's list semantics, one row at a time (no batching)."""
    uniform_iter = iter(uniforms)

    def generate_step(entries):
        draws = next(uniform_iter)
        out = []
        for (tokens, state, logits, loglik), r in zip(entries, draws, strict=True):
            x = logits / np.float32(temperature)
            cdf = np.cumsum(tfjs_softmax(x[None])[0][:-1], dtype=np.float32)
            below = np.nonzero(r < cdf)[0]
            token = int(below[0]) if len(below) else C - 1
            loglik = loglik + float(torch.log_softmax(torch.from_numpy(x).double(), 0)[token])
            with torch.inference_mode():
                new_logits, new_state = model.step(torch.from_numpy(one_hot([token])), state)
            out.append((tokens + [token], new_state, new_logits[0].numpy(), loglik))
        return out

    def branches(entries, n):
        entries = entries * branch_factor
        for _ in range(n):
            entries = generate_step(entries)
        return entries

    def prune(entries, k):
        return [
            entries[i] for i in heapq.nlargest(k, range(len(entries)), key=lambda i: entries[i][3])
        ]

    with torch.inference_mode():
        logits, state = model(torch.from_numpy(one_hot(PRIMER))[None])
    entries = [([], state, logits[0, -1].numpy(), 0.0)] * beam_size
    first = (steps - 1) % steps_per_iteration + 1
    entries = branches(entries, first)
    for _ in range((steps - first) // steps_per_iteration):
        entries = branches(prune(entries, beam_size), steps_per_iteration)
    best = prune(entries, 1)[0]
    return best[0], best[3]


@pytest.mark.parametrize(
    "beam_size,branch_factor,steps_per_iteration,steps",
    [(3, 2, 1, 9), (2, 3, 4, 10), (4, 1, 2, 7), (1, 3, 3, 8)],
)
def test_beam_search_follows_magenta(model, beam_size, branch_factor, steps_per_iteration, steps):
    width = beam_size * branch_factor
    uniforms = np.random.default_rng(17).random((steps, width))
    result = run(
        model,
        steps,
        temperature=1.3,
        beam_size=beam_size,
        branch_factor=branch_factor,
        steps_per_iteration=steps_per_iteration,
        uniforms=uniforms,
    )
    tokens, loglik = magenta_beam_search(
        model, steps, beam_size, branch_factor, steps_per_iteration, uniforms, 1.3
    )
    assert result.classes[0].tolist() == tokens
    assert result.log_likelihood[0] == pytest.approx(loglik, abs=1e-5)


def test_beam_search_beats_sampling_on_likelihood(model):
    plain = run(model, 16, num_outputs=16, seed=2)
    beam = run(model, 16, num_outputs=4, beam_size=4, branch_factor=4, seed=2)
    assert beam.classes.shape == (4, 16)
    assert beam.log_likelihood.min() > np.median(plain.log_likelihood)


def test_beam_of_one_equals_plain_sampling(model):
    plain = run(model, 20, num_outputs=3, seed=8)
    for spi in (1, 3, 7):
        beam = run(
            model, 20, num_outputs=3, beam_size=1, branch_factor=1, steps_per_iteration=spi, seed=8
        )
        np.testing.assert_array_equal(beam.classes, plain.classes)
        np.testing.assert_allclose(beam.log_likelihood, plain.log_likelihood)


# ----------------------------------------------------------------------- scoring


@pytest.mark.parametrize("backend, tolerance", [("torch", 1e-6), ("numpy", 2e-5)])
def test_score_agrees_with_generation_log_likelihood(model, backend, tolerance):
    """score() runs torch's fused forward: the torch stepper's math op for op, the numpy
    stepper's up to float32 round-off."""
    result = run(model, 12, temperature=1.0, seed=4, backend=backend)
    events = np.concatenate([PRIMER, result.events[0]])
    per_step = score(model, one_hot(events[:-1]), events[1:])
    assert per_step.shape == (len(events) - 1,)
    total = per_step[len(PRIMER) - 1 :].sum()
    assert total == pytest.approx(result.log_likelihood[0], abs=tolerance)
    assert np.all(per_step < 0)
    batched = score(model, one_hot(events[:-1])[None].repeat(2, 0), np.tile(events[1:], (2, 1)))
    np.testing.assert_allclose(batched[1], per_step, atol=1e-12)
