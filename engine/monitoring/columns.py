"""From Arrow tables to what the drift tests read: numbers as numpy, categories as counts.

The one place monitoring touches pyarrow. Numeric columns become float64 arrays with NaN
for nulls (zero-copy where Arrow allows); a column the dataset declares ``date`` becomes
:class:`Dates` (day numbers, its bad values counted); every other column becomes
:class:`Counts` from ``pyarrow.compute.value_counts``, so a million strings are counted in
C++ and never turned into Python objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.monitoring.drift import Counts, Dates

if TYPE_CHECKING:
    import pyarrow as pa
    from numpy.typing import NDArray

    Array = NDArray[Any]


@dataclass(frozen=True)
class Side:
    """One side of a comparison: its rows, each column's declared-style type and values."""

    rows: int
    types: dict[str, str]
    """Column name to int, float, string, bool, date (the dataset schema's words) or other."""
    columns: Mapping[str, Array | Counts | Dates]


@dataclass(frozen=True)
class Columns(Mapping[str, "Array | Counts | Dates"]):
    """A table's columns, converted when read: numeric arrays are made one at a time and
    not kept (a million-row side holds one float64 copy of one column, not of twenty);
    value counts are small and kept, as they cost a hash pass to make; so are dates."""

    table: pa.Table
    names: tuple[str, ...]
    dates: frozenset[str] = frozenset()
    """Columns read as dates."""
    _counted: dict[str, Counts | Dates] = field(default_factory=dict, compare=False)

    def __getitem__(self, name: str) -> Array | Counts | Dates:
        if name not in self.names:
            raise KeyError(name)
        if name in self._counted:
            return self._counted[name]
        value: Array | Counts | Dates
        if name in self.dates:  # kept too: parsing text into dates costs more than a copy
            value = self._counted[name] = convert_dates(self.table.column(name))
            return value
        value = convert(self.table.column(name))
        if isinstance(value, Counts):
            self._counted[name] = value
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def side_of(
    table: pa.Table, names: Iterable[str] | None = None, *, dates: Iterable[str] = ()
) -> Side:
    """The columns of ``table`` (those in ``names`` when given), converted when read.

    Columns in ``dates`` (declared ``date``) are dates when they hold text, dates or
    timestamps; a date column that holds numbers keeps its type, which quality reports.
    """
    from engine.data.dates import is_temporal, is_text

    wanted = set(table.column_names if names is None else names)
    kept = tuple(n for n in table.column_names if n in wanted)
    types = {n: type_name(_plain(table.column(n)).type) for n in kept}
    declared = set(dates)
    readable = frozenset(
        n
        for n in kept
        if n in declared and (is_text(kind := _plain(table.column(n)).type) or is_temporal(kind))
    )
    types.update({n: "date" for n in readable})
    return Side(table.num_rows, types, Columns(table, kept, readable))


def convert_dates(column: pa.ChunkedArray) -> Dates:
    """A date column as day numbers (NaN for nulls and for values that are not dates)."""
    from engine.data.dates import as_numbers, to_days

    days = to_days(_plain(column))
    nulls = days.days.null_count - days.bad_count
    return Dates(as_numbers(days.days), nulls, days.bad_count, days.first_bad)


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
