"""Verbs about files: inspect, encode, render, inspect-model."""

from __future__ import annotations

import argparse

from melodyrnn.cli.verbs import FlagSpellings, print_json, print_rendered, verb
from melodyrnn.errors import MelodyRNNError

# --- inspect ----------------------------------------------------------------------------


def _add_inspect(p: argparse.ArgumentParser) -> None:
    p.add_argument("midi", help="a .mid/.midi file")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


@verb("inspect", _add_inspect, "summarise a MIDI file: tracks, notes, tempos, meter, keys")
def _run_inspect(args) -> int:
    from melodyrnn.io.midi import midi_to_sequence
    from melodyrnn.summary import format_summary, summarize

    summary = summarize(midi_to_sequence(args.midi))
    if args.json:
        print_json(summary)
    else:
        print(format_summary(summary))
    return 0


# --- encode -------------------------------------------------------------------------------


def _add_encode(p: argparse.ArgumentParser) -> None:
    from melodyrnn.training.tokens import ENCODINGS

    p.add_argument("midi", help="a .mid/.midi file")
    p.add_argument(
        "--encoding",
        default="basic_rnn",
        choices=list(ENCODINGS),
        help="Magenta's training pipeline for a config, or magenta.js's converter "
        "(default: basic_rnn)",
    )
    p.add_argument(
        "--keep-highest",
        action="store_true",
        help="keep the top note where notes start together instead of dropping the track",
    )
    p.add_argument("--json", action="store_true", help="print JSON")


@verb("encode", _add_encode, "print the model tokens Magenta or magenta.js would make of a file")
def _run_encode(args) -> int:
    from melodyrnn.io.midi import midi_to_sequence
    from melodyrnn.training.tokens import encode_sequence

    ns = midi_to_sequence(args.midi)
    try:
        result = encode_sequence(ns, args.encoding, keep_highest=args.keep_highest)
    except MelodyRNNError as exc:
        raise exc.with_prefix(f"{args.midi}: ") from None
    if args.json:
        print_json({"file": args.midi, **result.to_dict(FlagSpellings())})
        return 0
    print(f"{args.midi}: {len(result.sections)} section(s) with encoding {args.encoding}")
    if result.reason:
        print(f"no tokens: {result.worded_reason(FlagSpellings())}")
    for i, section in enumerate(result.sections, 1):
        print(
            f"section {i}: start step {section.start_step}, {len(section.events)} steps, "
            f"transposed by {section.transposed_by:+d}"
        )
        tokens = [str(int(t)) for t in section.tokens]
        for start in range(0, len(tokens), 16):
            print("  " + " ".join(t.rjust(3) for t in tokens[start : start + 16]))
    return 0


# --- render ----------------------------------------------------------------------------------


def _add_render(p: argparse.ArgumentParser) -> None:
    p.add_argument("midi", help="a .mid/.midi file")
    p.add_argument("--png", action="store_true", help="draw a piano roll (FILE.png)")
    p.add_argument("--wav", action="store_true", help="render audio (FILE.wav)")
    p.add_argument("-o", "--output-dir", help="folder for the files (default: beside the MIDI)")
    p.add_argument(
        "--continuation-start",
        type=float,
        help="seconds where a continuation starts (notes after it get their own colour)",
    )
    p.add_argument("--soundfont", help="a General MIDI .sf2 soundfont for --wav")
    p.add_argument(
        "--full", action="store_true",
        help="with --continuation-start: the whole file (default: from 8 bars before it)",
    )  # fmt: skip
    p.add_argument("--force", action="store_true", help="overwrite existing files")


@verb("render", _add_render, "draw a piano roll and/or render audio of a MIDI file")
def _run_render(args) -> int:
    from melodyrnn.errors import RenderError
    from melodyrnn.render.files import render_file

    if not (args.png or args.wav):
        raise RenderError("say what to render: --png, --wav or both")
    if args.soundfont is not None:  # before anything is drawn or written
        from melodyrnn.render.audio import find_soundfont

        find_soundfont(args.soundfont)
    if args.output_dir:
        from melodyrnn.files import prepare_output_dir

        prepare_output_dir(args.output_dir)
    rendered = render_file(
        args.midi,
        png=args.png,
        wav=args.wav,
        out_dir=args.output_dir,
        continuation_start=args.continuation_start,
        soundfont=args.soundfont,
        force=args.force,
        view_bars=None if args.full else 8,
    )
    print_rendered(rendered)
    return 0


# --- inspect-model (issue 13) -----------------------------------------------------------------


def _add_inspect_model(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "model", help="a shipped name, a checkpoint folder, a .mag bundle or TF checkpoint"
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


@verb("inspect-model", _add_inspect_model, "summarise a model: its config, layers, size, encoder")
def _run_inspect_model(args) -> int:
    from melodyrnn.models.describe import describe_model, format_model_summary

    summary = describe_model(args.model)
    if args.json:
        print_json(summary)
    else:
        print(format_model_summary(summary))
    return 0
