"""``mlops monitor``: one pinned model, its reference and its current data, every check.

The seam of monitoring: it reads the environment branch's pins, the definitions at each
pin's source commit (never the environment branch's tree), the version from the store,
and the current data, then hands plain values to the judging modules (:mod:`drift`,
:mod:`quality`, :mod:`judge`). The current data is a batch file or a dataset at a revision
(:mod:`batch`), or prediction logs: read once, line by line, each request handed to every
monitored version's :class:`~engine.monitoring.window.Window`, which keeps only what its
judgements need (:mod:`window`).

Reference, in order of preference: the ``reference.parquet`` sample stored with the
version at training time; else the dataset at the pin's source commit (its DVC pointer
names the exact bytes), sampled the same way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import UserError
from engine.monitoring.batch import dataset_at
from engine.monitoring.outcome import Outcome

if TYPE_CHECKING:
    import pyarrow as pa

    from engine.definitions.formats import Dataset, Model
    from engine.environments.pins import Pin
    from engine.monitoring.labels import LabelFile
    from engine.monitoring.live import Live
    from engine.monitoring.logs import Logs
    from engine.monitoring.window import Window
    from engine.store import StoredVersion

__all__ = ["Current", "NoPredictions", "dataset_at", "labelled_current", "monitor", "now"]


class NoPredictions(UserError):
    """The logs hold no prediction (in the ``since`` window): nothing to judge."""


@dataclass(frozen=True)
class Current:
    """What to monitor: a batch file, prediction-log files and folders, or a dataset at a
    git revision (``dataset=(NAME, REV)``: its bytes by the hash its pointer records there)."""

    batch: Path | None = None
    logs: Sequence[Path] = ()
    labels: Path | None = None
    since: float | None = None
    dataset: tuple[str, str] | None = None

    def describe(self) -> str:
        """For the report's header."""
        if self.dataset is not None:
            return f"dataset {self.dataset[0]} at {self.dataset[1]}"
        if self.batch is not None:
            return f"batch {self.batch.name}"
        return "logs " + ", ".join(p.name or str(p) for p in self.logs)


@dataclass
class _Version:
    """One pinned version, ready to be judged: its definitions, stored files, reference."""

    pin: Pin
    model: Model
    dataset: Dataset
    stored: StoredVersion
    store: Any
    reference: pa.Table
    described: str
    dates: list[str]
    monitored: list[str]
    features: list[str]
    meta: frozenset[str]  # the target and id column: no model input, never monitored


def monitor(
    root: Path, environment: str, current: Current, models: Sequence[str] = ()
) -> list[Outcome]:
    """Monitor the models pinned in ``environment`` (all of them, or ``models``)."""
    from engine.environments.pins import read_pins
    from engine.training.planning import read_definitions

    if sum((current.batch is not None, bool(current.logs), current.dataset is not None)) != 1:
        raise UserError(
            "give one of --current FILE (a batch), --current-dataset NAME@REV (a dataset at "
            "a git revision) or --logs DIR (prediction logs)"
        )
    defs, _ = read_definitions(root)
    envs = defs.settings.environments
    if environment not in envs:
        known = ", ".join(sorted(envs)) or "none; define them in mlops/project.yaml"
        raise UserError(f"unknown environment {environment!r}; the environments are: {known}")
    pins = read_pins(root, envs[environment].branch) or {}
    wanted = list(models) or sorted(pins)
    if not wanted:
        raise UserError(f"nothing is deployed in {environment}: promote a model first")
    for name in wanted:
        if name not in pins:
            deployed = ", ".join(sorted(pins)) or "none"
            raise UserError(f"{name} is not deployed in {environment}; deployed: {deployed}")
    if current.logs:
        return _from_logs(root, [pins[name] for name in wanted], current)
    table = dataset_at(root, current.dataset) if current.dataset is not None else None
    outcomes = []
    for name in wanted:
        with _audited(root, pins[name]) as entry:
            version = _prepare(root, pins[name])
            live = _batch(version, current, table)
            outcome = _judge(version, current, live, None)
            entry.outcome = outcome.status
        outcomes.append(outcome)
    return outcomes


def _from_logs(root: Path, pins: list[Pin], current: Current) -> list[Outcome]:
    """Every version's window from one pass over the logs, then each judged."""
    from engine import audit

    prepared = []
    for pin in pins:
        try:
            prepared.append(_prepare(root, pin))
        except UserError:
            audit.record(root, "monitor", outcome="refused", **_fields(pin))
            raise
    labels = _Labels(current.labels)
    windows = [_window(v.pin, current, v.dataset, v.features, labels) for v in prepared]
    logs = _stream(current, windows)
    outcomes = []
    for version in prepared:
        with _audited(root, version.pin) as entry:
            live = windows.pop(0).finish()  # what the window kept goes once it is judged
            outcome = _judge(version, current, live, logs)
            entry.outcome = outcome.status
        outcomes.append(outcome)
    return outcomes


def _fields(pin: Pin) -> dict[str, Any]:
    return dict(
        model=pin.model,
        version=pin.version,
        environment=pin.environment,
        commit=pin.source_commit,
    )


def _audited(root: Path, pin: Pin) -> Any:
    """The monitor's line in the engine's log (the outcome is the status)."""
    from engine import audit

    return audit.action(root, "monitor", **_fields(pin))


class _Labels:
    """The labels file of one monitor run: read once, its labels made once per target."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.table: pa.Table | None = None
        self.files: dict[str, LabelFile] = {}

    def of(self, dataset: Dataset) -> LabelFile | None:
        from engine.monitoring.labels import label_file, read_label_table

        if self.path is None:
            return None
        if dataset.target not in self.files:
            if self.table is None:
                self.table = read_label_table(self.path)
            self.files[dataset.target] = label_file(self.table, self.path, dataset)
        return self.files[dataset.target]


def _window(
    pin: Pin, current: Current, dataset: Dataset, features: list[str], labels: _Labels
) -> Window:
    from engine.monitoring.window import Judged, Window

    judged = Judged(pin.model, pin.version, pin.fingerprint)
    return Window(judged, features, current.since, labels.of(dataset))


def _stream(current: Current, windows: Sequence[Window]) -> Logs:
    """Read the logs once, handing each request to every window; the lines' problems."""
    from engine.monitoring.logs import Logs, stream_logs
    from engine.monitoring.records import in_window

    # every line is read (labels arrive late, and join requests before the window);
    # drift and health judge the window's requests only
    logs = Logs()
    since = current.since
    read = windowed = 0
    for prediction in stream_logs(current.logs, logs):
        read += 1
        windowed += in_window(prediction.time, since)
        for window in windows:
            window.add(prediction)
    if not windowed:
        where = ", ".join(str(p) for p in current.logs)
        why = (
            f"; {len(logs.problems)} line(s) could not be read, first: {logs.problems[0].render()}"
            if logs.problems
            else ""
        )
        advice = "point --logs at the serving logs"
        if read and since is not None:  # (with no since, every request read is in the window)
            advice = (
                f"{read} request(s) read, all before "
                f"{datetime.fromtimestamp(since, UTC).isoformat()}: widen --since "
                "(or `since:` under `monitoring:` in mlops/project.yaml)"
            )
        raise NoPredictions(f"no predictions in {where}{why}: {advice}")
    return logs


def _prepare(root: Path, pin: Pin) -> _Version:
    """The version's definitions at its source commit, its stored files and reference."""
    from engine.store import Store
    from engine.training.planning import read_definitions

    defs, _ = read_definitions(root, pin.source_commit)
    if pin.model not in defs.models:
        raise UserError(
            f"{pin.model} has no definition at its source commit {pin.source_commit[:12]}"
        )
    model = defs.models[pin.model].spec
    dataset = defs.datasets[model.dataset].spec
    store = Store.of_project(defs.settings.store.url, root)
    stored = store.get(pin.model, pin.fingerprint)
    reference, described = _reference(root, stored, dataset, pin)
    meta = frozenset({dataset.target, *([dataset.id_column] if dataset.id_column else [])})
    dates = [n for n, c in dataset.schema_.columns.items() if c.type == "date"]
    monitored = [c for c in reference.column_names if c not in meta]
    features = [c for c in monitored if c not in dates]  # a date is no model input
    return _Version(
        pin, model, dataset, stored, store, reference, described, dates, monitored, features, meta
    )


def _batch(version: _Version, current: Current, table: pa.Table | None) -> Live:
    from engine.monitoring.batch import from_batch, read_batch

    if table is None:
        assert current.batch is not None
        table = read_batch(current.batch, version.dataset)
    return from_batch(version.store, version.pin, table, version.dataset, version.features)


def _judge(version: _Version, current: Current, live: Live, logs: Logs | None) -> Outcome:
    from engine.monitoring.columns import side_of
    from engine.monitoring.drift import data_drift
    from engine.monitoring.judge import performance, prediction_drift
    from engine.monitoring.quality import check_quality
    from engine.store import PREDICTIONS_FILE

    pin, dataset, dates = version.pin, version.dataset, version.dates
    # a date is monitored when the current data has it: requests to a model need not
    monitored = [
        c for c in version.monitored if c in version.features or c in live.table.column_names
    ]
    ref_side = side_of(version.reference, monitored, dates=dates)
    cur_side = side_of(live.table, dates=dates)
    findings = check_quality(
        ref_side, cur_side, dataset.schema_, ignore=version.meta | {"request_id"}
    )
    broken = {f.column for f in findings if f.severity == "error"}
    data = data_drift(
        ref_side.columns, cur_side.columns, version.model.monitoring, exclude=frozenset(broken)
    )
    stored = version.stored
    test = stored.predictions() if PREDICTIONS_FILE in stored.record.files else None
    return Outcome(
        model=pin.model,
        environment=pin.environment,
        version=pin.version,
        source_commit=pin.source_commit,
        reference=version.described,
        current=current.describe(),
        reference_rows=version.reference.num_rows,
        current_rows=live.table.num_rows,
        data=data,
        predictions=prediction_drift(test, live, version.model),
        quality=tuple(findings),
        health=live.health,
        performance=performance(test, list(stored.record.classes), live, version.model),
        log_problems=tuple(logs.problems) if logs is not None else (),
        log_duplicates=logs.duplicates if logs is not None else 0,
        log_duplicate_lines=tuple(logs.duplicate_lines) if logs is not None else (),
        unknown_labels=live.unknown_labels,
        notes=tuple(live.notes),
    )


def _reference(
    root: Path, stored: StoredVersion, dataset: Dataset, pin: Pin
) -> tuple[pa.Table, str]:
    from engine.monitoring.batch import read_parquet
    from engine.training.train import REFERENCE_FILE, REFERENCE_ROWS

    if REFERENCE_FILE in stored.record.files:
        table = read_parquet(stored.path(REFERENCE_FILE))
        return (
            table,
            f"training sample stored with {pin.model}@{pin.version} ({table.num_rows:,} rows)",
        )
    from engine.data.tables import load_table

    table = load_table(dataset, root, pin.source_commit)
    if table.num_rows > REFERENCE_ROWS:
        import numpy as np

        keep = np.sort(
            np.random.default_rng(0).choice(table.num_rows, REFERENCE_ROWS, replace=False)
        )
        table = table.take(keep)
    return table, (
        f"dataset {dataset.name} at {pin.source_commit[:12]} ({table.num_rows:,} rows; "
        "the version predates stored reference samples)"
    )


def labelled_current(
    root: Path, pin: Pin, current: Current, dataset: Dataset
) -> tuple[pa.Table, list[Any] | None]:
    """The current rows of one pinned model as monitoring reads them, and their labels
    (a batch's target column; for logs, the labels file joined by request id), or None."""
    from engine.monitoring.batch import read_batch

    if current.batch is not None or current.dataset is not None:
        table = (
            dataset_at(root, current.dataset)
            if current.dataset is not None
            else read_batch(current.batch, dataset)  # type: ignore[arg-type]
        )
        if dataset.target not in table.column_names:
            return table, None
        return table, table.column(dataset.target).to_pylist()
    columns = [c for c in dataset.schema_.columns if c != dataset.target]
    window = _window(pin, current, dataset, columns, _Labels(current.labels))
    _stream(current, [window])
    live = window.finish()
    return live.table, live.labels


def now() -> float:
    """The clock, for ``--since`` spans."""
    return time.time()
