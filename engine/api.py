"""The engine's verbs as Python functions; the CLI and the GitHub workflow call these.

Each function opens what it needs (the repository, the store) and delegates to the
domain modules. Results are typed values; printing is the caller's business.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from engine.errors import Problem, UserError
from engine.loading import Definitions, load
from engine.train import Outcome, TrainJob

if TYPE_CHECKING:
    from engine.definitions import FeatureSpec, Project
    from engine.plan import Snapshot
    from engine.review import Review
    from engine.runs import VersionRecord

T = TypeVar("T")


START = "Write definitions under mlops/, or run `mlops init` for a first dataset and model."


def find_root(start: Path) -> Path:
    """The repository root: the nearest folder at or above ``start`` with ``.git`` or ``mlops/``."""
    start = start.resolve()
    if not start.is_dir():
        raise UserError(f"{start} is not a folder: pass --repo with the repository's root")
    for folder in (start, *start.parents):
        if (folder / ".git").exists() or (folder / "mlops").is_dir():
            return folder
    raise UserError(
        f"{start} is not inside a git repository: run mlops from your repository or pass --repo"
    )


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
        if not self.problems and not any(self.checked.values()):
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
    checked = {
        "models": len(defs.models),
        "datasets": len(defs.datasets),
        "feature sets": len(defs.features),
    }
    return Validation(problems, checked, time.perf_counter() - started)


def _within(problems: list[Problem], root: Path, paths: Sequence[Path]) -> list[Problem]:
    """The problems in files under ``paths`` (all of them when no path is given)."""
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
    return [pr for pr in problems if any(_under(pr.path, x) for x in prefixes)]


def _under(path: str, folder: str) -> bool:
    return folder == "." or path == folder or path.startswith(folder.rstrip("/") + "/")


@dataclass
class Training:
    """The outcome of ``mlops train``: one :class:`~engine.train.Outcome` per model."""

    outcomes: list[Outcome]
    seconds: float = 0.0

    @property
    def failed(self) -> list[Outcome]:
        """The models that could not be trained."""
        return [o for o in self.outcomes if o.status == "failed"]

    def summary(self) -> str:
        """One line: how many were trained, found in the store, failed."""
        counts = {
            s: sum(o.status == s for o in self.outcomes) for s in ("trained", "stored", "failed")
        }
        if not self.outcomes:
            return f"nothing to train: no models are defined. {START}"
        if not counts["trained"] and not counts["failed"]:
            return f"nothing to train: all {counts['stored']} model(s) already stored"
        return (
            f"{counts['trained']} trained, {counts['stored']} already stored, "
            f"{counts['failed']} failed in {self.seconds:.1f}s"
        )

    def as_dict(self) -> dict[str, object]:
        """Plain data for ``--json``."""
        return {"ok": not self.failed, "models": [o.as_dict() for o in self.outcomes]}


def train(
    root: Path,
    models: Sequence[str] = (),
    *,
    rev: str | None = None,
    force: bool = False,
    jobs: int = 1,
    progress: Callable[[Outcome], None] | None = None,
    settings: Project | None = None,
) -> Training:
    """Train and store every selected model whose version is not in the store yet.

    ``settings`` overrides the project file at ``rev`` for the store and the estimator
    allow-list: a privileged job passes the default branch's, so that a pull request
    cannot widen what gets imported or where artifacts are written.
    """
    from engine import gitrepo
    from engine.plan import plan
    from engine.planning import snapshot
    from engine.store import Store

    started = time.perf_counter()
    snap = snapshot(root, gitrepo.resolve(root, rev) if rev else None)
    defs = snap.definitions
    unknown = [m for m in models if m not in defs.models and m not in defs.invalid]
    if unknown:
        raise UserError(
            f"unknown model(s): {', '.join(unknown)}; the models are: "
            f"{', '.join(sorted(defs.models)) or 'none'}"
        )
    settings = settings or defs.settings
    store = Store.open(settings.store.url, root)
    outcomes: list[Outcome] = []
    jobs_to_run: list[TrainJob] = []
    commit: tuple[str, str] | None = None
    for planned in plan(None, snap).models:
        if models and planned.name not in models:
            continue
        fp = planned.head_fingerprint or ""
        if planned.problems or not fp:
            reason = "; ".join(p.render() for p in planned.problems) or "invalid definition"
            outcomes.append(Outcome(planned.name, fp, "failed", reason=reason))
            continue
        if not force and store.has(planned.name, fp):
            record = store.get_record(planned.name, fp)
            outcomes.append(Outcome(planned.name, fp, "stored", metrics=dict(record.metrics)))
            continue
        commit = commit or _commit_of(root, rev)  # only looked up when something trains
        job = _job(root, rev, snap, planned.name, fp, commit, settings)
        # A forced retrain replaces the stored version only once the new one is ready.
        jobs_to_run.append(dataclasses.replace(job, replace=force))
    outcomes += _run_jobs(jobs_to_run, jobs, progress)
    outcomes.sort(key=lambda o: o.model)
    return Training(outcomes, time.perf_counter() - started)


def _job(
    root: Path,
    rev: str | None,
    snap: Snapshot,
    name: str,
    fp: str,
    commit: tuple[str, str],
    settings: Project,
) -> TrainJob:
    from engine.fingerprint import data_hash

    defs = snap.definitions
    entry = defs.models[name]
    model = entry.spec
    dataset = defs.datasets[model.dataset]
    features: FeatureSpec | None = (
        defs.features[model.features].spec if isinstance(model.features, str) else model.features
    )
    return TrainJob(
        root=root,
        rev=rev,
        model=model,
        features=features,
        dataset=dataset.spec,
        dataset_file=dataset.path,
        fingerprint=fp,
        data_hash=data_hash(dataset.spec, snap.files, snap.sklearn_version),
        store_url=settings.store.url,
        allowed_estimators=tuple(settings.allow_estimators),
        commit=commit[0],
        author=commit[1],
    )


def _commit_of(root: Path, rev: str | None) -> tuple[str, str]:
    from engine import gitrepo

    if not gitrepo.is_repo(root):
        return "", ""
    try:
        sha = gitrepo.resolve(root, rev or "HEAD")
    except UserError:
        return "", ""  # a repository without commits yet
    return sha, str(gitrepo.author_of(root, sha))


def _run_jobs(
    jobs: list[TrainJob], workers: int, progress: Callable[[Outcome], None] | None
) -> list[Outcome]:
    from engine.train import run

    done: list[Outcome] = []
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            done.append(run(job))
            if progress:
                progress(done[-1])
        return done
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
        futures = [pool.submit(run, job) for job in jobs]
        for future in as_completed(futures):
            done.append(future.result())
            if progress:
                progress(done[-1])
    return done


def stored_versions(root: Path, model: str | None = None) -> list[VersionRecord]:
    """Every stored version (of ``model``, or of all models), newest first."""
    from engine.store import Store

    defs, _ = read_definitions(root)
    if model is not None and model not in defs.models:
        raise UserError(
            f"unknown model {model!r}; the models are: {', '.join(sorted(defs.models)) or 'none'}"
        )
    return Store.open(defs.settings.store.url, root).versions(model)


def on_branch(branch: str, use: Callable[[str], T]) -> T | None:
    """``use(ref)`` on origin's copy of ``branch``, else on the local one; None if neither works.

    A clone's local branch may be stale or absent (Actions checks out one commit), so
    origin's copy comes first. ``use`` signals a missing ref with a UserError.
    """
    for ref in (f"origin/{branch}", branch):
        try:
            return use(ref)
        except UserError:
            continue
    return None


def default_base(root: Path) -> str:
    """The merge base of HEAD with the default branch (origin's copy when there is one)."""
    from engine import gitrepo

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
    from engine.review import review

    result = review(root, base=base or default_base(root), head=head, vs=vs, models=models)
    outbox = root / ".mlops" / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    (outbox / "report.md").write_text(result.markdown, encoding="utf-8")
    return result
