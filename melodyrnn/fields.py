"""Dataclass items from dicts: note-seq's snake_case keys or magenta.js's camelCase ones.

``NoteSequence(notes=[{"pitch": 60, "startTime": 0.0, "endTime": 0.5}])`` and the magenta.js
JSON reader (:mod:`melodyrnn.io.magenta_js_json`) both build their items here.
"""

from __future__ import annotations

import dataclasses
import functools

from melodyrnn.errors import SequenceFieldError


def camel_case(name: str) -> str:
    """``start_time`` -> ``startTime`` (how magenta.js's JSON spells a protobuf field)."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@functools.cache
def field_spellings(cls: type) -> dict[str, str]:
    """Both spellings of every field of the dataclass ``cls`` -> the field's name."""
    names = {}
    for f in dataclasses.fields(cls):
        names[f.name] = names[camel_case(f.name)] = f.name
    return names


def item_from_dict(cls: type, raw: dict, strict: bool = True):
    """An instance of the dataclass ``cls`` from ``raw``, in either spelling; missing fields
    take their defaults. A key that is no field is a SequenceFieldError (a TypeError), or is
    ignored when not ``strict``."""
    names = field_spellings(cls)  # cached: do not change it
    unknown = [key for key in raw if key not in names]
    if unknown and strict:
        fields = ", ".join(f.name for f in dataclasses.fields(cls))
        raise SequenceFieldError(f"{cls.__name__} has no field {unknown[0]!r}; fields: {fields}")
    return cls(**{names[key]: value for key, value in raw.items() if key in names})


__all__ = ["camel_case", "field_spellings", "item_from_dict"]
