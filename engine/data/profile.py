"""Data profiles: the figures about a table that are stored with each version and compared.

:func:`summarize` reads a ``pyarrow.Table`` once, column by column (``pyarrow.compute``,
no pandas): rows, and per column its type, nulls, mean/std/min/max for numbers, the
most frequent values for categories, or for dates (a ``date`` column, or an Arrow date or
timestamp) the earliest and latest day, deciles and a histogram over time. The review
compares two profiles (data shift), and the store keeps one beside every version
(``profile.json``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

TOP_VALUES = 5
DATE_QUANTILES = 10
"""A date column keeps its deciles: the distance between two profiles' dates is read off them."""
_MONTHS, _YEARS = 60, 100  # a histogram by month up to 5 years, by year up to a century
_TOP_INT_DISTINCT = 20  # an int column with this few distinct values is a category too


@dataclass(frozen=True)
class ColumnProfile:
    """Figures about one column: numbers for numeric columns, top values for categories."""

    name: str
    dtype: str = ""
    nulls: int = 0
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    top: tuple[tuple[Any, int], ...] = ()
    """The most frequent values and their counts, for categorical columns."""
    earliest: str | None = None
    """A date column's first day (ISO-8601); None for other columns or no dates."""
    latest: str | None = None
    """A date column's last day."""
    quantiles: tuple[str, ...] = ()
    """A date column's deciles, earliest to latest (11 days)."""
    histogram: tuple[tuple[str, int], ...] = ()
    """A date column's rows by month (``2024-05``), year (``2024``) or decade (``1990s``),
    every period from the earliest to the latest, empty ones included."""

    @property
    def is_date(self) -> bool:
        """Profiled as dates (profiles stored before dates had a type have no range)."""
        return self.dtype == "date" and self.earliest is not None


@dataclass(frozen=True)
class DataProfile:
    """The data a version was trained and tested on: size, content hash, column figures."""

    rows: int
    columns: int
    """The columns profiled: all but those in :attr:`skipped`."""
    content_hash: str = ""
    profiles: tuple[ColumnProfile, ...] = ()
    skipped: tuple[str, ...] = ()
    """Columns of the table left out of the profile (the dataset's id column); profiles
    stored before this field existed do not say."""

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> DataProfile:
        """Read back what ``dataclasses.asdict`` wrote (a stored ``profile.json``)."""
        profiles = tuple(
            ColumnProfile(
                **{
                    **c,
                    "top": tuple(tuple(t) for t in c.get("top", ())),
                    "quantiles": tuple(c.get("quantiles", ())),
                    "histogram": tuple(tuple(h) for h in c.get("histogram", ())),
                }
            )
            for c in raw.get("profiles", ())
        )
        if not isinstance(raw["rows"], int) or not isinstance(raw["columns"], int):
            raise ValueError("not a data profile: rows and columns must be counts")
        skipped = raw.get("skipped", ())
        if not isinstance(skipped, list | tuple) or not all(isinstance(n, str) for n in skipped):
            raise ValueError("not a data profile: skipped must be column names")
        return cls(
            raw["rows"], raw["columns"], raw.get("content_hash", ""), profiles, tuple(skipped)
        )


def summarize(
    table: pa.Table, *, skip: Collection[str] = (), dates: Collection[str] = ()
) -> DataProfile:
    """Rows, and per column: type, nulls, mean/std/min/max, the most frequent values, or
    the range and spread of its dates.

    Columns in ``skip`` (a dataset's id column: unique per row, so its "shift" says
    nothing) are left out; columns in ``dates`` (declared ``date``: ISO-8601 text) and
    Arrow date or timestamp columns are profiled as dates.
    """
    import pyarrow as pa

    from engine.data.dates import is_temporal

    columns = []
    skipped = []
    for name, col in zip(table.column_names, table.columns, strict=True):
        if name in skip:
            skipped.append(name)
            continue
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if name in dates or is_temporal(col.type):
            columns.append(_summarize_dates(name, col))
        else:
            columns.append(_summarize_column(name, col))
    return DataProfile(
        table.num_rows, len(columns), profiles=tuple(columns), skipped=tuple(skipped)
    )


def _summarize_column(name: str, col: pa.ChunkedArray) -> ColumnProfile:
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = col.type
    numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind)
    stats: dict[str, Any] = {}
    if numeric and len(col) > col.null_count:
        bounds = pc.min_max(col)
        stats = {
            "mean": pc.mean(col).as_py(),
            "std": pc.stddev(col, ddof=1).as_py(),
            "min": bounds["min"].as_py(),
            "max": bounds["max"].as_py(),
        }
    categorical = pa.types.is_string(kind) or pa.types.is_large_string(kind)
    categorical = categorical or pa.types.is_boolean(kind)
    if pa.types.is_integer(kind):
        categorical = pc.count_distinct(col).as_py() <= _TOP_INT_DISTINCT
    top = _top_values(col) if categorical else ()
    return ColumnProfile(name, str(kind), col.null_count, top=top, **stats)


def _summarize_dates(name: str, col: pa.ChunkedArray) -> ColumnProfile:
    """Nulls, first and last day, deciles and a histogram over time (values that are not
    dates, which the data checks refuse before training, count as nulls here)."""
    import pyarrow.compute as pc

    from engine.data.dates import iso, to_days

    days = to_days(col).days
    nulls = days.null_count
    if nulls == len(days):
        return ColumnProfile(name, "date", nulls)
    steps = [i / DATE_QUANTILES for i in range(DATE_QUANTILES + 1)]
    quantiles = pc.quantile(days, q=steps, interpolation="lower").to_pylist()
    return ColumnProfile(
        name,
        "date",
        nulls,
        earliest=iso(quantiles[0]),
        latest=iso(quantiles[-1]),
        quantiles=tuple(iso(q) for q in quantiles),
        histogram=_histogram(days),
    )


def _histogram(days: Any) -> tuple[tuple[str, int], ...]:
    """Rows per month, year or decade (the finest that keeps the bars few enough)."""
    import numpy as np

    from engine.data.dates import as_numbers

    values = as_numbers(days)
    values = values[~np.isnan(values)].astype("int64").astype("datetime64[D]")
    months = values.astype("datetime64[M]").astype("int64")  # months since 1970-01
    low, high = int(months.min()), int(months.max())
    if high - low < _MONTHS:
        counts = np.bincount(months - low, minlength=high - low + 1)
        labels = [
            f"{(m + 23640) // 12:04d}-{(m + 23640) % 12 + 1:02d}" for m in range(low, high + 1)
        ]
        return tuple(zip(labels, (int(n) for n in counts), strict=True))
    years = values.astype("datetime64[Y]").astype("int64") + 1970
    step = 1 if int(years.max() - years.min()) < _YEARS else 10
    bins = years // step
    low, high = int(bins.min()), int(bins.max())
    counts = np.bincount(bins - low, minlength=high - low + 1)
    suffix = "" if step == 1 else "s"
    labels = [f"{b * step}{suffix}" for b in range(low, high + 1)]
    return tuple(zip(labels, (int(n) for n in counts), strict=True))


def _top_values(col: pa.ChunkedArray) -> tuple[tuple[Any, int], ...]:
    import pyarrow as pa
    import pyarrow.compute as pc

    counts = pc.value_counts(col.drop_null())
    table = pa.table({"value": counts.field("values"), "count": counts.field("counts")})
    table = table.sort_by([("count", "descending"), ("value", "ascending")])
    table = table.slice(0, TOP_VALUES)
    return tuple(zip(table["value"].to_pylist(), table["count"].to_pylist(), strict=True))
