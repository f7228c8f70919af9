"""Live timing of ``melodyrnn jam`` on real JACK MIDI ports: latency and jitter.

A musician (this process) plays into the jam's input port and records its output port, with
``melodyrnn jam`` running as a subprocess, as a user would run it. Two sessions:

1. **calls**: ``--calls`` two-bar phrases (D major, quarters and eighths), each answered with
   ``--bars`` bars; the musician plays the next call one bar after each answer, on the grid.
2. **loop**: one call, then ``--loop-seconds`` of the model answering its own answers (the
   next answer is generated while the current one is sounding, so the scheduler sends notes
   while the model runs in the worker thread).

Measured:

* **phrase end -> first answer note**: from the moment the call ended (the jam's clock: one
  beat of silence after the last note-off) to the answer's first bar line, and to its first
  note as it arrived at the musician's port; and the **ready margin**: how long before its bar
  line each answer was ready (negative would be late; late answers are also counted);
* **jitter**: every answer note-on as it arrived at the synth port, against the 16th-note grid
  started by the musician's first note (the constant transport delay, the median, removed);
  and the scheduler's own lateness (send time minus scheduled time, from ``--stats``).

The model is ``--model`` or, by default, a basic_rnn-shaped 2x256 LSTM with random weights
(as slow as a trained one). Needs a JACK server (``jackd -d dummy -r 48000 -p 128``).

    python bench/bench_jam.py [--calls 6] [--bars 4] [--loop-seconds 40] [--model PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import mido

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QPM = 120.0
BEAT = 60.0 / QPM
BAR = 4 * BEAT
SIXTEENTH = BEAT / 4
# Two bars: (pitch, start beat, length in beats); D major.
CALLS = [
    [(62, 0, 1), (64, 1, 1), (66, 2, 0.5), (67, 2.5, 0.5), (69, 3, 1), (71, 4, 1.5),
     (69, 5.5, 0.5), (66, 6, 1.8)],
    [(69, 0, 0.5), (71, 0.5, 0.5), (73, 1, 1), (74, 2, 2), (71, 4, 1), (69, 5, 1), (67, 6, 1.8)],
    [(66, 0, 1.5), (64, 1.5, 0.5), (62, 2, 1), (64, 3, 1), (66, 4, 0.5), (69, 4.5, 0.5),
     (74, 5, 2.8)],
]  # fmt: skip


def wait_until(t: float) -> None:
    while (left := t - time.monotonic()) > 0:
        time.sleep(min(left, 0.001))


def percentile(values, q):
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[k]


def build_model(folder: Path) -> str:
    import torch

    from melodyrnn.generation.music_rnn import MusicRNN
    from melodyrnn.models.configs import get_config
    from melodyrnn.models.rnn import EventRNN

    config = get_config("basic_rnn", layer_sizes=[256, 256])
    torch.manual_seed(0)
    MusicRNN(EventRNN.from_config(config), config).save(folder)
    return str(folder)


class Musician:
    def __init__(self, system, tag):
        client = f"jambench{os.getpid()}{tag}"
        self.keys = system.backend.open_output("keys", virtual=True, client_name=client)
        self.synth = system.backend.open_input(
            "synth", virtual=True, client_name=client + "s", callback=self.hear
        )
        self.keys_name, self.synth_name = f"{client}:keys", f"{client}s:synth"
        self.heard: list[tuple[float, mido.Message]] = []
        self.sent_offs: list[float] = []

    def hear(self, message):
        self.heard.append((time.monotonic(), message))

    def play(self, call, start):
        events = []
        for pitch, beat, length in call:
            events.append((start + beat * BEAT, mido.Message("note_on", note=pitch, velocity=90)))
            events.append((start + (beat + length) * BEAT, mido.Message("note_off", note=pitch)))
        for t, message in sorted(events, key=lambda e: (e[0], e[1].type != "note_off")):
            wait_until(t)
            self.keys.send(message)
        self.sent_offs.append(time.monotonic())

    def close(self):
        self.keys.close()
        self.synth.close()


def jam(musician, model, stats, log, *extra):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "melodyrnn",
            "jam",
            "--api",
            "jack",
            "--input",
            musician.keys_name,
            "--output",
            musician.synth_name,
            "--model",
            model,
            "--qpm",
            str(QPM),
            "--silence-beats",
            "1",
            "--seed",
            "1",
            "--stats",
            str(stats),
            "--log",
            str(log),
            "--force",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines = []
    ready = threading.Event()

    def read():
        for line in proc.stdout:
            lines.append(line.rstrip())
            if "listening to" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(180):
        proc.kill()
        raise SystemExit(f"the jam did not start: {lines}")
    time.sleep(0.5)
    return proc, lines


def answer_onsets(musician, origin):
    """Arrival - grid time of every answer note-on (channel 2), seconds."""
    out = []
    for t, m in musician.heard:
        if m.type == "note_on" and m.velocity and m.channel == 1:
            grid = origin + round((t - origin) / SIXTEENTH) * SIXTEENTH
            out.append(t - grid)
    return out


def session_calls(system, model, folder, calls, bars, phrase_bars):
    # Silence: the call ends a beat after its last note, in bar 3, and is answered on bar 4;
    # --phrase-bars 2: it ends (the lead) before bar 3 and is answered on bar 3.
    end = ["--phrase-bars", "2", "--silence-beats", "0"] if phrase_bars else []
    answer_offset = 2 if phrase_bars else 3
    musician = Musician(system, "c")
    proc, lines = jam(
        musician, model, folder / "calls.json", folder / "calls.mid", "--bars", str(bars), *end
    )
    origin = time.monotonic() + 0.3
    cycle = answer_offset + bars + 1  # call (and the bar the silence ends in), answer, a rest
    firsts = []
    for k in range(calls):
        start = origin + k * cycle * BAR
        musician.play(CALLS[k % len(CALLS)], start)
        answer_bar = start + answer_offset * BAR
        wait_until(answer_bar + bars * BAR + 0.3)
        onsets = [
            t
            for t, m in musician.heard
            if m.type == "note_on" and m.velocity and m.channel == 1 and t >= start
        ]
        firsts.append(min(onsets) - musician.sent_offs[-1] if onsets else None)
    proc.send_signal(signal.SIGINT)
    proc.wait(30)
    jitter = answer_onsets(musician, origin)
    musician.close()
    return json.loads((folder / "calls.json").read_text()), jitter, firsts, lines


def session_loop(system, model, folder, seconds, bars):
    musician = Musician(system, "l")
    proc, lines = jam(
        musician,
        model,
        folder / "loop.json",
        folder / "loop.mid",
        "--bars",
        str(bars),
        "--loop",
        "--no-echo",
    )
    origin = time.monotonic() + 0.3
    musician.play(CALLS[0], origin)
    wait_until(origin + 3 * BAR + seconds)
    proc.send_signal(signal.SIGINT)
    proc.wait(30)
    jitter = answer_onsets(musician, origin)
    musician.close()
    return json.loads((folder / "loop.json").read_text()), jitter, lines


def summary(name, stats, jitter):
    answers = stats["answers"]
    offset = statistics.median(jitter) if jitter else 0.0
    dev = [abs(j - offset) * 1000 for j in jitter]
    late = [x * 1000 for x in stats["lateness"].get("answer", [])]
    latency = [a["start"] - a["ended_at"] for a in answers]
    margin = [a["start"] - a["ready_at"] for a in answers]
    gen = [a["generate_seconds"] * 1000 for a in answers]
    print(
        f"\n{name}: {len(answers)} answers ({sum(a['late'] for a in answers)} late), "
        f"{len(jitter)} answer notes heard"
    )
    print(
        f"  generate one answer: median {statistics.median(gen):.0f} ms, max {max(gen):.0f} ms"
        f" (warm-up {stats['warmup_generate_seconds'] * 1000:.0f} ms,"
        f" lead {stats['lead'] * 1000:.0f} ms)"
    )
    print(
        f"  call end -> answer bar line: min {min(latency):.3f} s, median "
        f"{statistics.median(latency):.3f} s, max {max(latency):.3f} s"
    )
    print(
        f"  ready before the bar line: min {min(margin) * 1000:.0f} ms, median "
        f"{statistics.median(margin) * 1000:.0f} ms"
    )
    print(
        f"  scheduler lateness (send - schedule), answer messages:"
        f" p50 {percentile(late, 50):.3f} ms,"
        f" p99 {percentile(late, 99):.3f} ms, max {max(late):.3f} ms (n={len(late)})"
    )
    print(
        f"  at the synth port vs the 16th grid: transport delay (median) {offset * 1000:.2f} ms; "
        f"jitter p50 {percentile(dev, 50):.2f} ms, p99 {percentile(dev, 99):.2f} ms, "
        f"max {max(dev):.2f} ms"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=6)
    parser.add_argument("--bars", type=int, default=4)
    parser.add_argument("--loop-seconds", type=float, default=40.0)
    parser.add_argument("--model")
    parser.add_argument(
        "--phrase-bars", action="store_true", help="end calls after 2 bars, not by silence"
    )
    args = parser.parse_args()
    from melodyrnn.live.ports import midi_system

    system = midi_system("jack")
    print(f"load average before: {os.getloadavg()}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = args.model or build_model(folder / "basic_rnn_2x256")
        stats, jitter, firsts, lines = session_calls(
            system, model, folder, args.calls, args.bars, args.phrase_bars
        )
        how = "--phrase-bars 2" if args.phrase_bars else "--silence-beats 1"
        summary(
            f"calls ({args.calls} x 2 bars, {how}, answered with {args.bars} bars)", stats, jitter
        )
        heard = [f for f in firsts if f is not None]
        print(
            f"  last note-off sent -> first answer note heard: "
            f"{', '.join(f'{f:.3f}' for f in heard)} s"
        )
        if args.loop_seconds > 0:
            stats, jitter, _ = session_loop(system, model, folder, args.loop_seconds, args.bars)
            summary(f"loop ({args.loop_seconds:g} s of answers to answers)", stats, jitter)
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
