"""The session log: what the player played and what the model answered, as one MIDI file.

Messages are recorded with their times (seconds on the session clock) and written on exit as a
type-1 file: a tempo track, the player's track and the model's track, tick 0 on a bar line of
the session's grid, so bars in a sequencer are the bars of the jam. A note left open (the
session was stopped mid-note) is closed at the end. The log holds at most the ``max_events``
limit (later messages are counted, not kept), and it is written atomically.
"""

from __future__ import annotations

import io
import math
from collections import deque

import mido

from melodyrnn.files import write_bytes_atomically
from melodyrnn.limits import limit

__all__ = ["SessionLog"]

TICKS_PER_BEAT = 480
TRACKS = {"player": "player", "answer": "melodyrnn", "off": "melodyrnn"}


class SessionLog:
    """Timed messages in, a MIDI file out (module docstring)."""

    def __init__(self, max_events: int | None = None):
        self.capacity = limit("max_events", max_events)
        self.items: deque[tuple[float, mido.Message, str]] = deque()
        self.dropped = 0

    def record(self, time: float, message: mido.Message, role: str) -> None:
        """Keep one message; ``role`` "player" for input, "answer"/"off" for what was sent."""
        if role not in TRACKS or message.is_meta or not hasattr(message, "channel"):
            return
        if len(self.items) >= self.capacity:
            self.dropped += 1
            return
        self.items.append((time, message, role))

    def __len__(self) -> int:
        return len(self.items)

    def to_midi(self, qpm: float = 120.0, origin: float | None = None, beats_per_bar: int = 4):
        """A ``mido.MidiFile``; ``origin`` (a bar line of the grid) is tick 0."""
        items = sorted(self.items, key=lambda item: item[0])
        first = items[0][0] if items else 0.0
        bar = 60.0 / qpm * beats_per_bar
        if origin is None:
            origin = first
        origin -= math.ceil(max(0.0, origin - first) / bar) * bar  # nothing before tick 0
        midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
        head = mido.MidiTrack()
        head.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(qpm), time=0))
        head.append(mido.MetaMessage("time_signature", numerator=beats_per_bar, denominator=4))
        midi.tracks.append(head)
        ticks_per_second = TICKS_PER_BEAT * qpm / 60.0
        for name in dict.fromkeys(TRACKS.values()):
            events = [
                (round((t - origin) * ticks_per_second), m)
                for t, m, role in items
                if TRACKS[role] == name
            ]
            events = _closed(events)
            track = mido.MidiTrack()
            track.append(mido.MetaMessage("track_name", name=name, time=0))
            now = 0
            for tick, message in events:
                track.append(message.copy(time=max(0, tick - now)))
                now = max(now, tick)
            midi.tracks.append(track)
        return midi

    def write(self, path, qpm: float = 120.0, origin: float | None = None, beats_per_bar=4):
        """Write the log to ``path`` atomically; returns the path."""
        buffer = io.BytesIO()
        self.to_midi(qpm, origin, beats_per_bar).save(file=buffer)
        return write_bytes_atomically(path, buffer.getvalue())


def _closed(events: list[tuple[int, mido.Message]]) -> list[tuple[int, mido.Message]]:
    """The events with a note-off added at the end for every note left sounding."""
    sounding: dict[tuple[int, int], int] = {}
    for _, m in events:
        if m.type == "note_on" and m.velocity > 0:
            sounding[(m.channel, m.note)] = sounding.get((m.channel, m.note), 0) + 1
        elif m.type in ("note_on", "note_off"):
            sounding.pop((m.channel, m.note), None)
    end = events[-1][0] if events else 0
    return events + [
        (end, mido.Message("note_off", channel=ch, note=note)) for ch, note in sorted(sounding)
    ]
