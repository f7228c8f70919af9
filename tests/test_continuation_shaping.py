"""Register, endings and key fitting of real-file continuations, and the continuation metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from melodyrnn.cli import main
from melodyrnn.events.melody_events import note_spans
from melodyrnn.generation.music_rnn import MusicRNN
from melodyrnn.generation.options import SamplingOptions
from melodyrnn.generation.primer import continue_primer, prepare_primer
from melodyrnn.generation.shaping import default_register, ending_steps
from melodyrnn.io.midi import midi_to_sequence
from melodyrnn.training.continuations import (
    continuation_metrics,
    interval_figures,
    longest_copied_run,
    onset_histogram,
    split_in_half,
)

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "midi_samples").glob("*.mid"))


@pytest.fixture(scope="module")
def model():
    return MusicRNN.from_pretrained()


@pytest.fixture(scope="module")
def primers():
    return {p.stem: prepare_primer(midi_to_sequence(p)) for p in SAMPLES}


def test_default_register_is_the_primer_range_widened_inside_the_piano():
    assert default_register(60, 72) == (55, 77)
    assert default_register(96, 108) == (91, 108)
    assert default_register(15, 30) == (21, 35)
    assert default_register(110, 120) == (105, 108)  # above the piano: its top


@pytest.mark.parametrize("name", [p.stem for p in SAMPLES])
def test_register_is_never_left_over_many_seeds(model, primers, name):
    primer = primers[name]
    low, high = default_register(*primer.register)
    for seed in range(6):
        for row in continue_primer(primer, model, 48, SamplingOptions(seed=seed, num_outputs=4)):
            pitches = row[row >= 0]
            assert pitches.size == 0 or (pitches.min() >= low and pitches.max() <= high)


def test_an_explicit_range_is_kept(model, primers):
    primer = primers["ode_to_joy"]
    options = SamplingOptions(seed=3, num_outputs=8, pitch_range=(62, 67))
    for row in continue_primer(primer, model, 64, options):
        pitches = row[row >= 0]
        assert pitches.min() >= 62 and pitches.max() <= 67


def test_a_high_melody_stays_on_the_piano(model):
    from melodyrnn.sequence import Note, NoteSequence, Tempo

    notes = [Note(pitch=96 + (i % 13), velocity=90, start_time=i * 0.25, end_time=i * 0.25 + 0.25)
             for i in range(32)]  # fmt: skip
    ns = NoteSequence(notes=notes, tempos=[Tempo(0.0, 120.0)], total_time=8.0)
    primer = prepare_primer(ns)
    for row in continue_primer(primer, model, 64, SamplingOptions(seed=1, num_outputs=8)):
        assert row[row >= 0].max() <= 108


@pytest.mark.parametrize("name", [p.stem for p in SAMPLES])
@pytest.mark.parametrize("ending", ["tonic", "bar"])
def test_endings_hold_on_every_sample_and_seed(model, primers, name, ending):
    primer = primers[name]
    tonic = primer.key().tonic
    for seed in range(4):
        for steps in (20, 48):
            options = SamplingOptions(seed=seed, num_outputs=3, temperature=1.2)
            rows = continue_primer(primer, model, steps, options, ending=ending)
            want = ending_steps(primer.end_step, steps, primer.steps_per_bar, ending)
            for row in rows:
                assert len(row) == want and (primer.end_step + want) % primer.steps_per_bar == 0
                pitches, starts, _ = note_spans(row)
                assert len(pitches)
                if ending == "tonic":
                    assert pitches[-1] % 12 == tonic
                last = primer.end_step + starts[-1]
                downbeat = primer.end_step + want - primer.steps_per_bar
                assert last >= downbeat or starts[-1] == 0
                assert (last - downbeat) % primer.beat_steps == 0 or last < downbeat
                assert (row[starts[-1] + 1 :] == -2).all()  # held to the bar line


def test_ending_tonic_with_beam_search_and_argmax(model, primers):
    primer = primers["amazing_grace_3_4"]
    for options in (SamplingOptions(temperature=0), SamplingOptions(seed=2, beam_size=2)):
        (row,) = continue_primer(primer, model, 30, options, ending="tonic")
        assert note_spans(row)[0][-1] % 12 == 7


def test_profile_key_finding_keeps_amazing_grace_in_g(model, primers):
    primer = primers["amazing_grace_3_4"]
    options = SamplingOptions(seed=0, num_outputs=8)
    after = np.concatenate(continue_primer(primer, model, 64, options))
    before = np.concatenate(
        continue_primer(primer, model, 64, options.replace(pitch_range=(0, 127)),
                        key_finding="magenta")
    )  # fmt: skip
    f_natural = lambda row: int((row[row >= 0] % 12 == 5).sum())  # noqa: E731
    f_sharp = lambda row: int((row[row >= 0] % 12 == 6).sum())  # noqa: E731
    assert f_sharp(after) >= f_natural(after)
    assert f_natural(before) > f_sharp(before)  # Magenta's C major estimate


def test_bad_key_finding_and_ending_are_refused(model, primers):
    from melodyrnn.errors import PrimerError

    with pytest.raises(PrimerError, match="key_finding"):
        continue_primer(primers["ode_to_joy"], model, 8, key_finding="krumhansl")
    with pytest.raises(PrimerError, match="ending"):
        continue_primer(primers["ode_to_joy"], model, 8, ending="cadence")


def test_cli_ending_tonic_and_range(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["continue", str(ROOT / "midi_samples" / "amazing_grace_3_4.mid"), "-o", str(out)]
    assert main([*args, "--seed", "1", "--ending", "tonic", "--range", "55-79"]) == 0
    assert "steps" in capsys.readouterr().out
    ns = midi_to_sequence(out / "amazing_grace_3_4_continued_1.mid")
    new = sorted(ns.notes, key=lambda n: n.start_time)[-1]
    assert new.pitch % 12 == 7
    assert main([*args, "--range", "80", "--force"]) == 2
    assert "--range must be LO-HI" in capsys.readouterr().err


# --- the metrics on hand-computable cases ---------------------------------------------------


def test_onset_histogram_and_figures():
    ev = np.array([60, -2, 62, -2, -1, -2, 64, -2] * 2)
    hist = onset_histogram(ev, steps_per_bar=8)
    assert hist.tolist() == [1 / 3, 0, 1 / 3, 0, 0, 0, 1 / 3, 0]
    assert interval_figures(np.array([60, 62, 64, 60, 62])) == {(2, 2, -4), (2, -4, 2)}


def test_longest_copied_run():
    assert longest_copied_run([1, 2, 3, 4, 5], [9, 2, 3, 4, 8, 1]) == 3
    assert longest_copied_run([1, 2], [3, 4]) == 0


def test_continuation_metrics_by_hand():
    primer = np.array([60, -2, 62, -2, 64, -2, 65, -2, 67, -2, 65, -2, 64, -2, 62, -2])
    # C D E F G in C major (scale), one F#; figures: (2,2,1) is the primer's, (2,1,1) is not.
    cont = np.array([62, -2, 64, -2, 66, -2, 67, -2, 72, -2, -2, -2, -2, -2, -2, -2])
    m = continuation_metrics(primer, cont, frozenset({0, 2, 4, 5, 7, 9, 11}), tonic=0,
                             steps_per_bar=16, margin=3)  # fmt: skip
    assert m["in_scale"] == pytest.approx(4 / 5)
    assert m["register"] == pytest.approx(4 / 5)  # 72 is above 67 + 3
    # figures of the continuation: (2,2,1), (2,1,5); the primer has (2,2,1): one of two
    assert m["motif_reuse"] == pytest.approx(1 / 2)
    assert m["copy_share"] == pytest.approx(4 / 16)  # "62 -2 64 -2" is copied
    assert m["tonic_end"] == 1.0
    # primer onsets at 0,2,..,14 (8 of 16 positions); continuation at 0,2,4,6,8
    assert m["onset_l1"] == pytest.approx(5 * abs(1 / 5 - 1 / 8) + 3 / 8)


def test_split_in_half_cuts_on_a_bar_line():
    primer, rest = split_in_half(np.arange(100) % 5 + 60)
    assert len(primer) == 48 and len(rest) == 52
