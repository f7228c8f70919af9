"""The ``melodyrnn`` command line: one verb per job, on top of the library.

Every verb is a pair ``_add_<verb>(subparsers)`` / ``_run_<verb>(args)``. Errors the user can fix
(:class:`MelodyRNNError`) are printed as one line and give exit status 2; nothing else is caught.
Heavy modules (torch) are imported inside the verbs that need them, so ``inspect`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Callable

from melodyrnn.errors import MelodyRNNError

PROG = "melodyrnn"
_VERBS: list[tuple[str, Callable, Callable, str]] = []


def verb(name: str, add: Callable, help: str):
    """Register ``run`` as the handler of ``name``; ``add(parser)`` declares its arguments."""

    def register(run: Callable) -> Callable:
        _VERBS.append((name, add, run, help))
        return run

    return register


def _print_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")


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
        _print_json(summary)
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
        raise type(exc)(f"{args.midi}: {exc}") from None
    if args.json:
        _print_json({"file": args.midi, **result.to_dict(_FlagSpellings())})
        return 0
    print(f"{args.midi}: {len(result.sections)} section(s) with encoding {args.encoding}")
    if result.reason:
        print(f"no tokens: {result.worded_reason(_FlagSpellings())}")
    for i, section in enumerate(result.sections, 1):
        print(
            f"section {i}: start step {section.start_step}, {len(section.events)} steps, "
            f"transposed by {section.transposed_by:+d}"
        )
        tokens = [str(int(t)) for t in section.tokens]
        for start in range(0, len(tokens), 16):
            print("  " + " ".join(t.rjust(3) for t in tokens[start : start + 16]))
    return 0


# --- continue -----------------------------------------------------------------------------


def _add_continue(p: argparse.ArgumentParser) -> None:
    p.add_argument("primer", help="the MIDI file to continue")
    p.add_argument("-o", "--output-dir", default="generated", help="folder for the results")
    p.add_argument(
        "--model",
        default=None,
        help="a shipped model's name, a checkpoint folder (ours or magenta.js), or "
        "markov:PATH for the n-gram baseline (default: the shipped model)",
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
        "--track", default="auto", help="melody track: its name, its index, or auto (auto)"
    )
    p.add_argument("--primer-bars", type=int, help="continue from the last N bars only")
    p.add_argument("--exclude-primer", action="store_true", help="write the continuation alone")
    p.add_argument("--png", action="store_true", help="also draw a piano roll of each output")
    p.add_argument("--wav", action="store_true", help="also render audio of each output")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")


def _sampling_options(args):
    """The ``continue`` flags as the library's SamplingOptions (it validates them)."""
    from melodyrnn.errors import GenerationError
    from melodyrnn.generation.options import SamplingOptions

    if args.scale and not args.key:
        raise GenerationError("--scale needs --key (the tonic), e.g. --key A --scale minor")
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
        pitch_range=_parse_range(args.pitch_range),
    )


def _parse_range(text: str | None) -> tuple[int, int] | None:
    """``--range LO-HI`` as a pair of ints (SamplingOptions checks the bounds)."""
    if text is None:
        return None
    from melodyrnn.errors import GenerationError

    low, sep, high = text.strip().partition("-")
    if not sep or not low.strip().isdigit() or not high.strip().isdigit():
        raise GenerationError(f"--range must be LO-HI in MIDI pitches, e.g. 55-84, got {text!r}")
    return int(low), int(high)


def _parse_chords(text: str | None) -> list[str] | None:
    if not text:
        return None
    from melodyrnn.events.chords import parse_chord_symbol

    chords = text.replace(",", " ").split()
    for chord in chords:
        parse_chord_symbol(chord)
    return chords


@verb("continue", _add_continue, "continue a MIDI file's melody with a model")
def _run_continue(args) -> int:
    import random
    from pathlib import Path

    from melodyrnn.files import check_output_file, prepare_output_dir
    from melodyrnn.generation.music_rnn import load_model
    from melodyrnn.generation.primer import continue_merged, prepare_primer
    from melodyrnn.generation.shaping import ending_steps
    from melodyrnn.io.midi import midi_to_sequence, sequence_to_midi_file

    options = _sampling_options(args)
    chords = _parse_chords(args.chords)
    source = midi_to_sequence(args.primer)
    primer = prepare_primer(source, track=args.track, primer_bars=args.primer_bars)
    steps = primer.continuation_steps(args.steps, args.bars)

    out_dir = Path(args.output_dir)
    stem = Path(args.primer).stem
    suffix = "continuation" if args.exclude_primer else "continued"
    paths = [out_dir / f"{stem}_{suffix}_{k}.mid" for k in range(1, options.num_outputs + 1)]
    extras = [".png"] * args.png + [".wav"] * args.wav
    prepare_output_dir(out_dir, create=False)
    for path in paths:
        for candidate in [path, *(path.with_suffix(e) for e in extras)]:
            check_output_file(candidate, force=args.force)

    model = load_model(args.model)
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
        added = len(ns.notes) - (0 if args.exclude_primer else len(source.notes))
        where = "" if args.exclude_primer else f", from {start:.2f} s"
        print(f"wrote {path} ({steps} steps, {added} new notes{where})")
        if extras:
            from melodyrnn.render.files import render_sequence

            rendered = render_sequence(  # from memory: the MIDI just written is not read back
                ns,
                path.with_suffix(""),
                png=args.png,
                wav=args.wav,
                title=path.name,
                continuation_start=None if args.exclude_primer else start,
                force=args.force,
            )
            _print_rendered(rendered, indent="  ")
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
    p.add_argument("--force", action="store_true", help="overwrite existing files")


def _print_rendered(rendered, indent: str = "") -> None:
    for out in rendered.values():
        print(f"{indent}wrote {out}")
    if getattr(rendered, "wav_method", None) == "sine":
        print(f"{indent}audio rendered with a sine fallback (install fluidsynth for instruments)")


@verb("render", _add_render, "draw a piano roll and/or render audio of a MIDI file")
def _run_render(args) -> int:
    from melodyrnn.errors import RenderError
    from melodyrnn.render.files import render_file

    if not (args.png or args.wav):
        raise RenderError("say what to render: --png, --wav or both")
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
    )
    _print_rendered(rendered)
    return 0


# --- dataset / train / convert ---------------------------------------------------------------


def _add_dataset(p: argparse.ArgumentParser) -> None:
    p.add_argument("midi_dir", help="a folder of .mid/.midi files (searched recursively)")
    p.add_argument("out", help="the dataset folder to write")
    p.add_argument("--min-note", type=int, default=48, help="lowest pitch of the model (48)")
    p.add_argument("--max-note", type=int, default=84, help="pitch above the highest (84)")
    p.add_argument("--key", default="0", help="key melodies are moved to, 0-11 (C=0), or none (0)")
    p.add_argument(
        "--keep-highest",
        action="store_true",
        help="keep the top note where notes start together (Magenta drops such tracks)",
    )
    p.add_argument(
        "--transpose",
        default="0",
        help="comma-separated transpositions for augmentation, e.g. -2,0,2 (0)",
    )
    p.add_argument("--eval-fraction", type=float, default=0.1, help="files held out (0.1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split (0)")
    p.add_argument("--jobs", type=int, help="worker processes (all cores)")
    p.add_argument("--force", action="store_true", help="overwrite an existing dataset")


@verb("dataset", _add_dataset, "build a training dataset of melodies from a MIDI folder")
def _run_dataset(args) -> int:
    from melodyrnn.errors import DatasetError
    from melodyrnn.pipelines import DatasetSettings
    from melodyrnn.training.dataset import build_dataset, format_report, save_dataset

    try:
        key = None if args.key.lower() == "none" else int(args.key)
        transpositions = tuple(int(t) for t in args.transpose.split(","))
    except ValueError:
        raise DatasetError("--key takes 0-11 or none; --transpose integers like -2,0,2") from None
    settings = DatasetSettings(
        min_note=args.min_note,
        max_note=args.max_note,
        transpose_to_key=key,
        keep_highest=args.keep_highest,
        transpositions=transpositions,
        eval_fraction=args.eval_fraction,
        seed=args.seed,
    )
    from pathlib import Path

    from melodyrnn.files import prepare_output_dir

    out = Path(args.out)
    if (out / "melodies.npz").exists() and not args.force:
        raise DatasetError(f"{out}: already holds a dataset; use --force to overwrite it")
    prepare_output_dir(out, "dataset folder", create=False)
    ds = build_dataset(args.midi_dir, settings, jobs=args.jobs)
    save_dataset(ds, out, force=args.force)
    print(format_report(ds))
    print(f"wrote {out}")
    return 0


def _add_train(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="a dataset folder from `melodyrnn dataset`")
    p.add_argument("--config", default="basic_rnn", help="model config (basic_rnn)")
    p.add_argument("--out", required=True, help="run folder (resumes if it holds a run)")
    p.add_argument(
        "--hparams",
        help="overrides, e.g. batch_size=64,rnn_layer_sizes=[256,256],learning_rate=0.002",
    )
    p.add_argument("--epochs", type=float, default=10.0, help="epochs to train (10)")
    p.add_argument("--max-minutes", type=float, help="stop after this much training time")
    p.add_argument("--eval-every", type=int, default=0, help="steps between evals (per epoch)")
    p.add_argument("--seed", type=int, default=0, help="seed (0)")
    p.add_argument("--threads", type=int, help="torch threads")
    p.add_argument(
        "--chunk-steps",
        type=int,
        help="train on pieces of this many steps (more updates per epoch); default: whole melodies",
    )


@verb("train", _add_train, "train a model on a dataset (resumable)")
def _run_train(args) -> int:
    from melodyrnn.files import prepare_output_dir
    from melodyrnn.training.train import Trainer, TrainOptions, parse_hparams

    options = TrainOptions(
        epochs=args.epochs,
        eval_every=args.eval_every,
        seed=args.seed,
        threads=args.threads,
        max_minutes=args.max_minutes,
        chunk_steps=args.chunk_steps,
    )
    prepare_output_dir(args.out, "run folder", create=False)
    trainer = Trainer(args.dataset, args.out, args.config, parse_hparams(args.hparams), options)
    if trainer.step:
        print(f"resuming {args.out} at step {trainer.step}")
    metrics = trainer.train()
    if metrics:
        print(
            f"eval: loss {metrics['loss']:.4f} nats/step, event NLL {metrics['nll_event']:.4f}, "
            f"accuracy {metrics['accuracy']:.3f}"
        )
    print(f"best checkpoint: {trainer.run_dir / 'best'}")
    return 0


def _add_convert(p: argparse.ArgumentParser) -> None:
    p.add_argument("src", help="a magenta.js MusicRNN checkpoint folder (or one of ours)")
    p.add_argument("dst", help="the checkpoint folder to write, in melodyrnn's format")
    p.add_argument("--force", action="store_true", help="overwrite an existing folder")


@verb("convert", _add_convert, "convert a magenta.js checkpoint to melodyrnn's format")
def _run_convert(args) -> int:
    from melodyrnn.generation.music_rnn import MusicRNN

    rnn = MusicRNN.from_pretrained(args.src)
    rnn.save(args.dst, force=args.force)
    print(f"wrote {args.dst}: {rnn!r}, encoder {rnn.config.encoder['type']}")
    return 0


# --- evaluate --------------------------------------------------------------------------------


def _add_evaluate(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "model",
        nargs="*",
        help="models to evaluate: shipped names, checkpoint folders or markov:PATH "
        "(default: the shipped model)",
    )
    p.add_argument(
        "--data", required=True, help="a dataset folder (its eval split) or a MIDI folder"
    )
    p.add_argument(
        "--baseline",
        default="markov",
        help="markov (fit an n-gram on the dataset's train split), markov:PATH, or none",
    )
    p.add_argument("--num", type=int, default=50, help="primers for the musical metrics (50)")
    p.add_argument("--steps", type=int, default=64, help="steps generated per primer (64)")
    p.add_argument("--temperature", type=float, default=1.0, help="for generation (1.0)")
    p.add_argument("--seed", type=int, default=0, help="seed (0)")
    p.add_argument(
        "--continuations",
        action="store_true",
        help="instead: continue --num held-out melodies cut in half and compare them with the "
        "real second halves; --key-finding, --ending, --top-p and --range as for continue",
    )
    p.add_argument("--key-finding", choices=["profile", "magenta"], default="profile")
    p.add_argument("--ending", choices=["free", "bar", "tonic"], default="free")
    p.add_argument("--top-p", type=float)
    p.add_argument("--range", dest="pitch_range", metavar="LO-HI")
    p.add_argument("--json", action="store_true", help="print the results as JSON")


@verb("evaluate", _add_evaluate, "compare models and the n-gram baseline on held-out melodies")
def _run_evaluate(args) -> int:
    from melodyrnn.training.evaluate import evaluate_models, format_evaluation

    baseline = None if args.baseline.lower() == "none" else args.baseline
    if args.continuations:
        return _evaluate_continuations(args, baseline)
    result = evaluate_models(
        args.model or [None],
        args.data,
        baseline=baseline,
        num=args.num,
        steps=args.steps,
        temperature=args.temperature or None,
        seed=args.seed,
    )
    if args.json:
        _print_json(result)
    else:
        print(format_evaluation(result))
    return 0


def _evaluate_continuations(args, baseline) -> int:
    from melodyrnn.training.continuations import continuation_report, format_continuations

    result = continuation_report(
        args.model or [None],
        args.data,
        baseline,
        num=args.num,
        temperature=args.temperature or None,
        seed=args.seed,
        key_finding=args.key_finding,
        ending=args.ending,
        top_p=args.top_p,
        pitch_range=_parse_range(args.pitch_range),
    )
    _print_json(result) if args.json else print(format_continuations(result))
    return 0


# --- entry point -------------------------------------------------------------------------


def _describe(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        return "out of memory; the input or the request is too large for this machine"
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply to read"
    where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
    return f"{where}{exc.strerror or exc}"


class _FlagSpellings(dict):
    """A library parameter as the CLI spells it: ``primer_bars`` -> ``--primer-bars``."""

    _OTHER = {
        "chord_progression": "--chords",
        "transpose_to_key": "--key",
        "transpositions": "--transpose",
    }

    def __missing__(self, name: str) -> str:
        return self._OTHER.get(name, "--" + name.replace("_", "-"))

    def get(self, name, default=None):
        return self[name]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line too (and still exit status 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Magenta's melody RNNs in PyTorch: MIDI in, continuations out.",
    )
    from melodyrnn import __version__

    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    sub.required = True
    for name, add, run, help in _VERBS:
        p = sub.add_parser(name, help=help, description=help)
        add(p)
        p.set_defaults(_run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            # numpy's overflow/invalid-value warnings would print beside a one-line error; every
            # input that can cause them is refused by a check with its own message.
            warnings.simplefilter("ignore", RuntimeWarning)
            return int(args._run(args) or 0)
    except MelodyRNNError as exc:
        print(f"{PROG}: error: {exc.worded(_FlagSpellings())}", file=sys.stderr)
        return 2
    except (OSError, MemoryError, RecursionError) as exc:  # the last line of defence
        print(f"{PROG}: error: {_describe(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `melodyrnn encode x.mid | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
