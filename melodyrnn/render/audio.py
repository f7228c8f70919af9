"""Hear a NoteSequence: a WAV rendering through a soundfont or a sine-wave fallback.

:func:`render_wav` plays the notes through a real General MIDI soundfont when it can, trying in
turn

1. the ``fluidsynth`` program, if it is on ``PATH``;
2. the ``tinysoundfont`` Python package, if it is installed;
3. a sine-wave synthesiser written here with numpy (drums are noise bursts), always available.

Both soundfont renderers need a ``.sf2`` file (:func:`find_soundfont`): the one given, else the
small TimGM6mb.sf2 that pretty_midi ships inside its package, else one in /usr/share/sounds/sf2.
The caller learns which renderer ran, so it can say when the result is only the sine fallback.
The file is written atomically and only replaces an existing one with ``force=True``
(:mod:`melodyrnn.render.targets`). The piano roll is :mod:`melodyrnn.render.piano_roll`.
"""

from __future__ import annotations

import glob
import math
import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

from melodyrnn.constants import DRUM_CHANNEL
from melodyrnn.errors import MelodyRNNError, RenderError
from melodyrnn.limits import check_limit
from melodyrnn.render.targets import atomic_output, check_target
from melodyrnn.sequence import ControlChange, NoteSequence

# Seconds of audio kept after the last note ends, so releases and reverb can fade out.
RELEASE_TAIL = 1.0
# Peak level of every WAV written, as a fraction of 16-bit full scale (about -0.9 dBFS).
PEAK_LEVEL = 0.9
WAV_METHODS = ("fluidsynth", "tinysoundfont", "sine")
SYSTEM_SOUNDFONT_GLOB = "/usr/share/sounds/sf2/*.sf2"


def find_soundfont(soundfont: str | os.PathLike | None = None) -> Path | None:
    """The soundfont to use: ``soundfont`` if given (it must exist), else pretty_midi's
    TimGM6mb.sf2, else the first one in /usr/share/sounds/sf2, else None."""
    if soundfont is not None:
        path = Path(soundfont)
        if not path.is_file():
            raise RenderError(f"soundfont '{path}' does not exist")
        try:
            with open(path, "rb") as handle:
                head = handle.read(12)
        except OSError as exc:
            raise RenderError(f"soundfont '{path}' cannot be read: {exc.strerror}") from None
        if head[:4] != b"RIFF" or head[8:12] != b"sfbk":  # every SoundFont 2 (and .sf3) file
            raise RenderError(
                f"'{path}' is not a soundfont (no RIFF sfbk header); give a General MIDI .sf2 "
                "file as {soundfont}, or leave it out to use the bundled one",
                parameters=("soundfont",),
            )
        return path
    try:
        import pretty_midi

        bundled = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
        if bundled.is_file():
            return bundled
    except ImportError:
        pass
    found = sorted(glob.glob(SYSTEM_SOUNDFONT_GLOB))
    return Path(found[0]) if found else None


def available_wav_methods(soundfont: str | os.PathLike | None = None) -> list[str]:
    """The renderers that can run here, best first (``"sine"`` always can)."""
    methods = []
    if find_soundfont(soundfont) is not None:
        if shutil.which("fluidsynth"):
            methods.append("fluidsynth")
        if _tinysoundfont() is not None:
            methods.append("tinysoundfont")
    return [*methods, "sine"]


def render_wav(
    ns: NoteSequence,
    path: str | os.PathLike,
    *,
    sample_rate: int = 22050,
    soundfont: str | os.PathLike | None = None,
    method: str = "auto",
    force: bool = False,
) -> tuple[Path, str]:
    """Render ``ns`` to a 16-bit PCM WAV at ``path``; return the path and the renderer used.

    ``method`` is ``"auto"`` (the best of :func:`available_wav_methods` whose output is not
    silent) or one of ``"fluidsynth"``, ``"tinysoundfont"``, ``"sine"``. The audio lasts the
    sequence's ``total_time`` plus :data:`RELEASE_TAIL` seconds and is scaled to a peak of
    :data:`PEAK_LEVEL` of full scale. Soundfont renderings are stereo, the sine fallback mono.
    Raises :class:`OutputExistsError` if ``path`` exists and ``force`` is false,
    :class:`LimitError` for audio longer than limits' max_audio_seconds (one hour by default),
    and :class:`RenderError` if an explicitly asked renderer is not available or fails.
    """
    path = Path(path)
    check_target(path, force)
    if sample_rate < 1000 or sample_rate > 384000:
        raise RenderError(f"sample rate must be between 1000 and 384000 Hz, got {sample_rate}")
    if method != "auto" and method not in WAV_METHODS:
        raise RenderError(f"unknown render method '{method}'; use auto or {', '.join(WAV_METHODS)}")

    end = max([ns.total_time, *(n.end_time for n in ns.notes)])
    if not math.isfinite(end):
        raise RenderError("the sequence has no finite end time; it cannot be rendered")
    check_limit("max_audio_seconds", end + RELEASE_TAIL, "the audio")
    num_samples = int(round((ns.total_time + RELEASE_TAIL) * sample_rate))
    renderers: dict[str, Callable[[], np.ndarray]] = {
        "fluidsynth": lambda: _render_fluidsynth(ns, sample_rate, find_soundfont(soundfont)),
        "tinysoundfont": lambda: _render_tinysoundfont(ns, sample_rate, find_soundfont(soundfont)),
        "sine": lambda: _render_sine(ns, sample_rate, num_samples),
    }
    if method == "auto":
        audio, used = _render_first_audible(ns, renderers, soundfont)
    else:
        if method not in available_wav_methods(soundfont):
            raise RenderError(f"cannot render with {method}: {_why_unavailable(method)}")
        audio, used = renderers[method](), method

    audio = _fit_length(audio, num_samples)
    with atomic_output(path) as tmp:
        _write_wav(tmp, _normalise(audio), sample_rate)
    return path, used


def _render_first_audible(ns, renderers, soundfont) -> tuple[np.ndarray, str]:
    """Try each available renderer, best first; skip one that fails or renders silence."""
    for name in available_wav_methods(soundfont):
        if name == "sine":
            break
        try:
            audio = renderers[name]()
        except MelodyRNNError:  # e.g. values MIDI cannot hold: the sine renderer takes anything
            continue
        if not ns.notes or np.abs(audio).max(initial=0.0) > 1e-4:
            return audio, name
    return renderers["sine"](), "sine"


def _why_unavailable(method: str) -> str:
    if find_soundfont() is None:
        return "no soundfont found; pass soundfont=PATH to a .sf2 file"
    if method == "fluidsynth":
        return "the fluidsynth program is not on PATH (e.g. apt-get install fluidsynth)"
    return "the tinysoundfont package is not installed (pip install tinysoundfont)"


def _fit_length(audio: np.ndarray, num_samples: int) -> np.ndarray:
    """Trim or zero-pad ``audio`` (samples, channels) to exactly ``num_samples`` frames."""
    if audio.ndim == 1:
        audio = audio[:, None]
    if len(audio) >= num_samples:
        return audio[:num_samples]
    pad = np.zeros((num_samples - len(audio), audio.shape[1]), dtype=audio.dtype)
    return np.concatenate([audio, pad])


def _normalise(audio: np.ndarray) -> np.ndarray:
    """Scale to a peak of PEAK_LEVEL and convert to int16 (silence stays silence)."""
    peak = float(np.abs(audio).max(initial=0.0))
    if peak > 0:
        audio = audio * (PEAK_LEVEL / peak)
    return np.round(np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")


def _write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(samples.shape[1])
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(samples.tobytes())


def _with_release_marker(ns: NoteSequence) -> NoteSequence:
    """A copy of ``ns`` with a harmless controller event RELEASE_TAIL after its end, so a MIDI
    player keeps rendering while the last notes fade out."""
    out = ns.copy()
    first = min(ns.notes, key=lambda n: n.start_time, default=None)
    out.control_changes.append(
        ControlChange(
            time=ns.total_time + RELEASE_TAIL,
            control_number=111,  # undefined in General MIDI: ignored by synthesisers
            instrument=first.instrument if first else 0,
            program=first.program if first else 0,
            is_drum=first.is_drum if first else False,
        )
    )
    return out


def _render_fluidsynth(ns: NoteSequence, sample_rate: int, soundfont: Path) -> np.ndarray:
    from melodyrnn.io.midi import sequence_to_midi_bytes

    with tempfile.TemporaryDirectory(prefix="melodyrnn-render-") as folder:
        midi_path = Path(folder) / "in.mid"
        raw_path = Path(folder) / "out.raw"
        midi_path.write_bytes(sequence_to_midi_bytes(_with_release_marker(ns)))
        command = [
            "fluidsynth", "-ni", "-q",
            "-T", "raw", "-O", "float", "-E", "little",
            "-r", str(sample_rate), "-F", str(raw_path),
            str(soundfont), str(midi_path),
        ]  # fmt: skip
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=60 + 2 * ns.total_time
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RenderError(f"fluidsynth failed: {exc}") from exc
        if result.returncode != 0 or not raw_path.is_file():
            detail = (result.stderr or result.stdout).strip().splitlines()
            reason = detail[-1] if detail else f"exit status {result.returncode}"
            raise RenderError(f"fluidsynth failed: {reason}")
        return np.fromfile(raw_path, dtype="<f4").reshape(-1, 2).astype(np.float64)


def _tinysoundfont():
    try:
        import tinysoundfont
    except ImportError:
        return None
    return tinysoundfont


def _channel_map(ns: NoteSequence) -> dict[tuple[int, int, bool], int]:
    """A MIDI channel per (instrument, program, is_drum) group: drums on channel 10 (index 9),
    the others on the remaining 15 channels in turn (shared beyond 15 groups)."""
    groups = sorted(
        {(n.instrument, n.program, n.is_drum) for n in ns.notes}
        | {(e.instrument, e.program, e.is_drum) for e in [*ns.control_changes, *ns.pitch_bends]}
    )
    melodic = [c for c in range(16) if c != DRUM_CHANNEL]
    channels, next_index = {}, 0
    for group in groups:
        if group[2]:
            channels[group] = DRUM_CHANNEL
        else:
            channels[group] = melodic[next_index % len(melodic)]
            next_index += 1
    return channels


def _render_tinysoundfont(ns: NoteSequence, sample_rate: int, soundfont: Path) -> np.ndarray:
    tsf = _tinysoundfont()
    synth = tsf.Synth(samplerate=sample_rate)
    try:
        sfid = synth.sfload(str(soundfont))
    except Exception as exc:  # tinysoundfont raises its own exception types
        raise RenderError(f"tinysoundfont cannot load soundfont '{soundfont}': {exc}") from exc

    channels = _channel_map(ns)
    for (_, program, is_drum), channel in channels.items():
        try:
            synth.program_select(channel, sfid, 128 if is_drum else 0, program, is_drum)
        except Exception:  # a preset the soundfont lacks: fall back to the bank's first one
            try:
                synth.program_select(channel, sfid, 128 if is_drum else 0, 0, is_drum)
            except Exception as exc:
                raise RenderError(
                    f"soundfont '{soundfont}' has no preset for program {program}: {exc}"
                ) from exc

    # (time, order, action): note-offs sort before note-ons at the same time so a repeated
    # pitch restarts instead of being cut by its own predecessor's release.
    events: list[tuple[float, int, Callable[[], object]]] = []
    for n in ns.notes:
        channel = channels[(n.instrument, n.program, n.is_drum)]
        events.append(
            (n.start_time, 2, lambda c=channel, n=n: synth.noteon(c, n.pitch, n.velocity))
        )
        events.append((n.end_time, 0, lambda c=channel, n=n: synth.noteoff(c, n.pitch)))
    for cc in ns.control_changes:
        channel = channels[(cc.instrument, cc.program, cc.is_drum)]
        events.append(
            (
                cc.time,
                1,
                lambda c=channel, e=cc: synth.control_change(c, e.control_number, e.control_value),
            )
        )
    for bend in ns.pitch_bends:
        channel = channels[(bend.instrument, bend.program, bend.is_drum)]
        events.append((bend.time, 1, lambda c=channel, b=bend: synth.pitchbend(c, b.bend + 8192)))
    events.sort(key=lambda e: (e[0], e[1]))

    total = int(round((ns.total_time + RELEASE_TAIL) * sample_rate))
    chunks, done = [], 0
    for time, _, action in [*events, (ns.total_time + RELEASE_TAIL, 0, lambda: None)]:
        due = min(int(round(time * sample_rate)), total)
        if due > done:
            chunks.append(np.frombuffer(synth.generate_simple(due - done), dtype=np.float32))
            done = due
        action()
    audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    return audio.reshape(-1, 2).astype(np.float64)


# Harmonic amplitudes of the sine fallback's tone: a soft, organ-like timbre.
_HARMONICS = (1.0, 0.4, 0.2, 0.1)
_ATTACK, _DECAY, _SUSTAIN, _RELEASE = 0.01, 0.15, 0.6, 0.12
_DRUM_DECAY = 0.08


def _render_sine(ns: NoteSequence, sample_rate: int, num_samples: int) -> np.ndarray:
    """Additive sines with an attack-decay-sustain-release envelope per pitched note; decaying
    noise bursts (a low thump for kick drums) per drum hit. Mono, float64."""
    out = np.zeros(num_samples, dtype=np.float64)
    rng = np.random.default_rng(0)  # the same file renders to the same bytes
    for n in ns.notes:
        start = max(int(round(n.start_time * sample_rate)), 0)
        if start >= num_samples:
            continue
        loudness = (n.velocity / 127.0) ** 1.5
        if n.is_drum:
            length = min(int(0.3 * sample_rate), num_samples - start)
            t = np.arange(length) / sample_rate
            if n.pitch in (35, 36):  # bass drum: a falling sine
                tone = np.sin(
                    2 * np.pi * (50 * t + 60 * _DRUM_DECAY * (1 - np.exp(-t / _DRUM_DECAY)))
                )
                sound = tone * np.exp(-t / (2 * _DRUM_DECAY))
            else:
                sound = rng.uniform(-1.0, 1.0, length) * np.exp(-t / _DRUM_DECAY) * 0.5
        else:
            held = max(n.end_time - n.start_time, 0.0)
            length = min(int((held + _RELEASE) * sample_rate), num_samples - start)
            t = np.arange(length) / sample_rate
            sound = _tone(n.pitch, t, sample_rate) * _envelope(t, held)
        out[start : start + length] += loudness * sound
    return out


def _tone(pitch: int, t: np.ndarray, sample_rate: int) -> np.ndarray:
    frequency = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
    wave_sum = np.zeros_like(t)
    for k, amplitude in enumerate(_HARMONICS, start=1):
        if k * frequency < sample_rate / 2:  # no aliased partials
            wave_sum += amplitude * np.sin(2 * np.pi * k * frequency * t)
    return wave_sum


def _envelope(t: np.ndarray, held: float) -> np.ndarray:
    attack = np.minimum(t / _ATTACK, 1.0)
    decay = _SUSTAIN + (1.0 - _SUSTAIN) * np.exp(-np.maximum(t - _ATTACK, 0.0) / _DECAY)
    level_at_release = np.interp(held, t, attack * decay) if len(t) else 0.0
    release = level_at_release * np.exp(-np.maximum(t - held, 0.0) / (_RELEASE / 4))
    return np.where(t < held, attack * decay, release)
