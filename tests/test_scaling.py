"""Work that grows linearly with the input (issue 10, defects 4 and 5), shown by counting work.

Each reproducer of the issue is built here at two sizes, 8x apart, and what the code does is
counted, not timed: attribute reads of the notes and events it walks (by instrumented item
classes), or calls of pretty_midi's table rebuild. Linear work grows 8x; the quadratic code this
replaced grew 64x. bench/bench_scaling.py has the wall times.
"""

from __future__ import annotations

import io
import tracemalloc
from collections import Counter

import numpy as np
import pretty_midi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from melodyrnn.events.drums import extract_drum_tracks
from melodyrnn.events.melody import Melody, extract_melodies
from melodyrnn.io.midi import midi_to_sequence, sequence_to_midi_bytes, sequence_to_pretty_midi
from melodyrnn.io.midi_ticks import TickTable
from melodyrnn.pipelines import DatasetSettings, melodies_from_sequence
from melodyrnn.sequence import (
    InstrumentInfo,
    Note,
    NoteSequence,
    Tempo,
    TimeSignature,
    quantize_note_sequence,
    split_on_time_changes,
)

READS = Counter()


def counting(cls):
    """A subclass of an item dataclass that counts every attribute read of its instances."""

    class Counted(cls):
        __slots__ = ()

        def __getattribute__(self, name):
            READS[cls.__name__] += 1
            return object.__getattribute__(self, name)

    Counted.__name__ = f"Counted{cls.__name__}"
    return Counted


CNote, CTimeSignature, CTempo, CInfo = map(counting, (Note, TimeSignature, Tempo, InstrumentInfo))
BAR = 2.0  # seconds per 4/4 bar at 120 qpm


def reads(run, data) -> int:
    READS.clear()
    run(data)
    return sum(READS.values())


def assert_linear(build, run, n: int = 250):
    """Work per input item stays flat from n to 8n (quadratic work would grow 8x)."""
    small, large = reads(run, build(n)), reads(run, build(8 * n))
    assert small > 0
    assert large < 10 * small, f"work grew {large / small:.1f}x for 8x the input"


# --- the reproducers ---------------------------------------------------------------------------


def short_melodies(n: int) -> NoteSequence:
    """n two-note melodies, a bar of silence after each (the issue's 20,000-melody file)."""
    notes = []
    for i in range(n):
        t = i * 2 * BAR
        notes += [CNote(60 + i % 7, 80, t, t + 0.25), CNote(64, 80, t + 0.25, t + 0.5)]
    return NoteSequence(notes=notes, tempos=[Tempo(0.0, 120.0)], total_time=n * 2 * BAR)


def time_signature_changes(n: int) -> NoteSequence:
    """n bars alternating 4/4 and 3/4, a note in each, and a track name."""
    ns = NoteSequence(tempos=[CTempo(0.0, 120.0)], instrument_infos=[CInfo(0, "lead")])
    t = 0.0
    for i in range(n):
        numerator = 3 if i % 2 else 4
        ns.time_signatures.append(CTimeSignature(t, numerator, 4))
        ns.notes.append(CNote(60 + i % 12, 80, t, t + 0.5))
        t += numerator * 0.5
    ns.total_time = t
    return ns


def many_tracks(n: int) -> NoteSequence:
    """n instruments of four notes each, with names, over a few tempo changes."""
    notes = [
        CNote(60 + (i + k) % 12, 80, k * 0.5, k * 0.5 + 0.5, instrument=i)
        for i in range(n)
        for k in range(4)
    ]
    ns = NoteSequence(notes=notes, total_time=2.0)
    ns.tempos = [CTempo(0.0, 120.0), CTempo(0.5, 100.0), CTempo(1.0, 90.0)]
    ns.instrument_infos = [CInfo(i, f"track {i}") for i in range(n)]
    return ns


def pipeline(ns):
    return melodies_from_sequence(ns, DatasetSettings(), Counter())


def test_extracting_many_short_melodies_is_linear():
    def extract(ns):
        return extract_melodies(quantize_note_sequence(ns, 4, copy=False))

    assert_linear(short_melodies, extract)
    assert_linear(short_melodies, pipeline)


def test_splitting_on_many_time_signatures_is_linear():
    assert_linear(time_signature_changes, pipeline)
    assert_linear(time_signature_changes, split_on_time_changes)


def test_many_tracks_are_linear():
    assert_linear(many_tracks, pipeline)
    READS.clear()
    pipeline(many_tracks(100))
    assert READS["InstrumentInfo"] == 0  # the pipeline does not copy names into every piece


def test_many_drum_tracks_are_linear():
    def drums(n):
        notes = []
        for i in range(n):
            t = i * 2 * BAR
            notes += [CNote(36, 80, t, t + 0.1, is_drum=True), CNote(42, 80, t + 0.5, t + 0.6)]
            notes[-1].is_drum = True
        ns = NoteSequence(notes=notes, tempos=[Tempo(0.0, 120.0)], total_time=n * 2 * BAR)
        return quantize_note_sequence(ns, copy=False)

    assert_linear(drums, extract_drum_tracks)


def test_the_index_finds_what_a_fresh_search_finds():
    """extract_melodies (one sorted index) gives the melodies of note-seq's loop of fresh
    searches, with skipped notes, chords, a second instrument and drums in the way."""
    ns = short_melodies(12)
    ns.notes += [
        Note(70, 0, 4.0, 4.5),  # velocity 0
        Note(71, 90, 4.0, 4.4),  # starts with another note
        Note(40, 90, 9.0, 9.5, is_drum=True),
        Note(72, 90, 8.0, 8.1, instrument=1),
        Note(74, 90, 8.1, 8.9, instrument=1),
    ]
    qns = quantize_note_sequence(ns, 4)
    melodies, _ = extract_melodies(qns, min_bars=0, min_unique_pitches=0)
    expected = []
    for instrument in (0, 1):
        step = 0
        while m := Melody.from_quantized_sequence(
            qns, search_start_step=step, instrument=instrument, ignore_polyphonic_notes=True
        ):
            expected.append(m)
            step = m.end_step + (-m.end_step) % m.steps_per_bar
    assert len(melodies) == 13
    assert melodies == expected


# --- writing many tempo changes ----------------------------------------------------------------


def old_tick_scales(resolution: int, tempos: list[Tempo]):
    """The former writer loop: pretty_midi's time_to_tick, then a table rebuild per tempo."""
    initial = next((t for t in tempos if t.time == 0), None)
    pm = pretty_midi.PrettyMIDI(
        resolution=resolution, initial_tempo=initial.qpm if initial else 120.0
    )
    for tempo in tempos:
        if tempo == initial:
            continue
        pm._tick_scales.append((pm.time_to_tick(tempo.time), 60.0 / (resolution * tempo.qpm)))
        pm._update_tick_to_time(0)
    return pm


def table_of(pm):
    return list(pm._PrettyMIDI__tick_to_time)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    resolution=st.sampled_from([1, 24, 96, 220, 256, 384, 480, 1024]),
    qpms=st.lists(st.sampled_from([30.0, 60.0, 97.5, 120.0, 133.3, 240.0, 500.0]), max_size=30),
    # Times on a fine dyadic grid, so events fall exactly halfway between ticks (ties).
    steps=st.lists(st.integers(0, 4096), max_size=30),
    start_at_zero=st.booleans(),
)
def test_tempo_ticks_match_pretty_midi(resolution, qpms, steps, start_at_zero):
    times = sorted(s / 512 for s in steps)[: len(qpms)]
    tempos = [Tempo(t, q) for t, q in zip(times, qpms)]
    if start_at_zero:
        tempos.insert(0, Tempo(0.0, 100.0))
    ns = NoteSequence(tempos=tempos, ticks_per_quarter=resolution)
    ns.notes = [Note(60, 90, t, t + 0.1) for t in times]
    old, new = old_tick_scales(resolution, tempos), sequence_to_pretty_midi(ns)
    assert new._tick_scales == old._tick_scales
    assert table_of(new) == table_of(old)
    old_bytes = io.BytesIO()
    old.instruments = new.instruments
    old.write(old_bytes)
    assert sequence_to_midi_bytes(ns) == old_bytes.getvalue()


def test_tempo_ticks_replay_a_step_back():
    """A tempo that rounds one tick below the last one: pretty_midi rewrites the table's tail."""
    ticks = TickTable([(0, 60.0 / (256 * 120.0))], 0)
    ticks.add(10, 60.0 / (256 * 60.0))
    ticks.add(9, 60.0 / (256 * 90.0))  # as pretty_midi would store it
    pm = pretty_midi.PrettyMIDI(resolution=256, initial_tempo=120.0)
    pm._tick_scales += [(10, 60.0 / (256 * 60.0)), (9, 60.0 / (256 * 90.0))]
    pm._update_tick_to_time(0)
    assert ticks.scales == pm._tick_scales
    assert list(ticks.values(np.arange(ticks.top + 1))) == table_of(pm)
    for time in (0.0, 0.01, 0.03, 0.05, 1.0, 100.0):
        assert ticks.time_to_tick(time) == pm.time_to_tick(time)


def test_tick_table_of_scales_that_do_not_start_at_tick_0():
    """pretty_midi leaves zeros before a first scale that starts late (a hand-made PrettyMIDI)."""
    pm = pretty_midi.PrettyMIDI(resolution=96)
    pm._tick_scales = [(5, 0.01), (8, 0.02), (8, 0.03), (7, 0.005)]
    pm._update_tick_to_time(12)
    table = TickTable.of(pm)
    assert list(table.values(np.arange(13))) == table_of(pm)
    times = [-1.0, 0.0, 0.004, 0.02, 0.0301, 0.05, 0.2, 3.0]
    assert list(table.times_to_ticks(times)) == [pm.time_to_tick(t) for t in times]


def test_writing_many_tempo_changes_never_builds_the_table(monkeypatch):
    calls = Counter()
    rebuild = pretty_midi.PrettyMIDI._update_tick_to_time

    def counted(self, max_tick):
        calls["rebuild"] += 1
        return rebuild(self, max_tick)

    monkeypatch.setattr(pretty_midi.PrettyMIDI, "_update_tick_to_time", counted)
    n = 2000
    ns = NoteSequence(tempos=[Tempo(i * 0.5, 100.0 + i % 50) for i in range(n)])
    ns.notes = [Note(60 + i % 12, 80, i * 0.5, i * 0.5 + 0.25) for i in range(n)]
    ns.total_time = n * 0.5
    data = sequence_to_midi_bytes(ns)
    assert calls["rebuild"] == 0  # the bytes come from TickTable, not pretty_midi's table
    assert data.count(b"\xff\x51\x03") == n  # every tempo change written
    pm = sequence_to_pretty_midi(ns)  # a PrettyMIDI for the caller: its table is a TickTable
    assert calls["rebuild"] == 0
    assert len(pm._PrettyMIDI__tick_to_time) == pm._tick_scales[-1][0] + 1
    genuine = pretty_midi.PrettyMIDI(resolution=220)
    genuine._tick_scales = list(pm._tick_scales)
    genuine._update_tick_to_time(0)
    times = [i * 0.37 for i in range(3000)]
    assert [pm.time_to_tick(t) for t in times] == [genuine.time_to_tick(t) for t in times]


def test_writing_a_long_high_resolution_score_takes_memory_of_its_events_not_its_ticks():
    # music21 writes 10,080 ticks a quarter: 2,500 quarters (Beethoven's Grosse Fuge is 2,232)
    # with a tempo change at the end is 25 million ticks, 200 MB of pretty_midi's table.
    ns = NoteSequence(tempos=[Tempo(0.0, 120.0), Tempo(1249.0, 60.0)], ticks_per_quarter=10_080)
    ns.notes = [Note(60 + i % 12, 80, i * 0.5, i * 0.5 + 0.25) for i in range(2_500)]
    ns.total_time = 1250.0
    tracemalloc.start()
    data = sequence_to_midi_bytes(ns)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 * 2**20, peak
    back = midi_to_sequence(data)
    assert back.tempos[-1].time == pytest.approx(1249.0)
    assert [n.start_time for n in back.notes] == pytest.approx([n.start_time for n in ns.notes])


def test_a_tempo_change_past_the_tick_limit_is_refused(monkeypatch):
    from melodyrnn.errors import LimitError

    monkeypatch.setenv("MELODYRNN_MAX_TICKS", "100000")
    ns = NoteSequence(tempos=[Tempo(0.0, 120.0), Tempo(10_000.0, 90.0)])
    with pytest.raises(LimitError, match="MELODYRNN_MAX_TICKS"):
        sequence_to_midi_bytes(ns)  # refused before a table of 4.4 million ticks is built
    ns.tempos[1].time = 100.0
    assert sequence_to_midi_bytes(ns)
