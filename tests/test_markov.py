"""Tests of the interpolated Kneser-Ney n-gram baseline (melodyrnn.models.ngram).

Truth comes from hand-computed probabilities, a deliberately plain dict-based reimplementation of
the documented formula (``reference_prob``), and data drawn from known Markov chains.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from melodyrnn.errors import CheckpointError, ConfigError, DatasetError
from melodyrnn.models.ngram import NGramModel, estimate_discounts, select_order

# --- a plain reference implementation ----------------------------------------------------------


def reference_prob(seqs, order, num_classes, discounts, context, word):
    """P(word | context) by the module docstring's formula, with Python dicts and loops."""
    bos = num_classes
    raw = {m: Counter() for m in range(1, order + 1)}
    for seq in seqs:
        padded = [bos] * (order - 1) + list(seq)
        for i in range(order - 1, len(padded)):
            for m in range(1, order + 1):
                raw[m][tuple(padded[i - m + 1 : i + 1])] += 1

    def counts(m):
        if m == order:
            return raw[m]
        result = Counter()
        for gram, count in raw[m].items():
            if m > 1 and gram[0] == bos:
                result[gram] = count  # n-grams starting with BOS keep raw counts
            else:
                result[gram] = len({g[0] for g in raw[m + 1] if g[1:] == gram})
        return result

    def discount(c):
        return 0.0 if c == 0 else discounts[min(c, 3) - 1]

    full = [bos] * (order - 1) + list(context)
    history = full[len(full) - (order - 1) :] if order > 1 else []
    p = 1.0 / num_classes
    for m in range(1, order + 1):
        h = tuple(history[len(history) - (m - 1) :]) if m > 1 else ()
        c = counts(m)
        row = [c[h + (w,)] for w in range(num_classes)]
        total = sum(row)
        if total == 0:
            continue
        backoff = sum(discount(x) for x in row if x > 0)
        p = (max(row[word] - discount(row[word]), 0.0) + backoff * p) / total
    return p


corpora = st.integers(1, 5).flatmap(
    lambda v: st.tuples(
        st.just(v),
        st.lists(st.lists(st.integers(0, v - 1), max_size=12), min_size=1, max_size=6).filter(
            lambda seqs: any(seqs)
        ),
        st.lists(st.lists(st.integers(0, v - 1), max_size=7), min_size=1, max_size=4),
    )
)


# --- proper distributions ----------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(corpora, st.integers(1, 5))
def test_distributions_sum_to_one_for_every_context(corpus, order):
    num_classes, seqs, contexts = corpus
    model = NGramModel(order, num_classes).fit([np.array(s, dtype=np.int64) for s in seqs])
    # The training contexts themselves, plus random (often unseen) ones, of every length.
    probe = contexts + [s[:k] for s in seqs for k in range(len(s) + 1)]
    dists = model.prob_dists([np.array(c, dtype=np.int64) for c in probe])
    assert dists.shape == (len(probe), num_classes)
    np.testing.assert_allclose(dists.sum(axis=1), 1.0, atol=1e-12)
    assert (dists > 0).all()


@settings(max_examples=40, deadline=None)
@given(corpora, st.integers(1, 4), st.sampled_from([(0.5, 0.5, 0.5), (0.3, 1.2, 2.1)]))
# Two sequences start with 0: the BOS n-grams' raw counts (2) differ from continuation counts (1).
@example((3, [[0, 1], [0, 2], [1]], [[]]), 3, (0.5, 0.5, 0.5))
def test_probabilities_match_plain_reference(corpus, order, discounts):
    num_classes, seqs, contexts = corpus
    model = NGramModel(order, num_classes, discount=discounts)
    model.fit([np.array(s, dtype=np.int64) for s in seqs])
    for context in contexts + seqs[:1]:
        got = model.prob_dist(np.array(context, dtype=np.int64))
        want = [
            reference_prob(seqs, order, num_classes, discounts, context, w)
            for w in range(num_classes)
        ]
        np.testing.assert_allclose(got, want, rtol=1e-12)


# --- hand-computed cases -----------------------------------------------------------------------


def test_bigram_by_hand():
    # Corpus "0 0 1", order 2, D = 0.5, BOS = 2; padded: BOS 0 0 1.
    # Unigram continuation counts: 0 follows {BOS, 0} -> 2, 1 follows {0} -> 1; T = 3, G = 1:
    #   P1(0) = (2 - .5 + 1 * 1/2) / 3 = 2/3,  P1(1) = (1 - .5 + 1/2) / 3 = 1/3.
    # Context BOS: c(BOS 0) = 1, T = 1, G = .5: P(0) = .5 + .5 * 2/3 = 5/6, P(1) = 1/6.
    # Context 0: c(0 0) = c(0 1) = 1, T = 2, G = 1: P(0) = (.5 + 2/3) / 2 = 7/12, P(1) = 5/12.
    # Context 1 was never followed by anything: back off to P1.
    model = NGramModel(2, 2, discount=0.5).fit([np.array([0, 0, 1])])
    np.testing.assert_allclose(model.prob_dist([]), [5 / 6, 1 / 6])
    np.testing.assert_allclose(model.prob_dist([0]), [7 / 12, 5 / 12])
    np.testing.assert_allclose(model.prob_dist([0, 1]), [2 / 3, 1 / 3])
    (scores,) = model.log_prob([np.array([0, 0, 1])])
    np.testing.assert_allclose(scores, np.log([5 / 6, 7 / 12, 5 / 12]))


def test_order_one_is_the_unigram():
    seqs = [np.array([0, 0, 1]), np.array([2, 0])]  # counts 3, 1, 1, 0 of 5 tokens
    mle = NGramModel(1, 4, discount=0.0).fit(seqs)
    for context in ([], [1], [2, 2, 2]):
        np.testing.assert_allclose(mle.prob_dist(context), [0.6, 0.2, 0.2, 0.0])
    # D = 0.5: G = 1.5 spread uniformly: (max(c - .5, 0) + 1.5 / 4) / 5.
    smoothed = NGramModel(1, 4, discount=0.5).fit(seqs)
    np.testing.assert_allclose(smoothed.prob_dist([3]), [2.875 / 5, 0.875 / 5, 0.875 / 5, 0.075])


def test_discount_estimates_follow_chen_and_goodman():
    counts = np.repeat([1, 2, 3, 4, 9], [10, 5, 3, 2, 7])  # n1..n4 = 10, 5, 3, 2
    # Y = 10 / 20 = .5; D1 = 1 - 2Y 5/10, D2 = 2 - 3Y 3/5, D3 = 3 - 4Y 2/3.
    np.testing.assert_allclose(estimate_discounts(counts), (0.5, 1.1, 3 - 4 / 3))
    np.testing.assert_allclose(estimate_discounts(counts, modified=False), (0.5, 0.5, 0.5))
    assert estimate_discounts(np.array([1, 1, 3])) == (0.5, 0.5, 0.5)  # n2 = 0: no estimate


# --- learning ----------------------------------------------------------------------------------


def markov_chain(seed, num_classes=5, sequences=90, length=100):
    """Sequences from a random order-3 chain (each token depends on the two before it)."""
    rng = np.random.default_rng(seed)
    table = rng.dirichlet(np.full(num_classes, 0.3), size=(num_classes, num_classes))
    data = []
    for _ in range(sequences):
        seq = list(rng.integers(0, num_classes, 2))
        for _ in range(length - 2):
            seq.append(rng.choice(num_classes, p=table[seq[-2], seq[-1]]))
        data.append(np.array(seq))
    return data


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_order_selection_finds_the_true_order(seed):
    data = markov_chain(seed)
    best, table = select_order(data[:60], data[60:], 5, orders=range(1, 7))
    assert best == 3
    assert [row["order"] for row in table] == [1, 2, 3, 4, 5, 6]
    assert table[2]["loss"] < table[1]["loss"] - 0.1  # a real gain over the bigram


def test_beats_unigram_on_patterned_data():
    rng = np.random.default_rng(0)
    motifs = [rng.integers(0, 12, 8) for _ in range(4)]
    seqs = []
    for _ in range(80):
        seq = np.tile(motifs[rng.integers(4)], 6)
        noise = rng.random(len(seq)) < 0.05
        seq[noise] = rng.integers(0, 12, noise.sum())
        seqs.append(seq)
    unigram = NGramModel(1, 12).fit(seqs[:60]).evaluate(seqs[60:])
    fivegram = NGramModel(5, 12).fit(seqs[:60]).evaluate(seqs[60:])
    assert unigram["loss"] > 2.0
    assert fivegram["loss"] < 0.35 * unigram["loss"]  # measured: 0.59 vs 2.28 nats
    assert fivegram["accuracy"] > 0.8 > 0.2 > unigram["accuracy"]  # measured: 0.88 vs 0.14


def test_with_order_equals_fitting_at_that_order():
    data = markov_chain(3, sequences=20, length=40)
    full = NGramModel(6, 5).fit(data)
    contexts = [d[:k] for d in data[:3] for k in range(0, 12)] + [[4, 4, 4, 4, 4, 4]]
    for order in range(1, 7):
        alone = NGramModel(order, 5).fit(data)
        np.testing.assert_allclose(
            full.with_order(order).prob_dists(contexts), alone.prob_dists(contexts), rtol=1e-12
        )


# --- framing and metrics -----------------------------------------------------------------------


def test_evaluate_scores_the_lstm_positions():
    data = markov_chain(4, sequences=12, length=30)
    model = NGramModel(3, 5).fit(data[:8])
    eval_seqs = data[8:] + [np.array([1])]  # a 1-token sequence has no label
    scores = model.log_prob(eval_seqs)
    assert [len(s) for s in scores] == [len(s) for s in eval_seqs]
    labels = np.concatenate([s[1:] for s in eval_seqs])
    metrics = model.evaluate(eval_seqs, default_label=0)
    assert metrics["steps"] == len(labels)
    assert metrics["loss"] == pytest.approx(-np.concatenate([s[1:] for s in scores]).mean())
    assert metrics["perplexity"] == pytest.approx(math.exp(metrics["loss"]))
    event = labels != 0
    assert metrics["event_steps"] == event.sum()
    event_ll = np.concatenate([s[1:] for s in scores])[event]
    assert metrics["nll_event"] == pytest.approx(-event_ll.mean())
    predictions = np.array(
        [model.prob_dist(s[:t]).argmax() for s in eval_seqs for t in range(1, len(s))]
    )
    assert metrics["accuracy"] == pytest.approx((predictions == labels).mean())
    assert metrics["event_accuracy"] == pytest.approx((predictions == labels)[event].mean())
    assert metrics["no_event_accuracy"] == pytest.approx((predictions == labels)[~event].mean())
    with_first = model.evaluate(eval_seqs, skip_first=False)
    assert with_first["steps"] == sum(len(s) for s in eval_seqs)


def test_log_prob_matches_prob_dist():
    data = markov_chain(5, sequences=10, length=25)
    model = NGramModel(4, 5).fit(data[:7])
    for seq, scores in zip(data[7:], model.log_prob(data[7:]), strict=True):
        want = [math.log(model.prob_dist(seq[:t])[seq[t]]) for t in range(len(seq))]
        np.testing.assert_allclose(scores, want, rtol=1e-12)


# --- files -------------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path):
    data = markov_chain(8, sequences=20, length=40)
    contexts = [d[:k] for d in data[:2] for k in range(12)]
    for model in (NGramModel(4, 5).fit(data), NGramModel(5, 5, discount=0.4).fit(data)):
        path = model.save(tmp_path / "model.npz")
        loaded = NGramModel.load(path)
        assert (loaded.order, loaded.num_classes) == (model.order, model.num_classes)
        np.testing.assert_array_equal(loaded.prob_dists(contexts), model.prob_dists(contexts))
        np.testing.assert_array_equal(
            loaded.with_order(2).prob_dists(contexts), model.with_order(2).prob_dists(contexts)
        )
    with np.load(path) as archive:
        assert archive["meta"].dtype.kind == "U"  # plain arrays only: loadable without pickle


def test_load_rejects_bad_files(tmp_path):
    with pytest.raises(CheckpointError):
        NGramModel.load(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(CheckpointError):
        NGramModel.load(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", meta=np.array('{"format": "something else"}'))
    with pytest.raises(CheckpointError):
        NGramModel.load(tmp_path / "other.npz")
    model = NGramModel(3, 5).fit(markov_chain(9, sequences=5, length=20))
    model.save(tmp_path / "good.npz")
    with np.load(tmp_path / "good.npz") as archive:
        arrays = dict(archive)
    arrays["ngram_keys_2"] = arrays["ngram_keys_2"][::-1].copy()
    np.savez(tmp_path / "damaged.npz", **arrays)
    with pytest.raises(CheckpointError, match="damaged"):
        NGramModel.load(tmp_path / "damaged.npz")


# --- user errors -------------------------------------------------------------------------------


def test_bad_input_raises_project_errors():
    with pytest.raises(ConfigError):
        NGramModel(0, 38)
    with pytest.raises(ConfigError):
        NGramModel(3, 38, discount=1.5)
    with pytest.raises(ConfigError, match="not fitted"):
        NGramModel(3, 5).prob_dist([])
    model = NGramModel(2, 5)
    with pytest.raises(DatasetError, match="outside"):
        model.fit([np.array([0, 5])])
    with pytest.raises(DatasetError, match="integer"):
        model.fit([np.array([0.5, 1.0])])
    with pytest.raises(DatasetError, match="no tokens"):
        model.fit([np.array([], dtype=np.int64)])
    with pytest.raises(DatasetError, match="list"):
        model.fit(np.array([0, 1, 2]))
    model.fit([np.array([0, 1, 2])])
    with pytest.raises(DatasetError, match="no steps"):
        model.evaluate([np.array([1])])
    with pytest.raises(ConfigError):
        model.with_order(3)
