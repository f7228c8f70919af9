"""`melodyrnn continue` end to end with the shipped model, and every bad input it must refuse."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from melodyrnn.cli import main
from melodyrnn.constants import MELODY_NO_EVENT
from melodyrnn.generation.music_rnn import MusicRNN
from melodyrnn.generation.options import SamplingOptions
from melodyrnn.generation.primer import continue_midi, continue_primer, prepare_primer
from melodyrnn.io.midi import midi_to_sequence, sequence_to_midi_file
from melodyrnn.sequence import Note, NoteSequence, Tempo, TimeSignature

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "midi_samples").glob("*.mid"))
TICK = 1e-3  # a tick at 480 ppq and >= 60 qpm is under 2.1 ms; times are compared to 1 ms + tick


@pytest.fixture(scope="module")
def model():
    return MusicRNN.from_pretrained()


def run(*argv, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-m", "melodyrnn.cli", *map(str, argv)],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=env,
    )


def key(note) -> tuple:
    return (note.pitch, note.velocity, note.program, note.is_drum)


def melody_notes(ns: NoteSequence, instrument: int) -> list:
    return [n for n in ns.notes if n.instrument == instrument and not n.is_drum]


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_continue_cli_on_every_sample(tmp_path, path):
    proc = run("continue", path, "-o", tmp_path, "--seed", 7, "--num-outputs", 2)
    assert proc.returncode == 0, proc.stderr
    outs = sorted(tmp_path.glob("*.mid"))
    assert [p.name for p in outs] == [f"{path.stem}_continued_{k}.mid" for k in (1, 2)]

    source = midi_to_sequence(path)
    primer = prepare_primer(source)
    start = primer.step_to_seconds(primer.end_step)
    last_end = max(n.end_time for n in source.notes)  # of any track
    step = primer.step_to_seconds(primer.end_step) - primer.step_to_seconds(primer.end_step - 1)
    # The continuation starts on the first 16th step at or after the file's last note.
    assert last_end - TICK <= start < last_end + step - TICK

    for out_path in outs:
        out = midi_to_sequence(out_path)
        # The primer file is kept: tempo map, meter, keys, and every note of every track.
        assert [(t.time, round(t.qpm, 3)) for t in out.tempos] == [
            (t.time, round(t.qpm, 3)) for t in source.tempos
        ]
        assert out.time_signatures == source.time_signatures
        assert out.key_signatures == source.key_signatures
        remaining = list(out.notes)
        for note in source.notes:
            match = next(
                (
                    n
                    for n in remaining
                    if key(n) == key(note)
                    and abs(n.start_time - note.start_time) < TICK
                    and abs(n.end_time - note.end_time) < TICK
                ),
                None,
            )
            assert match is not None, f"primer note {note} lost"
            remaining.remove(match)
        new = remaining
        assert new, "no continuation notes"
        # On the melody track's program, after the primer, at the melody's typical velocity.
        melody = melody_notes(source, primer.instrument)
        assert {n.program for n in new} == {melody[0].program}
        assert all(n.start_time >= start - TICK for n in new)
        assert {n.velocity for n in new} == {int(np.median([n.velocity for n in melody]))}
        # In the primer's register (Magenta's squash is undone).
        primer_median = np.median([n.pitch for n in melody])
        assert abs(np.median([n.pitch for n in new]) - primer_median) <= 12

    # Same seed -> byte-identical files.
    again = tmp_path / "again"
    proc = run("continue", path, "-o", again, "--seed", 7, "--num-outputs", 2)
    assert proc.returncode == 0, proc.stderr
    for a in outs:
        assert (again / a.name).read_bytes() == a.read_bytes()


def test_first_event_never_extends_the_primer(model):
    for path in SAMPLES:  # placed where the melody ends, so a hold would lengthen its note
        primer = prepare_primer(midi_to_sequence(path), at="melody-end")
        rows = continue_primer(
            primer, model, 16, options=SamplingOptions(num_outputs=16, temperature=1.5, seed=0)
        )
        assert all(row[0] != MELODY_NO_EVENT for row in rows)


def test_continuation_is_in_the_primer_key_and_register(model):
    # Ode to Joy moved up a fourth (F major): the continuation follows it there.
    source = midi_to_sequence(ROOT / "midi_samples" / "ode_to_joy.mid")
    for note in source.notes:
        note.pitch += 5
    outs = continue_midi(
        source,
        options=SamplingOptions(num_outputs=4, temperature=0.8, seed=1),
        steps=64,
        model=model,
    )
    new = [n for out in outs for n in out.notes[len(source.notes) :]]
    f_major = {5, 7, 9, 10, 0, 2, 4}
    in_key = np.mean([n.pitch % 12 in f_major for n in new])
    assert in_key > 0.8
    assert abs(np.median([n.pitch for n in new]) - np.median([n.pitch for n in source.notes])) <= 7


def test_exclude_primer_writes_the_continuation_alone(tmp_path):
    path = ROOT / "midi_samples" / "greensleeves_6_8.mid"
    proc = run(
        "continue",
        path,
        "-o",
        tmp_path,
        "--seed",
        1,
        "--exclude-primer",
        "--bars",
        2,
        "--png",
        "--wav",
    )
    assert proc.returncode == 0, proc.stderr
    for suffix in (".png", ".wav"):  # rendered beside it (render's own tests check content)
        rendered = tmp_path / f"greensleeves_6_8_continuation_1{suffix}"
        assert rendered.stat().st_size > 10_000
    out = midi_to_sequence(tmp_path / "greensleeves_6_8_continuation_1.mid")
    source = midi_to_sequence(path)
    assert out.notes and min(n.start_time for n in out.notes) >= 0
    assert (out.time_signatures[0].numerator, out.time_signatures[0].denominator) == (6, 8)
    assert round(out.tempos[0].qpm) == round(source.tempos[0].qpm)
    steps = 2 * 12  # two bars of 6/8 at 4 steps per quarter
    assert max(n.end_time for n in out.notes) <= steps * 60 / source.tempos[0].qpm / 4 + TICK


def test_tempo_and_meter_changes_continue_from_the_last_section(model, tmp_path):
    seconds = 60 / 120 / 4
    notes = [Note(60 + (i % 5), 90, i * 4 * seconds, (i * 4 + 3) * seconds) for i in range(40)]
    ns = NoteSequence(
        notes=notes,
        tempos=[Tempo(0.0, 120.0), Tempo(8.0, 90.0)],
        time_signatures=[TimeSignature(0.0, 4, 4), TimeSignature(4.0, 3, 4)],
        total_time=notes[-1].end_time,
    )
    path = tmp_path / "changes.mid"
    sequence_to_midi_file(ns, path)
    source = midi_to_sequence(path)
    primer = prepare_primer(source)
    assert primer.section_start == pytest.approx(4.0, abs=TICK)
    assert primer.steps_per_bar == 12
    out = continue_midi(source, options=SamplingOptions(seed=0), steps=24, model=model)[0]
    new = out.notes[len(source.notes) :]
    last_end = max(n.end_time for n in source.notes)
    start = primer.step_to_seconds(primer.end_step)
    # The next 16th step at 90 qpm (60/90/4 s long) at or after the primer's last note end.
    assert last_end - TICK <= start < last_end + 60 / 90 / 4
    assert new and min(n.start_time for n in new) >= start - TICK
    # 24 steps at 90 qpm last 4 s.
    assert max(n.end_time for n in new) <= start + 4.0 + TICK


def test_named_and_indexed_tracks(model):
    source = midi_to_sequence(ROOT / "midi_samples" / "saints_multitrack.mid")
    assert prepare_primer(source).instrument == 0  # auto: the trumpet, not the bass
    assert prepare_primer(source, track="bass").instrument == 1
    assert prepare_primer(source, track=1).instrument == 1


# --- bad input: one line naming the file, status 2, nothing written -------------------------


def _bad(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "text.mid").write_text("this is not MIDI")
    sequence_to_midi_file(NoteSequence(tempos=[Tempo(0, 100)]), folder / "empty.mid")
    drums = NoteSequence(
        notes=[Note(36, 100, i * 0.5, i * 0.5 + 0.1, is_drum=True, instrument=9) for i in range(8)],
        total_time=4.0,
    )
    sequence_to_midi_file(drums, folder / "drums.mid")
    long = NoteSequence(  # 600 bars of 4/4 at 120 qpm: more than MAX_PRIMER_STEPS
        notes=[Note(60 + i % 7, 90, i * 0.5, i * 0.5 + 0.4) for i in range(4800)],
        total_time=2400.0,
    )
    sequence_to_midi_file(long, folder / "long.mid")
    (folder / "not_a_checkpoint").mkdir()
    return folder


def test_bad_inputs(tmp_path, capsys, magenta_js):
    bad = _bad(tmp_path)
    out = tmp_path / "out"
    ode = ROOT / "midi_samples" / "ode_to_joy.mid"
    improv = magenta_js / "checkpoints" / "melody_2x64"
    cases = [
        (["continue", tmp_path / "missing.mid"], "missing.mid"),
        (["continue", bad], "bad"),
        (["continue", bad / "text.mid"], "text.mid"),
        (["continue", bad / "empty.mid"], "no notes"),
        (["continue", bad / "drums.mid"], "drum model"),
        # A long file continues from its last 64 bars; asking for more than the cap refuses.
        (["continue", bad / "long.mid", "--primer-bars", "600"], "--primer-bars"),
        (["continue", ode, "--steps", "0"], "at least 1 step"),
        (["continue", ode, "--model", "no_such_model"], "unknown model 'no_such_model'"),
        (["continue", ode, "--model", bad / "not_a_checkpoint"], "not_a_checkpoint"),
        (["continue", ode, "--model", improv, "--chords", "C G"], "no chord input"),
        (["continue", ode, "--chords", "C H7"], "H7"),
        (["continue", ode, "--temperature", "0", "--top-k", "5"], "temperature"),
        (["continue", ode, "--temperature", "-1"], "temperature"),
        (["continue", ode, "--top-p", "1.5"], "--top-p"),
        (["continue", ode, "--top-p", "0"], "--top-p"),
        (["continue", ode, "--key", "H"], "unknown key"),
    ]
    for argv, needle in cases:
        code = main([*map(str, argv), "-o", str(out), "--seed", "1"])
        _, err = capsys.readouterr()
        lines = err.strip().splitlines()
        assert code == 2, (argv, err)
        assert len(lines) == 1 and lines[0].startswith("melodyrnn: error: "), (argv, err)
        assert needle in lines[0], (argv, lines[0])
        assert not out.exists(), argv


def test_existing_output_needs_force(tmp_path, capsys):
    ode = ROOT / "midi_samples" / "ode_to_joy.mid"
    assert main(["continue", str(ode), "-o", str(tmp_path), "--seed", "1"]) == 0
    target = tmp_path / "ode_to_joy_continued_1.mid"
    before = target.read_bytes()
    code = main(["continue", str(ode), "-o", str(tmp_path), "--seed", "2"])
    _, err = capsys.readouterr()
    assert code == 2 and "--force" in err and str(target) in err
    assert target.read_bytes() == before
    assert main(["continue", str(ode), "-o", str(tmp_path), "--seed", "2", "--force"]) == 0
    assert target.read_bytes() != before


def test_markov_model_through_the_same_cli(tmp_path, model):
    from melodyrnn.training.ngram import fit_ngram_model

    ode = ROOT / "midi_samples" / "ode_to_joy.mid"
    markov = fit_ngram_model(
        [prepare_primer(midi_to_sequence(p)).melody.to_array() for p in SAMPLES], order=3
    )
    markov.save(tmp_path / "markov")
    proc = run("continue", ode, "-o", tmp_path / "out", "--model", f"markov:{tmp_path / 'markov'}")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "ode_to_joy_continued_1.mid").exists()
