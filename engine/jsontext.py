"""``json.dumps(value, indent=2, default=str)``, the same text about three times as fast.

With ``indent`` set, the standard library encodes in Python, one generator per
container and one ``yield`` per token: 0.3 s of a ``plan --json`` over 5,000 models.
:func:`dumps` writes the same text with one call per value and C for every string, for
the plain data the CLI prints (dicts, lists and tuples of strings, numbers, booleans and
None). Any other value anywhere (a subclass, a non-string key, an object ``default=str``
would turn into text) hands the whole document to ``json.dumps`` itself, so the output
is the standard library's in every case; ``tests/unit/test_jsontext.py`` compares them.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii  # the C one, where there is one
from typing import Any

_INF = float("inf")


class _Other(Exception):
    """A value :func:`_encode` leaves to ``json.dumps``."""


def dumps(value: Any) -> str:
    """``json.dumps(value, indent=2, sort_keys=False, default=str)``."""
    try:
        return _encode(value, "\n")
    except (_Other, RecursionError):
        return json.dumps(value, indent=2, sort_keys=False, default=str)


def _encode(value: Any, newline: str) -> str:
    """``value`` at the depth whose line breaks are ``newline`` (a break and its indent)."""
    kind = value.__class__
    if kind is str:
        return encode_basestring_ascii(value)
    if kind is dict:
        if not value:
            return "{}"
        inner = newline + "  "
        parts = []
        for key, item in value.items():
            if key.__class__ is not str:
                raise _Other
            parts.append(encode_basestring_ascii(key) + ": " + _encode(item, inner))
        return "{" + inner + ("," + inner).join(parts) + newline + "}"
    if kind is list or kind is tuple:
        if not value:
            return "[]"
        inner = newline + "  "
        return "[" + inner + ("," + inner).join([_encode(v, inner) for v in value]) + newline + "]"
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        if value != value:
            return "NaN"
        if value == _INF:
            return "Infinity"
        if value == -_INF:
            return "-Infinity"
        return float.__repr__(value)
    raise _Other


__all__ = ["dumps"]
