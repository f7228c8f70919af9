"""The continue verb: a MIDI file's melody continued by a model."""

from __future__ import annotations

import argparse

from melodyrnn.cli.verbs import parse_chords, parse_range, print_rendered, verb

# --- continue -----------------------------------------------------------------------------

VIEW_BARS = 8  # bars of the continued track a PNG/WAV shows before the continuation


def _add_continue(p: argparse.ArgumentParser) -> None:
    p.add_argument("primer", help="the MIDI file to continue")
    p.add_argument("-o", "--output-dir", default="generated", help="folder for the results")
    p.add_argument(
        "--model",
        default=None,
        help="a shipped model's name, a checkpoint folder (ours or magenta.js), a Magenta "
        ".mag bundle or TF checkpoint, or markov:PATH for the n-gram baseline (default: the "
        "shipped model)",
    )
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="continuation length in 16th steps (64)")
    length.add_argument("--bars", type=float, help="continuation length in bars of the primer")
    p.add_argument("--num-outputs", type=int, default=1, help="variations to write (1)")
    p.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="sampling temperature; 0 picks the most likely event each step (1.0)",
    )
    p.add_argument("--seed", type=int, help="random seed (printed when not given)")
    p.add_argument("--top-k", type=int, help="sample among the k most likely events")
    p.add_argument("--top-p", type=float, help="sample from the nucleus of probability p")
    p.add_argument("--beam-size", type=int, default=1, help="Magenta beam search: beams")
    p.add_argument("--branch-factor", type=int, default=1, help="beam search: branches per beam")
    p.add_argument(
        "--steps-per-iteration", type=int, default=1, help="beam search: steps per iteration"
    )
    p.add_argument("--key", help="only notes of this key's scale, e.g. D, F#, Bb")
    p.add_argument("--scale", help="scale for --key: major, minor, harmonic_minor, dorian, ...")
    p.add_argument(
        "--range", dest="pitch_range", metavar="LO-HI",
        help="MIDI pitches the continuation may use, e.g. 55-84 (default: the primer's "
        "register +-5 semitones, inside 21-108; 0-127 lifts it)",
    )  # fmt: skip
    p.add_argument(
        "--key-finding", choices=["profile", "magenta"], default="profile",
        help="profile: the key signature when the notes agree, else a key profile; "
        "magenta: Magenta's estimate, for parity (profile)",
    )  # fmt: skip
    p.add_argument(
        "--ending", choices=["free", "bar", "tonic"], default="free",
        help="free (the model decides), bar (end on a bar line) or tonic (end on the key's "
        "tonic, on a bar line) (free)",
    )  # fmt: skip
    p.add_argument("--chords", help='a chord progression for chord models, e.g. "C G Am F"')
    p.add_argument(
        "--track", default="auto",
        help="the track to continue: its name, its index, or auto (auto: the melody; the drum "
        "track for a drum model)",
    )  # fmt: skip
    p.add_argument(
        "--primer-bars", type=int,
        help="prime the model with the track's last N bars (default: the last 64)",
    )  # fmt: skip
    p.add_argument(
        "--at", choices=["file-end", "melody-end"], default="file-end",
        help="where the continuation starts: after the file's last note of any track, or where "
        "the continued track ends (file-end)",
    )  # fmt: skip
    p.add_argument(
        "--shared-stream", action="store_true",
        help="draw every variation from one random stream (the layout before per-variation "
        "streams: variation 1 then depends on --num-outputs)",
    )  # fmt: skip
    p.add_argument("--verbose", "-v", action="store_true", help="say why the track was chosen")
    p.add_argument("--exclude-primer", action="store_true", help="write the continuation alone")
    p.add_argument("--png", action="store_true", help="also draw a piano roll of each output")
    p.add_argument("--wav", action="store_true", help="also render audio of each output")
    p.add_argument(
        "--full", action="store_true",
        help="draw/render the whole file (default: the primer's last bars and the continuation)",
    )  # fmt: skip
    p.add_argument("--force", action="store_true", help="overwrite existing output files")


def _sampling_options(args):
    """The ``continue`` flags as the library's SamplingOptions (it validates them)."""
    from melodyrnn.errors import GenerationError
    from melodyrnn.generation.options import SamplingOptions

    if args.scale and not args.key:
        raise GenerationError("--scale needs --key (the tonic), e.g. --key A --scale minor")
    if args.temperature == 0 and args.num_outputs > 1:  # argmax (beam search too) is one answer
        raise GenerationError(
            f"--temperature 0 picks the most likely event every step, so the {args.num_outputs} "
            "outputs would be identical; use --num-outputs 1, or a --temperature > 0 for variations"
        )
    return SamplingOptions(
        temperature=args.temperature,
        seed=args.seed,
        num_outputs=args.num_outputs,
        top_k=args.top_k,
        top_p=args.top_p,
        beam_size=args.beam_size,
        branch_factor=args.branch_factor,
        steps_per_iteration=args.steps_per_iteration,
        key=args.key,
        scale=args.scale,
        pitch_range=parse_range(args.pitch_range),
        shared_stream=args.shared_stream,
    )


@verb("continue", _add_continue, "continue a MIDI file's melody (or drums) with a model")
def _run_continue(args) -> int:
    import random
    from pathlib import Path

    from melodyrnn.files import check_output_file, prepare_output_dir
    from melodyrnn.generation.music_rnn import load_model
    from melodyrnn.generation.primer import continue_merged, prepare_primer
    from melodyrnn.generation.sections import continuation_length
    from melodyrnn.generation.shaping import ending_steps
    from melodyrnn.io.midi import midi_to_sequence, sequence_to_midi_file

    options = _sampling_options(args)
    chords = parse_chords(args.chords)
    out_dir = Path(args.output_dir)
    stem = Path(args.primer).stem
    suffix = "continuation" if args.exclude_primer else "continued"
    paths = [out_dir / f"{stem}_{suffix}_{k}.mid" for k in range(1, options.num_outputs + 1)]
    extras = [".png"] * args.png + [".wav"] * args.wav
    prepare_output_dir(out_dir, create=False)  # every output checked before any work
    for path in paths:
        for candidate in [path, *(path.with_suffix(e) for e in extras)]:
            check_output_file(candidate, force=args.force)

    continuation_length(args.steps, args.bars)  # the numbers, before any work
    source = midi_to_sequence(args.primer)
    model = load_model(args.model)
    primer = prepare_primer(
        source,
        track=args.track,
        primer_bars=args.primer_bars,
        at=args.at,
        kind=model.family.kind,
    )
    steps = primer.continuation_steps(args.steps, args.bars)
    print(_track_line(primer, source))
    if args.verbose:
        for line in _ranking_lines(primer, source):
            print(line)
    if options.seed is None and options.sampling:
        options = options.replace(seed=random.SystemRandom().randrange(2**31))
        print(f"seed {options.seed} (pass --seed {options.seed} to get the same results again)")
    outputs = continue_merged(
        primer,
        model,
        steps,
        options,
        exclude_primer=args.exclude_primer,
        chord_progression=chords,
        key_finding=args.key_finding,
        ending=args.ending,
    )
    steps = ending_steps(primer.end_step, steps, primer.steps_per_bar, args.ending)
    start = primer.continuation_start
    prepare_output_dir(out_dir)
    for path, ns in zip(paths, outputs):
        sequence_to_midi_file(ns, path)
        first_new = 0 if args.exclude_primer else len(source.notes)
        added = len(ns.notes) - first_new
        where = "" if args.exclude_primer else f", from {start:.2f} s"
        print(f"wrote {path} ({steps} steps, {added} new notes{where})")
        _render(args, ns, path, primer, first_new, extras)
    return 0


def _track_line(primer, source) -> str:
    """The first line: which track was continued, from how many bars, where it starts."""
    kind = "drum track" if primer.kind == "drums" else "track"
    bars = f"its last {primer.primer_bars} bar{'s' * (primer.primer_bars != 1)}"
    start = f"at {primer.continuation_start:.2f} s"
    if primer.end_step > primer.track_end_step:
        skipped = primer.skipped_bars
        gap = f"; {skipped} silent bar{'s' * (skipped != 1)} skipped" if skipped else ""
        start += f", after the file's last note (the track ends earlier{gap})"
    elif primer.end_step == primer.track_end_step and _others_sound_after(primer, source):
        start += ", where the track ends, under the file's other tracks"
    return f"continued {kind} {primer.track.describe()} from {bars}, {start}"


def _others_sound_after(primer, source) -> bool:
    start = primer.continuation_start
    return any(n.end_time > start + 1e-3 for n in source.notes)


def _ranking_lines(primer, source) -> list[str]:
    from melodyrnn.generation.tracks import TrackChoice

    names = {i.instrument: i.name for i in source.instrument_infos}
    lines = [f"  chosen: {primer.track.reason or 'given with --track'}"]
    for index, score in primer.track.ranking[1:2]:
        notes = [n for n in source.notes if n.instrument == index]
        program = max({n.program for n in notes}, key=[n.program for n in notes].count)
        runner = TrackChoice(index, names.get(index, ""), program)
        lines.append(f"  runner-up: {runner.describe()}, score {score:.1f}")
    return lines


def _render(args, ns, path, primer, first_new: int, extras) -> None:
    """PNG/WAV of one output: asked for, or (with --force) stale ones of a rewritten MIDI."""
    from melodyrnn.render.files import render_sequence

    stale = [e for e in (".png", ".wav") if args.force and path.with_suffix(e).is_file()]
    kinds = set(extras) | set(stale)
    if not kinds:
        return
    window = None
    if not args.full and not args.exclude_primer:  # the track's last 8 bars on
        bar = primer.steps_per_bar
        first = (max(primer.track_end_step, 1) - 1) // bar * bar - (VIEW_BARS - 1) * bar
        window = primer.step_to_seconds(max(first, 0)) or None  # None: from 0
    rendered = render_sequence(  # from memory: the MIDI just written is not read back
        ns,
        path.with_suffix(""),
        png=".png" in kinds,
        wav=".wav" in kinds,
        title=path.name,
        continuation_start=None if args.exclude_primer else primer.continuation_start,
        new_notes=range(first_new, len(ns.notes)),
        view_start=window,
        force=args.force,
    )
    print_rendered(rendered, indent="  ")
