"""Fuzz the MIDI reader and the melody pipeline: 100,000+ seeded cases, a time limit on each.

Case ``i`` of ``--seed`` is tests/midi_fuzz.py's ``mutate(i, seed, corpus())`` (heavy: the
"many tracks" mutations keep their notes, floods go up to the caps): byte, chunk and event
level mutations of the MIDI files of tests/fixtures and midi_samples. Each case goes through
``run_case``: the default reader, quantization and ``extract_melodies``, the dataset pipeline
(split on time changes, quantize, extract, squash), writing the sequence back as MIDI and
reading that again; inputs under 256 KiB are also read with the reference reader
(mido + pretty_midi), whose outcome, sequence or error message, the default reader must give.

Cases run in ``--workers`` processes (started fresh, ``spawn``); a case still running after
``--timeout`` seconds has its worker killed and counts as a timeout. Each worker's address
space is capped (``--memory-gb``), so a runaway case fails there (as a raw MemoryError)
instead of taking the machine down; its peak resident memory (VmHWM) is reported after every
case, and a worker whose peak passed 512 MiB is replaced, so that the next cases are measured
afresh. The summary gives the outcomes, every raw exception (a bug), every difference between
the readers or between a written file and its reading, the cases over 2 s (by stage) and the
peak resident memory of any case.

    python bench/fuzz.py                          # 100,000 cases of seed 1 on 2 workers
    python bench/fuzz.py --cases 20000 --seed 7
    python bench/fuzz.py --seed 1 --case 1475 --show   # one case, in this process, traced
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import multiprocessing
import os
import resource
import sys
import time
from multiprocessing.connection import wait
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import midi_fuzz  # noqa: E402

SLOW_SECONDS = 2.0
REPLACE_ABOVE_KIB = 512 * 1024


def peak_kib() -> int:
    """This process's peak resident memory (VmHWM, which exec resets), in KiB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def worker(connection, stage, seed: int, heavy: bool, compare: bool, memory_gb: float) -> None:
    """Run the cases the parent sends; answer each with its outcome (``stage``: a shared
    number, the index in midi_fuzz.STAGES of the stage running, for the parent to read)."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    limit = int(memory_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    pool = midi_fuzz.corpus()
    while True:
        case = connection.recv()
        if case is None:
            return
        data = midi_fuzz.mutate(case, seed, pool, heavy)
        started = time.perf_counter()
        outcome = midi_fuzz.run_case(data, compare, on_stage=stage_setter(stage))
        seconds = time.perf_counter() - started
        connection.send(
            (case, len(data), seconds, outcome.verdict, outcome.raw, outcome.mismatch,
             outcome.round_trip, outcome.seconds, outcome.cpu, outcome.notes, peak_kib())
        )  # fmt: skip


def stage_setter(stage):
    def set_stage(index: int) -> None:
        stage.value = index

    return set_stage


def peak_kib_of(pid: int) -> int:
    """The peak resident memory (VmHWM) of process ``pid`` in KiB, 0 if unknown."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Worker:
    def __init__(self, context, args):
        self.connection, child = context.Pipe()
        self.stage = context.Value("i", 0, lock=False)
        self.process = context.Process(
            target=worker,
            args=(child, self.stage, args.seed, not args.light, not args.no_compare,
                  args.memory_gb),
            daemon=True,
        )  # fmt: skip
        self.process.start()
        child.close()
        self.case, self.started = None, 0.0

    def send(self, case: int) -> None:
        self.case, self.started = case, time.monotonic()
        self.connection.send(case)

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            with contextlib.suppress(OSError):
                self.connection.send(None)
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def run(args) -> int:
    context = multiprocessing.get_context("spawn")
    workers = [Worker(context, args) for _ in range(args.workers)]
    verdicts = collections.Counter()
    problems = collections.defaultdict(list)  # kind -> [(case, text)]
    slow = []  # (case, seconds, slowest stage, size, notes)
    began, load_before = time.monotonic(), os.getloadavg()
    try:
        results = _loop(args, context, workers, verdicts, problems, slow)
    finally:  # a bench stopped half-way (Ctrl-C, a kill) leaves no worker behind
        for w in workers:
            w.stop(kill=True)
    peak, biggest, compared, done = results
    wall = time.monotonic() - began
    children_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    report(args, verdicts, problems, slow, peak, biggest, compared, done, wall, children_kib)
    print(
        "load average (1/5/15 min): before "
        + " ".join(f"{x:.2f}" for x in load_before)
        + ", after "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    return 1 if problems["raw"] or problems["mismatch"] or problems["timeout"] else 0


def _loop(args, context, workers, verdicts, problems, slow):
    """Hand out the cases until every one has an outcome; (peak, biggest, compared, done)."""
    pending = iter(range(args.start, args.start + args.cases))
    peak, biggest, compared, done = (0, None, 0), 0, 0, 0
    began = time.monotonic()
    for w in workers:
        w.send(next(pending))
    while any(w.case is not None for w in workers):
        busy = [w for w in workers if w.case is not None]
        ready = wait([w.connection for w in busy], timeout=0.5)
        now = time.monotonic()
        for index, w in enumerate(workers):
            if w.case is None:
                continue
            if w.connection in ready:
                try:
                    message = w.connection.recv()
                except EOFError:  # the worker died (killed by the OS, a crash)
                    problems["worker died"].append((w.case, f"exit code {w.process.exitcode}"))
                    verdicts["worker died"] += 1
                    message = None
                if message is not None:
                    (case, size, seconds, verdict, raw, mismatch, round_trip, stages, cpu,
                     notes, kib) = message  # fmt: skip
                    verdicts[verdict if not raw else "raw"] += 1
                    biggest = max(biggest, size)
                    compared += "reference" in stages
                    for kind, text in (("raw", raw), ("mismatch", mismatch),
                                       ("round trip", round_trip)):  # fmt: skip
                        if text:
                            problems[kind].append((case, text))
                    product = sum(t for stage, t in stages.items() if stage != "reference")
                    product_cpu = sum(t for stage, t in cpu.items() if stage != "reference")
                    if product > SLOW_SECONDS or product_cpu > SLOW_SECONDS:
                        stage = max((s for s in stages if s != "reference"), key=stages.get)
                        slow.append((case, product, product_cpu, stage, size, notes))
                    if kib > peak[0]:
                        peak = (kib, case, size)
                done += 1
                if message is None or message[-1] > REPLACE_ABOVE_KIB:
                    w.stop(kill=message is None)
                    w = workers[index] = Worker(context, args)
            elif now - w.started > args.timeout:
                stage = midi_fuzz.STAGES[w.stage.value]
                kib = peak_kib_of(w.process.pid)
                text = f"over {args.timeout:g} s in {stage} (peak {kib / 1024:,.0f} MiB)"
                problems["timeout"].append((w.case, text))
                verdicts["timeout"] += 1
                slow.append(
                    (w.case, now - w.started, float("nan"), f"timeout in {stage}", None, None)
                )
                if kib > peak[0]:
                    peak = (kib, w.case, 0)
                done += 1
                w.stop(kill=True)
                w = workers[index] = Worker(context, args)
            else:
                continue
            case = next(pending, None)
            if case is None:
                w.case = None
            else:
                w.send(case)
        if args.progress and done and done % args.progress == 0:
            print(f"  {done:,} cases, {time.monotonic() - began:,.0f} s", file=sys.stderr)
    return peak, biggest, compared, done


def report(args, verdicts, problems, slow, peak, biggest, compared, done, wall, children_kib):
    kind = "light" if args.light else "heavy"
    print(
        f"fuzz: {done:,} cases (seed {args.seed}, cases {args.start:,}..{args.start + done - 1:,},"
        f" {kind} mutations), {args.workers} workers, {args.timeout:g} s limit per case,"
        f" {wall:,.0f} s wall"
    )
    print("outcomes: " + ", ".join(f"{k} {v:,}" for k, v in verdicts.most_common()))
    print(f"raw exceptions: {len(problems['raw'])}")
    print(
        f"default reader vs reference (mido + pretty_midi), {compared:,} inputs under 256 KiB: "
        f"{len(problems['mismatch'])} differences"
    )
    print(f"written, then read back: {len(problems['round trip'])} differences")
    for clock, index in (("wall", 1), ("CPU", 2)):
        over = [s for s in slow if not s[index] <= SLOW_SECONDS]  # a timeout counts on both
        by_stage = collections.Counter(s[3] for s in over)
        stages = ", ".join(f"{stage} {n}" for stage, n in by_stage.most_common())
        print(
            f"cases over {SLOW_SECONDS:g} s ({clock} time, the reference reading not counted): "
            f"{len(over)}" + (f" (slowest stage: {stages})" if over else "")
        )
    print(
        f"peak resident memory of a case: {peak[0] / 1024:,.0f} MiB (case {peak[1]}, "
        + (f"{peak[2]:,} bytes" if peak[2] else "timed out")
        + f"); largest input {biggest / 2**20:.1f} MiB; "
        f"getrusage(RUSAGE_CHILDREN) maxrss {children_kib / 1024:,.0f} MiB"
    )
    for kind in ("raw", "mismatch", "round trip", "timeout", "worker died"):
        for case, text in problems[kind][: args.show_max]:
            print(f"  {kind}: case {case}: {text}")
    for case, seconds, cpu, stage, size, notes in sorted(slow, key=lambda s: -s[1])[
        : args.show_max
    ]:
        print(
            f"  slow: case {case}: {seconds:.1f} s wall, {cpu:.1f} s CPU, mostly {stage} "
            f"({size} bytes, {notes} notes)"
        )
    if args.list:
        with open(args.list, "w") as out:
            for kind, items in problems.items():
                for case, text in items:
                    out.write(f"{kind}\t{case}\t{text}\n")
            for case, seconds, cpu, stage, size, notes in slow:
                out.write(
                    f"slow\t{case}\t{seconds:.2f} s wall, {cpu:.2f} s CPU, {stage}, {size} bytes,"
                    f" {notes} notes\n"
                )


def show(args) -> int:
    """Run one case here, with tracebacks."""
    import traceback

    data = midi_fuzz.mutate(args.case, args.seed, midi_fuzz.corpus(), not args.light)
    print(f"case {args.case} of seed {args.seed}: {len(data):,} bytes: {data[:48].hex(' ')} ...")
    started = time.perf_counter()
    outcome = midi_fuzz.run_case(data, not args.no_compare)
    print(f"{time.perf_counter() - started:.3f} s: {outcome}")
    if outcome.raw:
        from melodyrnn.io.midi import midi_to_sequence

        try:
            midi_to_sequence(data)
        except Exception:
            traceback.print_exc()
    if args.write:
        Path(args.write).write_bytes(data)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--start", type=int, default=0, help="the first case number")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per case")
    parser.add_argument("--memory-gb", type=float, default=3.0, help="address space per worker")
    parser.add_argument("--light", action="store_true", help="the test suite's cheap mutations")
    parser.add_argument("--no-compare", action="store_true", help="skip the reference reader")
    parser.add_argument("--progress", type=int, default=10_000, help="report every N cases")
    parser.add_argument("--show-max", type=int, default=10, help="list at most N of each problem")
    parser.add_argument("--list", help="write every problem and slow case to this file")
    parser.add_argument("--case", type=int, help="run this one case here (with --show)")
    parser.add_argument("--show", action="store_true")
    parser.add_argument("--write", help="with --case: save the case's bytes to this file")
    args = parser.parse_args(argv)
    if args.case is not None:
        return show(args)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
