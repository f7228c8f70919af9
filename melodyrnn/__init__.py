"""melodyrnn: Magenta's melody RNNs in PyTorch, from MIDI in to continuations out.

The top-level names load lazily, so ``import melodyrnn`` stays light (no torch) until a model
is used::

    import melodyrnn

    options = melodyrnn.SamplingOptions(temperature=1.0, num_outputs=4, seed=0)
    outputs = melodyrnn.continue_midi("phrase.mid", steps=64, options=options)
    melodyrnn.sequence_to_midi_file(outputs[0], "continued.mid")
"""

from importlib import import_module

from melodyrnn.errors import MelodyRNNError
from melodyrnn.sequence import NoteSequence, quantize_note_sequence

__version__ = "0.1.0"

_LAZY = {
    "concatenate": "joining",
    "from_magenta_js_json": "io.magenta_js_json",
    "to_magenta_js_json": "io.magenta_js_json",
    "midi_to_sequence": "io.midi",
    "sequence_to_midi_file": "io.midi",
    "sequence_to_pretty_midi": "io.midi",
    "MusicRNN": "generation.music_rnn",
    "load_model": "generation.music_rnn",
    "SamplingOptions": "generation.options",
    "continue_midi": "generation.primer",
    "prepare_primer": "generation.primer",
    "extract_melodies": "events.melody",
    "Melody": "events.melody",
}

__all__ = ["MelodyRNNError", "NoteSequence", "quantize_note_sequence", "__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'melodyrnn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
