"""Hostile or careless command lines: every one is refused with one line (exit 2), before work.

Issue 10's CLI defects, each reproduced here: output paths that cannot be written, numbers that
make no sense, generation and audio sizes no machine holds, an empty model name, progress bars
beside an error, and temporary files an interrupted run left behind.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import one_line_error

from melodyrnn.cli import main
from melodyrnn.errors import LimitError, OutputError
from melodyrnn.files import atomic_path, check_output_file, prepare_output_dir, remove_leftovers
from melodyrnn.io.midi import sequence_to_midi_file
from melodyrnn.limits import check_limit, limit
from melodyrnn.sequence import Note, NoteSequence

ROOT = Path(__file__).resolve().parents[1]
ODE = ROOT / "midi_samples" / "ode_to_joy.mid"


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if a command loads a model: the refusal must come before any work."""
    import melodyrnn.generation.music_rnn as music_rnn
    import melodyrnn.generation.primer  # noqa: F401  (bound to the real load_model first)

    def refuse(*args, **kwargs):
        raise AssertionError("the command loaded a model before refusing")

    monkeypatch.setattr(music_rnn, "load_model", refuse)


def test_continue_refuses_unwritable_outputs_before_generating(tmp_path, capsys, no_model):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    read_only = tmp_path / "read_only"
    read_only.mkdir()
    read_only.chmod(0o500)
    cases = [
        (a_file, "is a file, not a folder"),
        (a_file / "below", "lies below"),
        ("/dev/null", "is a file, not a folder"),
        ("/proc/melodyrnn", "under /proc"),
        ("/sys/melodyrnn", "under /sys"),
    ]
    if os.geteuid() != 0:  # root may write anywhere
        cases.append((read_only / "out", "read-only"))
    for out, needle in cases:
        line = one_line_error(capsys, *["continue", ODE, "-o", out, "--seed", "1"])
        assert needle in line, line
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "ode_to_joy_continued_1.png").mkdir()  # a folder where a PNG goes
    line = one_line_error(capsys, *["continue", ODE, "-o", tmp_path / "out", "--png", "--force"])
    assert "not a regular file" in line


def test_render_dataset_and_train_refuse_unwritable_outputs(tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert "is a file" in one_line_error(capsys, *["render", ODE, "--png", "-o", "/dev/null"])
    assert "under /proc" in one_line_error(capsys, *["render", ODE, "--png", "-o", "/proc/x"])
    midi_dir = tmp_path / "midi"
    midi_dir.mkdir()
    assert "lies below" in one_line_error(capsys, *["dataset", midi_dir, a_file / "ds"])
    # train checks its run folder before it reads the dataset or builds a model
    assert "is a file" in one_line_error(capsys, *["train", tmp_path / "nowhere", "--out", a_file])
    assert a_file.read_text() == "x"


@pytest.mark.parametrize(
    "flags, needle",
    [
        (["--bars", "nan"], "--bars must be a finite number"),
        (["--bars", "inf"], "--bars must be a finite number"),
        (["--bars", "-2"], "--bars must be a finite number > 0"),
        (["--bars", "1e300"], "max_generation_steps"),
        (["--steps", "1000000000"], "max_generation_steps"),
        (["--steps", "0"], "at least 1 step"),
        (["--seed", "-1"], "--seed must be an integer >= 0"),
        (["--num-outputs", "1000000"], "max_generation_rows"),
        (["--beam-size", "1000", "--branch-factor", "1000"], "max_generation_rows"),
        (["--num-outputs", "0"], "--num-outputs must be an integer >= 1"),
    ],
)
def test_continue_refuses_impossible_numbers(tmp_path, capsys, no_model, flags, needle):
    line = one_line_error(capsys, *["continue", ODE, "-o", tmp_path / "out", *flags])
    assert needle in line, line
    assert not (tmp_path / "out").exists()


def test_an_empty_model_name_is_named(tmp_path, capsys):
    line = one_line_error(capsys, *["continue", ODE, "-o", tmp_path / "out", "--model", ""])
    assert "--model is empty" in line


@pytest.mark.parametrize(
    "flags, needle",
    [
        (["--epochs", "nan"], "--epochs must be a number > 0"),
        (["--epochs", "-1"], "--epochs must be a number > 0"),
        (["--threads", "-3"], "--threads must be an integer >= 1"),
        (["--chunk-steps", "0"], "--chunk-steps must be an integer >= 1"),
        (["--eval-every", "-5"], "--eval-every must be an integer >= 0"),
    ],
)
def test_train_refuses_impossible_numbers(tmp_path, capsys, flags, needle):
    line = one_line_error(capsys, *["train", tmp_path / "ds", "--out", tmp_path / "run", *flags])
    assert needle in line, line
    assert not (tmp_path / "run").exists()


def test_the_library_names_parameters_where_the_cli_names_flags(tmp_path):
    from melodyrnn.generation.options import SamplingOptions
    from melodyrnn.training.train import TrainOptions

    with pytest.raises(MelodyRNNErrorLike, match=r"^seed must be an integer"):
        SamplingOptions(seed=-1)
    with pytest.raises(MelodyRNNErrorLike, match=r"^epochs must be a number > 0"):
        TrainOptions(epochs=float("nan"))


MelodyRNNErrorLike = __import__("melodyrnn.errors", fromlist=["MelodyRNNError"]).MelodyRNNError


def _peak_rss_mb_of(code: str) -> tuple[subprocess.CompletedProcess, float]:
    script = textwrap.dedent(code) + textwrap.dedent(
        """
        import sys
        # VmHWM starts afresh at exec; ru_maxrss would carry the forking pytest's own peak
        hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
        print("PEAK", int(hwm) / 1024, file=sys.stderr)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    peak = [float(x.split()[1]) for x in proc.stderr.splitlines() if x.startswith("PEAK")]
    return proc, (peak[0] if peak else float("nan"))


def test_render_wav_of_a_six_hour_file_is_refused_without_allocating(tmp_path, capsys):
    ns = NoteSequence(notes=[Note(60, 100, 0.0, 6 * 3600.0)], total_time=6 * 3600.0)
    long_file = tmp_path / "six_hours.mid"
    sequence_to_midi_file(ns, long_file)
    assert long_file.stat().st_size < 300
    line = one_line_error(capsys, *["render", long_file, "--wav"])
    assert "max_audio_seconds" in line and "MELODYRNN_MAX_AUDIO_SECONDS" in line
    proc, peak = _peak_rss_mb_of(
        f"""
        from melodyrnn.cli import main
        assert main(["render", {str(long_file)!r}, "--wav"]) == 2
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert peak < 600, f"peak RSS {peak:.0f} MB"
    assert not (tmp_path / "six_hours.wav").exists()


def test_limits_are_overridable_by_environment_and_keyword(monkeypatch):
    assert limit("max_audio_seconds") == 3600
    monkeypatch.setenv("MELODYRNN_MAX_AUDIO_SECONDS", "7200")
    assert limit("max_audio_seconds") == 7200
    assert check_limit("max_audio_seconds", 7000, "the audio") == 7000
    assert limit("max_audio_seconds", override=10) == 10
    with pytest.raises(LimitError, match="over the limit of 10 "):
        check_limit("max_audio_seconds", 11, "the audio", override=10)
    for text in ("lots", "nan", "inf"):
        monkeypatch.setenv("MELODYRNN_MAX_AUDIO_SECONDS", text)
        with pytest.raises(LimitError, match=f"MELODYRNN_MAX_AUDIO_SECONDS='{text}' is not a"):
            limit("max_audio_seconds")


def test_no_progress_bar_beside_an_error(tmp_path):
    midi_dir = tmp_path / "midi"
    midi_dir.mkdir()
    (midi_dir / "broken.mid").write_bytes(b"MThd nonsense")
    proc = subprocess.run(
        [sys.executable, "-m", "melodyrnn", "dataset", str(midi_dir), str(tmp_path / "ds")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("melodyrnn: error: ")
    assert "reading MIDI" not in proc.stderr


def test_leftovers_of_killed_runs_are_removed_on_the_next_write(tmp_path):
    target = tmp_path / "x.png"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".x.png.{dead.pid}-0123abcd.tmp"
    stale.write_bytes(b"half a png")
    live = tmp_path / f".x.png.{os.getppid()}-89abcdef.tmp"  # a running writer's: kept
    live.write_bytes(b"being written")
    legacy = tmp_path / ".x.png.deadbeef.tmp"  # the old naming, without a pid: kept while fresh
    legacy.write_bytes(b"old")
    other = tmp_path / f".y.png.{dead.pid}-0123abcd.tmp"  # another target's: not ours to touch
    other.write_bytes(b"y")
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"png")
    assert target.read_bytes() == b"png"
    assert not stale.exists() and live.exists() and legacy.exists() and other.exists()
    old = 10 * 3600
    os.utime(legacy, (legacy.stat().st_atime - old, legacy.stat().st_mtime - old))
    assert remove_leftovers(target) == [legacy]


def test_output_checks_in_the_library(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        prepare_output_dir(tmp_path / "f")
    with pytest.raises(OutputError, match="exists; use force=True"):
        check_output_file(tmp_path / "f")
    assert check_output_file(tmp_path / "f", force=True) == tmp_path / "f"
    with pytest.raises(OutputError, match="not a regular file"):
        check_output_file("/dev/null", force=True)
    assert not (tmp_path / "new").exists()
    prepare_output_dir(tmp_path / "new" / "deeper", create=False)
    assert not (tmp_path / "new").exists()
    assert prepare_output_dir(tmp_path / "new" / "deeper").is_dir()


def test_rss_probe_works():
    # The memory assertions above rely on ru_maxrss being in KiB (Linux).
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 1000


HOSTILE_NUMBERS = ["nan", "inf", "-inf", "-1", "0", "1e300", "", "abc", "99999999999999999999"]


@pytest.mark.parametrize(
    "verb, flag",
    [
        ("continue", "--steps"),
        ("continue", "--bars"),
        ("continue", "--num-outputs"),
        ("continue", "--temperature"),
        ("continue", "--seed"),
        ("continue", "--top-k"),
        ("continue", "--top-p"),
        ("continue", "--beam-size"),
        ("continue", "--primer-bars"),
        ("render", "--continuation-start"),
        ("train", "--epochs"),
        ("train", "--max-minutes"),
        ("train", "--threads"),
        ("evaluate", "--num"),
        ("evaluate", "--steps"),
    ],
)
def test_no_traceback_from_hostile_numbers(tmp_path, capsys, verb, flag):
    """Every hostile number either works or gives one line and exit 2 (argparse's too)."""
    base = {
        "continue": ["continue", ODE, "-o", tmp_path / "out", "--seed", "0", "--steps", "2"],
        "render": ["render", ODE, "--png", "-o", tmp_path / "render"],
        "train": ["train", tmp_path / "no_dataset", "--out", tmp_path / "run"],
        "evaluate": ["evaluate", "--data", tmp_path / "no_data"],
    }[verb]
    for value in HOSTILE_NUMBERS:
        argv = [str(a) for a in base] + [flag, value]
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse refuses a value that is not a number
            code = exc.code
        _, err = capsys.readouterr()
        assert code in (0, 2), (argv, err)
        if code == 2:
            lines = err.strip().splitlines()
            assert len(lines) == 1 and "error:" in lines[0], (argv, err)
            assert "Traceback" not in err


def test_deeply_nested_hparams_are_one_line(tmp_path, capsys):
    deep = "rnn_layer_sizes=" + "[" * 100_000 + "]" * 100_000
    line = one_line_error(
        capsys, *["train", tmp_path / "ds", "--out", tmp_path / "run", "--hparams", deep]
    )
    assert "max_json_depth" in line
