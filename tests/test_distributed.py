"""Training on two processes (gloo, as torchrun starts them) gives the model one process gives,
and a run resumes on another number of processes."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from melodyrnn.training.dataset import MelodyDataset
from melodyrnn.training.distributed import choose_device, setup
from melodyrnn.training.shards import save_sharded
from melodyrnn.training.train import Trainer, TrainOptions

ROOT = Path(__file__).resolve().parents[1]
HPARAMS = "batch_size=8,rnn_layer_sizes=[16],dropout_keep_prob=1.0"


def patterns(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(4)
    scale = np.array([60, 62, 64, 65, 67, 69, 71, 72])
    out = []
    for _ in range(count):
        bar = np.full(16, -2)
        start = rng.integers(0, 4)
        bar[::4] = scale[start : start + 4]
        out.append(np.tile(bar, int(rng.integers(2, 6)))[: int(rng.integers(20, 80))])
    return out


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """30 melodies (6 eval) in 10 shards of 3 files."""
    ds = MelodyDataset.from_melodies(patterns(30), [int(i % 5 == 4) for i in range(30)])
    return save_sharded(ds, tmp_path_factory.mktemp("ds") / "ds", files_per_shard=3)


def one_process(dataset: Path, run: Path, epochs: float) -> dict:
    from melodyrnn.training.train import parse_hparams

    options = TrainOptions(epochs=epochs, seed=3, threads=1, progress=False)
    Trainer(dataset, run, "basic_rnn", parse_hparams(HPARAMS), options).train()
    return weights(run)


def weights(run: Path) -> dict:
    state = load_file(str(run / "state" / "state.safetensors"))
    return {k: v for k, v in state.items() if k.startswith("model.")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_processes(dataset: Path, run: Path, epochs: float) -> list[tuple[str, str]]:
    """``melodyrnn train`` on 2 processes with the variables torchrun sets."""
    port, procs = free_port(), []
    for rank in range(2):
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": "2",
            "LOCAL_WORLD_SIZE": "2",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "OMP_NUM_THREADS": "1",
        }
        command = [sys.executable, "-m", "melodyrnn", "train", str(dataset), "--out", str(run)]
        command += ["--hparams", HPARAMS, "--epochs", str(epochs), "--seed", "3"]
        command += ["--threads", "1", "--device", "cpu"]
        procs.append(
            subprocess.Popen(
                command,
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    return outs


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=1e-5, atol=1e-6), (k, (a[k] - b[k]).abs().max())


def test_two_gloo_processes_train_the_model_one_process_trains(dataset, tmp_path):
    alone = one_process(dataset, tmp_path / "one", epochs=2)
    outs = two_processes(dataset, tmp_path / "two", epochs=2)
    assert_same(weights(tmp_path / "two"), alone)
    assert "best checkpoint" in outs[0][0] and outs[1][0] == ""  # one process reports
    logs = [(tmp_path / r / "metrics.jsonl").read_text().splitlines() for r in ("one", "two")]
    assert len(logs[0]) == len(logs[1]) > 0  # written once, by the main process
    for a, b in zip(logs[0], logs[1]):
        a, b = json.loads(a), json.loads(b)
        assert a["step"] == b["step"] and abs(a["loss"] - b["loss"]) < 1e-5
    meta = json.loads((tmp_path / "two" / "best" / "config.json").read_text())["metadata"]
    assert meta["processes"] == 2


def test_a_run_resumes_on_another_number_of_processes(dataset, tmp_path):
    one_process(dataset, tmp_path / "a", epochs=1)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    two_processes(dataset, tmp_path / "b", epochs=2.5)  # 1 process, then 2
    assert_same(weights(tmp_path / "b"), one_process(dataset, tmp_path / "a", epochs=2.5))


def test_the_device_is_checked_and_one_process_needs_no_group(monkeypatch):
    from melodyrnn.errors import ConfigError

    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    processes = setup("cpu")
    assert (processes.rank, processes.world, processes.main) == (0, 1, True)
    assert not torch.distributed.is_initialized()
    with pytest.raises(ConfigError, match="--device|device") as info:
        choose_device("tpu")
    assert info.value.parameters == ("device",)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no GPU"):
            choose_device("cuda")
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ConfigError, match="WORLD_SIZE"):
        setup("cpu")
