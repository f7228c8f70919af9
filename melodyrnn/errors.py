"""Every error melodyrnn raises on purpose derives from :class:`MelodyRNNError`.

A message is one line that says what is wrong and, where it helps, what to do.
The CLI prints it as ``melodyrnn: error: <message>`` and exits with status 2.
"""


class MelodyRNNError(Exception):
    """Base class of all melodyrnn errors."""


# --- MIDI and sequences -----------------------------------------------------


class MidiError(MelodyRNNError):
    """A MIDI file cannot be read or written (missing, truncated, not MIDI, ...)."""


class QuantizationError(MelodyRNNError):
    """A NoteSequence cannot be quantized as asked."""


class MultipleTempoError(QuantizationError):
    """The sequence changes tempo; split it or flatten its tempo first."""


class MultipleTimeSignatureError(QuantizationError):
    """The sequence changes time signature; split it first."""


class BadTimeSignatureError(QuantizationError):
    """A time signature has numerator 0 or a denominator that is not a power of 2."""


class NegativeTimeError(QuantizationError):
    """A note or event lies at a negative time."""


class QuantizationStatusError(MelodyRNNError):
    """A sequence is quantized where an unquantized one is needed, or the reverse."""


# --- events and encodings ---------------------------------------------------


class EncodingError(MelodyRNNError):
    """Events cannot be built from a sequence or encoded as asked."""


class PolyphonicMelodyError(EncodingError):
    """Two notes start on the same step where a monophonic melody is required."""


class NonIntegerStepsPerBarError(EncodingError):
    """The time signature gives a fractional number of steps per bar."""


class PitchOutOfRangeError(EncodingError):
    """A pitch lies outside the range an encoding or model accepts."""


class ChordSymbolError(EncodingError):
    """A chord symbol cannot be parsed."""


# --- models, checkpoints, generation, data ---------------------------------


class ConfigError(MelodyRNNError):
    """An unknown model config or an invalid hyperparameter."""


class ModelInputError(MelodyRNNError, ValueError):
    """Inputs given to a model have the wrong shape (e.g. a width that is not input_size)."""


class CheckpointError(MelodyRNNError):
    """A checkpoint folder is missing, corrupt or does not match its config."""


class GenerationError(MelodyRNNError):
    """A continuation cannot be generated with the given primer and options."""


class DatasetError(MelodyRNNError):
    """A dataset cannot be built or read."""


class ChordEncodingError(EncodingError):
    """A chord cannot be encoded as asked (e.g. a sus chord in a triad encoding)."""


class OutputExistsError(MelodyRNNError):
    """An output file exists already; nothing is overwritten without --force."""

    def __init__(self, path):
        super().__init__(f"{path} exists; use --force to overwrite it")
        self.path = path


class RenderError(MelodyRNNError):
    """A piano roll or audio rendering cannot be made (no renderer, a bad soundfont, ...)."""
