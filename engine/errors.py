"""Errors and problems: the two ways the engine says "no".

``UserError`` is the one root for failures the user can fix; the CLI turns it into a
red line and exit 1, never a traceback. A ``Problem`` is a located finding (a
validation error, a data-check failure): problems are *data*, collected and reported
all at once, so one bad file never hides the next.

    UserError
    ├── DefinitionError   a definition file can't be read or is invalid
    ├── GitError          a revision or path can't be read from git
    ├── StoreError        the model store refused a read or a write
    └── DataError         a dataset can't be loaded
        └── PointerError  a DVC pointer is not the plain kind `dvc add` writes
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


class UserError(Exception):
    """A failure the user can fix; its message says what to change."""


def unknown_model(model: str, models: Iterable[str]) -> UserError:
    """The error for a model name the definitions lack: the closest name, and the others."""
    import difflib

    names = sorted(models)
    hint = difflib.get_close_matches(model, names, n=1)
    return UserError(
        f"unknown model {model!r}"
        + (f" (did you mean {hint[0]!r}?)" if hint else "")
        + f"; the models are: {', '.join(names) or 'none'}"
    )


class DefinitionError(UserError):
    """A definition file can't be read or is invalid."""


class GitError(UserError):
    """A revision or a path can't be read from the repository."""


class StoreError(UserError):
    """The model store refused a read or a write."""


class DataError(UserError):
    """A dataset can't be loaded."""


class PointerError(DataError):
    """A DVC pointer is not the plain kind ``dvc add`` writes; ``problem`` locates why."""

    def __init__(self, problem: Problem):
        where = f"{problem.path}:{problem.line}:{problem.col}" if problem.line else problem.path
        super().__init__(f"{where}: {problem.message}")
        self.problem = problem


@dataclass(frozen=True, order=True)
class Problem:
    """One located finding: ``path:line:col: severity: message``.

    Ordered by path, then position, so reports are stable and sorted.
    """

    path: str
    line: int = 0
    col: int = 0
    message: str = ""
    severity: Severity = "error"
    rule: str = ""

    def render(self) -> str:
        """Render as ``path:line:col: error: message`` (compiler style)."""
        where = self.path
        if self.line:
            where += f":{self.line}:{self.col or 1}"
        return f"{where}: {self.severity}: {self.message}"

    def annotation(self) -> str:
        """Render as a GitHub Actions workflow command (``::error file=...::``)."""
        props = [f"file={_escape_property(self.path)}"]
        if self.line:
            props += [f"line={self.line}", f"col={self.col or 1}"]
        return f"::{self.severity} {','.join(props)}::{_escape_data(self.message)}"

    def as_dict(self) -> dict[str, object]:
        """The problem as plain data, for ``--json``."""
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "severity": self.severity,
            "rule": self.rule,
            "message": self.message,
        }


def _escape_data(text: str) -> str:
    # GitHub's workflow-command escaping: a newline would end the command early.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
