"""Data profiles: the figures about a table that are stored with each version and compared.

:func:`summarize` reads a ``pyarrow.Table`` once, column by column (``pyarrow.compute``,
no pandas): rows, and per column its type, nulls, mean/std/min/max for numbers or the
most frequent values for categories. The review compares two profiles (data shift), and
the store keeps one beside every version (``profile.json``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

TOP_VALUES = 5
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


@dataclass(frozen=True)
class DataProfile:
    """The data a version was trained and tested on: size, content hash, column figures."""

    rows: int
    columns: int
    content_hash: str = ""
    profiles: tuple[ColumnProfile, ...] = ()

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> DataProfile:
        """Read back what ``dataclasses.asdict`` wrote (a stored ``profile.json``)."""
        profiles = tuple(
            ColumnProfile(**{**c, "top": tuple(tuple(t) for t in c.get("top", ()))})
            for c in raw.get("profiles", ())
        )
        if not isinstance(raw["rows"], int) or not isinstance(raw["columns"], int):
            raise ValueError("not a data profile: rows and columns must be counts")
        return cls(raw["rows"], raw["columns"], raw.get("content_hash", ""), profiles)


def summarize(table: pa.Table, *, skip: Collection[str] = ()) -> DataProfile:
    """Rows, and per column: type, nulls, mean/std/min/max or the most frequent values.

    Columns in ``skip`` (a dataset's id column: unique per row, so its "shift" says
    nothing) are left out.
    """
    import pyarrow as pa

    columns = []
    for name, col in zip(table.column_names, table.columns, strict=True):
        if name in skip:
            continue
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        columns.append(_summarize_column(name, col))
    return DataProfile(table.num_rows, len(columns), profiles=tuple(columns))


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


def _top_values(col: pa.ChunkedArray) -> tuple[tuple[Any, int], ...]:
    import pyarrow as pa
    import pyarrow.compute as pc

    counts = pc.value_counts(col.drop_null())
    table = pa.table({"value": counts.field("values"), "count": counts.field("counts")})
    table = table.sort_by([("count", "descending"), ("value", "ascending")])
    table = table.slice(0, TOP_VALUES)
    return tuple(zip(table["value"].to_pylist(), table["count"].to_pylist(), strict=True))
