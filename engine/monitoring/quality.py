"""Data quality of the current data against the dataset's schema and the reference.

What a drift test cannot say: a column is gone, or new, or changed type, or is all
null; numbers fall outside the declared (else the trained-on) range; a category was
never seen; a date column holds values that are not dates. Each is a :class:`Finding`,
reported beside the drift table; an error means the drift verdict for that column is not
to be trusted. Dates after the trained-on range are expected in production: they are
reported as information (severity ``info``), and dates before it as a warning.
Pure: plain values in, findings out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from engine.definitions.formats import Schema
from engine.monitoring.drift import Counts, Dates

if TYPE_CHECKING:
    from engine.monitoring.columns import Side

Check = Literal[
    "missing-column",
    "extra-column",
    "type-changed",
    "all-null",
    "nulls",
    "out-of-range",
    "unseen-category",
    "not-a-date",
    "newer-dates",
    "rows",
]
Severity = Literal["error", "warning", "info"]
_NUMERIC = frozenset({"int", "float"})
NULL_MARGIN = 0.01
"""Null share allowed above the reference's before it is reported (for nullable columns)."""


@dataclass(frozen=True)
class Finding:
    """One data-quality problem in one column (or in the whole batch)."""

    column: str
    check: Check
    message: str
    severity: Severity = "warning"


def check_quality(
    reference: Side,
    current: Side,
    schema: Schema,
    *,
    ignore: frozenset[str] = frozenset(),
) -> list[Finding]:
    """Every finding about ``current``, the columns in reference order."""
    findings: list[Finding] = []
    if current.rows == 0:
        return [Finding("", "rows", "the current data has no rows", "error")]
    if current.rows == 1:
        findings.append(Finding("", "rows", "one row only: drift tests on a single row say little"))
    for name, kind in reference.types.items():
        if name not in current.types:
            findings.append(
                Finding(name, "missing-column", "missing from the current data", "error")
            )
            continue
        findings += _column(name, kind, reference, current, schema)
    for name in current.types:
        if name not in reference.types and name not in ignore:
            findings.append(Finding(name, "extra-column", "not an input of the model: ignored"))
    return findings


def _column(name: str, kind: str, reference: Side, current: Side, schema: Schema) -> list[Finding]:
    now = current.types[name]
    values, declared = current.columns[name], schema.columns.get(name)
    nulls = _nulls(values)
    if nulls == current.rows:
        return [Finding(name, "all-null", f"all {current.rows:,} values are null", "error")]
    if now != kind and not {now, kind} <= _NUMERIC:
        return [Finding(name, "type-changed", f"type {now}, was {kind} in the reference", "error")]
    findings = []
    if isinstance(values, Dates) and values.bad:
        findings.append(_not_dates(name, values))
    share, before = nulls / current.rows, _nulls(reference.columns[name]) / max(reference.rows, 1)
    nullable = declared.nullable if declared else before > 0
    if nulls and (not nullable or share > before + NULL_MARGIN):
        findings.append(
            Finding(name, "nulls", f"{nulls:,} nulls ({share:.1%}); reference {before:.1%}")
        )
    if isinstance(values, Dates):
        findings += _date_range(name, values, reference.columns[name])
    elif isinstance(values, Counts):
        findings += _unseen(name, values, reference.columns[name], declared)
    else:
        findings += _range(name, values, reference.columns[name], declared)
    return findings


def _range(name: str, values: Any, reference: Any, declared: Any) -> list[Finding]:
    import numpy as np

    if isinstance(reference, Counts):
        return []
    if declared is not None and (declared.min is not None or declared.max is not None):
        low, high, where = declared.min, declared.max, "declared"
    else:
        seen = reference[~np.isnan(reference)]
        if not seen.size:
            return []
        low, high, where = float(seen.min()), float(seen.max()), "trained-on"
    below = int(np.sum(values < low)) if low is not None else 0
    above = int(np.sum(values > high)) if high is not None else 0
    if not below and not above:
        return []
    bounds = f"[{'' if low is None else f'{low:g}'}, {'' if high is None else f'{high:g}'}]"
    severity: Severity = "error" if where == "declared" else "warning"
    return [
        Finding(
            name,
            "out-of-range",
            f"{below + above:,} values outside the {where} range {bounds} "
            f"({below:,} below, {above:,} above)",
            severity,
        )
    ]


def _not_dates(name: str, values: Dates) -> Finding:
    # the value is never quoted: monitoring reports reach issues, and the data may be private
    first = f" (first at row {values.first_bad:,})" if values.first_bad else ""
    return Finding(
        name,
        "not-a-date",
        f"{values.bad:,} value(s) are not dates{first}: write ISO-8601 dates, such as 2024-05-31",
        "error",
    )


def _date_range(name: str, values: Dates, reference: Any) -> list[Finding]:
    """Dates before the trained-on range (a warning), and after it (information)."""
    import numpy as np

    from engine.data.dates import iso

    if not isinstance(reference, Dates):
        return []
    seen = reference.days[~np.isnan(reference.days)]
    days = values.days[~np.isnan(values.days)]
    if not seen.size or not days.size:
        return []
    low, high = float(seen.min()), float(seen.max())
    span = f"{iso(low)}…{iso(high)}"
    out = []
    older = int(np.sum(days < low))
    if older:
        out.append(
            Finding(
                name,
                "out-of-range",
                f"{older:,} dates before the trained-on range {span} "
                f"(earliest {iso(float(days.min()))})",
            )
        )
    newer = int(np.sum(days > high))
    if newer:
        out.append(
            Finding(
                name,
                "newer-dates",
                f"{newer:,} of {days.size:,} dates are newer than training ({span}; "
                f"latest {iso(float(days.max()))}): expected in production",
                "info",
            )
        )
    return out


def _unseen(name: str, values: Counts, reference: Any, declared: Any) -> list[Finding]:
    if declared is not None and declared.values is not None:
        known, where = set(declared.values), "declared"
    elif isinstance(reference, Counts):
        known, where = set(reference.values), "trained-on"
    else:
        return []
    new = {v: n for v, n in zip(values.values, values.counts, strict=True) if v not in known}
    if not new:
        return []
    shown = ", ".join(repr(v) for v in sorted(new, key=lambda v: -new[v])[:5])
    more = f" and {len(new) - 5} more" if len(new) > 5 else ""
    return [
        Finding(
            name,
            "unseen-category",
            f"{sum(new.values()):,} rows with values not in the {where} categories: {shown}{more}",
            "error" if where == "declared" else "warning",
        )
    ]


def _nulls(values: Any) -> int:
    import numpy as np

    if isinstance(values, Counts | Dates):
        return values.nulls
    return int(np.isnan(values).sum())


def by_column(findings: list[Finding]) -> Mapping[str, list[Finding]]:
    """Findings grouped by column, for the report."""
    out: dict[str, list[Finding]] = {}
    for finding in findings:
        out.setdefault(finding.column, []).append(finding)
    return out
