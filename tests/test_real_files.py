"""`melodyrnn continue` on files shaped like real ones (issue 12): arrangements whose melody ends
before the song, percussion next to a vocal, a 700-bar file, drum grooves, a pickup bar at the
end, and the seeds and output paths a new user hits. The files are built here with pretty_midi
(not our writer); the drum channel is checked with mido."""

from __future__ import annotations

import gzip
import re
import shutil
import wave
from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest
from matplotlib.colors import to_rgb
from matplotlib.image import imread

from melodyrnn.cli import main
from melodyrnn.generation.music_rnn import MusicRNN
from melodyrnn.generation.primer import prepare_primer
from melodyrnn.generation.tracks import choose_track, is_drum_like
from melodyrnn.io.midi import midi_to_sequence
from melodyrnn.render.piano_roll import CONTINUATION_COLOR, pitch_rows

ROOT = Path(__file__).resolve().parents[1]
DRUM_KIT_JS = ROOT / "tests" / "fixtures" / "magenta_js" / "checkpoints" / "drum_kit_3x16_attn"
TICK = 2e-3  # MIDI ticks round times

C_MAJOR_TUNE = [60, 62, 64, 65, 67, 65, 64, 62, 64, 67, 72, 71, 69, 67, 65, 64]


# --- building files ---------------------------------------------------------------------------


def _instrument(midi, name, program=0, is_drum=False):
    inst = pretty_midi.Instrument(program=program, is_drum=is_drum, name=name)
    midi.instruments.append(inst)
    return inst


def _add(inst, pitch, start, end, velocity=90):
    inst.notes.append(pretty_midi.Note(velocity=velocity, pitch=pitch, start=start, end=end))


def arrangement(
    path: Path, *, vocal_bars=8, outro_bars=4, qpm=120.0, aux=False, pad=False, drums=True
) -> Path:
    """Vocal (program 54) for ``vocal_bars`` bars; piano chords, bass (and drums, an 'Aux'
    agogo, a busy 'Pad') until ``vocal_bars + outro_bars`` bars, 4/4."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=qpm)
    beat = 60.0 / qpm
    vocal = _instrument(midi, "Vocal", 54)
    piano = _instrument(midi, "Piano", 0)
    bass = _instrument(midi, "Bass", 33)
    kit = _instrument(midi, "Drums", 0, is_drum=True) if drums else None
    agogo = _instrument(midi, "Aux", 113) if aux else None
    synth = _instrument(midi, "Pad", 89) if pad else None
    for i in range(vocal_bars * 2):  # two notes a bar
        _add(vocal, C_MAJOR_TUNE[i % 16], i * 2 * beat, (i * 2 + 1.5) * beat, 96)
    bars = vocal_bars + outro_bars
    for bar in range(bars):
        t = bar * 4 * beat
        root = (48, 53, 55, 45)[bar % 4]
        for p in (root + 12, root + 16, root + 19):
            _add(piano, p, t, t + 4 * beat, 70)
        _add(bass, root - 12, t, t + 2 * beat, 80)
        _add(bass, root - 5, t + 2 * beat, t + 4 * beat, 80)
        for b in range(4):
            if kit is not None:
                _add(kit, 36 if b % 2 == 0 else 38, t + b * beat, t + (b + 0.25) * beat, 100)
            if agogo is not None:
                for half in (0, 0.5):
                    _add(agogo, 67 + b % 2, t + (b + half) * beat, t + (b + half + 0.25) * beat)
            if synth is not None:  # 16ths in a melodic register: a busy, melody-like pad
                for q in range(4):
                    s = t + (b + q / 4) * beat
                    _add(synth, 64 + (b * 4 + q) % 7, s, s + beat / 4, 60)
    midi.write(str(path))
    return path


def groove(path: Path, *, bars=4, with_bass=False, doubled_kick=False) -> Path:
    """A drum groove (kick, snare, closed hi-hat on channel 10), optionally with a bass."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    step = 60.0 / 120 / 4
    bass = _instrument(midi, "Bass", 33) if with_bass else None
    kit = _instrument(midi, "Drums", 0, is_drum=True)
    for s in range(bars * 16):
        t = s * step
        if s % 2 == 0:
            _add(kit, 42, t, t + step, 80)
        if s % 16 in (0, 8, 10):
            _add(kit, 36, t, t + step, 110)
            if doubled_kick:  # a second kick-class pitch on the same step
                _add(kit, 35, t, t + step, 110)
        if s % 16 in (4, 12):
            _add(kit, 38, t, t + step, 100)
        if bass is not None and s % 8 == 0:
            _add(bass, 36, t, t + 7 * step, 90)
    midi.write(str(path))
    return path


# --- running the command line -----------------------------------------------------------------


def cli(capsys, *argv) -> tuple[int, list[str], str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def start_of(lines: list[str]) -> float:
    """The 'from X s' of the first 'wrote' line."""
    wrote = next(line for line in lines if line.startswith("wrote "))
    return float(re.search(r"from ([0-9.]+) s", wrote).group(1))


def split_notes(source, out):
    """(kept, new): every source note must be in ``out`` once; the rest are new."""
    remaining = list(out.notes)
    for note in source.notes:
        match = next(
            (
                n
                for n in remaining
                if (n.pitch, n.velocity, n.program, n.is_drum)
                == (note.pitch, note.velocity, note.program, note.is_drum)
                and abs(n.start_time - note.start_time) < TICK
                and abs(n.end_time - note.end_time) < TICK
            ),
            None,
        )
        assert match is not None, f"source note {note} lost"
        remaining.remove(match)
    return len(source.notes), remaining


def last_end(ns) -> float:
    return max(n.end_time for n in ns.notes)


# --- placement ----------------------------------------------------------------------------------


def test_continuation_starts_after_the_outro(tmp_path, capsys):
    path = arrangement(tmp_path / "song.mid", vocal_bars=8, outro_bars=3)  # 120 qpm: 2 s a bar
    code, lines, err = cli(capsys, "continue", path, "-o", tmp_path / "out", "--seed", 3)
    assert code == 0, err
    assert lines[0].startswith("continued track [0] 'Vocal' (program 54) from its last 8 bars")
    assert "after the file's last note" in lines[0] and "3 silent bars skipped" in lines[0]
    source = midi_to_sequence(path)
    file_end = last_end(source)
    assert file_end == pytest.approx(22.0, abs=TICK)  # 11 bars
    assert start_of(lines) == pytest.approx(file_end, abs=0.01)
    out = midi_to_sequence(tmp_path / "out" / "song_continued_1.mid")
    kept, new = split_notes(source, out)
    assert new and kept == len(source.notes)
    assert {(n.program, n.is_drum) for n in new} == {(54, False)}  # on the vocal's program
    assert min(n.start_time for n in new) >= file_end - TICK  # nothing under the outro

    # The model heard the vocal end, then the gap less its whole bars: 50 steps from the
    # vocal's end (step 126, beat 4.5 of bar 8) to the file's (176) are 3 bars and 2 steps,
    # so its context ends 2 rest steps after the vocal, on bar line 128, like the start.
    primer = prepare_primer(source)
    assert primer.track_end_step == 8 * 16 - 2
    assert primer.end_step == 11 * 16 and primer.skipped_bars == 3
    assert primer.melody.start_step + len(primer.melody) == 8 * 16


def test_at_melody_end_keeps_the_old_placement(tmp_path, capsys):
    path = arrangement(tmp_path / "song.mid", vocal_bars=8, outro_bars=3)
    code, lines, err = cli(
        capsys, "continue", path, "-o", tmp_path, "--seed", 3, "--at", "melody-end"
    )
    assert code == 0, err
    vocal_end = 15 * 1.0 + 1.5 * 0.5  # the 16th vocal note ends 15.75 s in
    assert start_of(lines) == pytest.approx(vocal_end, abs=0.01)
    assert "under the file's other tracks" in lines[0]


def test_gap_that_is_not_whole_bars_keeps_the_start_in_its_place_in_the_bar(tmp_path):
    path = arrangement(tmp_path / "song.mid", vocal_bars=4, outro_bars=2)
    source = midi_to_sequence(path)
    # End the piano a beat early: the file then ends on beat 4 of bar 6.
    last_piano = max((n for n in source.notes if n.instrument == 1), key=lambda n: n.end_time)
    for n in source.notes:
        n.end_time = min(n.end_time, last_piano.end_time - 0.5)
    primer = prepare_primer(source)
    assert primer.end_step == 6 * 16 - 4
    context_end = primer.melody.start_step + len(primer.melody)
    assert (primer.end_step - context_end) % 16 == 0  # whole bars skipped
    assert context_end - primer.track_end_step < 16  # under a bar of rest heard


# --- track choice -------------------------------------------------------------------------------


def test_vocal_beats_an_agogo_aux_track_and_a_busy_pad(tmp_path, capsys):
    path = arrangement(tmp_path / "funky.mid", vocal_bars=8, outro_bars=0, aux=True, pad=True)
    source = midi_to_sequence(path)
    names = {i.instrument: i.name for i in source.instrument_infos}
    aux = next(i for i, n in names.items() if n == "Aux")
    aux_notes = [n for n in source.notes if n.instrument == aux]
    assert is_drum_like(aux_notes, "Aux")  # program 113, even on a melodic channel
    choice = choose_track(source)
    assert names[choice.instrument] == "Vocal"
    assert aux not in [i for i, _ in choice.ranking]
    code, lines, err = cli(capsys, "continue", path, "-o", tmp_path / "o", "--seed", 1, "-v")
    assert code == 0, err
    assert lines[0].startswith(f"continued track [{choice.instrument}] 'Vocal' (program 54)")
    assert lines[1] == "  chosen: named like a melody"
    assert lines[2].startswith("  runner-up: ") and "'Pad' (program 89)" in lines[2]
    out = midi_to_sequence(tmp_path / "o" / "funky_continued_1.mid")
    _, new = split_notes(source, out)
    assert new and {n.program for n in new} == {54}


def test_a_track_named_melody_wins_over_a_pad_with_more_notes(tmp_path):
    path = arrangement(tmp_path / "m.mid", vocal_bars=8, outro_bars=0, pad=True)
    source = midi_to_sequence(path)
    for info in source.instrument_infos:
        if info.name == "Vocal":
            info.name = "Melody"
    assert {i.instrument: i.name for i in source.instrument_infos}[
        choose_track(source).instrument
    ] == "Melody"
    # Unnamed, the busy pad is the most melody-like: naming is what wins.
    for info in source.instrument_infos:
        if info.name == "Melody":
            info.name = "Track 1"
    assert choose_track(source).instrument != 0


def test_only_percussion_on_melodic_channels_refuses_with_a_drum_model_command(tmp_path, capsys):
    midi = pretty_midi.PrettyMIDI(initial_tempo=120)
    agogo = _instrument(midi, "Aux", 113)
    for i in range(32):
        _add(agogo, 67 + i % 2, i * 0.25, i * 0.25 + 0.2)
    midi.write(str(tmp_path / "aux.mid"))
    code, _, err = cli(capsys, "continue", tmp_path / "aux.mid", "-o", tmp_path / "o")
    assert code == 2 and "drum model" in err and "--track" in err
    assert not (tmp_path / "o").exists()


def test_a_one_key_piano_line_is_a_melody_when_nothing_else_is(tmp_path, capsys):
    # music21's testPrimitive/test01.mid: 18 quarter notes of C4 on a piano, channel 1.
    midi = pretty_midi.PrettyMIDI(initial_tempo=120)
    piano = _instrument(midi, "a", 0)
    for i in range(18):
        _add(piano, 60, i * 0.5, i * 0.5 + 0.4)
    midi.write(str(tmp_path / "one_key.mid"))
    source = midi_to_sequence(tmp_path / "one_key.mid")
    assert is_drum_like(source.notes, "a")  # a one-key pattern...
    choice = choose_track(source)  # ...but the only pitched track, on a melodic sound
    assert choice.reason == "the only pitched tracks play one or two keys"
    code, lines, err = cli(capsys, "continue", tmp_path / "one_key.mid", "-o", tmp_path / "o")
    assert code == 0, err
    assert lines[0].startswith("continued track [0] 'a' (program 0)")
    out = midi_to_sequence(tmp_path / "o" / "one_key_continued_1.mid")
    kept, new = split_notes(source, out)
    assert kept == 18 and new and min(n.start_time for n in new) >= last_end(source) - 1e-6
    # A one-key line next to a real melody still loses to it.
    lead = _instrument(midi, "Flute", 73)
    for i, pitch in enumerate([67, 69, 71, 72, 74, 72, 71, 69] * 2):
        _add(lead, pitch, i * 0.5, i * 0.5 + 0.4)
    midi.write(str(tmp_path / "two.mid"))
    assert choose_track(midi_to_sequence(tmp_path / "two.mid")).name == "Flute"


# --- long files ---------------------------------------------------------------------------------


def test_700_bar_file_continues_from_its_last_64_bars(tmp_path, capsys):
    midi = pretty_midi.PrettyMIDI(initial_tempo=240.0)
    piano = _instrument(midi, "Piano", 0)
    for i in range(700 * 4):  # quarter notes, 0.25 s each
        _add(piano, C_MAJOR_TUNE[i % 16], i * 0.25, i * 0.25 + 0.2)
    path = tmp_path / "long.mid"
    midi.write(str(path))
    code, lines, err = cli(capsys, "continue", path, "-o", tmp_path / "o", "--seed", 2, "--png")
    assert code == 0, err
    assert lines[0] == "continued track [0] 'Piano' (program 0) from its last 64 bars, at 700.00 s"
    source = midi_to_sequence(path)
    out = midi_to_sequence(tmp_path / "o" / "long_continued_1.mid")
    kept, new = split_notes(source, out)
    assert new and min(n.start_time for n in new) >= last_end(source) - TICK

    # The piano roll shows the last bars and the continuation, not 700 bars with a sliver.
    def continuation_columns(png: Path) -> int:
        image = imread(png)
        mask = np.all(np.abs(image[..., :3] - np.array(to_rgb(CONTINUATION_COLOR))) <= 0.02, -1)
        return int(mask.any(axis=0).sum())

    windowed = continuation_columns(tmp_path / "o" / "long_continued_1.png")
    code, _, err = cli(
        capsys, "continue", path, "-o", tmp_path / "full", "--seed", 2, "--png", "--full"
    )
    assert code == 0, err
    full = continuation_columns(tmp_path / "full" / "long_continued_1.png")
    assert windowed > 250 and full < 30, (windowed, full)


# --- drums --------------------------------------------------------------------------------------


def test_drum_groove_continues_with_a_magenta_js_drum_kit_checkpoint(tmp_path, capsys):
    path = groove(tmp_path / "groove.mid", with_bass=True)
    code, lines, err = cli(
        capsys, "continue", path, "-o", tmp_path / "o", "--seed", 4, "--model", DRUM_KIT_JS,
        "--bars", 2,
    )  # fmt: skip
    assert code == 0, err
    assert lines[0].startswith("continued drum track [1] 'Drums' (program 0) from its last 4 bars")
    source = midi_to_sequence(path)
    out_path = tmp_path / "o" / "groove_continued_1.mid"
    out = midi_to_sequence(out_path)
    kept, new = split_notes(source, out)  # the bass and the groove are kept
    assert new and all(n.is_drum for n in new)
    start = min(n.start_time for n in new)
    assert start_of(lines) == pytest.approx(last_end(source), abs=0.01)
    assert start >= last_end(source) - TICK
    assert max(n.end_time for n in new) <= start + 2 * 2.0 + TICK  # two bars at 120 qpm
    # Every note after the groove is on MIDI channel 10 (index 9), in the file as written.
    midi = mido.MidiFile(out_path)
    late = []
    for track in midi.tracks:
        t = 0
        for msg in track:
            t += msg.time
            if msg.type == "note_on" and msg.velocity > 0 and t >= 15.75 * midi.ticks_per_beat:
                late.append(msg.channel)
    assert late and set(late) == {9}


def test_drum_track_is_read_the_way_each_checkpoint_expects(tmp_path):
    """Two kick pitches on one step: Magenta's drum_kit counts the class once (bit 0: 1),
    magenta.js sums 2**class per note (2)."""
    source = midi_to_sequence(groove(tmp_path / "g.mid", bars=1, doubled_kick=True))
    with (
        gzip.open(ROOT / "tests" / "fixtures" / "mag" / "drum_kit.mag.gz") as f,
        open(tmp_path / "drum_kit.mag", "wb") as out,
    ):
        shutil.copyfileobj(f, out)
    magenta = MusicRNN.from_pretrained(tmp_path / "drum_kit.mag")
    magenta_js = MusicRNN.from_pretrained(DRUM_KIT_JS)
    events = {}
    for name, model in (("magenta", magenta), ("magenta_js", magenta_js)):
        primer = prepare_primer(source, kind=model.family.kind)
        events[name] = model.primer_events(primer.track_notes)
    # step 0: kick (x2) + closed hi-hat (bit 2)
    assert events["magenta"][0] == 1 + 4
    assert events["magenta_js"][0] == 2 + 4
    assert events["magenta"][4] == events["magenta_js"][4] == 2 + 4  # snare + hi-hat


def test_melody_model_on_a_drums_only_file_points_at_a_drum_model(tmp_path, capsys):
    path = groove(tmp_path / "beat.mid")
    code, lines, err = cli(capsys, "continue", path, "-o", tmp_path / "o")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"melodyrnn continue {path} --model drum_kit_rnn.mag" in err
    assert not (tmp_path / "o").exists()
    # ...and the command it points at works with a drum model (here the magenta.js one).
    code, lines, err = cli(
        capsys, "continue", path, "-o", tmp_path / "o", "--model", DRUM_KIT_JS, "--seed", 1
    )
    assert code == 0, err
    assert "melody model" not in err


def test_drum_model_on_a_file_without_drums_says_so(tmp_path, capsys):
    path = arrangement(tmp_path / "nodrums.mid", drums=False)
    code, _, err = cli(capsys, "continue", path, "-o", tmp_path / "o", "--model", DRUM_KIT_JS)
    assert code == 2 and "no drum track" in err and "--model" in err


# --- meters -------------------------------------------------------------------------------------


def test_a_2_8_pickup_bar_at_the_end_does_not_set_the_meter(tmp_path, capsys):
    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    midi.time_signature_changes = [
        pretty_midi.TimeSignature(4, 4, 0.0),
        pretty_midi.TimeSignature(2, 8, 32.0),  # after 16 bars of 4/4
    ]
    lead = _instrument(midi, "Lead", 73)
    for i in range(32):
        _add(lead, C_MAJOR_TUNE[i % 16], i * 1.0, i * 1.0 + 0.9)
    _add(lead, 67, 32.0, 32.25)
    _add(lead, 65, 32.25, 32.5)
    path = tmp_path / "pickup.mid"
    midi.write(str(path))
    code, lines, err = cli(capsys, "continue", path, "-o", tmp_path / "o", "--bars", 2, "--seed", 1)
    assert code == 0, err
    assert lines[0].startswith("continued track [0] 'Lead' (program 73) from its last 17 bars")
    assert "(32 steps," in lines[1]  # two bars of 4/4, not of 2/8
    assert start_of(lines) == pytest.approx(32.5, abs=0.01)
    primer = prepare_primer(midi_to_sequence(path))
    assert primer.section_start == 0.0 and primer.steps_per_bar == 16


def test_two_meters_at_time_zero_take_the_later(tmp_path, capsys):
    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    midi.time_signature_changes = [
        pretty_midi.TimeSignature(2, 4, 0.0),
        pretty_midi.TimeSignature(4, 4, 0.0),
    ]
    lead = _instrument(midi, "Lead", 73)
    for i in range(16):
        _add(lead, C_MAJOR_TUNE[i], i * 0.5, i * 0.5 + 0.4)
    midi.write(str(tmp_path / "two.mid"))
    code, lines, err = cli(capsys, "continue", tmp_path / "two.mid", "-o", tmp_path, "--bars", 1)
    assert code == 0, err
    assert "(16 steps," in next(line for line in lines if line.startswith("wrote"))


# --- seeds --------------------------------------------------------------------------------------


def test_variation_k_is_the_same_for_every_num_outputs(tmp_path, capsys):
    ode = ROOT / "midi_samples" / "ode_to_joy.mid"
    files = {}
    for n in (1, 2, 4):
        code, _, err = cli(capsys, "continue", ode, "-o", tmp_path / str(n), "--seed", 5,
                           "--num-outputs", n)  # fmt: skip
        assert code == 0, err
        files[n] = [(tmp_path / str(n) / f"ode_to_joy_continued_{k}.mid").read_bytes()
                    for k in range(1, n + 1)]  # fmt: skip
    assert files[1][0] == files[2][0] == files[4][0]
    assert files[2][1] == files[4][1]
    assert len(set(files[4])) == 4


# --- bad output paths ---------------------------------------------------------------------------


@pytest.mark.parametrize("verb", ["continue", "render"])
@pytest.mark.parametrize("below", [False, True])
def test_output_dir_that_is_a_file_or_below_one(tmp_path, capsys, verb, below):
    blocker = tmp_path / "taken"
    blocker.write_text("a file")
    target = blocker / "sub" if below else blocker
    ode = tmp_path / "ode.mid"
    shutil.copy(ROOT / "midi_samples" / "ode_to_joy.mid", ode)
    before = sorted(p.name for p in tmp_path.iterdir())
    args = ["--seed", 1] if verb == "continue" else ["--png", "--wav"]
    code, lines, err = cli(capsys, verb, ode, "-o", target, *args)
    assert code == 2 and lines == []
    [line] = err.strip().splitlines()
    assert line.startswith("melodyrnn: error: ") and str(target) in line
    assert ("lies below" if below else "is a file") in line
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert blocker.read_text() == "a file"


# --- listening ----------------------------------------------------------------------------------


def test_default_wav_is_the_last_bars_and_the_continuation(tmp_path, capsys):
    path = arrangement(tmp_path / "song.mid", vocal_bars=24, outro_bars=2)  # 52 s
    for extra, folder in (([], "w"), (["--full"], "f")):
        code, _, err = cli(capsys, "continue", path, "-o", tmp_path / folder, "--seed", 1,
                           "--wav", *extra)  # fmt: skip
        assert code == 0, err
    seconds = {}
    for folder in ("w", "f"):
        with wave.open(str(tmp_path / folder / "song_continued_1.wav")) as f:
            seconds[folder] = f.getnframes() / f.getframerate()
    # Window: the vocal's last 8 bars (it ends in bar 24: from bar 17, 32 s) to 8 s after the
    # file's end (52 s), plus the release tail.
    assert seconds["w"] == pytest.approx(60 - 32 + 1.0, abs=0.1)
    assert seconds["f"] == pytest.approx(60 + 1.0, abs=0.1)


def test_force_re_renders_the_pictures_of_a_rewritten_midi(tmp_path, capsys):
    ode = ROOT / "midi_samples" / "ode_to_joy.mid"
    assert cli(capsys, "continue", ode, "-o", tmp_path, "--seed", 1, "--png")[0] == 0
    png = tmp_path / "ode_to_joy_continued_1.png"
    before = png.read_bytes()
    code, lines, err = cli(capsys, "continue", ode, "-o", tmp_path, "--seed", 2, "--force")
    assert code == 0, err
    assert f"  wrote {png}" in lines
    assert png.read_bytes() != before


def test_every_pitch_row_is_labelled():
    assert pitch_rows(59, 63) == [(59, "B3"), (60, "C4"), (61, "C#4"), (62, "D4"), (63, "D#4")]


def test_continue_midi_takes_a_drum_model_too(tmp_path):
    from melodyrnn import continue_midi
    from melodyrnn.generation.options import SamplingOptions

    path = groove(tmp_path / "g.mid", with_bass=True)
    source = midi_to_sequence(path)
    [out] = continue_midi(path, 16, SamplingOptions(seed=1), model=DRUM_KIT_JS)
    _, new = split_notes(source, out)
    assert new and all(n.is_drum for n in new)
    assert min(n.start_time for n in new) >= last_end(source) - TICK


def test_render_with_a_continuation_start_shows_the_bars_before_it(tmp_path, capsys):
    path = arrangement(tmp_path / "song.mid", vocal_bars=20, outro_bars=0)  # 40 s
    for extra, folder in (([], "w"), (["--full"], "f")):
        code, _, err = cli(capsys, "render", path, "--wav", "-o", tmp_path / folder,
                           "--continuation-start", 36, *extra)  # fmt: skip
        assert code == 0, err
    seconds = {}
    for folder in ("w", "f"):
        with wave.open(str(tmp_path / folder / "song.wav")) as f:
            seconds[folder] = f.getnframes() / f.getframerate()
    # 36 s starts bar 19; eight bars before it is bar 11 (20 s): 20 s to 40 s, plus the tail.
    assert seconds["w"] == pytest.approx(40 - 20 + 1.0, abs=0.1)
    assert seconds["f"] == pytest.approx(40 + 1.0, abs=0.1)
