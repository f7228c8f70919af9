"""dataset / train / evaluate from the command line, end to end (issue 12): augmentation with
negative transpositions, the n-gram trained by `train --config markov`, resuming only the run
asked for, bad --hparams as one line, and evaluation columns named after the models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import one_line_error, run_cli

from melodyrnn.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "midi_samples"
ODE = SAMPLES / "ode_to_joy.mid"
TINY = "layer_sizes=[8],batch_size=4"


@pytest.fixture(autouse=True)
def one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    """The samples as a plain dataset (key 0) and augmented by -2, 0, +2 semitones."""
    root = tmp_path_factory.mktemp("datasets")
    plain, augmented = root / "plain", root / "augmented"
    common = ["--keep-highest", "--jobs", "1", "--eval-fraction", "0.3"]
    assert main(["dataset", str(SAMPLES), str(plain), *common]) == 0
    # "-2,0,2" as its own word: argparse used to read it as an unknown option
    assert main(["dataset", str(SAMPLES), str(augmented), "--transpose", "-2,0,2", *common]) == 0
    return plain, augmented


def meta(folder: Path) -> dict:
    return json.loads((folder / "dataset.json").read_text())


def test_negative_transpositions_parse_and_keep_the_keys(datasets):
    plain, augmented = datasets
    settings = meta(augmented)["settings"]
    assert settings["transpositions"] == [-2, 0, 2]
    assert settings["transpose_to_key"] is None  # so the transpositions survive
    assert meta(plain)["settings"]["transpose_to_key"] == 0
    # every sample's melodies lie well inside 0..127, so each transposition keeps them all
    assert meta(augmented)["melodies"] == 3 * meta(plain)["melodies"]


def test_dataset_says_why_keys_are_kept_and_refuses_an_explicit_key(tmp_path, capsys):
    code, out, _ = run_cli(
        capsys, "dataset", SAMPLES, tmp_path / "a", "--transpose", "-1", "--jobs", "1",
        "--keep-highest",
    )  # fmt: skip
    assert code == 0 and "--key none" in out
    line = one_line_error(
        capsys, "dataset", SAMPLES, tmp_path / "b", "--transpose", "-2,0,2", "--key", "0"
    )
    assert "--key" in line and "none" in line and "--transpose" in line
    assert not (tmp_path / "b").exists()


def test_a_step_on_the_augmented_dataset_trains_and_continues(datasets, tmp_path, capsys):
    _, augmented = datasets
    run_dir = tmp_path / "run"
    code, out, err = run_cli(capsys, "train", augmented, "--out", run_dir, "--epochs", "0.01",
                         "--hparams", TINY)  # fmt: skip
    assert code == 0, err
    assert "without key normalisation" in out
    config = json.loads((run_dir / "best" / "config.json").read_text())["config"]
    assert config["name"] == "basic_rnn" and config["transpose_to_key"] is None
    assert json.loads((run_dir / "best" / "config.json").read_text())["metadata"]["step"] == 1
    code, out, err = run_cli(capsys, "continue", ODE, "--model", run_dir / "best", "-o",
                         tmp_path / "out", "--seed", "0", "--steps", "16")  # fmt: skip
    assert code == 0, err
    assert (tmp_path / "out" / "ode_to_joy_continued_1.mid").is_file()


def test_bad_hparams_are_one_line_and_write_nothing(datasets, tmp_path, capsys):
    plain, _ = datasets
    run_dir = tmp_path / "run"
    line = one_line_error(capsys, "train", plain, "--out", run_dir, "--hparams", "batch_size=abc")
    assert "--hparams" in line and "batch_size" in line and "'abc'" in line
    # None as Python spells it means "no key normalisation", which a key-0 dataset cannot give
    line = one_line_error(
        capsys, "train", plain, "--out", run_dir, "--hparams", "transpose_to_key=None"
    )
    assert "keep their own keys" in line and "--key none" in line and "--hparams" in line
    assert "'<'" not in line and "NoneType" not in line
    assert not run_dir.exists()


def test_train_refuses_to_resume_another_config(datasets, tmp_path, capsys):
    plain, _ = datasets
    run_dir = tmp_path / "run"
    first = ["train", plain, "--out", run_dir, "--epochs", "0.01", "--hparams", TINY]
    assert run_cli(capsys, *first)[0] == 0
    log = (run_dir / "metrics.jsonl").read_text()
    line = one_line_error(capsys, *first, "--config", "lookback_rnn")
    assert "basic_rnn" in line and "lookback_rnn" in line and "--out" in line
    line = one_line_error(capsys, "train", plain, "--out", run_dir, "--hparams", "batch_size=8")
    assert "batch_size=4" in line and "--hparams" in line
    assert (run_dir / "metrics.jsonl").read_text() == log  # nothing trained
    # the same command, or none of --config/--hparams, resumes it
    code, out, _ = run_cli(capsys, "train", plain, "--out", run_dir, "--epochs", "0.02")
    assert code == 0 and "resuming" in out


def test_markov_from_the_command_line(datasets, tmp_path, capsys):
    plain, _ = datasets
    folder = tmp_path / "ngram"
    code, out, err = run_cli(capsys, "train", plain, "--config", "markov", "--out", folder)
    assert code == 0, err
    orders = [line for line in out.splitlines() if line.startswith("order")]
    assert len(orders) == 11  # orders 1..11 scored on the eval split
    losses = {int(line.split()[1][:-1]): float(line.split()[4]) for line in orders}
    chosen = json.loads((folder / "config.json").read_text())["config"]["order"]
    assert losses[chosen] == min(losses.values())
    assert f"--model markov:{folder}" in out

    code, out, err = run_cli(capsys, "continue", ODE, "--model", f"markov:{folder}", "-o",
                         tmp_path / "out", "--seed", "1", "--steps", "16")  # fmt: skip
    assert code == 0 and "wrote" in out, err
    code, out, err = run_cli(capsys, "evaluate", f"markov:{folder}", "--data", plain, "--baseline",
                         "none", "--num", "2", "--steps", "8")  # fmt: skip
    assert code == 0, err
    header = next(line for line in out.splitlines() if line.startswith("metric"))
    assert header.split()[1:] == ["markov:ngram"]
    assert f"  markov:ngram: markov:{folder} (config markov)" in out

    line = one_line_error(capsys, "train", plain, "--config", "markov", "--out", folder)
    assert "--force" in line
    assert run_cli(capsys, "train", plain, "--config", "markov", "--out", folder, "--force")[0] == 0


def test_evaluate_names_a_run_by_its_path_and_config(datasets, tmp_path, capsys):
    plain, _ = datasets
    run_dir = tmp_path / "folk"
    code, _, err = run_cli(capsys, "train", plain, "--out", run_dir, "--epochs", "0.01",
                           "--hparams", TINY)  # fmt: skip
    assert code == 0, err
    code, out, err = run_cli(capsys, "evaluate", run_dir / "best", "--data", plain, "--baseline",
                         "none", "--num", "2", "--steps", "8")  # fmt: skip
    assert code == 0, err
    header = next(line for line in out.splitlines() if line.startswith("metric"))
    assert header.split()[1:] == ["folk/best"]  # not "best"
    assert f"folk/best: {run_dir / 'best'} (config basic_rnn)" in out
