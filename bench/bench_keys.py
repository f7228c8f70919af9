"""Which key profile and weights agree best with real key signatures.

Folk: the tunes of data/folk_midi (scripts/build_folk_corpus.py) against their ABC ``K:`` field
(tonic and mode as written), the signature hidden from the estimator. Classical (optional): a JSON
of melodic voices from music21's corpus (Essen and the Bach chorales left out) against each
voice's key signature, which fixes the seven notes but not the tonic.

    python bench/bench_keys.py data/folk_midi [classical.json]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np

from melodyrnn.events.keys import (
    PROFILES,
    KeyWeights,
    estimate_key,
    magenta_key,
    pitch_class_weights,
)
from melodyrnn.events.melody_events import note_spans
from melodyrnn.generation.primer import prepare_primer
from melodyrnn.io.midi import midi_to_sequence

LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
MODE_SHIFT = {"maj": 0, "ion": 0, "m": 9, "min": 9, "aeo": 9, "dor": 2, "mix": 7, "phr": 4,
              "lyd": 5, "loc": 11}  # fmt: skip
SETTINGS = {
    "duration only": KeyWeights(1.0, 1.0, 1.0),
    "+last x3": KeyWeights(1.0, 1.0, 3.0),
    "+last x5": KeyWeights(1.0, 1.0, 5.0),
    "+down 1.5 last 4": KeyWeights(1.5, 1.0, 4.0),
    "+beats 2/1.5": KeyWeights(2.0, 1.5, 1.0),
    "+both": KeyWeights(2.0, 1.5, 3.0),
    "down 1.5 last 5 (default)": KeyWeights(1.5, 1.0, 5.0),
    "+both strong": KeyWeights(3.0, 2.0, 5.0),
}


def abc_keys(abc_dir: Path) -> dict[tuple[str, str], tuple[int, str, int] | None]:
    """(file stem, X) -> (tonic, mode word, collection) of tunes with one K: field."""
    out = {}
    for path in sorted(abc_dir.rglob("*.abc")):
        text = path.read_text(errors="replace")
        for block in re.split(r"\n(?=X:)", text):
            m = re.match(r"X:\s*(\d+)", block)
            if not m:
                continue
            ks = re.findall(r"^K:\s*([A-G][#b]?)\s*([A-Za-z]*)", block, flags=re.M)
            if len(ks) != 1:
                out[(path.stem, m.group(1))] = None
                continue
            letter, mode = ks[0]
            tonic = (LETTERS[letter[0]] + (1 if "#" in letter else -1 if "b" in letter else 0)) % 12
            word = mode.lower()[:3] if mode.lower() not in ("m",) else "m"
            word = word or "maj"
            if word not in MODE_SHIFT:
                out[(path.stem, m.group(1))] = None
                continue
            collection = (tonic - MODE_SHIFT[word]) % 12
            out[(path.stem, m.group(1))] = (tonic, word, collection)
    return out


def folk_cases(corpus: Path):
    keys = abc_keys(corpus / "abc")
    for line in (corpus / "manifest.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["status"] != "ok" or row.get("duplicate_of"):
            continue
        label = keys.get((Path(row["source"]).stem, row["x"]))
        if label is None:
            continue
        try:
            primer = prepare_primer(midi_to_sequence(corpus / row["path"]))
        except Exception:
            continue
        pitches, starts, ends = note_spans(primer.events)
        if len(pitches) < 8:
            continue
        offset = primer.melody.start_step
        yield label, pitches, starts + offset, ends + offset, primer


def main(argv: list[str]) -> int:
    corpus = Path(argv[0])
    cases = list(folk_cases(corpus))
    print(f"folk tunes with one K: field: {len(cases)}")
    modes = {}
    for (_, word, _), *_ in cases:
        modes[word] = modes.get(word, 0) + 1
    print("modes:", modes)
    header = f"{'profile':<19}{'weights':<27}{'key (maj/min)':>14}{'tonic (all)':>12}{'notes':>8}"
    print(header)
    magenta_ok = np.mean([magenta_key(p.events).collection == lab[2] for lab, *_, p in cases])
    print(f"{'magenta':<19}{'onset counts':<27}{'-':>14}{'-':>12}{magenta_ok:>8.1%}")
    for profile in PROFILES:
        for name, weights in SETTINGS.items():
            exact = tonic_ok = coll_ok = n_mm = 0
            for (tonic, word, collection), pitches, starts, ends, primer in cases:
                onsets = np.bincount(pitches % 12, minlength=12)
                hist = pitch_class_weights(pitches, starts, ends, primer.steps_per_bar,
                                           primer.beat_steps,
                                           weights)  # fmt: skip
                est = estimate_key(hist, None, profile, onsets)
                tonic_ok += est.tonic == tonic
                coll_ok += est.collection == collection
                if word in ("maj", "m"):
                    n_mm += 1
                    exact += est.tonic == tonic and est.mode == (
                        "major" if word == "maj" else "minor"
                    )
            print(f"{profile:<19}{name:<27}{exact / n_mm:>14.1%}{tonic_ok / len(cases):>12.1%}"
                  f"{coll_ok / len(cases):>8.1%}")  # fmt: skip
    if len(argv) > 1:
        classical(json.loads(Path(argv[1]).read_text()))
    return 0


def classical(voices: list[dict]) -> None:
    print(f"\nclassical voices with one key signature: {len(voices)} (collection vs signature)")
    for profile in PROFILES:
        row = []
        for name, weights in SETTINGS.items():
            ok = 0
            for v in voices:
                notes = np.asarray(v["notes"], dtype=np.float64)
                num, den = (int(x) for x in v["meter"].split("/"))
                bar = max(1, round(16 * num / den))
                beat = 6 if den == 8 and num % 3 == 0 else round(16 / den)
                starts, ends = np.round(notes[:, 1] * 4), np.round(notes[:, 2] * 4)
                hist = pitch_class_weights(
                    notes[:, 0].astype(int), starts, ends, bar, beat, weights
                )
                onsets = np.bincount(notes[:, 0].astype(int) % 12, minlength=12)
                est = estimate_key(hist, None, profile, onsets)
                ok += est.collection == (7 * v["sharps"]) % 12
            row.append(f"{name}: {ok / len(voices):.1%}")
        print(f"{profile:<19}" + "  ".join(row))
    mg = np.mean([magenta_key(_events(v)).collection == (7 * v["sharps"]) % 12 for v in voices])
    print(f"{'magenta':<19}{mg:.1%}")


def _events(v: dict) -> np.ndarray:
    notes = np.asarray(v["notes"], dtype=np.float64)
    ev = np.full(int(notes[:, 2].max() * 4) + 1, -2, dtype=np.int64)
    for p, s, _ in notes:
        ev[int(round(s * 4))] = int(p)
    return ev


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
