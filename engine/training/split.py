"""The train/test split, stable per row: a row keeps its side when other rows come and go.

Each row has an *identity* (:mod:`engine.data.identity`): a 64-bit hash of its
``id_column`` value, or of its content (every column, by name) when the dataset has no id
column. A row's side is decided by
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

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.data.identity import Hashes, tagged

Mask = npt.NDArray[np.bool_]


def _canonical(value: Any) -> str:
    """A label's spelling, so that 1 and 1.0 are one class."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def salted(identity: Hashes, seed: int) -> npt.NDArray[np.float64]:
    """Each row's place in [0, 1) for this seed: its identity mixed with the seed."""
    z = tagged(identity, np.uint64((seed + 7) % 2**64))
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
