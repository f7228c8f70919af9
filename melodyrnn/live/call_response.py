"""``CallAndResponse``: a player's phrases in, the model's answers out, as timed MIDI messages.

The library face of ``melodyrnn jam``, with no ports and no clock of its own, so it runs inside
anyone's event loop (and in tests with made-up times)::

    jam = CallAndResponse(model, JamOptions(qpm=100))
    for message, t in incoming:              # mido.Message and seconds on your clock
        send_now(jam.feed(message, t))       # the player's notes echoed
        for item in jam.poll(t, horizon=0.05):
            send_at(item.time, item.message) # answers, clicks: item.time >= t

:meth:`CallAndResponse.poll` hands out what is due before ``now + horizon`` (a scheduler sends
each at its time). An answer is generated when its call ends: inline by default (``poll``
returns after the model has run), or, with ``generate_inline=False``, by whoever takes the
request (:meth:`take_request`), runs :meth:`AnswerRequest.generate` (in a worker thread, say)
and hands the result back with :meth:`deliver`. An answer starts on the first bar line at least
``rules.lead`` seconds after its call ended; one delivered too late for it moves to the next
bar line (counted in ``stats["late"]``), so an answer is always on the beat.

While an answer is pending or sounding, the player's notes are echoed but are not a new call;
with ``loop`` the model answers its own answer until the player plays again (a note then cuts
the answer and starts the call).
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass, field

import mido

from melodyrnn.errors import LiveError
from melodyrnn.generation.options import SamplingOptions
from melodyrnn.live.answer import Answer, AnswerRequest, check_model
from melodyrnn.live.phrase import BeatGrid, ClockTempo, Phrase, PhraseRules

__all__ = ["CallAndResponse", "JamOptions", "Scheduled"]

CLICK_SECONDS = 0.05
CLICK_PITCHES = (76, 77)  # General MIDI hi / low wood block: downbeat, other beats
ALL_NOTES_OFF = 123
SUSTAIN = 64


@dataclass(frozen=True)
class JamOptions:
    """How a jam listens and answers (the ``melodyrnn jam`` flags as one value).

    ``qpm``/``beats_per_bar``: the grid (quarter-note beats); ``follow_clock``: take the tempo
    from incoming MIDI clock, between calls; ``rules``: when a call ends; ``bars``: the answer's
    length (None: as long as the call, whole bars); ``sampling``: how the model picks notes (an
    int seed gives answer k the seed ``seed + k``); ``channel`` (0-15) and ``program`` of the
    answer; ``echo``: play the player's notes through; ``loop``: answer the answer;
    ``metronome_channel``: clicks on every beat (None: off); ``primer_bars``: how much of the
    call the model hears; ``ending``/``key_finding``: as in
    :func:`~melodyrnn.generation.primer.continue_primer`.
    """

    qpm: float = 120.0
    beats_per_bar: int = 4
    follow_clock: bool = False
    rules: PhraseRules = field(default_factory=PhraseRules)
    bars: int | None = None
    sampling: SamplingOptions = field(default_factory=SamplingOptions)
    channel: int = 1
    program: int | None = None
    echo: bool = True
    loop: bool = False
    metronome_channel: int | None = None
    primer_bars: int = 8
    ending: str = "free"
    key_finding: str = "profile"
    in_key: bool = True

    def __post_init__(self) -> None:
        BeatGrid(0.0, self.qpm, self.beats_per_bar)  # checks both
        if self.bars is not None and not 1 <= self.bars <= 64:
            raise LiveError(f"{{bars}} must be 1..64, got {self.bars}", parameters=("bars",))
        for name in ("channel", "metronome_channel"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 15:
                raise LiveError(
                    f"{{{name}}} must be a MIDI channel, got {value + 1}", parameters=(name,)
                )
        if self.program is not None and not 0 <= self.program <= 127:
            raise LiveError(
                f"{{program}} must be 0..127, got {self.program}", parameters=("program",)
            )
        if not 1 <= self.primer_bars <= 64:
            raise LiveError(
                f"{{primer_bars}} must be 1..64, got {self.primer_bars}",
                parameters=("primer_bars",),
            )


@dataclass(frozen=True, order=True)
class Scheduled:
    """A message to send at ``time`` (seconds on the caller's clock); ``role`` says whose."""

    time: float
    message: mido.Message = field(compare=False)
    role: str = field(default="answer", compare=False)  # answer, echo, metronome, off


class CallAndResponse:
    """Call and response over timed messages (module docstring)."""

    def __init__(self, model=None, options: JamOptions | None = None, *, generate_inline=True):
        self.options = options or JamOptions()
        if model is not None:
            check_model(model)
        elif generate_inline:
            raise LiveError("generating inline needs a model")
        self.model = model
        self.inline = generate_inline
        self.grid: BeatGrid | None = None
        self.clock = ClockTempo()
        self.phrase: Phrase | None = None
        self.answer: Answer | None = None  # scheduled or sounding
        self.waiting: AnswerRequest | None = None  # asked for, not delivered
        self._untaken: AnswerRequest | None = None
        self._ids = itertools.count(1)
        self._order = itertools.count()
        self._plan: list[tuple[float, int, int, Scheduled]] = []
        self._sounding: dict[tuple[int, int], str] = {}
        self._next_click = 0
        self._loop_asked = False
        self._last_activity = -math.inf
        self.stats = {"calls": 0, "answers": 0, "late": 0, "cut": 0}

    # -- the player ---------------------------------------------------------------------------

    def feed(self, message: mido.Message, time: float) -> list[Scheduled]:
        """Take one incoming message; returns what to send at once (the echo)."""
        out: list[Scheduled] = []
        kind = message.type
        if kind == "clock":
            self.clock.pulse(time)
            self._follow_clock(time)
            return out
        if not hasattr(message, "channel"):
            return out
        end_control = self.options.rules.end_control
        is_end_control = kind == "control_change" and message.control == end_control
        if self.options.echo and not is_end_control:
            out.append(Scheduled(time, message.copy(time=0), "echo"))
        if kind == "note_on" and message.velocity > 0:
            self._note_on(message.note, message.velocity, time, out)
        elif kind in ("note_off", "note_on"):
            if self.phrase is not None:
                self.phrase.note_off(message.note, time)
            self._last_activity = max(self._last_activity, time)
        elif kind == "control_change" and self.phrase is not None:
            self.phrase.control(message.control, message.value, time)
        self._track(out)
        return out

    def _note_on(self, pitch: int, velocity: int, time: float, out: list[Scheduled]) -> None:
        self._last_activity = max(self._last_activity, time)
        if self.phrase is None and self._busy(time):
            if not self.options.loop:
                return  # notes over an answer are echoed, not a call
            out.extend(self.cut(time))
        if self.phrase is None:
            self._start_phrase(time)
        self.phrase.note_on(pitch, velocity, time)

    def _busy(self, time: float) -> bool:
        return self.waiting is not None or (self.answer is not None and time < self.answer.end)

    def _start_phrase(self, time: float) -> None:
        opts = self.options
        idle = time - self._last_activity
        if self.grid is None or (
            opts.metronome_channel is None and self.grid and idle > 2 * self.grid.bar_seconds
        ):
            qpm = (self.clock.qpm if opts.follow_clock else None) or opts.qpm
            self.grid = BeatGrid(time, qpm, opts.beats_per_bar)
            self._next_click = 0
        self.phrase = Phrase(self.grid, opts.rules, time)
        self.stats["calls"] += 1

    def _follow_clock(self, time: float) -> None:
        qpm = self.clock.qpm
        if not self.options.follow_clock or qpm is None or self.grid is None:
            return
        if self.phrase is None and not self._busy(time) and abs(qpm / self.grid.qpm - 1) > 0.005:
            self.grid.retempo(qpm, time)
            self._next_click = math.ceil(self.grid.beat_at(time))

    # -- time ---------------------------------------------------------------------------------

    def poll(self, now: float, horizon: float = 0.0) -> list[Scheduled]:
        """Advance to ``now``: end calls, ask for answers, and hand out the messages due before
        ``now + horizon``, in time order, each with its own time (one that fell due since the
        last poll has a time before ``now``: send it at once)."""
        if self.phrase is not None:
            ended = self.phrase.end_time(now)
            if ended is not None:
                self._close_phrase(*ended, now)
        answer = self.answer
        if answer is not None and self.options.loop and not self._loop_asked:
            ask_at = answer.end - max(self.options.rules.lead, self.grid.bar_seconds)
            if now >= ask_at and self.phrase is None:
                self._loop_asked = True
                request = answer.request
                self._ask(
                    AnswerRequest(
                        ident=next(self._ids),
                        notes=answer.notes,
                        grid=request.grid,
                        first_bar=request.start_bar,
                        start_bar=request.start_bar + request.bars,
                        bars=request.bars,
                        options=self._sampling(),
                        primer_bars=request.primer_bars,
                        ending=request.ending,
                        key_finding=request.key_finding,
                        in_key=request.in_key,
                        reason="loop",
                        ended_at=now,
                    ),
                    now,
                )
        if answer is not None and now >= answer.end and self.answer is answer:
            self._last_activity = max(self._last_activity, answer.end)
            self.answer = None
        self._clicks(now + horizon)
        due = []
        while self._plan and self._plan[0][0] <= now + horizon:
            due.append(heapq.heappop(self._plan)[3])
        self._track(due)
        return due

    def _close_phrase(self, at: float, why: str, now: float) -> None:
        phrase, self.phrase = self.phrase, None
        grid, opts = self.grid, self.options
        notes = tuple(phrase.closed_notes(at))
        if not notes:
            return
        start_bar = grid.next_bar(at + opts.rules.lead)
        first_bar = max(phrase.start_bar, start_bar - opts.primer_bars)
        bars = opts.bars or min(max(1, start_bar - phrase.start_bar), opts.rules.max_bars)
        request = AnswerRequest(
            ident=next(self._ids),
            notes=notes,
            grid=BeatGrid(grid.origin, grid.qpm, grid.beats_per_bar),
            first_bar=first_bar,
            start_bar=start_bar,
            bars=bars,
            options=self._sampling(),
            primer_bars=opts.primer_bars,
            ending=opts.ending,
            key_finding=opts.key_finding,
            in_key=opts.in_key,
            reason=why,
            ended_at=at,
        )
        self._ask(request, now)

    def _sampling(self) -> SamplingOptions:
        sampling = self.options.sampling
        if isinstance(sampling.seed, int):
            sampling = sampling.replace(seed=sampling.seed + self.stats["answers"])
        return sampling

    def _ask(self, request: AnswerRequest, now: float) -> None:
        self.waiting = request
        if self.inline:
            self.deliver(request.generate(self.model), now)
        else:
            self._untaken = request

    def take_request(self) -> AnswerRequest | None:
        """The answer to generate next (once), when ``generate_inline`` is False."""
        request, self._untaken = self._untaken, None
        return request

    def deliver(self, answer: Answer, now: float) -> bool:
        """Schedule a generated answer; False when it is stale (the player cut it)."""
        if self.waiting is None or answer.request.ident != self.waiting.ident:
            return False
        self.waiting = None
        request = answer.request
        if request.start < now:  # too late for its bar line: the next one
            late = request.with_start_bar(request.grid.next_bar(now + 0.01))
            shift = late.start - request.start
            notes = tuple(
                type(n)(n.pitch, n.velocity, n.start + shift, n.end + shift) for n in answer.notes
            )
            answer = Answer(late, notes, answer.generate_seconds)
            self.stats["late"] += 1
        self.stats["answers"] += 1
        self.answer = answer
        self._loop_asked = False
        opts = self.options
        if opts.program is not None:
            self._add(
                answer.start,
                mido.Message("program_change", channel=opts.channel, program=opts.program),
                "answer",
            )
        for n in answer.notes:
            self._add(
                n.start,
                mido.Message("note_on", channel=opts.channel, note=n.pitch, velocity=n.velocity),
                "answer",
            )
            self._add(n.end, mido.Message("note_off", channel=opts.channel, note=n.pitch), "answer")
        return True

    # -- cutting and stopping ---------------------------------------------------------------

    def cut(self, time: float) -> list[Scheduled]:
        """Stop the answer at ``time``: its unsent messages dropped, its sounding notes ended."""
        self._plan = [p for p in self._plan if p[3].role != "answer"]
        heapq.heapify(self._plan)
        if self.answer is not None or self.waiting is not None:
            self.stats["cut"] += 1
        self.answer = self.waiting = self._untaken = None
        out = [
            Scheduled(time, mido.Message("note_off", channel=ch, note=pitch), "off")
            for (ch, pitch), role in sorted(self._sounding.items())
            if role == "answer"
        ]
        self._track(out)
        return out

    def stop(self, time: float) -> list[Scheduled]:
        """Everything off now: every sounding note ended, all-notes-off on every channel used."""
        self._plan = []
        self.answer = self.waiting = self._untaken = self.phrase = None
        out = [
            Scheduled(time, mido.Message("note_off", channel=ch, note=pitch), "off")
            for ch, pitch in sorted(self._sounding)
        ]
        channels = {self.options.channel} | {ch for ch, _ in self._sounding}
        if self.options.metronome_channel is not None:
            channels.add(self.options.metronome_channel)
        for ch in sorted(channels):
            out.append(
                Scheduled(
                    time, mido.Message("control_change", channel=ch, control=ALL_NOTES_OFF), "off"
                )
            )
        self._sounding.clear()
        return out

    # -- bookkeeping --------------------------------------------------------------------------

    def _add(self, time: float, message: mido.Message, role: str) -> None:
        first = 0 if message.type in ("note_off", "program_change") else 1
        heapq.heappush(self._plan, (time, first, next(self._order), Scheduled(time, message, role)))

    def _clicks(self, until: float) -> None:
        channel = self.options.metronome_channel
        if channel is None or self.grid is None:
            return
        grid = self.grid
        while grid.time_at(self._next_click) <= until:
            beat = self._next_click
            self._next_click += 1
            at = grid.time_at(beat)
            down = beat % grid.beats_per_bar == 0
            pitch = CLICK_PITCHES[0 if down else 1]
            on = mido.Message("note_on", channel=channel, note=pitch, velocity=110 if down else 80)
            self._add(at, on, "metronome")
            self._add(
                at + CLICK_SECONDS,
                mido.Message("note_off", channel=channel, note=pitch),
                "metronome",
            )

    def _track(self, items: list[Scheduled]) -> None:
        for item in items:
            msg = item.message
            if msg.type == "note_on" and msg.velocity > 0:
                self._sounding[(msg.channel, msg.note)] = item.role
            elif msg.type in ("note_on", "note_off"):
                self._sounding.pop((msg.channel, msg.note), None)
