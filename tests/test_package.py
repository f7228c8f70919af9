"""Package layout: the I/O, sequence and encoding layers import without torch or note-seq."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LIGHT_MODULES = [
    "melodyrnn",
    "melodyrnn.sequence",
    "melodyrnn.io.midi",
    "melodyrnn.events.base",
    "melodyrnn.events.melody_events",
    "melodyrnn.events.melody",
    "melodyrnn.events.drums",
    "melodyrnn.events.magenta_js",
    "melodyrnn.events.projections",
    "melodyrnn.events.chords",
    "melodyrnn.encoding.arrays",
    "melodyrnn.encoding.base",
    "melodyrnn.encoding.one_hot",
    "melodyrnn.encoding.lookback",
    "melodyrnn.encoding.key_melody",
    "melodyrnn.encoding.conditional",
    "melodyrnn.encoding.specs",
    "melodyrnn.training.tokens",
    "melodyrnn.summary",
    "melodyrnn.pipelines",
    "melodyrnn.training.dataset",
    "melodyrnn.scales",
    "melodyrnn.cli",
]


def test_light_layers_import_without_torch_or_note_seq():
    # A None entry in sys.modules makes any import of that package fail.
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['note_seq'] = None\n"
        + "".join(f"import {m}\n" for m in LIGHT_MODULES)
        + "from melodyrnn.cli import main\n"
        + f"sys.exit(main(['inspect', {str(ROOT / 'midi_samples' / 'ode_to_joy.mid')!r}]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "tracks:" in proc.stdout


def test_lazy_top_level_names():
    import melodyrnn

    assert callable(melodyrnn.continue_midi)
    assert melodyrnn.MusicRNN.__name__ == "MusicRNN"
    assert issubclass(melodyrnn.MelodyRNNError, Exception)
