"""The bootstrap's kernels: each metric as a function of weighted sums of per-row columns.

:class:`Kernels` holds, per metric, the per-row columns it needs (hits, true positives,
squared errors, log losses...) and a pair of functions (base, head) that turn their
weighted sums into the metric; ROC AUC adds one cumulative sum per chunk of resamples
(``_auc_term``). :mod:`engine.review.significance` draws the weights. Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.definitions.names import CLASSIFICATION_METRICS, REGRESSION_METRICS

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from engine.review.pairing import Paired

    Array = NDArray[Any]
    Stat = Callable[[Array, Array], Array]
    AucTerm = Callable[[Array, dict[object, tuple[Array, Array]]], Array]

_PRF = ("precision", "recall", "f1")


_SIDES = ("base", "head")


class Kernels:
    """Per-row columns, and for each metric a pair of functions (base, head) of their sums.

    ``add(metric)`` registers the columns a metric needs (each computed once, shared
    between metrics) and its two stats. A stat takes ``sums`` (resamples x columns) and
    ``aucs`` (resamples x AUC terms) and returns one value per resample; NaN where the
    metric is undefined on that resample.
    """

    def __init__(self, paired: Paired) -> None:
        self.p = paired
        self.columns: list[Array] = []
        self.keys: dict[tuple[Any, ...], int] = {}
        self.terms: list[AucTerm] = []
        self.stats: dict[str, tuple[Stat, Stat]] = {}

    @property
    def n(self) -> int:
        """Test rows."""
        return self.p.rows

    def add(self, metric: str) -> bool:
        """Register ``metric``; False when it can't be resampled here."""
        task = "regression" if metric in REGRESSION_METRICS else "classification"
        if task != self.p.task or metric not in CLASSIFICATION_METRICS + REGRESSION_METRICS:
            return False
        name = metric.removesuffix("_macro")
        if name in _PRF:
            base, head = (self._prf(side, name, macro=name != metric) for side in _SIDES)
        else:
            base, head = (getattr(self, "_" + name)(side) for side in _SIDES)
        if base is None or head is None:
            return False
        self.stats[metric] = (base, head)
        return True

    def matrix(self) -> Array:
        """The per-row columns as one (rows x columns) matrix."""
        import numpy as np

        if not self.columns:
            return np.zeros((self.n, 0))
        return np.column_stack(self.columns).astype(np.float64)

    def auc(self, weights: Array) -> Array:
        """Every AUC term on every weight row: (resamples x terms)."""
        import numpy as np

        out = np.empty((weights.shape[0], len(self.terms)))
        shared: dict[object, tuple[Array, Array]] = {}
        for j, term in enumerate(self.terms):
            out[:, j] = term(weights, shared)
        return out

    def col(self, key: tuple[Any, ...], make: Callable[[], Array]) -> int:
        """The index of a per-row column, computed once per key."""
        if key not in self.keys:
            self.keys[key] = len(self.columns)
            self.columns.append(make())
        return self.keys[key]

    def _pred(self, side: str) -> Array:
        return self.p.base_pred if side == "base" else self.p.head_pred

    def _proba(self, side: str) -> Array | None:
        return self.p.base_proba if side == "base" else self.p.head_proba

    # --- classification, from label counts ---------------------------------------------

    def _true(self, c: int) -> int:
        """Column: the row's true label is class ``c``."""
        return self.col(("true", c), lambda: self.p.y_true == c)

    def _predicted(self, side: str, c: int) -> int:
        """Column: ``side`` predicted class ``c``."""
        return self.col(("pp", side, c), lambda: self._pred(side) == c)

    def _hit(self, side: str, c: int) -> int:
        """Column: ``side`` predicted class ``c`` and it is the true label."""
        return self.col(("tp", side, c), lambda: (self.p.y_true == c) & (self._pred(side) == c))

    def _accuracy(self, side: str) -> Stat:
        j, n = self.col(("hit", side), lambda: self._pred(side) == self.p.y_true), self.n
        return lambda s, a: s[:, j] / n

    def _balanced_accuracy(self, side: str) -> Stat:
        k = range(len(self.p.classes))
        true = [self._true(c) for c in k]
        hits = [self._hit(side, c) for c in k]
        return lambda s, a: _mean_defined(s[:, hits] / s[:, true])

    def _prf(self, side: str, which: str, macro: bool) -> Stat | None:
        """Precision, recall or F1: of class 1 for two classes, else macro-averaged."""
        k = len(self.p.classes)
        if not macro and k != 2:
            return None  # binary metrics: the positive class is the second of two
        labels = range(k) if macro else [1]
        tp = [self._hit(side, c) for c in labels]
        pp = [self._predicted(side, c) for c in labels]
        true = [self._true(c) for c in labels]

        def stat(s: Array, a: Array) -> Array:
            import numpy as np

            hit, pred, actual = s[:, tp], s[:, pp], s[:, true]
            num, den = {
                "precision": (hit, pred),
                "recall": (hit, actual),
                "f1": (2 * hit, pred + actual),
            }[which]
            value = np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)
            if not macro:
                return value[:, 0]
            # sklearn averages over the labels present in y_true or y_pred
            return _mean_defined(np.where(pred + actual > 0, value, np.nan))

        return stat

    # --- classification, from probabilities --------------------------------------------

    def _log_loss(self, side: str) -> Stat | None:
        import numpy as np

        proba, y, n = self._proba(side), self.p.y_true, self.n
        if proba is None:
            return None
        eps = np.finfo(np.float64).eps  # sklearn clips the same way
        true_p = proba[np.arange(n), y]
        j = self.col(("log_loss", side), lambda: -np.log(np.clip(true_p, eps, 1 - eps)))
        return lambda s, a: s[:, j] / n

    def _roc_auc(self, side: str) -> Stat | None:
        proba, y = self._proba(side), self.p.y_true
        k = len(self.p.classes)
        if proba is None or k < 2:
            return None
        # binary: the second class's score; multiclass: one-vs-rest, macro average
        targets = [1] if k == 2 else list(range(k))
        first = len(self.terms)
        self.terms += [_auc_term(proba[:, c], y == c, c) for c in targets]
        cols = list(range(first, len(self.terms)))
        return lambda s, a: a[:, cols].mean(axis=1)

    # --- regression ----------------------------------------------------------------------

    def _squared_errors(self, side: str) -> int:
        return self.col(("se", side), lambda: (self._pred(side) - self.p.y_true) ** 2)

    def _rmse(self, side: str) -> Stat:
        import numpy as np

        j, n = self._squared_errors(side), self.n
        return lambda s, a: np.sqrt(s[:, j] / n)

    def _mae(self, side: str) -> Stat:
        import numpy as np

        j, n = self.col(("ae", side), lambda: np.abs(self._pred(side) - self.p.y_true)), self.n
        return lambda s, a: s[:, j] / n

    def _r2(self, side: str) -> Stat:
        import numpy as np

        # centre y first: the one-pass total sum of squares then loses no precision
        y = self.p.y_true - self.p.y_true.mean()
        j_y, j_yy = self.col(("y",), lambda: y), self.col(("yy",), lambda: y * y)
        j_se, n = self._squared_errors(side), self.n

        def stat(s: Array, a: Array) -> Array:
            total = s[:, j_yy] - s[:, j_y] ** 2 / n
            flat = total <= 1e-12 * np.maximum(s[:, j_yy], 1e-300)
            # sklearn's r2_score on a constant target: 1 if perfect, else 0
            fallback = np.where(s[:, j_se] == 0, 1.0, 0.0)
            return np.where(flat, fallback, 1 - s[:, j_se] / np.where(flat, 1, total))

        return stat


def _auc_term(scores: Array, positive: Array, key: object) -> AucTerm:
    """ROC AUC of ``scores`` for ``positive`` rows, as a function of the row weights.

    AUC is the weighted share of (positive, negative) pairs ranked right, ties half:
    sum over positives of w_i times the weight of negatives scored below it. Negatives
    are sorted once; per chunk, a cumulative sum of their weights answers every positive.
    Terms with the same ``key`` (the same positive rows: base and head) share the
    positives' weights through ``shared``.
    """
    import numpy as np

    neg = np.flatnonzero(~positive)
    neg = neg[np.argsort(scores[neg], kind="stable")]
    pos = np.flatnonzero(positive)
    below = np.searchsorted(scores[neg], scores[pos], side="left")
    upto = np.searchsorted(scores[neg], scores[pos], side="right")
    ties = bool(np.any(below != upto))

    def term(weights: Array, shared: dict[object, tuple[Array, Array]]) -> Array:
        if key not in shared:
            # np.take, not weights[:, idx]: numpy's 2-D fancy indexing is ~10x slower here
            taken = np.take(weights, pos, axis=1)
            shared[key] = (taken, taken.sum(axis=1, dtype=np.int64))
        w_pos, total_pos = shared[key]
        # integer weights: exact counts, and half the bytes of float64 to move
        cum = np.zeros((weights.shape[0], neg.size + 1), dtype=np.int32)
        np.cumsum(np.take(weights, neg, axis=1), axis=1, out=cum[:, 1:])
        twice = _row_dot(w_pos, np.take(cum, below, axis=1))
        # a tie counts half: (negatives below + negatives at or below) / 2
        twice += _row_dot(w_pos, np.take(cum, upto, axis=1)) if ties else twice
        pairs = total_pos * cum[:, -1].astype(np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return twice / (2.0 * pairs)

    return term


def _row_dot(a: Array, b: Array) -> Array:
    """Row-wise dot products of two integer matrices, exact in int64."""
    import numpy as np

    return np.einsum("ij,ij->i", a, b, dtype=np.int64)


def _mean_defined(values: Array) -> Array:
    """Row means over the non-NaN entries; NaN where a row has none."""
    import numpy as np

    ok = ~np.isnan(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, values, 0.0).sum(axis=1) / ok.sum(axis=1)


__all__ = ["Kernels"]
