"""Continue every MIDI file in a folder, like `melodyrnn continue`, from Python.

    python scripts/continue_primer.py midi_samples/ generated/ --steps 64 --num-outputs 2

A short example of the API a composition tool would use: load the model once, then for each
file read the primer, fit it to the model, generate, and write the merged results.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from melodyrnn import MelodyRNNError, SamplingOptions, load_model
from melodyrnn.generation.primer import continue_merged, prepare_primer
from melodyrnn.io.midi import midi_to_sequence, sequence_to_midi_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("primers", help="a folder of .mid files")
    parser.add_argument("out", help="where to write the continuations")
    parser.add_argument("--model", help="a model name or folder (default: the shipped one)")
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--num-outputs", type=int, default=1)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    model = load_model(args.model)  # once, for every file
    options = SamplingOptions(
        temperature=args.temperature, seed=args.seed, num_outputs=args.num_outputs
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(Path(args.primers).glob("*.mid")):
        try:
            primer = prepare_primer(midi_to_sequence(path))
            outputs = continue_merged(primer, model, args.steps, options)
        except MelodyRNNError as exc:  # e.g. a drums-only file: say why and go on
            print(f"skipped {path.name}: {exc}")
            continue
        for k, ns in enumerate(outputs, 1):
            target = out / f"{path.stem}_continued_{k}.mid"
            sequence_to_midi_file(ns, target)
            print(f"wrote {target}")


if __name__ == "__main__":
    main()
