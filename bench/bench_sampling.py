"""Sampling speed: argmax continuation, basic_rnn-shaped 2x512 model: ours, numpy, magenta.js.

Generates tokens after a 16-step primer with :func:`melodyrnn.generation.sampler.generate`
(batch 1 and batch 64, one-hot feedback) with each step backend ("auto" = numpy on the CPU,
and "torch") and, as the ceiling, with a framework-free float32 numpy implementation of the
same math (preallocated buffers, two BLAS matmuls per layer, no bookkeeping), at 1 and 2
threads (BLAS threads set with threadpoolctl, torch's with ``torch.set_num_threads``). With
``--node-modules`` (a folder where ``npm install @magenta/music@1.23.1 @tensorflow/tfjs@2.8.6``
ran) the same weights are written as a TF.js checkpoint and magenta.js
``MusicRNN.continueSequence`` (argmax, tfjs's pure-JS CPU backend) is timed in Node by
``bench/magenta_js_sampling.js``, once per round.

All cases run once per round, ``--repeats`` rounds, interleaved; each number is the best
round. Every run is timed twice: wall clock, and the CPU time of this process (of the Node
process for magenta.js). On a shared machine the wall clock of a one-thread run also counts
the time other processes hold its core; its CPU time does not, so for one-thread cases the
ratio of CPU-time rates is the steadier one (two-thread runs have only the wall clock).

    python bench/bench_sampling.py [--steps 512] [--steps-64 128] [--repeats 3]
                                   [--node-modules DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from melodyrnn.generation.options import SamplingOptions  # noqa: E402
from melodyrnn.models.numpy_step import blas_threads  # noqa: E402

INPUT = CLASSES = 38
LAYERS = [512, 512]
PRIMER = 16


def random_weights(seed: int = 0) -> dict[str, np.ndarray]:
    """TF-layout weights (glorot-uniform-like) shared by both implementations."""
    rng = np.random.default_rng(seed)
    weights = {}
    size_in = INPUT
    for k, h in enumerate(LAYERS):
        limit = np.sqrt(6.0 / (size_in + h + 4 * h))
        weights[f"cells.{k}.kernel"] = rng.uniform(-limit, limit, (size_in + h, 4 * h))
        weights[f"cells.{k}.bias"] = rng.uniform(-0.1, 0.1, 4 * h)
        size_in = h
    weights["logits.weights"] = rng.uniform(-0.3, 0.3, (LAYERS[-1], CLASSES))
    weights["logits.biases"] = rng.uniform(-0.1, 0.1, CLASSES)
    return {k: v.astype(np.float32) for k, v in weights.items()}


def primer_labels() -> np.ndarray:
    return (np.arange(PRIMER) * 5) % CLASSES


# ----------------------------------------------------------------------- numpy ceiling


def numpy_generate(weights: dict[str, np.ndarray], batch: int, steps: int) -> np.ndarray:
    """Argmax continuation in plain float32 numpy: the same math as EventRNN.step."""
    kernels, biases = [], []
    size_in = INPUT
    for k, h in enumerate(LAYERS):
        kernel = weights[f"cells.{k}.kernel"]
        bias = weights[f"cells.{k}.bias"].copy()
        bias[2 * h : 3 * h] += 1.0  # forget bias
        kernels.append((kernel[:size_in], kernel[size_in:]))
        biases.append(bias)
        size_in = h
    w_out, b_out = weights["logits.weights"], weights["logits.biases"]
    c = [np.zeros((batch, h), np.float32) for h in LAYERS]
    h = [np.zeros((batch, h), np.float32) for h in LAYERS]
    z = [np.empty((batch, 4 * n), np.float32) for n in LAYERS]
    tmp = [np.empty((batch, 4 * n), np.float32) for n in LAYERS]
    x = np.zeros((batch, INPUT), np.float32)
    logits = np.empty((batch, CLASSES), np.float32)
    rows = np.arange(batch)
    out = np.empty((batch, steps), np.int64)

    def feed(labels):
        x.fill(0.0)
        x[rows, labels] = 1.0
        for k, n in enumerate(LAYERS):
            inp = x if k == 0 else h[k - 1]
            np.matmul(inp, kernels[k][0], out=z[k])
            np.matmul(h[k], kernels[k][1], out=tmp[k])
            z[k] += tmp[k]
            z[k] += biases[k]
            # sigmoid(v) = 1 / (1 + exp(-v)) on all four blocks, tanh on j.
            s = tmp[k]
            np.negative(z[k], out=s)
            np.exp(s, out=s)
            s += 1.0
            np.reciprocal(s, out=s)
            i, f, o = s[:, :n], s[:, 2 * n : 3 * n], s[:, 3 * n :]
            j = np.tanh(z[k][:, n : 2 * n])
            c[k] *= f
            c[k] += i * j
            np.multiply(np.tanh(c[k]), o, out=h[k])
        np.matmul(h[-1], w_out, out=logits)
        np.add(logits, b_out, out=logits)

    for label in primer_labels():
        feed(np.full(batch, label))
    for t in range(steps):
        out[:, t] = logits.argmax(axis=1)
        if t + 1 < steps:
            feed(out[:, t])
    return out


def timed(fn):
    """``(result, wall seconds, CPU seconds of this process)`` of ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def run_numpy(weights, batch: int, steps: int, threads: int):
    with blas_threads(threads):
        return timed(lambda: numpy_generate(weights, batch, steps))


# ----------------------------------------------------------------------- melodyrnn


def build_model():
    import torch

    from melodyrnn.models import EventRNN

    model = EventRNN(INPUT, LAYERS, CLASSES)
    with torch.no_grad():
        for name, value in random_weights().items():
            model.get_parameter(name).copy_(torch.from_numpy(value))
    return model.eval()


def run_generate(model, batch: int, steps: int, threads: int, backend: str):
    from melodyrnn.generation.sampler import generate

    eye = np.eye(CLASSES, dtype=np.float32)
    labels = primer_labels()

    def feeder(histories, classes):
        return classes, eye[classes]

    def once():
        options = SamplingOptions(num_outputs=batch, temperature=None)
        return generate(
            model, eye[labels], labels, feeder, steps, options, num_threads=threads,
            backend=backend,
        ).classes  # fmt: skip

    return timed(once)


def write_tfjs_checkpoint(folder: Path) -> None:
    """The bench's random weights as a magenta.js MusicRNN checkpoint (MelodyConverter 48..83)."""
    names = {
        "cells.0.kernel": "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel",
        "cells.0.bias": "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias",
        "cells.1.kernel": "rnn/multi_rnn_cell/cell_1/basic_lstm_cell/kernel",
        "cells.1.bias": "rnn/multi_rnn_cell/cell_1/basic_lstm_cell/bias",
        "logits.weights": "fully_connected/weights",
        "logits.biases": "fully_connected/biases",
    }
    weights = random_weights()
    entries, data = [], b""
    for ours, theirs in names.items():
        value = weights[ours]
        entries.append({"name": theirs, "shape": list(value.shape), "dtype": "float32"})
        data += value.astype("<f4").tobytes()
    (folder / "group1-shard1of1").write_bytes(data)
    manifest = [{"paths": ["group1-shard1of1"], "weights": entries}]
    (folder / "weights_manifest.json").write_text(json.dumps(manifest))
    config = {
        "type": "MusicRNN",
        "dataConverter": {"type": "MelodyConverter", "args": {"minPitch": 48, "maxPitch": 83}},
    }
    (folder / "config.json").write_text(json.dumps(config))


def run_magenta_js(node_modules: str, folder: Path, steps: int) -> dict:
    """One timed magenta.js MusicRNN.continueSequence (argmax) in Node, after a warm-up."""
    script = Path(__file__).with_name("magenta_js_sampling.js")
    env = {**os.environ, "NODE_PATH": node_modules}
    cmd = ["node", str(script), str(folder), str(steps), "1"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# (label, implementation, batch, threads, generate backend)
CASES = [
    ("numpy ceiling", "numpy", 1, 1, None),
    ("numpy ceiling", "numpy", 1, 2, None),
    ("generate, auto (numpy)", "generate", 1, 1, "auto"),
    ("generate, auto (numpy)", "generate", 1, 2, "auto"),
    ("generate, torch", "generate", 1, 1, "torch"),
    ("numpy ceiling", "numpy", 64, 1, None),
    ("numpy ceiling", "numpy", 64, 2, None),
    ("generate, auto (numpy)", "generate", 64, 1, "auto"),
    ("generate, auto (numpy)", "generate", 64, 2, "auto"),
    ("generate, torch", "generate", 64, 1, "torch"),
    ("generate, torch", "generate", 64, 2, "torch"),
]
BATCH_1 = ("generate, auto (numpy)", "generate", 1, 1, "auto")  # generate()'s default at 1 row
BATCH_64 = ("generate, auto (numpy)", "generate", 64, 2, "auto")  # ... at 64 rows (2 cores)
CEILING_1 = ("numpy ceiling", "numpy", 1, 1, None)


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=512, help="tokens per run at batch 1")
    parser.add_argument("--steps-64", type=int, default=128, help="tokens per row at batch 64")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--node-modules",
        help="node_modules folder with @magenta/music 1.23.1 and @tensorflow/tfjs 2.8.6: also "
        "time magenta.js in Node on the same weights",
    )
    args = parser.parse_args()

    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    print(f"cpu: {cpu}, {os.cpu_count()} cores; torch {torch.__version__}, numpy {np.__version__}")
    print(f"load average before: {load()}")
    print(
        f"model: basic_rnn shape, {INPUT} in, {LAYERS}, {CLASSES} classes; primer {PRIMER}; "
        f"{args.steps} argmax tokens at batch 1, {args.steps_64} per row at batch 64; best of "
        f"{args.repeats} interleaved rounds"
    )
    model, weights = build_model(), random_weights()
    for case in CASES:  # warm-up (first calls allocate, fault pages in, start thread pools)
        _, impl, batch, threads, backend = case
        if impl == "numpy":
            run_numpy(weights, batch, 8, threads)
        else:
            run_generate(model, batch, 8, threads, backend)
    wall = dict.fromkeys(CASES, 0.0)
    cpu_rate = dict.fromkeys(CASES, 0.0)
    tokens, js_runs = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        if args.node_modules:
            write_tfjs_checkpoint(Path(tmp))
        for round_ in range(args.repeats):
            rates = []
            for case in CASES:
                _, impl, batch, threads, backend = case
                steps = args.steps if batch == 1 else args.steps_64
                if impl == "numpy":
                    out, seconds, cpu_seconds = run_numpy(weights, batch, steps, threads)
                else:
                    out, seconds, cpu_seconds = run_generate(model, batch, steps, threads, backend)
                tokens[case] = out
                wall[case] = max(wall[case], batch * steps / seconds)
                cpu_rate[case] = max(cpu_rate[case], batch * steps / cpu_seconds)
                rates.append(f"{batch * steps / seconds:.0f}")
            if args.node_modules:
                js_runs.append(run_magenta_js(args.node_modules, Path(tmp), args.steps))
                rates.append(f"magenta.js {js_runs[-1]['tokens_per_s']:.0f}")
            print(f"round {round_ + 1}, tokens/s (table order): {', '.join(rates)}; load {load()}")
            sys.stdout.flush()

    print("| case | batch | threads | tokens/s (wall) | tokens/CPU-s | tokens equal to numpy's |")
    print("|---|---|---|---|---|---|")
    for case in CASES:
        label, impl, batch, threads, backend = case
        same = np.mean(tokens[case] == tokens["numpy ceiling", "numpy", batch, 1, None])
        cpu_text = f"{cpu_rate[case]:.0f}" if threads == 1 else "-"
        print(f"| {label} | {batch} | {threads} | {wall[case]:.0f} | {cpu_text} | {same:.0%} |")
    if js_runs:
        js_wall = max(run["tokens_per_s"] for run in js_runs)
        js_cpu = max(run["cpu_tokens_per_s"] for run in js_runs)
        print(
            f"| magenta.js {js_runs[0]['tfjs']} in Node ({js_runs[0]['backend']}) | 1 | 1 | "
            f"{js_wall:.0f} | {js_cpu:.0f} | - |"
        )

    def ratio(a, b):
        return f"{wall[a] / wall[b]:.2f}x wall, {cpu_rate[a] / cpu_rate[b]:.2f}x CPU time"

    best_numpy_1 = max(wall[CEILING_1], wall["numpy ceiling", "numpy", 1, 2, None])
    print(f"batch 1, generate / numpy ceiling (1 thread each): {ratio(BATCH_1, CEILING_1)}")
    print(f"batch 1, generate / best numpy ceiling: {wall[BATCH_1] / best_numpy_1:.2f}x wall")
    print(f"batch 64 (2 threads) / batch 1: {wall[BATCH_64] / wall[BATCH_1]:.1f}x wall (target 6x)")
    if js_runs:
        print(
            f"batch 1, generate / magenta.js: {wall[BATCH_1] / js_wall:.1f}x wall, "
            f"{cpu_rate[BATCH_1] / js_cpu:.1f}x CPU time (target 40x)"
        )
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
