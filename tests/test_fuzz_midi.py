"""Fuzzing the MIDI reader and the melody pipeline: seeded mutations of the test MIDI files.

Each case (tests/midi_fuzz.py says which mutations) is read with the default reader,
quantized, its melodies extracted (directly and as the dataset pipeline does), written back
and read again. Every outcome must be a result or a one-line MelodyRNNError, never a raw
exception; the default reader must give the reference reader's outcome word for word; what
the writer writes, the reader must read. How long cases take is bench/fuzz.py's business: it
runs the same cases by the hundred thousand, in worker processes with a time limit each.
"""

from __future__ import annotations

from collections import Counter

import pytest
from midi_fuzz import corpus, mutate, run_case

SEED = 20261126
CASES = 6000
BLOCKS = 6


@pytest.fixture(scope="module")
def pool() -> list[bytes]:
    return corpus()


@pytest.mark.parametrize("block", range(BLOCKS))
def test_mutated_midi_files_are_read_or_refused_cleanly(block, pool):
    verdicts, problems = Counter(), []
    for case in range(block * CASES // BLOCKS, (block + 1) * CASES // BLOCKS):
        data = mutate(case, SEED, pool, heavy=False)
        outcome = run_case(data)
        verdicts[outcome.verdict] += 1
        for kind in ("raw", "mismatch", "round_trip"):
            if getattr(outcome, kind):
                problems.append(f"case {case}: {kind}: {getattr(outcome, kind)}")
    assert not problems, "\n".join(problems[:20])
    # the mutations reach every kind of outcome
    assert verdicts["read"] > 0.1 * sum(verdicts.values())
    assert verdicts["MidiError"] > 0.3 * sum(verdicts.values())


def test_cases_are_reproducible(pool):
    assert [mutate(case, SEED, pool) for case in range(50)] == [
        mutate(case, SEED, corpus()) for case in range(50)
    ]


def test_the_bench_runs_cases_in_workers_and_reports():
    import subprocess
    import sys

    from helpers import REPO

    proc = subprocess.run(
        [sys.executable, "bench/fuzz.py", "--cases", "40", "--workers", "1", "--light",
         "--seed", str(SEED)],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("fuzz: 40 cases (seed 20261126, cases 0..39, light mutations)")
    assert "raw exceptions: 0" in lines
    assert any(line.startswith("peak resident memory of a case: ") for line in lines)
