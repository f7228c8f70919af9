"""Chord symbols, chord encodings and progressions against note-seq and the magenta.js fixtures."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import load_json
from hypothesis import given, settings
from hypothesis import strategies as st

from melodyrnn.errors import ChordEncodingError, ChordSymbolError, MelodyRNNError
from melodyrnn.events.chords import (
    AUGMENTED,
    DIMINISHED,
    MAJOR,
    MINOR,
    NO_CHORD,
    OTHER,
    MajorMinorChordOneHotEncoding,
    PitchChordsEncoding,
    TriadChordOneHotEncoding,
    chord_bass,
    chord_indices_magenta_js,
    chord_pitch_classes,
    chord_quality,
    chord_root,
    chords_per_step_magenta,
    chords_per_step_magenta_js,
    is_no_chord,
    make_chord_encoding,
    parse_chord_symbol,
)

SYMBOLS = [
    "C", "Cm", "Am7", "F#m7", "Bb/D", "Cmaj7", "C7", "Cdim", "Caug", "Csus4", "Csus2", "C6",
    "Cm7b5", "C9", "Cmin", "C-", "CM7", "C+", "Co", "Co7", "Cdim7", "C+7", "Eb", "G#m", "Dbmaj9",
    "Abm6", "E7sus", "Bsus", "F#5", "Gped", "A13", "Bbm11", "D6/9", "C/E", "Am/G", "F#m7b5/E",
    "Cmaj", "CM", "C-7", "Cmin7", "C-7b5", "C/o", "C/o7", "CmM7", "Cm(maj7)", "C-(M7)", "Cm9",
    "Caug9", "C11", "Cmaj11", "CM13", "Cm13", "Csus7", "Cadd9", "Cmadd9", "C7b9", "C7#9",
    "C7(b9)", "C7(#11)", "C7b5", "C7#5", "C9no3", "Cadd2", "C(add9)", "Cm(add9)", "C7(b9)(#11)",
    "C7b9#11", "Cadd#11", "Caddb9", "C7(no5)", "Cm7(b5)", "C#", "Cb", "Fb/Eb", "B#m", "E##",
    "Abbdim", "G7/F", "D/F#", "Cbb5", "A7add13", "C7add6", "Cmadd7", "C(b5",
]  # fmt: skip

# Rejected by note-seq (the parser, or a modification that cannot be applied) and by us.
GARBAGE = [
    "", "H", "c", "cm", "C#b", "Cx", "Cmaj7/", "C/H", "C/", "Cadd", "Cfoo", "C M", "Cadd3",
    "Cno9", "C7add7", "C9add9", "Cm7no9", "C7/9", "X7", "Cmaj7b", "Am7(", "C(b5))",
]  # fmt: skip


def _noteseq_parse(note_seq, symbol):
    csl = note_seq.chord_symbols_lib
    return (
        csl.chord_symbol_root(symbol),
        frozenset(csl.chord_symbol_pitches(symbol)),
        csl.chord_symbol_bass(symbol),
        csl.chord_symbol_quality(symbol),
    )


def _ours(symbol):
    chord = parse_chord_symbol(symbol)
    return chord.root, chord.pitch_classes, chord.bass, chord.quality


# --- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_parse_matches_note_seq(note_seq, symbol):
    csl = note_seq.chord_symbols_lib
    assert _ours(symbol) == _noteseq_parse(note_seq, symbol)
    assert chord_root(symbol) == csl.chord_symbol_root(symbol)
    assert chord_bass(symbol) == csl.chord_symbol_bass(symbol)
    assert chord_pitch_classes(symbol) == set(csl.chord_symbol_pitches(symbol))
    assert chord_quality(symbol) == csl.chord_symbol_quality(symbol)


def test_parse_by_hand():
    assert _ours("C") == (0, {0, 4, 7}, 0, MAJOR)
    assert _ours("Bb/D") == (10, {10, 2, 5}, 2, MAJOR)
    assert _ours("F#m7") == (6, {6, 9, 1, 4}, 6, MINOR)
    assert _ours("Caug") == (0, {0, 4, 8}, 0, AUGMENTED)
    assert _ours("Cm7b5") == (0, {0, 3, 6, 10}, 0, DIMINISHED)
    assert _ours("Csus4") == (0, {0, 5, 7}, 0, OTHER)
    assert _ours("C9") == (0, {0, 4, 7, 10, 2}, 0, MAJOR)


@pytest.mark.parametrize("symbol", GARBAGE)
def test_note_seq_rejects_garbage(note_seq, symbol):
    with pytest.raises(note_seq.chord_symbols_lib.ChordSymbolError):
        _noteseq_parse(note_seq, symbol)


@pytest.mark.parametrize("symbol", GARBAGE)
def test_garbage_is_rejected(symbol):
    with pytest.raises(ChordSymbolError) as info:
        parse_chord_symbol(symbol)
    assert repr(symbol) in str(info.value)
    assert isinstance(info.value, MelodyRNNError)


def test_non_string_is_rejected():
    with pytest.raises(ChordSymbolError):
        parse_chord_symbol(None)  # type: ignore[arg-type]
    with pytest.raises(ChordSymbolError):
        parse_chord_symbol(["C"])  # type: ignore[arg-type]


# Spellings we accept and note-seq does not, each with the spelling it means.
EXTRA_SPELLINGS = [
    ("CΔ", "Cmaj7"), ("CΔ7", "Cmaj7"), ("CΔ9", "Cmaj9"), ("C°", "Cdim"), ("C°7", "Cdim7"),
    ("Cø", "Cm7b5"), ("Cø7", "Cm7b5"), ("C♯m", "C#m"), ("B♭7", "Bb7"), (" Am ", "Am"),
]  # fmt: skip


@pytest.mark.parametrize("extra, equivalent", EXTRA_SPELLINGS)
def test_extra_spellings(extra, equivalent):
    assert _ours(extra) == _ours(equivalent)


@pytest.mark.parametrize("extra, equivalent", EXTRA_SPELLINGS)
def test_extra_spellings_mean_what_note_seq_reads(note_seq, extra, equivalent):
    with pytest.raises(note_seq.chord_symbols_lib.ChordSymbolError):
        _noteseq_parse(note_seq, extra)
    assert _ours(extra) == _noteseq_parse(note_seq, equivalent)


@pytest.mark.parametrize("symbol", ["N.C.", "NC", "N.C", "N/C", " N.C. "])
def test_no_chord(symbol):
    chord = parse_chord_symbol(symbol)
    assert chord.is_no_chord and is_no_chord(symbol)
    assert chord.root is None and chord.bass is None and not chord.pitch_classes
    with pytest.raises(ChordSymbolError, match="no chord"):
        chord_root(symbol)


_ROOTS = st.builds(
    lambda letter, acc, n: letter + acc * n,
    st.sampled_from("ABCDEFG"),
    st.sampled_from("#b"),
    st.integers(0, 2),
)
_MODS = st.lists(
    st.builds(
        lambda kind, degree, paren: f"({kind}{degree})" if paren else f"{kind}{degree}",
        st.sampled_from(["add", "add#", "addb", "no", "#", "b"]),
        st.sampled_from([1, 2, 3, 4, 5, 6, 7, 9, 11, 13]),
        st.booleans(),
    ),
    max_size=3,
)


@settings(max_examples=400, deadline=None)
@given(_ROOTS, _MODS, st.none() | _ROOTS, st.data())
def test_generated_symbols_match_note_seq(note_seq, root, mods, bass, data):
    csl = note_seq.chord_symbols_lib
    kind = data.draw(st.sampled_from(sorted(csl._CHORD_KINDS_BY_ABBREV)), label="kind")
    symbol = root + kind + "".join(mods) + (f"/{bass}" if bass else "")
    try:
        expected = _noteseq_parse(note_seq, symbol)
    except csl.ChordSymbolError:
        with pytest.raises(ChordSymbolError):
            parse_chord_symbol(symbol)
    else:
        assert _ours(symbol) == expected


# --- encodings vs note-seq ----------------------------------------------------------------------


def test_make_chord_encoding():
    widths = {"pitch_chords": 37, "triad_chords": 49, "major_minor_chords": 25}
    for name, width in widths.items():
        enc = make_chord_encoding(name)
        assert enc.width == width
        assert enc.encode_controls(["C", "N.C."]).shape == (2, width)
        assert enc.encode_controls(["C", "N.C."]).dtype == np.float32
        assert enc.spec()["type"] == name
    assert make_chord_encoding("pitch_chords", slash_bass=False).slash_bass is False
    with pytest.raises(ChordEncodingError, match="pitch_chords"):
        make_chord_encoding("sevenths")
    with pytest.raises(ChordEncodingError, match="slash_bass"):
        make_chord_encoding("triad_chords", slash_bass=False)


@pytest.mark.parametrize("symbol", [*SYMBOLS, NO_CHORD])
def test_pitch_chords_match_note_seq(note_seq, symbol):
    theirs = note_seq.chords_encoder_decoder.PitchChordsEncoderDecoder().events_to_input(
        [symbol], 0
    )
    ours = PitchChordsEncoding().encode_chord(symbol)
    assert ours.dtype == np.float32
    assert ours.tolist() == theirs


def test_pitch_chords_magenta_js_bass_is_root():
    js = PitchChordsEncoding(slash_bass=False)
    row = js.encode_chord("Bb/D")
    assert np.flatnonzero(row).tolist() == [1 + 10, 13 + 2, 13 + 5, 13 + 10, 25 + 10]
    assert np.flatnonzero(PitchChordsEncoding().encode_chord("Bb/D"))[-1] == 25 + 2


@pytest.mark.parametrize("encoding", [TriadChordOneHotEncoding, MajorMinorChordOneHotEncoding])
def test_one_hot_encodings_match_note_seq(note_seq, encoding):
    ced = note_seq.chords_encoder_decoder
    ours, theirs = encoding(), getattr(ced, encoding.__name__)()
    assert ours.num_classes == ours.width == theirs.num_classes
    assert ours.default_event == theirs.default_event
    for symbol in [*SYMBOLS, NO_CHORD]:
        try:
            expected = theirs.encode_event(symbol)
        except ced.ChordEncodingError:
            with pytest.raises(ChordEncodingError, match="pitch_chords"):
                ours.encode_event(symbol)
            continue
        assert ours.encode_event(symbol) == expected
        row = ours.encode_chord(symbol)
        assert row.sum() == 1 and row[expected] == 1
    for index in range(theirs.num_classes):
        assert ours.decode_event(index) == theirs.decode_event(index)
        assert ours.encode_event(ours.decode_event(index)) == index
    with pytest.raises(ChordEncodingError):
        ours.decode_event(theirs.num_classes)


def test_triad_and_major_minor_by_hand():
    triad, mm = TriadChordOneHotEncoding(), MajorMinorChordOneHotEncoding()
    assert triad.encode_events(["N.C.", "C", "Am7", "Caug", "Bdim", "E7"]).tolist() == [
        0, 1, 13 + 9, 25, 37 + 11, 1 + 4
    ]  # fmt: skip
    with pytest.raises(ChordEncodingError, match="Csus4"):
        triad.encode_event("Csus4")
    with pytest.raises(ChordEncodingError, match="Caug"):
        mm.encode_event("Caug")
    with pytest.raises(ChordSymbolError, match="Hm"):
        mm.encode_controls(["C", "Hm"])


# --- magenta.js parity --------------------------------------------------------------------------

_JS_ENCODERS = {
    "MajorMinorChordEncoder": MajorMinorChordOneHotEncoding(),
    "TriadChordEncoder": TriadChordOneHotEncoding(),
    "PitchChordEncoder": PitchChordsEncoding(slash_bass=False),
}


def _chord_encoding_cases():
    data = load_json("expected/encode.json")
    return [
        pytest.param(case, name, id=f"{','.join(case['chords'])}-{name}")
        for case in data["chordEncodings"]
        for name in case["encoders"]
    ]


@pytest.mark.parametrize("case, name", _chord_encoding_cases())
def test_magenta_js_chord_encodings(case, name):
    encoding = _JS_ENCODERS[name]
    expected = case["encoders"][name]
    assert encoding.width == expected["depth"]
    per_step = chords_per_step_magenta_js(case["chords"], case["numSteps"])
    if "error" in expected:
        with pytest.raises((ChordEncodingError, ChordSymbolError)):
            encoding.encode_controls(per_step)
        return
    assert encoding.encode_controls(per_step).tolist() == expected["rows"]


def test_magenta_js_readme_pitch_classes():
    assert chord_pitch_classes("C") == {0, 4, 7}
    assert chord_pitch_classes("Am") == {9, 0, 4}
    assert chord_pitch_classes("E7") == {4, 8, 11, 2}
    assert chord_pitch_classes("F#m") == {6, 9, 1}


@pytest.mark.parametrize("name", ["melody_simple", "teapot"])
def test_magenta_js_chord_index_per_step(name):
    data = load_json(f"expected/improv_3x16__{name}.json")
    chords = data["chordProgression"]
    total = data["primer"]["totalQuantizedSteps"] + data["steps"]
    expected = data["chordIndexPerStep"]
    assert len(expected) == total
    assert chord_indices_magenta_js(len(chords), total).tolist() == expected
    assert chords_per_step_magenta_js(chords, total) == [chords[i] for i in expected]


# --- progressions -------------------------------------------------------------------------------


def test_magenta_js_spread_by_hand():
    assert chord_indices_magenta_js(4, 10).tolist() == [0, 0, 0, 1, 1, 2, 2, 2, 3, 3]
    assert chord_indices_magenta_js(3, 2).tolist() == [0, 1]  # more chords than steps
    assert chords_per_step_magenta_js(["C"], 0) == []


def test_magenta_cli_progression_by_hand():
    per_step = chords_per_step_magenta(["C", "G", "Am"], 40, steps_per_chord=16)
    assert per_step == ["C"] * 16 + ["G"] * 16 + ["Am"] * 8
    per_step = chords_per_step_magenta(["C", "G"], 10, steps_per_chord=4)
    assert per_step == ["C"] * 4 + ["G"] * 6  # the last chord is held past the list
    default = ["C", "G", "Am", "F", "C", "G", "F", "C"]
    assert len(chords_per_step_magenta(default, 128)) == 128


def test_progression_errors():
    with pytest.raises(ChordSymbolError, match="empty"):
        chords_per_step_magenta_js([], 8)
    with pytest.raises(ChordSymbolError, match="list"):
        chords_per_step_magenta("C G", 8)
    # magenta.js encodes every chord first, so a bad one fails even if no step uses it.
    with pytest.raises(ChordSymbolError, match="Q7"):
        chords_per_step_magenta_js(["C", "G", "Q7"], 2)
    with pytest.raises(ValueError):
        chords_per_step_magenta(["C"], 8, steps_per_chord=0)
