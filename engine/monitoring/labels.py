"""Late labels: a file of ``request_id`` (and ``index``) and label, joined to logged requests.

Labels arrive days or weeks after the request, so they join every logged request of the
version, in the ``--since`` window or before it. The labels file is read first
(:func:`read_labels`); while the logs stream past, :class:`LabelJoin` keeps only the rows
of requests the file names (their time and prediction), never every request id read.

A request id is the client's (``x-request-id``): one sent twice, by accident or by someone
who knows another client's ids, would put a label on the wrong inputs, and retraining would
learn from them; the labels of an id that appears in more than one logged request are not
joined (and are listed with the labels no logged request has).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import UserError

if TYPE_CHECKING:
    import pyarrow as pa

    from engine.definitions.formats import Dataset
    from engine.monitoring.records import Prediction


@dataclass(frozen=True)
class LabelFile:
    """The labels file's rows, in its order: request id, instance index, label."""

    ids: list[str]
    positions: list[int]
    values: list[Any]


@dataclass(frozen=True)
class Joined:
    """The labels joined to the logged requests of one version."""

    window: dict[int, Any]
    """Label of each labelled row of the window, by its row number (in the order read)."""
    scored: tuple[list[Any], list[Any], list[float | None]]
    """(labels, predictions, times) of every labelled, answered row, oldest first."""
    unknown: tuple[str, ...]
    """Request ids in the file that no logged request of the version has (nor another's)."""
    earlier: int
    """Scored rows of requests before the window."""
    reused: tuple[str, ...]
    """Labelled request ids that more than one logged request carries (sorted)."""


def read_labels(path: Path, dataset: Dataset) -> LabelFile:
    """The labels file (CSV, or JSON lines for ``.jsonl`` / ``.json`` / ``.ndjson``)."""
    return label_file(read_label_table(path), path, dataset)


def read_label_table(path: Path) -> pa.Table:
    """The labels file's table, as read (a monitor run reads it once for every model)."""
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
    return table


def label_file(table: pa.Table, path: Path, dataset: Dataset) -> LabelFile:
    """The labels of ``dataset`` in the labels file's ``table`` (read from ``path``)."""
    if "request_id" not in table.column_names or not {dataset.target, "label", "y_true"} & set(
        table.column_names
    ):
        raise UserError(
            f"--labels {path}: needs a request_id column and a label column "
            f"(label, y_true or {dataset.target!r}); it has {', '.join(table.column_names)}"
        )
    label = next(c for c in (dataset.target, "label", "y_true") if c in table.column_names)
    ids = [str(v) for v in table.column("request_id").to_pylist()]
    positions = (
        [int(p or 0) for p in table.column("index").to_pylist()]
        if "index" in table.column_names
        else [0] * len(ids)
    )
    return LabelFile(ids, positions, table.column(label).to_pylist())


@dataclass
class LabelJoin:
    """Fed the version's logged requests one at a time; keeps the labelled ones' rows."""

    labels: LabelFile
    wanted: frozenset[str] = field(init=False)
    elsewhere: set[str] = field(default_factory=set)
    """Labelled ids another version answered: their labels are not unknown."""
    requests: dict[str, int] = field(default_factory=dict)
    rows: list[tuple[str, int, float | None, Any, int | None]] = field(default_factory=list)
    """(request id, index, time, prediction or None, window row or None) per labelled row."""

    def __post_init__(self) -> None:
        self.wanted = frozenset(self.labels.ids)

    def foreign(self, prediction: Prediction) -> None:
        """A request another version answered."""
        if prediction.request_id in self.wanted:
            self.elsewhere.add(prediction.request_id)

    def logged(self, prediction: Prediction, window_row: int | None) -> None:
        """A request of the version; ``window_row``: its first row's number in the window
        (None before the window)."""
        request_id = prediction.request_id
        if request_id not in self.wanted or not prediction.rows:
            return
        self.requests[request_id] = self.requests.get(request_id, 0) + 1
        answered = bool(prediction.outputs) and len(prediction.outputs) == len(prediction.rows)
        for i in range(len(prediction.rows)):
            self.rows.append(
                (
                    request_id,
                    i,
                    prediction.time,
                    prediction.outputs[i] if answered else None,
                    None if window_row is None else window_row + i,
                )
            )

    def result(self) -> Joined:
        """The join, once every request is read."""
        return join(self.labels, self.rows, self.requests, frozenset(self.elsewhere))


def join(
    labels: LabelFile,
    rows: list[tuple[str, int, float | None, Any, int | None]],
    requests: dict[str, int],
    elsewhere: frozenset[str],
) -> Joined:
    """Labels onto logged rows by (request id, index); the last label of a key wins."""
    reused = frozenset(r for r, n in requests.items() if n > 1)
    index = {(r[0], r[1]): k for k, r in enumerate(rows) if r[0] not in reused}
    found: dict[int, Any] = {}
    unknown = []
    for request_id, position, value in zip(
        labels.ids, labels.positions, labels.values, strict=True
    ):
        row = index.get((request_id, position))
        if row is None:
            if request_id not in elsewhere:
                unknown.append(request_id)
        else:
            found[row] = value
    # oldest first (a stable sort: rows of one moment in the order read), as live
    # performance's seeded resampling takes them
    scored = sorted(
        (k for k, y in found.items() if y is not None and rows[k][3] is not None),
        key=lambda k: (rows[k][2] is None, rows[k][2] or 0.0, k),
    )
    window = {row: value for k, value in found.items() if (row := rows[k][4]) is not None}
    return Joined(
        window=window,
        scored=(
            [found[k] for k in scored],
            [rows[k][3] for k in scored],
            [rows[k][2] for k in scored],
        ),
        unknown=tuple(unknown),
        earlier=sum(rows[k][4] is None for k in scored),
        reused=tuple(sorted(reused)),
    )
