"""Piano-roll PNGs and WAV renderings (melodyrnn.render: piano_roll, audio, files).

Truth comes from hand-computed bar times, pixel sizes, the colours the module promises, and the
physics of the audio (duration, level, the first note's frequency). The soundfont renderers are
tested where they are installed and skipped elsewhere; the sine fallback always runs.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.image import imread

from melodyrnn.errors import MelodyRNNError, OutputExistsError, RenderError
from melodyrnn.io.midi import midi_to_sequence
from melodyrnn.render import audio
from melodyrnn.render.audio import PEAK_LEVEL, RELEASE_TAIL, available_wav_methods, render_wav
from melodyrnn.render.files import render_file, render_sequence
from melodyrnn.render.piano_roll import (
    CONTINUATION_COLOR,
    DRUM_COLOR,
    PRIMER_COLOR,
    bar_start_times,
    piano_roll_png,
)
from melodyrnn.sequence import Note, NoteSequence, Tempo, TimeSignature

SAMPLES = Path(__file__).resolve().parent.parent / "midi_samples"
SAINTS = SAMPLES / "saints_multitrack.mid"
ODE = SAMPLES / "ode_to_joy.mid"


@pytest.fixture(scope="module")
def saints() -> NoteSequence:
    return midi_to_sequence(SAINTS)


@pytest.fixture(scope="module")
def ode() -> NoteSequence:
    return midi_to_sequence(ODE)


def drums_only() -> NoteSequence:
    notes = [
        Note(pitch=36 if i % 2 == 0 else 38, velocity=100, start_time=0.25 * i,
             end_time=0.25 * i + 0.1, instrument=0, is_drum=True)
        for i in range(16)
    ]  # fmt: skip
    notes += [Note(42, 80, 0.125 + 0.25 * i, 0.2 + 0.25 * i, is_drum=True) for i in range(16)]
    return NoteSequence(notes=notes, tempos=[Tempo(0.0, 120.0)], total_time=3.95)


def color_mask(image: np.ndarray, color: str, tolerance: float = 0.02) -> np.ndarray:
    """Pixels of ``image`` (H, W, 3|4 floats) within ``tolerance`` of ``color`` per channel."""
    return np.all(np.abs(image[..., :3] - np.array(to_rgb(color))) <= tolerance, axis=-1)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """(samples as floats in [-1, 1), shape (frames, channels)), sample rate) of a 16-bit WAV."""
    with wave.open(str(path), "rb") as f:
        assert f.getsampwidth() == 2
        data = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
        return data.reshape(-1, f.getnchannels()).astype(float) / 32768.0, f.getframerate()


def assert_good_audio(samples: np.ndarray, rate: int, expected_seconds: float) -> None:
    assert abs(len(samples) / rate - expected_seconds) <= 2 / rate
    assert np.sqrt(np.mean(samples**2)) > 0.02, "rendering is (nearly) silent"
    peak = np.abs(samples).max()
    assert PEAK_LEVEL - 0.01 <= peak <= PEAK_LEVEL + 0.01  # normalised, no clipping
    assert np.count_nonzero(np.abs(samples) >= 32767 / 32768) == 0


# --- bar lines -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tempos", "meters", "end", "expected"),
    [
        ([Tempo(0, 120)], [TimeSignature(0, 4, 4)], 8.0, [0, 2, 4, 6, 8]),
        ([], [], 5.0, [0, 2, 4]),  # no tempo/meter: 120 qpm, 4/4
        ([Tempo(0, 96)], [TimeSignature(0, 6, 8)], 6.0, [0, 1.875, 3.75, 5.625]),
        ([Tempo(0, 120), Tempo(4, 60)], [TimeSignature(0, 4, 4)], 12.0, [0, 2, 4, 8, 12]),
        ([Tempo(0, 120)], [TimeSignature(0, 4, 4), TimeSignature(4, 3, 4)], 8.0, [0, 2, 4, 5.5, 7]),
        # a meter change in mid-bar starts a new bar there
        ([Tempo(0, 60)], [TimeSignature(0, 4, 4), TimeSignature(6, 2, 4)], 10.0, [0, 4, 6, 8, 10]),
    ],
)
def test_bar_start_times_follow_tempo_and_meter(tempos, meters, end, expected):
    ns = NoteSequence(tempos=tempos, time_signatures=meters, total_time=end)
    assert bar_start_times(ns) == pytest.approx(expected)


# --- piano roll ------------------------------------------------------------------------------


def test_piano_roll_size_colours_and_drums(saints, tmp_path):
    path = piano_roll_png(saints, tmp_path / "saints.png", continuation_start=15.0, height=4.0)
    assert path == tmp_path / "saints.png"
    image = imread(path)
    assert image.shape[:2] == (400, 1200)
    distinct = np.unique((image[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(distinct) > 20
    for color in (PRIMER_COLOR, CONTINUATION_COLOR, DRUM_COLOR):
        assert color_mask(image, color).sum() > 200, color
    assert [p.name for p in tmp_path.iterdir()] == ["saints.png"]  # no temporary file left


def test_piano_roll_splits_primer_and_continuation_in_time(ode, tmp_path):
    image = imread(
        piano_roll_png(ode, tmp_path / "a.png", continuation_start=8.0, width=10, height=3, dpi=80)
    )
    assert image.shape[:2] == (240, 800)
    primer, continuation = color_mask(image, PRIMER_COLOR), color_mask(image, CONTINUATION_COLOR)
    # ode_to_joy lasts 16 s; the axes span most of the width, the legend sits at the far right.
    left, middle = slice(0, int(0.4 * 800)), slice(int(0.6 * 800), int(0.8 * 800))
    assert primer[:, left].sum() > 500 and continuation[:, left].sum() == 0
    assert continuation[:, middle].sum() > 500 and primer[:, middle].sum() == 0


def test_piano_roll_without_continuation_has_one_note_colour(ode, tmp_path):
    image = imread(piano_roll_png(ode, tmp_path / "a.png", dpi=60))
    assert color_mask(image, PRIMER_COLOR).sum() > 1000
    assert color_mask(image, CONTINUATION_COLOR).sum() == 0
    assert color_mask(image, DRUM_COLOR).sum() == 0


def test_drums_only_sequence_renders(tmp_path):
    ns = drums_only()
    image = imread(piano_roll_png(ns, tmp_path / "drums.png", width=6, height=3))
    assert color_mask(image, DRUM_COLOR).sum() > 100
    assert color_mask(image, PRIMER_COLOR).sum() == 0
    path, method = render_wav(ns, tmp_path / "drums.wav", method="sine")
    samples, rate = read_wav(path)
    assert method == "sine"
    assert_good_audio(samples, rate, ns.total_time + RELEASE_TAIL)


def test_empty_sequence_still_draws(tmp_path):
    image = imread(piano_roll_png(NoteSequence(), tmp_path / "empty.png", width=4, height=2))
    assert image.shape[:2] == (200, 400)


# --- audio -----------------------------------------------------------------------------------


def test_sine_fallback_duration_level_and_pitch(ode, tmp_path):
    path, method = render_wav(ode, tmp_path / "ode.wav", sample_rate=16000, method="sine")
    assert method == "sine"
    samples, rate = read_wav(path)
    assert rate == 16000 and samples.shape[1] == 1
    assert_good_audio(samples, rate, ode.total_time + RELEASE_TAIL)
    # The first note (E4, 329.63 Hz, 0-1 s) is the strongest frequency of the first 0.5 s.
    first = ode.notes[0]
    assert first.pitch == 64 and first.start_time == 0.0
    window = samples[: rate // 2, 0]
    spectrum = np.abs(np.fft.rfft(window * np.hanning(len(window))))
    peak_hz = np.fft.rfftfreq(len(window), 1 / rate)[spectrum.argmax()]
    assert peak_hz == pytest.approx(329.63, abs=3)
    # After the release the tail is silent.
    assert np.abs(samples[-rate // 2 :]).max() < 1e-3


def test_sine_fallback_multitrack_with_drums(saints, tmp_path):
    path, method = render_wav(saints, tmp_path / "saints.wav", method="sine", sample_rate=11025)
    samples, rate = read_wav(path)
    assert (method, rate) == ("sine", 11025)
    assert_good_audio(samples, rate, saints.total_time + RELEASE_TAIL)


@pytest.mark.parametrize("method", ["fluidsynth", "tinysoundfont"])
def test_soundfont_renderers_when_available(method, ode, tmp_path):
    if method not in available_wav_methods():
        pytest.skip(f"{method} (or a soundfont) is not available here")
    path, used = render_wav(ode, tmp_path / "ode.wav", method=method)
    samples, rate = read_wav(path)
    assert used == method and rate == 22050 and samples.shape[1] == 2
    assert_good_audio(samples, rate, ode.total_time + RELEASE_TAIL)
    # Sound starts with the first note and the piano keeps sounding through the first beat.
    assert np.sqrt(np.mean(samples[: rate // 2] ** 2)) > 0.02


def test_auto_uses_the_best_renderer_and_falls_back(ode, tmp_path, monkeypatch):
    _, used = render_wav(ode, tmp_path / "best.wav")
    assert used == available_wav_methods()[0]

    def broken(*args, **kwargs):
        raise RenderError("fluidsynth failed: broken on purpose")

    monkeypatch.setattr(audio, "_render_fluidsynth", broken)
    monkeypatch.setattr(audio, "_tinysoundfont", lambda: None)
    path, used = render_wav(ode, tmp_path / "fallback.wav")
    assert used == "sine"
    assert_good_audio(*read_wav(path), ode.total_time + RELEASE_TAIL)


def test_unavailable_or_unknown_methods_are_clear_errors(ode, tmp_path, monkeypatch):
    with pytest.raises(RenderError, match="unknown render method 'mp3'"):
        render_wav(ode, tmp_path / "a.wav", method="mp3")
    with pytest.raises(RenderError, match="soundfont '.*nope.sf2' does not exist"):
        render_wav(ode, tmp_path / "a.wav", soundfont=tmp_path / "nope.sf2")
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    with pytest.raises(RenderError, match="fluidsynth program is not on PATH"):
        render_wav(ode, tmp_path / "a.wav", method="fluidsynth")
    assert not list(tmp_path.iterdir())


# --- files -----------------------------------------------------------------------------------


def test_refuses_to_overwrite_without_force(ode, tmp_path):
    for name, write in [
        ("a.png", lambda p, force: piano_roll_png(ode, p, dpi=40, force=force)),
        ("a.wav", lambda p, force: render_wav(ode, p, method="sine", force=force)),
    ]:
        target = tmp_path / name
        target.write_bytes(b"keep me")
        with pytest.raises(OutputExistsError, match="exists; use force=True to overwrite it"):
            write(target, False)
        assert target.read_bytes() == b"keep me"
        write(target, True)
        assert target.stat().st_size > 1000
    assert issubclass(OutputExistsError, MelodyRNNError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "a.wav"]


def test_missing_folder_is_a_render_error(ode, tmp_path):
    with pytest.raises(RenderError, match="does not exist"):
        piano_roll_png(ode, tmp_path / "no" / "a.png")


def test_render_file_writes_beside_the_midi_or_in_out_dir(tmp_path):
    midi = tmp_path / "ode.mid"
    midi.write_bytes(ODE.read_bytes())
    written = render_file(midi, png=True, wav=True, continuation_start=8.0, method="sine")
    assert dict(written) == {"png": tmp_path / "ode.png", "wav": tmp_path / "ode.wav"}
    assert written.wav_method == "sine"
    assert imread(written["png"]).shape[:2] == (400, 1200)

    out = tmp_path / "out"
    out.mkdir()
    only_png = render_file(midi, out_dir=out)  # PNG only, by default
    assert dict(only_png) == {"png": out / "ode.png"} and only_png.wav_method is None

    # Every target is checked first: an existing WAV stops the PNG from being written too.
    (out / "ode.png").unlink()
    (out / "ode.wav").write_bytes(b"old")
    with pytest.raises(OutputExistsError):
        render_file(midi, png=True, wav=True, out_dir=out)
    assert not (out / "ode.png").exists()


def test_render_sequence_writes_a_sequence_in_memory(ode, tmp_path):
    written = render_sequence(ode, tmp_path / "song", wav=True, title="a title", method="sine")
    assert dict(written) == {"png": tmp_path / "song.png", "wav": tmp_path / "song.wav"}
    assert written.wav_method == "sine"
    assert_good_audio(*read_wav(written["wav"]), ode.total_time + RELEASE_TAIL)
    with pytest.raises(OutputExistsError):
        render_sequence(ode, tmp_path / "song", png=False, wav=True)
