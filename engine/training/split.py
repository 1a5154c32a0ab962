"""The train/test split, stable per row: a row keeps its side when other rows come and go.

Each row has an *identity*: a 64-bit hash of its ``id_column`` value, or of its content
(every column, by name) when the dataset has no id column. A row's side is decided by
its identity mixed with the split seed, never by its position, so appending rows to a
dataset leaves every existing row where it was:

- **unstratified**: a row is held out when its salted hash, read as a number in
  [0, 1), is below ``test_size``. Adding or removing other rows never moves it.
- **stratified** (classification with ``stratify: true``): within each class the rows
  are ranked by salted hash and the first ``round(n * test_size)`` are held out, so
  each class keeps its share exactly. A row moves only at its class's cutoff: adding or
  removing ``k`` rows of a class moves at most ``k + 1`` of its other rows.

The identities are also the version's lineage: the store keeps which rows each version
trained on, so a comparison can score an older version only on rows it never saw
(:mod:`engine.review.pipeline`). Pure: numpy and values in, arrays out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Hashes = npt.NDArray[np.uint64]
Mask = npt.NDArray[np.bool_]

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
        return _tagged(array.astype(np.uint64), _BOOL)
    if kind in "iu":
        return _tagged(array.astype(np.int64).view(np.uint64), _INT)
    if kind == "f":
        return _floats(array.astype(np.float64))
    if kind in "mM":
        out = _tagged(array.view(np.int64).view(np.uint64), _TIME)
        out[np.isnat(array)] = _mix(np.asarray([_NULL], dtype=np.uint64))[0]
        return out
    return np.fromiter((_one(v) for v in array.ravel()), dtype=np.uint64, count=array.size)


def _floats(array: npt.NDArray[np.float64]) -> Hashes:
    whole = np.isfinite(array) & (np.floor(array) == array) & (np.abs(array) < 2.0**63)
    as_int = np.where(whole, array, 0).astype(np.int64).view(np.uint64)
    out = np.where(whole, _tagged(as_int, _INT), _tagged(array.view(np.uint64), _FLOAT))
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
    return _tagged(np.asarray([_text(str(value))], dtype=np.uint64), _TEXT)[0]


def _text(text: str) -> np.uint64:
    return np.uint64(int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big"))


def _tagged(values: Hashes, tag: np.uint64) -> Hashes:
    with np.errstate(over="ignore"):
        return _mix(values + tag * _GOLDEN)


def _mix(z: Hashes) -> Hashes:
    """splitmix64's finalizer: every input bit moves every output bit."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _canonical(value: Any) -> str:
    """A label's spelling, so that 1 and 1.0 are one class."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def salted(identity: Hashes, seed: int) -> npt.NDArray[np.float64]:
    """Each row's place in [0, 1) for this seed: its identity mixed with the seed."""
    z = _tagged(identity, np.uint64((seed + 7) % 2**64))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def assign(
    identity: Hashes,
    *,
    seed: int,
    test_size: float,
    labels: Sequence[Any] | None = None,
) -> Mask:
    """Which rows are held out for testing (True) given their identities.

    ``labels`` stratifies: each class holds out ``round(n * test_size)`` of its rows
    (at least one and at most all but one, for a class of two or more rows).
    """
    place = salted(identity, seed)
    if labels is None:
        test: Mask = place < test_size
        return _both_sides(test, place)
    test = np.zeros(len(place), dtype=np.bool_)
    for members in _classes(labels):
        n = len(members)
        held = min(max(round(n * test_size), 1), n - 1) if n >= 2 else 0
        # ties are as rare as 64-bit collisions; the identity breaks them the same way
        order = np.lexsort((identity[members], place[members]))
        test[members[order[:held]]] = True
    return test


def _classes(labels: Sequence[Any]) -> Iterable[npt.NDArray[np.intp]]:
    """The row positions of each class; 1 and 1.0 are one class."""
    array = np.asarray(labels)
    if array.dtype.kind not in "biuf":
        array = np.asarray([_canonical(v) for v in array.ravel()], dtype=object).astype(str)
    _, inverse, counts = np.unique(array, return_inverse=True, return_counts=True)
    order = np.argsort(inverse.ravel(), kind="stable")
    yield from np.split(order, np.cumsum(counts)[:-1])


def _both_sides(test: Mask, place: npt.NDArray[np.float64]) -> Mask:
    """A split with a side left empty (a handful of rows) gets one row moved over."""
    if len(test) >= 2 and not test.any():
        test[int(np.argmin(place))] = True
    elif len(test) >= 2 and test.all():
        test[int(np.argmax(place))] = False
    return test
