"""Sampling speed: argmax continuation with a basic_rnn-shaped 2x512 model, torch vs numpy.

Generates 512 tokens after a 16-step primer with :func:`melodyrnn.generation.sampler.generate`
(batch 1 and batch 64, one-hot feedback) and, as the ceiling, with a framework-free float32
numpy implementation of the same math (preallocated buffers, BLAS matmuls). Each number is
the best of ``--repeats`` runs (the machine is shared). numpy's BLAS thread count is fixed per
process, so the numpy ceiling is also measured in a subprocess with one BLAS thread.

    python bench/bench_sampling.py [--steps 512] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

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


def time_torch(model, batch: int, steps: int, repeats: int, threads: int | None):
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
        )

    once(8)  # warm-up
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = once(steps)
        best = min(best, time.perf_counter() - start)
    return batch * steps / best, result.classes


def time_stepper_loop(model, steps: int, threads: int = 1) -> float:
    """Batch-1 tokens/s of a bare loop over ``model.stepper()`` (no generate() bookkeeping)."""
    import torch

    eye = np.eye(CLASSES, dtype=np.float32)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            step = model.stepper()
            logits, state = model(torch.from_numpy(eye[primer_labels()])[None])
            logits = logits[:, -1]
            start = time.perf_counter()
            for _ in range(steps):
                token = logits.numpy().argmax(axis=1)
                logits, state = step(torch.from_numpy(eye[token]), state)
            return steps / (time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous)


def numpy_default_threads(steps: int, repeats: int) -> dict[int, float]:
    """Run the numpy ceiling in a fresh process with numpy's default BLAS threads."""
    pinned = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    env = {k: v for k, v in os.environ.items() if k not in pinned}
    cmd = [sys.executable, __file__, "--numpy-default-threads", "--steps", str(steps)]
    cmd += ["--repeats", str(repeats)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return {int(k): v for k, v in json.loads(out.strip().splitlines()[-1]).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--numpy-default-threads", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.numpy_default_threads:
        rates = {b: time_numpy(b, args.steps, args.repeats)[0] for b in (1, 64)}
        print(json.dumps(rates))
        return

    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    print(f"cpu: {cpu}, {os.cpu_count()} cores; torch {torch.__version__}, numpy {np.__version__}")
    print(
        f"model: basic_rnn shape, {INPUT} in, {LAYERS}, {CLASSES} classes; primer {PRIMER}, "
        f"{args.steps} argmax steps; best of {args.repeats} interleaved runs"
    )

    model = build_model()
    cases = [("numpy", 1, 1), ("numpy", 64, 1), ("stepper", 1, 1)]
    cases += [("torch", b, t) for b in (1, 64) for t in (1, 2)]
    best = dict.fromkeys(cases, 0.0)
    tokens = {}
    for _ in range(args.repeats):  # interleaved, so load from other processes hits all alike
        for impl, batch, threads in cases:
            if impl == "numpy":
                rate, tokens[impl, batch] = time_numpy(batch, args.steps, 1)
            elif impl == "stepper":
                rate = time_stepper_loop(model, args.steps)
            else:
                rate, tokens[impl, batch, threads] = time_torch(
                    model, batch, args.steps, 1, threads
                )
            best[impl, batch, threads] = max(best[impl, batch, threads], rate)
    numpy_default = numpy_default_threads(args.steps, args.repeats)

    for batch in (1, 64):
        for threads in (1, 2):
            same = np.mean(tokens["torch", batch, threads] == tokens["numpy", batch])
            print(
                f"torch batch {batch:2d}, {threads} thread(s): "
                f"{best['torch', batch, threads]:7.0f} tokens/s (tokens equal to numpy's: "
                f"{same:.0%})"
            )
        if batch == 1:
            rate = best["stepper", 1, 1]
            print(f"torch batch  1, bare model.stepper() loop, 1 thread: {rate:7.0f} tokens/s")
        print(
            f"numpy batch {batch:2d}, 1 BLAS thread:  {best['numpy', batch, 1]:7.0f} tokens/s; "
            f"default BLAS threads: {numpy_default[batch]:7.0f} tokens/s"
        )
    default_1 = best["torch", 1, 1]  # generate() picks 1 thread below 16 rows
    default_64 = best["torch", 64, 2]  # ... and all of torch's threads (here 2) from 16 rows
    print(
        f"batch 1: torch / numpy (1 thread each): {default_1 / best['numpy', 1, 1]:.0%}; "
        f"torch / best numpy: {default_1 / max(best['numpy', 1, 1], numpy_default[1]):.0%} "
        "(target >= 70%)"
    )
    print(
        f"batch 64 / batch 1 (torch, default threads): {default_64 / default_1:.1f}x (target >= 6x)"
    )


if __name__ == "__main__":
    main()
