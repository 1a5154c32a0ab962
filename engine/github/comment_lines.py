"""Which lines of a comment body may be commands: Markdown's code, quotes and HTML aside.

Lines inside fenced code blocks (backticks or tildes, at any indentation, to the
closing fence or the end of the comment), HTML comments (``<!-- -->``) and quotes
(``>``) are skipped; a line right after a quote continues the quote in Markdown, and is
yielded marked ``lazy`` so the caller can ask for a blank line instead of running it.
Only the first ``MAX_BODY`` characters (GitHub's own limit) are examined, and only the
first ``MAX_LINE`` characters of a line are scanned for fences and comments. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

MAX_BODY = 65_536
MAX_LINE = 1_000

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})(.*)$")
_QUOTE = re.compile(r"^ {0,3}>")
_CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")


def candidate_lines(body: str) -> Iterator[tuple[int, str, bool]]:
    """Lines outside code blocks, HTML comments and quotes: (number, line, lazy).

    ``lazy`` marks a line that Markdown renders inside the quote just above it.
    """
    fence: str | None = None  # the opening fence, while inside a fenced block
    in_html = quote_open = False
    for number, line in enumerate(_lines(body), start=1):
        if fence is not None:
            if _closes(line, fence):
                fence = None
            continue
        if in_html:
            in_html = not _closes_html(line)
            continue
        opener = _opens_fence(line)
        if opener is not None:
            fence, quote_open = opener, False
            continue
        if _QUOTE.match(line):
            quote_open = line.strip().strip(">").strip() != ""
        elif not line.strip():
            quote_open = False
        else:
            yield number, line, quote_open
        in_html = _opens_html(line)


def _lines(body: str) -> list[str]:
    """The first ``MAX_BODY`` characters as lines; a line cut by the limit is dropped."""
    if len(body) > MAX_BODY:
        body = body[:MAX_BODY]
        cut = max(body.rfind("\n"), body.rfind("\r"))
        body = body[:cut] if cut >= 0 else ""
    return _LINE_BREAK.split(body)


def _opens_fence(line: str) -> str | None:
    """The fence a line opens (```` ``` ```` or ``~~~``, any length), or None."""
    match = _FENCE.match(line[:MAX_LINE])
    if match is None:
        return None
    fence, info = match.groups()
    if fence[0] == "`" and "`" in info:  # ```code``` on one line is inline code
        return None
    return fence


def _closes(line: str, fence: str) -> bool:
    """Whether ``line`` closes a block opened by ``fence`` (same character, as long)."""
    text = line.strip()
    return len(text) >= len(fence) and text == fence[0] * len(text)


def _opens_html(line: str) -> bool:
    """Whether ``line`` opens an HTML comment it does not close (code spans aside)."""
    text = _CODE_SPAN.sub("", line[:MAX_LINE])
    start = text.rfind("<!--")
    return start >= 0 and "-->" not in text[start + 4 :]


def _closes_html(line: str) -> bool:
    """Whether an HTML comment open before ``line`` ends on it (and no other opens)."""
    end = line.find("-->")
    if end < 0:
        return False
    start = line.rfind("<!--")
    return start < end or "-->" in line[start + 4 :]
