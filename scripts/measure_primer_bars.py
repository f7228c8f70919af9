"""How many bars of primer change a continuation: the measurement behind DEFAULT_PRIMER_BARS.

Four 4/4 samples' melodies (clipped to the shipped model's range) are joined three times into a
132-bar melody; at six ends in its last 20 bars, the next-step distribution after the last N
bars is compared with the one after all of it (total variation), and 32-step argmax and seeded
continuations are compared for identity. Run from the repository root:

    python scripts/measure_primer_bars.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from melodyrnn.generation.music_rnn import MusicRNN
from melodyrnn.generation.options import SamplingOptions
from melodyrnn.generation.primer import prepare_primer
from melodyrnn.io.midi import midi_to_sequence

# The 4/4 samples of the measurement (pop_arrangement came later).
SAMPLES = ("a_minor_no_signature", "ode_to_joy", "saints_multitrack", "twinkle_wide_range")


def main() -> None:
    torch.set_num_threads(1)
    model = MusicRNN.from_pretrained()
    low, high = model.pitch_range
    melodies = []
    for name in SAMPLES:
        primer = prepare_primer(midi_to_sequence(Path("midi_samples") / f"{name}.mid"))
        if primer.steps_per_bar == 16:
            events = primer.melody.to_array()
            melodies.append(np.where(events >= 0, np.clip(events, low, high), events))
    long = np.concatenate(melodies * 3)
    print(f"{len(long) / 16:.0f} bars")

    def next_step(events: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            logits, _ = model.network(torch.from_numpy(model.encoder.inputs(events))[None])
        return torch.softmax(logits[0, -1].double(), 0).numpy()

    for bars in (1, 2, 4, 8, 16, 32, 48, 64):
        distances, same, total = [], 0, 0
        for end in range(len(long) - 16 * 20, len(long) + 1, 16 * 4):
            full, cut = long[:end], long[:end][-bars * 16 :]
            distances.append(0.5 * np.abs(next_step(full) - next_step(cut)).sum())
            for options in (SamplingOptions(temperature=None), SamplingOptions(seed=3)):
                a = model.continue_events(full, 32, options).events[0]
                b = model.continue_events(cut, 32, options).events[0]
                same += int((a == b).all())
                total += 1
        print(
            f"{bars:3d} bars: max TV {max(distances):.2e}, mean {np.mean(distances):.2e}, "
            f"identical continuations {same}/{total}"
        )


if __name__ == "__main__":
    main()
