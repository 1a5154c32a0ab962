"""A quick reader for the plain YAML that definitions are written in; the rest is refused.

PyYAML's C loader still calls back into Python for every node it composes (the node's
class, its tag, the path resolvers): most of a cold ``plan`` or ``validate`` over
thousands of files. Definitions use a small part of YAML: block mappings and sequences of
one-line entries, one-line flow collections, plain and quoted one-line scalars, comments.
:func:`read` reads exactly that part, one regular expression per line, and raises
:class:`Unusual` at anything else: a multi-line scalar or flow collection, a block
scalar, an anchor, alias, tag or directive, a complex or duplicate key, an escape in a
double-quoted string, a tab, a carriage return, a character YAML does not print, an
indentation it would refuse. The caller then reads the file with PyYAML
(:func:`engine.definitions.yamlfile.parse_value`), so every refusal, every error and its
position stay PyYAML's own.

What it accepts it reads as PyYAML does: structure here, each plain scalar's type and
value from ``scalar`` (PyYAML's resolver and constructors, given by the caller, so this
module imports no YAML library). ``tests/unit/test_yaml_fast.py`` holds the two to the
same value over generated documents and near-YAML text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any


class Unusual(Exception):
    """Outside the part of YAML :func:`read` reads: PyYAML reads it (or says why not)."""


Scalar = Callable[[str], Any]

# One line: its indentation, "-" and the spaces after it, a key (plain or quoted) with
# its colon, and the rest. A plain key here starts with none of YAML's indicators and
# holds no colon, comment, flow indicator or quote.
_LINE = re.compile(
    r"""( *)(-(?: +|$))?"""
    r"""(?:([^\s\-?:,\[\]{}#&*!|>'"%@`][^:#,\[\]{}'"\n]*)|"([^"\\\n]*)"|'((?:[^'\n]|'')*)')"""
    r""" *:(?: +|$)|( *)(-(?: +|$))?"""
)
_NOT_FIRST = frozenset("-?:,[]{}#&*!|>'\"%@`")
_NOT_AFTER_DASH = frozenset(" -?:,[]{}#'\"")
# A one-line flow collection, token by token: an indicator, ": ", a quoted scalar or a
# plain one (which holds no indicator, colon, comment or quote).
_TOKEN = re.compile(
    r""" *(?:([\[\]{},])|(: +)|"([^"\\\n]*)"|'((?:[^'\n]|'')*)'"""
    r"""|([^ \-?:,\[\]{}#&*!|>'"%@`\n][^,\[\]{}#:?'"\n]*"""
    r"""|-[^ \-?:,\[\]{}#'"\n][^,\[\]{}#:?'"\n]*))"""
)
_TAIL = re.compile(r"(?: +#.*)? *")
_MAX_KEY = 1000  # libyaml refuses a key longer than 1024 characters
_MAX_DEPTH = 40
"""Nesting (blocks or flow collections) beyond which PyYAML reads the file."""
# Lines repeat from file to file (task: classification, metrics: [f1, roc_auc], gates:):
# each line's reading is remembered by its text, to the value (a flow collection's is
# copied for each use, so no document shares a list or a mapping with another).
_LINES: dict[Scalar, dict[str, Any]] = {}
_MAX_LINES = 100_000
_UNREAD: Any = object()
_BELOW: Any = object()  # nothing after "key:" or "-": the value is the block below, or null


def read(text: str, scalar: Scalar) -> dict[str, Any]:
    """The mapping ``text`` holds, or :class:`Unusual`.

    ``scalar`` gives the value of a plain scalar (``1e-4``, ``yes``, ``~``...) as PyYAML
    reads it, or raises :class:`Unusual` for one that needs more (a timestamp).
    """
    lines = text.split("\n")
    if not "".join(lines).isprintable() or "\n---" in text or "\n..." in text or "\n%" in text:
        # a character Python does not print (a tab, a carriage return, a byte-order
        # mark, a line separator, a control character; YAML refuses some of them), a
        # document marker or a directive
        raise Unusual
    if text.startswith(("---", "...", "%")):
        raise Unusual
    root: dict[str, Any] = {}
    # the open blocks, innermost last: [indent, container]; a key waiting for its value
    # on the next lines ("key:" or "-" at the end of a line) is ``waiting``
    blocks: list[tuple[int, Any, bool]] = [(0, root, False)]
    waiting: tuple[Any, Any, int, bool] | None = None
    remembered = _LINES.setdefault(scalar, {})  # (one reader of scalars in practice)
    known = remembered.get
    for line in lines:
        info = known(line, _UNREAD)
        if info is _UNREAD:
            info = _line(line, scalar)
            if len(remembered) < _MAX_LINES:
                remembered[line] = info
        if info is None:
            continue  # blank, or a comment
        indent, dash, key, value, flow = info
        if flow:
            value = value.copy() if flow == 1 else _copy(value)  # never the one remembered
        if waiting is not None:
            owner, slot, at, indentless = waiting
            waiting = None
            if indent > at or (indent == at and dash and indentless):
                block: Any = [] if dash else {}
                owner[slot] = block
                blocks.append((indent, block, indent == at))  # key:\n- a: beside its key
                if len(blocks) > _MAX_DEPTH:
                    raise Unusual  # deeper than definitions go: PyYAML says what it makes of it
        while indent < blocks[-1][0]:
            blocks.pop()
        at, container, beside = blocks[-1]
        if beside and not dash and indent == at:
            blocks.pop()  # the mapping's next key after a sequence beside its key
            at, container, beside = blocks[-1]
        if indent != at:
            raise Unusual  # between two levels, or a line continuing a value
        if dash:
            if container.__class__ is not list:
                raise Unusual  # "- x" after a complete value
            if key is None:
                if value is _BELOW:
                    container.append(None)
                    waiting = (container, len(container) - 1, indent, False)
                else:
                    container.append(value)
                continue
            item: dict[str, Any] = {}
            container.append(item)
            indent += dash
            blocks.append((indent, item, False))
            if len(blocks) > _MAX_DEPTH:
                raise Unusual
            container = item
        elif key is None or container.__class__ is not dict:
            raise Unusual  # a scalar where a key belongs, or a key among entries
        if key in container:
            raise Unusual  # a duplicate key: PyYAML's error says where
        if value is _BELOW:
            container[key] = None
            waiting = (container, key, indent, True)
        else:
            container[key] = value
    if not root:
        raise Unusual
    return root


def _line(line: str, scalar: Scalar) -> tuple[int, int, Any, Any, int] | None:
    """What one line holds, None for a blank line or a comment, :class:`Unusual` if
    outside the part of YAML read here: its indentation, the width of its "- " (0 for
    none), its key (or None), the value on the line (:data:`_BELOW` for none: a block
    below or null), and 1 or 2 if that value is a flow collection to copy for each use
    (2 if it holds collections)."""
    m = _LINE.match(line)
    assert m is not None  # the second branch matches anything
    head = m.end()
    rest = line[head:].rstrip(" ")
    spaces, dash, plain, double, single, other_spaces, other_dash = m.groups()
    if spaces is None:  # no key
        spaces, dash = other_spaces, other_dash
        if not dash and (not rest or rest[0] == "#"):
            return None
        key = None
    else:
        if plain is not None:
            value = scalar(plain.rstrip(" "))
            key = value if value.__class__ is str else str(value)
        else:
            key = double if double is not None else single.replace("''", "'")
        if head > len(spaces) + _MAX_KEY:
            raise Unusual
    width = len(dash) if dash else 0
    if not rest or rest[0] == "#":
        return len(spaces), width, key, _BELOW, 0
    first = rest[0]
    if first == "[" or first == "{":
        value = _flow(rest, scalar)
        values = value if value.__class__ is list else value.values()
        nested = any(v.__class__ is list or v.__class__ is dict for v in values)
        return len(spaces), width, key, value, 2 if nested else 1
    return len(spaces), width, key, _inline(rest, scalar), 0


def _inline(rest: str, scalar: Scalar) -> Any:
    """A scalar written on the line, quoted or plain (a comment may follow it)."""
    first = rest[0]
    if first == '"' or first == "'":
        m = _TOKEN.match(rest)
        if m is None or not _TAIL.fullmatch(rest, m.end()):
            raise Unusual  # an escape, a string over several lines, more after it
        double, single = m.group(3, 4)
        if double is not None:
            return double
        if single is None:
            raise Unusual
        return single.replace("''", "'")
    if first in _NOT_FIRST and not (
        first == "-" and len(rest) > 1 and rest[1] not in _NOT_AFTER_DASH
    ):
        raise Unusual
    cut = rest.find(" #")
    text = rest if cut < 0 else rest[:cut].rstrip(" ")
    if ": " in text or text[-1] == ":":
        raise Unusual  # a mapping where none may start: PyYAML's error
    return scalar(text)


def _flow(text: str, scalar: Scalar) -> Any:
    """The value of the one-line flow collection ``text`` (a comment may follow it)."""
    stack: list[Any] = []
    keys: list[Any] = []  # for each open mapping, the key read and waiting for ": "
    at = 0
    value: Any = None
    expect = "value"  # what comes next: "value", "sep" (",", a close) or "colon"
    token = _TOKEN.match
    while True:
        m = token(text, at)
        if m is None:
            raise Unusual
        at = m.end()
        sign, colon, double, single, plain = m.groups()
        if expect == "colon":
            if colon is None:
                raise Unusual  # a key without a value, "{a:b}", "{a}"
            expect = "value"
            continue
        if sign is not None:
            if sign == "[" or sign == "{":
                if expect != "value" or len(stack) > _MAX_DEPTH:
                    raise Unusual
                opened: Any = [] if sign == "[" else {}
                if stack and stack[-1].__class__ is dict and keys[-1] is _NONE:
                    raise Unusual  # a collection as a key
                stack.append(opened)
                keys.append(_NONE)
                if opened.__class__ is dict:
                    expect = "key"
                continue
            top = stack[-1] if stack else None
            if top is None:
                raise Unusual
            if sign == ",":
                if expect != "sep":
                    raise Unusual  # "[a, , b]", "[, a]"
                expect = "key" if top.__class__ is dict else "value"
                continue
            # a close: "]" for a list, "}" for a mapping
            if (sign == "]") != (top.__class__ is list):
                raise Unusual
            empty = "value" if sign == "]" else "key"
            if expect != "sep" and (top or expect != empty):
                raise Unusual  # "[a,]", "{a: }", "{a: 1,}"
            stack.pop()
            keys.pop()
            value = top
            if not stack:
                if not _TAIL.fullmatch(text, at):
                    raise Unusual
                return value
        elif colon is not None:
            raise Unusual
        else:
            if plain is not None:
                plain = plain.rstrip(" ")
                value = scalar(plain)
            elif double is not None:
                value = double
            else:
                value = single.replace("''", "'")
            if expect == "key":
                if plain is not None and value.__class__ is not str:
                    value = str(value)
                if value in stack[-1] or at > _MAX_KEY:
                    raise Unusual
                keys[-1] = value
                expect = "colon"
                continue
            if expect != "value":
                raise Unusual
        # a value complete: into its collection
        top = stack[-1]
        if top.__class__ is list:
            top.append(value)
        else:
            top[keys[-1]] = value
            keys[-1] = _NONE
        expect = "sep"


_NONE: Any = object()


def _copy(value: Any) -> Any:
    """A copy of a flow collection's value, to the scalars (which are immutable)."""
    if value.__class__ is list:
        if any(v.__class__ is list or v.__class__ is dict for v in value):
            return [_copy(v) if v.__class__ is list or v.__class__ is dict else v for v in value]
        return value.copy()
    if value.__class__ is dict:
        if any(v.__class__ is list or v.__class__ is dict for v in value.values()):
            return {
                k: _copy(v) if v.__class__ is list or v.__class__ is dict else v
                for k, v in value.items()
            }
        return value.copy()
    return value


__all__ = ["Unusual", "read"]
