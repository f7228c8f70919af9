"""extract_melodies (melodyrnn.events.melody) against Magenta's extract_melodies."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from melody_helpers import (
    GRID,
    HYPO,
    QUANTIZED,
    assert_same_melody,
    extract_kwargs,
    hand_sequence,
    outcome,
    quantized_sequences,
)

from melodyrnn.errors import LimitError, NonIntegerStepsPerBarError
from melodyrnn.events import melody as M
from melodyrnn.events.melody import extract_melodies
from melodyrnn.io.note_seq_proto import to_note_seq
from melodyrnn.sequence import NoteSequence

# --- extract_melodies -------------------------------------------------------------------------


def reference_extract_melodies(
    note_seq,
    qns: NoteSequence,
    search_start_step=0,
    min_bars=7,
    max_steps_truncate=None,
    max_steps_discard=None,
    gap_bars=1.0,
    min_unique_pitches=5,
    ignore_polyphonic_notes=True,
    pad_end=False,
    filter_drums=True,
):
    """Magenta's melody_pipelines.extract_melodies, as a loop over note-seq's Melody."""
    melodies_lib, sequences_lib = note_seq.melodies_lib, note_seq.sequences_lib
    proto = to_note_seq(qns)
    stats = dict.fromkeys(M.EXTRACT_COUNTERS, 0)
    lengths = Counter()
    melodies = []
    steps_per_bar = int(sequences_lib.steps_per_bar_in_quantized_sequence(proto))
    for instrument in sorted({n.instrument for n in proto.notes}):
        start = search_start_step
        while True:
            mel = melodies_lib.Melody()
            try:
                mel.from_quantized_sequence(
                    proto,
                    instrument=instrument,
                    search_start_step=start,
                    gap_bars=gap_bars,
                    ignore_polyphonic_notes=ignore_polyphonic_notes,
                    pad_end=pad_end,
                    filter_drums=filter_drums,
                )
            except melodies_lib.PolyphonicMelodyError:
                stats["polyphonic_tracks_discarded"] += 1
                break
            start = mel.end_step + (search_start_step - mel.end_step) % steps_per_bar
            if not mel:
                break
            if len(mel) < mel.steps_per_bar * min_bars:
                stats["melodies_discarded_too_short"] += 1
                continue
            if max_steps_discard is not None and len(mel) > max_steps_discard:
                stats["melodies_discarded_too_long"] += 1
                continue
            if max_steps_truncate is not None and len(mel) > max_steps_truncate:
                length = max_steps_truncate
                if pad_end:
                    length -= max_steps_truncate % mel.steps_per_bar
                mel.set_length(length)
                stats["melodies_truncated"] += 1
            if np.count_nonzero(mel.get_note_histogram()) < min_unique_pitches:
                stats["melodies_discarded_too_few_pitches"] += 1
                continue
            lengths[len(mel) // mel.steps_per_bar] += 1
            melodies.append(mel)
    stats["melody_lengths_in_bars"] = dict(lengths)
    return melodies, stats


def _compare_extract(note_seq, qns, **kwargs):
    ours = outcome(note_seq, lambda: extract_melodies(qns, **kwargs))
    theirs = outcome(note_seq, lambda: reference_extract_melodies(note_seq, qns, **kwargs))
    assert ours[0] == theirs[0]
    if ours[0] == "raises":
        assert ours[1] == theirs[1]
        return None
    (mine, my_stats), (ref, ref_stats) = ours[1], theirs[1]
    assert my_stats == ref_stats
    assert len(mine) == len(ref)
    for a, b in zip(mine, ref):
        assert_same_melody(a, b)
    return my_stats


@pytest.mark.parametrize("name", sorted(QUANTIZED))
def test_extract_melodies_matches_magenta_on_fixtures(note_seq, name):
    qns = QUANTIZED[name]
    seen = Counter()
    for ignore, pad_end, filter_drums, gap_bars in GRID:
        for min_bars, min_unique, truncate, discard in [
            (7, 5, None, None),
            (0, 1, None, None),
            (1, 2, 16, None),
            (0, 3, 12, 40),
        ]:
            stats = _compare_extract(
                note_seq,
                qns,
                min_bars=min_bars,
                min_unique_pitches=min_unique,
                max_steps_truncate=truncate,
                max_steps_discard=discard,
                gap_bars=gap_bars,
                ignore_polyphonic_notes=ignore,
                pad_end=pad_end,
                filter_drums=filter_drums,
            )
            seen.update(k for k, v in stats.items() if v)
    # The fixtures are short: the default filters (7 bars) drop everything, the loose ones keep.
    assert seen["melody_lengths_in_bars"] > 0 and seen["melodies_discarded_too_short"] > 0


@HYPO
@given(quantized_sequences(max_notes=24), extract_kwargs)
def test_extract_melodies_matches_magenta_generated(note_seq, qns, kwargs):
    _compare_extract(note_seq, qns, **kwargs)


def test_extract_melodies_hand_case():
    # Instrument 0: a 2-bar, 4-pitch-class melody, a 2-bar gap, then a 1-bar melody.
    # Instrument 1: a chord at step 0 (polyphonic track). Instrument 2: drums only.
    first = [(60, 0, 4), (62, 4, 8), (64, 8, 12), (65, 12, 16), (67, 16, 20), (60, 20, 30)]
    qns = hand_sequence(
        [
            *first,
            (72, 64, 66),
            (74, 66, 68),
            (48, 0, 8, 1),
            (52, 0, 8, 1),
            (36, 0, 1, 2, True),
        ]
    )
    melodies, stats = extract_melodies(qns, min_bars=0, min_unique_pitches=2)
    assert [(m.start_step, len(m)) for m in melodies] == [(0, 30), (64, 4)]
    assert stats["melody_lengths_in_bars"] == {1: 1, 0: 1}
    assert stats["melodies_discarded_too_few_pitches"] == 1  # instrument 1 keeps only 52
    assert stats["polyphonic_tracks_discarded"] == 0
    melodies, stats = extract_melodies(
        qns, min_bars=1, min_unique_pitches=5, ignore_polyphonic_notes=False, max_steps_truncate=24
    )
    assert [(m.start_step, len(m)) for m in melodies] == [(0, 24)]
    assert stats == {
        "polyphonic_tracks_discarded": 1,
        "melodies_discarded_too_short": 1,
        "melodies_discarded_too_few_pitches": 0,
        "melodies_discarded_too_long": 0,
        "melodies_truncated": 1,
        "melody_lengths_in_bars": {1: 1},
    }
    assert extract_melodies(hand_sequence([], spq=1, meter=(5, 8))) == (
        [],
        {**dict.fromkeys(M.EXTRACT_COUNTERS, 0), "melody_lengths_in_bars": {}},
    )
    with pytest.raises(NonIntegerStepsPerBarError):
        extract_melodies(hand_sequence([(60, 0, 4)], spq=1, meter=(5, 8)))


def test_the_melodies_steps_are_capped(monkeypatch):
    # By hand: instrument 0 reads melodies of 30 and 4 steps, instrument 1 (its top note kept)
    # one of 8, the drums none: 42 steps in all. A file of thousands of tracks, each note held
    # for minutes, would build a list of every step of every track before the cap.
    qns = hand_sequence(
        [(60, 0, 4), (62, 4, 8), (64, 8, 12), (65, 12, 16), (67, 16, 20), (60, 20, 30),
         (72, 64, 66), (74, 66, 68), (48, 0, 8, 1), (52, 0, 8, 1), (36, 0, 1, 2, True)]
    )  # fmt: skip
    monkeypatch.setenv("MELODYRNN_MAX_MELODY_STEPS", "42")
    assert len(extract_melodies(qns, min_bars=0, min_unique_pitches=1)[0]) == 3
    monkeypatch.setenv("MELODYRNN_MAX_MELODY_STEPS", "41")
    with pytest.raises(LimitError, match=r"the melodies' steps is 42 steps.*max_melody_steps"):
        extract_melodies(qns, min_bars=0, min_unique_pitches=1)
