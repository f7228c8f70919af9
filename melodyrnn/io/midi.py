"""MIDI <-> NoteSequence, with note-seq's semantics and clear errors for bad files.

The reference reader goes mido -> checks -> pretty_midi -> :class:`~melodyrnn.sequence.NoteSequence`
and gives the same sequence as note-seq's ``midi_io.midi_to_note_sequence``: one ``instrument``
index per pretty_midi Instrument (a (track, channel, program) group that has notes), its program
and drum flag, instrument names, notes, pitch bends and control changes in seconds, the tempo map
from pretty_midi, time signatures, key signatures (key = key_number % 12, mode = key_number // 12)
and ``total_time`` = the end of the last note.

What pretty_midi (and so note-seq) does not keep: MIDI channels, the track layout, lyrics, text
and sysex, tempo/meter/key events outside the first track, control changes and pitch bends of a
channel that never plays a note, velocity-0 notes, and note-ons without a note-off.

Bad input never escapes as a raw mido/pretty_midi traceback: a missing, unreadable, empty,
truncated or non-MIDI file, a path that is not a regular file (a FIFO, a device, a folder: it
is never opened, :mod:`melodyrnn.io.input_file`), a type-2 file, a header with 0 ticks per
quarter (or SMPTE timing), a tempo of 0 raise :class:`~melodyrnn.errors.MidiError`; a file
over one of the caps of :mod:`melodyrnn.limits` (its size, the span of its tracks in ticks,
its notes, tracks, tempo changes) raises :class:`~melodyrnn.errors.LimitError` before the work
it bounds (a file is never read beyond the size cap). pretty_midi's table of the time of every
tick (8 bytes a tick, and pretty_midi's own refusal of files past 10,000,000 ticks, "likely
corrupt") is kept as its tempos instead (:class:`~melodyrnn.io.midi_ticks.TickTable`, the same
floats), so a long score at a fine resolution (music21 writes 10,080 ticks a quarter: its
10,000,000 ticks are 248 bars of 4/4) reads and writes in memory of its events. The file is
checked on what mido reads before pretty_midi sees it, so reading is bounded in time and
memory (both readers share these checks: :mod:`melodyrnn.io.midi_checks`).

A fast reader (``backend="symusic"``, used by the default ``"auto"`` wherever it can) parses
with symusic's C++ parser (reading a file takes about a tenth of the reference's time) and
rebuilds exactly the reference's sequence, float for float; files where what symusic shows
cannot pin that down go to the reference (:mod:`melodyrnn.io.midi_fast` says how and which),
and so do files mido refuses: "auto" refuses exactly what the reference refuses, in its words.

Writing (:func:`sequence_to_pretty_midi`) also follows note-seq's
``note_sequence_to_pretty_midi``: resolution = ``ticks_per_quarter`` (or 220), the tempo at time
0 (or 120) as the initial tempo and every later tempo kept, time and key signatures, and one
pretty_midi Instrument per (instrument, program, is_drum) group, instrument 0 sharing the first
one. Groups other than instrument 0 without a name in ``instrument_infos`` get pretty_midi's
General MIDI name ("Drums" for drums) as track name, so those names show up when the file is read
back. Unlike note-seq, several groups of instrument 0 (e.g. two programs) each get their own
track instead of overwriting each other, values MIDI cannot store raise ``MidiError``, and a
sequence our reader would refuse (beyond the caps on ticks at the written resolution, notes,
tracks or tempo changes) raises ``LimitError`` before anything is written: what we write, we
can read.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import warnings
from collections import defaultdict
from pathlib import Path

import mido
import pretty_midi

from melodyrnn.errors import MidiError
from melodyrnn.files import write_bytes_atomically
from melodyrnn.io.input_file import read_regular_file
from melodyrnn.io.midi_checks import (
    ReadLimits,
    check_events,
    check_header_bytes,
    check_readable,
    check_signature,
    check_size,
    check_tracks,
    check_writable,
    one_line,
    summarize_track,
    truncated,
)
from melodyrnn.io.midi_events import scan_file
from melodyrnn.io.midi_exact import read_exact
from melodyrnn.io.midi_fast import NotExact, read_scanned, score_class
from melodyrnn.io.midi_ticks import TickTable
from melodyrnn.io.midi_writer import pretty_midi_bytes
from melodyrnn.limits import check_limit
from melodyrnn.sequence import (
    DEFAULT_QPM,
    MINOR,
    STANDARD_PPQ,
    ControlChange,
    InstrumentInfo,
    KeySignature,
    Note,
    NoteSequence,
    PitchBend,
    Tempo,
    TimeSignature,
)

# --- reading ---------------------------------------------------------------------------


BACKENDS = ("auto", "symusic", "pretty_midi")


def midi_to_sequence(
    source,
    *,
    filename: str | os.PathLike | None = None,
    backend: str = "auto",
    max_bytes: int | None = None,
    max_ticks: int | None = None,
    max_notes: int | None = None,
) -> NoteSequence:
    """Read MIDI into a :class:`NoteSequence` (note-seq's ``midi_to_note_sequence``).

    ``source`` is a path (``str`` or ``os.PathLike``), the file's bytes, a ``mido.MidiFile``
    or a ``pretty_midi.PrettyMIDI``. ``filename`` names the data in error messages and in the
    result: ``ns.filename`` = it, ``ns.id`` = its stem. It defaults to the path as given (or a
    ``mido.MidiFile``'s own filename); without any, both stay empty like note-seq's.

    ``backend`` picks the reader of paths and bytes; every one gives the same sequence:

    * ``"pretty_midi"``: mido + pretty_midi, exactly what note-seq runs (the reference);
    * ``"symusic"``: symusic's C++ parser (about 100x faster), read with pretty_midi's rules.
      Raises :class:`MidiError` where it cannot promise pretty_midi's result (see
      :mod:`melodyrnn.io.midi_fast`) or when symusic 0.6 is not installed;
    * ``"auto"`` (default): symusic where it can promise pretty_midi's result, else
      pretty_midi's rules applied to the events as mido reads them
      (:mod:`melodyrnn.io.midi_exact`, ~20x faster than the reference); a file mido refuses
      goes to the reference, which words the error. ``mido.MidiFile`` and ``PrettyMIDI``
      sources always take the reference path.

    A valid file without any note (only meta events, or only controllers) gives a sequence
    without notes and ``total_time`` 0: deciding whether that is an error is the caller's job.

    Raises :class:`MidiError` (one line naming the file and the reason) for anything that is
    not a readable type-0/1 Standard MIDI File, and for a path that is not a regular file (a
    folder, a FIFO, a device, a broken link: it is never opened). Raises
    :class:`~melodyrnn.errors.LimitError` for a file over a cap of :mod:`melodyrnn.limits`,
    checked before the work it bounds: its size (``max_bytes``, default the
    ``max_file_bytes`` limit; bytes given directly count too; a file is never read beyond
    it), the span of its tracks in ticks (``max_ticks``), its notes (``max_notes``), its tracks
    (``max_tracks``) and the tempo, time and key signature events of its first track
    (``max_tempo_changes``). Both backends refuse the same files with the same words.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    limits = ReadLimits.resolve(max_bytes, max_ticks, max_notes)
    if isinstance(source, pretty_midi.PrettyMIDI):
        _no_symusic_for(source, backend)
        label = os.fspath(filename) if filename is not None else None
        try:
            ns = _pretty_midi_to_sequence(source)
        except MidiError as exc:
            raise MidiError(f"{_describe(label)}: {exc}") from exc
        except Exception as exc:  # a hand-built PrettyMIDI with values MIDI cannot hold
            raise MidiError(f"{_describe(label)}: {one_line(exc)}") from exc
        return _with_name(ns, label)

    if isinstance(source, mido.MidiFile):
        _no_symusic_for(source, backend)
        label = filename if filename is not None else source.filename
        label = os.fspath(label) if label is not None else None
        # pretty_midi rewrites message times in place; work on a copy of the caller's object.
        return _read_with_pretty_midi(copy.deepcopy(source), label, limits)

    if isinstance(source, (bytes, bytearray, memoryview)):
        label = os.fspath(filename) if filename is not None else None
        check_size(memoryview(source).nbytes, _describe(label), limits)
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        label = os.fspath(filename) if filename is not None else path
        data = read_regular_file(path, _describe(label, path=True), limits.file_bytes)
    else:
        raise TypeError(
            "midi_to_sequence() takes a path, bytes, a mido.MidiFile or a pretty_midi.PrettyMIDI, "
            f"not {type(source).__name__}"
        )

    where = _describe(label)
    check_header_bytes(data, where, limits)
    symusic_score = score_class() if backend != "pretty_midi" else None
    if symusic_score is None and backend == "symusic":
        raise MidiError(
            f"{where}: backend 'symusic' needs symusic 0.6 "
            "(pip install 'symusic>=0.6,<0.7'); or use backend='pretty_midi'"
        )
    try:
        # Both readers first walk the file as mido reads it: the caps on events, ticks, notes
        # and tempo changes are checked before mido or symusic builds anything.
        scanned = scan_file(data, where, limits)
    except MidiError as exc:  # mido refuses the file
        if backend == "symusic" or (backend == "auto" and getattr(exc, "certain", False)):
            raise  # with the reference's words (the fuzzing checks them against it)
        return _read_with_pretty_midi(data, label, limits)  # the reference words why
    # The reference's own checks and caps, on what mido reads, with its words: their verdict
    # is final for both readers.
    check_tracks(*scanned.header, scanned.summaries, where, limits)
    if symusic_score is not None and (backend == "symusic" or _symusic_pays(scanned)):
        try:
            return _with_name(read_scanned(scanned, symusic_score, where), label)
        except NotExact as exc:
            if backend == "symusic":
                raise MidiError(
                    f"{where}: symusic cannot promise pretty_midi's reading ({exc}); "
                    "use backend='pretty_midi' or 'auto'"
                ) from None
        except MidiError:
            if backend == "symusic":
                raise
    if backend == "auto":
        # pretty_midi's rules on the events mido reads, without building mido's objects
        return _with_name(read_exact(scanned, where), label)
    del scanned
    return _read_with_pretty_midi(data, label, limits, checked=True)


def _symusic_pays(scanned) -> bool:
    """Whether symusic beats the exact reader on this file: it parses each track twice, at
    about 0.2 ms a track, where the exact reader costs about 2.5 us an event (bench/fuzz.py's
    4,095-track files read 2-6x faster exactly); the two break even near 200 events a track."""
    events = sum(summary.events for summary in scanned.summaries)
    return events >= _SYMUSIC_EVENTS_PER_TRACK * len(scanned.summaries)


_SYMUSIC_EVENTS_PER_TRACK = 200


def _no_symusic_for(source, backend: str) -> None:
    if backend == "symusic":
        raise TypeError(
            f"backend 'symusic' reads paths and bytes, not a {type(source).__name__}; "
            "use backend='auto' or 'pretty_midi'"
        )


def _read_with_pretty_midi(
    source: bytes | mido.MidiFile, label: str | None, limits: ReadLimits, checked: bool = False
) -> NoteSequence:
    """The reference reader: ``source`` is the file's bytes or a ``mido.MidiFile`` it may
    change; ``checked``: the bytes passed :func:`check_tracks` already."""
    midi = _parse_bytes(source, label) if isinstance(source, bytes) else source
    del source
    _check_midi(midi, label, limits, checked)
    try:
        with warnings.catch_warnings(), _pretty_midi_tick_limit(limits.ticks):
            # pretty_midi warns about tempo/meter events outside track 0 (it ignores them,
            # like note-seq); that is documented above and not worth a warning per file.
            warnings.simplefilter("ignore", RuntimeWarning)
            pm = _PrettyMIDI(mido_object=midi)
            del midi  # mido's messages (~260 bytes an event) go before our sequence is built
            ns = _pretty_midi_to_sequence(pm)  # its tempo times check the tick cap too
    except MidiError as exc:
        raise MidiError(f"{_describe(label)}: {exc}") from exc
    except Exception as exc:  # pretty_midi raises many kinds of errors on odd files
        raise MidiError(f"{_describe(label)}: {one_line(exc)}") from exc
    return _with_name(ns, label)


def _describe(label: str | None, path: bool = False) -> str:
    """The start of an error message: the file's name (a path, even "", is always named)."""
    return f"cannot read MIDI file '{label}'" if label or path else "cannot read MIDI data"


class _PrettyMIDI(pretty_midi.PrettyMIDI):
    """A ``pretty_midi.PrettyMIDI`` whose tick -> seconds table is a :class:`TickTable`:
    every entry the same float, in memory of its tempos instead of 8 bytes a tick (200 MB for
    a long score at music21's 10,080 ticks a quarter); ``time_to_tick`` finds the same ticks."""

    def _update_tick_to_time(self, max_tick):
        top = max(int(max_tick), max(tick for tick, _ in self._tick_scales))
        self._PrettyMIDI__tick_to_time = _Entries(TickTable(self._tick_scales, top))

    def time_to_tick(self, time):
        entries = self._PrettyMIDI__tick_to_time
        if isinstance(entries, _Entries):
            return entries.table.time_to_tick(time)
        return super().time_to_tick(time)  # before any tempo: pretty_midi's [0]


class _Entries:
    """A :class:`TickTable` indexed as pretty_midi indexes its table (a tick, as an int)."""

    def __init__(self, table: TickTable):
        self.table = table

    def __len__(self) -> int:
        return self.table.top + 1

    def __getitem__(self, tick) -> float:
        if not 0 <= tick <= self.table.top:
            raise IndexError(f"tick {tick} is outside the table")
        return self.table.value(int(tick))


@contextlib.contextmanager
def _pretty_midi_tick_limit(max_ticks: int):
    """Raise pretty_midi's own tick limit (its module's MAX_TICK, which has the meaning of ours:
    at most that many ticks) to ``max_ticks`` while it reads, where a caller raised ours."""
    module = pretty_midi.pretty_midi
    before = module.MAX_TICK
    if max_ticks <= before:
        yield
        return
    module.MAX_TICK = max_ticks
    try:
        yield
    finally:
        module.MAX_TICK = before


def _with_name(ns: NoteSequence, label: str | None) -> NoteSequence:
    if label:
        ns.filename = label
        ns.id = Path(label).stem
    return ns


def _parse_bytes(data: bytes, label: str | None) -> mido.MidiFile:
    """Parse with mido, turning its many exception types into one clear MidiError."""
    where = _describe(label)
    check_signature(data, where)
    try:
        midi = mido.MidiFile(file=io.BytesIO(data))
    except EOFError as exc:
        raise truncated(where) from exc
    except Exception as exc:
        raise MidiError(f"{where}: corrupt MIDI data ({one_line(exc)})") from exc
    midi.filename = label
    return midi


def _check_midi(midi: mido.MidiFile, label: str | None, limits: ReadLimits, checked: bool) -> None:
    """Reject what pretty_midi cannot read sensibly, before it allocates anything (``checked``:
    the file's bytes passed these checks already)."""
    if not checked:
        where = _describe(label)
        what = f"{where}: the number of tracks"
        check_limit("max_tracks", len(midi.tracks), what, limits.tracks)
        check_events(sum(len(track) for track in midi.tracks), where, limits)
        summaries = [summarize_track(track) for track in midi.tracks]
        check_tracks(midi.type, midi.ticks_per_beat, summaries, where, limits)
    for track in midi.tracks:
        if not track:
            # pretty_midi fails on a track with no events at all; an empty track means nothing.
            track.append(mido.MetaMessage("end_of_track", time=0))


def _pretty_midi_to_sequence(pm: pretty_midi.PrettyMIDI) -> NoteSequence:
    ns = NoteSequence(ticks_per_quarter=int(pm.resolution))

    for ts in pm.time_signature_changes:
        ns.time_signatures.append(
            TimeSignature(float(ts.time), int(ts.numerator), int(ts.denominator))
        )
    for ks in pm.key_signature_changes:
        mode = int(ks.key_number) // 12
        if mode not in (0, 1):
            raise MidiError(f"invalid key number {ks.key_number}")
        ns.key_signatures.append(KeySignature(float(ks.time), int(ks.key_number) % 12, mode))
    for time, qpm in zip(*pm.get_tempo_changes()):
        ns.tempos.append(Tempo(float(time), float(qpm)))

    for index, inst in enumerate(pm.instruments):
        program, is_drum = int(inst.program), bool(inst.is_drum)
        if inst.name:
            ns.instrument_infos.append(InstrumentInfo(index, inst.name))
        for n in inst.notes:
            ns.notes.append(
                Note(
                    pitch=int(n.pitch),
                    velocity=int(n.velocity),
                    start_time=float(n.start),
                    end_time=float(n.end),
                    instrument=index,
                    program=program,
                    is_drum=is_drum,
                )
            )
        for b in inst.pitch_bends:
            ns.pitch_bends.append(PitchBend(float(b.time), int(b.pitch), index, program, is_drum))
        for cc in inst.control_changes:
            ns.control_changes.append(
                ControlChange(
                    float(cc.time), int(cc.number), int(cc.value), index, program, is_drum
                )
            )
    ns.total_time = max((n.end_time for n in ns.notes), default=0.0)
    return ns


# --- writing ---------------------------------------------------------------------------


def sequence_to_pretty_midi(ns: NoteSequence) -> pretty_midi.PrettyMIDI:
    """A ``pretty_midi.PrettyMIDI`` of ``ns`` (note-seq's ``note_sequence_to_pretty_midi``).

    Absolute times are kept: the tempo map is rebuilt so every event lands on the tick nearest
    its time. Quantized fields are ignored. Raises :class:`MidiError` for values a MIDI file
    cannot hold (pitch 128, a 4/3 time signature, a negative time, ...).
    """
    pm, table = _to_pretty_midi(ns)
    if len(table.scales) > 1:  # the table pretty_midi's methods use (a TickTable: _PrettyMIDI)
        pm._update_tick_to_time(0)
    return pm


def _to_pretty_midi(ns: NoteSequence) -> tuple[pretty_midi.PrettyMIDI, TickTable]:
    """:func:`sequence_to_pretty_midi` without pretty_midi's tick table: the PrettyMIDI and
    the :class:`TickTable` that stands for its table."""
    check_writable(ns)
    resolution = ns.ticks_per_quarter or STANDARD_PPQ
    tempos = sorted(ns.tempos, key=lambda t: t.time)
    initial = next((t for t in tempos if t.time == 0), None)
    initial_qpm = initial.qpm if initial else DEFAULT_QPM
    pm = _PrettyMIDI(resolution=resolution, initial_tempo=initial_qpm)
    # pretty_midi has no public way to add tempo changes: each change goes on the tick its time
    # has under the tempos before it, in time order. TickTable builds pretty_midi's tick scales
    # and table that way, in memory that grows with the tempos rather than the ticks.
    table = TickTable([(0, 60.0 / (initial_qpm * resolution))], 0)
    for tempo in tempos:
        if tempo == initial:
            continue
        tick = table.time_to_tick(tempo.time)
        check_limit("max_ticks", tick, f"the tick of the tempo change at {tempo.time:g} s")
        table.add(tick, 60.0 / (resolution * tempo.qpm))
    pm._tick_scales = list(table.scales)

    for ts in ns.time_signatures:
        pm.time_signature_changes.append(
            pretty_midi.TimeSignature(ts.numerator, ts.denominator, ts.time)
        )
    for ks in ns.key_signatures:
        key_number = ks.key + (12 if ks.mode == MINOR else 0)
        pm.key_signature_changes.append(pretty_midi.KeySignature(key_number, ks.time))

    groups: dict[tuple[int, int, bool], dict[str, list]] = defaultdict(
        lambda: {"notes": [], "bends": [], "controls": []}
    )
    for n in ns.notes:
        groups[(n.instrument, n.program, n.is_drum)]["notes"].append(
            pretty_midi.Note(n.velocity, n.pitch, n.start_time, n.end_time)
        )
    for b in ns.pitch_bends:
        groups[(b.instrument, b.program, b.is_drum)]["bends"].append(
            pretty_midi.PitchBend(b.bend, b.time)
        )
    for cc in ns.control_changes:
        groups[(cc.instrument, cc.program, cc.is_drum)]["controls"].append(
            pretty_midi.ControlChange(cc.control_number, cc.control_value, cc.time)
        )

    names = {info.instrument: info.name for info in ns.instrument_infos}
    # Instrument 0 shares the first track, which exists even when nothing plays on it.
    first = pretty_midi.Instrument(0)
    pm.instruments.append(first)
    first_used = False
    for (index, program, is_drum), events in sorted(groups.items()):
        if index == 0 and not first_used:
            inst, first_used = first, True
            inst.program, inst.is_drum = program, is_drum
        else:
            default_name = "Drums" if is_drum else pretty_midi.program_to_instrument_name(program)
            inst = pretty_midi.Instrument(program, is_drum, default_name)
            pm.instruments.append(inst)
        if index in names:
            inst.name = names[index]
        inst.notes = events["notes"]
        inst.pitch_bends = events["bends"]
        inst.control_changes = events["controls"]
    check_readable(pm, ns, table)
    return pm, table


def sequence_to_midi_bytes(ns: NoteSequence) -> bytes:
    """The bytes of the Standard MIDI File :func:`sequence_to_pretty_midi` describes."""
    pm, table = _to_pretty_midi(ns)
    try:
        return pretty_midi_bytes(pm, table)  # what pm.write writes, byte for byte
    except Exception as exc:  # values were checked; this is a last line of defence
        raise MidiError(f"cannot write MIDI: {one_line(exc)}") from exc


def sequence_to_midi_file(ns: NoteSequence, path: str | os.PathLike) -> Path:
    """Write ``ns`` as a MIDI file, atomically: a reader never sees a half-written file.

    The bytes go to a temporary file in the same folder, which then replaces ``path``.
    Returns ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    data = sequence_to_midi_bytes(ns)
    folder = path.parent
    if not folder.is_dir():
        raise MidiError(f"cannot write MIDI file '{path}': folder '{folder}' does not exist")
    try:
        return write_bytes_atomically(path, data)
    except OSError as exc:
        raise MidiError(f"cannot write MIDI file '{path}': {exc.strerror or exc}") from exc
