"""Encoding pipeline speed: a MIDI folder -> training tokens, ours vs note-seq's, same files.

For every file (sorted, the first ``--limit``) both pipelines run Magenta's melody_rnn training
pipeline in this process, one after the other (the order alternates from file to file so
caches, garbage collection and load drift hit both alike):

* ours: ``midi_to_sequence`` (``backend="auto"``: symusic where it reads the file exactly as
  pretty_midi does, else mido + pretty_midi) ->
  :func:`melodyrnn.pipelines.melodies_from_sequence`
  (split on time changes, quantize at 4 steps per quarter, ``extract_melodies`` with min_bars
  7, max_steps 512, min_unique_pitches 5, gap_bars 1, polyphonic tracks discarded,
  ``squash(48, 84, 0)``) -> ``encoder.encode(events)``;
* note-seq: ``midi_file_to_note_sequence`` -> ``split_note_sequence_on_time_changes`` ->
  ``quantize_note_sequence`` -> Magenta's ``extract_melodies`` loop over
  ``melodies_lib.Melody.from_quantized_sequence`` (written out below, note-seq has no such
  function) -> ``Melody.squash`` -> note-seq's encoder/decoder ``encode`` -> numpy arrays.

The inputs and labels of every melody must be identical (asserted file by file). Import time and
one warm-up file are excluded; every stage is timed with ``time.perf_counter``, and each
pipeline's whole run on a file also with ``time.process_time`` (the CPU time of this process,
which the other processes of a shared machine do not inflate as much as the wall clock).

    python bench/bench_encode.py MIDI_DIR [--limit N] [--encoding basic_rnn|lookback_rnn]
                                 [--only ours|note_seq]

``--only`` runs one pipeline without the comparison (for ``python -m cProfile``).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from melodyrnn.encoding.specs import make_encoder  # noqa: E402
from melodyrnn.errors import MelodyRNNError  # noqa: E402
from melodyrnn.io.midi import midi_to_sequence  # noqa: E402
from melodyrnn.io.midi_fast import NotExact, read_with_symusic, score_class  # noqa: E402
from melodyrnn.pipelines import DatasetSettings, melodies_from_sequence  # noqa: E402
from melodyrnn.training.dataset import find_midi_files  # noqa: E402

SETTINGS = DatasetSettings()  # Magenta's melody_rnn training values
ENCODER_SPECS = {
    "basic_rnn": {"type": "one_hot_melody", "min_note": 48, "max_note": 84},
    "lookback_rnn": {"type": "lookback_melody", "min_note": 48, "max_note": 84},
}
STAGES = ("read", "melodies", "encode")


# --- ours ------------------------------------------------------------------------------------


def ours(path: str, encoder, times: Counter) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Token arrays of every melody of one file (None if the file cannot be read)."""
    t0 = time.perf_counter()
    try:
        ns = midi_to_sequence(path)
    except MelodyRNNError:
        times["read"] += time.perf_counter() - t0
        return None
    t1 = time.perf_counter()
    melodies = melodies_from_sequence(ns, SETTINGS, Counter(), consume=True)
    t2 = time.perf_counter()
    tokens = [encoder.encode(events) for events in melodies]
    t3 = time.perf_counter()
    times["read"] += t1 - t0
    times["melodies"] += t2 - t1
    times["encode"] += t3 - t2
    return tokens


def reader_of(path: str) -> str | None:
    """Why ``backend="auto"`` reads the file with mido + pretty_midi (the symusic reader's
    refusal or error); None where it reads it with symusic."""
    symusic_score = score_class()
    if symusic_score is None:
        return "symusic 0.6 is not installed"
    try:
        read_with_symusic(Path(path).read_bytes(), symusic_score, "cannot read MIDI data")
    except (NotExact, MelodyRNNError) as exc:
        return str(exc)
    return None


# --- note-seq ----------------------------------------------------------------------------------


def note_seq_encoder(encoding: str):
    with warnings.catch_warnings():
        # note_seq imports pydub, which warns when ffmpeg is missing (audio is not used here).
        warnings.simplefilter("ignore", RuntimeWarning)
        from note_seq import encoder_decoder, melody_encoder_decoder

    one_hot = melody_encoder_decoder.MelodyOneHotEncoding(SETTINGS.min_note, SETTINGS.max_note)
    if encoding == "basic_rnn":
        return encoder_decoder.OneHotEventSequenceEncoderDecoder(one_hot)
    return encoder_decoder.LookbackEventSequenceEncoderDecoder(one_hot)


def note_seq_extract_melodies(qns) -> list:
    """Magenta's ``melody_pipelines.extract_melodies`` with the training settings, on note-seq.

    Per instrument: read melodies one after another, each search starting at the next bar line
    after the previous melody; stop at an empty melody, drop the instrument on polyphony; filter
    too short, truncate too long, filter too few pitch classes.
    """
    from note_seq import melodies_lib

    melodies = []
    for instrument in sorted({n.instrument for n in qns.notes}):
        search_step = 0
        while True:
            melody = melodies_lib.Melody()
            try:
                melody.from_quantized_sequence(
                    qns,
                    search_start_step=search_step,
                    instrument=instrument,
                    gap_bars=SETTINGS.gap_bars,
                    ignore_polyphonic_notes=SETTINGS.keep_highest,
                )
            except melodies_lib.PolyphonicMelodyError:
                break
            steps_per_bar = melody.steps_per_bar
            search_step = melody.end_step + (-melody.end_step) % steps_per_bar
            if not melody:
                break
            if len(melody) < steps_per_bar * SETTINGS.min_bars:
                continue
            if len(melody) > SETTINGS.max_steps:
                melody.set_length(SETTINGS.max_steps)
            if np.count_nonzero(melody.get_note_histogram()) < SETTINGS.min_unique_pitches:
                continue
            melodies.append(melody)
    return melodies


def note_seq_melodies(ns) -> list:
    """Split, quantize, extract and squash, catching what Magenta's pipeline units catch."""
    from note_seq import events_lib, sequences_lib

    quantize_errors = (
        sequences_lib.MultipleTimeSignatureError,
        sequences_lib.MultipleTempoError,
        sequences_lib.BadTimeSignatureError,
        sequences_lib.NegativeTimeError,
    )
    out = []
    for piece in sequences_lib.split_note_sequence_on_time_changes(ns):
        try:
            qns = sequences_lib.quantize_note_sequence(piece, SETTINGS.steps_per_quarter)
        except quantize_errors:
            continue
        try:
            melodies = note_seq_extract_melodies(qns)
        except events_lib.NonIntegerStepsPerBarError:
            continue
        for melody in melodies:
            melody.squash(SETTINGS.min_note, SETTINGS.max_note, SETTINGS.transpose_to_key)
            out.append(melody)
    return out


def note_seq(path: str, encoder, times: Counter) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """The same tokens with note-seq objects (None if note-seq cannot read the file)."""
    from note_seq import midi_io

    t0 = time.perf_counter()
    try:
        ns = midi_io.midi_file_to_note_sequence(path)
    except midi_io.MIDIConversionError:
        times["read"] += time.perf_counter() - t0
        return None
    t1 = time.perf_counter()
    melodies = note_seq_melodies(ns)
    t2 = time.perf_counter()
    tokens = []
    for melody in melodies:
        inputs, labels = encoder.encode(melody)
        tokens.append(
            (
                np.asarray(inputs, dtype=np.float32).reshape(len(inputs), encoder.input_size),
                np.asarray(labels, dtype=np.int64),
            )
        )
    t3 = time.perf_counter()
    times["read"] += t1 - t0
    times["melodies"] += t2 - t1
    times["encode"] += t3 - t2
    return tokens


# --- comparison and report ------------------------------------------------------------------


def assert_same_tokens(path: str, mine, theirs) -> None:
    if mine is None or theirs is None:
        assert mine is None and theirs is None, f"{path}: only one pipeline could read the file"
        return
    assert len(mine) == len(theirs), f"{path}: {len(mine)} melodies vs {len(theirs)} (note-seq)"
    for k, ((inputs_a, labels_a), (inputs_b, labels_b)) in enumerate(zip(mine, theirs)):
        assert np.array_equal(inputs_a, inputs_b), f"{path}: melody {k}: inputs differ"
        assert np.array_equal(labels_a, labels_b), f"{path}: melody {k}: labels differ"


def versions() -> str:
    parts = [f"python {platform.python_version()}", f"numpy {np.__version__}"]
    for name in ("torch", "note-seq", "symusic", "pretty_midi", "mido", "protobuf"):
        try:
            parts.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{name} -")
    try:
        from google.protobuf.internal import api_implementation

        parts[-1] += f" ({api_implementation.Type()})"
    except ImportError:
        pass
    return ", ".join(parts)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "-"


def report(rows: dict, n_files: int) -> None:
    header = (
        "| pipeline | files/s | ms/file | read ms | melodies ms | encode ms | melodies | steps |"
    )
    print(header)
    print("|" + "---|" * header.count(" | ") + "---|")
    for name, (times, melodies, steps) in rows.items():
        total = sum(times.values())
        per_file = {stage: 1000 * times[stage] / n_files for stage in STAGES}
        print(
            f"| {name} | {n_files / total:,.1f} | {1000 * total / n_files:.2f} | "
            f"{per_file['read']:.2f} | {per_file['melodies']:.2f} | {per_file['encode']:.2f} | "
            f"{melodies:,} | {steps:,} |"
        )
    if len(rows) == 2:
        (t_ours, _, _), (t_ref, _, _) = rows.values()
        ratios = {
            stage: t_ref[stage] / t_ours[stage] if t_ours[stage] else float("nan")
            for stage in STAGES
        }
        total = sum(t_ref.values()) / sum(t_ours.values())
        print(
            f"\nspeed ratio ours / note-seq: {total:.2f}x overall "
            f"(read {ratios['read']:.2f}x, melodies {ratios['melodies']:.2f}x, "
            f"encode {ratios['encode']:.2f}x)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("midi_dir")
    parser.add_argument("--limit", type=int, default=None, help="first N files (sorted)")
    parser.add_argument("--encoding", choices=sorted(ENCODER_SPECS), default="basic_rnn")
    parser.add_argument("--only", choices=("ours", "note_seq"), default=None)
    args = parser.parse_args(argv)

    files = find_midi_files(args.midi_dir)[: args.limit]
    pipelines = {}
    if args.only in (None, "ours"):
        pipelines["ours"] = (ours, make_encoder(ENCODER_SPECS[args.encoding]))
    if args.only in (None, "note_seq"):
        pipelines["note-seq"] = (note_seq, note_seq_encoder(args.encoding))

    print(f"{len(files)} files from {args.midi_dir}, {args.encoding}")
    print(f"machine: {cpu_model()}; {versions()}")
    print(f"load average before: {load_average()}")
    for run, encoder in pipelines.values():  # warm-up: lazy imports, first-call caches
        run(files[0], encoder, Counter())

    times = {name: Counter() for name in pipelines}
    counts = {name: [0, 0] for name in pipelines}  # melodies, steps
    cpu_seconds = Counter()  # CPU time of this process per pipeline (steadier under load)
    names = list(pipelines)
    for i, path in enumerate(files):
        order = names if i % 2 == 0 else names[::-1]
        tokens = {}
        for name in order:
            run, encoder = pipelines[name]
            cpu = time.process_time()
            tokens[name] = run(path, encoder, times[name])
            cpu_seconds[name] += time.process_time() - cpu
            for _, labels in tokens[name] or []:
                counts[name][0] += 1
                counts[name][1] += len(labels) + 1  # a melody of n steps gives n-1 pairs
        if len(tokens) == 2:
            assert_same_tokens(path, tokens["ours"], tokens["note-seq"])

    print(f"load average after: {load_average()}")
    print(f"date: {datetime.date.today().isoformat()}\n")
    if "ours" in pipelines:
        # Which reader "auto" used, asked again outside the timed runs.
        refusals = Counter(reader_of(path) for path in files)
        fast = refusals.pop(None, 0)
        print(
            f"ours read {fast} of {len(files)} files with symusic, "
            "the rest with mido + pretty_midi:"
        )
        for reason, count in refusals.most_common():
            print(f"  {count:5d}  {reason}")
        print()
    if len(pipelines) == 2:
        print(f"tokens identical for all {len(files)} files\n")
    report({name: (times[name], *counts[name]) for name in pipelines}, len(files))
    if len(pipelines) == 2:
        cpu_ms = {name: 1000 * cpu_seconds[name] / len(files) for name in pipelines}
        print(
            f"by CPU time: ours {cpu_ms['ours']:.2f} ms/file, note-seq {cpu_ms['note-seq']:.2f} "
            f"ms/file: {cpu_ms['note-seq'] / cpu_ms['ours']:.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
