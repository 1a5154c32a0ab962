"""Pairing: can two evaluated versions be compared row by row, and on which rows?

``aligned`` matches base rows to head rows by id and checks they carry the same labels;
for classifiers it maps both versions' labels and probabilities onto the union of their
classes. Otherwise it says why (:class:`NotPaired`), and the caller must score the base
version on head's test set. Pure; numpy is imported inside functions only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from engine.review.evaluation import Evaluation

    Array = NDArray[Any]


@dataclass(frozen=True)
class Paired:
    """Both versions' predictions on the same test rows, in head's row order.

    For classifiers, labels are codes into ``classes`` and probabilities have one column
    per class (zero where a version never saw the class).
    """

    task: str
    rows: int
    y_true: Array
    base_pred: Array
    head_pred: Array
    base_proba: Array | None = None
    head_proba: Array | None = None
    classes: tuple[Any, ...] = ()


@dataclass(frozen=True)
class NotPaired:
    """Why two evaluations can't be compared row by row."""

    reason: str


def aligned(base: Evaluation, head: Evaluation) -> Paired | NotPaired:
    """Match base rows to head rows by id, or say why the comparison can't be paired."""
    import numpy as np

    for label, ev in (("base", base), ("head", head)):
        n = len(ev.row_ids)  # type: ignore[arg-type]
        if n == 0 or len(ev.y_true) != n or len(ev.y_pred) != n:  # type: ignore[arg-type]
            return NotPaired(f"the {label} version {ev.version} has no stored test predictions")
    if base.task != head.task:
        return NotPaired(f"the task changed from {base.task} to {head.task}")
    take = _match_rows(np.asarray(base.row_ids), np.asarray(head.row_ids))
    if isinstance(take, NotPaired):
        return take
    y_b, y_h = np.asarray(base.y_true)[take], np.asarray(head.y_true)
    floats = y_b.dtype.kind == "f" and y_h.dtype.kind == "f"
    if not np.array_equal(y_b, y_h, equal_nan=floats):
        return NotPaired(
            "the same rows carry different labels in base and head (the data changed): "
            "score the base version on head's test set to pair them"
        )
    pred_b, pred_h = np.asarray(base.y_pred)[take], np.asarray(head.y_pred)
    if head.task != "classification":
        y_f, b_f, h_f = (a.astype(np.float64) for a in (y_h, pred_b, pred_h))
        return Paired(head.task, y_h.size, y_f, b_f, h_f)
    return _classified(base, head, take, y_h, pred_b, pred_h)


def _match_rows(ids_b: Array, ids_h: Array) -> Array | NotPaired:
    """``take`` such that head row ``i`` is base row ``take[i]``, or why there is none."""
    import numpy as np

    if ids_b.dtype.kind != ids_h.dtype.kind or "O" in ids_b.dtype.kind + ids_h.dtype.kind:
        ids_b, ids_h = ids_b.astype(str), ids_h.astype(str)  # mixed ids compare as text
    order_b, order_h = np.argsort(ids_b, kind="stable"), np.argsort(ids_h, kind="stable")
    sorted_b, sorted_h = ids_b[order_b], ids_h[order_h]
    for label, ids in (("base", sorted_b), ("head", sorted_h)):
        if ids.size > 1 and bool(np.any(ids[1:] == ids[:-1])):
            return NotPaired(f"row ids repeat in the {label} test set")
    if sorted_b.shape != sorted_h.shape or not np.array_equal(sorted_b, sorted_h):
        common = np.intersect1d(sorted_b, sorted_h, assume_unique=True).size
        return NotPaired(
            f"the test sets differ (base {sorted_b.size} rows, head {sorted_h.size}, "
            f"{common} in common): score the base version on head's test set to pair them"
        )
    take = np.empty_like(order_b)
    take[order_h] = order_b
    return take


def _classified(
    base: Evaluation, head: Evaluation, take: Array, y: Array, pred_b: Array, pred_h: Array
) -> Paired:
    """Labels as codes into the union of both versions' classes and every label seen."""
    import numpy as np

    known = [np.asarray(list(ev.classes or []) or np.empty(0, y.dtype)) for ev in (base, head)]
    parts = [*known, y, pred_b, pred_h]
    classes, codes = np.unique(np.concatenate(parts), return_inverse=True)
    bounds = np.cumsum([len(p) for p in parts])[:-1]
    code_b, code_h, y_c, pb_c, ph_c = np.split(codes.ravel(), bounds)
    shape = (y.size, len(classes))
    return Paired(
        "classification",
        y.size,
        y_c,
        pb_c,
        ph_c,
        _widen(base.proba, code_b, shape, take),
        _widen(head.proba, code_h, shape),
        tuple(c.item() if hasattr(c, "item") else c for c in classes),
    )


def _widen(
    proba: ArrayLike | None, columns: Array, shape: tuple[int, int], rows: Array | None = None
) -> Array | None:
    """Probabilities moved to their classes' ``columns`` of a zero matrix; None if unusable."""
    import numpy as np

    if proba is None:
        return None
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or not proba.shape[1] == len(columns) > 0:
        return None
    full = np.zeros(shape)
    full[:, columns] = proba if rows is None else proba[rows]
    return full


__all__ = ["NotPaired", "Paired", "aligned"]
