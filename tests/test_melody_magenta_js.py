"""magenta.js's melody reading (melodyrnn.events.magenta_js) against @magenta/music fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import MAGENTA_JS_EXPECTED, load_json
from hypothesis import given
from hypothesis import strategies as st
from melody_helpers import (
    ENCODE,
    HYPO,
    QUANTIZED,
    hand_sequence,
    js_events,
    js_indices,
    json_note_tuples,
    note_tuples,
    quantized_sequences,
)

from melodyrnn.errors import (
    PitchOutOfRangeError,
    PolyphonicMelodyError,
)
from melodyrnn.events.magenta_js import (
    melody_from_sequence_magenta_js,
    melody_to_sequence_magenta_js,
)
from melodyrnn.events.projections import project_melody_magenta_js
from melodyrnn.io.magenta_js_json import from_magenta_js_json

# --- magenta.js -------------------------------------------------------------------------------

MELODY_CONVERTERS = {
    name: spec["args"]
    for name, spec in ENCODE["converters"].items()
    if spec["type"] == "MelodyConverter"
}
ENCODE_FILES = [f for f in ENCODE["files"] if "quantized" in f]


def test_encode_json_covers_the_cases():
    assert set(MELODY_CONVERTERS) == {"basic_rnn", "melody_rnn_0_127"}
    errors = [f["encodings"][c].get("error") for f in ENCODE_FILES for c in MELODY_CONVERTERS]
    assert sum(e is not None for e in errors) == 3 and sum(e is None for e in errors) == 9


@pytest.mark.parametrize("entry", ENCODE_FILES, ids=lambda f: f["file"])
@pytest.mark.parametrize("converter", sorted(MELODY_CONVERTERS))
def test_magenta_js_encode_json(entry, converter):
    args = MELODY_CONVERTERS[converter]
    lo, hi = args["minPitch"], args["maxPitch"]
    expected = entry["encodings"][converter]
    qns = from_magenta_js_json(entry["quantized"])
    if "error" in expected:
        with pytest.raises(PitchOutOfRangeError) as info:
            melody_from_sequence_magenta_js(qns, lo, hi)
        assert str(info.value) == expected["error"]["message"]
        with pytest.raises(PitchOutOfRangeError):
            project_melody_magenta_js(qns, lo, hi)
        return
    events = melody_from_sequence_magenta_js(qns, lo, hi)
    assert js_indices(events, lo) == expected["indices"]
    assert list(expected["shape"]) == [len(events), hi - lo + 3]
    decoded = melody_to_sequence_magenta_js(js_events(expected["indices"], lo), 4)
    assert note_tuples(decoded) == json_note_tuples(expected["decoded"]["notes"])
    assert decoded.total_quantized_steps == expected["decoded"]["totalQuantizedSteps"]
    assert project_melody_magenta_js(qns, lo, hi) == melody_to_sequence_magenta_js(events, 4)


EXPECTED_MELODY_FILES = [
    f"expected/{name}" for name in MAGENTA_JS_EXPECTED if name.startswith(("melody_", "improv_"))
]


def _stem(relative: str) -> str:
    return Path(relative).stem


def _checkpoint_range(name: str) -> tuple[int, int]:
    args = load_json(f"checkpoints/{name}/config.json")["dataConverter"]["args"]
    return args["minPitch"], args["maxPitch"]


@pytest.mark.parametrize("relative", EXPECTED_MELODY_FILES, ids=_stem)
def test_magenta_js_primers_and_continuations(relative):
    expected = load_json(relative)
    lo, hi = _checkpoint_range(expected["checkpoint"])
    primer = expected["primer"]
    source = primer["source"]
    if source.startswith("midi/"):
        entry = next(f for f in ENCODE["files"] if f["file"] == source)
        qns = from_magenta_js_json(entry["quantized"])
    else:  # a hand-made quantized primer: its notes are in the file
        qns = from_magenta_js_json(
            {
                "notes": primer["notes"],
                "totalQuantizedSteps": primer["totalQuantizedSteps"],
                "quantizationInfo": {"stepsPerQuarter": primer["stepsPerQuarter"]},
            }
        )
    assert js_indices(melody_from_sequence_magenta_js(qns, lo, hi), lo) == primer["indices"]
    cont = expected["continuation"]
    decoded = melody_to_sequence_magenta_js(js_events(cont["tokens"], lo), cont["stepsPerQuarter"])
    assert note_tuples(decoded) == json_note_tuples(cont["notes"])
    assert decoded.total_quantized_steps == cont["totalQuantizedSteps"] == expected["steps"]


# magenta.js reads MIDI with tonejs, melodyrnn.io.midi with pretty_midi (like note-seq). They
# differ on two fixtures: melody_offgrid_90bpm.mid (notes exactly half a step off the grid at
# 666667 us per quarter round the other way: float round-off in the times/qpm) and
# poly_overlap.mid (two overlapping note-ons of one pitch: tonejs gives each its own note-off,
# pretty_midi ends both at the first). The other primers match.
READER_AGREES = [
    relative
    for relative in EXPECTED_MELODY_FILES
    if load_json(relative)["primer"]["source"]
    in ("midi/melody_simple.mid", "midi/multitrack_3_4.mid", "midi/out_of_range.mid")
]


@pytest.mark.parametrize("relative", READER_AGREES, ids=_stem)
def test_magenta_js_primers_from_our_midi_reader(relative):
    """Our MIDI reader + quantizer give the primers magenta.js fed where the readers agree."""
    expected = load_json(relative)
    source = expected["primer"]["source"]
    lo, hi = _checkpoint_range(expected["checkpoint"])
    qns = QUANTIZED[Path(source).name]
    events = melody_from_sequence_magenta_js(qns, lo, hi)
    assert js_indices(events, lo) == expected["primer"]["indices"]


def test_magenta_js_hand_cases():
    # 64 and 62 start together (62 skipped even though out of range), 67 starts under 64,
    # 64's NOTE_OFF at 6 then cuts 67; 70 starts past num_steps and vanishes.
    qns = hand_sequence([(64, 0, 6), (20, 0, 3), (67, 2, 10), (70, 9, 12)])
    events = melody_from_sequence_magenta_js(qns, 48, 83, num_steps=8)
    assert events.tolist() == [64, -2, 67, -2, -2, -2, -1, -2]
    assert note_tuples(melody_to_sequence_magenta_js(events, 4)) == [
        (64, 0, 2, False),
        (67, 2, 6, False),
    ]
    assert project_melody_magenta_js(qns, 48, 83, num_steps=8) == melody_to_sequence_magenta_js(
        events, 4
    )
    with pytest.raises(PolyphonicMelodyError, match="not monophonic"):
        melody_from_sequence_magenta_js(qns, 48, 83, ignore_polyphony=False)
    # One pass in note order: the chord at step 0 fails before the out-of-range 70 at step 9.
    with pytest.raises(PolyphonicMelodyError):
        melody_from_sequence_magenta_js(qns, 48, 69, ignore_polyphony=False)
    with pytest.raises(PitchOutOfRangeError, match="valid range: 70"):
        melody_from_sequence_magenta_js(qns, 48, 69)
    # Drums, velocity 0 and every instrument count; the length defaults to total_quantized_steps.
    qns = hand_sequence([(60, 0, 2, 3, True, 0), (62, 4, 5, 1)])
    assert melody_from_sequence_magenta_js(qns, 0, 127).tolist() == [60, -2, -1, -2, 62]
    decoded = melody_to_sequence_magenta_js([60, -2, -1, -2, 62], 2, qpm=60.0, velocity=0)
    assert [(n.start_time, n.end_time, n.velocity) for n in decoded.notes] == [
        (0.0, 1.0, 0),
        (2.0, 2.5, 0),
    ]
    assert decoded.total_quantized_steps == 5 and decoded.quantization_info.steps_per_quarter == 2


@HYPO
@given(quantized_sequences(meters=[(4, 4)]), st.sampled_from([None, 0, 16, 40, 200]))
def test_magenta_js_round_trip_generated(qns, num_steps):
    events = melody_from_sequence_magenta_js(qns, 0, 127, num_steps=num_steps)
    spq = qns.quantization_info.steps_per_quarter
    assert project_melody_magenta_js(
        qns, 0, 127, num_steps=num_steps
    ) == melody_to_sequence_magenta_js(events, spq)
    # A narrower range: both raise the same error, or agree.
    try:
        expected = project_melody_magenta_js(qns, 48, 83)
    except PitchOutOfRangeError as exc:
        with pytest.raises(PitchOutOfRangeError) as info:
            melody_from_sequence_magenta_js(qns, 48, 83)
        assert str(info.value) == str(exc)
    else:
        events = melody_from_sequence_magenta_js(qns, 48, 83)
        assert melody_to_sequence_magenta_js(events, spq) == expected
