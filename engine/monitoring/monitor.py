"""``mlops monitor``: one pinned model, its reference and its current data, every check.

The seam of monitoring: it reads the environment branch's pins, the definitions at each
pin's source commit (never the environment branch's tree), the version from the store,
and the current data (a batch file or prediction logs), then hands plain arrays to the
pure modules (:mod:`drift`, :mod:`quality`, :mod:`health`, :mod:`performance`).

Reference, in order of preference: the ``reference.parquet`` sample stored with the
version at training time; else the dataset at the pin's source commit (its DVC pointer
names the exact bytes), sampled the same way.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import UserError
from engine.monitoring.drift import DataDrift, data_drift
from engine.monitoring.outcome import Outcome

if TYPE_CHECKING:
    import pyarrow as pa

    from engine.definitions.formats import Dataset, Model
    from engine.environments.pins import Pin
    from engine.monitoring.logs import Logs, Prediction
    from engine.store import StoredVersion


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
class _Live:
    """The current inputs, predictions and labels of one model, as read."""

    table: pa.Table
    predictions: list[Any] = field(default_factory=list)
    confidence: list[float] = field(default_factory=list)
    labels: list[Any] | None = None
    times: list[float | None] = field(default_factory=list)
    logs: Logs | None = None
    unknown_labels: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    scored: tuple[list[Any], list[Any], list[float | None]] | None = None
    """(labels, predictions, times) that judge live performance, when they are not the
    rows above: labels arrive late, so logged requests before the window count too."""


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
    logs = _read_logs(current) if current.logs else None
    table = dataset_at(root, current.dataset) if current.dataset is not None else None
    return [_logged(root, pins[name], current, logs, table) for name in wanted]


def dataset_at(root: Path, spec: tuple[str, str]) -> pa.Table:
    """Dataset ``NAME`` as it is at git revision ``REV``: its definition there, and the bytes
    its DVC pointer there names, fetched by hash and verified (never the working file)."""
    from engine.data.tables import load_table
    from engine.errors import DataError, GitError
    from engine.training.planning import read_definitions

    name, rev = spec
    try:
        defs, _ = read_definitions(root, rev)
    except GitError as exc:
        raise UserError(f"--current-dataset {name}@{rev}: {exc}") from None
    if name not in defs.datasets:
        known = ", ".join(sorted(defs.datasets)) or "none"
        raise UserError(
            f"--current-dataset {name}@{rev}: no dataset {name!r} at {rev}; there: {known}"
        )
    try:
        return load_table(defs.datasets[name].spec, root, rev)
    except DataError as exc:
        raise UserError(f"--current-dataset {name}@{rev}: {exc}") from None


def _logged(
    root: Path, pin: Pin, current: Current, logs: Logs | None, table: pa.Table | None
) -> Outcome:
    """:func:`_one`, with its line in the engine's log (the outcome is the status)."""
    from engine import audit

    fields = dict(model=pin.model, version=pin.version, environment=pin.environment)
    with audit.action(root, "monitor", commit=pin.source_commit, **fields) as entry:
        outcome = _one(root, pin, current, logs, table)
        entry.outcome = outcome.status
    return outcome


def _read_logs(current: Current) -> Logs:
    from engine.monitoring.logs import read_logs

    # every line is read (labels arrive late, and join requests before the window);
    # drift and health judge the window's requests only (_in_window)
    logs = read_logs(current.logs)
    if not any(_in_window(p, current) for p in logs.predictions):
        where = ", ".join(str(p) for p in current.logs)
        if logs.predictions and current.since is not None:
            where += f" since {datetime.fromtimestamp(current.since, UTC).isoformat()}"
        why = (
            f"; {len(logs.problems)} line(s) could not be read, first: {logs.problems[0].render()}"
            if logs.problems
            else ""
        )
        raise NoPredictions(f"no predictions in {where}{why}: point --logs at the serving logs")
    return logs


def _one(
    root: Path, pin: Pin, current: Current, logs: Logs | None, table: pa.Table | None
) -> Outcome:
    from engine.monitoring.columns import side_of
    from engine.monitoring.health import health
    from engine.monitoring.quality import check_quality
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
    meta = {dataset.target, *([dataset.id_column] if dataset.id_column else [])}
    dates = [n for n, c in dataset.schema_.columns.items() if c.type == "date"]
    monitored = [c for c in reference.column_names if c not in meta]
    features = [c for c in monitored if c not in dates]  # a date is no model input
    live = (
        _from_batch(store, pin, current, dataset, features, table)
        if logs is None
        else _from_logs(logs, pin, current, dataset, features)
    )
    # a date is monitored when the current data has it: requests to a model need not
    monitored = [c for c in monitored if c in features or c in live.table.column_names]
    ref_side = side_of(reference, monitored, dates=dates)
    cur_side = side_of(live.table, dates=dates)
    findings = check_quality(
        ref_side, cur_side, dataset.schema_, ignore=frozenset({*meta, "request_id"})
    )
    broken = {f.column for f in findings if f.severity == "error"}
    data = data_drift(
        ref_side.columns, cur_side.columns, model.monitoring, exclude=frozenset(broken)
    )
    served = (
        [p for p in logs.predictions if _mine(p, pin) and _in_window(p, current)]
        if logs is not None
        else []
    )
    return Outcome(
        model=pin.model,
        environment=pin.environment,
        version=pin.version,
        source_commit=pin.source_commit,
        reference=described,
        current=current.describe(),
        reference_rows=reference.num_rows,
        current_rows=live.table.num_rows,
        data=data,
        predictions=_prediction_drift(stored, live, model),
        quality=tuple(findings),
        health=health(served) if logs is not None else None,
        performance=_performance(stored, live, model),
        log_problems=tuple(logs.problems) if logs is not None else (),
        log_duplicates=logs.duplicates if logs is not None else 0,
        log_duplicate_lines=tuple(logs.duplicate_lines) if logs is not None else (),
        unknown_labels=live.unknown_labels,
        notes=tuple(live.notes),
    )


def _reference(
    root: Path, stored: StoredVersion, dataset: Dataset, pin: Pin
) -> tuple[pa.Table, str]:
    from engine.training.train import REFERENCE_FILE, REFERENCE_ROWS

    if REFERENCE_FILE in stored.record.files:
        table = _read_parquet(stored.path(REFERENCE_FILE))
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


def _from_batch(
    store: Any,
    pin: Pin,
    current: Current,
    dataset: Dataset,
    features: list[str],
    table: pa.Table | None,
) -> _Live:
    if table is None:
        assert current.batch is not None
        table = _read_batch(current.batch, dataset)
    live = _Live(table)
    if dataset.target in table.column_names:
        live.labels = table.column(dataset.target).to_pylist()
        live.times = [None] * table.num_rows
    missing = [f for f in features if f not in table.column_names]
    if missing:
        live.notes.append(
            "no prediction drift or live performance: the batch lacks inputs the version "
            f"needs ({', '.join(missing)})"
        )
    elif table.num_rows:
        _predict(store, pin, live, features)
    return live


def _read_batch(path: Path, dataset: Dataset) -> pa.Table:
    import pyarrow as pa

    from engine.data.tables import read_csv

    if not path.is_file():
        raise UserError(f"--current {path}: no such file")
    if path.suffix.lower() == ".parquet":
        try:
            return _read_parquet(path)
        except (pa.ArrowException, OSError) as exc:
            raise UserError(
                f"--current {path} can't be read as Parquet ({str(exc)[:200]})"
            ) from None
    if path.suffix.lower() == ".csv":
        return read_csv(path, dataset, name=str(path))
    raise UserError(f"--current {path}: give a .csv or .parquet file")


def labelled_current(
    root: Path, pin: Pin, current: Current, dataset: Dataset
) -> tuple[pa.Table, list[Any] | None]:
    """The current rows of one pinned model as monitoring reads them, and their labels
    (a batch's target column; for logs, the labels file joined by request id), or None."""
    if current.batch is not None or current.dataset is not None:
        table = (
            dataset_at(root, current.dataset)
            if current.dataset is not None
            else _read_batch(current.batch, dataset)  # type: ignore[arg-type]
        )
        if dataset.target not in table.column_names:
            return table, None
        return table, table.column(dataset.target).to_pylist()
    columns = [c for c in dataset.schema_.columns if c != dataset.target]
    live = _from_logs(_read_logs(current), pin, current, dataset, columns)
    return live.table, live.labels


def _read_parquet(path: Path) -> pa.Table:
    """Read Parquet without pre-buffering: Arrow's IO threads that pre-buffering starts can
    abort the process at exit ("terminate called without an active exception",
    apache/arrow#34314); seen once in this command's tests."""
    from pyarrow import parquet

    return parquet.read_table(path, pre_buffer=False)


def _predict(store: Any, pin: Pin, live: _Live, features: list[str]) -> None:
    """Run the pinned version on the batch; a batch it cannot take gets no predictions."""
    import numpy as np

    try:
        if pin.sha256:  # the artifact the environment pinned, byte for byte
            model = store.load_pinned(pin.model, pin.fingerprint, pin.sha256)
        else:  # a pin of an older engine: the store's own checksum and the type list
            model = store.load_model(pin.model, pin.fingerprint)
        frame = live.table.select(features).to_pandas()
        live.predictions = list(model.predict(frame))
        if hasattr(model, "predict_proba"):
            live.confidence = np.max(model.predict_proba(frame), axis=1).tolist()
    except UserError:
        raise
    except Exception as exc:  # the data, not the engine: say so in the report
        live.predictions, live.confidence = [], []
        reason = f"{type(exc).__name__}: {str(exc)[:200]}"
        live.notes.append(f"the version could not predict this batch ({reason})")


def _fits(prediction: Prediction, width: int) -> bool:
    """Every instance is an object, or a list of the model's width (what
    :func:`engine.monitoring.logs.rows_as_columns` reads; it refuses anything else)."""
    return all(
        isinstance(row, Mapping) or (isinstance(row, list) and len(row) == width)
        for row in prediction.rows
    )


def _mine(prediction: Prediction, pin: Pin) -> bool:
    return prediction.model in (None, pin.model)


def _in_window(prediction: Prediction, current: Current) -> bool:
    """Whether a logged request is in ``--since``'s window (one without a time is)."""
    since = current.since
    return since is None or prediction.time is None or prediction.time >= since


def _answered_by(prediction: Prediction, pin: Pin) -> bool:
    """Whether the pinned version answered (a record that names no version is taken as
    its: KServe's payload logger names none)."""
    return prediction.version in (None, "", pin.version, pin.fingerprint)


def _from_logs(
    logs: Logs, pin: Pin, current: Current, dataset: Dataset, features: list[str]
) -> _Live:
    import numpy as np

    from engine.monitoring.logs import rows_as_columns

    mine: list[Prediction] = []
    foreign: list[Prediction] = []  # the logs of a week span promotions and canaries
    for p in logs.predictions:
        if _mine(p, pin) and p.ok:
            (mine if _answered_by(p, pin) else foreign).append(p)
    elsewhere = frozenset(p.request_id for p in foreign)
    notes = []
    if foreign:
        others = sorted({str(p.version) for p in foreign})
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        notes.append(
            f"{len(foreign)} logged requests were answered by another version "
            f"({shown}): left out of drift and performance, which judge {pin.version}"
        )
    misfits = [p.request_id for p in mine if not _fits(p, len(features)) and _in_window(p, current)]
    mine = [p for p in mine if _fits(p, len(features))]
    windowed = [p for p in mine if _in_window(p, current)]
    live = _Live(_table(rows_as_columns(windowed, features)), notes=notes)
    if misfits:  # one client's odd request must not stop the monitoring of every model
        live.notes.append(
            f"{len(misfits)} logged requests skipped: an instance is not a row of the "
            f"model's {len(features)} inputs (request {misfits[0]}"
            f"{' and others' if len(misfits) > 1 else ''})"
        )
    for p in windowed:
        for i in range(len(p.rows)):
            live.times.append(p.time)
            if p.outputs and len(p.outputs) == len(p.rows):
                live.predictions.append(p.outputs[i])
            if p.probabilities and len(p.probabilities) == len(p.rows):
                live.confidence.append(float(np.max(p.probabilities[i])))
    if len(live.predictions) != len(live.times):
        live.predictions = []  # some requests had no outputs: no fair prediction sample
    if current.labels is not None:
        _labelled_logs(live, mine, current, dataset, elsewhere)
    return live


def _labelled_logs(
    live: _Live,
    mine: list[Prediction],
    current: Current,
    dataset: Dataset,
    elsewhere: frozenset[str],
) -> None:
    """Join the labels file to every logged request of the version, in the window or before
    it (labels arrive late): ``live.labels`` for the window's rows, ``live.scored`` for all."""
    assert current.labels is not None
    index: dict[tuple[str, int], int] = {}
    reused: set[str] = set()
    times: list[float | None] = []
    predicted: list[Any] = []
    window: list[int] = []
    for p in mine:
        answered = bool(p.outputs) and len(p.outputs) == len(p.rows)
        inside = _in_window(p, current)
        for i in range(len(p.rows)):
            if (p.request_id, i) in index:
                reused.add(p.request_id)
            index[(p.request_id, i)] = len(times)
            if inside:
                window.append(len(times))
            times.append(p.time)
            predicted.append(p.outputs[i] if answered else None)
    # a request id is the client's (x-request-id): one sent twice, by accident or by
    # someone who knows another client's ids, would put a label on the wrong inputs,
    # and retraining would learn from them; such labels are not joined
    for key in [k for k in index if k[0] in reused]:
        del index[key]
    joined = _Live(live.table, times=times)
    _join_labels(joined, index, current.labels, dataset, elsewhere)
    labels = joined.labels or [None] * len(times)
    live.labels, live.unknown_labels = [labels[k] for k in window], joined.unknown_labels
    rows = [k for k, y in enumerate(labels) if y is not None and predicted[k] is not None]
    live.scored = (
        [labels[k] for k in rows],
        [predicted[k] for k in rows],
        [times[k] for k in rows],
    )
    earlier = len(rows) - len(set(rows) & set(window))
    if earlier:
        live.notes.append(
            f"live performance includes {earlier} labelled rows of requests before the "
            "window (labels arrive late): drift and service health judge the window only"
        )
    if reused:
        first = sorted(reused)[0]
        live.notes.append(
            f"{len(reused)} request ids appear more than once in the logs (first: "
            f"{first}): their labels are not joined, since they could belong to either"
        )


def _table(columns: dict[str, list[Any]]) -> pa.Table:
    """Columns from JSON values; a column of mixed kinds is read as text (a type change)."""
    import pyarrow as pa

    arrays = {}
    for name, values in columns.items():
        try:
            arrays[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):  # OverflowError: an int
            # beyond 64 bits, which a client can send and a log holds
            arrays[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.table(arrays) if arrays else pa.table({})


def _join_labels(
    live: _Live,
    index: dict[tuple[str, int], int],
    path: Path,
    dataset: Dataset,
    elsewhere: frozenset[str] = frozenset(),
) -> None:
    """Labels keyed by request id (and instance index), in the order of the live rows;
    a label of a request another version answered (``elsewhere``) is not unknown."""
    table = _read_labels(path, dataset)
    label = next(c for c in (dataset.target, "label", "y_true") if c in table.column_names)
    ids = [str(v) for v in table.column("request_id").to_pylist()]
    positions = (
        table.column("index").to_pylist() if "index" in table.column_names else [0] * len(ids)
    )
    values = table.column(label).to_pylist()
    labels: list[Any] = [None] * len(live.times)
    unknown = []
    for request_id, position, value in zip(ids, positions, values, strict=True):
        row = index.get((request_id, int(position or 0)))
        if row is None:
            if request_id not in elsewhere:
                unknown.append(request_id)
        else:
            labels[row] = value
    live.labels, live.unknown_labels = labels, tuple(unknown)


def _read_labels(path: Path, dataset: Dataset) -> pa.Table:
    import pyarrow as pa
    from pyarrow import csv, json

    if not path.is_file():
        raise UserError(f"--labels {path}: no such file")
    try:
        if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
            table = json.read_json(path)
        else:
            table = csv.read_csv(
                path, convert_options=csv.ConvertOptions(column_types={"request_id": pa.string()})
            )
    except (pa.ArrowException, OSError) as exc:
        raise UserError(
            f"--labels {path}: can't be read ({str(exc)[:200]}): "
            "write one row per request, with columns request_id and label"
        ) from None
    if "request_id" not in table.column_names or not {dataset.target, "label", "y_true"} & set(
        table.column_names
    ):
        raise UserError(
            f"--labels {path}: needs a request_id column and a label column "
            f"(label, y_true or {dataset.target!r}); it has {', '.join(table.column_names)}"
        )
    return table


def _prediction_drift(stored: StoredVersion, live: _Live, model: Model) -> DataDrift | None:
    """Predicted classes/values, and max probability, against the test-set predictions."""
    import numpy as np

    from engine.monitoring.drift import counts_of
    from engine.store import PREDICTIONS_FILE

    if not live.predictions or PREDICTIONS_FILE not in stored.record.files:
        return None
    test = stored.predictions()
    reference: dict[str, Any] = {}
    current: dict[str, Any] = {}
    if model.task == "classification":
        reference["prediction"] = counts_of(test["y_pred"].tolist())
        current["prediction"] = counts_of(live.predictions)
        proba = [c for c in test.columns if c.startswith("proba_")]
        if proba and live.confidence:
            reference["confidence"] = test[proba].to_numpy().max(axis=1)
            current["confidence"] = np.asarray(live.confidence, dtype=np.float64)
    else:
        reference["prediction"] = test["y_pred"].to_numpy(dtype=np.float64)
        current["prediction"] = np.asarray(live.predictions, dtype=np.float64)
    return data_drift(reference, current, model.monitoring)


def _performance(stored: StoredVersion, live: _Live, model: Model) -> Any:
    from engine.monitoring.performance import Labelled, live_metrics, live_performance
    from engine.store import PREDICTIONS_FILE

    if live.scored is not None:  # logs: every labelled request, in the window or before
        labels, predicted, times = live.scored
    elif live.labels is None or not live.predictions:
        return None
    else:
        rows = [i for i, y in enumerate(live.labels) if y is not None]
        labels = [live.labels[i] for i in rows]
        predicted = [live.predictions[i] for i in rows]
        times = [live.times[i] for i in rows] if live.times else []
    if not labels or PREDICTIONS_FILE not in stored.record.files:
        return None
    test = stored.predictions()
    classes = list(stored.record.classes)
    return live_performance(
        model.task,
        classes,
        live_metrics(model.task, classes, model.metrics),
        model.primary_metric,
        Labelled(test["y_true"].tolist(), test["y_pred"].tolist()),
        Labelled(labels, predicted, times),
        window_seconds=_seconds(model.monitoring.window),
        tolerance=model.monitoring.performance_drop,
    )


def _seconds(window: str) -> float:
    return int(window[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[window[-1]]


def now() -> float:
    """The clock, for ``--since`` spans."""
    return time.time()
