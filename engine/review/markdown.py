"""Markdown primitives for comments: numbers, versions, and user text made safe.

Every piece of user text in a report or a reply goes through :func:`cell`, :func:`code`
or :func:`label`, so that it can't break out of its table cell, code span or chart, and
can't mention anyone. Pure.
"""

from __future__ import annotations

import re


def num(value: float | None, sign: bool = False) -> str:
    if value is None:
        return "—"
    if value != value:  # NaN
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "∞" if value > 0 else "-∞"
    plus = "+" if sign else ""
    magnitude = abs(value)
    spec = ",.0f" if magnitude >= 10_000 else ".2f" if magnitude >= 100 else ".4f"
    return format(value, plus + spec)


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+,.1f}%"


def value(value: object) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)


def version(version: str | None) -> str:
    return "—" if version is None else code(version[:12])


def html_version(version: str | None) -> str:
    # inside <summary>, markdown is not reliably rendered: use HTML
    return "—" if version is None else f"<code>{escape(version[:12])}</code>"


def escape(text: str, quote: bool = True) -> str:
    """``html.escape``, without importing :mod:`html`: its entity tables, which escaping
    never reads, are 1% of the start-up of an event that posts a report."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if quote:
        text = text.replace('"', "&quot;").replace("'", "&#x27;")
    return text


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


_LIVE = re.compile(r"@|#(?=\d)|\](?=[(\[:])|:(?=//)|(?i:\bwww)(?=\.)")
"""What GitHub would make live in a comment: a mention, an issue reference, a link or
image (``](``, ``][``, ``]:``), a bare URL; a zero-width space after each breaks it (as
``engine.github.untrusted`` does for a report bundle)."""


def cell(text: str) -> str:
    """User text made safe for a table cell: no HTML, no pipes, no mention, issue
    reference, link, image or bare URL (a category of the data can be any text)."""
    text = escape(one_line(text), quote=False).replace("|", "\\|")
    return _LIVE.sub(lambda m: m.group(0) + "\u200b", text)


def code(text: str) -> str:
    """An inline code span that holds any text, pipes escaped for tables."""
    text = one_line(text).replace("|", "\\|")
    fence = "`" * (longest_run(text, "`") + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")


def label(text: str) -> str:
    """Text safe inside a quoted Mermaid string."""
    return re.sub(r"[^A-Za-z0-9_.:+ -]", "_", text)[:40]


def token(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_./-]", "_", text)


def longest_run(text: str, char: str) -> int:
    runs = re.findall(f"{re.escape(char)}+", text)
    return max((len(r) for r in runs), default=0)


__all__ = [
    "cell",
    "code",
    "html_version",
    "label",
    "num",
    "one_line",
    "pct",
    "plural",
    "token",
    "value",
    "version",
]
