"""Sharded datasets: built block by block, resumed after an interruption without rereading
finished files, the same bytes as a build in one go, and streamed by the training loop."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import melodyrnn.training.build as build_module
from melodyrnn.errors import DatasetError
from melodyrnn.io.midi import sequence_to_midi_file
from melodyrnn.pipelines import DatasetSettings
from melodyrnn.sequence import InstrumentInfo, Note, NoteSequence, Tempo, TimeSignature
from melodyrnn.training.build import MANIFEST, build_sharded
from melodyrnn.training.dataset import MelodyDataset, build_dataset, load_dataset
from melodyrnn.training.shards import ShardedDataset, is_sharded, save_sharded
from melodyrnn.training.stream import Pieces, epoch_plan
from melodyrnn.training.train import Trainer, TrainOptions

ROOT = Path(__file__).resolve().parents[1]
STEP = 0.125  # a sixteenth at 120 bpm
SCALES = [(60, 62, 64, 65, 67), (62, 64, 66, 67, 69, 71), (57, 60, 62, 64, 67), (65, 67, 69, 70)]


def write_tune(path: Path, pitches, bars: int, title: str) -> None:
    notes = [
        Note(
            pitch=pitches[i % len(pitches)],
            velocity=80,
            start_time=i * 2 * STEP,
            end_time=(i + 1) * 2 * STEP,
        )
        for i in range(bars * 8)
    ]
    ns = NoteSequence(
        notes=notes,
        tempos=[Tempo(0.0, 120.0)],
        time_signatures=[TimeSignature(0.0, 4, 4)],
        instrument_infos=[InstrumentInfo(0, title)],
        total_time=notes[-1].end_time,
    )
    sequence_to_midi_file(ns, path)


@pytest.fixture
def folder(tmp_path) -> Path:
    """Ten tunes of different lengths and titles, one broken file: four blocks of three."""
    root = tmp_path / "midi"
    (root / "sub").mkdir(parents=True)
    for i in range(10):
        where = root / "sub" if i % 3 == 0 else root
        write_tune(where / f"tune_{i:02d}.mid", SCALES[i % 4], bars=4 + i % 5, title=f"Tune {i}")
    (root / "broken.mid").write_bytes(b"not a MIDI file")
    return root


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def counting(monkeypatch, fail_on_call: int | None = None) -> list[int]:
    """Count the files every block hands to the readers; raise KeyboardInterrupt on a call."""
    real, calls = build_module.extract_folder, []

    def wrapper(block, *args, **kwargs):
        calls.append(len(block))
        if fail_on_call is not None and len(calls) == fail_on_call:
            raise KeyboardInterrupt
        return real(block, *args, **kwargs)

    monkeypatch.setattr(build_module, "extract_folder", wrapper)
    return calls


def test_the_sharded_build_equals_the_in_memory_build(folder, tmp_path):
    settings = DatasetSettings(eval_fraction=0.3)
    sharded = build_sharded(
        folder, tmp_path / "ds", settings, jobs=1, progress=False, files_per_shard=3
    )
    assert sharded.num_shards == 4 and is_sharded(tmp_path / "ds")
    assert not (tmp_path / "ds" / MANIFEST).exists()
    memory = build_dataset(folder, settings, jobs=1, progress=False)
    back = load_dataset(tmp_path / "ds")
    for name in ("events", "offsets", "file_index", "split"):
        assert np.array_equal(getattr(back, name), getattr(memory, name)), name
    assert back.info["files"] == memory.info["files"]
    assert back.info["files_failed"] == 1 and back.info["eval_files"] >= 1
    # the index matches the shards, and every melody lies in the shard of its file's block
    assert np.array_equal(sharded.shard, sharded.file_index // 3)
    assert np.array_equal(sharded.lengths, np.diff(memory.offsets))


def test_an_interrupted_build_resumes_without_rereading_finished_files(
    folder, tmp_path, monkeypatch
):
    build_sharded(folder, tmp_path / "ref", jobs=1, progress=False, files_per_shard=3)
    out = tmp_path / "ds"
    calls = counting(monkeypatch, fail_on_call=3)
    with pytest.raises(KeyboardInterrupt):
        build_sharded(folder, out, jobs=1, progress=False, files_per_shard=3)
    assert calls == [3, 3, 3]
    assert sorted(p.name for p in (out / "shards").iterdir()) == [
        "shard-00000.npz",
        "shard-00001.npz",
    ]
    assert not (out / "dataset.json").exists()
    # what a kill leaves: a manifest line cut short, a temporary file of a shard being written
    with open(out / MANIFEST, "ab") as handle:
        handle.write(b'{"shard": 2, "name": "shards/sh')
    (out / "shards" / ".shard-00002.npz.999999-0123abcd.tmp").write_bytes(b"half")

    calls = counting(monkeypatch)
    resumed = []
    build_sharded(
        folder,
        out,
        jobs=1,
        progress=False,
        files_per_shard=3,
        on_resume=lambda done, total: resumed.append((done, total)),
    )
    assert resumed == [(6, 11)] and calls == [3, 2]  # blocks 2 and 3 only
    ref, got = files_of(tmp_path / "ref"), files_of(out)
    assert sorted(got) == sorted(ref)
    for name in ref:
        if name != "dataset.json":
            assert got[name] == ref[name], name  # byte-identical shards and index
    assert json.loads(got["dataset.json"]) == json.loads(ref["dataset.json"])


def test_a_build_killed_by_sigkill_resumes_to_the_same_shards(folder, tmp_path):
    build_sharded(folder, tmp_path / "ref", jobs=2, progress=False, files_per_shard=3)
    out = tmp_path / "ds"
    script = textwrap.dedent(f"""
        import os, signal
        import melodyrnn.training.build as b
        real, calls = b.extract_folder, []
        def killer(block, *args, **kwargs):
            calls.append(1)
            if len(calls) == 3:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(block, *args, **kwargs)
        b.extract_folder = killer
        b.build_sharded({str(folder)!r}, {str(out)!r}, jobs=2, progress=False, files_per_shard=3)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True)
    assert proc.returncode == -9, proc.stderr
    assert len((out / MANIFEST).read_text().splitlines()) == 3  # header + two blocks
    code = subprocess.run(
        [
            sys.executable,
            "-m",
            "melodyrnn",
            "dataset",
            str(folder),
            str(out),
            "--jobs",
            "2",
            "--files-per-shard",
            "3",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert code.returncode == 0, code.stderr
    assert "resuming: 6 of 11 files already read" in code.stdout
    ref, got = files_of(tmp_path / "ref"), files_of(out)
    assert {k: v for k, v in got.items() if k != "dataset.json"} == {
        k: v for k, v in ref.items() if k != "dataset.json"
    }


def test_a_resume_refuses_other_settings_or_files_and_force_starts_over(
    folder, tmp_path, monkeypatch
):
    out = tmp_path / "ds"
    counting(monkeypatch, fail_on_call=2)
    with pytest.raises(KeyboardInterrupt):
        build_sharded(folder, out, jobs=1, progress=False, files_per_shard=3)
    monkeypatch.undo()
    with pytest.raises(DatasetError, match="unfinished build of other files or settings") as info:
        build_sharded(
            folder,
            out,
            DatasetSettings(eval_fraction=0.5),
            jobs=1,
            progress=False,
            files_per_shard=3,
        )
    assert info.value.parameters == ("force",)
    write_tune(folder / "new.mid", SCALES[0], bars=4, title="New")
    with pytest.raises(DatasetError, match="unfinished build"):
        build_sharded(folder, out, jobs=1, progress=False, files_per_shard=3)
    # a damaged finished shard is read again
    (folder / "new.mid").unlink()
    (out / "shards" / "shard-00000.npz").write_bytes(b"damaged")
    calls = counting(monkeypatch)
    ds = build_sharded(folder, out, jobs=1, progress=False, files_per_shard=3)
    assert calls == [3, 3, 3, 2] and ds.num_shards == 4
    with pytest.raises(DatasetError, match="already holds a dataset"):
        build_sharded(folder, out, jobs=1, progress=False, files_per_shard=3)
    calls.clear()
    build_sharded(folder, out, jobs=1, progress=False, files_per_shard=5, force=True)
    assert calls == [5, 5, 1] and len(list((out / "shards").iterdir())) == 3


def test_a_corrupt_shard_is_one_error_naming_it(folder, tmp_path):
    ds = build_sharded(folder, tmp_path / "ds", jobs=1, progress=False, files_per_shard=3)
    (tmp_path / "ds" / "shards" / "shard-00001.npz").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="shard-00001.npz: the shard is corrupt"):
        ds.melodies_of_shard(1)
    with pytest.raises(DatasetError, match="shard-00001.npz"):
        load_dataset(tmp_path / "ds")


# --- streaming ----------------------------------------------------------------------------


def walks(count: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        length = int(rng.integers(20, 90))
        mel = np.full(length, -2, dtype=np.int64)
        onsets = np.sort(rng.choice(length, size=length // 3, replace=False))
        mel[onsets] = rng.choice([60, 62, 64, 65, 67, 69, 71, 72], size=len(onsets))
        out.append(mel)
    return out


def memory_dataset(n=40) -> MelodyDataset:
    return MelodyDataset.from_melodies(
        walks(n, 3), [int(i % 6 == 5) for i in range(n)], info={"source": "walks"}
    )


def tiny(**kw) -> TrainOptions:
    return TrainOptions(**{"epochs": 3.0, "progress": False, "threads": 1, "seed": 5, **kw})


HPARAMS = {"batch_size": 4, "layer_sizes": [12], "dropout_keep_prob": 0.75}


def trained(dataset, run, **kw) -> dict:
    trainer = Trainer(dataset, run, "basic_rnn", HPARAMS, tiny(**kw))
    trainer.train()
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


@pytest.mark.parametrize("chunk_steps", [None, 16])
def test_streaming_from_shards_equals_training_in_memory(tmp_path, chunk_steps):
    ds = memory_dataset()
    save_sharded(ds, tmp_path / "ds", files_per_shard=5)
    assert ShardedDataset.open(tmp_path / "ds").num_shards == 8
    a = trained(ds, tmp_path / "a", chunk_steps=chunk_steps)
    b = trained(tmp_path / "ds", tmp_path / "b", chunk_steps=chunk_steps)  # 8 shards <= window 8
    assert all(torch.equal(a[k], b[k]) for k in a)  # dropout included: the same computation
    eval_a = json.loads((tmp_path / "a" / "best" / "config.json").read_text())
    eval_b = json.loads((tmp_path / "b" / "best" / "config.json").read_text())
    assert eval_a["metadata"]["eval_metrics"] == eval_b["metadata"]["eval_metrics"]


def test_the_windowed_plan_covers_every_piece_once_and_reads_each_shard_about_once(tmp_path):
    ds = memory_dataset(120)
    save_sharded(ds, tmp_path / "ds", files_per_shard=6)
    sharded = ShardedDataset.open(tmp_path / "ds")
    from melodyrnn.encoding.specs import make_encoder
    from melodyrnn.models.configs import get_config

    encoder = make_encoder(get_config("basic_rnn").encoder)
    pieces = Pieces(sharded, "train", encoder, -2, chunk_steps=16, cache_shards=4)
    batch = 8
    for epoch in range(3):
        plan = epoch_plan(
            pieces.lengths, pieces.shard, batch, np.random.default_rng([1, epoch]), window_shards=2
        )
        assert len(plan) == -(-len(pieces) // batch)
        assert np.array_equal(np.sort(np.concatenate(plan)), np.arange(len(pieces)))
        before = pieces.shards_read
        for index in plan:
            pieces.rows(index)
        assert pieces.shards_read - before <= sharded.num_shards + 6  # ~once per epoch
    evals = Pieces(sharded, "eval", encoder, -2, cache_shards=1 << 30, keep_encoded=False)
    for _ in range(3):  # evaluation goes through the melodies sorted by length, every time
        evals.rows(np.argsort(evals.lengths))
    assert evals.shards_read == len(set(evals.shard.tolist())) == sharded.num_shards
    assert np.array_equal(
        np.concatenate(evals.melodies()), ds.events[np.repeat(ds.split, np.diff(ds.offsets)) == 1]
    )
    other = epoch_plan(pieces.lengths, pieces.shard, batch, np.random.default_rng([1, 0]), 2)
    again = epoch_plan(pieces.lengths, pieces.shard, batch, np.random.default_rng([1, 0]), 2)
    assert all(np.array_equal(a, b) for a, b in zip(other, again))


def test_a_windowed_run_resumed_mid_epoch_equals_the_uninterrupted_run(tmp_path):
    ds = memory_dataset(60)
    save_sharded(ds, tmp_path / "ds", files_per_shard=4)
    whole = trained(tmp_path / "ds", tmp_path / "whole", shard_window=2)
    trained(tmp_path / "ds", tmp_path / "cut", shard_window=2, max_steps=7, save_every=7)
    resumed = trained(tmp_path / "ds", tmp_path / "cut", shard_window=2)
    assert all(torch.allclose(whole[k], resumed[k], atol=1e-6) for k in whole)


def test_a_dataset_json_naming_shards_outside_the_folder_is_refused(folder, tmp_path):
    build_sharded(folder, tmp_path / "ds", jobs=1, progress=False, files_per_shard=3)
    meta_path = tmp_path / "ds" / "dataset.json"
    meta = json.loads(meta_path.read_text())
    meta["shards"][0]["name"] = "../../outside.npz"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="the shard '../../outside.npz' leaves the folder"):
        ShardedDataset.open(tmp_path / "ds")
    meta_path.write_text('{"format": "melodyrnn-dataset-2", "settings": {}, "shards": 3}')
    with pytest.raises(DatasetError, match=r"corrupt .*\$\.shards must be a list"):
        ShardedDataset.open(tmp_path / "ds")


def test_evaluate_and_the_ngram_read_a_sharded_dataset_as_the_single_file_one(tmp_path):
    from melodyrnn.training.dataset import save_dataset
    from melodyrnn.training.evaluate import load_eval_melodies
    from melodyrnn.training.ngram import train_ngram_model

    ds = memory_dataset(30)
    save_dataset(ds, tmp_path / "one")
    save_sharded(ds, tmp_path / "many", files_per_shard=4)
    settings = DatasetSettings()
    a = load_eval_melodies(tmp_path / "one", settings)
    b = load_eval_melodies(tmp_path / "many", settings)
    assert len(a) == len(b) == 5 and all(np.array_equal(x, y) for x, y in zip(a, b))
    table_one = train_ngram_model(tmp_path / "one", orders=range(1, 4))[1]
    table_many = train_ngram_model(tmp_path / "many", orders=range(1, 4))[1]
    assert table_one == table_many


def test_the_cli_names_its_flags_in_one_line(folder, tmp_path, capsys):
    from melodyrnn.cli import main

    out = tmp_path / "ds"
    assert main(["dataset", str(folder), str(out), "--files-per-shard", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--files-per-shard must be" in err, err
    assert not out.exists()
    save_sharded(memory_dataset(12), out, files_per_shard=4)
    code = main(["train", str(out), "--out", str(tmp_path / "run"), "--shard-window", "0"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "--shard-window must be" in err, err
