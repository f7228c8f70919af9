"""The command line: inspect and encode, their output and their errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import MAGENTA_JS_CHECKPOINTS, load_json

from melodyrnn.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "midi_samples").glob("*.mid"))


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_samples_exist():
    names = {p.name for p in SAMPLES}
    assert len(names) >= 5


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_inspect_prints_a_summary(capsys, path):
    code, out, _ = run_cli(capsys, "inspect", path)
    assert code == 0
    assert "tracks:" in out and "tempos:" in out and "meter:" in out
    code, out, _ = run_cli(capsys, "inspect", path, "--json")
    summary = json.loads(out)
    assert summary["notes"] == sum(t["notes"] for t in summary["tracks"]) > 0


def test_inspect_multitrack_reports_programs_and_drums(capsys):
    code, out, _ = run_cli(
        capsys, "inspect", ROOT / "midi_samples" / "saints_multitrack.mid", "--json"
    )
    tracks = json.loads(out)["tracks"]
    assert [t["is_drum"] for t in tracks].count(True) == 1
    assert {t["program"] for t in tracks if not t["is_drum"]} == {56, 32}


def test_console_script_exit_status_and_one_line_error(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01")  # truncated header
    proc = subprocess.run(
        [sys.executable, "-m", "melodyrnn.cli", "inspect", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("melodyrnn: error: ")
    assert "bad.mid" in lines[0] and "Traceback" not in proc.stderr


def test_inspect_missing_file(capsys, tmp_path):
    code, _, err = run_cli(capsys, "inspect", tmp_path / "nope.mid")
    assert code == 2 and "nope.mid" in err


def _note_seq_basic_rnn_tokens(note_seq, path: Path) -> list[list[int]]:
    """Magenta's training pipeline with note-seq objects (the oracle)."""
    melodies_lib, sequences_lib = note_seq.melodies_lib, note_seq.sequences_lib
    encoding = note_seq.melody_encoder_decoder.MelodyOneHotEncoding(48, 84)
    out = []
    ns = note_seq.midi_file_to_note_sequence(str(path))
    for piece in sequences_lib.split_note_sequence_on_time_changes(ns):
        qns = sequences_lib.quantize_note_sequence(piece, 4)
        for instrument in sorted({n.instrument for n in qns.notes}):
            search = 0
            while True:
                melody = melodies_lib.Melody()
                try:
                    melody.from_quantized_sequence(
                        qns, search_start_step=search, instrument=instrument, gap_bars=1
                    )
                except melodies_lib.PolyphonicMelodyError:
                    break
                search = melody.end_step + (-melody.end_step) % melody.steps_per_bar
                if not melody:
                    break
                if len(melody) < 7 * melody.steps_per_bar:
                    continue
                if len(melody) > 512:
                    melody.set_length(512)
                if np.count_nonzero(melody.get_note_histogram()) < 5:
                    continue
                melody.squash(48, 84, 0)
                out.append([encoding.encode_event(e) for e in melody])
    return out


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_encode_json_equals_magenta_pipeline(note_seq, capsys, path):
    code, out, _ = run_cli(capsys, "encode", path, "--json")
    assert code == 0
    result = json.loads(out)
    assert [s["tokens"] for s in result["sections"]] == _note_seq_basic_rnn_tokens(note_seq, path)


def test_encode_says_why_there_are_no_tokens(capsys, magenta_js):
    code, out, _ = run_cli(capsys, "encode", magenta_js / "midi" / "drums.mid")
    assert code == 0
    assert "no tokens: the file has only drum notes" in out
    code, out, _ = run_cli(capsys, "encode", magenta_js / "midi" / "poly_overlap.mid", "--json")
    assert "polyphonic" in json.loads(out)["reason"]


def test_encode_magenta_js_matches_fixture_and_reports_range_errors(capsys, magenta_js):
    expected = {e["file"]: e for e in load_json("expected/encode.json")["files"]}
    code, out, _ = run_cli(
        capsys,
        "encode",
        magenta_js / "midi" / "melody_simple.mid",
        "--encoding",
        "magenta_js_melody",
        "--json",
    )
    tokens = json.loads(out)["sections"][0]["tokens"]
    assert tokens == expected["midi/melody_simple.mid"]["encodings"]["basic_rnn"]["indices"]
    out_of_range = magenta_js / "midi" / "out_of_range.mid"
    code, _, err = run_cli(capsys, "encode", out_of_range, "--encoding", "magenta_js_melody")
    assert code == 2
    assert "out_of_range.mid" in err and "outside of the valid range: 47" in err


@pytest.mark.parametrize("folder", MAGENTA_JS_CHECKPOINTS, ids=lambda p: p.name)
def test_convert_fixture_checkpoints(capsys, tmp_path, folder):
    from melodyrnn.generation.music_rnn import MusicRNN
    from melodyrnn.generation.options import SamplingOptions

    out = tmp_path / "converted"
    code, text, _ = run_cli(capsys, "convert", folder, out)
    assert code == 0 and "wrote" in text
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    js, ours = MusicRNN.from_pretrained(folder), MusicRNN.from_pretrained(out)
    assert ours.config.encoder == js.config.encoder
    rng = np.random.default_rng(0)
    drums = js.kind == "drums"
    primer = rng.integers(0, 512 if drums else 2, size=20)
    if not drums:
        primer = np.where(primer == 1, 60, -2)
    chords = ["C", "G"] if js.kind == "chord_melody" else None
    argmax = SamplingOptions(temperature=None)
    a = js.continue_events(primer, 16, argmax, chord_progression=chords, return_logits=True)
    b = ours.continue_events(primer, 16, argmax, chord_progression=chords, return_logits=True)
    assert np.array_equal(a.classes, b.classes)
    assert np.array_equal(a.logits, b.logits)
    code, _, err = run_cli(capsys, "convert", folder, out)
    assert code == 2 and "exists" in err
