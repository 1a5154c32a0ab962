"""Where a row's cell is in a CSV file: its line and column, for ``data/x.csv:118:6`` messages.

Arrow reads a CSV file as rows numbered from 0; an editor wants the line and the column of
a cell. They differ when the file has blank lines (Arrow skips them) or quoted fields that
span lines, so :func:`cell_positions` walks the file's records the way Arrow reads them:
the first record is the header, empty lines are skipped, and a double quote opens a field
that runs to the next unescaped quote (``""`` inside it is a quote). It stops at the last
row asked for, so an error near the top of a large file costs nothing, and it runs only
when a check has failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

Position = tuple[int, int]
"""A cell's line and column, both from 1 (the column counts characters, as editors do)."""


def cell_positions(path: Path, rows: Iterable[int], column: str) -> dict[int, Position]:
    """The positions of ``column``'s cells in ``rows`` (numbered from 0 after the header).

    Rows past the end of the file, or a column the header lacks, are left out.
    """
    wanted = set(rows)
    found: dict[int, Position] = {}
    if not wanted:
        return found
    records = _records(path)
    header = next(records, None)
    if header is None:
        return found
    names = [_unquote(text) for _, text in _fields(header[1].removeprefix("\ufeff"))]
    if column not in names:
        return found
    index = names.index(column)
    last = max(wanted)
    for row, (line, text) in enumerate(records):
        if row > last:
            break
        if row in wanted:
            found[row] = _position(line, text, index)
    return found


def _records(path: Path) -> Iterator[tuple[int, str]]:
    """Each non-empty record with the line it starts on; a quoted newline joins lines."""
    with path.open("rb") as handle:
        start, quotes = 0, 0
        parts: list[str] = []
        for number, raw in enumerate(handle, start=1):
            line = raw.decode("utf-8", errors="replace")
            if not parts:
                if not line.rstrip("\r\n"):
                    continue
                start = number
            parts.append(line)
            quotes += line.count('"')
            if quotes % 2 == 0:
                yield start, "".join(parts).rstrip("\r\n")
                parts, quotes = [], 0
        if parts:
            yield start, "".join(parts).rstrip("\r\n")


def _fields(text: str) -> Iterator[tuple[int, str]]:
    """Each field of a record with its offset in the record, quotes kept."""
    offset, quoted, begin = 0, False, 0
    for offset, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            yield begin, text[begin:offset]
            begin = offset + 1
    yield begin, text[begin:]


def _unquote(field: str) -> str:
    field = field.strip()
    if len(field) >= 2 and field[0] == field[-1] == '"':
        return field[1:-1].replace('""', '"')
    return field


def _position(line: int, text: str, index: int) -> Position:
    """The line and column where field ``index`` of a record starting on ``line`` begins."""
    for number, (offset, _) in enumerate(_fields(text)):
        if number == index:
            before = text[:offset]
            newlines = before.count("\n")
            column = offset - (before.rfind("\n") + 1) if newlines else offset
            return line + newlines, column + 1
    return line, len(text.splitlines()[-1] if text else "") + 1  # a short row: its end


__all__ = ["Position", "cell_positions"]
