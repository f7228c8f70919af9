"""A live session on real ports: :class:`CallAndResponse` with a clock, a worker and a log.

Three threads, none waiting on another:

* the **input callback** (rtmidi's thread) stamps each message with ``time.monotonic()`` and
  puts it in a bounded queue (a flood fills it and ends the session, it never grows);
* the **main loop** feeds the messages to :class:`CallAndResponse`, polls it every few
  milliseconds, hands the due messages to the :class:`~melodyrnn.live.scheduler.Scheduler` and
  each answer request to a **worker thread** that runs the model while the player's last bar
  is still sounding; it also checks every second that the ports are still there;
* the **scheduler** sends each message at its time and records it in the session log.

On any end (Ctrl-C, SIGTERM, a port gone, a flood, ``duration`` over) every sounding note is
ended, all-notes-off goes out on every channel used, and the log is written atomically.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from melodyrnn.errors import LiveError, MelodyRNNError, PortError
from melodyrnn.limits import limit
from melodyrnn.live.call_response import CallAndResponse, JamOptions
from melodyrnn.live.log import SessionLog
from melodyrnn.live.scheduler import Scheduler

__all__ = ["JamReport", "JamSession"]

LISTENED = {
    "note_on",
    "note_off",
    "control_change",
    "pitchwheel",
    "aftertouch",
    "polytouch",
    "clock",
}
POLL_SECONDS = 0.004
HORIZON_SECONDS = 0.05
WATCH_SECONDS = 1.0


@dataclass
class JamReport:
    """What a session did: counts, per-answer timing, the scheduler's lateness, how it ended."""

    calls: int = 0
    answers: list[dict] = field(default_factory=list)
    lateness: list[tuple[str, float]] = field(default_factory=list)  # (role, seconds) a send
    ended: str = ""
    log: Path | None = None
    error: MelodyRNNError | None = None


class JamSession:
    """One ``melodyrnn jam``: ports opened by the caller (module docstring)."""

    def __init__(
        self,
        model,
        options: JamOptions,
        inport_opener,
        outport,
        *,
        log_path=None,
        system=None,
        watch: tuple[str | None, str | None] = (None, None),
        say=print,
    ):
        self.model = model
        self.options = options
        self.jam = CallAndResponse(model, options, generate_inline=False)
        self.outport = outport
        self.log = SessionLog()
        self.log_path = log_path
        self.system = system
        self.watch = watch
        self.say = say or (lambda line: None)
        self.queue: queue.Queue = queue.Queue(maxsize=limit("max_jam_queue"))
        self.flooded = threading.Event()
        self.stopping = threading.Event()
        self.report = JamReport()
        self.scheduler = Scheduler(self._send, self._sent)
        self._first_sent: dict[int, float] = {}
        self.inport = inport_opener(self._incoming)

    # -- the threads' work --------------------------------------------------------------------

    def _incoming(self, message) -> None:  # rtmidi's thread
        if message.type not in LISTENED:
            return
        try:
            self.queue.put_nowait((time.monotonic(), message))
        except queue.Full:
            self.flooded.set()

    def _send(self, message) -> None:
        self.outport.send(message)

    def _sent(self, when: float, message, role: str) -> None:  # the scheduler's thread
        self.log.record(when, message, role)

    # -- the main loop ------------------------------------------------------------------------

    def run(self, duration: float | None = None) -> JamReport:
        """Play until Ctrl-C / SIGTERM / :meth:`stop` / ``duration`` seconds / an error."""
        started = time.monotonic()
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="melodyrnn-answer")
        future: Future | None = None
        next_watch = started + WATCH_SECONDS
        previous = _terminate_as_interrupt()
        switch = sys.getswitchinterval()
        sys.setswitchinterval(0.0005)  # the scheduler gets the GIL back quickly from the model
        try:
            while not self.stopping.is_set():
                try:
                    t, message = self.queue.get(timeout=POLL_SECONDS)
                    self._feed(t, message)
                    while True:
                        self._feed(*self.queue.get_nowait())
                except queue.Empty:
                    pass
                now = time.monotonic()
                if self.flooded.is_set():
                    raise LiveError(
                        f"the input flooded the jam (over {self.queue.maxsize} messages waiting; "
                        "is the jam's output wired back to its input?)"
                    )
                self.scheduler.schedule(self.jam.poll(now, HORIZON_SECONDS))
                request = self.jam.take_request()
                if request is not None:
                    future = pool.submit(request.generate, self.model)
                    self.say(
                        f"call ended ({request.reason}): answering {request.bars} bar(s) "
                        f"from bar {request.start_bar + 1}"
                    )
                if future is not None and future.done():
                    self._deliver(future, now)
                    future = None
                if self.scheduler.error is not None:
                    raise PortError(f"cannot send to the output port: {self.scheduler.error}")
                if now >= next_watch:
                    next_watch = now + WATCH_SECONDS
                    gone = self.system.missing(*self.watch) if self.system else None
                    if gone:
                        raise PortError(f"the MIDI port {gone!r} went away")
                if duration is not None and now - started >= duration:
                    self.report.ended = "duration"
                    break
        except KeyboardInterrupt:
            self.report.ended = "interrupted"
        except MelodyRNNError as exc:
            self.report.ended = "error"
            self.report.error = exc
        finally:
            self._finish(pool)
            sys.setswitchinterval(switch)
            _restore_terminate(previous)
        return self.report

    def stop(self) -> None:
        self.stopping.set()

    def _feed(self, t: float, message) -> None:
        if message.type != "clock":
            self.log.record(t, message, "player")
        self.scheduler.schedule(self.jam.feed(message, t))

    def _deliver(self, future: Future, now: float) -> None:
        try:
            answer = future.result()
        except MelodyRNNError as exc:
            self.say(f"no answer: {exc.worded()}")
            self.jam.cut(now)
            return
        if self.jam.deliver(answer, now):
            final = self.jam.answer
            self.report.answers.append(
                {
                    "ended_at": answer.request.ended_at,
                    "ready_at": now,
                    "start": final.start,
                    "first_note": final.notes[0].start if final.notes else None,
                    "generate_seconds": answer.generate_seconds,
                    "late": final.start != answer.start,
                    "notes": len(final.notes),
                }
            )

    def _finish(self, pool: ThreadPoolExecutor) -> None:
        now = time.monotonic()
        self.scheduler.stop()
        with contextlib.suppress(Exception):
            self.inport.close()
        for item in self.jam.stop(now):
            with contextlib.suppress(Exception):
                self.outport.send(item.message)
                self.log.record(time.monotonic(), item.message, "off")
        with contextlib.suppress(Exception):
            self.outport.close()
        pool.shutdown(wait=False, cancel_futures=True)
        self.report.calls = self.jam.stats["calls"]
        self.report.lateness = list(self.scheduler.lateness)
        if self.log_path is not None:
            grid = self.jam.grid
            self.report.log = Path(
                self.log.write(
                    self.log_path,
                    qpm=grid.qpm if grid else self.options.qpm,
                    origin=grid.origin if grid else None,
                    beats_per_bar=self.options.beats_per_bar,
                )
            )


def _terminate_as_interrupt():
    """SIGTERM ends a session as Ctrl-C does (main thread only; else nothing)."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        return None


def _restore_terminate(previous) -> None:
    if previous is not None:
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGTERM, previous)
