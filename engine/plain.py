"""Plain read-only value classes: fields declared as annotations, equal by value. Pure.

The webhook payloads (:mod:`engine.github.events`) and the store's version records
(:mod:`engine.training.records`) are such classes rather than pydantic models or frozen
dataclasses, whose import and generated methods cost more than the rest of what reads
them; each module checks its own values and sets them in its own ``__init__``.
"""

from __future__ import annotations

import typing
from typing import Any

MISSING: Any = object()
"""A field's default when it has none (the field is required)."""

_FIELDS: dict[type[Any], tuple[tuple[str, Any, Any], ...]] = {}


class Plain:
    """Read-only once built, equal by value, shown with its fields."""

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    __hash__ = None  # type: ignore[assignment]  # equal by value, and holds dicts

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


def fields_of(cls: type[Any]) -> tuple[tuple[str, Any, Any], ...]:
    """Each field of ``cls`` in declaration order: its name, its type, its default (or
    :data:`MISSING`)."""
    if cls not in _FIELDS:
        hints = typing.get_type_hints(cls)
        _FIELDS[cls] = tuple(
            (name, hints[name], cls.__dict__.get(name, MISSING)) for name in cls.__annotations__
        )
    return _FIELDS[cls]


__all__ = ["MISSING", "Plain", "fields_of"]
