"""The engine's verbs as Python functions; the CLI and the GitHub workflow call these.

Each function opens what it needs (the repository, the store) and delegates to the
domain modules. Results are typed values; printing is the caller's business.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import Problem, UserError
from engine.loading import Definitions, load


def find_root(start: Path) -> Path:
    """The repository root: the nearest folder at or above ``start`` with ``.git`` or ``mlops/``."""
    start = start.resolve()
    if not start.is_dir():
        raise UserError(f"{start} is not a folder: pass --repo with the repository's root")
    for folder in (start, *start.parents):
        if (folder / ".git").exists() or (folder / "mlops").is_dir():
            return folder
    raise UserError(f"{start} is not inside a git repository: run mlops from your repository "
                    "or pass --repo")


def read_definitions(root: Path, rev: str | None = None) -> tuple[Definitions, dict[str, bytes]]:
    """Load the definitions at ``rev`` (git objects) or in the working tree (``None``)."""
    from engine.gitrepo import read_tree

    files = read_tree(root, rev)
    return load(files), files


@dataclass
class Validation:
    """The outcome of ``mlops validate``: every problem, sorted, and what was checked."""

    problems: list[Problem]
    checked: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def errors(self) -> list[Problem]:
        """The problems that fail validation (warnings don't)."""
        return [p for p in self.problems if p.severity == "error"]

    def summary(self) -> str:
        """One line: what was checked and how many problems were found."""
        what = ", ".join(f"{n} {k}" for k, n in self.checked.items())
        if not self.problems:
            return f"ok: {what} checked, no problems"
        return f"{len(self.errors)} error(s), {len(self.problems) - len(self.errors)} " \
               f"warning(s) in {what}"

    def as_dict(self) -> dict[str, object]:
        """The result as plain data for ``--json``."""
        return {
            "ok": not self.errors,
            "checked": self.checked,
            "problems": [p.as_dict() for p in self.problems],
        }


def validate(
    root: Path, *, rev: str | None = None, data: bool = True, paths: Sequence[Path] = ()
) -> Validation:
    """Check definitions, cross-references, estimators and (unless ``data=False``) data."""
    from engine.catalog import Catalog
    from engine.estimators import check_estimators
    from engine.references import check_references

    started = time.perf_counter()
    defs, _ = read_definitions(root, rev)
    problems = list(defs.problems) + check_references(defs)
    problems += check_estimators(defs, Catalog.load())
    if data:
        from engine.data import check_dataset

        for entry in defs.datasets.values():
            problems += check_dataset(entry, root, rev)
    problems = _within(sorted(set(problems)), root, paths)
    checked = {"models": len(defs.models), "datasets": len(defs.datasets),
               "feature sets": len(defs.features)}
    return Validation(problems, checked, time.perf_counter() - started)


def _within(problems: list[Problem], root: Path, paths: Sequence[Path]) -> list[Problem]:
    if not paths:
        return problems
    prefixes = []
    for p in paths:
        absolute = (Path.cwd() / p).resolve()
        try:
            prefixes.append(absolute.relative_to(root).as_posix())
        except ValueError:
            raise UserError(f"{p} is outside the repository {root}") from None
    return [pr for pr in problems
            if any(pr.path == x or pr.path.startswith(x.rstrip("/") + "/") or x == "."
                   for x in prefixes)]
