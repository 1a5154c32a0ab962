"""Terminal output: plain text when piped (byte for byte), rich tables and progress on a TTY."""

from __future__ import annotations

import contextlib
import io
import re
import sys
from collections.abc import Iterator

import pytest

from engine.render import runs_cells, runs_text
from engine.terminal import fit, interactive, progress, show_table, table_rows

STATUS = """\
| Environment | Model | Version |
| --- | --- | --- |
| `staging` | `cancer-rf` | `b90ec5a03083` |
| `production` | — | nothing deployed |"""


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@contextlib.contextmanager
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[Terminal]:
    """stdout as a terminal, inside the test body (pytest's capture resets it between
    a fixture's setup and the test)."""
    out = Terminal()
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stdout", out)
        yield out


def test_a_markdown_table_is_read_as_cells():
    header, rows = table_rows(STATUS) or ([], [])
    assert header == ["Environment", "Model", "Version"]
    assert rows == [
        ["staging", "cancer-rf", "b90ec5a03083"],
        ["production", "—", "nothing deployed"],
    ]
    assert table_rows("No environments are defined: add them") is None
    assert table_rows("| a | b |\n| not | a rule |") is None


def test_piped_output_is_the_plain_text_byte_for_byte(capsys):
    rows = [{"model": "m", "version": "v1", "f1": 0.5}, {"model": "m", "version": "v2"}]
    columns, cells = runs_cells(rows)
    show_table(runs_text(rows), columns, cells)
    show_table(STATUS)
    assert capsys.readouterr().out == runs_text(rows) + "\n" + STATUS + "\n"
    assert not interactive()


def test_a_terminal_gets_a_drawn_table(monkeypatch):
    monkeypatch.delenv("TERM", raising=False)
    with terminal(monkeypatch) as tty:
        show_table(STATUS)
    drawn = tty.getvalue()
    assert drawn.startswith("┏") and "Environment" in drawn and "│ b90ec5a03083" in drawn
    assert "|" not in drawn and "`" not in drawn


def test_no_color_keeps_the_table_without_escapes(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("TERM", raising=False)
    with terminal(monkeypatch) as tty:
        show_table(STATUS)
    drawn = tty.getvalue()
    assert "Environment" in drawn and not re.search("\x1b\\[[0-9;]*3[0-9]", drawn)


def test_a_dumb_terminal_gets_the_plain_text(monkeypatch):
    monkeypatch.setenv("TERM", "dumb")
    with terminal(monkeypatch) as tty:
        show_table(STATUS)
    assert tty.getvalue() == STATUS + "\n"


def test_progress_prints_nothing_when_piped_and_the_lines_on_a_terminal(monkeypatch, capsys):
    with progress("training") as step:
        step("trained  cancer-rf@b90ec5a03083")
    assert capsys.readouterr().err == ""
    monkeypatch.delenv("TERM", raising=False)
    err, quiet = Terminal(), Terminal()
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stderr", err)
        with progress("training") as step:
            step("trained  cancer-rf@b90ec5a03083")
            step("trained  iris-logreg@0292f81118eb")
        patch.setattr(sys, "stderr", quiet)
        with progress("training", show=False) as step:
            step("trained  cancer-rf@b90ec5a03083")
    assert "cancer-rf@b90ec5a03083" in err.getvalue() and "iris-logreg" in err.getvalue()
    assert quiet.getvalue() == ""


def test_a_narrow_terminal_leaves_out_the_named_columns_first():
    header = ["model", "commit", "author", "f1"]
    rows = [["cancer-rf", "3ff3a374bcfe", "Ada Lovelace <ada@example.com>", "0.9718"]]
    assert fit(header, rows, 200, ["commit", "author"]) == [0, 1, 2, 3]
    assert fit(header, rows, 40, ["commit", "author"]) == [0, 3]
    assert fit(header, rows, 60, ["author", "commit"]) == [0, 1, 3]
