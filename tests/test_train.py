"""Training (melodyrnn.training.train): learning, exact resume, seeds, per-variable clipping,
hparams."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from melodyrnn.errors import ConfigError, DatasetError
from melodyrnn.generation.music_rnn import MusicRNN
from melodyrnn.generation.options import SamplingOptions
from melodyrnn.models.configs import get_config
from melodyrnn.pipelines import DatasetSettings
from melodyrnn.training.dataset import MelodyDataset
from melodyrnn.training.train import Trainer, TrainOptions, clip_per_variable, parse_hparams

TINY = get_config(
    "basic_rnn", layer_sizes=[8], batch_size=4, learning_rate=0.02, dropout_keep_prob=0.75
)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models run fastest on one thread (and much faster than two on a busy machine)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def patterned_melodies(count: int, seed: int) -> list[np.ndarray]:
    """Bars of a repeated four-note figure (quarter notes) on a random C-major degree."""
    rng = np.random.default_rng(seed)
    scale = np.array([60, 62, 64, 65, 67, 69, 71, 72])
    out = []
    for _ in range(count):
        start = rng.integers(0, 4)
        figure = scale[start : start + 4]
        bar = np.full(16, -2)
        bar[::4] = figure
        out.append(np.tile(bar, int(rng.integers(3, 6))))
    return out


def make_dataset(train=12, evals=4, settings: DatasetSettings | None = None) -> MelodyDataset:
    melodies = patterned_melodies(train + evals, seed=1)
    split = [0] * train + [1] * evals
    return MelodyDataset.from_melodies(melodies, split, settings, info={"source": "patterns"})


def options(**kw) -> TrainOptions:
    return TrainOptions(**{"epochs": 100.0, "progress": False, "threads": 1, **kw})


def params(trainer: Trainer) -> dict:
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


def test_a_few_steps_decrease_the_loss(tmp_path):
    run_options = options(max_steps=24, eval_every=1000)  # evaluated once, at the end
    trainer = Trainer(make_dataset(), tmp_path / "run", TINY, options=run_options)
    before = trainer.evaluate()["loss"]
    after = trainer.train()["loss"]
    assert math.isclose(before, math.log(38), rel_tol=0.05)  # near uniform when untrained
    assert after < before - 0.5
    assert (tmp_path / "run" / "metrics.jsonl").is_file()


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path):
    ds = make_dataset()
    # 12 melodies in batches of 4: 3 steps per epoch; stop in the middle of epoch 2.
    whole = Trainer(ds, tmp_path / "whole", TINY, options=options(max_steps=7))
    whole.train()
    first = Trainer(ds, tmp_path / "split", TINY, options=options(max_steps=4))
    first.train()
    assert first.step == 4
    resumed = Trainer(ds, tmp_path / "split", TINY, options=options(max_steps=7))
    assert resumed.step == 4
    resumed.train()
    assert resumed.step == 7
    a, b = params(whole), params(resumed)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    halfway = params(first)
    assert not all(torch.equal(halfway[n], a[n]) for n in a)


def test_a_fixed_seed_gives_the_same_run(tmp_path):
    ds = make_dataset()
    runs = [
        Trainer(ds, tmp_path / name, TINY, options=options(max_steps=5, seed=seed))
        for name, seed in (("a", 3), ("b", 3), ("c", 4))
    ]
    for trainer in runs:
        trainer.train()
    a, b, c = map(params, runs)
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert not all(torch.equal(a[n], c[n]) for n in a)


def test_clip_per_variable_clips_each_tensor_by_its_own_norm():
    model = torch.nn.Module()
    model.big = torch.nn.Parameter(torch.zeros(2))
    model.small = torch.nn.Parameter(torch.zeros(2))
    model.unused = torch.nn.Parameter(torch.zeros(3))
    model.big.grad = torch.tensor([3.0, 4.0])  # norm 5
    model.small.grad = torch.tensor([0.3, 0.4])  # norm 0.5
    clip_per_variable(model, 1.0)
    assert torch.allclose(model.big.grad, torch.tensor([0.6, 0.8]))
    # A global clip (norm sqrt(25.25)) would have shrunk this one too.
    assert torch.equal(model.small.grad, torch.tensor([0.3, 0.4]))
    assert model.unused.grad is None
    clip_per_variable(model, 0.0)  # 0: no clipping
    assert torch.allclose(model.big.grad, torch.tensor([0.6, 0.8]))


def test_parse_hparams():
    text = "batch_size=64, rnn_layer_sizes=[256,256],learning_rate=0.003,name=x"
    assert parse_hparams(text) == {
        "batch_size": 64,
        "layer_sizes": [256, 256],
        "learning_rate": 0.003,
        "name": "x",
    }
    assert parse_hparams("a=[1,[2,3]],b=true") == {"a": [1, [2, 3]], "b": True}
    assert parse_hparams("") == {} and parse_hparams(None) == {}
    for none in ("None", "none", "null"):
        assert parse_hparams(f"transpose_to_key={none}") == {"transpose_to_key": None}
    with pytest.raises(ConfigError, match="name=value"):
        parse_hparams("batch_size")
    config = get_config("basic_rnn", **parse_hparams("rnn_layer_sizes=[16,16],batch_size=8"))
    assert config.layer_sizes == [16, 16] and config.batch_size == 8


def test_hparams_reach_the_model(tmp_path):
    hparams = parse_hparams("rnn_layer_sizes=[16,16],batch_size=8")
    trainer = Trainer(make_dataset(), tmp_path / "run", "basic_rnn", hparams, options())
    assert trainer.config.layer_sizes == [16, 16] and trainer.config.batch_size == 8
    assert [cell.hidden_size for cell in trainer.model.cells] == [16, 16]


@pytest.mark.parametrize(
    "settings",
    [DatasetSettings(min_note=36, max_note=84), DatasetSettings(transpose_to_key=None)],
    ids=["range", "key"],
)
def test_a_dataset_for_another_range_or_key(tmp_path, settings):
    with pytest.raises(DatasetError, match="rebuild the dataset"):
        Trainer(make_dataset(settings=settings), tmp_path / "run", TINY, options=options())


def test_a_dataset_without_training_melodies(tmp_path):
    with pytest.raises(DatasetError, match="no training melodies"):
        Trainer(make_dataset(train=0), tmp_path / "run", TINY, options=options())


def test_the_best_checkpoint_loads_and_continues(tmp_path):
    ds = make_dataset()
    run_options = options(max_steps=30, eval_every=1000)  # evaluated once, at the end
    trainer = Trainer(ds, tmp_path / "run", TINY, options=run_options)
    metrics = trainer.train()
    rnn = MusicRNN.from_pretrained(tmp_path / "run" / "best")
    assert rnn.config.layer_sizes == [8]
    assert rnn.metadata["eval_metrics"]["loss"] == pytest.approx(trainer.best_loss)
    assert trainer.best_loss == metrics["loss"]
    primer = ds.melodies("eval")[0][:16].astype(np.int64)
    result = rnn.continue_events(
        primer, 32, options=SamplingOptions(temperature=1.0, seed=5, num_outputs=2)
    )
    again = rnn.continue_events(
        primer, 32, options=SamplingOptions(temperature=1.0, seed=5, num_outputs=2)
    )
    assert result.events.shape == (2, 32)
    assert np.array_equal(result.events, again.events)
    assert set(np.unique(result.events)) <= set(range(48, 84)) | {-2, -1}
    # The checkpoint is the trained network: same teacher-forced scores as the trainer's.
    inputs, labels = rnn.encoder.encode(primer)
    trainer.model.eval()
    with torch.no_grad():
        logits, _ = trainer.model(torch.from_numpy(inputs)[None])
    expected = torch.log_softmax(logits[0].double(), -1)[torch.arange(15), labels].numpy()
    assert np.allclose(rnn.score(rnn.events_to_sequence(primer)), expected, atol=1e-5)


def test_a_run_without_eval_melodies_still_writes_a_checkpoint(tmp_path):
    trainer = Trainer(make_dataset(evals=0), tmp_path / "run", TINY, options=options(max_steps=3))
    trainer.train()
    rnn = MusicRNN.from_pretrained(tmp_path / "run" / "best")
    assert rnn.metadata["step"] == 3


def test_a_run_is_resumed_only_with_its_own_config(tmp_path):
    ds = make_dataset()
    Trainer(ds, tmp_path / "run", TINY, options=options(max_steps=2)).train()
    assert Trainer(ds, tmp_path / "run", options=options()).step == 2  # None: the run's own
    assert Trainer(ds, tmp_path / "run", TINY, options=options()).step == 2
    with pytest.raises(ConfigError, match="holds a run of config basic_rnn, not lookback_rnn"):
        Trainer(ds, tmp_path / "run", "lookback_rnn", options=options())
    with pytest.raises(ConfigError, match=r"batch_size=4 \(asked: 8\)"):
        Trainer(ds, tmp_path / "run", TINY, {"batch_size": 8}, options())
