"""Terminal output: rich tables and progress on a terminal, the plain text everywhere else.

The CLI's text (``engine.render``, the markdown tables of ``engine.environments``) is the
contract that tests, CI logs and pipes read, byte for byte. On an interactive terminal
the same content is shown with rich: tables with borders and colour, progress for long
work. Rich is imported only here, inside the functions that draw, so ``mlops --help``
and every piped command start without it. ``NO_COLOR`` (https://no-color.org) keeps the
tables but drops the colour; ``TERM=dumb`` or a pipe gives the plain text.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any


def interactive(stream: IO[str] | None = None) -> bool:
    """Whether ``stream`` (stdout by default) is a terminal that can draw rich output."""
    stream = stream if stream is not None else sys.stdout
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


def _console(stream: IO[str] | None = None) -> Any:
    from rich.console import Console

    return Console(file=stream, no_color="NO_COLOR" in os.environ, highlight=False)


def table_rows(text: str) -> tuple[list[str], list[list[str]]] | None:
    """A markdown pipe table (header, separator, rows) as header and cells; None if not one.

    Inline code marks are dropped: on a terminal the table's borders set the cells apart.
    """
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) < 2 or not all(line.startswith("|") and line.endswith("|") for line in lines):
        return None

    def cells(line: str) -> list[str]:
        return [c.strip().replace("`", "") for c in line[1:-1].split("|")]

    header, rule = cells(lines[0]), cells(lines[1])
    if not all(set(c) <= set("-: ") and c for c in rule) or len(rule) != len(header):
        return None
    return header, [cells(line) for line in lines[2:]]


def fit(
    header: Sequence[str], rows: Sequence[Sequence[str]], width: int, drop_first: Sequence[str]
) -> list[int]:
    """The indexes of the columns to draw in ``width`` characters: all of them, or without
    those of ``drop_first`` (in that order) until the rest fits."""
    natural = [
        max([len(name), *(len(row[i]) for row in rows if i < len(row))]) + 3
        for i, name in enumerate(header)
    ]
    keep = list(range(len(header)))
    for name in drop_first:
        if sum(natural[i] for i in keep) + 1 <= width:
            break
        keep = [i for i in keep if header[i] != name]
    return keep


def show_table(
    plain: str,
    header: Sequence[str] | None = None,
    rows: Sequence[Sequence[str]] | None = None,
    *,
    title: str | None = None,
    drop_first: Sequence[str] = (),
) -> None:
    """Print ``plain`` as it is, or, on a terminal, the same table drawn by rich.

    Without ``header``/``rows``, ``plain`` is read as a markdown table; text that is not
    one is printed as it is on a terminal too. On a narrow terminal the columns named in
    ``drop_first`` are left out, in that order, until the table fits; a caption says so.
    """
    if not interactive():
        print(plain)
        return
    if header is None or rows is None:
        parsed = table_rows(plain)
        if parsed is None:
            print(plain)
            return
        header, rows = parsed
    from rich.table import Table

    console = _console()
    keep = fit(header, rows, console.width, drop_first)
    left_out = [header[i] for i in range(len(header)) if i not in keep]
    caption = f"not shown (too narrow): {', '.join(left_out)}" if left_out else None
    table = Table(title=title, caption=caption, header_style="bold cyan")
    for i in keep:
        table.add_column(header[i], overflow="fold")
    for row in rows:
        table.add_row(*(row[i] if i < len(row) else "" for i in keep))
    console.print(table)


@contextlib.contextmanager
def progress(description: str, *, show: bool = True) -> Iterator[Callable[[str], None]]:
    """A ``step(line)`` callable for long work, one call per finished item.

    On a terminal (stderr) a rich spinner with the elapsed time stays at the bottom and
    each ``line`` is printed above it; on a dumb terminal the lines are printed as they
    are; when stderr is not a terminal, or ``show`` is False, nothing is printed (the
    command's own output says what happened, byte-stable for logs and pipes).
    """
    if not show or not getattr(sys.stderr, "isatty", lambda: False)():
        yield lambda line: None
        return
    if not interactive(sys.stderr):
        yield lambda line: print(line, file=sys.stderr, flush=True)
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = [SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()]
    with Progress(*columns, console=_console(sys.stderr), transient=True) as bar:
        task = bar.add_task(description, total=None)
        done = 0

        def step(line: str) -> None:
            nonlocal done
            done += 1
            bar.console.print(line, markup=False, highlight=False, soft_wrap=True)
            bar.update(task, description=f"{description}: {done} done")

        yield step


__all__ = ["fit", "interactive", "progress", "show_table", "table_rows"]
