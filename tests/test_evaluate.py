"""Evaluation (melodyrnn.training.evaluate, melodyrnn.models.metrics) on cases whose numbers are
known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from melodyrnn.errors import DatasetError
from melodyrnn.generation.music_rnn import MusicRNN
from melodyrnn.io.midi import sequence_to_midi_file
from melodyrnn.models.checkpoint import save_checkpoint
from melodyrnn.models.configs import get_config
from melodyrnn.models.metrics import step_metrics
from melodyrnn.models.rnn import EventRNN
from melodyrnn.pipelines import DatasetSettings
from melodyrnn.sequence import Note, NoteSequence, Tempo, TimeSignature
from melodyrnn.training.dataset import MelodyDataset, save_dataset
from melodyrnn.training.evaluate import (
    evaluate_likelihood,
    evaluate_models,
    format_evaluation,
    generate_for_eval,
    load_eval_melodies,
    melody_features,
    musical_metrics,
    overlap_area,
    overlap_areas,
    reference_continuations,
    sounding_steps,
)
from melodyrnn.training.ngram import fit_ngram_model, train_ngram_model
from melodyrnn.training.train import EncodedMelodies, evaluate_model

NO, OFF = -2, -1


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models run fastest on one thread (and much faster than two on a busy machine)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def tiny_rnn(name: str, seed: int = 0) -> MusicRNN:
    config = get_config(name, layer_sizes=[8])
    torch.manual_seed(seed)
    return MusicRNN(EventRNN.from_config(config), config)


def walks(count: int, seed: int, length: int = 96) -> list[np.ndarray]:
    """C-major random walks with repeated bars, so lookback repeat labels occur."""
    rng = np.random.default_rng(seed)
    scale = np.array([60, 62, 64, 65, 67, 69, 71, 72])
    out = []
    for _ in range(count):
        bar = np.full(16, NO)
        bar[::4] = scale[rng.integers(0, 8, 4)]
        bar[6] = OFF
        other = bar.copy()
        other[4] = scale[rng.integers(0, 8)]
        out.append(np.resize(np.concatenate([bar, bar, other]), length))
    return out


def as_dataset(train: list, evals: list, settings=None) -> MelodyDataset:
    return MelodyDataset.from_melodies(
        train + evals, [0] * len(train) + [1] * len(evals), settings, info={"source": "walks"}
    )


# --- step metrics and likelihoods by hand ------------------------------------------------------


def test_step_metrics_by_hand():
    ll = np.log([0.5, 0.25, 1.0, 0.125])
    labels = np.array([0, 3, 0, 5])
    predictions = np.array([0, 2, 0, 5])
    m = step_metrics(ll, predictions, labels, default_label=0)
    loss = (math.log(2) + math.log(4) + 0 + math.log(8)) / 4  # = 1.5 ln 2
    assert m["steps"] == 4 and m["event_steps"] == 2
    assert m["loss"] == pytest.approx(loss)
    assert m["loss_bits"] == pytest.approx(1.5)
    assert m["perplexity"] == pytest.approx(2**1.5)
    assert m["accuracy"] == 0.75
    assert m["event_accuracy"] == 0.5 and m["no_event_accuracy"] == 1.0
    assert m["nll_event"] == pytest.approx((math.log(4) + math.log(8)) / 2)
    assert m["nll_event_bits"] == pytest.approx(2.5)
    assert m["nll_no_event"] == pytest.approx(math.log(2) / 2)
    # An explicit event mask replaces "label != default": e.g. a lookback repeat label 3.
    m = step_metrics(ll, predictions, labels, 0, event_mask=np.array([0, 0, 1, 1], bool))
    assert m["event_steps"] == 2 and m["nll_event"] == pytest.approx(math.log(8) / 2)
    assert m["event_accuracy"] == 1.0 and m["no_event_accuracy"] == 0.5
    with pytest.raises(ValueError):
        step_metrics(np.zeros(0), np.zeros(0), np.zeros(0), 0)


def test_unigram_nll_by_hand():
    # Counts of the one-hot labels: NO_EVENT 6, C4 (class 14) 1, D4 (class 16) 1.
    corpus = [np.array([60, NO, NO, NO, 62, NO, NO, NO])]
    model = fit_ngram_model(corpus, order=1, squash=False, discount=0.0)
    p = {NO: 6 / 8, 60: 1 / 8, 62: 1 / 8}
    melody = np.array([60, NO, 62, NO])  # scored: positions 1..3 = NO, D4, NO
    m = evaluate_likelihood(model, [melody])
    assert m["steps"] == 3 and m["event_steps"] == 1
    assert m["loss"] == pytest.approx(-(2 * math.log(p[NO]) + math.log(p[62])) / 3)
    assert m["nll_event"] == pytest.approx(math.log(8))
    assert m["accuracy"] == pytest.approx(2 / 3)  # always predicts NO_EVENT
    assert m["event_accuracy"] == 0.0


def test_lstm_nll_by_hand():
    """An LSTM whose logits are a fixed bias scores every step with softmax(bias)."""
    rnn = tiny_rnn("basic_rnn")
    probs = np.full(38, 0.2 / 36)
    probs[0], probs[14] = 0.5, 0.3  # NO_EVENT, C4
    with torch.no_grad():
        rnn.network.logits.weights.zero_()
        rnn.network.logits.biases.copy_(torch.from_numpy(np.log(probs)).float())
    melodies = [np.array([60, NO, 60, NO, 62, OFF]), np.array([64, NO])]
    m = evaluate_likelihood(rnn, melodies)
    scored = [NO, 60, NO, 62, OFF, NO]
    classes = {NO: 0, OFF: 1, 60: 14, 62: 16}
    expected = -np.mean([math.log(probs[classes[e]]) for e in scored])
    assert m["steps"] == 6 and m["event_steps"] == 3
    assert m["loss"] == pytest.approx(expected, rel=1e-5)
    assert m["nll_event"] == pytest.approx(
        -np.mean([math.log(probs[classes[e]]) for e in (60, 62, OFF)]), rel=1e-5
    )
    assert m["accuracy"] == pytest.approx(3 / 6)  # argmax is always NO_EVENT


def test_lookback_one_hot_and_ngram_score_the_same_steps():
    melodies = walks(5, seed=1) + [np.array([60]), np.array([60, NO, NO])]
    lookback, one_hot = tiny_rnn("lookback_rnn"), tiny_rnn("basic_rnn")
    ngram = fit_ngram_model(walks(10, seed=2), order=3, squash=False)
    results = [evaluate_likelihood(m, melodies) for m in (lookback, one_hot, ngram)]
    steps = sum(len(m) - 1 for m in melodies)
    events = sum(int((m[1:] != NO).sum()) for m in melodies)
    for r in results:
        assert (r["steps"], r["event_steps"]) == (steps, events)
    # The lookback labels alone would mark other steps as events: the mask matters.
    label_events = sum(
        int((lookback.encoder.labels(m)[1:] != lookback.encoder.default_event_label).sum())
        for m in melodies
    )
    assert label_events != events


def test_ngram_metrics_equal_its_network_view():
    """NGramModel.evaluate and the LSTM path (train.evaluate_model) agree for the n-gram."""
    ngram = fit_ngram_model(walks(10, seed=3), order=4, squash=False)
    melodies = walks(4, seed=4)
    direct = evaluate_likelihood(ngram, melodies)
    data = EncodedMelodies.from_events(ngram.encoder, melodies, NO)
    network = evaluate_model(ngram.network, data, ngram.encoder.default_event_label)
    for key in ("steps", "event_steps", "accuracy", "event_accuracy"):
        assert direct[key] == network[key], key
    for key in ("loss", "nll_event", "perplexity"):
        assert direct[key] == pytest.approx(network[key], rel=1e-5), key


# --- musical metrics by hand -------------------------------------------------------------------


def test_entropy_of_one_pitch_class_is_zero():
    f = melody_features(np.array([60, NO, 72, NO, 48, NO, OFF, NO] * 2))
    assert f["pitch_class_entropy"] == 0.0
    assert f["pitch_range"] == 24 and f["pitch_count"] == 3
    assert f["scale_consistency"] == 1.0


def test_c_major_scale():
    events = np.full(32, NO)
    events[::4] = [60, 62, 64, 65, 67, 69, 71, 72]
    f = melody_features(events)
    assert f["scale_consistency"] == 1.0
    # 8 notes over 7 pitch classes: C twice.
    p = np.array([2, 1, 1, 1, 1, 1, 1]) / 8
    assert f["pitch_class_entropy"] == pytest.approx(-(p * np.log2(p)).sum())
    assert f["note_density"] == 4.0  # 8 notes in 2 bars
    assert f["avg_pitch_interval"] == pytest.approx(12 / 7)
    assert f["avg_ioi"] == 4.0
    assert f["empty_beat_rate"] == 0.0


def test_chromatic_scale_consistency():
    events = np.arange(60, 72)
    f = melody_features(events)
    assert f["scale_consistency"] == pytest.approx(7 / 12)
    assert f["pitch_class_entropy"] == pytest.approx(math.log2(12))


def test_empty_beat_rate():
    # Beat 1 C, beat 2 rest (NOTE_OFF then holds), beats 3-4 D and E: one beat of four empty.
    events = np.array([60, NO, NO, NO, OFF, NO, NO, NO, 62, NO, NO, NO, 64, NO, NO, NO])
    assert list(sounding_steps(events)) == [1] * 4 + [0] * 4 + [1] * 8
    assert melody_features(events)["empty_beat_rate"] == 0.25
    # A rest that starts mid-beat leaves the beat sounding; holds before the first note are rest.
    events = np.array([NO] * 4 + [60, NO, OFF, NO] + [62] + [NO] * 6 + [OFF])
    assert melody_features(events)["empty_beat_rate"] == 0.25
    assert melody_features(np.full(16, NO))["empty_beat_rate"] == 1.0
    assert math.isnan(melody_features(np.full(16, NO))["pitch_class_entropy"])


def test_musical_metrics_averages():
    a = np.array([60, NO, NO, NO, 62, NO, NO, NO] * 2)  # 4 notes per bar, range 2
    b = np.array([60, NO, 67, NO] * 4)  # 8 notes per bar, range 7
    m = musical_metrics([a, b])
    assert m["melodies"] == 2
    assert m["note_density"] == 6.0 and m["note_density_std"] == 2.0
    assert m["pitch_range"] == 4.5
    assert m["scale_consistency"] == 1.0


def test_overlap_area_of_known_distributions():
    from scipy.stats import norm

    x = norm.ppf((np.arange(500) + 0.5) / 500)  # an evenly spread N(0, 1) sample
    assert overlap_area(x, x) == pytest.approx(1.0, abs=1e-3)
    assert overlap_area(x, x + 50) < 1e-3
    # N(0,1) vs N(1,1): 2 Phi(-1/2) = 0.617 (the KDE's smoothing adds a little).
    assert overlap_area(x, x + 1) == pytest.approx(2 * norm.cdf(-0.5), abs=0.02)
    # N(0,1) vs N(0,4): the densities cross at +-c, c^2 = 8 ln 2 / 3.
    c = math.sqrt(8 * math.log(2) / 3)
    expected = (2 * norm.cdf(c / 2) - 1) + 2 * norm.sf(c)
    assert overlap_area(x, 2 * x) == pytest.approx(expected, abs=0.01)
    assert overlap_area([2.0, 2.0], [2.0]) == 1.0 and overlap_area([2.0], [3.0]) == 0.0
    assert math.isnan(overlap_area([], [1.0]))


def test_overlap_areas_of_identical_and_disjoint_sets():
    rng = np.random.default_rng(1)

    def melody(low: int, span: int) -> np.ndarray:
        events = np.full(64, NO)
        onsets = np.arange(0, 64, int(rng.choice([2, 4])))
        events[onsets] = rng.integers(low, low + span + 1, len(onsets))
        events[0], events[8] = low, low + span  # the range is exactly `span`
        return events

    data = [melody(60, int(rng.integers(2, 7))) for _ in range(30)]
    same = overlap_areas(data, data)
    # Identical sets: the inter-set distances are the intra-set ones plus the 30 zero
    # self-distances, so the overlap is close to 1.
    assert all(v > 0.9 for v in same.values()), same
    wide = [melody(48, int(rng.integers(30, 35))) for _ in range(30)]
    apart = overlap_areas(wide, data)
    assert apart["pitch_range"] < 0.02 and apart["pitch_count"] < 0.2, apart


# --- data, generation and the whole report -----------------------------------------------------


def write_midi(path, pitches):
    notes = [Note(p, 100, i * 0.25, (i + 1) * 0.25) for i, p in enumerate(pitches)]
    ns = NoteSequence(
        notes=notes,
        tempos=[Tempo(0.0, 120.0)],
        time_signatures=[TimeSignature(0.0, 4, 4)],
        total_time=len(pitches) * 0.25,
    )
    sequence_to_midi_file(ns, path)


@pytest.fixture
def midi_dir(tmp_path):
    folder = tmp_path / "midi"
    folder.mkdir()
    # 8 bars of eighth notes in E major, around E5-B5 (to be moved to C major, 48..83).
    e_major = [76, 78, 80, 81, 83, 85, 87, 88]
    write_midi(folder / "a.mid", [e_major[i % 8] for i in range(64)])
    write_midi(folder / "b.mid", [e_major[(3 * i) % 8] for i in range(64)])
    (folder / "junk.mid").write_bytes(b"junk")
    return folder


def test_load_eval_melodies_from_a_midi_folder(midi_dir):
    melodies = load_eval_melodies(midi_dir, tiny_rnn("basic_rnn"))
    assert len(melodies) == 2 and all(len(m) == 128 for m in melodies)
    for m in melodies:
        notes = m[m >= 0]
        assert notes.min() >= 48 and notes.max() <= 83
        assert set(notes % 12) <= {0, 2, 4, 5, 7, 9, 11}
    # The first tune, E major scale from E: C major scale from C.
    assert list(melodies[0][melodies[0] >= 0][:8] % 12) == [0, 2, 4, 5, 7, 9, 11, 0]


def test_load_eval_melodies_from_a_dataset(tmp_path):
    ds = as_dataset(walks(4, 5), walks(3, 6))
    folder = save_dataset(ds, tmp_path / "ds")
    melodies = load_eval_melodies(folder, tiny_rnn("basic_rnn"))
    assert len(melodies) == 3
    assert all(np.array_equal(a, b) for a, b in zip(melodies, walks(3, 6)))
    other = save_dataset(
        as_dataset(walks(4, 5), walks(3, 6), DatasetSettings(transpose_to_key=None)),
        tmp_path / "other",
    )
    with pytest.raises(DatasetError, match="built for notes 48..83 in key None"):
        load_eval_melodies(other, tiny_rnn("basic_rnn"))
    no_eval = save_dataset(as_dataset(walks(4, 5), []), tmp_path / "no_eval")
    with pytest.raises(DatasetError, match="no eval melodies"):
        load_eval_melodies(no_eval, tiny_rnn("basic_rnn"))


def test_generate_for_eval():
    melodies = walks(3, seed=7) + [np.array([60, NO, NO])]  # the last one is too short
    model = fit_ngram_model(walks(10, seed=8), order=3, squash=False)
    out = generate_for_eval(model, melodies, num=5, primer_steps=16, steps=24, seed=1)
    again = generate_for_eval(model, melodies, num=5, primer_steps=16, steps=24, seed=1)
    assert len(out) == 5 and all(len(o) == 24 for o in out)
    assert all(np.array_equal(a, b) for a, b in zip(out, again))
    refs = reference_continuations(melodies, num=5, primer_steps=16, steps=24, seed=1)
    assert all(any(np.array_equal(r, m[16:40]) for m in melodies[:3]) for r in refs)
    with pytest.raises(DatasetError, match="no evaluation melody has 200 steps"):
        generate_for_eval(model, melodies, num=2, primer_steps=100, steps=100)


def test_evaluate_models_end_to_end(tmp_path, midi_dir):
    folder = save_dataset(as_dataset(walks(12, 9), walks(4, 10)), tmp_path / "ds")
    rnn = tiny_rnn("lookback_rnn", seed=2)
    checkpoint = save_checkpoint(rnn.network, rnn.config, tmp_path / "lstm")
    options = dict(num=4, primer_steps=16, steps=32, orders=range(1, 4))
    result = evaluate_models([str(checkpoint)], folder, **options)
    assert list(result["likelihood"]) == ["lstm", "n-gram"]
    lstm, ngram = result["likelihood"]["lstm"], result["likelihood"]["n-gram"]
    assert (lstm["steps"], lstm["event_steps"]) == (ngram["steps"], ngram["event_steps"])
    assert lstm["steps"] == 4 * 95
    assert ngram["loss"] < lstm["loss"]  # an untrained LSTM against a fitted n-gram
    assert list(result["musical"]) == ["data", "lstm", "n-gram"]
    assert set(result["overlap"]) == {"lstm", "n-gram"}
    assert 1 <= result["baseline"]["order"] <= 3
    report = format_evaluation(result)
    for needle in ("n-gram", "lstm", "pitch-class entropy", "overlap area", "NLL on event steps"):
        assert needle in report

    # A MIDI folder has no train split: the baseline must be given.
    with pytest.raises(DatasetError, match="markov:PATH"):
        evaluate_models(str(checkpoint), midi_dir, **options)
    ngram_path = train_ngram_model(folder, orders=[2])[0].save(tmp_path / "markov")
    result = evaluate_models(
        checkpoint, midi_dir, baseline=f"markov:{ngram_path}", num=2, primer_steps=16, steps=32
    )
    assert result["eval_melodies"] == 2
    assert result["likelihood"]["lstm"]["steps"] == result["likelihood"]["n-gram"]["steps"]
    assert "n-gram" in format_evaluation(result)
