"""A row's identity: a 64-bit hash of its id column, or of its content.

The same row has the same identity wherever it is read: numbers hash by value whatever
their dtype (3, 3.0 and numpy's int64(3) are one value), missing values are one value.
Training splits rows by identity (:mod:`engine.training.split`), the store records the
identities each version trained on (lineage, leak-free rescoring), and retraining on
drift adds only monitored rows whose identity is not in the data yet
(:mod:`engine.data.append`). Pure: numpy and values in, arrays out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Hashes = npt.NDArray[np.uint64]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class RowKey:
    """What a row's identity hashes: its id column, or its content (these columns)."""

    kind: Literal["id", "content"]
    columns: tuple[str, ...]

    def matches(self, other: RowKey) -> bool:
        """Whether identities under both keys name the same rows."""
        return self == other


def row_key(columns: Sequence[str], id_column: str | None) -> RowKey:
    """The identity of a dataset's rows: its id column, else every column by name."""
    if id_column is not None:
        return RowKey("id", (id_column,))
    return RowKey("content", tuple(sorted(columns)))


def identities(key: RowKey, columns: Mapping[str, Any], rows: int) -> Hashes:
    """One 64-bit identity per row, from the key's columns (name → values).

    Numbers hash by value whatever their dtype, so 3, 3.0 and numpy's int64(3) name the
    same row: an int column that meets a missing value is read as floats, and its other
    rows must keep their identity. Missing values (None, NaN) are one value. Numeric
    columns hash without a Python loop; text costs one small hash per cell.
    """
    names = key.columns if key.kind == "content" else ("",)
    out = np.zeros(rows, dtype=np.uint64)
    for name, column in zip(names, (columns[c] for c in key.columns), strict=True):
        cells = _cells(column)
        if len(cells) != rows:
            raise ValueError(f"column {name!r} has {len(cells)} values, expected {rows}")
        out = _mix(out ^ _mix(cells ^ _text(name)))
    return out


_NULL, _INT, _FLOAT, _BOOL, _TEXT, _TIME = (np.uint64(t) for t in range(1, 7))


def _cells(values: Any) -> Hashes:
    """Each value as a 64-bit hash of its canonical form (see :func:`identities`)."""
    array = np.asarray(values)
    kind = array.dtype.kind
    if kind == "b":
        return tagged(array.astype(np.uint64), _BOOL)
    if kind in "iu":
        return tagged(array.astype(np.int64).view(np.uint64), _INT)
    if kind == "f":
        return _floats(array.astype(np.float64))
    if kind in "mM":
        out = tagged(array.view(np.int64).view(np.uint64), _TIME)
        out[np.isnat(array)] = _mix(np.asarray([_NULL], dtype=np.uint64))[0]
        return out
    return np.fromiter((_one(v) for v in array.ravel()), dtype=np.uint64, count=array.size)


def _floats(array: npt.NDArray[np.float64]) -> Hashes:
    whole = np.isfinite(array) & (np.floor(array) == array) & (np.abs(array) < 2.0**63)
    as_int = np.where(whole, array, 0).astype(np.int64).view(np.uint64)
    out = np.where(whole, tagged(as_int, _INT), tagged(array.view(np.uint64), _FLOAT))
    out[np.isnan(array)] = _mix(np.asarray([_NULL], dtype=np.uint64))[0]
    return out


def _one(value: Any) -> np.uint64:
    """One value of a text or mixed column, hashed as its numeric twin would be."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()  # numpy scalars as Python values
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return _cells(np.asarray([np.nan]))[0]
    if isinstance(value, bool | float) or (isinstance(value, int) and -(2**63) <= value < 2**63):
        return _cells(np.asarray([value]))[0]
    return tagged(np.asarray([_text(str(value))], dtype=np.uint64), _TEXT)[0]


def _text(text: str) -> np.uint64:
    return np.uint64(int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big"))


def tagged(values: Hashes, tag: np.uint64) -> Hashes:
    with np.errstate(over="ignore"):
        return _mix(values + tag * _GOLDEN)


def _mix(z: Hashes) -> Hashes:
    """splitmix64's finalizer: every input bit moves every output bit."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


__all__ = ["Hashes", "RowKey", "identities", "row_key", "tagged"]
