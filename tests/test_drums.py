"""Drum tracks and drum encodings against note-seq and the magenta.js fixtures."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import load_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from melodyrnn.errors import EncodingError, NonIntegerStepsPerBarError, QuantizationStatusError
from melodyrnn.events.drums import (
    MAGENTA_DRUM_PITCH_CLASSES,
    MAGENTA_JS_DRUM_PITCH_CLASSES,
    ONE_DRUM_PITCH_CLASSES,
    DrumTrack,
    MultiDrumOneHotEncoding,
    extract_drum_tracks,
)
from melodyrnn.events.magenta_js import (
    drums_from_sequence_magenta_js,
    drums_to_sequence_magenta_js,
)
from melodyrnn.io.magenta_js_json import from_magenta_js_json
from melodyrnn.io.midi import midi_to_sequence
from melodyrnn.io.note_seq_proto import to_note_seq
from melodyrnn.sequence import (
    Note,
    NoteSequence,
    QuantizationInfo,
    Tempo,
    TimeSignature,
    quantize_note_sequence,
)

ENCODE = load_json("expected/encode.json")


def _noteseq_track(note_seq, qns: NoteSequence, **kwargs):
    track = note_seq.drums_lib.DrumTrack()
    track.from_quantized_sequence(to_note_seq(qns), **kwargs)
    return track


def _assert_same_track(ours: DrumTrack, theirs) -> None:
    assert ours.events == list(theirs)
    assert (ours.start_step, ours.end_step) == (theirs.start_step, theirs.end_step)
    if len(theirs):  # note-seq resets steps_per_bar to 16 for an empty track
        assert ours.steps_per_bar == theirs.steps_per_bar
        assert ours.steps_per_quarter == theirs.steps_per_quarter


def _noteseq_extract(
    note_seq, qns: NoteSequence, min_bars, max_steps_truncate, max_steps_discard, **kw
):
    """magenta/pipelines/drum_pipelines.extract_drum_tracks, run on note-seq's DrumTrack (magenta
    itself is not installed): the oracle for our extraction loop."""
    proto = to_note_seq(qns)
    steps_per_bar = int(note_seq.sequences_lib.steps_per_bar_in_quantized_sequence(proto))
    search, tracks, short, long_, truncated = 0, [], 0, 0, 0
    while True:
        track = note_seq.drums_lib.DrumTrack()
        track.from_quantized_sequence(proto, search_start_step=search, **kw)
        search = track.end_step + (search - track.end_step) % steps_per_bar
        if not track:
            break
        if len(track) < track.steps_per_bar * min_bars:
            short += 1
            continue
        if max_steps_discard is not None and len(track) > max_steps_discard:
            long_ += 1
            continue
        if max_steps_truncate is not None and len(track) > max_steps_truncate:
            length = max_steps_truncate
            if kw.get("pad_end"):
                length -= max_steps_truncate % track.steps_per_bar
            track.set_length(length)
            truncated += 1
        tracks.append(track)
    return tracks, (short, long_, truncated)


def _quantized(notes, numerator=4, denominator=4, steps_per_quarter=4) -> NoteSequence:
    ns = NoteSequence(
        tempos=[Tempo(0.0, 120.0)],
        time_signatures=[TimeSignature(0.0, numerator, denominator)],
        quantization_info=QuantizationInfo(steps_per_quarter=steps_per_quarter),
    )
    for pitch, step, is_drum, velocity in notes:
        ns.notes.append(
            Note(
                pitch=pitch,
                velocity=velocity,
                quantized_start_step=step,
                quantized_end_step=step + 1,
                is_drum=is_drum,
            )
        )
    ns.total_quantized_steps = max((n.quantized_end_step for n in ns.notes), default=0)
    return ns


# Known drum pitches of both tables, the pitches the tables disagree on, and unknown ones.
_PITCHES = [35, 36, 38, 42, 44, 46, 49, 51, 59, 22, 26, 43, 52, 60, 90, 100, 10]

drum_notes = st.lists(
    st.tuples(
        st.sampled_from(_PITCHES),
        st.integers(0, 160),
        st.booleans(),
        st.sampled_from([0, 1, 100]),
    ),
    max_size=40,
)
meters = st.sampled_from([(4, 4), (3, 4), (6, 8), (7, 8), (2, 2)])


# --- the class tables ---------------------------------------------------------------------------


def test_magenta_table_is_note_seqs(note_seq):
    assert [list(g) for g in MAGENTA_DRUM_PITCH_CLASSES] == (
        note_seq.drums_encoder_decoder.DEFAULT_DRUM_TYPE_PITCHES
    )


def test_magenta_js_table_differs_as_documented():
    """magenta.js: no 22/26 in the hats, 43 moves from low to high tom, 52 from crash to ride."""
    expected = [list(g) for g in MAGENTA_DRUM_PITCH_CLASSES]
    expected[2].remove(22)
    expected[3].remove(26)
    expected[4].remove(43)
    expected[6].insert(2, 43)
    expected[7].remove(52)
    expected[8].insert(1, 52)
    assert [list(g) for g in MAGENTA_JS_DRUM_PITCH_CLASSES] == expected


# --- MultiDrumOneHotEncoding vs note-seq --------------------------------------------------------


@pytest.mark.parametrize("flavour", ["magenta", "magenta_js"])
def test_every_class_decodes_like_note_seq(note_seq, flavour):
    ours = MultiDrumOneHotEncoding(flavour)
    table = [list(g) for g in ours.class_pitches]
    theirs = note_seq.drums_encoder_decoder.MultiDrumOneHotEncoding(drum_type_pitches=table)
    assert ours.num_classes == theirs.num_classes == 512
    assert ours.default_event == theirs.encode_event(theirs.default_event) == 0
    for index in range(512):
        pitches = ours.event_to_pitches(ours.decode_event(index))
        assert pitches == theirs.decode_event(index)
        assert ours.encode_event(pitches) == theirs.encode_event(pitches) == index
        assert ours.encode_event(index) == index


@settings(max_examples=200, deadline=None)
@given(st.frozensets(st.integers(0, 127), max_size=8), st.sampled_from(["magenta", "magenta_js"]))
def test_random_pitch_sets_encode_like_note_seq(note_seq, pitches, flavour):
    ours = MultiDrumOneHotEncoding(flavour)
    theirs = note_seq.drums_encoder_decoder.MultiDrumOneHotEncoding(
        drum_type_pitches=[list(g) for g in ours.class_pitches]
    )
    assert ours.encode_event(pitches) == theirs.encode_event(pitches)


def test_unknown_pitch_can_be_an_error():
    strict = MultiDrumOneHotEncoding("magenta", ignore_unknown=False)
    assert strict.encode_event({36, 38}) == 3
    with pytest.raises(EncodingError, match="90"):
        strict.encode_event({36, 90})


def test_vectorised_events_and_raw_labels():
    magenta, js = MultiDrumOneHotEncoding("magenta"), MultiDrumOneHotEncoding("magenta_js")
    events = np.array([0, 5, 511], dtype=np.int16)
    out = magenta.encode_events(events)
    assert out.dtype == np.int64 and out.tolist() == [0, 5, 511]
    assert magenta.decode_events(out).tolist() == [0, 5, 511]
    assert magenta.encode_events(np.array([], dtype=np.int64)).shape == (0,)
    with pytest.raises(EncodingError, match="512"):
        magenta.encode_events([0, 512])
    with pytest.raises(EncodingError, match="512"):
        magenta.encode_event(512)
    with pytest.raises(EncodingError, match="-1"):
        js.encode_events([-1, 3])
    with pytest.raises(EncodingError, match="integers"):
        magenta.encode_events(np.array([1.5]))
    # magenta.js raw labels pass through and decode to nothing.
    assert js.encode_events([514, 2]).tolist() == [514, 2]
    assert js.encode_event(514) == 514
    assert js.event_to_pitches(514) == frozenset()
    assert js.event_to_pitches(2 + 256) == {38, 51}


def test_unknown_table_name():
    with pytest.raises(EncodingError, match="magenta_js"):
        MultiDrumOneHotEncoding("tr808")


# --- DrumTrack vs note-seq ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["drums.mid", "multitrack_3_4.mid"])
@pytest.mark.parametrize("ignore_is_drum", [False, True])
def test_midi_fixture_tracks_match_note_seq(note_seq, magenta_js, name, ignore_is_drum):
    qns = quantize_note_sequence(midi_to_sequence(magenta_js / "midi" / name), 4)
    for search in (0, 4, 12):
        for gap_bars in (1, 0.25):
            for pad_end in (False, True):
                kw = dict(
                    search_start_step=search,
                    gap_bars=gap_bars,
                    pad_end=pad_end,
                    ignore_is_drum=ignore_is_drum,
                )
                _assert_same_track(
                    DrumTrack.from_quantized_sequence(qns, **kw),
                    _noteseq_track(note_seq, qns, **kw),
                )


def test_drums_mid_by_hand(magenta_js):
    """drums.mid: 16 steps of 4/4; the unknown pitch 90 stays in the Magenta track."""
    qns = quantize_note_sequence(midi_to_sequence(magenta_js / "midi" / "drums.mid"), 4)
    track = DrumTrack.from_quantized_sequence(qns)
    assert (track.start_step, track.end_step, track.steps_per_bar) == (0, 16, 16)
    assert track[0] == {36, 42, 49}
    assert track[2] == {42, 90}
    assert track[6] == {42, 44}
    assert track.to_array().tolist() == [
        133, 0, 4, 0, 7, 0, 4, 0, 5, 0, 20, 32, 71, 2, 8, 256
    ]  # fmt: skip
    # Same hits as magenta.js except where its quirks bite: step 2 (pitch 90 -> silence) and
    # step 6 (42 + 44 counted twice -> open hat).
    js = drums_from_sequence_magenta_js(qns)
    differ = np.flatnonzero(track.to_array("magenta_js") != js).tolist()
    assert differ == [2, 6]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drum_notes,
    meters,
    st.integers(0, 40),
    st.sampled_from([1, 2, 0.5, 1.5]),
    st.booleans(),
    st.booleans(),
)
def test_random_tracks_match_note_seq(
    note_seq, notes, meter, search, gap_bars, pad_end, ignore_is_drum
):
    qns = _quantized(notes, *meter)
    kw = dict(
        search_start_step=search, gap_bars=gap_bars, pad_end=pad_end, ignore_is_drum=ignore_is_drum
    )
    _assert_same_track(
        DrumTrack.from_quantized_sequence(qns, **kw), _noteseq_track(note_seq, qns, **kw)
    )


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drum_notes,
    meters,
    st.sampled_from([0, 1, 2, 7]),
    st.sampled_from([None, 20, 33]),
    st.sampled_from([None, 40]),
    st.sampled_from([1.0, 0.5, 2.0]),
    st.booleans(),
)
def test_random_extraction_matches_magenta_pipeline(
    note_seq, notes, meter, min_bars, truncate, discard, gap_bars, pad_end
):
    qns = _quantized(notes, *meter)
    ours, stats = extract_drum_tracks(
        qns,
        min_bars=min_bars,
        max_steps_truncate=truncate,
        max_steps_discard=discard,
        gap_bars=gap_bars,
        pad_end=pad_end,
    )
    theirs, counts = _noteseq_extract(
        note_seq, qns, min_bars, truncate, discard, gap_bars=gap_bars, pad_end=pad_end
    )
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        _assert_same_track(a, b)
    assert counts == (
        stats["drum_tracks_discarded_too_short"],
        stats["drum_tracks_discarded_too_long"],
        stats["drum_tracks_truncated"],
    )
    assert sum(stats["drum_track_lengths_in_bars"].values()) == len(ours)


def test_extraction_by_hand():
    """Two phrases 3 bars apart (gap 1 bar): the second search starts at the bar after the first
    track; the short first phrase is discarded with min_bars=2, the second truncated."""
    notes = [(36, 0, True, 100), (42, 12, True, 100), (38, 20, True, 100)]  # track 1: 0..20
    notes += [(42, s, True, 100) for s in range(64, 120, 2)]  # track 2 starts in bar 4
    notes += [(42, 5, False, 100), (36, 30, True, 0)]  # not drums / silent: ignored
    qns = _quantized(notes)
    tracks, stats = extract_drum_tracks(qns, min_bars=1, max_steps_truncate=40, pad_end=True)
    assert [(t.start_step, t.end_step) for t in tracks] == [(0, 32), (64, 96)]
    assert tracks[0][20] == {38} and tracks[0][5] == frozenset()
    assert stats["drum_tracks_truncated"] == 1
    assert stats["drum_track_lengths_in_bars"] == {2: 2}

    tracks, stats = extract_drum_tracks(qns, min_bars=2)
    assert [(t.start_step, t.end_step) for t in tracks] == [(64, 119)]
    assert stats["drum_tracks_discarded_too_short"] == 1


def test_extraction_errors():
    with pytest.raises(NonIntegerStepsPerBarError, match="7/8"):
        extract_drum_tracks(_quantized([(36, 0, True, 100)], 7, 8, steps_per_quarter=1))
    unquantized = NoteSequence(notes=[Note(36, 100, 0.0, 0.1, is_drum=True)])
    with pytest.raises(QuantizationStatusError):
        DrumTrack.from_quantized_sequence(unquantized)
    with pytest.raises(QuantizationStatusError):
        drums_from_sequence_magenta_js(unquantized)
    with pytest.raises(EncodingError, match="128"):
        DrumTrack([frozenset({128})])


@settings(max_examples=40, deadline=None)
@given(drum_notes, st.sampled_from([60.0, 120.0, 97.5]), st.floats(0, 3))
def test_to_sequence_matches_note_seq(note_seq, notes, qpm, start_time):
    track = DrumTrack.from_quantized_sequence(_quantized(notes))
    ours = track.to_sequence(velocity=90, qpm=qpm, sequence_start_time=start_time)
    theirs = _noteseq_track(note_seq, _quantized(notes)).to_sequence(
        velocity=90, qpm=qpm, sequence_start_time=start_time
    )

    def key(n):
        times = (round(n.start_time, 9), round(n.end_time, 9))
        return (*times, n.pitch, n.velocity, n.instrument, n.program, n.is_drum)

    assert sorted(map(key, ours.notes)) == sorted(map(key, theirs.notes))
    assert ours.total_time == pytest.approx(theirs.total_time)
    assert [t.qpm for t in ours.tempos] == [t.qpm for t in theirs.tempos]


def test_array_round_trip_plays_first_pitch_of_each_class():
    track = DrumTrack([frozenset({35, 44}), frozenset(), frozenset({52, 59, 90})], start_step=16)
    arr = track.to_array()
    assert arr.tolist() == [1 + 4, 0, 128 + 256]
    back = DrumTrack.from_array(arr, start_step=16)
    assert back.events == [{36, 42}, frozenset(), {49, 51}]
    assert back.start_step == 16 and back.end_step == 19
    # With the magenta.js table, 52 is a ride.
    assert track.to_array("magenta_js").tolist() == [1 + 4, 0, 256]
    assert DrumTrack.from_array([514, 3], "magenta_js").events == [frozenset(), {36, 38}]
    with pytest.raises(EncodingError):
        DrumTrack.from_array([514])


def test_one_drum_table_is_one_class_of_every_pitch_decoded_to_a_hand_clap():
    (group,) = ONE_DRUM_PITCH_CLASSES
    assert group[0] == 39 and sorted(group) == list(range(128))
    encoding = MultiDrumOneHotEncoding("one_drum")
    assert encoding.num_classes == 2 and encoding.pitch_classes == "one_drum"
    assert [encoding.pitches_to_event(p) for p in ([], [0], [36, 42], [127])] == [0, 1, 1, 1]
    assert encoding.event_to_pitches(1) == {39} and encoding.event_to_pitches(0) == frozenset()
    with pytest.raises(EncodingError, match="outside 0..1 for the 'one_drum' drum classes"):
        encoding.encode_events([0, 2])
    track = DrumTrack([frozenset({35, 44}), frozenset(), frozenset({0, 127})])
    assert track.to_array("one_drum").tolist() == [1, 0, 1]
    assert DrumTrack.from_array([1, 0, 1], "one_drum").events == [{39}, frozenset(), {39}]
    ns = drums_to_sequence_magenta_js([1, 0, 1, 1], 2, velocity=100, pitch_classes="one_drum")
    assert [(n.pitch, n.quantized_start_step) for n in ns.notes] == [(39, 0), (39, 2), (39, 3)]
    assert ns.total_quantized_steps == 4 and all(n.is_drum for n in ns.notes)


# --- magenta.js parity --------------------------------------------------------------------------


def _fixture_files():
    return [f for f in ENCODE["files"] if "encodings" in f]


@pytest.mark.parametrize("entry", _fixture_files(), ids=lambda f: f["file"])
def test_magenta_js_indices_and_decoding(entry):
    qns = from_magenta_js_json(entry["quantized"])
    expected = entry["encodings"]["drum_kit_rnn"]
    labels = drums_from_sequence_magenta_js(qns)
    assert labels.tolist() == expected["indices"]
    assert [len(labels), 512] == expected["shape"]

    decoded = drums_to_sequence_magenta_js(labels, qns.steps_per_quarter)
    want = expected["decoded"]
    assert decoded.total_quantized_steps == want["totalQuantizedSteps"]
    assert [
        (n.pitch, n.quantized_start_step, n.quantized_end_step, n.is_drum) for n in decoded.notes
    ] == [
        (n["pitch"], n["quantizedStartStep"], n["quantizedEndStep"], n["isDrum"])
        for n in want["notes"]
    ]


@pytest.mark.parametrize("name", ["drums", "drum_beat"])
def test_magenta_js_primer_indices_and_continuation(name):
    data = load_json(f"expected/drum_kit_3x16_attn__{name}.json")
    primer = data["primer"]
    qns = from_magenta_js_json(
        {
            "notes": primer["notes"],
            "quantizationInfo": {"stepsPerQuarter": primer["stepsPerQuarter"]},
            "totalQuantizedSteps": primer["totalQuantizedSteps"],
        }
    )
    assert drums_from_sequence_magenta_js(qns).tolist() == primer["indices"]

    cont = data["continuation"]
    decoded = drums_to_sequence_magenta_js(cont["tokens"], cont["stepsPerQuarter"])
    assert decoded.total_quantized_steps == cont["totalQuantizedSteps"]
    assert [(n.pitch, n.quantized_start_step, n.quantized_end_step) for n in decoded.notes] == [
        (n["pitch"], n["quantizedStartStep"], n["quantizedEndStep"]) for n in cont["notes"]
    ]


def test_magenta_js_quirks_by_hand():
    notes = [
        (51, 0, True, 100),  # ride + ride: 256 + 256 = 512 (all-zero row in magenta.js)
        (59, 0, True, 100),
        (36, 1, False, 0),  # not a drum, silent: magenta.js still counts it
        (42, 2, True, 100),  # a pitch in no class silences the whole step
        (90, 2, True, 100),
        (46, 6, True, 100),  # past num_steps: the array grows with zeros, as in JavaScript
        (38, -1, True, 100),  # a negative step is ignored
    ]
    qns = _quantized(notes)
    qns.total_quantized_steps = 4
    assert drums_from_sequence_magenta_js(qns).tolist() == [512, 1, 0, 0, 0, 0, 0]
    assert drums_from_sequence_magenta_js(qns, num_steps=3).tolist() == [512, 1, 0, 0, 0, 0, 0]
    qns.notes = qns.notes[:4]
    assert drums_from_sequence_magenta_js(qns, num_steps=6).tolist() == [512, 1, 4, 0, 0, 0]
    assert drums_from_sequence_magenta_js(qns, num_steps=0).tolist() == [512, 1, 4, 0]
    decoded = drums_to_sequence_magenta_js([512, 1, -1, 2 + 256], steps_per_quarter=2)
    assert [(n.pitch, n.quantized_start_step) for n in decoded.notes] == [(36, 1), (38, 3), (51, 3)]
    assert decoded.quantization_info.steps_per_quarter == 2
    assert decoded.notes[0].start_time == pytest.approx(0.25)
