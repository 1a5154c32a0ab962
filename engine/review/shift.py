"""Data shift between the data two versions were trained on, column by column.

``data_shift`` compares two :class:`~engine.data.profile.DataProfile` values: a numeric
column whose mean moved by :data:`NUMERIC_SHIFT` base standard deviations, or a
categorical column whose distribution moved by :data:`CATEGORICAL_SHIFT` total
variation, is flagged. Pure: it reads stored profiles, never the data.
"""

from __future__ import annotations

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
    kind: Literal["numeric", "categorical", "added", "removed"]
    shift: float | None
    """Numeric: (head mean - base mean) / base std. Categorical: total variation distance."""
    flagged: bool
    base: ColumnProfile | None = None
    head: ColumnProfile | None = None


def data_shift(
    base: DataProfile, head: DataProfile, *, skip: Collection[str] = ()
) -> tuple[ColumnShift, ...]:
    """Per column: mean shift in base standard deviations, or total variation distance.

    Columns in ``skip`` (the dataset's id column: unique per row) and date-like columns
    are left out: every value of theirs is new, so their "shift" says nothing. (Profiles
    of older versions still hold the id column; dates have no column type of their own
    yet, and their top values are one row each.)
    """
    old = {c.name: c for c in base.profiles if not _ignored(c, skip)}
    new = {c.name: c for c in head.profiles if not _ignored(c, skip)}
    out = [_shift(old.get(c.name), c, base.rows, head.rows) for c in new.values()]
    out += [
        ColumnShift(c.name, "removed", None, True, base=c)
        for c in old.values()
        if c.name not in new
    ]
    return tuple(out)


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?")


def _ignored(col: ColumnProfile, skip: Collection[str]) -> bool:
    return col.name in skip or date_like(col)


def date_like(col: ColumnProfile) -> bool:
    """A column of dates or times: an Arrow temporal type, or strings that all read as ISO dates."""
    if col.dtype.startswith(("date", "timestamp", "time", "duration")):
        return True
    values = [v for v, _ in col.top]
    return bool(values) and all(isinstance(v, str) and _ISO_DATE.fullmatch(v) for v in values)


def _shift(old: ColumnProfile | None, new: ColumnProfile, rows_b: int, rows_h: int) -> ColumnShift:
    if old is None:
        return ColumnShift(new.name, "added", None, True, head=new)
    if old.top or new.top:
        tvd = _total_variation(old, rows_b, new, rows_h)
        return ColumnShift(new.name, "categorical", tvd, tvd >= CATEGORICAL_SHIFT, old, new)
    if old.mean is None or new.mean is None:
        return ColumnShift(new.name, "numeric", None, False, old, new)
    gap = new.mean - old.mean
    # a constant base column: any move at all is infinitely many standard deviations
    z = gap / old.std if old.std else 0.0 if gap == 0 else math.copysign(math.inf, gap)
    return ColumnShift(new.name, "numeric", z, abs(z) >= NUMERIC_SHIFT, old, new)


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


__all__ = ["CATEGORICAL_SHIFT", "NUMERIC_SHIFT", "ColumnShift", "data_shift", "date_like"]
