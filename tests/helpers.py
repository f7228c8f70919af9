"""Plain helpers shared by the test modules, imported normally (``from helpers import ...``).

What a module needs while it is being collected lives here: the fixture file lists that
``pytest.mark.parametrize`` reads, and :func:`load_json` for the magenta.js expectations. Inside
a test, use the fixtures of ``conftest.py`` instead of building paths: ``magenta_js`` (the folder
tests/fixtures/magenta_js) and ``note_seq`` (the reference implementation, skipping the test
where it is not installed). tests/melody_helpers.py builds on this module for the melody tests.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
MAGENTA_JS = TESTS / "fixtures" / "magenta_js"
MIDI_FIXTURES = sorted((MAGENTA_JS / "midi").glob("*.mid"))
MIDI_SAMPLES = sorted((REPO / "midi_samples").glob("*.mid"))
ALL_MIDI = MIDI_FIXTURES + MIDI_SAMPLES
MAGENTA_JS_CHECKPOINTS = sorted(p for p in (MAGENTA_JS / "checkpoints").iterdir() if p.is_dir())
MAGENTA_JS_EXPECTED = sorted(p.name for p in (MAGENTA_JS / "expected").glob("*.json"))  # names


@cache
def load_json(relative: str):
    """A JSON file under tests/fixtures/magenta_js/, parsed once per session (do not modify it)."""
    return json.loads((MAGENTA_JS / relative).read_text())


def peak_rss_kib() -> int:
    """Peak resident memory of this process in KiB (VmHWM). Unlike ru_maxrss it starts afresh
    at exec, so a child of a large pytest process does not inherit the parent's peak."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """Run ``melodyrnn ARGV...`` in this process: its exit code, stdout and stderr."""
    from melodyrnn.cli import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(capsys, *argv) -> str:
    """Run the command and check it fails the way a user should see it: exit code 2 and one
    ``melodyrnn: error: ...`` line on stderr, no traceback. Returns that line."""
    code, out, err = run_cli(capsys, *argv)
    lines = err.strip().splitlines()
    assert code == 2, (argv, out, err)
    assert len(lines) == 1 and lines[0].startswith("melodyrnn: error: "), (argv, err)
    return lines[0]
