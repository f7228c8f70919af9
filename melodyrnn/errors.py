"""Every error melodyrnn raises on purpose derives from :class:`MelodyRNNError`.

A message is one line that says what is wrong and, where it helps, what to do.
The CLI prints it as ``melodyrnn: error: <message>`` and exits with status 2.

Library code speaks the library: a message that tells the user to change an argument names the
parameter (``primer_bars``), as a ``{primer_bars}`` placeholder listed in ``parameters``. ``str()``
fills in the parameter names; a front end fills in its own spellings with :meth:`worded`
(the CLI: ``--primer-bars``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class MelodyRNNError(Exception):
    """Base class of all melodyrnn errors.

    Args:
        message: the one-line message; ``{name}`` stands for each name in ``parameters``.
        parameters: the library parameters the message refers to.
    """

    # How str() spells a parameter where its bare name would not read well.
    library_spellings: Mapping[str, str] = {"force": "force=True"}

    def __init__(self, message: object = "", *, parameters: Iterable[str] = ()):
        self.template = str(message)
        self.parameters = tuple(parameters)
        super().__init__(self.worded())

    def worded(self, spellings: Mapping[str, str] | None = None) -> str:
        """The message with each parameter spelled as ``spellings`` says (else the library's)."""
        return spell(self.template, self.parameters, spellings, self.library_spellings)

    def with_prefix(self, prefix: str) -> MelodyRNNError:
        """The same error (same class, parameters and attributes) with ``prefix`` before it."""
        error = _restore(type(self), prefix + self.template, self.parameters, dict(self.__dict__))
        error.template = prefix + self.template
        return error

    def __reduce__(self):  # keep template and parameters across processes (dataset workers)
        return (_restore, (type(self), self.template, self.parameters, dict(self.__dict__)))


def spell(
    text: str,
    parameters: Iterable[str],
    spellings: Mapping[str, str] | None = None,
    defaults: Mapping[str, str] | None = None,
) -> str:
    """``text`` with each ``{parameter}`` written as ``spellings`` (else ``defaults``, else its
    own name) says; nothing else in ``text`` is touched, so user values need no escaping."""
    for name in parameters:
        given = spellings.get(name) if spellings is not None else None
        text = text.replace("{" + name + "}", given or (defaults or {}).get(name, name))
    return text


def _restore(cls, template: str, parameters: tuple, state: dict) -> MelodyRNNError:
    error = cls.__new__(cls)
    MelodyRNNError.__init__(error, template, parameters=parameters)
    error.__dict__.update(state)
    return error


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


class SequenceFieldError(MelodyRNNError, TypeError):
    """A NoteSequence item given as a dict has a key that is no field of it."""


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


class PrimerError(GenerationError):
    """A primer file cannot be used as it is (no melody, unknown track, too long, ...)."""


class DatasetError(MelodyRNNError):
    """A dataset cannot be built or read."""


class ChordEncodingError(EncodingError):
    """A chord cannot be encoded as asked (e.g. a sus chord in a triad encoding)."""


class OutputError(MelodyRNNError):
    """An output cannot be written where it was asked for (a file, a device, no permission)."""


class OutputExistsError(OutputError):
    """An output file exists already; nothing is overwritten unless the caller says ``force``."""

    def __init__(self, path):
        self.path = path
        super().__init__(f"{path} exists; use {{force}} to overwrite it", parameters=("force",))


class LimitError(MelodyRNNError):
    """An input or request is over one of the caps in :mod:`melodyrnn.limits`."""


class ConfigLimitError(LimitError, ConfigError):
    """A model config asks for more than a cap allows (e.g. ``max_parameters``)."""


class CheckpointLimitError(LimitError, CheckpointError):
    """A checkpoint is over a cap (``max_checkpoint_bytes``, ``max_parameters``, ...)."""


class RenderError(MelodyRNNError):
    """A piano roll or audio rendering cannot be made (no renderer, a bad soundfont, ...)."""


# --- live playing -----------------------------------------------------------


class LiveError(MelodyRNNError):
    """A live session (``melodyrnn jam``) cannot start or go on (model, options, input)."""


class PortError(LiveError):
    """A MIDI port cannot be found or opened, no MIDI backend is there, or a port went away."""
