"""A small schema checker for the JSON files of model folders: types, ranges, required keys.

A schema is built from the classes below (``Int(1, 64)``, ``Arr(Int(0))``,
``Obj({"name": Str()}, required=("name",))``, ...). :func:`first_problem` walks a parsed JSON
value against it and returns the first problem found, with its JSON path, e.g.
``("$.config.layer_sizes[0]", "must be an integer >= 1, got -3")``, or None. Loaders turn that
into their own one-line error (:func:`melodyrnn.models.folder.parse_json`).

Numbers follow JSON: an integer field takes an int or a float with no fraction (``1e6``);
``bool`` is never a number; NaN, Infinity and numbers too big for a float (``1e400``) are never
valid anywhere (:class:`NonFinite` marks them, see :mod:`melodyrnn.models.folder`). Nesting is
bounded before parsing (``max_json_depth``), so the walk cannot recurse deeply.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Anything",
    "Arr",
    "Bool",
    "Either",
    "Int",
    "NonFinite",
    "Num",
    "Obj",
    "Opt",
    "Str",
    "first_problem",
    "json_path",
]

Problem = tuple[str, str]


class NonFinite:
    """A JSON number that is not a finite float (``NaN``, ``Infinity``, ``1e400``), kept as text."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def json_path(parent: str, key: str | int) -> str:
    """``parent`` extended by an object key or an array index: ``$.a``, ``$[0]``, ``$["a b"]``."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if key.isidentifier():
        return f"{parent}.{key}" if parent else key
    return f"{parent}[{_shown(key)}]"


def _shown(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    text = "null" if value is None else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (
        isinstance(value, float) and math.isfinite(value) and value.is_integer()
    )


def _range(low, high, low_open: bool = False) -> str:
    if low is not None and high is not None:
        return f" from {low} to {high}" if not low_open else f" in ({low}, {high}]"
    if low is not None:
        return f" {'>' if low_open else '>='} {low}"
    return f" <= {high}" if high is not None else ""


@dataclass(frozen=True)
class Int:
    """An integer in ``minimum .. maximum`` (either bound may be None)."""

    minimum: int | None = None
    maximum: int | None = None

    def check(self, value: Any, path: str) -> Problem | None:
        bad = not _is_int(value)
        bad = bad or (self.minimum is not None and value < self.minimum)
        bad = bad or (self.maximum is not None and value > self.maximum)
        if bad:
            return (
                path,
                f"must be an integer{_range(self.minimum, self.maximum)}, got {_shown(value)}",
            )
        return None


@dataclass(frozen=True)
class Num:
    """A finite number in ``minimum .. maximum`` (``exclusive``: strictly above the minimum)."""

    minimum: float | None = None
    maximum: float | None = None
    exclusive: bool = False

    def check(self, value: Any, path: str) -> Problem | None:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and math.isfinite(value)
        if ok and self.minimum is not None:
            ok = value > self.minimum if self.exclusive else value >= self.minimum
        ok = ok and (self.maximum is None or value <= self.maximum)
        if not ok:
            bounds = _range(self.minimum, self.maximum, self.exclusive)
            return path, f"must be a finite number{bounds}, got {_shown(value)}"
        return None


@dataclass(frozen=True)
class Bool:
    def check(self, value: Any, path: str) -> Problem | None:
        return (
            None
            if isinstance(value, bool)
            else (path, f"must be true or false, got {_shown(value)}")
        )


@dataclass(frozen=True)
class Str:
    """A string, optionally one of ``choices``."""

    choices: tuple[str, ...] = ()

    def check(self, value: Any, path: str) -> Problem | None:
        if not isinstance(value, str):
            return path, f"must be a string, got {_shown(value)}"
        if self.choices and value not in self.choices:
            return path, f"must be one of {', '.join(self.choices)}, got {_shown(value)}"
        return None


@dataclass(frozen=True)
class Opt:
    """``schema`` or null."""

    schema: Any

    def check(self, value: Any, path: str) -> Problem | None:
        return None if value is None else self.schema.check(value, path)


@dataclass(frozen=True)
class Either:
    """Any one of ``schemas`` (``what`` describes them). When none fits, the problem reported is
    one found inside the value (its type fitted an alternative), else "must be <what>"."""

    schemas: tuple[Any, ...]
    what: str

    def check(self, value: Any, path: str) -> Problem | None:
        inner = None
        for schema in self.schemas:
            problem = schema.check(value, path)
            if problem is None:
                return None
            if problem[0] != path:
                inner = inner or problem
        return inner or (path, f"must be {self.what}, got {_shown(value)}")


@dataclass(frozen=True)
class Arr:
    """A list of ``items`` with ``min_len .. max_len`` entries."""

    items: Any
    min_len: int = 0
    max_len: int | None = None

    def check(self, value: Any, path: str) -> Problem | None:
        if not isinstance(value, list | tuple):
            return path, f"must be a list, got {_shown(value)}"
        if len(value) < self.min_len or (self.max_len is not None and len(value) > self.max_len):
            size = _range(self.min_len, self.max_len).strip()
            return path, f"must hold {size} entries, got {len(value)}"
        for index, item in enumerate(value):
            problem = self.items.check(item, json_path(path, index))
            if problem:
                return problem
        return None


@dataclass(frozen=True)
class Obj:
    """An object with the ``fields`` named (checked in that order), the ``required`` ones
    present; other keys are checked against ``extra`` (None: other keys are a problem)."""

    fields: Mapping[str, Any] = field(default_factory=dict)
    required: Sequence[str] = ()
    extra: Any = None

    def check(self, value: Any, path: str) -> Problem | None:
        if not isinstance(value, Mapping):
            return path, f"must be an object, got {_shown(value)}"
        for key in self.required:
            if key not in value:
                return path or "$", f"lacks the key {key!r}"
        for key, schema in self.fields.items():
            if key in value:
                problem = schema.check(value[key], json_path(path, key))
                if problem:
                    return problem
        for key, item in value.items():
            if key in self.fields:
                continue
            if self.extra is None:
                return path or "$", f"has the unknown key {_shown(key)}"
            problem = self.extra.check(item, json_path(path, key))
            if problem:
                return problem
        return None


@dataclass(frozen=True)
class Anything:
    """Any JSON value, as long as every number in it is finite."""

    def check(self, value: Any, path: str) -> Problem | None:
        stack = [(value, path)]
        while stack:
            item, where = stack.pop()
            if isinstance(item, NonFinite) or (isinstance(item, float) and not math.isfinite(item)):
                return where, f"must be a finite number, got {_shown(item)}"
            if isinstance(item, Mapping):
                stack.extend((v, json_path(where, k)) for k, v in reversed(item.items()))
            elif isinstance(item, list | tuple):
                stack.extend((v, json_path(where, i)) for i, v in reversed(list(enumerate(item))))
        return None


def first_problem(value: Any, schema: Any, root: str = "$") -> Problem | None:
    """``(json path, problem)`` of the first place where ``value`` breaks ``schema``, or None."""
    return schema.check(value, root)
