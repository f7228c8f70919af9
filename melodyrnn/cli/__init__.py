"""The ``melodyrnn`` command line: one verb per job, on top of the library.

Every verb is a pair ``_add_<verb>(parser)`` / ``_run_<verb>(args)`` registered with
:func:`melodyrnn.cli.verbs.verb`, in ``files`` (inspect, encode, render, inspect-model),
``generate`` (continue) and ``training`` (dataset, train, convert, evaluate). Errors the user can
fix (:class:`MelodyRNNError`) are printed as one line, their parameters spelled as this command's
flags, and give exit status 2; so do stray OS, memory and recursion errors. Heavy modules (torch)
are imported inside the verbs that need them, so ``inspect`` stays fast.
"""

from __future__ import annotations

import argparse
import re
import sys
import warnings

from melodyrnn.cli import files, generate, jam, training  # noqa: F401  (they register the verbs)
from melodyrnn.cli.verbs import PROG, VERBS, FlagSpellings
from melodyrnn.errors import MelodyRNNError

ORDER = ("inspect", "encode", "continue", "render", "dataset", "train", "convert", "evaluate")


_NEGATIVE_VALUES = re.compile(r"^-\.?\d[\d.,\-]*$")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        return "out of memory; the input or the request is too large for this machine"
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply to read"
    where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
    return f"{where}{exc.strerror or exc}"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line too (and still exit status 2), and a value that
    starts with a minus sign is a value: ``--transpose -2,0,2`` as well as ``--steps -5``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # argparse reads "-2,0,2" as an unknown option (only "-2" looks like a number to it);
        # no flag of ours looks like a negative number, so every such word is a value.
        self._negative_number_matcher = _NEGATIVE_VALUES

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
    rank = {name: i for i, name in enumerate(ORDER)}
    for name, add, run, help in sorted(VERBS, key=lambda v: rank.get(v[0], len(ORDER))):
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
        print(f"{PROG}: error: {exc.worded(FlagSpellings())}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `melodyrnn encode x.mid | head` (before OSError: it is one)
        sys.stderr.close()
        return 0
    except (OSError, MemoryError, RecursionError) as exc:  # the last line of defence
        print(f"{PROG}: error: {_describe(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
