"""Dates as day numbers: how a ``date`` column is read by the checks, profiles and monitoring.

A date is compared, binned and tested as its *ordinal*: days since 1970-01-01 (Arrow's
``date32``). :func:`to_days` reads a column of ISO-8601 text (``2024-05-31``, as a CSV
holds it) or of Arrow dates or timestamps (as Parquet holds them); text that is not a
real calendar date (``2024-13-01``, ``2024-02-30``, ``31/05/2024``) is *bad*, apart from
nulls. Pure: Arrow arrays in, Arrow arrays out; :func:`iso` and :func:`ordinal` convert
one day either way.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

ISO_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
EPOCH = datetime.date(1970, 1, 1)


@dataclass(frozen=True)
class Days:
    """A column as day numbers: ``days`` (int32; null where the value is null or bad), and
    ``bad`` (true where a value is present but is not a date)."""

    days: pa.Array
    bad: pa.Array

    @property
    def bad_count(self) -> int:
        """Values that are present but not dates."""
        import pyarrow.compute as pc

        return int(pc.sum(self.bad).as_py() or 0)

    @property
    def first_bad(self) -> int | None:
        """The first bad value's row, counted from 1 (as the data checks count), or None."""
        import pyarrow.compute as pc

        if not self.bad_count:
            return None
        return int(pc.index(self.bad, True).as_py()) + 1


def is_temporal(kind: pa.DataType) -> bool:
    """An Arrow date or timestamp type: a column that holds dates without being text."""
    import pyarrow as pa

    return bool(pa.types.is_date(kind) or pa.types.is_timestamp(kind))


def is_text(kind: pa.DataType) -> bool:
    """An Arrow string type."""
    import pyarrow as pa

    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def to_days(column: pa.Array | pa.ChunkedArray) -> Days:
    """Day numbers of a text, date or timestamp column (a timestamp keeps its calendar day).

    Text must be ``YYYY-MM-DD`` and a real day: ``strptime`` rolls 2024-02-30 over to
    March, so a date must also read back as written.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if is_temporal(column.type):
        days = column.cast(pa.date32()).cast(pa.int32())
        return Days(days, pa.array([False] * len(column), pa.bool_()))
    if not is_text(column.type):
        if pa.types.is_null(column.type):
            return Days(pa.nulls(len(column), pa.int32()), pa.array([False] * len(column)))
        raise TypeError(f"not a column of dates: {column.type}")
    parsed = pc.strptime(column, format="%Y-%m-%d", unit="s", error_is_null=True)
    same = pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), column)
    good = pc.and_(pc.match_substring_regex(column, ISO_TEXT), same.fill_null(False))
    good = good.fill_null(False)
    bad = pc.and_(pc.is_valid(column), pc.invert(good))
    days = parsed.cast(pa.date32()).cast(pa.int32())
    days = pc.if_else(good, days, pa.scalar(None, pa.int32()))
    return Days(days, bad)


def iso(day: float) -> str:
    """``2024-05-31`` for a day number."""
    return (EPOCH + datetime.timedelta(days=math.floor(day))).isoformat()


def ordinal(text: str) -> int:
    """The day number of ``2024-05-31``."""
    return (datetime.date.fromisoformat(text) - EPOCH).days


def as_numbers(days: Any) -> Any:
    """Day numbers as float64 numpy values, NaN for nulls (what the drift tests read)."""
    import pyarrow as pa

    return days.cast(pa.float64()).to_numpy(zero_copy_only=False)


__all__ = [
    "EPOCH",
    "ISO_TEXT",
    "Days",
    "as_numbers",
    "is_temporal",
    "is_text",
    "iso",
    "ordinal",
    "to_days",
]
