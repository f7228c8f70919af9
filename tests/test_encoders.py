"""Tests of the melodyrnn.encoding encoder/decoders against note-seq itself (the oracle), the
magenta.js fixtures and hand-computed cases."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import MIDI_FIXTURES, load_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from melodyrnn.encoding.conditional import ConditionalEventSequenceEncoderDecoder
from melodyrnn.encoding.key_melody import KeyMelodyEncoderDecoder
from melodyrnn.encoding.lookback import LookbackEventSequenceEncoderDecoder
from melodyrnn.encoding.one_hot import MelodyOneHotEncoding
from melodyrnn.encoding.specs import encoder_spec, make_encoder
from melodyrnn.errors import ConfigError, EncodingError, PitchOutOfRangeError
from melodyrnn.events.drums import MAGENTA_DRUM_PITCH_CLASSES

NO_EVENT, NOTE_OFF = -2, -1

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- event strategies ------------------------------------------------------------------------


# Step codes: 0-1 hold (NO_EVENT), 2 NOTE_OFF, 3-4 repeat the event 16 steps back, 5-6 repeat
# the event 32 steps back, 7-15 a note-on of one of the example's palette pitches. One draw per
# step keeps generation fast; repeats make the lookback labels (and NO_EVENT runs before step 32
# the "early" rule) frequent.
CODES = st.integers(0, 15)


def _build_melody(palette: list[int], codes: list[int]) -> np.ndarray:
    events: list[int] = []
    for code in codes:
        i = len(events)
        if code <= 1:
            events.append(NO_EVENT)
        elif code == 2:
            events.append(NOTE_OFF)
        elif code <= 4 and i >= 16:
            events.append(events[i - 16])
        elif code <= 6 and i >= 32:
            events.append(events[i - 32])
        else:
            events.append(palette[code % len(palette)])
    return np.array(events, dtype=np.int64)


def _palette(min_note: int, max_note: int):
    pitch = st.one_of(
        st.integers(min_note, max_note - 1), st.sampled_from([min_note, max_note - 1])
    )
    return st.lists(pitch, min_size=1, max_size=9)


def melodies(min_note: int, max_note: int, max_size: int = 100, min_size: int = 0):
    codes = st.lists(CODES, min_size=min_size, max_size=max_size)
    return st.builds(_build_melody, _palette(min_note, max_note), codes)


def histories(min_note: int, max_note: int, rows: int = 2):
    """int [rows, L], L >= 1: several event histories of one length."""

    @st.composite
    def stacked(draw):
        length = draw(st.integers(1, 64))
        return np.stack([draw(melodies(min_note, max_note, length, length)) for _ in range(rows)])

    return stacked()


# --- the encoder pairs: ours and note-seq's -------------------------------------------------

# name: (our encoder, note-seq's given the note_seq module, note range)
PAIRS = {
    "basic": (
        lambda: make_encoder({"type": "one_hot_melody", "min_note": 48, "max_note": 84}),
        lambda ns: ns.encoder_decoder.OneHotEventSequenceEncoderDecoder(
            ns.melody_encoder_decoder.MelodyOneHotEncoding(48, 84)
        ),
        (48, 84),
    ),
    "mono": (
        lambda: make_encoder({"type": "one_hot_melody", "min_note": 0, "max_note": 128}),
        lambda ns: ns.encoder_decoder.OneHotEventSequenceEncoderDecoder(
            ns.melody_encoder_decoder.MelodyOneHotEncoding(0, 128)
        ),
        (0, 128),
    ),
    "lookback": (
        lambda: make_encoder({"type": "lookback_melody", "min_note": 48, "max_note": 84}),
        lambda ns: ns.encoder_decoder.LookbackEventSequenceEncoderDecoder(
            ns.melody_encoder_decoder.MelodyOneHotEncoding(48, 84)
        ),
        (48, 84),
    ),
    "key": (
        lambda: make_encoder({"type": "key_melody", "min_note": 48, "max_note": 84}),
        lambda ns: ns.melody_encoder_decoder.KeyMelodyEncoderDecoder(48, 84),
        (48, 84),
    ),
    # min_note 0 exercises Magenta's "a sounding pitch 0 is silence" quirk.
    "key_full": (
        lambda: KeyMelodyEncoderDecoder(0, 128),
        lambda ns: ns.melody_encoder_decoder.KeyMelodyEncoderDecoder(0, 128),
        (0, 128),
    ),
}
PAIR_IDS = sorted(PAIRS)


def make_ours(name):
    """Our encoder of pair ``name`` and its note range."""
    ours, _, note_range = PAIRS[name]
    return ours(), note_range


def make_pair(note_seq, name):
    """Our encoder, note-seq's and the note range of pair ``name``."""
    ours, theirs, note_range = PAIRS[name]
    return ours(), theirs(note_seq), note_range


def oracle_encode(theirs, events, input_size):
    inputs, labels = theirs.encode([int(e) for e in events])
    return np.array(inputs, np.float32).reshape(-1, input_size), np.array(labels, np.int64)


def check_against_note_seq(ours, theirs, events):
    inputs, labels = ours.encode(events)
    want_inputs, want_labels = oracle_encode(theirs, events, ours.input_size)
    assert inputs.dtype == np.float32 and labels.dtype == np.int64
    np.testing.assert_array_equal(inputs, want_inputs)
    np.testing.assert_array_equal(labels, want_labels)


@pytest.mark.parametrize("name", PAIR_IDS)
def test_sizes_match_note_seq(note_seq, name):
    ours, theirs, _ = make_pair(note_seq, name)
    assert ours.input_size == theirs.input_size
    assert ours.num_classes == theirs.num_classes
    assert ours.default_event_label == theirs.default_event_label


def test_known_sizes():
    sizes = {
        "basic": (38, 38, 0),
        "mono": (130, 130, 0),
        "lookback": (121, 40, 0),
        "key": (74, 40, 36),
    }
    for name, want in sizes.items():
        ours, _ = make_ours(name)
        assert (ours.input_size, ours.num_classes, ours.default_event_label) == want


# A single parametrized hypothesis test per property keeps each encoder's examples separate.
@pytest.mark.parametrize("name", PAIR_IDS)
@SETTINGS
@given(data=st.data())
def test_encode_matches_note_seq(note_seq, name, data):
    ours, theirs, (lo, hi) = make_pair(note_seq, name)
    events = data.draw(melodies(lo, hi))
    check_against_note_seq(ours, theirs, events)
    # inputs/labels cover every position; encode is their shifted framing
    if len(events):
        assert ours.inputs(events).shape == (len(events), ours.input_size)
        want = [theirs.events_to_label([int(e) for e in events], p) for p in range(len(events))]
        np.testing.assert_array_equal(ours.labels(events), want)


@pytest.mark.parametrize("name", PAIR_IDS)
@SETTINGS
@given(data=st.data())
def test_short_melodies_match_note_seq(note_seq, name, data):
    ours, theirs, (lo, hi) = make_pair(note_seq, name)
    check_against_note_seq(ours, theirs, data.draw(melodies(lo, hi, max_size=31)))


@pytest.mark.parametrize("name", PAIR_IDS)
@SETTINGS
@given(data=st.data())
def test_last_batch_and_decoding_match_note_seq(note_seq, name, data):
    ours, theirs, (lo, hi) = make_pair(note_seq, name)
    hist = data.draw(histories(lo, hi))
    last = ours.inputs_last_batch(hist)
    assert last.shape == (len(hist), ours.input_size) and last.dtype == np.float32
    for row, events in zip(last, hist):
        np.testing.assert_array_equal(row, ours.inputs(events)[-1])
        want = theirs.events_to_input([int(e) for e in events], len(events) - 1)
        np.testing.assert_array_equal(row, np.array(want, np.float32))
    # every class, including the repeat labels, decodes like note-seq's (one batched call)
    classes = np.tile(np.arange(ours.num_classes), len(hist))
    got = ours.class_index_to_event_batch(classes, np.repeat(hist, ours.num_classes, axis=0))
    want = [
        theirs.class_index_to_event(c, h) for h in hist.tolist() for c in range(ours.num_classes)
    ]
    np.testing.assert_array_equal(got, want)
    assert ours.class_index_to_event(ours.num_classes - 1, hist[0]) == want[ours.num_classes - 1]


@pytest.mark.parametrize("name", PAIR_IDS)
@SETTINGS
@given(data=st.data())
def test_labels_decode_back_to_the_events(name, data):
    ours, (lo, hi) = make_ours(name)
    events = data.draw(melodies(lo, hi))
    labels = ours.labels(events)
    decoded = np.zeros(0, np.int64)
    for label in labels:
        new = ours.class_index_to_event_batch(np.array([label]), decoded[None, :])
        decoded = np.concatenate([decoded, new])
    np.testing.assert_array_equal(decoded, events)
    for p in range(0, len(events), 7):
        assert ours.event_to_class_index(events, p) == labels[p]
    assert ours.labels_to_num_steps(labels) == len(labels)  # one step per melody event


@pytest.mark.parametrize("name", PAIR_IDS)
@SETTINGS
@given(data=st.data())
def test_labels_to_num_steps_matches_note_seq(note_seq, name, data):
    ours, theirs, (lo, hi) = make_pair(note_seq, name)
    labels = ours.labels(data.draw(melodies(lo, hi)))
    assert ours.labels_to_num_steps(labels) == theirs.labels_to_num_steps(labels.tolist())


def test_short_history_repeat_labels_decode_to_no_event():
    lookback = make_encoder({"type": "lookback_melody"})
    assert lookback.class_index_to_event(38, [60] * 15) == NO_EVENT
    assert lookback.class_index_to_event(38, [60] + [NO_EVENT] * 15) == 60
    assert lookback.class_index_to_event(39, list(range(50, 81))) == NO_EVENT
    assert lookback.class_index_to_event(39, list(range(50, 82))) == 50
    key = make_encoder({"type": "key_melody"})
    assert key.class_index_to_event(38, []) == NO_EVENT
    assert key.class_index_to_event(36, [60]) == NO_EVENT
    assert key.class_index_to_event(37, [60]) == NOTE_OFF
    assert key.class_index_to_event(0, [60]) == 48


# --- melodies extracted from the MIDI fixtures ---------------------------------------------


def _fixture_melodies(note_seq):
    """(name, raw events, events squashed into 48..84) of every melody note-seq extracts."""
    melodies_lib, sequences_lib = note_seq.melodies_lib, note_seq.sequences_lib
    out = []
    for path in MIDI_FIXTURES:
        sequence = note_seq.midi_file_to_note_sequence(str(path))
        try:
            quantized = sequences_lib.quantize_note_sequence(sequence, 4)
        except Exception:  # noqa: BLE001 - e.g. a tempo change: nothing to extract
            continue
        for instrument in sorted({n.instrument for n in quantized.notes if not n.is_drum}):
            melody = melodies_lib.Melody()
            melody.from_quantized_sequence(
                quantized, instrument=instrument, ignore_polyphonic_notes=True, gap_bars=1000
            )
            if len(melody) == 0:
                continue
            raw = np.array(list(melody), np.int64)
            melody.squash(48, 84, 0)
            out.append((f"{path.stem}:{instrument}", raw, np.array(list(melody), np.int64)))
    return out


@pytest.fixture(scope="module")
def fixture_melodies(note_seq):
    found = _fixture_melodies(note_seq)
    assert sum(len(raw) for _, raw, _ in found) >= 50, "the MIDI fixtures gave no melodies"
    return found


@pytest.mark.parametrize("name", PAIR_IDS)
def test_fixture_melodies_match_note_seq(note_seq, name, fixture_melodies):
    ours, theirs, (lo, _) = make_pair(note_seq, name)
    for _, raw, squashed in fixture_melodies:
        events = raw if lo == 0 else squashed
        check_against_note_seq(ours, theirs, events)
        hist = np.stack([events, events[::-1]])
        np.testing.assert_array_equal(ours.inputs_last_batch(hist)[0], ours.inputs(events)[-1])
        np.testing.assert_array_equal(
            ours.inputs_last_batch(hist)[1], ours.inputs(events[::-1])[-1]
        )


# --- hand-computed cases ---------------------------------------------------------------------


def test_melody_one_hot_encoding_matches_note_seq(note_seq):
    for lo, hi in [(48, 84), (0, 128), (60, 61)]:
        theirs = note_seq.melody_encoder_decoder.MelodyOneHotEncoding(lo, hi)
        ours = MelodyOneHotEncoding(lo, hi)
        assert ours.num_classes == theirs.num_classes
        events = np.array([NO_EVENT, NOTE_OFF, *range(lo, hi)])
        classes = ours.encode_events(events)
        np.testing.assert_array_equal(classes, [theirs.encode_event(int(e)) for e in events])
        np.testing.assert_array_equal(ours.decode_events(classes), events)
        assert [ours.encode_event(int(e)) for e in events] == classes.tolist()
        assert [ours.decode_event(int(c)) for c in classes] == events.tolist()


def test_melody_one_hot_encoding_by_hand():
    assert MelodyOneHotEncoding(48, 84).num_classes == 38
    assert MelodyOneHotEncoding(0, 128).num_classes == 130
    assert MelodyOneHotEncoding().encode_event(60) == 14


def test_melody_one_hot_encoding_errors():
    encoding = MelodyOneHotEncoding(48, 84)
    for pitch in (47, 84, 127):
        with pytest.raises(PitchOutOfRangeError):
            encoding.encode_event(pitch)
    with pytest.raises(PitchOutOfRangeError):
        encoding.encode_events(np.array([[60, 90]]))
    with pytest.raises(EncodingError):
        encoding.encode_event(-3)
    with pytest.raises(EncodingError):
        encoding.decode_events([0, 38])
    with pytest.raises(EncodingError):
        encoding.encode_events(np.array([60.5]))
    for lo, hi in [(-1, 84), (48, 129), (60, 60), (60, 50)]:
        with pytest.raises(ConfigError):
            MelodyOneHotEncoding(lo, hi)


def test_lookback_rows_by_hand():
    encoder = LookbackEventSequenceEncoderDecoder(MelodyOneHotEncoding(48, 84))
    events = np.array([60] + [NO_EVENT] * 15 + [60, NOTE_OFF] + [NO_EVENT] * 16 + [62])
    inputs = encoder.inputs(events)
    # position 0: one-hot 60 -> class 14; lookback "next" events are before the start -> NO_EVENT
    assert inputs[0, 14] == 1 and inputs[0, :38].sum() == 1
    assert inputs[0, 38] == 1 and inputs[0, 76] == 1
    np.testing.assert_array_equal(inputs[0, 114:119], [1, -1, -1, -1, -1])  # counter of 1
    np.testing.assert_array_equal(inputs[0, 119:], [0, 0])
    # position 15: one bar back, the next event (position 16 - 16 = 0) is 60
    assert inputs[15, 38 + 14] == 1
    np.testing.assert_array_equal(inputs[15, 114:119], [-1, -1, -1, -1, 1])  # counter of 16
    # position 16 repeats position 0, one bar (16 steps) back
    np.testing.assert_array_equal(inputs[16, 119:], [1, 0])
    labels = encoder.labels(events)
    assert labels[0] == 14  # a note-on: its class
    assert labels[1] == 39 and labels[31] == 39  # NO_EVENT before step 32: "repeat 2 bars"
    assert labels[16] == 38  # 60 again one bar later
    assert labels[17] == 1  # NOTE_OFF, no repeat
    assert labels[32] == 0  # NO_EVENT from step 32 on, no repeat: plain class
    assert labels[33] == 39  # NO_EVENT equal to step 1, two bars back (and not to step 17)
    assert labels[34] == 16  # 62, a plain note-on


def test_key_melody_attack_flag_quirk_by_hand():
    encoder = KeyMelodyEncoderDecoder(48, 84)
    inputs = encoder.inputs([60, NOTE_OFF, NO_EVENT, 64, 62])
    attack, silence, playing, direction = inputs[:, 38], inputs[:, 37], inputs[:, 36], inputs[:, 39]
    np.testing.assert_array_equal(attack, [1, 1, 0, 1, 1])  # NOTE_OFF does not clear it
    np.testing.assert_array_equal(silence, [0, 1, 1, 0, 0])
    np.testing.assert_array_equal(playing, [1, 0, 0, 1, 1])
    np.testing.assert_array_equal(direction, [0, 0, 0, 1, -1])
    assert inputs[0, 12] == 1 and inputs[3, 16] == 1 and inputs[4, 14] == 1
    # bar start flag: the next step (position + 1) is a multiple of 16
    long = encoder.inputs([NO_EVENT] * 33)
    np.testing.assert_array_equal(np.flatnonzero(long[:, 49]), [15, 31])
    # with no notes every key ties; C, E and G all fit the keys of C, F and G major
    assert long[0, 50:74].sum() == 24
    row = encoder.inputs([60, 64, 67])[-1]
    np.testing.assert_array_equal(np.flatnonzero(row[50:62]), [0, 5, 7])


def test_key_melody_labels_by_hand():
    encoder = KeyMelodyEncoderDecoder(48, 84)
    events = np.array([48, NOTE_OFF, NO_EVENT, 83] + [NO_EVENT] * 29 + [NOTE_OFF, 50])
    labels = encoder.labels(events)
    assert labels[:4].tolist() == [0, 37, 39, 35]
    assert labels[32] == 38  # NO_EVENT like step 16, one bar back (no longer "early")
    assert labels[33] == 39  # NOTE_OFF like step 1, two bars back
    assert labels[34] == 2
    assert encoder.labels(np.array([NO_EVENT] * 34))[32:].tolist() == [39, 39]
    with_repeat = np.concatenate([events[:16], events[:16]])
    assert encoder.labels(with_repeat)[16] == 38


# --- drums -----------------------------------------------------------------------------------


class StandInDrumEncoding:
    """A 512-class drum encoding like the one melodyrnn.events.drums provides: events are
    class bitmasks, and (the magenta.js quirk) raw labels >= 512 pass through unchanged so that
    they feed an all-zero one-hot row."""

    num_classes = 512
    default_event = 0
    pitch_classes = "magenta"

    def encode_events(self, events):
        events = np.asarray(events, dtype=np.int64)
        if events.size and events.min() < 0:
            raise EncodingError("negative drum event")
        return events

    def decode_events(self, classes):
        return np.asarray(classes, dtype=np.int64)

    def encode_event(self, event):
        return int(self.encode_events([event])[0])

    def decode_event(self, index):
        return int(index)


# Magenta's drum pitches (test_drums.py checks the table is note-seq's) and an unknown one.
DRUM_PITCHES = sorted({p for cls in MAGENTA_DRUM_PITCH_CLASSES for p in cls} | {90})


def drum_tracks(max_size=100):
    return st.lists(st.frozensets(st.sampled_from(DRUM_PITCHES), max_size=3), max_size=max_size)


def drum_pair(note_seq):
    ours = LookbackEventSequenceEncoderDecoder(StandInDrumEncoding(), [], 6)
    theirs = note_seq.encoder_decoder.LookbackEventSequenceEncoderDecoder(
        note_seq.drums_encoder_decoder.MultiDrumOneHotEncoding(), [], 6
    )
    return ours, theirs


def check_drums(note_seq, ours, theirs, pitch_sets):
    bitmask = note_seq.drums_encoder_decoder.MultiDrumOneHotEncoding().encode_event
    events = np.array([bitmask(s) for s in pitch_sets], np.int64)
    inputs, labels = ours.encode(events)
    want_inputs, want_labels = theirs.encode(list(pitch_sets))
    np.testing.assert_array_equal(inputs, np.array(want_inputs, np.float32).reshape(-1, 518))
    np.testing.assert_array_equal(labels, want_labels)
    if len(events):
        last = ours.inputs_last_batch(events[None, :])[0]
        want = theirs.events_to_input(list(pitch_sets), len(events) - 1)
        np.testing.assert_array_equal(last, np.array(want, np.float32))
    return events


@SETTINGS
@given(pitch_sets=drum_tracks())
def test_drum_lookback_matches_note_seq(note_seq, pitch_sets):
    ours, theirs = drum_pair(note_seq)
    assert (ours.input_size, ours.num_classes, ours.default_event_label) == (518, 512, 0)
    events = check_drums(note_seq, ours, theirs, pitch_sets)
    bitmask = note_seq.drums_encoder_decoder.MultiDrumOneHotEncoding().encode_event
    history = events[None, :]
    for c in (0, 1, 5, 256, 511):
        decoded = theirs.class_index_to_event(c, list(pitch_sets))
        assert ours.class_index_to_event_batch(np.array([c]), history)[0] == bitmask(decoded)


def test_drum_fixture_matches_note_seq(note_seq, magenta_js):
    sequence = note_seq.midi_file_to_note_sequence(str(magenta_js / "midi" / "drums.mid"))
    quantized = note_seq.sequences_lib.quantize_note_sequence(sequence, 4)
    track = note_seq.drums_lib.DrumTrack()
    track.from_quantized_sequence(quantized, gap_bars=1000)
    assert len(track) >= 8
    ours, theirs = drum_pair(note_seq)
    check_drums(note_seq, ours, theirs, list(track))


def test_magenta_js_drum_label_above_511_feeds_a_zero_row():
    primer = load_json("expected/drum_kit_3x16_attn__drum_beat.json")
    indices = np.array(primer["primer"]["indices"])
    assert indices[30] == 514
    encoder = LookbackEventSequenceEncoderDecoder(StandInDrumEncoding(), [], 6)
    inputs = encoder.inputs(indices)
    assert inputs.shape == (32, 518)
    ok = indices < 512
    np.testing.assert_array_equal(inputs[ok, :512], np.eye(512, dtype=np.float32)[indices[ok]])
    assert not inputs[30, :512].any()
    counters = inputs[:4, 512:]
    np.testing.assert_array_equal(
        counters,
        [
            [1, -1, -1, -1, -1, -1],
            [-1, 1, -1, -1, -1, -1],
            [1, 1, -1, -1, -1, -1],
            [-1, -1, 1, -1, -1, -1],
        ],
    )
    np.testing.assert_array_equal(inputs[30, 512:], [1, 1, 1, 1, 1, -1])  # counter of 31
    np.testing.assert_array_equal(encoder.inputs_last_batch(indices[None, :31])[0], inputs[30])
    with pytest.raises(EncodingError):
        encoder.labels(indices)  # a raw label 514 is no class
    assert encoder.event_to_class_index(indices, 29) == 0


def test_real_magenta_js_drum_encoder_feeds_a_zero_row():
    primer = load_json("expected/drum_kit_3x16_attn__drum_beat.json")
    indices = np.array(primer["primer"]["indices"])
    spec = {"type": "drums", "binary_counter_bits": 6, "pitch_classes": "magenta_js"}
    inputs = make_encoder(spec).inputs(indices)
    want = LookbackEventSequenceEncoderDecoder(StandInDrumEncoding(), [], 6).inputs(indices)
    np.testing.assert_array_equal(inputs, want)
    assert not inputs[30, :512].any()


@SETTINGS
@given(pitch_sets=drum_tracks())
def test_real_drum_encoder_matches_note_seq(note_seq, pitch_sets):
    ours = make_encoder({"type": "drums", "binary_counter_bits": 6, "pitch_classes": "magenta"})
    _, theirs = drum_pair(note_seq)
    check_drums(note_seq, ours, theirs, pitch_sets)


# --- conditional -----------------------------------------------------------------------------


class StandInControl:
    """Control events 0..4 as one-hot rows."""

    input_size = 5

    def encode_controls(self, controls):
        return np.eye(5, dtype=np.float32)[np.asarray(controls, dtype=np.int64)]


def int_one_hot(note_seq):
    """note-seq's side of StandInControl: a OneHotEncoding of the integers 0..4."""

    class IntOneHot(note_seq.encoder_decoder.OneHotEncoding):
        num_classes = 5
        default_event = 0

        def encode_event(self, event):
            return int(event)

        def decode_event(self, index):
            return int(index)

    return IntOneHot()


def conditional_ours():
    target = make_encoder({"type": "lookback_melody"})
    return ConditionalEventSequenceEncoderDecoder(StandInControl(), target)


def conditional_theirs(note_seq):
    ns_ed = note_seq.encoder_decoder
    return ns_ed.ConditionalEventSequenceEncoderDecoder(
        ns_ed.OneHotEventSequenceEncoderDecoder(int_one_hot(note_seq)),
        ns_ed.LookbackEventSequenceEncoderDecoder(
            note_seq.melody_encoder_decoder.MelodyOneHotEncoding(48, 84)
        ),
    )


@SETTINGS
@given(data=st.data())
def test_conditional_matches_note_seq(note_seq, data):
    ours, theirs = conditional_ours(), conditional_theirs(note_seq)
    assert (ours.input_size, ours.num_classes) == (126, 40) == (theirs.input_size, 40)
    events = data.draw(melodies(48, 84, min_size=1))
    n = len(events)
    controls = np.array(data.draw(st.lists(st.integers(0, 4), min_size=n + 1, max_size=n + 1)))
    inputs, labels = ours.encode(events, controls[:n])
    want_inputs, want_labels = theirs.encode(controls[:n].tolist(), events.tolist())
    np.testing.assert_array_equal(inputs, np.array(want_inputs, np.float32).reshape(-1, 126))
    np.testing.assert_array_equal(labels, want_labels)

    full = theirs.get_inputs_batch([controls.tolist()], [events.tolist()], full_length=True)[0]
    rows = StandInControl().encode_controls(controls)
    for given_controls in (controls, rows):  # control events or precomputed rows
        np.testing.assert_array_equal(ours.inputs(events, given_controls), full)
        last = ours.inputs_last_batch(events[None, :], given_controls)[0]
        np.testing.assert_array_equal(last, full[-1])
    per_row = np.stack([rows, rows[::-1]])
    batch = ours.inputs_last_batch(np.stack([events, events]), per_row)
    np.testing.assert_array_equal(batch[0], full[-1])
    np.testing.assert_array_equal(batch[1, :5], rows[::-1][n])

    bound = ours.with_controls(controls)
    np.testing.assert_array_equal(bound.inputs(events), full)
    np.testing.assert_array_equal(bound.inputs_last_batch(events[None, :])[0], full[-1])
    np.testing.assert_array_equal(bound.labels(events), ours.target_encoder.labels(events))
    assert bound.class_index_to_event(39, events) == theirs.class_index_to_event(
        39, events.tolist()
    )


def test_conditional_needs_enough_controls():
    ours = conditional_ours()
    events = np.array([60, NO_EVENT, 62])
    with pytest.raises(EncodingError):
        ours.inputs(events, [0, 1, 2])  # positions 0..2 need controls 1..3
    with pytest.raises(EncodingError):
        ours.encode(events, [0, 1])
    with pytest.raises(EncodingError):
        ours.inputs_last_batch(events[None, :], [0, 1, 2])
    with pytest.raises(EncodingError):
        ours.inputs(events, np.zeros((4, 6), np.float32))  # wrong width
    assert ours.inputs(events, [0, 1, 2, 3]).shape == (3, 126)


CHORDS = ["N.C.", "C", "G", "Am", "F", "E", "Dm", "F#m", "Bb"]
# Our chord control type: note-seq's control encoder, given the note_seq module.
NS_CHORD_CONTROLS = {
    "pitch_chords": lambda ns: ns.chords_encoder_decoder.PitchChordsEncoderDecoder(),
    "triad_chords": lambda ns: ns.encoder_decoder.OneHotEventSequenceEncoderDecoder(
        ns.chords_encoder_decoder.TriadChordOneHotEncoding()
    ),
    "major_minor_chords": lambda ns: ns.encoder_decoder.OneHotEventSequenceEncoderDecoder(
        ns.chords_encoder_decoder.MajorMinorChordOneHotEncoding()
    ),
}


@pytest.mark.parametrize("control", sorted(NS_CHORD_CONTROLS))
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_chord_conditional_matches_note_seq(note_seq, control, data):
    spec = {"type": "conditional", "control": {"type": control}, "target": {"type": "key_melody"}}
    ours = make_encoder(spec)
    theirs = note_seq.encoder_decoder.ConditionalEventSequenceEncoderDecoder(
        NS_CHORD_CONTROLS[control](note_seq),
        note_seq.melody_encoder_decoder.KeyMelodyEncoderDecoder(48, 84),
    )
    assert ours.input_size == theirs.input_size
    assert encoder_spec(ours) == {**spec, "target": encoder_spec(ours.target_encoder)}
    events = data.draw(melodies(48, 84, max_size=40))
    chords = data.draw(
        st.lists(st.sampled_from(CHORDS), min_size=len(events), max_size=len(events))
    )
    inputs, labels = ours.encode(events, chords)
    want_inputs, want_labels = theirs.encode(chords, events.tolist())
    np.testing.assert_array_equal(
        inputs, np.array(want_inputs, np.float32).reshape(-1, ours.input_size)
    )
    np.testing.assert_array_equal(labels, want_labels)


# --- specs and errors ------------------------------------------------------------------------

SPECS = [
    {"type": "one_hot_melody", "min_note": 48, "max_note": 84},
    {"type": "one_hot_melody", "min_note": 0, "max_note": 128},
    {
        "type": "lookback_melody",
        "min_note": 48,
        "max_note": 84,
        "lookback_distances": [16, 32],
        "binary_counter_bits": 5,
    },
    {
        "type": "lookback_melody",
        "min_note": 36,
        "max_note": 96,
        "lookback_distances": [12, 24, 48],
        "binary_counter_bits": 6,
    },
    {
        "type": "key_melody",
        "min_note": 48,
        "max_note": 84,
        "lookback_distances": [16, 32],
        "binary_counter_bits": 7,
    },
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s["type"])
def test_spec_round_trip(spec):
    encoder = make_encoder(spec)
    assert encoder_spec(encoder) == spec
    assert json.loads(json.dumps(encoder_spec(encoder))) == spec
    again = make_encoder(encoder_spec(encoder))
    assert (again.input_size, again.num_classes) == (encoder.input_size, encoder.num_classes)


def test_spec_defaults_are_magentas():
    assert encoder_spec(make_encoder({"type": "lookback_melody"})) == SPECS[2]
    assert encoder_spec(make_encoder({"type": "key_melody"})) == SPECS[4]
    direct = LookbackEventSequenceEncoderDecoder(StandInDrumEncoding(), [], 6)
    assert encoder_spec(direct) == {
        "type": "drums",
        "binary_counter_bits": 6,
        "pitch_classes": "magenta",
    }


@pytest.mark.parametrize("pitch_classes", ["magenta", "magenta_js"])
def test_drum_spec_round_trip(pitch_classes):
    spec = {"type": "drums", "binary_counter_bits": 6, "pitch_classes": pitch_classes}
    encoder = make_encoder(spec)
    assert (encoder.input_size, encoder.num_classes) == (518, 512)
    assert encoder_spec(encoder) == spec


def test_conditional_spec_round_trip():
    spec = {
        "type": "conditional",
        "control": {"type": "pitch_chords"},
        "target": {"type": "one_hot_melody", "min_note": 48, "max_note": 84},
    }
    encoder = make_encoder(spec)
    assert (encoder.input_size, encoder.num_classes) == (75, 38)  # chord_pitches_improv
    assert encoder_spec(encoder) == spec
    # magenta.js's PitchChordEncoder ignores slash basses: C/E keeps bass C
    js_spec = {**spec, "control": {"type": "pitch_chords", "slash_bass": False}}
    js = make_encoder(js_spec)
    assert encoder_spec(js) == js_spec
    events = np.array([60, NO_EVENT])
    assert js.inputs(events, ["C", "C/E", "C/E"])[0, 25] == 1
    assert encoder.inputs(events, ["C", "C/E", "C/E"])[0, 25 + 4] == 1


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "performance"},
        {"min_note": 48},
        "one_hot_melody",
        {"type": "one_hot_melody", "min_note": 48, "max_note": 84, "steps_per_bar": 16},
        {"type": "one_hot_melody", "min_note": 84, "max_note": 48},
        {"type": "lookback_melody", "lookback_distances": "16"},
        {"type": "lookback_melody", "lookback_distances": [0]},
        {"type": "key_melody", "binary_counter_bits": -1},
        {"type": "drums", "pitch_classes": "roland"},
        {"type": "conditional", "target": {"type": "one_hot_melody"}},
        {"type": "conditional", "control": {"type": "jazz"}, "target": {"type": "key_melody"}},
        {
            "type": "conditional",
            "control": {"type": "triad_chords", "slash_bass": False},
            "target": {"type": "key_melody"},
        },
        {
            "type": "conditional",
            "control": {"type": "pitch_chords", "slash_bass": "no"},
            "target": {"type": "key_melody"},
        },
    ],
)
def test_bad_specs_raise_config_error(spec):
    with pytest.raises(ConfigError):
        make_encoder(spec)


def test_encoder_errors():
    for name in ("basic", "lookback", "key"):
        encoder, _ = make_ours(name)
        with pytest.raises(PitchOutOfRangeError):
            encoder.encode([60, 90])
        with pytest.raises(PitchOutOfRangeError):
            encoder.inputs_last_batch([[60, 40]])
        with pytest.raises(EncodingError):
            encoder.class_index_to_event(encoder.num_classes, [60])
        with pytest.raises(EncodingError):
            encoder.inputs_last_batch([60, 61])  # not [B, L]
        with pytest.raises(EncodingError):
            encoder.inputs_last_batch(np.zeros((2, 0), np.int64))
        with pytest.raises(EncodingError):
            encoder.event_to_class_index([60], 1)
        with pytest.raises(EncodingError):
            encoder.class_index_to_event_batch([0, 1], [[60]])
        inputs, labels = encoder.encode([60])
        assert inputs.shape == (0, encoder.input_size) and labels.shape == (0,)
