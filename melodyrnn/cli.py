"""The ``melodyrnn`` command line: one verb per job, on top of the library.

Every verb is a pair ``_add_<verb>(subparsers)`` / ``_run_<verb>(args)``. Errors the user can fix
(:class:`MelodyRNNError`) are printed as one line and give exit status 2; nothing else is caught.
Heavy modules (torch) are imported inside the verbs that need them, so ``inspect`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from .errors import MelodyRNNError

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
    from .midi_io import midi_to_sequence
    from .summary import format_summary, summarize

    summary = summarize(midi_to_sequence(args.midi))
    if args.json:
        _print_json(summary)
    else:
        print(format_summary(summary))
    return 0


# --- encode -------------------------------------------------------------------------------


def _add_encode(p: argparse.ArgumentParser) -> None:
    from .tokens import ENCODINGS

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
    from .midi_io import midi_to_sequence
    from .tokens import encode_sequence

    ns = midi_to_sequence(args.midi)
    try:
        result = encode_sequence(ns, args.encoding, keep_highest=args.keep_highest)
    except MelodyRNNError as exc:
        raise type(exc)(f"{args.midi}: {exc}") from None
    if args.json:
        _print_json({"file": args.midi, **result.to_dict()})
        return 0
    print(f"{args.midi}: {len(result.sections)} section(s) with encoding {args.encoding}")
    if result.reason:
        print(f"no tokens: {result.reason}")
    for i, section in enumerate(result.sections, 1):
        print(
            f"section {i}: start step {section.start_step}, {len(section.events)} steps, "
            f"transposed by {section.transposed_by:+d}"
        )
        tokens = [str(int(t)) for t in section.tokens]
        for start in range(0, len(tokens), 16):
            print("  " + " ".join(t.rjust(3) for t in tokens[start : start + 16]))
    return 0


# --- entry point -------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Magenta's melody RNNs in PyTorch: MIDI in, continuations out.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
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
        return int(args._run(args) or 0)
    except MelodyRNNError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `melodyrnn encode x.mid | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
