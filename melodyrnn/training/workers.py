"""Worker processes for the dataset builder: one item at a time, isolated and timed.

:func:`run_isolated` maps a function over items in worker processes such that one bad item
costs only itself:

* an item that runs longer than the time limit gets its worker killed and is reported as failed
  (the limit ``max_seconds_per_file`` of :mod:`melodyrnn.limits`);
* a worker that dies (killed for memory, a crash in a C extension, ``os._exit``) fails the item
  it was on, with the reason, and a new worker takes over the items it had not started.

Every other item still gets its result. :mod:`melodyrnn.training.dataset` reads MIDI files with
it; nothing here knows about MIDI.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import numbers
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait

from melodyrnn.errors import DatasetError
from melodyrnn.limits import LIMITS, limit

__all__ = ["Failed", "check_jobs", "run_isolated"]

# Consecutive workers that die before they are ready: the machine cannot run workers at all.
MAX_START_FAILURES = 3
BATCH = 16  # most items sent to a worker at once (each result still comes back on its own)
STARTUP_SECONDS = 60  # a new worker has this long (or the item limit, if longer) to start


@dataclass(frozen=True)
class Failed:
    """An item whose worker was killed (time limit) or died, and why."""

    reason: str


def check_jobs(jobs) -> int:
    """The number of worker processes ``jobs`` asks for: None or 0 = one per core."""
    if jobs is None:
        return os.cpu_count() or 1
    if isinstance(jobs, bool) or not isinstance(jobs, numbers.Integral) or jobs < 0:
        raise DatasetError(
            f"{{jobs}} must be a number of worker processes >= 1 (0: one per core), got {jobs!r}",
            parameters=("jobs",),
        )
    return int(jobs) or os.cpu_count() or 1


def run_isolated(
    function: Callable,
    items: Sequence,
    args: tuple = (),
    *,
    jobs: int | None = None,
    max_seconds: float | None = None,
    on_done: Callable[[int], None] | None = None,
) -> list:
    """``[function(item, *args) for item in items]``, computed in ``jobs`` worker processes.

    An item whose call takes longer than ``max_seconds`` (default: the limit
    ``max_seconds_per_file``) or kills its worker gives a :class:`Failed` in its place.
    ``function`` must catch its own exceptions (an exception it lets out is a Failed too).
    ``on_done(index)`` is called as each item finishes. The order of ``items`` is kept.
    """
    jobs = check_jobs(jobs)
    seconds = limit("max_seconds_per_file", max_seconds)
    results: list = [None] * len(items)
    queue = deque(range(len(items)))
    workers: list[_Worker] = []
    start_failures = 0
    context = multiprocessing.get_context()

    def finish(index: int, value) -> None:
        results[index] = value
        if on_done is not None:
            on_done(index)

    try:
        while queue or any(w.pending for w in workers):
            while queue and len(workers) < jobs:
                workers.append(_Worker(context, function, args))
            for worker in workers:
                if not worker.pending and queue:
                    size = max(1, min(BATCH, len(queue) // (2 * jobs)))
                    worker.send([queue.popleft() for _ in range(size)], items)
            now = time.monotonic()
            deadline = min((w.deadline(seconds) for w in workers if w.pending), default=now)
            waitables = [w.conn for w in workers] + [w.process.sentinel for w in workers]
            wait(waitables, timeout=max(0.0, deadline - now))
            for worker in list(workers):
                alive = worker.receive(finish)
                overdue = worker.pending and time.monotonic() > worker.deadline(seconds)
                if alive and not overdue:
                    continue
                if overdue and alive:
                    worker.kill()
                    reason = _over_time(seconds)
                else:
                    reason = worker.death()
                workers.remove(worker)
                if not worker.ready:  # it never started: not the item's fault
                    start_failures += 1
                    if start_failures >= MAX_START_FAILURES:
                        raise DatasetError(f"cannot start worker processes ({reason})")
                    queue.extendleft(reversed(worker.pending))
                    continue
                start_failures = 0
                if worker.pending:
                    finish(worker.pending.popleft(), Failed(reason))
                    queue.extendleft(reversed(worker.pending))
    finally:
        for worker in workers:
            worker.stop()
    return results


def _over_time(seconds: int) -> str:
    spec = LIMITS["max_seconds_per_file"]
    return f"took longer than {seconds} s (the limit {spec.name}; set {spec.env} to raise it)"


class _Worker:
    """One worker process, its pipe, and the items it was sent and has not answered yet."""

    def __init__(self, context, function: Callable, args: tuple):
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_work, args=(child, function, args), daemon=True, name="melodyrnn-worker"
        )
        self.process.start()
        child.close()
        self.pending: deque[int] = deque()
        self.ready = False
        self.since = time.monotonic()  # when the item at pending[0] started, as far as we know

    def deadline(self, seconds: float) -> float:
        """When the item it is on runs out of time (a worker still starting gets longer)."""
        return self.since + (seconds if self.ready else max(seconds, STARTUP_SECONDS))

    def send(self, indices: list[int], items: Sequence) -> None:
        self.pending.extend(indices)
        self.since = time.monotonic()
        self.conn.send([(i, items[i]) for i in indices])

    def receive(self, finish: Callable) -> bool:
        """Take every message waiting; False once the worker is gone (and its last words read)."""
        alive = self.process.is_alive()  # asked first: what it sent before dying is in the pipe
        try:
            while self.conn.poll():
                message = self.conn.recv()
                self.since = time.monotonic()
                if message == "ready":
                    self.ready = True
                    continue
                index, value = message
                if self.pending and self.pending[0] == index:
                    self.pending.popleft()
                finish(index, value)
        except (EOFError, OSError):
            return False
        return alive

    def death(self) -> str:
        self.process.join(5)
        if self.process.is_alive():  # it closed its pipe but lingers
            self.process.kill()
            self.process.join(5)
        code = self.process.exitcode
        self.conn.close()
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            hint = " (the system may have run out of memory)" if -code == signal.SIGKILL else ""
            return f"the worker process reading it was killed by {name}{hint}"
        return f"the worker process reading it exited with status {code}"

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()

    def stop(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(OSError):
                self.conn.send(None)
            self.process.join(1)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self.conn.close()


def _work(conn, function: Callable, args: tuple) -> None:
    """A worker's loop: batches of (index, item) in, one (index, result) out per item."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    conn.send("ready")
    while True:
        batch = conn.recv()
        if batch is None:
            return
        for index, item in batch:
            try:
                value = function(item, *args)
            except BaseException as exc:  # noqa: BLE001 - reported, never lost
                value = Failed(f"{type(exc).__name__}: {exc}")
            conn.send((index, value))
