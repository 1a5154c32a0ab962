"""From Arrow tables to what the drift tests read: numbers as numpy, categories as counts.

The one place monitoring touches pyarrow. Numeric columns become float64 arrays with NaN
for nulls (zero-copy where Arrow allows); every other column becomes :class:`Counts` from
``pyarrow.compute.value_counts``, so a million strings are counted in C++ and never turned
into Python objects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.monitoring.drift import Counts

if TYPE_CHECKING:
    import pyarrow as pa
    from numpy.typing import NDArray

    Array = NDArray[Any]


@dataclass(frozen=True)
class Side:
    """One side of a comparison: its rows, each column's declared-style type and values."""

    rows: int
    types: dict[str, str]
    """Column name to int, float, string, bool (the dataset schema's words) or other."""
    columns: dict[str, Array | Counts]


def side_of(table: pa.Table, names: Iterable[str] | None = None) -> Side:
    """The columns of ``table`` (those in ``names`` when given), converted for the tests."""
    wanted = set(table.column_names if names is None else names)
    types, columns = {}, {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if name not in wanted:
            continue
        column = _plain(column)
        types[name] = type_name(column.type)
        columns[name] = convert(column)
    return Side(table.num_rows, types, columns)


def convert(column: pa.ChunkedArray) -> Array | Counts:
    """A numeric column as float64 with NaN for nulls; anything else as value counts."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = _plain(column)
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        return column.cast(pa.float64()).to_numpy()  # type: ignore[no-any-return]
    if pa.types.is_null(column.type):
        return Counts((), (), len(column))
    counted = pc.value_counts(column)
    values = counted.field("values").to_pylist()
    counts = counted.field("counts").to_pylist()
    kept = [(v, n) for v, n in zip(values, counts, strict=True) if v is not None]
    return Counts(tuple(v for v, _ in kept), tuple(int(n) for _, n in kept), column.null_count)


def type_name(kind: pa.DataType) -> str:
    """The dataset schema's word for an Arrow type."""
    import pyarrow as pa

    if pa.types.is_boolean(kind):
        return "bool"
    if pa.types.is_integer(kind):
        return "int"
    if pa.types.is_floating(kind):
        return "float"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "string"
    if pa.types.is_null(kind):
        return "null"
    return "other"


def _plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    import pyarrow as pa

    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    return column
