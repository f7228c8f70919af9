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
    "melodyrnn.constants",
    "melodyrnn.limits",
    "melodyrnn.files",
    "melodyrnn.io.midi_checks",
    "melodyrnn.io.magenta_js_json",
    "melodyrnn.models",
    "melodyrnn.models.configs",
    "melodyrnn.models.families",
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


def test_dir_shows_the_public_names():
    import melodyrnn
    import melodyrnn.models

    for name in ("continue_midi", "MusicRNN", "SamplingOptions", "load_model", "midi_to_sequence"):
        assert name in dir(melodyrnn), name
        assert name in melodyrnn.__all__, name
    assert {"EventRNN", "CONFIGS", "load_checkpoint"} <= set(dir(melodyrnn.models))


def test_continue_sequence_and_continue_midi_agree(tmp_path):
    """Both return a list of options.num_outputs NoteSequences; both default to temperature 1."""
    import inspect

    import melodyrnn
    from melodyrnn.generation.options import SamplingOptions

    sequence_sig = inspect.signature(melodyrnn.MusicRNN.continue_sequence)
    midi_sig = inspect.signature(melodyrnn.continue_midi)
    assert sequence_sig.parameters["temperature"].default == SamplingOptions().temperature == 1.0
    assert midi_sig.parameters["options"].default is None
    for sig in (sequence_sig, midi_sig):
        assert "list[NoteSequence]" in str(sig.return_annotation)
        assert not [p for p in sig.parameters.values() if p.kind is p.VAR_KEYWORD]
    ode = ROOT / "midi_samples" / "ode_to_joy.mid"
    [one] = melodyrnn.continue_midi(ode, steps=8, options=SamplingOptions(seed=0))
    assert isinstance(one, melodyrnn.NoteSequence)
