"""pretty_midi's reading rules, run on the events of a file as mido reads them.

:mod:`melodyrnn.io.midi_fast` has symusic parse a file and refuses every file where it cannot
promise pretty_midi's result (chords whose note-off order decides the note order, control
changes before an instrument's first note, overlapping notes of one key, ...). Those files
used to go through mido and pretty_midi themselves, which build a Python object per event
and took ~20 us an event (a 500,000-event file: 10 s and more). This module reads them in one
walk instead: :func:`~melodyrnn.io.midi_events.scan_track` walks each track again exactly as
mido does and hands over its channel messages and track names, and :func:`read_exact` applies
to them what ``pretty_midi.PrettyMIDI`` does on loading, rule for rule:

* the tempo map, time and key signatures come from track 0 only (a tempo at tick 0 replaces
  the default 120 qpm, a repeated tempo is dropped), times are pretty_midi's float for float
  (:class:`~melodyrnn.io.midi_ticks.TempoMap`);
* each track keeps a program per channel (0 at its start), set by program changes;
* a note-on with velocity > 0 opens a note of its (channel, pitch); a note-off, or a note-on
  with velocity 0, ends every open note of that key that started on an earlier tick, oldest
  first; notes that started on its own tick stay open if any note was ended, else they are
  dropped with the key;
* an ended note goes to the instrument of (program of its channel at the note-off, channel,
  track), created at that moment (a drum instrument on channel 10), named by the track name
  last seen in the track; instruments are listed in the order they were created;
* control changes and pitch bends go to the instrument of (the channel's program, channel,
  track) if there is one, else to a "straggler" of (channel, track) that no list shows; an
  instrument created later for that channel and track takes over the straggler's lists
  themselves, so several instruments of a channel can share (and repeat) the same events.

Only the reading of files that mido reads and that pass
:func:`~melodyrnn.io.midi_checks.check_tracks` is done here: verdicts on broken files stay
the reference's. tests/test_midi_exact.py and the fuzzing (tests/test_fuzz_midi.py,
bench/fuzz.py) compare the result with mido + pretty_midi on every input.
"""

from __future__ import annotations

from itertools import repeat

import numpy as np
from pretty_midi import key_name_to_key_number

from melodyrnn.errors import MidiError
from melodyrnn.io.midi_events import TRACK_NAME, ScannedFile, scan_track
from melodyrnn.io.midi_ticks import TempoMap
from melodyrnn.sequence import (
    ControlChange,
    InstrumentInfo,
    KeySignature,
    Note,
    NoteSequence,
    PitchBend,
    TimeSignature,
)

__all__ = ["read_exact"]

_NOTE_OFF, _NOTE_ON, _CONTROL, _PROGRAM, _BEND = 0x80, 0x90, 0xB0, 0xC0, 0xE0


class _Instrument:
    """An instrument as pretty_midi builds it: notes as (start tick, end tick, pitch,
    velocity); control changes as (tick, number, value) and bends as (tick, bend), in lists
    that a straggler may share."""

    __slots__ = ("program", "is_drum", "name", "notes", "controls", "bends")

    def __init__(self, program: int, is_drum: bool, name: str):
        self.program, self.is_drum, self.name = program, is_drum, name
        self.notes: list = []
        self.controls: list = []
        self.bends: list = []


def read_exact(scanned: ScannedFile, where: str) -> NoteSequence:
    """The sequence mido + pretty_midi read from the file ``scanned`` (whose tracks passed
    :func:`~melodyrnn.io.midi_checks.check_tracks`)."""
    resolution = scanned.division
    first = scanned.scans[0].summary.metas if scanned.scans else []
    tempo_map = TempoMap([(t, m.tempo) for t, m in first if m.type == "set_tempo"], resolution)
    instruments: list[_Instrument] = []
    created: dict = {}  # (program, channel, track) -> instrument
    stragglers: dict = {}  # (channel, track) -> instrument
    for index, body in enumerate(scanned.bodies):
        events: list = []
        scan_track(body, where, events)
        _load_track(index, events, instruments, created, stragglers)
        del events
    return _build_sequence(resolution, tempo_map, first, instruments)


def _load_track(track: int, events: list, instruments: list, created: dict, stragglers: dict):
    name = ""
    programs = [0] * 16
    sounding: dict = {}  # (channel, pitch) -> [(start tick, velocity), ...]

    def instrument(channel: int, create: bool) -> _Instrument:
        key = (programs[channel], channel, track)
        found = created.get(key)
        if found is not None:
            return found
        straggler = stragglers.get((channel, track))
        if not create:
            if straggler is None:
                straggler = stragglers[(channel, track)] = _Instrument(key[0], False, name)
            return straggler
        new = created[key] = _Instrument(key[0], channel == 9, name)
        if straggler is not None:
            new.controls, new.bends = straggler.controls, straggler.bends
        instruments.append(new)
        return new

    for tick, status, data1, data2 in events:
        kind = status & 0xF0
        if status == TRACK_NAME:
            name = data1
        elif kind == _NOTE_ON and data2:
            key = (status & 0x0F, data1)
            opened = sounding.get(key)
            if opened is None:
                sounding[key] = [(tick, data2)]
            else:
                opened.append((tick, data2))
        elif kind in (_NOTE_OFF, _NOTE_ON):
            key = (status & 0x0F, data1)
            opened = sounding.pop(key, None)
            if opened is None:
                continue
            if len(opened) == 1:  # nearly always: one note of the key sounds
                start, velocity = opened[0]
                if start != tick:
                    instrument(key[0], True).notes.append((start, tick, data1, velocity))
                continue
            ending = [note for note in opened if note[0] != tick]
            if ending:
                notes = instrument(key[0], True).notes
                for start, velocity in ending:
                    notes.append((start, tick, data1, velocity))
                if len(ending) < len(opened):
                    sounding[key] = [note for note in opened if note[0] == tick]
        elif kind == _PROGRAM:
            programs[status & 0x0F] = data1
        elif kind == _CONTROL:
            instrument(status & 0x0F, False).controls.append((tick, data1, data2))
        elif kind == _BEND:
            instrument(status & 0x0F, False).bends.append((tick, (data2 << 7 | data1) - 8192))


def _build_sequence(resolution: int, tempo_map: TempoMap, first: list, instruments: list):
    ns = NoteSequence(ticks_per_quarter=resolution)
    ns.tempos = tempo_map.tempos
    second = tempo_map.second
    for tick, message in first:
        if message.type == "time_signature":
            ns.time_signatures.append(
                TimeSignature(second(tick), message.numerator, message.denominator)
            )
        elif message.type == "key_signature":
            number = key_name_to_key_number(message.key)
            if number // 12 not in (0, 1):
                raise MidiError(f"invalid key number {number}")
            ns.key_signatures.append(KeySignature(second(tick), number % 12, number // 12))

    def seconds(ticks) -> list:
        return tempo_map.seconds(np.array(ticks, dtype=np.int64)).tolist()

    total_time = 0.0
    for index, inst in enumerate(instruments):
        program, is_drum = inst.program, inst.is_drum
        if inst.name:
            ns.instrument_infos.append(InstrumentInfo(index, inst.name))
        if inst.notes:
            starts, ends, pitches, velocities = zip(*inst.notes)
            end_times = seconds(ends)
            total_time = max(total_time, max(end_times))
            ns.notes += map(
                Note, pitches, velocities, seconds(starts), end_times,
                repeat(0), repeat(0), repeat(index), repeat(program), repeat(is_drum),
            )  # fmt: skip
        if inst.bends:
            ticks, bends = zip(*inst.bends)
            ns.pitch_bends += map(
                PitchBend, seconds(ticks), bends, repeat(index), repeat(program), repeat(is_drum)
            )
        if inst.controls:
            ticks, numbers, values = zip(*inst.controls)
            ns.control_changes += map(
                ControlChange, seconds(ticks), numbers, values,
                repeat(index), repeat(program), repeat(is_drum),
            )  # fmt: skip
    ns.total_time = total_time
    return ns
