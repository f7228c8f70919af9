"""The checks both MIDI readers make before they trust a file, and the limits behind them.

:mod:`melodyrnn.io.midi` (mido + pretty_midi, the reference) and :mod:`melodyrnn.io.midi_fast`
(symusic) reject the same bad files with the same words, so the checks live here once. Each
takes ``where``, the start of the message (``"cannot read MIDI file 'x.mid'"``), and raises
:class:`~melodyrnn.errors.MidiError` as ``"{where}: {reason}"``. The writer's limit on tempos
(:data:`MAX_TEMPO_US`) is here too, beside the readers' limits.
"""

from __future__ import annotations

from melodyrnn.errors import MidiError

# Largest absolute tick accepted. pretty_midi allocates a float64 table with one entry per tick
# (80 MB at this size); a larger value means a corrupt file. 10**7 is pretty_midi's own default
# limit (note-seq raises it globally to 10**10, which lets garbage files exhaust memory).
MAX_TICKS = 10_000_000

# note-seq stores time-signature denominators in an int32 field.
MAX_DENOMINATOR = 2**31 - 1
# A set_tempo event stores microseconds per quarter note in 3 bytes.
MAX_TEMPO_US = 0xFFFFFF


def one_line(exc: BaseException) -> str:
    """An exception as one line for an error message: its type and its text, if any."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def truncated(where: str) -> MidiError:
    """The error for a file that ends in the middle of a chunk (to raise)."""
    return MidiError(f"{where}: the file is truncated (it ends in the middle of a chunk)")


def check_signature(data: bytes, where: str) -> None:
    """Reject empty data and data that does not start like a Standard MIDI File."""
    if not data:
        raise MidiError(f"{where}: the file is empty")
    if data[:4] != b"MThd":
        raise MidiError(f"{where}: not a Standard MIDI File (it does not start with 'MThd')")


def check_header(midi_type: int, division: int, n_tracks: int, where: str) -> None:
    """Reject what the header says the readers cannot read: a type other than 0 or 1, SMPTE
    timing or 0 ticks per quarter note (``division``), no tracks."""
    if midi_type == 2:
        raise MidiError(
            f"{where}: type 2 MIDI files (independent sequences per track) are not supported; "
            "save it as type 0 or 1"
        )
    if midi_type not in (0, 1):
        raise MidiError(f"{where}: unknown MIDI file type {midi_type}")
    if division < 0:
        raise MidiError(f"{where}: SMPTE time division is not supported, only ticks per quarter")
    if division == 0:
        raise MidiError(f"{where}: the header gives 0 ticks per quarter note")
    if not n_tracks:
        raise MidiError(f"{where}: the file contains no tracks")


def check_tempo(microseconds_per_quarter: int, where: str) -> None:
    """Reject a tempo event of track 0 that gives 0 microseconds per quarter note."""
    if microseconds_per_quarter == 0:
        raise MidiError(f"{where}: a tempo event gives 0 microseconds per quarter note")


def check_time_signature(numerator: int, denominator: int, tick: int, where: str) -> None:
    """Reject a time signature with numerator 0 or a denominator beyond note-seq's int32."""
    if numerator == 0 or denominator > MAX_DENOMINATOR:
        if denominator > MAX_DENOMINATOR:
            denominator = f"2**{denominator.bit_length() - 1}"
        raise MidiError(f"{where}: invalid time signature {numerator}/{denominator} at tick {tick}")


def check_last_tick(last_tick: int, where: str) -> None:
    """Reject a file whose last event lies at or beyond :data:`MAX_TICKS`."""
    if last_tick >= MAX_TICKS:
        raise MidiError(
            f"{where}: its last event is at tick {last_tick}, beyond the limit of {MAX_TICKS} "
            "ticks; the file is probably corrupt"
        )
