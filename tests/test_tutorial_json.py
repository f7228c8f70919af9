"""The magenta.js tutorial's path in Python (issue 12): its TWINKLE_TWINKLE literal (notes
without velocity), dicts where notes go, and a primer joined to its continuation."""

from __future__ import annotations

import io
import json

import pretty_midi
import pytest
from helpers import MAGENTA_JS

import melodyrnn
from melodyrnn.errors import QuantizationStatusError, SequenceFieldError
from melodyrnn.io.magenta_js_json import from_magenta_js_json, to_magenta_js_json
from melodyrnn.io.midi import sequence_to_midi_bytes
from melodyrnn.joining import concatenate
from melodyrnn.sequence import Note, NoteSequence, Tempo, quantize_note_sequence

# magenta.js's "Hello Magenta" TWINKLE_TWINKLE: {pitch, startTime, endTime} only, totalTime 8.
TWINKLE = json.loads((MAGENTA_JS / "twinkle_twinkle.json").read_text())
# magenta.js core/constants.ts DEFAULT_VELOCITY, what its sequenceProtoToMidi gives a note
# whose velocity is undefined.
MAGENTA_JS_DEFAULT_VELOCITY = 80


def test_twinkle_has_the_velocity_magenta_js_gives_it_and_is_not_silent():
    assert all("velocity" not in note for note in TWINKLE["notes"])  # the literal as published
    ns = from_magenta_js_json(TWINKLE)
    assert len(ns.notes) == 14 and ns.total_time == 8.0
    assert {n.velocity for n in ns.notes} == {MAGENTA_JS_DEFAULT_VELOCITY}
    midi = pretty_midi.PrettyMIDI(io.BytesIO(sequence_to_midi_bytes(ns)))
    written = [n for inst in midi.instruments for n in inst.notes]
    assert len(written) == 14 and {n.velocity for n in written} == {80}
    assert [n.pitch for n in written][:7] == [60, 60, 67, 67, 69, 69, 67]


def test_an_explicit_velocity_is_kept_and_round_trips():
    obj = {"notes": [{"pitch": 60, "velocity": 0, "startTime": 0, "endTime": 1},
                     {"pitch": 62, "velocity": 33, "startTime": 1, "endTime": 2}]}  # fmt: skip
    ns = from_magenta_js_json(obj)
    assert [n.velocity for n in ns.notes] == [0, 33]
    assert from_magenta_js_json(json.loads(json.dumps(to_magenta_js_json(ns)))) == ns


def test_dicts_are_accepted_where_notes_go():
    camel = NoteSequence(notes=TWINKLE["notes"], total_time=8.0)
    snake = NoteSequence(
        notes=[
            {"pitch": n["pitch"], "start_time": n["startTime"], "end_time": n["endTime"]}
            for n in TWINKLE["notes"]
        ],  # fmt: skip
        total_time=8.0,
    )
    assert all(isinstance(n, Note) for n in camel.notes)
    assert camel == snake
    assert camel.notes[2] == Note(pitch=67, start_time=1.0, end_time=1.5)  # velocity 100
    mixed = NoteSequence(notes=[Note(60), {"pitch": 62}], tempos=[{"time": 0, "qpm": 90}])
    assert mixed.notes[1] == Note(62) and mixed.tempos == [Tempo(0.0, 90)]
    q = NoteSequence(quantization_info={"stepsPerQuarter": 4})
    assert q.is_relative_quantized and q.steps_per_quarter == 4


def test_a_misspelt_key_is_named():
    with pytest.raises(SequenceFieldError, match="'pich'") as caught:
        NoteSequence(notes=[{"pich": 60}])
    assert isinstance(caught.value, TypeError) and "start_time" in str(caught.value)


def test_concatenate_a_quantized_primer_and_its_continuation():
    rnn = melodyrnn.MusicRNN.from_pretrained(MAGENTA_JS / "checkpoints" / "melody_2x64")
    primer = quantize_note_sequence(from_magenta_js_json(TWINKLE), 4)
    assert primer.total_quantized_steps == 32 * 2  # 8 s at 120 qpm, 4 steps per quarter
    [continuation] = rnn.continue_sequence(primer, 16, None)  # argmax
    assert continuation.notes and min(n.quantized_start_step for n in continuation.notes) == 0
    joined = melodyrnn.concatenate([primer, continuation])
    assert joined.total_quantized_steps == 64 + continuation.total_quantized_steps
    assert joined.notes[:14] == primer.notes  # the primer is untouched
    later = joined.notes[14:]
    assert len(later) == len(continuation.notes)
    for new, old in zip(later, continuation.notes):
        assert new.pitch == old.pitch
        assert new.quantized_start_step == old.quantized_start_step + 64
        assert new.start_time == pytest.approx(old.start_time + 8.0)  # 64 steps at 120 qpm
    assert len(joined.tempos) == 1 and len(joined.time_signatures) == 1  # repeats dropped
    assert continuation.notes[0].quantized_start_step == 0  # the inputs are not changed


def test_concatenate_unquantized_matches_note_seq(note_seq):
    from melodyrnn.io.note_seq_proto import to_note_seq

    a = from_magenta_js_json(TWINKLE)
    b = NoteSequence(
        notes=[{"pitch": 72, "startTime": 0.25, "endTime": 1.0, "velocity": 90}],
        tempos=[{"time": 0.0, "qpm": 120.0}, {"time": 0.5, "qpm": 90.0}],
        total_time=1.5,
    )
    a.tempos = [Tempo(0.0, 120.0)]
    ours = concatenate([a, b, a])
    theirs = note_seq.sequences_lib.concatenate_sequences([to_note_seq(x) for x in (a, b, a)])
    assert ours.total_time == pytest.approx(theirs.total_time) == 17.5
    assert [(n.pitch, n.start_time, n.end_time, n.velocity) for n in ours.notes] == [
        (n.pitch, pytest.approx(n.start_time), pytest.approx(n.end_time), n.velocity)
        for n in theirs.notes
    ]
    assert [(t.time, t.qpm) for t in ours.tempos] == [(t.time, t.qpm) for t in theirs.tempos]
    durations = concatenate([a, b], durations=[10.0, 2.0])
    assert durations.notes[14].start_time == 10.25 and durations.total_time == 12.0


def test_concatenate_refuses_mixed_quantization():
    a = from_magenta_js_json(TWINKLE)
    with pytest.raises(QuantizationStatusError, match="all sequences quantized or all unquantized"):
        concatenate([quantize_note_sequence(a, 4), a])
    assert concatenate([]) == NoteSequence()
