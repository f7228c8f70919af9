"""Sampling speed: argmax continuation, basic_rnn-shaped 2x512 model: ours, numpy, magenta.js.

Generates 512 tokens after a 16-step primer with :func:`melodyrnn.generation.sampler.generate`
(batch 1 and batch 64, one-hot feedback) with each step backend ("auto", "numpy", "torch")
and, as the ceiling, with a framework-free float32 numpy implementation of the same math
(preallocated buffers, two BLAS matmuls per layer, no bookkeeping). Each number is the best of
``--repeats`` interleaved runs (the machine is shared). numpy's BLAS thread count is pinned to
one in this process (like-for-like with torch at one thread); a subprocess measures the
ceiling and our numpy backend again with numpy's default threads. With ``--node-modules``
(a folder where ``npm install @magenta/music@1.23.1 @tensorflow/tfjs@2.8.6`` ran) the same
weights are written as a TF.js checkpoint and magenta.js ``MusicRNN.continueSequence``
(argmax, tfjs's pure-JS CPU backend) is timed in Node by ``bench/magenta_js_sampling.js``.

    python bench/bench_sampling.py [--steps 512] [--repeats 3] [--node-modules DIR]
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

if __name__ == "__main__" and "--numpy-default-threads" not in sys.argv:
    # numpy's BLAS reads its thread count once, at import: pin it here (like-for-like with
    # torch at one thread); the default-threads ceiling is measured in a subprocess.
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from melodyrnn.generation.options import SamplingOptions

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


def time_numpy(batch: int, steps: int, repeats: int) -> tuple[float, np.ndarray]:
    weights = random_weights()
    numpy_generate(weights, batch, 8)  # warm-up
    best, tokens = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        tokens = numpy_generate(weights, batch, steps)
        best = min(best, time.perf_counter() - start)
    return batch * steps / best, tokens


# ----------------------------------------------------------------------- torch (melodyrnn)


def build_model():
    import torch

    from melodyrnn.models import EventRNN

    model = EventRNN(INPUT, LAYERS, CLASSES)
    with torch.no_grad():
        for name, value in random_weights().items():
            model.get_parameter(name).copy_(torch.from_numpy(value))
    return model.eval()


def time_generate(model, batch: int, steps: int, repeats: int, threads=None, backend="auto"):
    """tokens/s (best of ``repeats``) and tokens of ``generate`` with one step backend."""
    from melodyrnn.generation.sampler import generate

    eye = np.eye(CLASSES, dtype=np.float32)
    labels = primer_labels()

    def feeder(histories, classes):
        return classes, eye[classes]

    def once(n):
        return generate(
            model,
            eye[labels],
            labels,
            feeder,
            n,
            options=SamplingOptions(num_outputs=batch, temperature=None),
            num_threads=threads,
            backend=backend,
        )

    once(8)  # warm-up
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = once(steps)
        best = min(best, time.perf_counter() - start)
    return batch * steps / best, result.classes


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


def time_magenta_js(node_modules: str, steps: int, repeats: int) -> dict:
    """magenta.js MusicRNN.continueSequence (argmax) on the same weights, in Node."""
    script = Path(__file__).with_name("magenta_js_sampling.js")
    with tempfile.TemporaryDirectory() as tmp:
        write_tfjs_checkpoint(Path(tmp))
        env = {**os.environ, "NODE_PATH": node_modules}
        cmd = ["node", str(script), tmp, str(steps), str(repeats)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def default_threads_run(steps: int, repeats: int) -> dict[str, float]:
    """numpy's ceiling and generate()'s numpy backend in a fresh process with numpy's default
    BLAS threads (the bench process pins them to one)."""
    pinned = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    env = {k: v for k, v in os.environ.items() if k not in pinned}
    cmd = [sys.executable, __file__, "--numpy-default-threads", "--steps", str(steps)]
    cmd += ["--repeats", str(repeats)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


CASES = [  # (label, implementation, batch, torch threads, generate backend)
    ("numpy ceiling", "numpy", 1, None, None),
    ("generate auto", "generate", 1, None, "auto"),
    ("generate torch", "generate", 1, 1, "torch"),
    ("numpy ceiling", "numpy", 64, None, None),
    ("generate numpy", "generate", 64, None, "numpy"),
    ("generate torch", "generate", 64, 1, "torch"),
    ("generate auto", "generate", 64, None, "auto"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--node-modules",
        help="node_modules folder with @magenta/music 1.23.1 and @tensorflow/tfjs 2.8.6: also "
        "time magenta.js in Node on the same weights",
    )
    parser.add_argument("--numpy-default-threads", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.numpy_default_threads:
        model = build_model()
        rates = {}
        for _ in range(args.repeats):
            for batch in (1, 64):
                numpy_rate = time_numpy(batch, args.steps, 1)[0]
                ours = time_generate(model, batch, args.steps, 1, None, "numpy")[0]
                rates[f"numpy {batch}"] = max(rates.get(f"numpy {batch}", 0.0), numpy_rate)
                rates[f"ours {batch}"] = max(rates.get(f"ours {batch}", 0.0), ours)
        print(json.dumps(rates))
        return

    import torch

    torch.set_num_threads(os.cpu_count() or 1)  # as in a process without the BLAS pin above
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    print(f"cpu: {cpu}, {os.cpu_count()} cores; torch {torch.__version__}, numpy {np.__version__}")
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(
        f"model: basic_rnn shape, {INPUT} in, {LAYERS}, {CLASSES} classes; primer {PRIMER}, "
        f"{args.steps} argmax steps; best of {args.repeats} interleaved runs"
    )

    model = build_model()
    best = {case: 0.0 for case in CASES}
    tokens = {}
    for _ in range(args.repeats):  # interleaved, so load from other processes hits all alike
        for case in CASES:
            _, impl, batch, threads, backend = case
            if impl == "numpy":
                rate, tokens[case] = time_numpy(batch, args.steps, 1)
            else:
                rate, tokens[case] = time_generate(model, batch, args.steps, 1, threads, backend)
            best[case] = max(best[case], rate)
    default = default_threads_run(args.steps, args.repeats)
    js = time_magenta_js(args.node_modules, args.steps, args.repeats) if args.node_modules else None

    print("| case | batch | torch threads | tokens/s | tokens equal to numpy's |")
    print("|---|---|---|---|---|")
    for case in CASES:
        label, impl, batch, threads, backend = case
        numpy_tokens = tokens["numpy ceiling", "numpy", batch, None, None]
        same = np.mean(tokens[case] == numpy_tokens)
        if backend == "auto":
            threads = "1" if batch < 16 else str(torch.get_num_threads())
            label += f" (= {'numpy' if batch < 16 else 'torch'})"
        shown = threads if impl == "generate" and backend != "numpy" else "-"
        print(f"| {label} | {batch} | {shown} | {best[case]:.0f} | {same:.0%} |")
    print(
        "numpy's default BLAS threads (subprocess): "
        + ", ".join(f"{k}: {v:.0f}" for k, v in default.items())
    )
    ours_1 = best["generate auto", "generate", 1, None, "auto"]
    ours_64 = best["generate auto", "generate", 64, None, "auto"]
    numpy_1 = best["numpy ceiling", "numpy", 1, None, None]
    print(f"batch 1, generate / numpy ceiling, 1 BLAS thread each: {ours_1 / numpy_1:.2f}x")
    print(
        "batch 1, generate / numpy ceiling, default BLAS threads: "
        f"{default['ours 1'] / default['numpy 1']:.2f}x (target >= 0.9x)"
    )
    print(f"batch 64 / batch 1 (generate, auto): {ours_64 / ours_1:.1f}x (target >= 6x)")
    best_64 = max(ours_64, best["generate numpy", "generate", 64, None, "numpy"])
    print(f"batch 64 / batch 1 (best batch-64 backend): {best_64 / ours_1:.1f}x")
    if js is not None:
        print(
            f"magenta.js {js['tfjs']} in Node ({js['backend']} backend): "
            f"{js['tokens_per_s']:.0f} tokens/s (runs: "
            f"{', '.join(f'{v:.0f}' for v in js['runs'])}); generate batch 1 / magenta.js: "
            f"{ours_1 / js['tokens_per_s']:.1f}x (target >= 40x)"
        )
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
