"""NoteSequence -> model tokens for a named encoding: what ``melodyrnn encode`` prints.

Two families, deliberately kept apart:

* Magenta's (``basic_rnn``, ``mono_rnn``, ``lookback_rnn``, ``attention_rnn``, ``drum_kit``): the
  training pipeline of magenta's melody_rnn / drums_rnn — split on time changes, quantize, extract
  melodies per instrument (min 7 bars, at most 512 steps, 5 pitch classes, polyphonic tracks
  discarded unless ``keep_highest``) or drum tracks, squash melodies into the config's range and
  key, then encode. One file can give several melodies, or none (and the reason is reported).
* magenta.js's (``magenta_js_melody``, ``magenta_js_melody_full``, ``magenta_js_drums``): what
  ``MusicRNN`` in the browser feeds its checkpoints — the whole quantized file, every note merged,
  no transposition; an out-of-range pitch is an error.

A token is the encoder's class label of the event at each step (``encoder.labels``). The Magenta
encodings are read from :data:`melodyrnn.models.configs.CONFIGS` (their one home); this module
sits in ``training/`` because it shows the data a model is trained on, built by
:mod:`melodyrnn.pipelines`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from melodyrnn.errors import EncodingError, MelodyRNNError, spell
from melodyrnn.models.configs import CONFIGS


def _magenta_encoding(config: str, family: str) -> dict:
    """A Magenta config's encoding, read from the config registry (its one home)."""
    c = CONFIGS[config]
    entry = {"family": family, "encoder": c.encoder}
    if family == "melody":
        entry["key"] = c.transpose_to_key
    return entry


# Magenta's training pipelines, named after the configs they feed, and magenta.js's converters.
ENCODINGS: dict[str, dict] = {
    "basic_rnn": _magenta_encoding("basic_rnn", "melody"),
    "mono_rnn": _magenta_encoding("mono_rnn", "melody"),
    "lookback_rnn": _magenta_encoding("lookback_rnn", "melody"),
    "attention_rnn": _magenta_encoding("attention_rnn", "melody"),
    "drum_kit": _magenta_encoding("drum_kit_rnn", "drums"),
    "magenta_js_melody": {
        "family": "magenta_js_melody",
        "encoder": {"type": "one_hot_melody", "min_note": 48, "max_note": 84},
    },
    "magenta_js_melody_full": {
        "family": "magenta_js_melody",
        "encoder": {"type": "one_hot_melody", "min_note": 0, "max_note": 128},
    },
    "magenta_js_drums": {
        "family": "magenta_js_drums",
        "encoder": {"type": "drums", "binary_counter_bits": 6, "pitch_classes": "magenta_js"},
    },
}


@dataclass
class Section:
    """One encoded stretch of music: a melody, a drum track, or a whole magenta.js file."""

    events: np.ndarray
    tokens: np.ndarray
    start_step: int = 0
    transposed_by: int = 0

    def to_dict(self) -> dict:
        return {
            "start_step": int(self.start_step),
            "steps": len(self.events),
            "transposed_by": int(self.transposed_by),
            "events": [int(e) for e in self.events],
            "tokens": [int(t) for t in self.tokens],
        }


@dataclass
class TokenResult:
    encoding: str
    sections: list[Section] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    reason: str = ""  # why there is no section, when there is none; see worded_reason

    def worded_reason(self, spellings=None) -> str:
        """The reason, its advice naming ``encoding``/``keep_highest`` as ``spellings`` say."""
        return spell(self.reason, ("encoding", "keep_highest"), spellings)

    def to_dict(self, spellings=None) -> dict:
        reason = self.worded_reason(spellings)
        return {
            "encoding": self.encoding,
            "sections": [s.to_dict() for s in self.sections],
            "stats": self.stats,
            **({"reason": reason} if reason else {}),
        }


def encode_sequence(ns, encoding: str = "basic_rnn", keep_highest: bool = False) -> TokenResult:
    """Tokens of an (unquantized) NoteSequence under a named encoding; see the module doc."""
    from melodyrnn.encoding.specs import make_encoder

    if encoding not in ENCODINGS:
        raise EncodingError(f"unknown encoding {encoding!r}; choose one of: {', '.join(ENCODINGS)}")
    entry = ENCODINGS[encoding]
    encoder = make_encoder(entry["encoder"])
    family = entry["family"]
    result = TokenResult(encoding)
    if family == "melody":
        _melody_sections(ns, entry, encoder, keep_highest, result)
    elif family == "drums":
        _drum_sections(ns, encoder, result)
    else:
        _magenta_js_section(ns, family, entry["encoder"], encoder, result)
    if not result.sections and not result.reason:
        result.reason = _why_empty(ns, family, result.stats)
    return result


def _melody_sections(ns, entry, encoder, keep_highest, result: TokenResult) -> None:
    from melodyrnn.pipelines import DatasetSettings, squashed_melodies

    spec = entry["encoder"]
    settings = DatasetSettings(
        min_note=spec["min_note"],
        max_note=spec["max_note"],
        transpose_to_key=entry["key"],
        keep_highest=keep_highest,
    )
    stats: Counter = Counter()
    for melody, amount in squashed_melodies(ns, settings, stats):
        events = melody.to_array()
        result.sections.append(
            Section(events, encoder.labels(events), melody.start_step, transposed_by=amount)
        )
    result.stats = dict(stats)


def _drum_sections(ns, encoder, result: TokenResult) -> None:
    from melodyrnn.events.drums import extract_drum_tracks
    from melodyrnn.sequence import quantize_note_sequence, split_on_time_changes

    stats: Counter = Counter()
    for piece in split_on_time_changes(ns, copy_instrument_infos=False):
        try:
            qns = quantize_note_sequence(piece)
        except MelodyRNNError as exc:
            stats[f"sequences_discarded_{type(exc).__name__}"] += 1
            continue
        tracks, track_stats = extract_drum_tracks(qns, min_bars=7, max_steps_truncate=512)
        for key, value in track_stats.items():
            if isinstance(value, int):
                stats[key] += value
        for track in tracks:
            events = track.to_array("magenta")
            result.sections.append(Section(events, encoder.labels(events), track.start_step))
    result.stats = dict(stats)


def _magenta_js_section(ns, family, spec, encoder, result: TokenResult) -> None:
    from melodyrnn.sequence import quantize_note_sequence

    qns = quantize_note_sequence(ns)
    if family == "magenta_js_melody":
        from melodyrnn.events.magenta_js import melody_from_sequence_magenta_js

        events = melody_from_sequence_magenta_js(qns, spec["min_note"], spec["max_note"] - 1)
        tokens = encoder.labels(events)
    else:
        from melodyrnn.events.magenta_js import drums_from_sequence_magenta_js

        events = drums_from_sequence_magenta_js(qns)
        tokens = np.asarray(events, dtype=np.int64)  # raw labels: >= 512 feeds a zero row
    if len(events):
        result.sections.append(Section(np.asarray(events), tokens))
    result.stats = {"steps": len(events)}


def _why_empty(ns, family: str, stats: dict) -> str:
    pitched = [n for n in ns.notes if not n.is_drum]
    if not ns.notes:
        return "the file has no notes"
    if family == "drums":
        if len(pitched) == len(ns.notes):
            return "the file has no drum notes"
        return "no drum track of at least 7 bars"
    if not pitched and family == "melody":
        return "the file has only drum notes; try {encoding} drum_kit"
    reasons = []
    if stats.get("polyphonic_tracks_discarded"):
        reasons.append(
            f"{stats['polyphonic_tracks_discarded']} polyphonic track(s) discarded "
            "(notes starting together; try {keep_highest})"
        )
    if stats.get("melodies_discarded_too_short"):
        reasons.append(f"{stats['melodies_discarded_too_short']} melody(ies) shorter than 7 bars")
    if stats.get("melodies_discarded_too_few_pitches"):
        reasons.append(
            f"{stats['melodies_discarded_too_few_pitches']} melody(ies) with fewer than 5 "
            "pitch classes"
        )
    for key, value in stats.items():
        if key.startswith("sequences_discarded_"):
            reasons.append(f"{value} section(s) could not be quantized ({key[20:]})")
    return "; ".join(reasons) or "no melody found"
