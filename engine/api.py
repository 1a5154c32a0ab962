"""The engine's verbs as Python functions; the CLI and the GitHub workflow call these.

Each function opens what it needs (the repository, the store) and delegates to the
domain modules. Results are typed values; printing is the caller's business.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import Problem, UserError, unknown_model
from engine.gitrepo import find_root
from engine.training.planning import read_definitions, save_cache

if TYPE_CHECKING:
    from engine.definitions.parse_cache import ParseCache
    from engine.review.pipeline import Review
    from engine.training.jobs import Training
    from engine.training.runs import VersionRecord

__all__ = [
    "Training",
    "Validation",
    "default_base",
    "diff",
    "find_root",
    "read_definitions",
    "stored_versions",
    "train",
    "validate",
]


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
        if not self.problems and not any(self.checked.values()):
            from engine.training.jobs import START

            return f"ok, but there is nothing to check: {START}"
        if not self.problems:
            return f"ok: {what} checked, no problems"
        return (
            f"{len(self.errors)} error(s), {len(self.problems) - len(self.errors)} "
            f"warning(s) in {what}"
        )

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
    from engine import audit

    with audit.action(root, "validate", commit=rev) as entry:
        result = _validate(root, rev, data, paths)
        entry.outcome = "failed" if result.errors else "ok"
    return result


def _checked_ahead(
    cache: ParseCache, files: Mapping[str, bytes], ids: Mapping[str, str] | None
) -> None:
    """The checks of :func:`_validate` on ``files``, their clean results remembered in
    ``cache`` (by each process sharing thousands of new files: engine.training.parallel).

    Not the estimators when the project allows classes beyond scikit-learn's: those are
    imported to be checked (and their findings never remembered), so once is enough.
    """
    from engine.definitions.catalog import default_catalog
    from engine.definitions.estimators import check_estimators
    from engine.definitions.loading import load
    from engine.definitions.references import check_references

    defs = load(files, cache, ids)
    check_references(defs)
    if not defs.settings.allow_estimators:
        check_estimators(defs, default_catalog())


def _validate(root: Path, rev: str | None, data: bool, paths: Sequence[Path]) -> Validation:
    from engine.collector import collecting_rarely
    from engine.definitions.catalog import default_catalog
    from engine.definitions.estimators import check_estimators, suggest_import_paths
    from engine.definitions.references import check_references

    started = time.perf_counter()
    with collecting_rarely(factor=10_000):  # a bounded pass over thousands of definitions
        # saved once, below
        defs, _ = read_definitions(root, rev, save=False, follow=_checked_ahead)
        catalog = default_catalog()
        problems = suggest_import_paths(list(defs.problems), catalog) + check_references(defs)
        problems += check_estimators(defs, catalog)
        save_cache(root)  # with the reference checks it remembered
    if data:
        from engine.data.tables import check_dataset

        for entry in defs.datasets.values():
            problems += check_dataset(entry, root, rev)
    # a problem in a CSV file belongs to the definition that reads it, too
    owners = {e.spec.source.path: e.path for e in defs.datasets.values() if e.spec.source.path}
    problems = _within(sorted(set(problems)), root, paths, owners)
    checked = {
        "models": len(defs.models),
        "datasets": len(defs.datasets),
        "feature sets": len(defs.features),
    }
    return Validation(problems, checked, time.perf_counter() - started)


def train(root: Path, models: Sequence[str] | None = None, **options: Any) -> Training:
    """Train and store the selected models (see :func:`engine.training.jobs.train`);
    one log line per model."""
    from engine import audit
    from engine.training.jobs import train as _train

    commit = options.get("rev")
    try:
        result = _train(root, models, **options)
    except BaseException as exc:  # the run failed as a whole: one line says so
        outcome = "refused" if isinstance(exc, UserError) else "error"
        audit.record(root, "train", commit=commit, outcome=outcome)
        raise
    for o in result.outcomes:
        audit.record(
            root,
            "train",
            model=o.model,
            version=o.version,
            commit=commit,
            outcome=o.status,
            duration=o.seconds,
        )
    return result


def _within(
    problems: list[Problem], root: Path, paths: Sequence[Path], owners: dict[str, str]
) -> list[Problem]:
    """The problems in files under ``paths`` (all of them when no path is given).

    ``owners`` maps a data file to its dataset definition: asking for the definition
    shows the problems found in its data.
    """
    if not paths:
        return problems
    prefixes = []
    for p in paths:
        try:
            prefixes.append((Path.cwd() / p).resolve().relative_to(root).as_posix())
        except ValueError:
            raise UserError(
                f"{p} is outside the repository {root}: pass paths inside it, or --repo"
            ) from None
    return [
        pr
        for pr in problems
        if any(_under(pr.path, x) or _under(owners.get(pr.path, pr.path), x) for x in prefixes)
    ]


def _under(path: str, folder: str) -> bool:
    return folder == "." or path == folder or path.startswith(folder.rstrip("/") + "/")


def stored_versions(root: Path, model: str | None = None) -> list[VersionRecord]:
    """Every stored version (of ``model``, or of all models), newest first."""
    from engine.store import Store

    defs, _ = read_definitions(root)
    if model is not None and model not in defs.models:
        raise unknown_model(model, defs.models)
    return Store.of_project(defs.settings.store.url, root).versions(model)


def default_base(root: Path) -> str:
    """The merge base of HEAD with the default branch (origin's copy when there is one)."""
    from engine import gitrepo
    from engine.gitbranches import on_branch

    defs, _ = read_definitions(root)
    branch = defs.settings.default_branch
    base = on_branch(branch, lambda ref: gitrepo.merge_base(root, ref, "HEAD"))
    if base is None:
        raise UserError(f"no default branch {branch!r} to compare with: pass --base REV")
    return base


def diff(
    root: Path,
    *,
    base: str | None = None,
    head: str | None = None,
    vs: Sequence[str] = (),
    models: Sequence[str] = (),
) -> Review:
    """Review the change from ``base`` to ``head``; the report goes to the local outbox."""
    from engine.review.pipeline import review

    # a local report is a file and the terminal: no comment limit, no job summary to cut to
    result = review(
        root, base=base or default_base(root), head=head, vs=vs, models=models, limit=None
    )
    outbox = root / ".mlops" / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    (outbox / "report.md").write_text(result.markdown, encoding="utf-8")
    return result
