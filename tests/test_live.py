"""The live layer without ports: phrase detection, scheduling, the log, the session's guards.

Times are made up (seconds on a pretend clock), so nothing here depends on how fast the machine
is; the real-port tests are in test_jam_ports.py.
"""

from __future__ import annotations

import sys

import mido
import numpy as np
import pytest
import torch

from melodyrnn.errors import LiveError, PortError
from melodyrnn.generation.music_rnn import MusicRNN
from melodyrnn.generation.options import SamplingOptions
from melodyrnn.live.answer import AnswerRequest, check_model
from melodyrnn.live.call_response import CallAndResponse, JamOptions
from melodyrnn.live.log import SessionLog
from melodyrnn.live.phrase import BeatGrid, ClockTempo, Phrase, PhraseRules, PlayedNote
from melodyrnn.live.scheduler import Scheduler
from melodyrnn.models.configs import get_config
from melodyrnn.models.rnn import EventRNN

BEAT = 0.5  # 120 qpm
BAR = 2.0
D_MAJOR = {2, 4, 6, 7, 9, 11, 1}


def tiny(name: str = "basic_rnn", seed: int = 0) -> MusicRNN:
    config = get_config(name, layer_sizes=[16])
    torch.manual_seed(seed)
    return MusicRNN(EventRNN.from_config(config), config)


@pytest.fixture(scope="module")
def model():
    return tiny()


def on(pitch, velocity=90, channel=0):
    return mido.Message("note_on", note=pitch, velocity=velocity, channel=channel)


def off(pitch, channel=0):
    return mido.Message("note_off", note=pitch, channel=channel)


def phrase(pitches, start, beat=BEAT, length=0.9):
    """Quarter notes from ``start``: (time, message) pairs in time order."""
    out = []
    for k, pitch in enumerate(pitches):
        out += [(start + k * beat, on(pitch)), (start + (k + length) * beat, off(pitch))]
    return sorted(out, key=lambda e: e[0])


def run(jam, start, stop, events=(), step=0.01, horizon=0.0):
    """Feed ``events`` and poll every ``step`` from ``start`` to ``stop``, in time order, as a
    live loop does; everything returned (echo included)."""
    events = sorted(events, key=lambda e: e[0])
    out, t, k = [], start, 0
    while t < stop:
        while k < len(events) and events[k][0] <= t:
            out += jam.feed(events[k][1], events[k][0])
            k += 1
        out += jam.poll(t, horizon)
        t = round(t + step, 9)
    return out


def notes_of(items, channel=1):
    """(start, pitch, end) of the notes among scheduled items on ``channel``."""
    open_, notes = {}, []
    for item in sorted(items, key=lambda i: i.time):
        m = item.message
        if getattr(m, "channel", None) != channel:
            continue
        if m.type == "note_on" and m.velocity:
            open_[m.note] = item.time
        elif m.type in ("note_on", "note_off") and m.note in open_:
            notes.append((open_.pop(m.note), m.note, item.time))
    return sorted(notes), open_


# --- the grid, the clock, the phrase -----------------------------------------------------------


def test_grid_bar_lines_and_a_tempo_change_keep_the_beat():
    grid = BeatGrid(10.0, 120.0, 4)
    assert grid.bar_at(11.99) == 0 and grid.bar_at(12.0) == 1
    assert grid.next_bar(12.0) == 1 and grid.next_bar(12.01) == 2
    assert grid.bar_time(3) == 16.0
    grid.retempo(60.0, 13.0)  # beat 6 at 13 s, now one beat a second
    assert grid.beat_at(13.0) == pytest.approx(6.0)
    assert grid.time_at(8.0) == pytest.approx(15.0)
    with pytest.raises(LiveError, match="qpm"):
        BeatGrid(0.0, 1000.0)


def test_clock_tempo_from_24_pulses_a_quarter():
    clock = ClockTempo()
    assert clock.qpm is None
    for k in range(30):
        clock.pulse(5.0 + k * 0.025)  # 24 pulses in 0.6 s: 100 qpm
    assert clock.qpm == pytest.approx(100.0)
    clock.pulse(20.0)  # a stopped clock starts afresh
    assert clock.qpm is None


def test_phrase_ends_after_the_silence_and_not_while_a_note_is_held():
    grid = BeatGrid(0.0, 120.0)
    phrase = Phrase(grid, PhraseRules(silence_beats=2.0, max_bars=8), start=0.0)
    phrase.note_on(60, 90, 0.0)
    assert phrase.end_time(5.0) is None  # held
    phrase.note_off(60, 1.3)
    assert phrase.end_time(2.29) is None
    assert phrase.end_time(2.31) == (pytest.approx(2.3), "silence")


def test_phrase_of_n_bars_closes_the_lead_before_its_bar_line():
    grid = BeatGrid(0.0, 120.0)
    rules = PhraseRules(silence_beats=None, phrase_bars=2, lead=0.2)
    phrase = Phrase(grid, rules, start=0.5)  # bar 0
    phrase.note_on(60, 90, 0.5)
    assert phrase.end_time(3.7) is None
    assert phrase.end_time(3.8) == (pytest.approx(3.8), "phrase bars")
    closed = phrase.closed_notes(3.8)
    assert [(n.pitch, n.start, n.end) for n in closed] == [(60, 0.5, 3.8)]  # held: cut there


def test_the_end_control_fires_when_pressed_not_released():
    phrase = Phrase(BeatGrid(0.0), PhraseRules(silence_beats=None, end_control=64), start=0.0)
    phrase.note_on(60, 90, 0.0)
    phrase.control(64, 0, 0.5)
    assert phrase.end_time(0.6) is None
    phrase.control(64, 127, 0.7)
    assert phrase.end_time(0.8) == (0.7, "control 64")


def test_a_player_who_never_stops_is_answered_after_the_longest_phrase(model):
    jam = CallAndResponse(model, JamOptions(rules=PhraseRules(max_bars=2, lead=0.25), bars=1))
    legato = phrase([62, 64, 66, 67] * 4, start=0.0, length=1.0)  # 4 bars and more
    out = run(jam, 0.0, 8.0, legato)
    # closed at bar 2 minus the lead (3.75 s); the answer on bar 2 (4 s), one bar long.
    assert jam.stats["answers"] == 1
    notes, sounding = notes_of(out)
    assert notes and not sounding
    assert notes[0][0] >= 4.0 and notes[-1][2] <= 6.0 + 1e-9
    # notes played over the answer are not a call; the first one after it starts the next
    assert jam.stats["calls"] == 2 and jam.phrase.start == 6.0


def test_rules_need_an_end_and_options_check_channels():
    with pytest.raises(LiveError, match="needs an end"):
        PhraseRules(silence_beats=None)
    with pytest.raises(LiveError) as exc:
        JamOptions(channel=16)
    assert exc.value.worded({"channel": "--channel"}).startswith("--channel must be")


# --- answers -----------------------------------------------------------------------------------


def test_the_answer_starts_on_the_next_bar_in_the_key_and_register_on_the_grid(model):
    options = JamOptions(sampling=SamplingOptions(seed=5), bars=2)
    jam = CallAndResponse(model, options)
    out = run(jam, 100.0, 107.0, phrase([62, 64, 66, 67, 69, 71, 69, 66], start=100.0))
    # last note off at 103.725; silence 2 beats: 104.725; + lead 0.25 -> bar line at 106.
    assert jam.answer is not None and jam.answer.start == 106.0
    out += run(jam, 107.0, 112.0)
    echo = [i for i in out if i.role == "echo"]
    assert len(echo) == 16 and echo[0].time == 100.0 and echo[0].message == on(62)
    out = [i for i in out if i.role != "echo"]
    notes, sounding = notes_of(out)
    assert notes and not sounding
    assert notes[0][0] >= 106.0 and notes[-1][2] <= 110.0 + 1e-9
    for start, pitch, end in notes:
        assert (start - 100.0) / 0.125 == pytest.approx(round((start - 100.0) / 0.125))
        assert end > start
        assert pitch % 12 in D_MAJOR
        assert 62 - 5 <= pitch <= 71 + 5  # the call's register, as for a file's primer
    assert all(i.time >= 106.0 for i in out)


def test_same_seed_same_answer_and_answer_k_uses_seed_plus_k(model):
    def first_answer(seed):
        jam = CallAndResponse(model, JamOptions(sampling=SamplingOptions(seed=seed), bars=2))
        return notes_of(run(jam, 0.0, 8.0, phrase([60, 62, 64, 65], start=0.0)))[0]

    assert first_answer(7) == first_answer(7)
    assert first_answer(7) != first_answer(8)


def test_a_late_answer_moves_to_the_next_bar_and_a_cut_one_is_dropped(model):
    jam = CallAndResponse(model, JamOptions(bars=1), generate_inline=False)
    run(jam, 0.0, 3.5, phrase([60, 62, 64, 65], start=0.0))
    request = jam.take_request()
    assert request is not None and jam.take_request() is None
    assert request.start == 4.0  # last off 1.95, silence to 2.95, + lead: bar 2 at 4 s
    answer = request.generate(model)
    assert jam.deliver(answer, now=4.3)  # past its bar line
    assert jam.answer.start == 6.0 and jam.stats["late"] == 1
    shift = [b.start - a.start for a, b in zip(answer.notes, jam.answer.notes)]
    assert shift and all(s == pytest.approx(2.0) for s in shift)
    jam.cut(4.4)
    assert not jam.deliver(answer, now=4.5)  # stale
    assert run(jam, 4.4, 9.0) == []


def test_loop_answers_its_own_answer_until_the_player_plays(model):
    jam = CallAndResponse(model, JamOptions(bars=1, loop=True, sampling=SamplingOptions(seed=1)))
    out = run(jam, 0.0, 9.9, phrase([60, 62, 64, 65], start=0.0))
    assert jam.stats["answers"] >= 3  # bars 2, 3, 4 (and asked for 5)
    starts = [i.time for i in out if i.role == "answer" and i.message.type == "note_on"]
    assert min(starts) >= 4.0
    # A note from the player cuts the loop: the sounding answer note ends then.
    cut = jam.feed(on(67), 10.0)
    assert jam.stats["cut"] == 1 and jam.phrase is not None
    offs = [i for i in cut if i.role == "off"]
    ended = {(i.message.channel, i.message.note) for i in offs}
    _, sounding = notes_of(out)
    assert ended == {(1, p) for p in sounding}


def test_stop_ends_every_sounding_note_and_sends_all_notes_off(model):
    jam = CallAndResponse(model, JamOptions(bars=2, metronome_channel=9))
    jam.feed(on(60), 0.0)  # held, echoed
    out = jam.stop(0.3)
    offs = [(m.message.type, m.message.channel) for m in out]
    assert ("note_off", 0) in offs
    assert [c for t, c in offs if t == "control_change"] == [0, 1, 9]
    assert all(m.message.control == 123 for m in out if m.message.type == "control_change")


def test_metronome_clicks_every_beat_from_the_first_note(model):
    jam = CallAndResponse(model, JamOptions(metronome_channel=9, bars=1))
    jam.feed(on(60), 1.0)
    clicks = [i for i in run(jam, 1.0, 3.001) if i.role == "metronome"]
    ons = [(i.time, i.message.note) for i in clicks if i.message.type == "note_on"]
    assert ons == [(1.0, 76), (1.5, 77), (2.0, 77), (2.5, 77), (3.0, 76)]


def test_the_tempo_follows_an_incoming_clock(model):
    jam = CallAndResponse(model, JamOptions(follow_clock=True, qpm=120, bars=1))
    for k in range(48):
        jam.feed(mido.Message("clock"), k * 60.0 / (90 * 24))  # 90 qpm
    jam.feed(on(60), 2.0)
    assert jam.grid.qpm == pytest.approx(90.0)


def test_the_end_control_is_not_echoed(model):
    jam = CallAndResponse(model, JamOptions(rules=PhraseRules(end_control=64)))
    out = jam.feed(mido.Message("control_change", control=64, value=127), 0.0)
    out += jam.feed(mido.Message("control_change", control=1, value=5), 0.0)
    assert [i.message.control for i in out] == [1]


def test_drum_and_chord_models_are_refused():
    with pytest.raises(LiveError, match="drum"):
        check_model(tiny("drum_kit_rnn"))
    with pytest.raises(LiveError, match="chords"):
        check_model(tiny("chord_pitches_improv"))


def test_the_primer_is_the_call_from_its_bar_up_to_the_answer():
    grid = BeatGrid(10.0, 120.0)
    notes = (PlayedNote(64, 80, 10.5, 10.9), PlayedNote(67, 100, 11.0, 13.0))
    request = AnswerRequest(1, notes, grid, 0, 2, 1, SamplingOptions())
    seq = request.primer_sequence()
    assert [(n.pitch, n.start_time, n.end_time) for n in seq.notes] == [
        (64, 0.5, pytest.approx(0.9)),
        (67, 1.0, 3.0),
    ]
    assert seq.total_time == 4.0 and seq.tempos[0].qpm == 120.0


# --- log, scheduler, session ---------------------------------------------------------------------


def test_the_log_puts_tick_0_on_a_bar_line_and_closes_open_notes(tmp_path):
    log = SessionLog()
    log.record(11.0, on(60), "player")
    log.record(11.5, off(60), "player")
    log.record(12.0, on(67, channel=1), "answer")
    log.record(12.1, mido.Message("clock"), "player")  # not a channel message: not kept
    path = log.write(tmp_path / "log.mid", qpm=120.0, origin=10.0)
    midi = mido.MidiFile(path)
    player = [(m.type, m.time) for m in midi.tracks[1] if not m.is_meta]
    assert player == [("note_on", 960), ("note_off", 480)]  # beat 2, then a beat later
    answer = [(m.type, m.note) for m in midi.tracks[2] if not m.is_meta]
    assert answer == [("note_on", 67), ("note_off", 67)]  # closed at the end


def test_the_log_keeps_at_most_max_events():
    log = SessionLog(max_events=3)
    for k in range(5):
        log.record(float(k), on(60), "player")
    assert len(log) == 3 and log.dropped == 2


def test_scheduler_sends_in_time_order_and_returns_what_it_never_sent():
    from melodyrnn.live.call_response import Scheduled

    sent = []
    clock = [100.0]
    scheduler = Scheduler(sent.append, clock=lambda: clock[0])
    scheduler.schedule([Scheduled(99.0, on(62)), Scheduled(98.0, on(61)), Scheduled(1e9, on(70))])
    for _ in range(1000):
        if len(sent) == 2:
            break
        import time

        time.sleep(0.001)
    left = scheduler.stop()
    assert [m.note for m in sent] == [61, 62]
    assert [i.message.note for i in left] == [70]
    assert [role for role, _ in scheduler.lateness] == ["answer", "answer"]


class FakeOut:
    def __init__(self):
        self.sent = []

    def send(self, message):
        self.sent.append(message)

    def close(self):
        pass


class FakeIn:
    def close(self):
        pass


def test_a_flood_of_messages_ends_the_session_with_the_log_kept(model, tmp_path, monkeypatch):
    from melodyrnn.live.session import JamSession

    monkeypatch.setenv("MELODYRNN_MAX_JAM_QUEUE", "8")
    callbacks = []

    def opener(callback):
        callbacks.append(callback)
        return FakeIn()

    out = FakeOut()
    session = JamSession(model, JamOptions(), opener, out, log_path=tmp_path / "j.mid", say=None)
    for k in range(50):
        callbacks[0](on(60 + k % 12) if k % 2 == 0 else off(60 + (k - 1) % 12))
    assert session.queue.qsize() == 8  # bounded
    report = session.run(duration=10.0)
    assert isinstance(report.error, LiveError) and "flooded" in str(report.error)
    assert report.ended == "error"
    assert any(m.type == "control_change" and m.control == 123 for m in out.sent)
    midi = mido.MidiFile(tmp_path / "j.mid")
    assert len([m for m in midi.tracks[1] if m.type == "note_on" and m.velocity]) == 4


def test_no_midi_backend_says_how_to_install_one(monkeypatch):
    from melodyrnn.live.ports import midi_system

    monkeypatch.setitem(sys.modules, "rtmidi", None)
    with pytest.raises(PortError, match=r"no MIDI backend is installed: pip install"):
        midi_system()


def test_an_unknown_api_is_one_line():
    pytest.importorskip("rtmidi")
    from melodyrnn.live.ports import midi_system

    with pytest.raises(PortError, match="api"):
        midi_system("beos")


def test_the_cli_refuses_a_drum_model_in_one_line(tmp_path, capsys):
    from melodyrnn.cli import main

    tiny("drum_kit_rnn").save(tmp_path / "drums")
    code = main(
        ["jam", "--input", "virtual", "--output", "virtual", "--model", str(tmp_path / "drums"),
         "--log", str(tmp_path / "x.mid")]
    )  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "drum" in err[0] and "--model" in err[0]


def test_answer_events_never_leave_midi(model):
    # A call at the top of the keyboard: the answer stays inside 0..127 and on the grid.
    jam = CallAndResponse(model, JamOptions(bars=1, in_key=False))
    notes, _ = notes_of(run(jam, 0.0, 6.0, phrase([120, 124, 127], start=0.0)))
    assert notes and all(0 <= p <= 127 for _, p, _ in notes)
    assert np.all(np.diff([s for s, _, _ in notes]) >= 0)


def test_a_call_played_a_little_early_starts_on_the_bar_line_it_anticipates():
    grid = BeatGrid(0.0, 120.0)
    early = Phrase(grid, PhraseRules(), start=3.99)  # 10 ms before bar 2
    late = Phrase(grid, PhraseRules(), start=3.9)  # a 16th before: still bar 1
    assert early.start_bar == 2 and late.start_bar == 1
    notes = (PlayedNote(62, 90, 3.99, 4.4), PlayedNote(64, 90, 4.5, 4.9))
    request = AnswerRequest(1, notes, grid, 2, 4, 1, SamplingOptions())
    assert [n.start_time for n in request.primer_sequence().notes] == [0.0, pytest.approx(0.5)]


def test_the_answer_sets_its_program_before_its_first_note(model):
    jam = CallAndResponse(model, JamOptions(bars=1, program=73, channel=4))
    out = run(jam, 0.0, 6.0, phrase([60, 62, 64, 65], start=0.0))
    answer = [i for i in out if i.role == "answer"]
    assert answer[0].message.type == "program_change" and answer[0].message.program == 73
    assert answer[0].time == 4.0 and {i.message.channel for i in answer} == {4}


def test_no_running_midi_system_is_one_line_saying_how_to_start_one():
    pytest.importorskip("rtmidi")
    import os
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root), JACK_DEFAULT_SERVER="melodyrnn-no-such-server")
    env["JACK_NO_START_SERVER"] = "1"
    result = subprocess.run(
        [sys.executable, "-m", "melodyrnn", "ports", "--api", "jack"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("melodyrnn: error: no MIDI system is running (jack: ")
    assert "jackd -d dummy" in lines[0]
