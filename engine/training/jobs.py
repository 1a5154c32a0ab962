"""Training as a whole: from the definitions at a revision to stored versions.

``train`` plans every selected model against the store (a version already stored costs
nothing), builds one :class:`~engine.training.train.TrainJob` per version to train, and
runs them, each in a worker process under its time and memory budget
(``engine.training.workers``), one at a time per CPU this process may use unless told
otherwise. The CLI (``mlops train``),
the review and the comment commands all train through here.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import UserError
from engine.training.train import Outcome, TrainJob

if TYPE_CHECKING:
    from engine.definitions.formats import FeatureSpec, Project
    from engine.errors import Problem
    from engine.training.plan import Snapshot

START = "Write definitions under mlops/, or run `mlops init` for a first dataset and model."


@dataclass
class Training:
    """The outcome of ``mlops train``: one :class:`~engine.training.train.Outcome` per model."""

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
    models: Sequence[str] | None = None,
    *,
    rev: str | None = None,
    force: bool = False,
    jobs: int | None = None,
    progress: Callable[[Outcome], None] | None = None,
    settings: Project | None = None,
) -> Training:
    """Train and store every selected model whose version is not in the store yet.

    ``models=None`` selects every model; a sequence selects exactly those, so an empty
    one trains nothing (a review of a change that touches no model must cost nothing).
    ``settings`` overrides the project file at ``rev`` for the store and the estimator
    allow-list: a privileged job passes the default branch's, so that a pull request
    cannot widen what gets imported or where artifacts are written. ``jobs`` caps the
    trainings that run at once (``None``: one per CPU this process may use).
    """
    from engine.collector import collecting_rarely

    started = time.perf_counter()
    if models is not None and not models:
        return Training([], time.perf_counter() - started)
    # Planning, then importing the training libraries, allocate about a million objects
    # that all live on: the collector would examine them several times, to free nothing.
    with collecting_rarely(factor=10_000):
        outcomes = _train(root, models, rev, force, jobs, progress, settings)
    return Training(outcomes, time.perf_counter() - started)


def _train(
    root: Path,
    models: Sequence[str] | None,
    rev: str | None,
    force: bool,
    jobs: int | None,
    progress: Callable[[Outcome], None] | None,
    settings: Project | None,
) -> list[Outcome]:
    from engine import gitrepo
    from engine.store import Store
    from engine.store.location import seed_url
    from engine.training.plan import plan
    from engine.training.planning import snapshot

    snap = snapshot(root, gitrepo.resolve(root, rev) if rev else None)
    defs = snap.definitions
    unknown = [m for m in models or () if m not in defs.models and m not in defs.invalid]
    if unknown:
        raise UserError(
            f"unknown model(s): {', '.join(unknown)}; the models are: "
            f"{', '.join(sorted(defs.models)) or 'none'}"
        )
    # the store's address as plain data: a run that finds every version stored builds no
    # settings (the project file's spec) and imports no format class
    url = settings.store.url if settings else defs.settings_dump["store"]["url"]
    store = Store.of_project(url, root)
    found_in = seed_url()
    seed = Store.open(found_in, root) if found_in else None
    outcomes: list[Outcome] = []
    jobs_to_run: list[TrainJob] = []
    commit: tuple[str, str] | None = None
    checked: dict[str, list[Problem]] | None = None
    for planned in plan(None, snap).models:
        if models is not None and planned.name not in models:
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
        if not force and seed is not None and seed.has(planned.name, fp):
            # trained by an earlier job of the same workflow (MLOPS_STORE_FROM): copy it
            record = store.copy_from(seed, planned.name, fp).record
            reason = f"copied from {seed.url}"
            outcomes.append(Outcome(planned.name, fp, "stored", dict(record.metrics), reason))
            continue
        if checked is None:  # the catalog's checks, once something is to be trained
            settings = settings or defs.settings
            checked = _estimator_problems(snap, settings)
        found = checked.get(planned.name)
        if found:
            reason = "; ".join(p.render() for p in found)
            outcomes.append(Outcome(planned.name, fp, "failed", reason=reason))
            continue
        commit = commit or _commit_of(root, rev)  # only looked up when something trains
        assert settings is not None  # built with ``checked``
        job = _job(root, rev, snap, planned.name, fp, commit, settings)
        # A forced retrain replaces the stored version only once the new one is ready.
        jobs_to_run.append(dataclasses.replace(job, replace=force))
    outcomes += _run_jobs(jobs_to_run, jobs, progress)
    outcomes.sort(key=lambda o: o.model)
    return outcomes


def _estimator_problems(snap: Snapshot, settings: Project) -> dict[str, list[Problem]]:
    """What ``mlops validate`` says about each model's estimator, search space and feature
    steps, located in their files: a misspelled parameter fails here, at its line, rather
    than as scikit-learn's error after the data is loaded."""
    from engine.definitions.catalog import default_catalog
    from engine.definitions.estimators import check_estimators

    defs = snap.definitions
    problems = check_estimators(defs, default_catalog(), settings.allow_estimators)
    by_file: dict[str, list[Problem]] = {}
    for problem in problems:
        if problem.severity == "error":
            by_file.setdefault(problem.path, []).append(problem)
    found = {}
    for name, entry in defs.models.items():
        files = [entry.path]
        if isinstance(entry.spec.features, str) and entry.spec.features in defs.features:
            files.append(defs.features[entry.spec.features].path)
        found[name] = sorted(p for path in files for p in by_file.get(path, []))
    return found


def _job(
    root: Path,
    rev: str | None,
    snap: Snapshot,
    name: str,
    fp: str,
    commit: tuple[str, str],
    settings: Project,
) -> TrainJob:
    from engine.store.location import store_url
    from engine.training.fingerprint import data_hash

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
        store_url=store_url(settings.store.url),
        allowed_estimators=tuple(settings.allow_estimators),
        # The project file's budget (the trusted one in privileged jobs) is the ceiling.
        budget=(model.budget or settings.budget).within(settings.budget),
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
    jobs: list[TrainJob], workers: int | None, progress: Callable[[Outcome], None] | None
) -> list[Outcome]:
    """Each training in its own worker process, on its budget (``engine.training.workers``)."""
    if not jobs:
        return []  # all stored: no worker machinery (multiprocessing) to import
    from engine.training.workers import run_all, usable_cpus

    return run_all(jobs, workers or usable_cpus(), progress)
