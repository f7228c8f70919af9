"""A readable summary of a NoteSequence (what ``melodyrnn inspect`` prints).

It includes the melody's estimated key (:meth:`melodyrnn.generation.primer.Primer.key`) next to
the file's own key signatures, so a user sees which key a continuation will keep.
"""

from __future__ import annotations

from collections import defaultdict

import pretty_midi

from melodyrnn.constants import KEY_NAMES, pitch_name
from melodyrnn.sequence import NoteSequence


def key_name(key: int, mode: int) -> str:
    return f"{KEY_NAMES[key % 12]} {'minor' if mode == 1 else 'major'}"


def _max_polyphony(notes) -> int:
    """The largest number of notes sounding at once."""
    events = sorted(
        [(n.start_time, 1) for n in notes] + [(n.end_time, -1) for n in notes],
        key=lambda e: (e[0], e[1]),
    )
    best = level = 0
    for _, delta in events:
        level += delta
        best = max(best, level)
    return best


def summarize(ns: NoteSequence) -> dict:
    """Tracks, notes, tempos, time and key signatures and duration of a sequence, as a dict."""
    names = {info.instrument: info.name for info in ns.instrument_infos}
    by_track: dict[tuple, list] = defaultdict(list)
    for note in ns.notes:
        by_track[(note.instrument, note.program, note.is_drum)].append(note)
    tracks = []
    for (instrument, program, is_drum), notes in sorted(by_track.items()):
        pitches = [n.pitch for n in notes]
        tracks.append(
            {
                "instrument": instrument,
                "name": names.get(instrument, ""),
                "program": program,
                "program_name": "Drums"
                if is_drum
                else pretty_midi.program_to_instrument_name(program),
                "is_drum": is_drum,
                "notes": len(notes),
                "pitch_range": [min(pitches), max(pitches)],
                "max_polyphony": _max_polyphony(notes),
                "start_time": round(min(n.start_time for n in notes), 6),
                "end_time": round(max(n.end_time for n in notes), 6),
            }
        )
    return {
        "filename": ns.filename,
        "ticks_per_quarter": ns.ticks_per_quarter,
        "duration_seconds": round(ns.total_time, 6),
        "notes": len(ns.notes),
        "tracks": tracks,
        "tempos": [{"time": round(t.time, 6), "qpm": round(t.qpm, 4)} for t in ns.tempos],
        "time_signatures": [
            {"time": round(t.time, 6), "numerator": t.numerator, "denominator": t.denominator}
            for t in ns.time_signatures
        ],
        "key_signatures": [
            {"time": round(k.time, 6), "key": key_name(k.key, k.mode)} for k in ns.key_signatures
        ],
        "estimated_key": estimated_key(ns),
        "control_changes": len(ns.control_changes),
        "pitch_bends": len(ns.pitch_bends),
    }


def estimated_key(ns: NoteSequence) -> dict | None:
    """The key continuations keep: ``{"key", "source", "score", "track", "magenta"}`` for the
    melody track a continuation would use, or None when the file has no melody to read."""
    from melodyrnn.errors import MelodyRNNError
    from melodyrnn.generation.primer import prepare_primer

    try:
        primer = prepare_primer(ns)
    except MelodyRNNError:
        return None
    return {
        **primer.key().to_dict(),
        "track": primer.instrument,
        "magenta": primer.key("magenta").name,
    }


# Up to this many tempos are listed one by one; a longer map is summarised on one line.
LISTED_TEMPOS = 6


def _qpm(qpm: float) -> str:
    return f"{round(qpm, 2):g}"


def format_tempos(tempos: list[dict]) -> str:
    """The tempo map in one line: each tempo (to 0.01 qpm) for a short map; for a long one
    (a performance's tempo drift) the count, the range of tempos and times, and the ends."""
    if not tempos:
        return "none (120 qpm assumed)"
    if len(tempos) <= LISTED_TEMPOS:
        return ", ".join(f"{_qpm(t['qpm'])} qpm at {t['time']:.2f} s" for t in tempos)
    qpms = [t["qpm"] for t in tempos]
    first, last = tempos[0], tempos[-1]
    return (
        f"{len(tempos)} tempos, {_qpm(min(qpms))}-{_qpm(max(qpms))} qpm, "
        f"{first['time']:.2f}-{last['time']:.2f} s (first {_qpm(first['qpm'])} qpm, last "
        f"{_qpm(last['qpm'])} qpm; --json lists them all)"
    )


def format_summary(summary: dict) -> str:
    """The summary as aligned text for a terminal."""
    lines = [
        f"file:      {summary['filename'] or '(bytes)'}",
        f"duration:  {summary['duration_seconds']:.2f} s, {summary['notes']} notes, "
        f"{summary['ticks_per_quarter']} ticks per quarter",
    ]
    lines.append(f"tempos:    {format_tempos(summary['tempos'])}")
    sigs = ", ".join(
        f"{t['numerator']}/{t['denominator']} at {t['time']:.2f} s"
        for t in summary["time_signatures"]
    )
    lines.append(f"meter:     {sigs or 'none (4/4 assumed)'}")
    keys = ", ".join(f"{k['key']} at {k['time']:.2f} s" for k in summary["key_signatures"])
    lines.append(f"keys:      {keys or 'none'}")
    est = summary.get("estimated_key")
    if est:
        why = "the file's key signature" if est["source"] == "signature" else "a key profile"
        lines.append(
            f"estimated: {est['key']} (track [{est['track']}], from {why}; "
            f"Magenta's estimate: {est['magenta']})"
        )
    lines.append(
        f"controls:  {summary['control_changes']} control changes, "
        f"{summary['pitch_bends']} pitch bends"
    )
    lines.append(f"tracks:    {len(summary['tracks'])}")
    for t in summary["tracks"]:
        lo, hi = t["pitch_range"]
        kind = "drums" if t["is_drum"] else f"program {t['program']} ({t['program_name']})"
        name = f" '{t['name']}'" if t["name"] else ""
        lines.append(
            f"  [{t['instrument']}]{name} {kind}: {t['notes']} notes, "
            f"pitches {pitch_name(lo)}-{pitch_name(hi)} ({lo}-{hi}), "
            f"up to {t['max_polyphony']} at once, {t['start_time']:.2f}-{t['end_time']:.2f} s"
        )
    return "\n".join(lines)
