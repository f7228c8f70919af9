"""Dataset building (melodyrnn.training.dataset) on a small MIDI folder whose outcome is known
file by file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from melodyrnn.errors import DatasetError
from melodyrnn.io.midi import sequence_to_midi_file
from melodyrnn.pipelines import DatasetSettings
from melodyrnn.sequence import InstrumentInfo, Note, NoteSequence, Tempo, TimeSignature
from melodyrnn.training.dataset import (
    build_dataset,
    duplicate_groups,
    load_dataset,
    normalize_title,
    save_dataset,
    split_groups,
)

STEP = 0.125  # seconds per 16th at 120 qpm
D_MAJOR = (62, 64, 66, 67, 69, 71, 73, 74)


def write_tune(path, pitches, bars=8, title="", note_steps=2, chord=False, drums=False):
    """An 8-bar (by default) line of ``note_steps``-step notes cycling through ``pitches``."""
    notes = []
    for i in range(bars * 16 // note_steps):
        start, end = i * note_steps * STEP, (i + 1) * note_steps * STEP
        pitch = pitches[i % len(pitches)]
        notes.append(Note(pitch, 100, start, end, instrument=9 if drums else 0, is_drum=drums))
        if chord:  # a second voice starting together with every note, a third below
            notes.append(Note(pitch - 4, 90, start, end))
    ns = NoteSequence(
        notes=notes,
        tempos=[Tempo(0.0, 120.0)],
        time_signatures=[TimeSignature(0.0, 4, 4)],
        instrument_infos=[InstrumentInfo(9 if drums else 0, title)] if title else [],
        total_time=bars * 16 * STEP,
    )
    sequence_to_midi_file(ns, path)
    return path


@pytest.fixture
def midi_dir(tmp_path):
    """3 good tunes, a polyphonic one, a too-short one, a drum track, a non-MIDI .mid file and
    a pair of different tunes that share a title ("The Butterfly" / "Butterfly 2")."""
    folder = tmp_path / "midi"
    folder.mkdir()
    write_tune(folder / "tune_a.mid", D_MAJOR, title="Tune A")
    write_tune(folder / "tune_b.mid", (60, 62, 64, 65, 67), title="Tune B")
    write_tune(folder / "tune_c.mid", (57, 60, 64, 69, 72, 71, 62), title="Tune C")
    write_tune(folder / "poly.mid", (72, 74, 76, 77, 79), title="Poly", chord=True)
    write_tune(folder / "short.mid", D_MAJOR, bars=2, title="Short")
    write_tune(folder / "drums.mid", (36, 38, 42, 46, 49), title="Kit", drums=True)
    (folder / "broken.mid").write_bytes(b"this is not a MIDI file at all")
    sub = folder / "sub"
    sub.mkdir()
    write_tune(sub / "dup_1.mid", (65, 67, 69, 70, 72, 74), title="The Butterfly")
    write_tune(sub / "dup_2.mid", (67, 69, 71, 72, 74, 76, 78), title="Butterfly 2")
    return folder


def by_file(ds):
    return {f["path"]: f for f in ds.info["files"]}


def melodies_of(ds, path):
    return [
        ds.melody(i) for i in range(len(ds)) if ds.info["files"][ds.file_index[i]]["path"] == path
    ]


def test_known_counts(midi_dir):
    ds = build_dataset(midi_dir, DatasetSettings(eval_fraction=0.3), jobs=1, progress=False)
    files = by_file(ds)
    assert len(files) == 9
    good = ["tune_a.mid", "tune_b.mid", "tune_c.mid", "sub/dup_1.mid", "sub/dup_2.mid"]
    assert {p for p, f in files.items() if f["melodies"]} == set(good)
    assert all(files[p]["melodies"] == 1 for p in good)
    assert "error" in files["broken.mid"] and files["broken.mid"]["melodies"] == 0
    assert ds.info["files_read"] == 8 and ds.info["files_failed"] == 1
    assert ds.info["files_without_melodies"] == 3  # poly, short, drums
    assert ds.info["stats"]["polyphonic_tracks_discarded"] == 1
    assert ds.info["stats"]["melodies_discarded_too_short"] == 1
    assert len(ds) == 5
    # Each tune is 8 bars of 2-step notes; the final NOTE_OFF is dropped: 128 steps.
    assert [len(ds.melody(i)) for i in range(len(ds))] == [128] * 5
    assert len(ds.events) == 5 * 128
    assert ds.events.dtype == np.int8


def test_melodies_are_squashed_into_c_major_and_the_range(midi_dir):
    ds = build_dataset(midi_dir, jobs=1, progress=False)
    c_major = {0, 2, 4, 5, 7, 9, 11}
    (tune_a,) = melodies_of(ds, "tune_a.mid")
    pitches = tune_a[tune_a >= 0]
    # D major moved down a whole tone into C major: D4 E4 F#4 ... -> C4 D4 E4 ...
    assert list(pitches[:8]) == [60, 62, 64, 65, 67, 69, 71, 72]
    for i in range(len(ds)):
        m = ds.melody(i)
        notes = m[m >= 0]
        assert notes.min() >= 48 and notes.max() <= 83
        assert set(notes % 12) <= c_major
        assert set(np.unique(m)) <= set(range(48, 84)) | {-2, -1}


def test_keep_highest_keeps_the_polyphonic_tune(midi_dir):
    ds = build_dataset(midi_dir, DatasetSettings(keep_highest=True), jobs=1, progress=False)
    files = by_file(ds)
    assert files["poly.mid"]["melodies"] == 1
    assert len(ds) == 6
    (poly,) = melodies_of(ds, "poly.mid")
    notes = poly[poly >= 0]
    # The top voice (C D E F G, already C major) is kept, not the third below it.
    assert set(notes % 12) == {0, 2, 4, 5, 7}


def test_save_load_round_trip(midi_dir, tmp_path):
    ds = build_dataset(midi_dir, DatasetSettings(eval_fraction=0.3), jobs=1, progress=False)
    out = save_dataset(ds, tmp_path / "ds")
    back = load_dataset(out)
    for name in ("events", "offsets", "file_index", "split"):
        assert np.array_equal(getattr(back, name), getattr(ds, name)), name
        assert getattr(back, name).dtype == getattr(ds, name).dtype
    assert back.settings == ds.settings
    assert back.info["files"] == ds.info["files"]
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["melodies"] == 5 and meta["steps"] == 640
    assert meta["train_melodies"] + meta["eval_melodies"] == 5
    with pytest.raises(DatasetError, match="already holds a dataset"):
        save_dataset(ds, out)
    save_dataset(ds, out, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json", "melodies.npz"]


def test_split_is_by_file_seeded_and_keeps_duplicates_together(midi_dir):
    splits = {}
    for seed in range(12):
        settings = DatasetSettings(eval_fraction=0.3, seed=seed)
        ds = build_dataset(midi_dir, settings, jobs=1, progress=False)
        files = by_file(ds)
        assert files["sub/dup_1.mid"]["split"] == files["sub/dup_2.mid"]["split"], seed
        # Every melody carries its file's side of the split.
        for i in range(len(ds)):
            path = ds.info["files"][ds.file_index[i]]["path"]
            assert ds.split[i] == (files[path]["split"] == "eval")
        assert ds.info["eval_files"] >= 3  # 0.3 of 9 files, whole groups
        splits[seed] = ds.split.copy()
        if seed == 0:
            again = build_dataset(midi_dir, settings, jobs=1, progress=False)
            assert again.info["files"] == ds.info["files"]
            assert np.array_equal(again.split, ds.split)
    assert len({s.tobytes() for s in splits.values()}) > 1  # the seed matters


def test_duplicate_groups_and_split_groups_by_hand():
    class R:  # the two fields duplicate_groups reads
        def __init__(self, title, melodies=()):
            self.title, self.melodies = title, list(melodies)

    opening = np.arange(32, dtype=np.int8) % 5 + 60
    results = [
        R("The Butterfly"),
        R("butterfly no. 2"),
        R("Kesh", [opening]),
        R("Other", [opening.copy()]),  # same first two bars as Kesh
        R("Alone"),
    ]
    assert normalize_title("The Butterfly") == normalize_title("butterfly no. 2") == "butterfly"
    groups = duplicate_groups(results)
    assert groups[0] == groups[1] and groups[2] == groups[3]
    assert len(set(groups)) == 3
    split = split_groups(groups, 0.4, seed=3)
    assert split[0] == split[1] and split[2] == split[3]
    assert np.array_equal(split, split_groups(groups, 0.4, seed=3))
    assert split.sum() >= 2  # at least 0.4 of 5 files
    assert split_groups(groups, 0.0, seed=3).sum() == 0


def test_empty_folder(tmp_path):
    with pytest.raises(DatasetError, match="no .mid or .midi files"):
        build_dataset(tmp_path, progress=False)
    with pytest.raises(DatasetError, match="no such folder"):
        build_dataset(tmp_path / "missing", progress=False)


def test_folder_of_non_midi_files(tmp_path):
    for name in ("a.mid", "b.midi"):
        (tmp_path / name).write_text("not MIDI")
    with pytest.raises(DatasetError, match=r"no melodies left from 2 MIDI files \(2 unreadable\)"):
        build_dataset(tmp_path, jobs=1, progress=False)


def test_no_melodies_left(tmp_path):
    write_tune(tmp_path / "short.mid", D_MAJOR, bars=2)
    write_tune(tmp_path / "drums.mid", (36, 38, 42, 46, 49), drums=True)
    write_tune(tmp_path / "few_pitches.mid", (60, 62, 64, 72))  # 3 pitch classes < 5
    with pytest.raises(DatasetError, match=r"no melodies left from 3 MIDI files \(0 unreadable\)"):
        build_dataset(tmp_path, jobs=1, progress=False)


def test_load_of_a_non_dataset_folder(tmp_path, midi_dir):
    with pytest.raises(DatasetError, match="not a melodyrnn dataset"):
        load_dataset(midi_dir)
    with pytest.raises(DatasetError, match="not a melodyrnn dataset"):
        load_dataset(tmp_path / "missing")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "melodies.npz").write_bytes(b"garbage")
    (bad / "dataset.json").write_text("{}")
    with pytest.raises(DatasetError, match="corrupt"):
        load_dataset(bad)


# --- known bugs in melodyrnn.training.dataset (reported to the lead) ---------------------------


def distinct_tunes(folder, names, title=""):
    rng = np.random.default_rng(0)
    scale = np.array([60, 62, 64, 65, 67, 69, 71, 72, 74])
    for name in names:
        write_tune(folder / name, list(rng.permutation(scale)[:6]), title=title)


def test_numbered_file_names_are_not_near_duplicates(tmp_path):
    distinct_tunes(tmp_path, [f"tune_{i}.mid" for i in range(1, 7)])
    ds = build_dataset(tmp_path, DatasetSettings(eval_fraction=0.2), jobs=1, progress=False)
    assert ds.info["near_duplicate_groups"] == 0
    assert ds.info["train_files"] > 0 and ds.info["eval_files"] > 0


def test_generic_track_names_are_not_near_duplicates(tmp_path):
    distinct_tunes(tmp_path, [f"{c * 3}.mid" for c in "abcdef"], title="Piano")
    ds = build_dataset(tmp_path, DatasetSettings(eval_fraction=0.2), jobs=1, progress=False)
    assert ds.info["near_duplicate_groups"] == 0
    assert ds.info["train_files"] > 0 and ds.info["eval_files"] > 0


def test_transpositions_with_a_key_do_not_just_duplicate(tmp_path):
    distinct_tunes(tmp_path, [f"{c * 3}.mid" for c in "abc"])
    settings = DatasetSettings(transpositions=(0, 2), eval_fraction=0.0)
    try:
        ds = build_dataset(tmp_path, settings, jobs=1, progress=False)
    except DatasetError:
        return  # refusing transpositions with a target key is a fine answer too
    melodies = ds.melodies()
    assert len(melodies) == 6
    assert len({m.tobytes() for m in melodies}) == 6
