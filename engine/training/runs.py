"""What a training run leaves behind, as data: the ``VersionRecord`` and pure views of it.

Every stored model version carries one ``VersionRecord`` (its ``meta.json``): who
trained what, from which data and commit, with which parameters, and how it scored.
The record is defined in :mod:`engine.training.records` (plain checked values, so that
reading one needs no pydantic) and named here too; this module holds the pure functions
that read it:

- ``model_card(record)`` renders the version's ``card.md``;
- ``runs_table(records)`` and ``to_csv(rows)`` turn a list of versions into the flat
  rows of ``mlops runs`` (experiment tracking: one row per version, parameters
  flattened as ``params.<name>``).

No I/O happens here; ``engine.store`` reads and writes the records.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from engine.definitions.names import lower_is_better
from engine.errors import UserError

# the record itself lives in `records` (plain checked values); named here as ever
from engine.training.records import (
    RECORD_FORMAT,
    Candidate,
    RowsRecord,
    SearchRecord,
    VersionRecord,
)

Row = dict[str, Any]


def utc_now() -> str:
    """The current time as an ISO 8601 UTC timestamp, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- the model card -----------------------------------------------------------------------


def model_card(record: VersionRecord) -> str:
    """Render the version's model card (``card.md``): what it is, how it scored, lineage."""
    lines = [
        f"# {record.label}",
        "",
        f"A {record.task} model trained on dataset `{record.dataset}`"
        f" ({record.rows_train} training rows, {record.rows_test} test rows).",
        "",
        "## Metrics (test split)",
        "",
        *_metrics_table(record),
        "",
    ]
    if record.cv:
        lines += ["## Cross-validation", "", "```json", _json(record.cv), "```", ""]
    lines += ["## Parameters", "", "```json", _json(record.params), "```", ""]
    if record.features:
        lines += ["## Features", "", "```json", _json(record.features), "```", ""]
    if record.classes:
        lines += ["## Classes", "", ", ".join(f"`{c}`" for c in record.classes), ""]
    if record.search:
        lines += _search_section(record.search)
    lines += [
        "## Lineage",
        "",
        "| | |",
        "| --- | --- |",
        f"| fingerprint | `{record.fingerprint}` |",
        f"| data hash | `{record.data_hash or 'unknown'}` |",
        f"| split rows | {_split_rows(record.rows)} |",
        f"| commit | `{record.commit or 'unknown'}` |",
        f"| author | {record.author or 'unknown'} |",
        f"| trained | {record.created} in {record.training_seconds:.2f} s |",
        f"| engine | {record.engine_version or 'unknown'} |",
        f"| scikit-learn | {record.sklearn_version or 'unknown'} |",
        f"| Python | {record.python_version or 'unknown'} |",
        "",
    ]
    return "\n".join(lines)


def _metrics_table(record: VersionRecord) -> list[str]:
    """The test metrics; with cross-validation, its mean ± std beside each as an interval."""
    cv = record.cv or {}
    if not any(f"cv_{name}" in cv for name in record.metrics):
        return [
            "| metric | value |",
            "| --- | --- |",
            *(f"| {name} | {_number(value)} |" for name, value in sorted(record.metrics.items())),
        ]
    rows = ["| metric | value | cross-validated (mean ± std) |", "| --- | --- | --- |"]
    for name, value in sorted(record.metrics.items()):
        mean, std = cv.get(f"cv_{name}"), cv.get(f"cv_{name}_std")
        spread = f"{_number(mean)} ± {_number(std)}" if isinstance(mean, float) else "n/a"
        rows.append(f"| {name} | {_number(value)} | {spread} |")
    return rows


def _split_rows(rows: RowsRecord | None) -> str:
    if rows is None:
        return "not recorded"
    by = f"id column `{rows.columns[0]}`" if rows.key == "id" else "row content"
    return f"{rows.train} train, {rows.test} test, by {by} (`rows.parquet`)"


def _search_section(search: SearchRecord) -> list[str]:
    ranked = sorted(search.candidates, key=lambda c: _sort_key(c.mean_score, True))
    best = search.best
    if best.std_score is None:
        # records written before the kept candidate carried its std: its row in the table has it
        same = next((c for c in search.candidates if c.params == best.params), None)
        best = same if same is not None else best
    lines = [
        "## Hyper-parameter search",
        "",
        f"{len(search.candidates)} candidates"
        + (f", scored by {search.scoring}" if search.scoring else "")
        + f"; kept `{_json(best.params, indent=None)}`"
        f" ({_number(best.mean_score)} ± {_number(best.std_score)}).",
        "",
        "| params | mean | std |",
        "| --- | --- | --- |",
    ]
    for cand in ranked[:10]:
        params = _json(cand.params, indent=None)
        lines.append(f"| `{params}` | {_number(cand.mean_score)} | {_number(cand.std_score)} |")
    return [*lines, ""]


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _json(value: Any, indent: int | None = 2) -> str:
    return json.dumps(value, indent=indent, sort_keys=True, default=str)


# --- experiment tracking: the runs table ------------------------------------------------------

_LEADING = ("model", "version", "created", "commit", "author", "dataset", "data_hash")
_TRAILING = ("training_seconds", "rows_train", "rows_test", "fingerprint")


def runs_table(
    records: Iterable[VersionRecord], sort_by: str | None = None, descending: bool | None = None
) -> list[Row]:
    """One flat row per version: lineage, metrics, then ``params.<name>`` columns.

    Every row has the same keys (missing values are None). ``sort_by`` names any column;
    rows without a value go last. ``descending=None`` puts the best first: ascending for
    lower-is-better metrics (rmse, log_loss, ...), descending for everything else.
    Without ``sort_by`` the records keep their order (the store lists newest first).
    """
    records = list(records)
    metric_names = _union(r.metrics for r in records)
    param_names = _union(_flatten(r.params, "params.") for r in records)
    columns = [*_LEADING, *metric_names, *param_names, *_TRAILING]
    rows = []
    for rec in records:
        values: Row = {name: getattr(rec, name) for name in (*_LEADING, *_TRAILING)}
        values.update(rec.metrics)
        values.update(_flatten(rec.params, "params."))
        rows.append({col: values.get(col) for col in columns})
    if sort_by is None:
        return rows
    if rows and sort_by not in rows[0]:
        raise UserError(f"no column {sort_by!r} to sort by; choose one of: {', '.join(columns)}")
    if descending is None:
        descending = not lower_is_better(sort_by)
    present = [r for r in rows if r.get(sort_by) is not None]
    missing = [r for r in rows if r.get(sort_by) is None]
    present.sort(key=lambda r: _comparable(r[sort_by]), reverse=descending)
    return present + missing


def to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Render rows as CSV: a header of every column seen, None as an empty cell."""
    columns = _union(rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(col)) for col in columns])
    return out.getvalue()


def _flatten(params: Mapping[str, Any], prefix: str) -> Row:
    flat: Row = {}
    for key, value in params.items():
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _union(mappings: Iterable[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for mapping in mappings:
        seen.update(dict.fromkeys(mapping))
    return list(seen)


def _sort_key(value: float | None, best_first: bool) -> tuple[bool, float]:
    if value is None:
        return (True, 0.0)
    return (False, -value if best_first else value)


def _comparable(value: Any) -> tuple[int, Any]:
    # Numbers before text, so a column mixing both still sorts instead of raising.
    if isinstance(value, bool | int | float):
        return (0, value)
    return (1, str(value))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | dict | tuple):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


__all__ = [
    "RECORD_FORMAT",
    "Candidate",
    "RowsRecord",
    "SearchRecord",
    "VersionRecord",
    "model_card",
    "runs_table",
    "to_csv",
    "utc_now",
]
