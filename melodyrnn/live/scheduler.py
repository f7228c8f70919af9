"""Sending timed messages on time: a thread on the monotonic clock, apart from generation.

:class:`Scheduler` holds messages with their send times (``time.monotonic()`` seconds) in a
heap; its thread sleeps until just before the next one is due and then waits out the last
moment actively, so a message leaves within a fraction of a millisecond of its time even while
another thread is busy generating the next answer. Every send is measured (``lateness``: role
and actual minus scheduled time, in seconds) for the bench's jitter figures.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

__all__ = ["Scheduler"]

SPIN_SECONDS = 0.002  # wait actively for the last 2 ms before a send


class Scheduler:
    """Send ``(time, message, role)`` items at their time with ``send(message)``.

    ``on_sent(time_sent, message, role)`` is called after each send (the session log).
    An exception from ``send`` stops the thread; it is kept in :attr:`error`.
    """

    def __init__(
        self,
        send: Callable,
        on_sent: Callable | None = None,
        clock: Callable[[], float] = time.monotonic,
        keep: int = 100_000,
    ):
        self.send = send
        self.on_sent = on_sent
        self.clock = clock
        self.lateness: deque[tuple[str, float]] = deque(maxlen=keep)
        self.error: BaseException | None = None
        self._heap: list = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._running = True
        self._thread = threading.Thread(target=self._run, name="melodyrnn-scheduler", daemon=True)
        self._thread.start()

    def schedule(self, items: Iterable) -> None:
        """Add items with ``.time``, ``.message`` and ``.role`` (``Scheduled``)."""
        with self._cond:
            for item in items:
                heapq.heappush(self._heap, (item.time, next(self._order), item))
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._heap)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._running and not self._heap:
                    self._cond.wait()
                if not self._running:
                    return
                due = self._heap[0][0]
                wait = due - self.clock() - SPIN_SECONDS
                if wait > 0:
                    self._cond.wait(timeout=wait)
                    continue  # something earlier may have come in
                _, _, item = heapq.heappop(self._heap)
            while self.clock() < item.time:
                time.sleep(0)  # let other threads run while the last moment passes
            try:
                self.send(item.message)
            except BaseException as exc:  # a port gone away: the session ends, cleanly
                self.error = exc
                with self._cond:
                    self._running = False
                return
            sent = self.clock()
            self.lateness.append((item.role, sent - item.time))
            if self.on_sent is not None:
                self.on_sent(sent, item.message, item.role)

    def stop(self) -> list:
        """Stop the thread; returns the items never sent."""
        with self._cond:
            self._running = False
            left = [entry[2] for entry in sorted(self._heap)]
            self._heap = []
            self._cond.notify()
        self._thread.join(timeout=2.0)
        return left
