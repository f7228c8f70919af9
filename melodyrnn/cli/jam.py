"""The jam and ports verbs: call and response with a model over real MIDI ports."""

from __future__ import annotations

import argparse
import time

from melodyrnn.cli.verbs import verb

API_CHOICES = ["auto", "alsa", "jack", "coremidi", "windows"]


def _add_ports(p: argparse.ArgumentParser) -> None:
    p.add_argument("--api", choices=API_CHOICES, default="auto", help="MIDI system (auto)")


@verb("ports", _add_ports, "list the MIDI ports a jam can listen to and play to")
def _run_ports(args) -> int:
    from melodyrnn.live.ports import midi_system

    system = midi_system(args.api)
    print(f"MIDI system: {system.api}")
    for title, names in (
        ("inputs (--input: what you play on)", system.input_names()),
        ("outputs (--output: what sounds)", system.output_names()),
    ):
        print(title)
        for name in names or ["(none)"]:
            print(f"  {name}")
    system.close()
    return 0


def _add_jam(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--input",
        required=True,
        help="port to listen to (see `melodyrnn ports`; "
        "a unique part of its name is enough; `virtual`: a new port)",
    )
    p.add_argument("--output", required=True, help="port to play the answers to (same rules)")
    p.add_argument("--model", help="the model to answer with (default: the shipped one)")
    p.add_argument("--api", choices=API_CHOICES, default="auto", help="MIDI system (auto)")
    tempo = p.add_argument_group("tempo")
    tempo.add_argument("--qpm", type=float, default=120.0, help="beats per minute (120)")
    tempo.add_argument(
        "--follow-clock",
        action="store_true",
        help="take the tempo from incoming MIDI clock (between calls)",
    )
    tempo.add_argument("--beats-per-bar", type=int, default=4, help="quarter notes a bar (4)")
    tempo.add_argument(
        "--metronome-channel",
        type=int,
        metavar="CH",
        help="click every beat on this channel (10: GM drums); off by default",
    )
    call = p.add_argument_group("when a call ends")
    call.add_argument(
        "--silence-beats",
        type=float,
        default=2.0,
        help="after this many beats of silence (2; 0: never)",
    )
    call.add_argument("--phrase-bars", type=int, help="after this many bars")
    call.add_argument(
        "--end-control",
        type=int,
        metavar="CC",
        help="when this controller goes down (64: the sustain pedal)",
    )
    call.add_argument(
        "--max-bars",
        type=int,
        default=8,
        help="the longest call; a player who never stops is answered (8)",
    )
    call.add_argument(
        "--lead",
        type=float,
        help="seconds kept for generating before the answer's bar (default: measured at start)",
    )
    answer = p.add_argument_group("the answer")
    answer.add_argument("--bars", type=int, help="the answer's length (default: the call's)")
    answer.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    answer.add_argument("--seed", type=int, help="random seed (answer k uses seed + k)")
    answer.add_argument("--channel", type=int, default=2, help="MIDI channel of the answer (2)")
    answer.add_argument("--program", type=int, help="General MIDI program of the answer, 0-127")
    answer.add_argument("--primer-bars", type=int, default=8, help="bars of the call heard (8)")
    answer.add_argument(
        "--ending",
        choices=["free", "bar", "tonic"],
        default="free",
        help="free, bar or tonic (end on the key's tonic) (free)",
    )
    answer.add_argument(
        "--chromatic", action="store_true", help="let the answer leave the call's key"
    )
    answer.add_argument("--no-echo", action="store_true", help="do not play the call through")
    answer.add_argument(
        "--loop", action="store_true", help="answer the answer until you play again"
    )
    p.add_argument("--log", help="session log MIDI file (default: jam-DATE-TIME.mid)")
    p.add_argument("--force", action="store_true", help="overwrite the log if it exists")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument("--stats", help="also write the session's timing as JSON to this file")


def _channel(value: int | None, name: str) -> int | None:
    from melodyrnn.errors import LiveError

    if value is None:
        return None
    if not 1 <= value <= 16:
        raise LiveError(f"{{{name}}} must be a MIDI channel 1..16, got {value}", parameters=(name,))
    return value - 1


def jam_options(args, lead: float):
    """The jam flags as :class:`~melodyrnn.live.call_response.JamOptions`."""
    from melodyrnn.generation.options import SamplingOptions
    from melodyrnn.live.call_response import JamOptions
    from melodyrnn.live.phrase import PhraseRules

    rules = PhraseRules(
        silence_beats=args.silence_beats or None,
        phrase_bars=args.phrase_bars,
        end_control=args.end_control,
        max_bars=args.max_bars,
        lead=lead,
    )
    return JamOptions(
        qpm=args.qpm,
        beats_per_bar=args.beats_per_bar,
        follow_clock=args.follow_clock,
        rules=rules,
        bars=args.bars,
        sampling=SamplingOptions(temperature=args.temperature, seed=args.seed),
        channel=_channel(args.channel, "channel"),
        program=args.program,
        echo=not args.no_echo,
        loop=args.loop,
        metronome_channel=_channel(args.metronome_channel, "metronome_channel"),
        primer_bars=args.primer_bars,
        ending=args.ending,
        in_key=not args.chromatic,
    )


def measure_lead(model, options) -> tuple[float, float]:
    """(seconds one answer takes, the lead to keep): a warm-up answer to a made-up call."""
    from melodyrnn.live.answer import AnswerRequest
    from melodyrnn.live.phrase import BeatGrid, PlayedNote

    grid = BeatGrid(0.0, options.qpm, options.beats_per_bar)
    beat = grid.beat_seconds
    notes = tuple(PlayedNote(60 + 2 * k, 90, k * beat, (k + 0.9) * beat) for k in range(4))
    bars = options.bars or options.rules.max_bars
    request = AnswerRequest(1, notes, grid, 0, 2, bars, options.sampling.replace(seed=0))
    took = min(request.generate(model).generate_seconds for _ in range(2))
    return took, max(0.1, 2.0 * took + 0.05)


@verb("jam", _add_jam, "play call and response with a model over MIDI ports")
def _run_jam(args) -> int:
    from melodyrnn.files import check_output_file
    from melodyrnn.generation.music_rnn import load_model
    from melodyrnn.live.answer import check_model
    from melodyrnn.live.ports import midi_system
    from melodyrnn.live.session import JamSession

    log = args.log or time.strftime("jam-%Y%m%d-%H%M%S.mid")
    check_output_file(log, force=args.force)
    options = jam_options(args, lead=args.lead if args.lead is not None else 0.25)
    model = load_model(args.model)
    check_model(model)
    system = midi_system(args.api)
    inport_name = args.input if args.input == "virtual" else system.find(args.input, "input")
    outport_name = args.output if args.output == "virtual" else system.find(args.output, "output")
    took, lead = measure_lead(model, options)
    if args.lead is None:
        options = jam_options(args, lead=lead)
    outport = system.open_output(outport_name)
    session = JamSession(
        model,
        options,
        lambda callback: system.open_input(inport_name, callback),
        outport,
        log_path=log,
        system=system,
        watch=(
            None if args.input == "virtual" else inport_name,
            None if args.output == "virtual" else outport_name,
        ),
        say=lambda line: print(line, flush=True),
    )
    shown = {"virtual": "a new port (virtual)"}
    print(
        f"listening to {shown.get(inport_name, repr(inport_name))}, answering on "
        f"{shown.get(outport_name, repr(outport_name))} ({system.api}), "
        f"{options.qpm:g} qpm, channel {options.channel + 1}; an answer takes {took:.2f} s, "
        f"lead {options.rules.lead:.2f} s; Ctrl-C to stop",
        flush=True,
    )
    report = session.run(args.duration)
    system.close()
    answers = len(report.answers)
    late = sum(a["late"] for a in report.answers)
    print(
        f"stopped ({report.ended}): {report.calls} call(s), {answers} answer(s)"
        f"{f', {late} late' if late else ''}; wrote {report.log}",
        flush=True,
    )
    if args.stats:
        _write_stats(args.stats, report, took, options)
    if report.error is not None:
        raise report.error
    return 0


def _write_stats(path, report, took: float, options) -> None:
    """The report as JSON: every answer's timing and the scheduler's lateness (seconds)."""
    import json

    from melodyrnn.files import write_bytes_atomically

    data = {
        "qpm": options.qpm,
        "lead": options.rules.lead,
        "warmup_generate_seconds": took,
        "calls": report.calls,
        "ended": report.ended,
        "answers": report.answers,
        "lateness": {
            role: [late for r, late in report.lateness if r == role]
            for role in sorted({r for r, _ in report.lateness})
        },
    }
    write_bytes_atomically(path, json.dumps(data, indent=1).encode())


__all__ = ["jam_options", "measure_lead"]
