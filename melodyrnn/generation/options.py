"""``SamplingOptions``: how a continuation is chosen, as one validated value.

Every continuation function (:func:`melodyrnn.generation.sampler.generate`,
:meth:`MusicRNN.continue_events <melodyrnn.generation.music_rnn.MusicRNN.continue_events>`,
:meth:`MusicRNN.continue_sequence <melodyrnn.generation.music_rnn.MusicRNN.continue_sequence>`,
:func:`melodyrnn.generation.primer.continue_primer`, :func:`melodyrnn.continue_midi` and the CLI)
takes one ``SamplingOptions`` instead of re-declaring a dozen keyword arguments, and the checks
live here once. It is frozen: derive a variant with :meth:`SamplingOptions.replace`.

Token choice (the sampler reads these):

* ``temperature``: None or 0 picks the most likely event (argmax), otherwise the softmax
  temperature of tfjs-exact multinomial sampling;
* ``seed``: an int or a ``numpy.random.Generator``; the same seed gives the same tokens;
* ``num_outputs``: independent variations, generated in one batch; variation k depends only
  on the seed and k (each has its own random stream);
* ``shared_stream``: draw every variation from one random stream in row order instead (the
  layout before per-variation streams: variation 1 then depends on ``num_outputs``);
* ``top_k`` / ``top_p``: sample among the k most likely classes / the nucleus of mass p;
* ``beam_size``, ``branch_factor``, ``steps_per_iteration``: Magenta's beam search.

Pitch constraints (an event family turns them into a logit mask over its classes):

* ``pitch_range`` (lowest, highest), inclusive; ``key`` (a tonic such as "F#" or 0..11) and
  ``scale`` ("major" when only ``key`` is given; C when only ``scale`` is).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass

import numpy as np

from melodyrnn.errors import GenerationError
from melodyrnn.limits import check_limit
from melodyrnn.scales import allowed_pitches, scale_pitch_classes

__all__ = ["SamplingOptions"]


@dataclass(frozen=True)
class SamplingOptions:
    """How to choose the tokens of a continuation (see the module docstring)."""

    temperature: float | None = 1.0
    seed: int | np.random.Generator | None = None
    num_outputs: int = 1
    top_k: int | None = None
    top_p: float | None = None
    beam_size: int = 1
    branch_factor: int = 1
    steps_per_iteration: int = 1
    pitch_range: tuple[int, int] | None = None
    key: str | int | None = None
    scale: str | None = None
    shared_stream: bool = False

    def __post_init__(self) -> None:
        t = self.temperature
        if t is not None:
            if not _is_real(t) or not math.isfinite(t) or t < 0:
                raise GenerationError(
                    f"{{temperature}} must be None or a number >= 0, got {t!r}",
                    parameters=("temperature",),
                )
            object.__setattr__(self, "temperature", float(t) if t else None)
        for name in ("num_outputs", "beam_size", "branch_factor", "steps_per_iteration"):
            object.__setattr__(self, name, _positive_int(name, getattr(self, name)))
        if self.top_k is not None:
            object.__setattr__(self, "top_k", _positive_int("top_k", self.top_k))
        if self.top_p is not None and not (_is_real(self.top_p) and 0 < self.top_p <= 1):
            raise GenerationError(
                f"{{top_p}} must be in (0, 1], got {self.top_p!r}", parameters=("top_p",)
            )
        if self.temperature is None and (self.top_k is not None or self.top_p is not None):
            raise GenerationError(
                "{temperature} 0 picks the most likely event; {top_k}/{top_p} need sampling: "
                "give a temperature > 0",
                parameters=("temperature", "top_k", "top_p"),
            )
        seed = self.seed
        if seed is not None and not isinstance(seed, np.random.Generator):
            if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
                raise GenerationError(
                    f"{{seed}} must be an integer >= 0 or a numpy Generator, got {seed!r}",
                    parameters=("seed",),
                )
            object.__setattr__(self, "seed", int(seed))
        check_limit(
            "max_generation_rows",
            self.num_outputs * self.beam_width,
            "num_outputs x beam_size x branch_factor",
        )
        if self.pitch_range is not None:
            object.__setattr__(self, "pitch_range", _pitch_range(self.pitch_range))
        if self.key is not None or self.scale is not None:
            scale_pitch_classes(0 if self.key is None else self.key, self.scale or "major")

    def replace(self, **changes) -> SamplingOptions:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @property
    def sampling(self) -> bool:
        """Whether tokens are drawn at random (False: argmax)."""
        return self.temperature is not None

    @property
    def beam_width(self) -> int:
        """Rows per output while beam-search branches are alive."""
        return self.beam_size * self.branch_factor

    def allowed_pitches(self) -> np.ndarray | None:
        """bool [128]: the MIDI pitches the constraints allow; None when nothing is constrained."""
        return allowed_pitches(self.pitch_range, self.key, self.scale)

    def without_pitch_constraints(self) -> SamplingOptions:
        """The same token choice with no pitch_range, key or scale."""
        return self.replace(pitch_range=None, key=None, scale=None)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _positive_int(name: str, value) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise GenerationError(
            f"{{{name}}} must be an integer >= 1, got {value!r}", parameters=(name,)
        )
    return int(value)


def _pitch_range(value) -> tuple[int, int]:
    try:
        low, high = value
    except (TypeError, ValueError):
        low = high = None
    ok = all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in (low, high))
    if not ok or not 0 <= low <= high <= 127:
        raise GenerationError(
            f"{{pitch_range}} must be (lowest, highest) MIDI pitches with "
            f"0 <= lowest <= highest <= 127, got {value!r}",
            parameters=("pitch_range",),
        )
    return int(low), int(high)
