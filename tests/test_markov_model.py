"""The n-gram baseline as a MusicRNN: the melody family plus an NGramNet (models.ngram_net)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from melodyrnn.errors import CheckpointError, DatasetError, EncodingError, GenerationError
from melodyrnn.generation.music_rnn import MusicRNN, load_model
from melodyrnn.generation.options import SamplingOptions
from melodyrnn.models.checkpoint import save_checkpoint
from melodyrnn.models.configs import get_config
from melodyrnn.models.ngram import NGramModel
from melodyrnn.models.ngram_net import MarkovConfig, NGramNet, load_ngram_model
from melodyrnn.models.rnn import EventRNN
from melodyrnn.sequence import Note, NoteSequence, QuantizationInfo, Tempo
from melodyrnn.training.dataset import MelodyDataset, save_dataset
from melodyrnn.training.ngram import fit_ngram_model, train_ngram_model


def tunes(count: int, seed: int) -> list[np.ndarray]:
    """Random walks on the C major scale in eighth and quarter notes, with rests."""
    rng = np.random.default_rng(seed)
    scale = np.array([55, 57, 59, 60, 62, 64, 65, 67, 69, 71, 72, 74, 76])
    out = []
    for _ in range(count):
        events, degree = [], 6
        while len(events) < 64:
            degree = int(np.clip(degree + rng.integers(-2, 3), 0, len(scale) - 1))
            length = int(rng.choice([2, 4]))
            head = -1 if rng.random() < 0.1 else int(scale[degree])
            events += [head] + [-2] * (length - 1)
        events[0] = 60
        out.append(np.array(events[:64]))
    return out


def dataset(train=24, evals=8, settings=None) -> MelodyDataset:
    return MelodyDataset.from_melodies(
        tunes(train + evals, seed=0), [0] * train + [1] * evals, settings, info={"source": "walks"}
    )


@pytest.fixture(scope="module")
def trained():
    return train_ngram_model(dataset(), orders=range(1, 6))


def test_train_chooses_the_order_on_the_eval_split(trained, tmp_path):
    model, table = trained
    assert [row["order"] for row in table] == [1, 2, 3, 4, 5]
    assert model.network.order == min(table, key=lambda r: r["loss"])["order"]
    assert model.network.ngram.num_classes == 38 and model.network.ngram.fitted
    ds = dataset()
    # The model is the n-gram of the train split's one-hot labels at that order.
    labels = [model.encoder.labels(m.astype(np.int64)) for m in ds.melodies("train")]
    direct = NGramModel(model.network.order, 38).fit(labels)
    eval_labels = [model.encoder.labels(m.astype(np.int64)) for m in ds.melodies("eval")]
    assert direct.evaluate(eval_labels)["loss"] == pytest.approx(
        model.network.ngram.evaluate(eval_labels)["loss"], abs=1e-12
    )
    assert model.network.ngram.evaluate(eval_labels)["loss"] == pytest.approx(
        min(r["loss"] for r in table), abs=1e-12
    )
    # From a dataset folder too.
    folder = save_dataset(ds, tmp_path / "ds")
    again, _ = train_ngram_model(folder, orders=[model.network.order])
    assert again.network.order == model.network.order


def test_the_face(trained):
    model, _ = trained
    assert model.pitch_range == (48, 83)
    assert model.config.min_note == 48 and model.config.max_note == 84
    assert model.kind == "melody" and isinstance(model.network, NGramNet)
    assert model.config.encoder == {"type": "one_hot_melody", "min_note": 48, "max_note": 84}
    assert model.config.transpose_to_key == 0
    assert model.encoder.num_classes == 38


def test_train_needs_eval_melodies_to_choose():
    with pytest.raises(DatasetError, match="no eval melodies"):
        train_ngram_model(dataset(evals=0), orders=range(1, 4))
    model, table = train_ngram_model(dataset(evals=0), orders=[2])
    assert model.network.order == 2 and table == []


def test_network_view_gives_the_ngram_distributions(trained):
    model, _ = trained
    melody = tunes(1, seed=9)[0]
    labels = model.encoder.labels(melody)
    full = model.network.ngram.log_prob([labels])[0]
    primer = model.events_to_sequence(melody)
    assert np.allclose(model.score(primer), full[1:], atol=1e-5)  # float32 logits


def test_continue_events_is_seeded_and_samples_the_ngram(trained):
    model, _ = trained
    primer = tunes(1, seed=3)[0][:32]
    a = model.continue_events(
        primer, 24, options=SamplingOptions(temperature=1.0, seed=11, num_outputs=3)
    )
    b = model.continue_events(
        primer, 24, options=SamplingOptions(temperature=1.0, seed=11, num_outputs=3)
    )
    c = model.continue_events(
        primer, 24, options=SamplingOptions(temperature=1.0, seed=12, num_outputs=3)
    )
    assert a.events.shape == (3, 24)
    assert np.array_equal(a.events, b.events) and not np.array_equal(a.events, c.events)
    assert np.array_equal(model.encoder.labels(a.events[0]), a.classes[0])
    # The reported log-likelihood is the n-gram's of the continuation given the primer.
    for row in range(3):
        labels = model.encoder.labels(np.concatenate([primer, a.events[row]]))
        expected = model.network.ngram.log_prob([labels])[0][32:].sum()
        assert a.log_likelihood[row] == pytest.approx(expected, abs=1e-4)
    # Argmax follows the most likely class of the n-gram at every step.
    greedy = model.continue_events(primer, 8, options=SamplingOptions(temperature=None))
    history = list(model.encoder.labels(primer))
    for cls in greedy.classes[0]:
        assert cls == int(np.argmax(model.network.ngram.prob_dist(history)))
        history.append(cls)


def test_first_sampled_event_follows_the_ngram_distribution(trained):
    model, _ = trained
    primer = tunes(1, seed=4)[0][:20]
    n = 4000
    result = model.continue_events(
        primer, 1, options=SamplingOptions(temperature=1.0, seed=0, num_outputs=n)
    )
    counts = np.bincount(result.classes[:, 0], minlength=38)
    p = model.network.ngram.prob_dist(model.encoder.labels(primer))
    likely = p > 0.02
    assert np.allclose(counts[likely] / n, p[likely], atol=4 * np.sqrt(0.25 / n))


def test_temperature_sharpens_the_ngram_distribution(trained):
    """At temperature T the sampler draws from p ** (1 / T), renormalised (logits are log p)."""
    model, _ = trained
    primer = tunes(1, seed=4)[0][:20]
    n = 4000
    result = model.continue_events(
        primer, 1, options=SamplingOptions(temperature=0.3, seed=1, num_outputs=n)
    )
    freq = np.bincount(result.classes[:, 0], minlength=38) / n
    p = model.network.ngram.prob_dist(model.encoder.labels(primer))
    sharp = p ** (1 / 0.3)
    sharp /= sharp.sum()
    assert np.allclose(freq, sharp, atol=4 * np.sqrt(0.25 / n))
    assert freq[p.argmax()] > max(p.max(), 0.5)  # sharper than temperature 1


def test_masks_are_respected(trained):
    model, _ = trained
    primer = tunes(1, seed=5)[0][:32]
    allowed = np.zeros(38, bool)
    allowed[[0, 2 + 12, 2 + 19]] = True  # NO_EVENT, C4, G4
    out = model.continue_events(
        primer, 40, options=SamplingOptions(temperature=1.5, seed=1, num_outputs=4), mask=allowed
    )
    assert set(np.unique(out.events)) <= {-2, 60, 67}
    pitches = np.zeros(128, bool)
    pitches[[62, 64, 65]] = True
    callable_mask = model.family.pitch_mask(pitches, forbid_hold_at=len(primer))
    out = model.continue_events(
        primer,
        40,
        options=SamplingOptions(temperature=1.0, seed=2, num_outputs=4),
        mask=callable_mask,
    )
    assert set(np.unique(out.events[out.events >= 0])) <= {62, 64, 65}
    assert (out.events[:, 0] != -2).all()  # no hold right after the primer
    with pytest.raises(GenerationError, match="allows no class"):
        model.continue_events(
            primer, 4, options=SamplingOptions(temperature=1.0, seed=1), mask=np.zeros(38, bool)
        )


def test_options_like_music_rnn(trained):
    model, _ = trained
    primer = tunes(1, seed=6)[0][:32]
    top1 = model.continue_events(
        primer, 16, options=SamplingOptions(temperature=1.0, top_k=1, seed=3)
    )
    greedy = model.continue_events(primer, 16, options=SamplingOptions(temperature=None))
    assert np.array_equal(top1.events, greedy.events)
    beam = model.continue_events(
        primer,
        16,
        options=SamplingOptions(
            temperature=1.0, seed=3, beam_size=3, branch_factor=2, steps_per_iteration=4
        ),
    )
    assert beam.events.shape == (1, 16)
    labels = model.encoder.labels(np.concatenate([primer, beam.events[0]]))
    assert beam.log_likelihood[0] == pytest.approx(
        model.network.ngram.log_prob([labels])[0][32:].sum(), abs=1e-4
    )
    with pytest.raises(GenerationError, match="no chord input"):
        model.continue_events(primer, 4, chord_progression=["C", "G"])
    with pytest.raises(GenerationError, match="primer is empty"):
        model.continue_events(np.zeros(0, np.int64), 4)


def test_continue_sequence(trained):
    model, _ = trained
    notes = [Note(60 + 2 * i, 100, i * 0.5, (i + 1) * 0.5, 4 * i, 4 * i + 4) for i in range(4)]
    primer = NoteSequence(
        notes=notes,
        tempos=[Tempo(0.0, 120.0)],
        quantization_info=QuantizationInfo(steps_per_quarter=4),
        total_quantized_steps=16,
        total_time=2.0,
    )
    assert list(model.primer_events(primer)[::4]) == [60, 62, 64, 66]
    [out] = model.continue_sequence(primer, 32, options=SamplingOptions(temperature=1.0, seed=7))
    assert out.total_quantized_steps == 32 and out.notes
    assert all(48 <= n.pitch <= 83 for n in out.notes)


def test_save_load_round_trip(trained, tmp_path):
    model, _ = trained
    path = model.save(tmp_path / "markov")
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "ngram.npz"]
    back = MusicRNN.from_pretrained(path)
    assert back.config == model.config and back.network.order == model.network.order
    assert back.metadata == json.loads(json.dumps(model.metadata))
    contexts = [[], [14, 0, 0], list(model.encoder.labels(tunes(1, 8)[0]))]
    assert np.array_equal(
        back.network.ngram.prob_dists(contexts), model.network.ngram.prob_dists(contexts)
    )
    primer = tunes(1, seed=7)[0][:16]
    a = model.continue_events(primer, 16, options=SamplingOptions(temperature=1.0, seed=4)).events
    assert np.array_equal(
        a, back.continue_events(primer, 16, options=SamplingOptions(temperature=1.0, seed=4)).events
    )
    assert isinstance(load_model(f"markov:{path}").network, NGramNet)
    with pytest.raises(CheckpointError, match="already exists"):
        model.save(path)
    model.save(path, force=True)
    assert load_ngram_model(path)[0].order == model.network.order
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers


def test_from_melodies_squashes_into_the_model_range():
    high = [np.where(m >= 0, m + 24, m) for m in tunes(6, seed=1)]  # pitches 79..100
    model = fit_ngram_model(high, order=3)
    assert model.network.order == 3
    with pytest.raises(EncodingError, match="outside"):  # not squashed: no label above 83
        fit_ngram_model(high, order=3, squash=False)
    # Squashing ignores whole octaves: the same tunes two octaves lower give the same model.
    same = fit_ngram_model(tunes(6, seed=1), order=3)
    contexts = [[], [14, 0, 0, 0, 16], [20]]
    assert np.allclose(
        model.network.ngram.prob_dists(contexts), same.network.ngram.prob_dists(contexts)
    )


def test_bad_paths(tmp_path, trained):
    model, _ = trained
    with pytest.raises(CheckpointError, match="does not exist"):
        load_ngram_model(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(CheckpointError, match="is a file"):
        load_ngram_model(tmp_path / "file")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="config.json is missing"):
        load_ngram_model(tmp_path / "empty")
    lstm = tmp_path / "lstm"
    config = get_config("basic_rnn", layer_sizes=[4])
    save_checkpoint(EventRNN.from_config(config), config, lstm)
    with pytest.raises(CheckpointError, match="leave out the markov: prefix"):
        load_ngram_model(lstm)
    with pytest.raises(CheckpointError):
        load_model(f"markov:{lstm}")

    good = model.save(tmp_path / "good")
    (good / "ngram.npz").write_bytes(b"not an npz")
    with pytest.raises(CheckpointError, match="cannot read n-gram model"):
        load_ngram_model(good)
    good = model.save(tmp_path / "good2")
    (good / "ngram.npz").unlink()
    with pytest.raises(CheckpointError):
        load_ngram_model(good)
    good = model.save(tmp_path / "good3")
    data = json.loads((good / "config.json").read_text())
    data["config"]["max_note"] = 96
    data["config"]["encoder"]["max_note"] = 96
    (good / "config.json").write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="does not match its config"):
        load_ngram_model(good)
    (good / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_ngram_model(good)


def test_config_round_trip():
    config = MarkovConfig(order=4, min_note=36, max_note=96, transpose_to_key=None)
    assert config.num_classes == 62
    assert MarkovConfig.from_dict(config.to_dict()) == config
