"""Columns of JSON values kept compact: what a month of logged requests costs in memory.

Logged inputs arrive one request at a time as Python values (a float is 32 bytes with its
list slot; a string from ``json.loads`` a new object per occurrence). :class:`ColumnsBuilder`
keeps only the last :data:`CHUNK` rows as Python values and turns them into Arrow arrays
(8 bytes a float), so holding a window's inputs costs about what Arrow would, never a
Python object per value read.

Types are read as :func:`table_of` reads whole lists: ``pa.array`` infers each column's
type, and a column of mixed kinds (numbers and text: a type change the quality check
reports) becomes text. Chunks are typed apart, then made one: a null chunk takes the
others' type, integers and floats make floats (as ``pa.array([1, 2.5])`` does), and
anything else is the mixed case, read as text (``str`` of each value).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

CHUNK = 1 << 15
"""Rows held as Python values before they become Arrow arrays."""


def array_of(values: list[Any]) -> pa.Array:
    """One column from JSON values; a column of mixed kinds is read as text."""
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):  # OverflowError: an int
        # beyond 64 bits, which a client can send and a log holds
        return pa.array([None if v is None else str(v) for v in values], pa.string())


def table_of(columns: Mapping[str, list[Any]]) -> pa.Table:
    """A table from columns of JSON values (see :func:`array_of`)."""
    import pyarrow as pa

    return pa.table({name: array_of(values) for name, values in columns.items()})


def one_array(chunks: Sequence[pa.Array]) -> pa.Array:
    """Typed chunks of one column as one array, typed as the whole column would be."""
    import pyarrow as pa

    kinds = {c.type for c in chunks if not pa.types.is_null(c.type)}
    if not kinds:
        return pa.nulls(sum(len(c) for c in chunks))
    if kinds == {pa.int64(), pa.float64()}:
        kinds = {pa.float64()}
    if len(kinds) == 1:
        (kind,) = kinds
        return pa.concat_arrays([c.cast(kind) for c in chunks]) if chunks else pa.nulls(0)
    # the mixed case (a type change): text, as table_of reads it
    return pa.concat_arrays(
        [
            pa.array([None if v is None else str(v) for v in c.to_pylist()], pa.string())
            for c in chunks
        ]
    )


class ColumnBuilder:
    """One column of JSON values, appended one at a time, kept as typed chunks."""

    __slots__ = ("chunk", "chunks", "count", "values")

    def __init__(self, missing: int = 0, chunk: int = CHUNK):
        import pyarrow as pa

        self.chunks: list[pa.Array] = [pa.nulls(missing)] if missing else []
        self.values: list[Any] = []
        self.count = missing
        self.chunk = chunk

    def append(self, value: Any) -> None:
        """Add one value (None is missing)."""
        self.values.append(value)
        self.count += 1
        if len(self.values) >= self.chunk:
            self.flush()

    def flush(self) -> None:
        """Type the values held so far as one chunk."""
        if self.values:
            self.chunks.append(array_of(self.values))
            self.values = []

    def finish(self) -> pa.Array:
        """The column (the chunks are let go: the column is their copy)."""
        self.flush()
        chunks, self.chunks = self.chunks, []
        return one_array(chunks)


class ColumnsBuilder:
    """Rows of a model's inputs as columns: a mapping row keeps its own keys (a column the
    model does not know shows up, a missing one is missing); a list row is read in
    ``features`` order (callers check its width first)."""

    def __init__(self, features: Sequence[str], chunk: int = CHUNK):
        self.features = tuple(features)
        self.chunk = chunk
        self.columns: dict[str, ColumnBuilder] = {}
        self.rows = 0

    def add(self, rows: Iterable[Any]) -> None:
        """Append rows (mappings, or lists of the features' width)."""
        columns = self.columns
        for row in rows:
            items = (
                row.items()
                if type(row) is dict or isinstance(row, Mapping)  # a dict: no ABC check
                else zip(self.features, row, strict=True)
            )
            seen = 0
            for key, value in items:
                name = key if isinstance(key, str) else str(key)
                column = columns.get(name)
                if column is None:  # a column first seen now: missing in the rows before
                    column = columns[name] = ColumnBuilder(self.rows, self.chunk)
                column.append(value)
                seen += 1
            self.rows += 1
            if seen != len(columns):
                for column in columns.values():
                    if column.count < self.rows:
                        column.append(None)

    def finish(self) -> pa.Table:
        """The columns as one table, in the order they were first seen."""
        import pyarrow as pa

        if not self.columns:
            return pa.table({})
        columns, self.columns = self.columns, {}
        return pa.table({name: column.finish() for name, column in columns.items()})
