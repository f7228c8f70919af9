"""Every cap melodyrnn puts on what it reads, builds and generates, in one place.

A tiny hostile or careless input must not turn into gigabytes or hours: a 108-byte MIDI file can
ask for 4x10^7 steps, a manifest can list one shard 12,000 times, ``--num-outputs 1000000`` asks for
a batch no machine holds. Each limit below is checked *before* the work or allocation it bounds,
and a refusal is one :class:`~melodyrnn.errors.LimitError` line naming the limit and how to raise
it. Where a real user could need more, a limit can be raised

* for one call, by the keyword argument the function documents (e.g. ``max_bytes=``), or
* for the whole process, by the environment variable ``MELODYRNN_<NAME>`` (e.g.
  ``MELODYRNN_MAX_FILE_BYTES=268435456``).

The defaults are generous for music (an hour-long MIDI file is far below every one of them),
keep any input under 10 MB below about 1 GB of memory, and bound the reading of any MIDI file to
about 2 s of CPU (bench/fuzz.py): 100,000 notes is twice the densest hour of piano (about 15
notes a second), 500,000 events three times it with its pedal. README "Limits" lists them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from melodyrnn.errors import LimitError

__all__ = ["LIMITS", "Limit", "check_limit", "limit"]


@dataclass(frozen=True)
class Limit:
    """One cap: its name, default, unit and what it bounds."""

    name: str
    default: int
    unit: str
    bounds: str

    @property
    def env(self) -> str:
        return "MELODYRNN_" + self.name.upper()


LIMITS: dict[str, Limit] = {
    limit_.name: limit_
    for limit_ in (
        Limit("max_file_bytes", 64 * 2**20, "bytes", "a MIDI, JSON or checkpoint file read"),
        Limit("max_ticks", 1_000_000_000, "ticks", "the span of a MIDI file (its last tick + 1)"),
        Limit("max_notes", 100_000, "notes", "the notes of one sequence"),
        Limit("max_events", 500_000, "events", "the events of a MIDI file"),
        Limit("max_tracks", 4_096, "tracks", "the tracks of one MIDI file"),
        Limit("max_tempo_changes", 100_000, "events", "tempo, time and key changes of a sequence"),
        Limit("max_steps", 200_000, "steps", "the quantized length of a sequence"),
        Limit("max_melody_steps", 10_000_000, "steps", "the melodies read from one sequence"),
        Limit("max_primer_steps", 8_192, "steps", "a primer (512 bars of 4/4; use primer_bars)"),
        Limit("max_generation_rows", 4_096, "rows", "num_outputs x beam_size x branch_factor"),
        Limit("max_generation_steps", 100_000, "steps", "the length of one continuation"),
        Limit("max_generation_tokens", 10_000_000, "tokens", "rows x (primer + steps)"),
        Limit("max_parameters", 100_000_000, "parameters", "the weights of one checkpoint"),
        Limit("max_checkpoint_bytes", 2**30, "bytes", "all weight files of one checkpoint"),
        Limit("max_json_depth", 64, "levels", "the nesting of a config or manifest"),
        Limit("max_audio_seconds", 3_600, "seconds", "the length of a rendered WAV"),
        Limit("max_seconds_per_file", 60, "seconds", "one file while building a dataset"),
        Limit("max_jam_queue", 1_024, "messages", "MIDI messages waiting to be read in a jam"),
    )
}


def limit(name: str, override: int | float | None = None) -> int:
    """The value of limit ``name``: ``override`` if given, else ``MELODYRNN_<NAME>``, else its
    default. A malformed environment value is a LimitError, not a silent default."""
    spec = LIMITS[name]
    if override is not None:
        return _positive(override, name)
    text = os.environ.get(spec.env)
    if text is None or not text.strip():
        return spec.default
    try:
        value = int(float(text))
    except (ValueError, OverflowError):  # "lots", "nan", "inf"
        raise LimitError(f"{spec.env}={text!r} is not a number of {spec.unit}") from None
    return _positive(value, spec.env)


def check_limit(
    name: str,
    value: int | float,
    what: str,
    override: int | float | None = None,
    error: type[LimitError] = LimitError,
):
    """``error`` (a LimitError) unless ``value`` <= limit ``name`` (``what`` says what was
    measured)."""
    cap = limit(name, override)
    if value > cap:
        spec = LIMITS[name]
        raise error(
            f"{what} is {_number(value)} {spec.unit}, over the limit of {_number(cap)} "
            f"({spec.name}); "
            f"set {spec.env} to raise it"
        )
    return value


def _positive(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 1:
        raise LimitError(f"the limit {name} must be a number >= 1, got {value!r}")
    if value != value or value in (float("inf"),):
        raise LimitError(f"the limit {name} must be finite, got {value!r}")
    return int(value)


def _number(value) -> str:
    return f"{value:,}" if float(value).is_integer() and abs(value) < 1e18 else f"{value:g}"
