"""What the command line says about rough edges a new user hit (issue 12, "Smaller"): long tempo
maps, failed dataset files, --force, a file that is not a soundfont, argmax variations."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import MAGENTA_JS, one_line_error, run_cli

from melodyrnn.io.midi import sequence_to_midi_file
from melodyrnn.sequence import Note, NoteSequence, Tempo
from melodyrnn.summary import LISTED_TEMPOS, format_tempos

ROOT = Path(__file__).resolve().parents[1]
ODE = ROOT / "midi_samples" / "ode_to_joy.mid"


def test_inspect_wraps_a_long_tempo_map(tmp_path, capsys):
    # a performance's drift: 400 tempos between 96.123 and 119.877 qpm, one every half second
    qpms = [96.123 + (119.877 - 96.123) * abs((i % 40) - 20) / 20 for i in range(400)]
    ns = NoteSequence(
        notes=[Note(60 + i % 12, 90, i * 0.5, i * 0.5 + 0.4) for i in range(400)],
        tempos=[Tempo(i * 0.5, q) for i, q in enumerate(qpms)],
        total_time=200.0,
    )
    sequence_to_midi_file(ns, tmp_path / "drift.mid")
    code, out, _ = run_cli(capsys, "inspect", tmp_path / "drift.mid")
    assert code == 0
    [line] = [x for x in out.splitlines() if x.startswith("tempos:")]
    assert len(line) < 120
    assert "400 tempos" in line and "96.12-119.88 qpm" in line and "0.00-199.50 s" in line
    assert "--json" in line


def test_a_short_tempo_map_is_listed_to_a_hundredth():
    tempos = [{"time": 0.0, "qpm": 120.0}, {"time": 4.0, "qpm": 89.99996}]
    assert format_tempos(tempos) == "120 qpm at 0.00 s, 90 qpm at 4.00 s"
    many = [{"time": float(i), "qpm": 100.0 + i / 3} for i in range(LISTED_TEMPOS + 1)]
    assert format_tempos(many).startswith(f"{LISTED_TEMPOS + 1} tempos, 100-102 qpm")


def test_dataset_names_each_failed_file_and_why(tmp_path, capsys):
    folder = tmp_path / "midi"
    (folder / "sub").mkdir(parents=True)
    for name in ("ode_to_joy.mid", "greensleeves_6_8.mid"):
        (folder / name).write_bytes((ROOT / "midi_samples" / name).read_bytes())
    (folder / "sub" / "broken.mid").write_bytes(b"MThd\x00\x00")
    (folder / "notes.mid").write_text("not midi")
    code, out, err = run_cli(capsys, "dataset", folder, tmp_path / "ds", "--jobs", "1")
    assert code == 0, err
    failed = [line.strip() for line in out.splitlines() if line.strip().startswith("failed:")]
    assert failed == [
        "failed: notes.mid: not a Standard MIDI File (it does not start with 'MThd')",
        "failed: sub/broken.mid: the file is truncated (it ends in the middle of a chunk)",
    ]


def test_convert_says_force_as_a_flag(tmp_path, capsys):
    folder = MAGENTA_JS / "checkpoints" / "melody_2x64"
    code, out, _ = run_cli(capsys, "convert", folder, tmp_path / "converted")
    assert code == 0 and len(out.strip().splitlines()) == 1
    assert "config melody_2x64 (melody), encoder one_hot_melody" in out
    line = one_line_error(capsys, "convert", folder, tmp_path / "converted")
    assert "--force" in line and "force=True" not in line
    assert run_cli(capsys, "convert", folder, tmp_path / "converted", "--force")[0] == 0


@pytest.mark.parametrize("content", [b"not a soundfont", b"RIFF\x00\x00\x00\x00WAVEfmt "])
def test_a_soundfont_that_is_not_one_is_refused_before_anything_is_written(
    tmp_path, capsys, content
):
    fake = tmp_path / "fake.sf2"
    fake.write_bytes(content)
    out = tmp_path / "out"
    line = one_line_error(capsys, "render", ODE, "--png", "--wav", "--soundfont", fake, "-o", out)
    assert "fake.sf2" in line and "not a soundfont" in line and "--soundfont" in line
    assert not out.exists()


def test_argmax_variations_are_refused(tmp_path, capsys):
    out = tmp_path / "out"
    line = one_line_error(
        capsys, "continue", ODE, "--temperature", "0", "--num-outputs", "3", "-o", out
    )
    assert "identical" in line and "--num-outputs 1" in line and "--temperature" in line
    assert not out.exists()
    code, _, err = run_cli(capsys, "continue", ODE, "--temperature", "0", "-o", out, "--steps", "8")
    assert code == 0, err
