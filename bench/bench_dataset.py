"""Build sharded datasets of growing size; print files/s and the peak memory of the build.

    python bench/make_folk_corpus.py --copies 10     # data/folk_midi_x10: 44,350 files
    python bench/bench_dataset.py                     # 4k, 20k and 40k files, 2 workers
    python bench/bench_dataset.py --sizes 40000 --jobs 2

Each size runs ``melodyrnn dataset`` in a fresh process on the first N files of the corpus (a
folder of symbolic links), so the numbers are of the command a user runs. Memory: the peak
resident set of the main process (VmHWM) and of the largest worker (getrusage of the children),
and the peak of the whole process tree sampled every 50 ms (main process + workers, the figure
that must stay under 1 GB). A build that is interrupted and resumed is timed as well (--resume).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tree_rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants, KiB."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return total


def vm_hwm_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run(command: list[str], env: dict) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    peak_tree = peak_main = 0
    while proc.poll() is None:
        peak_tree = max(peak_tree, tree_rss_kib(proc.pid))
        peak_main = max(peak_main, vm_hwm_kib(proc.pid))
        time.sleep(0.05)
    seconds = time.perf_counter() - t0
    out = proc.stdout.read().decode()
    if proc.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{out}")
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "seconds": seconds,
        "tree_mib": peak_tree / 1024,
        "main_mib": peak_main / 1024,
        "largest_child_mib": max(worker, before) / 1024,
        "out": out,
    }


TRAIN = """
import sys, time
from melodyrnn.training.train import Trainer, TrainOptions
t0 = time.perf_counter()
options = TrainOptions(max_steps=int(sys.argv[3]), progress=False, threads=2, max_eval_steps=2000)
trainer = Trainer(sys.argv[1], sys.argv[2], "basic_rnn", {"batch_size": 16}, options)
t1 = time.perf_counter()
trainer.train()
t2 = time.perf_counter()
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]
print(t1 - t0, t2 - t1, trainer.train_data.shards_read, len(trainer.train_data), int(hwm) / 1024)
"""


def train(dataset: Path, run: Path, steps: int, env: dict) -> None:
    """Stream ``steps`` basic_rnn steps (batch 16: the batch's autograd graph, the same for any
    dataset, stays small beside the data) from the shards: time and peak memory."""
    out = (
        subprocess.run(
            [sys.executable, "-c", TRAIN, str(dataset), str(run), str(steps)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.splitlines()[-1]
        .split()
    )
    init, seconds, shards, pieces, mib = (float(v) for v in out)
    print(
        f"{'':>7} train basic_rnn: {pieces:.0f} pieces indexed in {init:.1f} s; {steps} steps "
        f"in {seconds:.1f} s ({steps / seconds:.2f} steps/s), {shards:.0f} shard reads, "
        f"peak {mib:.0f} MiB",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default=str(ROOT / "data" / "folk_midi_x10"))
    parser.add_argument("--sizes", default="4000,20000,40000")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--files-per-shard", type=int, default=500)
    parser.add_argument("--resume", action="store_true", help="also: kill at half, resume")
    parser.add_argument(
        "--train-steps", type=int, default=0, help="also: train basic_rnn this many steps"
    )
    args = parser.parse_args()
    files = sorted(str(p) for p in Path(args.corpus).rglob("*.mid"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    print(f"corpus {args.corpus}: {len(files)} files; jobs {args.jobs}")
    print(
        f"{'files':>7} {'seconds':>8} {'files/s':>8} {'tree MiB':>9} {'main MiB':>9} "
        f"{'shards':>6} {'melodies':>9}"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "midi"
            for i, path in enumerate(files[:size]):
                link = src / f"{i // 1000:03d}" / f"{i:06d}.mid"
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(path)
            command = [
                sys.executable,
                "-m",
                "melodyrnn",
                "dataset",
                str(src),
                str(Path(tmp) / "ds"),
                "--jobs",
                str(args.jobs),
                "--files-per-shard",
                str(args.files_per_shard),
            ]
            r = run(command, env)
            melodies = next(
                (line.split()[1] for line in r["out"].splitlines() if line.startswith("melodies:")),
                "?",
            )
            shards = len(list((Path(tmp) / "ds" / "shards").iterdir()))
            print(
                f"{size:>7} {r['seconds']:>8.1f} {size / r['seconds']:>8.0f} "
                f"{r['tree_mib']:>9.0f} {r['main_mib']:>9.0f} {shards:>6} {melodies:>9}",
                flush=True,
            )
            if args.train_steps:
                train(Path(tmp) / "ds", Path(tmp) / "run", args.train_steps, env)
            if args.resume:
                shutil.rmtree(Path(tmp) / "ds")
                proc = subprocess.Popen(
                    command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                time.sleep(r["seconds"] / 2)
                proc.kill()
                proc.wait()
                again = run(command, env)
                print(
                    f"{'':>7} killed after {r['seconds'] / 2:.1f} s, resumed in "
                    f"{again['seconds']:.1f} s ({again['out'].splitlines()[0]})",
                    flush=True,
                )


if __name__ == "__main__":
    main()
