"""One bad file, entry or setting never costs a dataset build (issue 10, defects 5, 6, 13, 16, 17).

* a file over the time limit, or whose worker is killed or runs out of memory, is one failed
  file in the report, with its reason; the other files still give their melodies;
* entries named .mid that are not regular files are reported, not opened (no hang);
* impossible settings and ``jobs`` are refused up front, naming the parameter;
* a drum config on a melody dataset, and ``evaluate`` on a missing path, say what is wrong.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from melodyrnn.cli import main
from melodyrnn.errors import DatasetError
from melodyrnn.io.midi import sequence_to_midi_file
from melodyrnn.pipelines import DatasetSettings
from melodyrnn.sequence import Note, NoteSequence, Tempo
from melodyrnn.training.dataset import MelodyDataset, build_dataset, find_midi_files
from melodyrnn.training.workers import Failed, run_isolated

REPO = Path(__file__).resolve().parents[1]
fork_only = pytest.mark.skipif(
    multiprocessing.get_start_method() != "fork",
    reason="the sabotaged reader reaches the workers only when they are forked",
)


def write_tune(path, pitches=(60, 62, 64, 65, 67, 69), bars=8):
    notes = [
        Note(pitches[i % len(pitches)], 100, i * 0.25, (i + 1) * 0.25) for i in range(bars * 8)
    ]
    ns = NoteSequence(notes=notes, tempos=[Tempo(0.0, 120.0)], total_time=bars * 2.0)
    sequence_to_midi_file(ns, path)


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "midi"
    root.mkdir()
    for i, pitches in enumerate(
        [(60, 62, 64, 65, 67), (62, 64, 66, 67, 69), (57, 60, 62, 64, 67, 71)]
    ):
        write_tune(root / f"good_{i}.mid", pitches)
    return root


def by_path(ds) -> dict:
    return {f["path"]: f for f in ds.info["files"]}


# --- workers that hang or die ----------------------------------------------------------------


@pytest.fixture
def sabotaged_reader(monkeypatch):
    """midi_to_sequence hangs on slow*.mid, is SIGKILLed on killed*.mid, raises MemoryError on
    memory*.mid and exits on exit*.mid (the forked workers inherit the patch)."""
    import melodyrnn.io.midi as midi

    real = midi.midi_to_sequence
    real(Path(__file__).parents[1] / "midi_samples" / "ode_to_joy.mid")  # lazy imports, done

    def reader(source, **kwargs):
        name = Path(source).name
        if name.startswith("slow"):
            time.sleep(600)
        if name.startswith("killed"):
            os.kill(os.getpid(), signal.SIGKILL)
        if name.startswith("memory"):
            raise MemoryError
        if name.startswith("exit"):
            os._exit(3)
        return real(source, **kwargs)

    monkeypatch.setattr(midi, "midi_to_sequence", reader)


@fork_only
@pytest.mark.parametrize("jobs", [1, 2])
def test_a_hung_or_dead_worker_is_one_failed_file(folder, sabotaged_reader, jobs):
    for name in ("slow.mid", "killed.mid", "memory.mid", "exit.mid"):
        write_tune(folder / name)
    start = time.monotonic()
    ds = build_dataset(folder, jobs=jobs, progress=False, max_seconds_per_file=2)
    assert time.monotonic() - start < 30
    files = by_path(ds)
    assert files["slow.mid"]["error"].endswith(
        "slow.mid: took longer than 2 s (the limit max_seconds_per_file; "
        "set MELODYRNN_MAX_SECONDS_PER_FILE to raise it)"
    )
    assert "killed by SIGKILL" in files["killed.mid"]["error"]
    assert "ran out of memory" in files["memory.mid"]["error"]
    assert "exited with status 3" in files["exit.mid"]["error"]
    for i in range(3):
        assert files[f"good_{i}.mid"]["melodies"] == 1 and "error" not in files[f"good_{i}.mid"]
    assert ds.info["files_failed"] == 4 and len(ds) == 3
    assert sum(ds.info["files_failed_by_reason"].values()) == 4


def test_the_time_limit_comes_from_the_environment(folder, monkeypatch):
    monkeypatch.setenv("MELODYRNN_MAX_SECONDS_PER_FILE", "0")
    with pytest.raises(Exception, match="MELODYRNN_MAX_SECONDS_PER_FILE"):
        build_dataset(folder, jobs=1, progress=False)


def _sleepy(item):  # module level, so a spawned worker can import it too
    if item == "die":
        os._exit(1)
    return item * 2


def test_run_isolated_keeps_order_and_replaces_dead_workers():
    items = [1, 2, "die", 4, 5, "die", 7] * 5
    out = run_isolated(_sleepy, items, jobs=3, max_seconds=30)
    assert [o for o in out if not isinstance(o, Failed)] == [x * 2 for x in items if x != "die"]
    assert [i for i, o in enumerate(out) if isinstance(o, Failed)] == [
        i for i, x in enumerate(items) if x == "die"
    ]


def test_a_64_gib_sparse_file_does_not_lose_the_build(folder):
    """The issue's reproducer, under a 4 GiB address-space cap: reading the file fails (too big
    or out of memory), the three good files are kept."""
    sparse = folder / "huge.mid"
    try:
        with open(sparse, "wb") as f:
            f.truncate(64 * 2**30)
    except OSError:
        pytest.skip("this file system has no sparse files")
    script = textwrap.dedent(
        f"""
        import json, resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))
        from melodyrnn.training.dataset import build_dataset
        ds = build_dataset({str(folder)!r}, jobs=2, progress=False)
        print(json.dumps(ds.info["files"]))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    files = {f["path"]: f for f in json.loads(run.stdout)}
    assert "memory" in files["huge.mid"]["error"] or "limit" in files["huge.mid"]["error"]
    assert [files[f"good_{i}.mid"]["melodies"] for i in range(3)] == [1, 1, 1]


# --- entries that are not regular files --------------------------------------------------------


def test_entries_that_are_not_files_are_reported_not_opened(folder):
    (folder / "a folder.mid").mkdir()
    write_tune(folder / "a folder.mid" / "inside.mid")
    os.mkfifo(folder / "pipe.mid")
    os.symlink("/dev/zero", folder / "zero.mid")
    os.symlink(folder / "missing.mid", folder / "broken.mid")
    os.symlink(folder / "loop.mid", folder / "loop.mid")
    names = [Path(p).relative_to(folder).as_posix() for p in find_midi_files(folder)]
    assert names == [
        "a folder.mid",
        "a folder.mid/inside.mid",
        "broken.mid",
        "good_0.mid",
        "good_1.mid",
        "good_2.mid",
        "loop.mid",
        "pipe.mid",
        "zero.mid",
    ]
    ds = build_dataset(folder, jobs=1, progress=False, max_seconds_per_file=20)
    files = by_path(ds)
    assert files["a folder.mid"]["error"].endswith("not a regular file (a folder)")
    assert files["pipe.mid"]["error"].endswith("not a regular file (a named pipe)")
    assert files["zero.mid"]["error"].endswith("not a regular file (a character device)")
    assert files["broken.mid"]["error"].endswith("not a regular file (a broken symbolic link)")
    assert files["loop.mid"]["error"].endswith("not a regular file (a symbolic link loop)")
    assert files["a folder.mid/inside.mid"]["melodies"] == 1
    assert len(ds) == 4 and ds.info["files_failed"] == 5


# --- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings, parameters, words",
    [
        ({"min_note": 200}, ("min_note",), "0..127"),
        ({"min_note": 80, "max_note": 50}, ("min_note", "max_note"), "must be below"),
        ({"min_note": 60, "max_note": 66}, ("min_note", "max_note"), "octave"),
        ({"transpose_to_key": 13}, ("transpose_to_key",), "0..11"),
        ({"eval_fraction": 2}, ("eval_fraction",), "between 0 and 1"),
        ({"eval_fraction": float("nan")}, ("eval_fraction",), "between 0 and 1"),
        ({"eval_fraction": -1}, ("eval_fraction",), "between 0 and 1"),
        ({"transpositions": ()}, ("transpositions",), "one or more"),
        ({"transpositions": (0, 300)}, ("transpositions",), "-127..127"),
        ({"gap_bars": float("inf")}, ("gap_bars",), "> 0"),
        ({"min_unique_pitches": 13}, ("min_unique_pitches",), "0..12"),
        ({"steps_per_quarter": 0}, ("steps_per_quarter",), ">= 1"),
        ({"keep_highest": "yes"}, ("keep_highest",), "True or False"),
    ],
)
def test_impossible_settings_are_refused(settings, parameters, words):
    with pytest.raises(DatasetError, match=words) as info:
        DatasetSettings(**settings)
    assert info.value.parameters == parameters


def test_settings_still_round_trip():
    settings = DatasetSettings(transpose_to_key=None, transpositions=[-2, 0, 2], max_steps=None)
    assert settings.transpositions == (-2, 0, 2)
    assert DatasetSettings.from_dict(settings.to_dict()) == settings


@pytest.mark.parametrize(
    "flags, flag",
    [
        (["--min-note", "200"], "--min-note"),
        (["--min-note", "80", "--max-note", "50"], "--max-note"),
        (["--key", "13"], "--key"),
        (["--eval-fraction", "2"], "--eval-fraction"),
        (["--eval-fraction", "nan"], "--eval-fraction"),
        (["--eval-fraction", "-1"], "--eval-fraction"),
        (["--jobs", "-1"], "--jobs"),
    ],
)
def test_the_cli_refuses_them_in_one_line(folder, tmp_path, capsys, flags, flag):
    code = main(["dataset", str(folder), str(tmp_path / "out"), *flags])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and flag in err, err
    assert not (tmp_path / "out").exists()


def test_jobs_must_be_a_count(folder):
    for jobs in (-1, 1.5, True):
        with pytest.raises(DatasetError, match="worker processes") as info:
            build_dataset(folder, jobs=jobs, progress=False)
        assert info.value.parameters == ("jobs",)


# --- training and evaluating on the wrong thing -----------------------------------------------


def test_a_drum_config_cannot_train_on_a_melody_dataset(tmp_path):
    from melodyrnn.training.train import Trainer

    ds = MelodyDataset.from_melodies([np.array([60, -2, 62, -1] * 8)] * 2, [0, 1])
    with pytest.raises(DatasetError, match="drum_kit_rnn is a drum model; a melody dataset"):
        Trainer(ds, tmp_path / "run", "drum_kit_rnn")


def test_evaluate_on_a_missing_path_says_it_does_not_exist(tmp_path, capsys):
    code = main(["evaluate", "--data", str(tmp_path / "missing")])
    err = capsys.readouterr().err
    assert code == 2 and "no such file or folder" in err and "MIDI folder, which" not in err
    (tmp_path / "file.txt").write_text("x")
    code = main(["evaluate", "--data", str(tmp_path / "file.txt"), "--baseline", "none"])
    assert code == 2 and "not a folder" in capsys.readouterr().err
