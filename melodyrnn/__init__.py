"""melodyrnn: Magenta's melody RNNs in PyTorch, from MIDI in to continuations out."""

from .errors import MelodyRNNError
from .sequence import NoteSequence, quantize_note_sequence

__version__ = "0.1.0"
__all__ = ["MelodyRNNError", "NoteSequence", "quantize_note_sequence", "__version__"]
