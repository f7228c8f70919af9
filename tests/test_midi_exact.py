"""melodyrnn.io.midi_exact: pretty_midi's reading rules on mido's events, checked against
mido + pretty_midi themselves on hand-made files and on random event streams."""

from __future__ import annotations

import io

import mido
import pytest
from helpers import ALL_MIDI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from melodyrnn.io.midi import midi_to_sequence
from melodyrnn.io.midi_checks import ReadLimits, check_tracks
from melodyrnn.io.midi_events import scan_file
from melodyrnn.io.midi_exact import read_exact


def exact(data: bytes):
    scanned = scan_file(data, "here", ReadLimits.resolve())
    check_tracks(*scanned.header, scanned.summaries, "here", ReadLimits.resolve())
    return read_exact(scanned, "here")


def reference(data: bytes):
    return midi_to_sequence(data, backend="pretty_midi")


def midi_bytes(tracks: list[list], ticks_per_beat: int = 96) -> bytes:
    """A type-1 file of ``tracks``: lists of (absolute tick, mido message)."""
    midi = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    for events in tracks:
        track = mido.MidiTrack()
        now = 0
        for tick, message in sorted(events, key=lambda e: e[0]):
            track.append(message.copy(time=tick - now))
            now = tick
        midi.tracks.append(track)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def on(tick, note, velocity=80, channel=0):
    return tick, mido.Message("note_on", note=note, velocity=velocity, channel=channel)


def off(tick, note, channel=0, as_note_on=False):
    kind = "note_on" if as_note_on else "note_off"
    return tick, mido.Message(kind, note=note, velocity=0, channel=channel)


def test_the_rules_pretty_midi_has_and_symusic_cannot_see():
    """Each construct that midi_fast refuses, in one file: a chord whose notes end on one tick
    (listed in note-off order), overlapping notes of one key (all end at the next note-off),
    a note on and off on one tick (dropped), a program change under a sounding note (the
    program at the note-off counts), control changes before the first note (a straggler whose
    list two instruments then share) and a track name that changes between instruments."""
    conductor = [
        (0, mido.MetaMessage("set_tempo", tempo=500_000)),
        (96, mido.MetaMessage("set_tempo", tempo=400_000)),
        (96, mido.MetaMessage("time_signature", numerator=3, denominator=4)),
        (192, mido.MetaMessage("key_signature", key="Em")),
    ]
    notes = [
        (0, mido.MetaMessage("track_name", name="first name")),
        (0, mido.Message("control_change", control=64, value=127)),
        (0, mido.Message("pitchwheel", pitch=-300)),
        on(0, 64), on(0, 60), on(0, 67),
        off(96, 67), off(96, 60, as_note_on=True), off(96, 64),
        on(100, 62), on(110, 62), off(120, 62),
        on(130, 65), off(130, 65), on(130, 65), off(140, 65),
        (141, mido.MetaMessage("track_name", name="second")),
        on(150, 70), (160, mido.Message("program_change", program=40)), off(170, 70),
        (175, mido.Message("control_change", control=7, value=90)),
        on(180, 38, channel=9), off(190, 38, channel=9),
    ]  # fmt: skip
    data = midi_bytes([conductor, notes])
    ours, theirs = exact(data), reference(data)
    assert ours == theirs
    # the rules above, seen in the result
    assert [n.pitch for n in theirs.notes if n.end_time == theirs.notes[0].end_time][:3] == [
        67, 60, 64
    ]  # fmt: skip
    assert {n.program for n in theirs.notes} == {0, 40}
    assert len(theirs.control_changes) > 2  # the straggler's events, listed twice


@pytest.mark.parametrize("path", ALL_MIDI, ids=lambda p: p.name)
def test_every_fixture_reads_as_the_reference_reads_it(path):
    data = path.read_bytes()
    assert exact(data) == reference(data)


messages = st.one_of(
    st.tuples(st.just("note_on"), st.integers(58, 62), st.integers(0, 127)),
    st.tuples(st.just("note_off"), st.integers(58, 62), st.just(0)),
    st.tuples(st.just("program_change"), st.integers(0, 3), st.just(0)),
    st.tuples(st.just("control_change"), st.integers(0, 2), st.integers(0, 127)),
    st.tuples(st.just("pitchwheel"), st.integers(-8192, 8191), st.just(0)),
    st.tuples(st.just("track_name"), st.sampled_from(["a", "b", ""]), st.just(0)),
)
tracks = st.lists(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 2), messages),  # delta, channel, message
        max_size=40,
    ),
    min_size=1,
    max_size=3,
)


def _build(kind, a, b, channel):
    if kind == "note_on":
        return mido.Message("note_on", note=a, velocity=b, channel=channel)
    if kind == "note_off":
        return mido.Message("note_off", note=a, channel=channel)
    if kind == "program_change":
        return mido.Message("program_change", program=a, channel=channel)
    if kind == "control_change":
        return mido.Message("control_change", control=a, value=b, channel=channel)
    if kind == "pitchwheel":
        return mido.Message("pitchwheel", pitch=a, channel=channel)
    return mido.MetaMessage("track_name", name=a)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tracks, st.lists(st.integers(1, 200), max_size=4))
def test_random_event_streams_read_as_the_reference_reads_them(streams, tempo_ticks):
    conductor = [(t, mido.MetaMessage("set_tempo", tempo=300_000 + 1000 * t)) for t in tempo_ticks]
    built = [conductor]
    for stream in streams:
        tick, events = 0, []
        for delta, channel, (kind, a, b) in stream:
            tick += delta
            events.append((tick, _build(kind, a, b, 9 if channel == 2 else channel)))
        built.append(events)
    data = midi_bytes(built)
    assert exact(data) == reference(data)
