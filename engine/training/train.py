"""Fit one model version: data → split → feature pipeline + estimator → metrics → store.

A :class:`TrainJob` carries everything a worker process needs (plain, picklable values),
so independent models train in parallel with ``--jobs``. Failures are data: a dataset
that fails its checks or a fit that raises comes back as a failed :class:`Outcome` with
the reason, and the other models still train. scikit-learn is imported only here.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import os
import platform
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from engine.errors import UserError

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd
    from sklearn.pipeline import Pipeline

    from engine.definitions.formats import Budget, Dataset, FeatureSpec, Model

Status = Literal["trained", "stored", "failed"]


PROFILE_FILE = "profile.json"
"""The data profile (rows, per-column figures) of the version's dataset, for reports."""
REFERENCE_FILE = "reference.parquet"
"""A seeded sample of the training rows (inputs and target), the reference of monitoring."""
REFERENCE_ROWS = 10_000
"""Rows kept in the reference sample: enough for the drift tests' large-sample regime."""


def _default_budget() -> Budget:
    # the formats are imported when a job is made, not by a review that only reads Outcomes
    from engine.definitions.formats import Budget

    return Budget()


@dataclass(frozen=True)
class TrainJob:
    """Everything needed to train one model version, as plain values."""

    root: Path
    rev: str | None
    model: Model
    features: FeatureSpec | None
    dataset: Dataset
    dataset_file: str
    fingerprint: str
    data_hash: str
    store_url: str
    allowed_estimators: tuple[str, ...] = ()
    commit: str | None = None
    author: str | None = None
    replace: bool = False
    """Replace a stored version of this fingerprint (``--force``), only once this one is
    ready: a retraining that fails keeps the version that was there."""
    budget: Budget = field(default_factory=_default_budget)
    """The time and memory this training may take (``engine.training.workers``)."""


@dataclass
class Outcome:
    """What happened to one model: trained, found in the store, or failed (and why)."""

    model: str
    fingerprint: str
    status: Status
    metrics: dict[str, float | None] = field(default_factory=dict)
    reason: str | None = None
    seconds: float = 0.0
    model_sha256: str | None = None
    """sha256 of the ``model.skops`` this run wrote (None unless trained here): a caller
    that retrains a pinned version deploys these bytes, not whatever the store holds."""

    @property
    def version(self) -> str:
        """The short version id users see."""
        return self.fingerprint[:12]

    def as_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "model": self.model,
            "version": self.version,
            "fingerprint": self.fingerprint,
            "status": self.status,
            "reason": self.reason,
            "metrics": self.metrics,
            "seconds": round(self.seconds, 3),
        }


class _Log:
    """The training log stored with the version: timestamped lines."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.buffer = io.StringIO()

    def __call__(self, message: str) -> None:
        self.buffer.write(f"[{time.perf_counter() - self.started:8.3f}s] {message}\n")


def build_pipeline(
    model: Model,
    features: FeatureSpec | None,
    inputs: list[str],
    allowed: tuple[str, ...] = (),
) -> Pipeline:
    """The scikit-learn Pipeline (features, then estimator) that takes raw ``inputs``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    from engine.definitions.catalog import instantiate

    estimator = instantiate(model.estimator.class_, model.estimator.params, allowed)
    chains = _feature_chains(features, inputs)
    if not chains:
        return Pipeline([("estimator", estimator)])
    columns = ColumnTransformer(chains, remainder="drop", verbose_feature_names_out=False)
    return Pipeline([("features", columns), ("estimator", estimator)])


def _feature_chains(
    features: FeatureSpec | None, inputs: list[str]
) -> list[tuple[str, Any, list[str]]]:
    """The ColumnTransformer's (name, transformer, columns); empty when it would pass all."""
    from sklearn.pipeline import Pipeline

    from engine.definitions.catalog import instantiate

    if features is None or not features.transforms:
        selected = list(features.columns) if features and features.columns else inputs
        return [] if selected == inputs else [("passthrough", "passthrough", selected)]
    chains: list[tuple[str, Any, list[str]]] = []
    claimed: set[str] = set()
    for i, transform in enumerate(features.transforms):
        steps = [
            (f"{j}-{step.class_.rsplit('.', 1)[-1]}", instantiate(step.class_, step.params))
            for j, step in enumerate(transform.steps)
        ]
        chains.append((f"group{i}", Pipeline(steps), list(transform.columns)))
        claimed.update(transform.columns)
    rest = [c for c in (features.columns or inputs) if c not in claimed]
    if rest and features.remainder == "passthrough":
        chains.append(("passthrough", "passthrough", rest))
    return chains


def preload_libraries() -> None:
    """Import the libraries every training uses (once in the parent: forked workers share
    them), skops included (:func:`engine.store.skops_import.import_skops`), without scipy's
    import-time docstring rewriting (:mod:`engine.training.scipy_import`)."""
    from engine.training.scipy_import import docs_left_alone

    with docs_left_alone():
        _import_libraries()
    lineage()


def _import_libraries() -> None:
    import contextlib
    import importlib

    for name in ("numpy", "pandas", "pyarrow.parquet", "sklearn.model_selection",
                 "sklearn.pipeline", "sklearn.compose", "sklearn.metrics",
                 "engine.data.tables", "engine.data.checks", "engine.data.dates",
                 "engine.data.profile", "engine.training.split", "engine.training.evaluate",
                 "engine.training.runs", "engine.store", "engine.store.artifacts"):  # fmt: skip
        importlib.import_module(name)
    # what the first conversion, parquet write, feature-name check and scikit-learn's
    # dataset loaders import lazily
    for name in ("pyarrow.pandas_compat", "pandas.core.arrays.arrow.extension_types",
                 "pyarrow.vendored.version", "narwhals._pandas_like.namespace",
                 "narwhals._interchange.dataframe", "narwhals._namespace",
                 "narwhals.stable.v2._namespace", "importlib.readers",
                 "importlib.resources.readers"):  # fmt: skip
        with contextlib.suppress(ImportError):  # private modules: a missing one costs time only
            importlib.import_module(name)
    with contextlib.suppress(Exception):
        # scikit-learn asks narwhals whether its input is a data frame, and narwhals looks
        # for plugins in the entry points of every installed distribution, once per
        # process (cached): 50-100 ms that each worker would spend again
        from narwhals.stable.v2.dependencies import is_into_dataframe

        is_into_dataframe(object())
    from engine.store.skops_import import import_skops

    import_skops()


def preload(job: TrainJob) -> None:
    """Import everything this training will, before its worker caps its memory.

    Loading a shared library maps its segments, and a library first loaded under a small
    address-space cap fails to map ("failed to map segment"): that would read as a broken
    install rather than as the budget it is. In the parent, this is also what every
    forked worker inherits instead of importing it again.
    """
    from engine.training.scipy_import import docs_left_alone

    preload_libraries()
    with docs_left_alone():
        _import_job(job)


def _import_job(job: TrainJob) -> None:
    import contextlib
    import importlib

    from engine.definitions.catalog import resolve

    source = job.dataset.source
    if source.sklearn is not None:
        for name in ("sklearn.datasets", "sklearn.datasets.data", "sklearn.datasets.descr"):
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
    elif (source.path or "").lower().endswith(".parquet"):
        importlib.import_module("pyarrow.parquet")
    else:
        importlib.import_module("pyarrow.csv")
    steps = [s for t in (job.features.transforms if job.features else []) for s in t.steps]
    with contextlib.suppress(Exception):  # a bad class is reported by the training itself
        resolve(job.model.estimator.class_, job.allowed_estimators)
        for step in steps:
            resolve(step.class_)


def run(job: TrainJob, on_fitted: Callable[[], None] | None = None) -> Outcome:
    """Train, evaluate and store one version; never raises for the user's mistakes.

    ``on_fitted`` is called once the model is fitted and evaluated, before it is saved:
    the worker pool then starts the next training while this one saves.
    """
    started = time.perf_counter()
    log = _Log()

    def outcome(status: Status, **details: Any) -> Outcome:
        seconds = time.perf_counter() - started
        return Outcome(job.model.name, job.fingerprint, status, seconds=seconds, **details)

    try:
        metrics, model_sha256 = _train(job, log, on_fitted)
    except UserError as exc:
        return outcome("failed", reason=str(exc))
    except MemoryError:
        return outcome(
            "failed",
            reason=f"training needed more memory than its budget of {job.budget.memory_mb} MB "
            "and was stopped; nothing was stored. Make it smaller, or raise budget: in "
            "mlops/project.yaml (the ceiling) or in the model's file (memory_mb)",
        )
    except Exception as exc:  # a fit that raises is the model's failure, not the run's
        log(traceback.format_exc())
        return outcome("failed", reason=f"training failed: {type(exc).__name__}: {exc}")
    return outcome("trained", metrics=metrics, model_sha256=model_sha256)


@dataclass
class _Fitted:
    """A fitted pipeline and what it did on the held-out rows: everything the store keeps."""

    pipeline: Any
    search: Any
    metrics: dict[str, float | None]
    id_test: Any
    y_test: Any
    y_pred: Any
    proba: Any
    classes: list[Any] | None
    fit_seconds: float
    rows_train: int
    profile: Any
    rows: _Rows
    reference: Any = None


@dataclass(frozen=True)
class _Rows:
    """The split: row positions on each side (in a seeded order) and every row's identity."""

    key: Any
    identity: Any
    train: Any
    test: Any


def _split(frame: pd.DataFrame, dataset: Dataset, *, stratify: bool) -> _Rows:
    """Each row's side from its identity and the seed (:mod:`engine.training.split`).

    Both sides are listed in the order of the rows' salted hashes: a shuffle that does
    not depend on where a row sits in the file, so unshuffled cross-validation folds
    still mix rows from the file's start and end.
    """
    import numpy as np

    from engine.data.identity import identities, row_key
    from engine.training.split import assign, salted

    key = row_key([str(c) for c in frame.columns], dataset.id_column)
    identity = identities(key, {c: frame[c].to_numpy() for c in key.columns}, len(frame))
    labels = frame[dataset.target].to_numpy() if stratify else None
    test = assign(
        identity, seed=dataset.split.seed, test_size=dataset.split.test_size, labels=labels
    )
    order = np.argsort(salted(identity, dataset.split.seed), kind="stable")
    return _Rows(key, identity, order[~test[order]], order[test[order]])


def date_columns(dataset: Dataset) -> list[str]:
    """The columns the dataset declares ``date``."""
    return [name for name, column in dataset.schema_.columns.items() if column.type == "date"]


def model_inputs(dataset: Dataset, columns: list[str]) -> list[str]:
    """The columns a model is fed: all but the target, the id column and dates.

    A date is no model input (no scikit-learn estimator takes one); numbers derived from
    it in the data (a month, a day of the week) are.
    """
    skip = {dataset.target, dataset.id_column, *date_columns(dataset)}
    return [c for c in columns if c not in skip]


def _train(
    job: TrainJob, log: _Log, on_fitted: Callable[[], None] | None = None
) -> tuple[dict[str, float | None], str]:
    import numpy as np

    from engine.data import tables as data
    from engine.data.profile import summarize
    from engine.training import evaluate

    model, dataset = job.model, job.dataset
    log(
        f"model {model.name} version {job.fingerprint[:12]} on dataset {dataset.name} "
        f"(process {os.getpid()})"
    )
    table = _checked_table(job)
    dates = date_columns(dataset)
    profile = summarize(table, skip=[dataset.id_column] if dataset.id_column else [], dates=dates)
    frame = data.to_frame(table)
    ids = frame[dataset.id_column] if dataset.id_column else frame.index.to_series()
    y = frame[dataset.target]
    inputs = model_inputs(dataset, [str(c) for c in frame.columns])
    classify = model.task == "classification"
    rows = _split(frame, dataset, stratify=classify and dataset.split.stratify)
    x_train, y_train = frame[inputs].iloc[rows.train], y.iloc[rows.train]
    x_test, y_test, id_test = frame[inputs].iloc[rows.test], y.iloc[rows.test], ids.iloc[rows.test]
    by = f"id column {dataset.id_column!r}" if dataset.id_column else "row content"
    log(f"split: {len(x_train)} train rows, {len(x_test)} test rows, by {by}")
    pipeline = build_pipeline(model, job.features, inputs, job.allowed_estimators)
    classes = sorted(y.unique().tolist()) if classify else None
    n_classes = len(classes) if classes else None
    pipeline, search, fit_seconds = _fit(model, pipeline, n_classes, x_train, y_train, log)
    y_pred = pipeline.predict(x_test)
    proba = (
        pipeline.predict_proba(x_test) if classify and hasattr(pipeline, "predict_proba") else None
    )
    if classify:
        classes = list(pipeline.classes_)
    metrics = evaluate.compute(
        model.metrics, np.asarray(y_test), np.asarray(y_pred), proba, classes
    )
    cv = _cross_validate(model, pipeline, n_classes, x_train, y_train) if model.cv else {}
    metrics.update(cv)
    log("metrics: " + json.dumps(metrics))
    fitted = _Fitted(
        pipeline=pipeline,
        search=search,
        metrics=metrics,
        id_test=id_test,
        y_test=y_test,
        y_pred=y_pred,
        proba=proba,
        classes=classes,
        fit_seconds=fit_seconds,
        rows_train=len(x_train),
        profile=profile,
        rows=rows,
        reference=_reference_sample(
            x_train, frame[[c for c in dates if c in frame.columns]].iloc[rows.train], y_train
        ),
    )
    if on_fitted is not None:
        on_fitted()
    return metrics, _store(job, fitted, log)


def _reference_sample(
    x_train: pd.DataFrame, dates: pd.DataFrame, y_train: pd.Series
) -> pd.DataFrame:
    """Up to REFERENCE_ROWS training rows, seeded, so monitoring needs no training data:
    the inputs, the date columns (monitored, though no input) and the target."""
    rows = x_train.join(dates).assign(**{str(y_train.name): y_train})
    if len(rows) > REFERENCE_ROWS:
        rows = rows.sample(n=REFERENCE_ROWS, random_state=0)
    return rows.reset_index(drop=True)


def _checked_table(job: TrainJob) -> Any:
    """The dataset's table at the job's revision, once it passes the dataset's checks."""
    from engine.data import tables as data

    return data.checked_table(job.dataset, job.root, job.rev, definition=job.dataset_file)


def _fit(
    model: Model,
    pipeline: Pipeline,
    n_classes: int | None,
    x: pd.DataFrame,
    y: pd.Series,
    log: _Log,
) -> tuple[Any, Any, float]:
    """Fit (through the search, when the model has one); the fitted pipeline, search, seconds."""
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search = _search(model, pipeline, n_classes, x, y, log)
        fitted = search.best_estimator_ if search is not None else pipeline.fit(x, y)
    seconds = time.perf_counter() - started
    for w in caught[:20]:
        log(f"warning: {w.category.__name__}: {w.message}")
    log(f"fit in {seconds:.3f}s")
    return fitted, search, seconds


def _search(
    model: Model,
    pipeline: Pipeline,
    n_classes: int | None,
    x: pd.DataFrame,
    y: pd.Series,
    log: _Log,
) -> Any:
    if model.search is None:
        return None
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

    from engine.training.evaluate import scorer

    spec = model.search
    space = {f"estimator__{k}": v for k, v in spec.space.items()}
    scoring = scorer(model.primary_metric, n_classes)
    if spec.method == "grid":
        search = GridSearchCV(pipeline, space, cv=spec.cv, scoring=scoring, n_jobs=1)
    else:
        search = RandomizedSearchCV(
            pipeline,
            space,
            n_iter=spec.n_iter,
            cv=spec.cv,
            scoring=scoring,
            random_state=spec.seed,
            n_jobs=1,
        )
    search.fit(x, y)
    log(f"search: {len(search.cv_results_['params'])} candidates, best {search.best_params_}")
    return search


def _cross_validate(
    model: Model, pipeline: Pipeline, n_classes: int | None, x: pd.DataFrame, y: pd.Series
) -> dict[str, float | None]:
    from sklearn.base import clone
    from sklearn.model_selection import cross_validate

    from engine.training.evaluate import score_sign, scorer

    scoring = {m: scorer(m, n_classes) for m in model.metrics}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = cross_validate(
            clone(pipeline), x, y, cv=model.cv, scoring=scoring, error_score="raise"
        )
    out: dict[str, float | None] = {}
    for m in model.metrics:
        scores = result[f"test_{m}"] * score_sign(m)
        out[f"cv_{m}"] = float(scores.mean())
        out[f"cv_{m}_std"] = float(scores.std())
    return out


def search_candidates(search: Any) -> list[dict[str, Any]]:
    """Every candidate of a search: its params, mean and std score, rank."""
    if search is None:
        return []
    res = search.cv_results_
    return [
        {
            "params": {k.removeprefix("estimator__"): v for k, v in params.items()},
            "mean_score": float(res["mean_test_score"][i]),
            "std_score": float(res["std_test_score"][i]),
            "rank": int(res["rank_test_score"][i]),
        }
        for i, params in enumerate(res["params"])
    ]


def lineage() -> dict[str, str]:
    """Versions of the engine and the libraries that shape a trained model.

    Read once per process (each lookup scans the installed distributions' metadata): the
    parent reads them before the workers fork (:func:`preload_libraries`), so every worker
    inherits the answer. Callers get a copy.
    """
    return dict(_lineage())


@functools.cache
def _lineage() -> dict[str, str]:
    from engine.definitions.installed import metadata_version as version

    return {
        "engine": version("mlops-engine"),
        "scikit-learn": version("scikit-learn"),
        "numpy": version("numpy"),
        "pandas": version("pandas"),
        "python": platform.python_version(),
    }


def _store(job: TrainJob, fitted: _Fitted, log: _Log) -> str:
    """Publish the version; the sha256 of the model file written (before anyone else can)."""
    from engine.store import (
        CARD_FILE,
        LOG_FILE,
        MODEL_FILE,
        PREDICTIONS_FILE,
        ROWS_FILE,
        Store,
        save_model,
        save_predictions,
        save_rows,
    )
    from engine.training.runs import (
        Candidate,
        RowsRecord,
        SearchRecord,
        VersionRecord,
        model_card,
        utc_now,
    )

    versions = lineage()
    search, classes = fitted.search, fitted.classes
    search_record = None
    if search is not None:
        candidates = [
            Candidate(params=c["params"], mean_score=c["mean_score"], std_score=c["std_score"])
            for c in search_candidates(search)
        ]
        best = {k.removeprefix("estimator__"): v for k, v in search.best_params_.items()}
        search_record = SearchRecord(
            scoring=str(search.scoring),
            candidates=candidates,
            best=Candidate(
                params=best,
                mean_score=float(search.best_score_),
                std_score=candidates[search.best_index_].std_score,
            ),
        )
    params = dict(job.model.estimator.params)
    if search_record is not None:
        params.update(search_record.best.params)
    record = VersionRecord(
        model=job.model.name,
        fingerprint=job.fingerprint,
        created=utc_now(),
        commit=job.commit or "",
        author=job.author or "",
        task=job.model.task,
        dataset=job.dataset.name,
        data_hash=job.data_hash,
        params=params,
        features=job.features.model_dump(mode="json", by_alias=True) if job.features else {},
        metrics=fitted.metrics,
        classes=[_native(c) for c in classes or []],
        search=search_record,
        engine_version=versions["engine"],
        sklearn_version=versions["scikit-learn"],
        python_version=versions["python"],
        training_seconds=round(fitted.fit_seconds, 3),
        rows_train=fitted.rows_train,
        rows_test=len(fitted.y_test),
        rows=RowsRecord(
            key=fitted.rows.key.kind,
            columns=list(fitted.rows.key.columns),
            train=len(fitted.rows.train),
            test=len(fitted.rows.test),
        ),
    )
    store = Store.open(job.store_url, job.root)
    with store.writer(job.model.name, job.fingerprint) as writer:
        save_model(fitted.pipeline, writer.path / MODEL_FILE)
        save_predictions(
            writer.path / PREDICTIONS_FILE,
            list(fitted.id_test),
            list(fitted.y_test),
            list(fitted.y_pred),
            fitted.proba,
            classes or (),
        )
        save_rows(writer.path / ROWS_FILE, fitted.rows.identity, fitted.rows.test)
        (writer.path / CARD_FILE).write_text(model_card(record), encoding="utf-8")
        (writer.path / PROFILE_FILE).write_text(
            json.dumps(dataclasses.asdict(fitted.profile), default=str), encoding="utf-8"
        )
        if fitted.reference is not None:
            fitted.reference.to_parquet(writer.path / REFERENCE_FILE, index=False)
        log(f"stored as {job.model.name}@{job.fingerprint[:12]} in {job.store_url}")
        (writer.path / LOG_FILE).write_text(log.buffer.getvalue(), encoding="utf-8")
        if job.replace:
            store.delete(job.model.name, job.fingerprint)  # publish never overwrites
        writer.publish(record)
    return writer.sums[MODEL_FILE]  # hashed as staged, before anyone else could write it


def _native(value: Any) -> Any:
    # numpy scalars (a classifier's classes_) as plain Python values for JSON
    return value.item() if hasattr(value, "item") else value
