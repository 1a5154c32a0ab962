"""Data shift between the data two versions were trained on, column by column.

``data_shift`` compares two :class:`~engine.data.profile.DataProfile` values: a numeric
column whose mean moved by :data:`NUMERIC_SHIFT` base standard deviations, or a
categorical column whose distribution moved by :data:`CATEGORICAL_SHIFT` total
variation, is flagged. A date column's range is shown with how far its dates moved (the
Wasserstein distance of the two deciles, in days); newer training data is the point of
retraining, so a date is flagged only when its share of nulls grew by
:data:`CATEGORICAL_SHIFT`. Pure: it reads stored profiles, never the data.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal

from engine.data.profile import ColumnProfile, DataProfile

NUMERIC_SHIFT = 0.25
"""A numeric column whose mean moved by this many base standard deviations is flagged."""


CATEGORICAL_SHIFT = 0.1
"""A categorical column whose distribution moved by this total variation is flagged."""


@dataclass(frozen=True)
class ColumnShift:
    """How one column's distribution moved between base and head data."""

    column: str
    kind: Literal["numeric", "categorical", "date", "added", "removed"]
    shift: float | None
    """Numeric: (head mean - base mean) / base std. Categorical: total variation distance.
    Date: None, as days are on no other column's scale (see ``days``)."""
    flagged: bool
    base: ColumnProfile | None = None
    head: ColumnProfile | None = None
    days: float | None = None
    """Date: how far the dates moved, in days, positive when later (see :func:`moved`)."""


def data_shift(
    base: DataProfile, head: DataProfile, *, skip: Collection[str] = ()
) -> tuple[ColumnShift, ...]:
    """Per column: mean shift in base standard deviations, or total variation distance.

    Columns in ``skip`` (the dataset's id column: unique per row) are left out, and so
    are date-like columns unless both sides profiled them as dates: their top values are
    one row each, so that "shift" says nothing. (Profiles of older versions still hold
    the id column, and profiled dates as text.)
    """
    before = {c.name: c for c in base.profiles if c.name not in skip}
    after = {c.name: c for c in head.profiles if c.name not in skip}
    old = {n: c for n, c in before.items() if not _ignored(c, skip)}
    new = {n: c for n, c in after.items() if not _ignored(c, skip)}
    # a date on one side only as text (profiled before dates had a type) is no new column
    out = [
        _shift(
            old.get(n) or (before[n] if c.is_date and n in before else None),
            c,
            base.rows,
            head.rows,
        )
        for n, c in new.items()
    ]
    out += [
        ColumnShift(n, "date", None, False, base=c)
        if n in after
        else ColumnShift(n, "removed", None, True, base=c)
        for n, c in old.items()
        if n not in new
    ]
    return tuple(out)


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?")


def _ignored(col: ColumnProfile, skip: Collection[str]) -> bool:
    return col.name in skip or (date_like(col) and not col.is_date)


def date_like(col: ColumnProfile) -> bool:
    """A column of dates or times: an Arrow temporal type, or strings that all read as ISO dates."""
    if col.dtype.startswith(("date", "timestamp", "time", "duration")):
        return True
    values = [v for v, _ in col.top]
    return bool(values) and all(isinstance(v, str) and _ISO_DATE.fullmatch(v) for v in values)


def _shift(old: ColumnProfile | None, new: ColumnProfile, rows_b: int, rows_h: int) -> ColumnShift:
    if old is None:
        return ColumnShift(new.name, "added", None, True, head=new)
    if old.is_date or new.is_date:
        return _date_shift(old, new, rows_b, rows_h)
    if old.top or new.top:
        tvd = _total_variation(old, rows_b, new, rows_h)
        return ColumnShift(new.name, "categorical", tvd, tvd >= CATEGORICAL_SHIFT, old, new)
    if old.mean is None or new.mean is None:
        return ColumnShift(new.name, "numeric", None, False, old, new)
    gap = new.mean - old.mean
    # a constant base column: any move at all is infinitely many standard deviations
    z = gap / old.std if old.std else 0.0 if gap == 0 else math.copysign(math.inf, gap)
    return ColumnShift(new.name, "numeric", z, abs(z) >= NUMERIC_SHIFT, old, new)


def _date_shift(old: ColumnProfile, new: ColumnProfile, rows_b: int, rows_h: int) -> ColumnShift:
    if not (old.is_date and new.is_date):  # one side is all null, or not profiled as dates
        return ColumnShift(new.name, "date", None, False, old, new)
    more_nulls = new.nulls / max(rows_h, 1) - old.nulls / max(rows_b, 1)
    flagged = more_nulls >= CATEGORICAL_SHIFT
    return ColumnShift(new.name, "date", None, flagged, old, new, days=moved(old, new))


def moved(old: ColumnProfile, new: ColumnProfile) -> float:
    """How far the dates moved, in days: positive when later, negative when earlier.

    Its size is the 1-Wasserstein distance of the two distributions of days, read off
    their deciles (the area between the quantile functions, trapezoids between deciles):
    for dates that all moved by 61 days it is 61. Its sign is the mean move's.
    """
    from engine.data.dates import ordinal

    gaps = [ordinal(b) - ordinal(a) for a, b in zip(old.quantiles, new.quantiles, strict=True)]
    if len(gaps) < 2:
        return 0.0
    steps = len(gaps) - 1
    size = sum((abs(x) + abs(y)) / 2 for x, y in itertools.pairwise(gaps)) / steps
    mean = sum((x + y) / 2 for x, y in itertools.pairwise(gaps)) / steps
    return math.copysign(size, mean) if mean else size


def date_range(col: ColumnProfile | None, rows: int) -> str:
    """``2024-01-01…2024-06-30`` and the share of nulls: a date column in a table cell."""
    if col is None:
        return "—"
    bits = [f"{col.earliest}…{col.latest}"] if col.is_date else []
    if col.nulls:
        bits.append(f"{col.nulls / max(rows, 1):.0%} nulls")
    return " · ".join(bits) or "—"


def date_cells(s: ColumnShift, rows: tuple[int, int]) -> tuple[str, str, str]:
    """A date column's row of the shift table: base range, head range, how far it moved.

    ``rows`` are the base's and the head's row counts (for the shares of nulls).
    """
    old, new = date_range(s.base, rows[0]), date_range(s.head, rows[1])
    if s.days is None:
        how = "—"
    elif not round(s.days):
        how = "same dates"
    else:
        how = f"moved {abs(s.days):,.0f} days {'later' if s.days > 0 else 'earlier'}"
    if s.flagged:
        how += " ⚠️ more nulls"
    return old, new, how


def _total_variation(old: ColumnProfile, rows_b: int, new: ColumnProfile, rows_h: int) -> float:
    # only the top values are known: everything else shares one "other" bucket, and nulls
    # get their own; the result is a lower bound of the true distance
    def shares(col: ColumnProfile, rows: int) -> dict[Any, float]:
        rows = max(rows, 1)
        out: dict[Any, float] = {("value", str(v)): n / rows for v, n in col.top}
        out[("null",)] = col.nulls / rows
        out[("other",)] = max(0.0, 1.0 - sum(out.values()))
        return out

    p, q = shares(old, rows_b), shares(new, rows_h)
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in p.keys() | q.keys())


__all__ = [
    "CATEGORICAL_SHIFT",
    "NUMERIC_SHIFT",
    "ColumnShift",
    "data_shift",
    "date_cells",
    "date_like",
    "date_range",
    "moved",
]
