"""Significance: how sure are we that head differs from base on the same test rows?

Both versions predicted the same held-out rows, so their errors are correlated and the
honest question is about the *difference*: draw the test rows with replacement, score
both versions on that draw, keep head - base; repeat; the middle 95% of those
differences is the interval. This module does it fast, with no Python loop per resample:

- A resample is a weight vector ``w`` (how often each row was drawn). Every metric here
  is a function of a few weighted sums ``w @ column`` over per-row columns (hits, true
  positives, squared errors, log losses...), so a chunk of resamples is a weight
  matrix ``W`` times each column. ROC AUC adds one cumulative sum per chunk
  (``_auc_term``).
- Weights come from an index matrix (``integers(0, n, (chunk, n))`` counted with one
  ``bincount``), chunked to bound memory. Metrics that depend only on the label triple
  (true, base, head) — accuracy, balanced accuracy, precision, recall, F1 — collapse
  the rows into a handful of categories whose counts are drawn directly from their
  multinomial: the same distribution as drawing rows, a hundred times cheaper.

``aligned`` decides whether a paired comparison is possible at all: the same row ids on
both sides with the same labels. Otherwise it says why, and the caller must score the
base version on head's test set. ``mcnemar`` tests accuracy on the discordant rows.

Reading order for the bootstrap: ``paired_bootstrap`` splits the metrics into the two
routes; ``_intervals`` turns one route's draws into intervals; ``_draw_categories`` and
``_draw_rows`` draw; ``_Kernels`` holds, per metric, the per-row columns it needs and
the functions that turn their weighted sums into the metric (``_auc_term`` for AUC).

numpy is imported inside functions only. scipy is not imported at all: McNemar's two
p-values are closed forms (``math.comb``, ``math.erfc``) equal to
``scipy.stats.binomtest`` and ``scipy.stats.chi2.sf`` (the tests check), and
``import scipy.stats`` alone takes ~0.7 s, more than ``mlops diff``'s whole budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from engine.definitions.formats import CLASSIFICATION_METRICS, REGRESSION_METRICS

if TYPE_CHECKING:
    from numpy.random import Generator
    from numpy.typing import ArrayLike, NDArray

    from engine.review.evaluation import Evaluation

    Array = NDArray[Any]
    Stat = Callable[[Array, Array], Array]
    AucTerm = Callable[[Array, dict[object, tuple[Array, Array]]], Array]

CHUNK_ELEMENTS = 1 << 18
"""Resample weights held at once (chunk x rows); small enough to stay in cache."""
EXACT_BELOW = 25
"""McNemar uses the exact binomial test below this many discordant rows."""
# metrics that need per-row numbers beyond the (true, base, head) label triple
_CONTINUOUS = frozenset({"log_loss", "rmse", "mae", "r2", "roc_auc"})
_PRF = ("precision", "recall", "f1")
_SIDES = ("base", "head")


@dataclass(frozen=True)
class Interval:
    """A bootstrap confidence interval of head - base."""

    low: float
    high: float
    estimate: float
    """head - base on the test rows themselves."""
    resamples: int
    """Resamples where the metric was defined on both sides."""
    confidence: float = 0.95

    @property
    def spans_zero(self) -> bool:
        """Whether zero is inside the interval: no significant change."""
        return self.low <= 0.0 <= self.high


@dataclass(frozen=True)
class McNemar:
    """McNemar's test on the rows exactly one of the two versions got right."""

    base_only: int
    head_only: int
    p_value: float
    method: Literal["exact", "chi-square"]
    statistic: float | None = None


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


def mcnemar(base_only: int, head_only: int, *, exact_below: int = EXACT_BELOW) -> McNemar:
    """McNemar's test: exact binomial below ``exact_below`` discordant rows, else chi-square.

    ``base_only`` counts rows only the base got right, ``head_only`` rows only the head did.
    """
    n = base_only + head_only
    if n < exact_below:
        # two-sided binomial test at p = 1/2: the distribution is symmetric, so twice the
        # smaller tail (scipy.stats.binomtest gives the same value)
        tail = sum(math.comb(n, i) for i in range(min(base_only, head_only) + 1))
        return McNemar(base_only, head_only, min(1.0, 2 * tail / 2**n), "exact")
    # Edwards' continuity correction, skipped when the counts are equal (as R does)
    gap = abs(base_only - head_only)
    stat = (gap - 1) ** 2 / n if gap else 0.0
    return McNemar(base_only, head_only, math.erfc(math.sqrt(stat / 2)), "chi-square", stat)


def paired_bootstrap(
    paired: Paired,
    metrics: Sequence[str],
    *,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Interval]:
    """Percentile interval of head - base for each metric this module knows how to resample.

    Metrics it can't compute (unknown names, AUC without probabilities, undefined on the
    test rows, such as AUC on a single class) are left out of the result.
    """
    if paired.rows == 0:
        return {}
    out: dict[str, Interval] = {}
    unique = list(dict.fromkeys(metrics))
    # label-only metrics take the cheap exact route (_draw); the rest share index draws
    for discrete in (True, False):
        group = [m for m in unique if (m not in _CONTINUOUS) == discrete]
        if group:
            out |= _intervals(paired, group, resamples, seed, confidence, discrete)
    return {m: out[m] for m in unique if m in out}


def _intervals(
    paired: Paired,
    metrics: list[str],
    resamples: int,
    seed: int,
    confidence: float,
    discrete: bool,
) -> dict[str, Interval]:
    import numpy as np

    kernels = _Kernels(paired)
    names = [m for m in metrics if kernels.add(m)]
    if not names:
        return {}
    columns = kernels.matrix()
    whole = np.ones((1, paired.rows))
    sums_1, auc_1 = whole @ columns, kernels.auc(whole.astype(np.int32))
    sums, aucs = _draw(kernels, columns, resamples, seed, discrete)
    tail = (1 - confidence) / 2 * 100
    out = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for name in names:
            stat_b, stat_h = kernels.stats[name]
            estimate = float(stat_h(sums_1, auc_1)[0] - stat_b(sums_1, auc_1)[0])
            diffs = stat_h(sums, aucs) - stat_b(sums, aucs)
            diffs = diffs[~np.isnan(diffs)]
            if np.isnan(estimate) or diffs.size == 0:
                continue
            low, high = np.percentile(diffs, [tail, 100 - tail])
            out[name] = Interval(float(low), float(high), estimate, int(diffs.size), confidence)
    return out


def _draw(
    kernels: _Kernels, columns: Array, resamples: int, seed: int, discrete: bool
) -> tuple[Array, Array]:
    """Weighted column sums (resamples x columns) and AUC terms (resamples x terms)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if discrete:
        return _draw_categories(kernels.p, columns, resamples, rng), np.empty((resamples, 0))
    return _draw_rows(kernels, columns, resamples, rng)


def _draw_categories(paired: Paired, columns: Array, resamples: int, rng: Generator) -> Array:
    """Column sums from category counts: for metrics of the (true, base, head) labels only.

    Rows with the same three labels are interchangeable, so drawing how many of each
    category a resample holds is exactly as good as drawing ``n`` rows, and far cheaper.
    """
    import numpy as np

    n, k = paired.rows, max(len(paired.classes), 1)
    key = (paired.y_true * k + paired.base_pred) * k + paired.head_pred
    _, first, counts = np.unique(key, return_index=True, return_counts=True)
    weights = rng.multinomial(n, counts / n, size=resamples).astype(np.float64)
    return weights @ columns[first]


def _draw_rows(
    kernels: _Kernels, columns: Array, resamples: int, rng: Generator
) -> tuple[Array, Array]:
    """Column sums and AUC terms from rows drawn with replacement, a chunk at a time."""
    import numpy as np

    n = kernels.n
    chunk = max(1, min(resamples, CHUNK_ELEMENTS // n))
    offsets = (np.arange(chunk, dtype=np.int64) * n)[:, None]
    by_column = np.ascontiguousarray(columns.T)
    sums = np.empty((resamples, columns.shape[1]))
    aucs = np.empty((resamples, len(kernels.terms)))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        draws = slice(start, start + size)
        # one bincount counts every resample of the chunk: resample r owns bins r*n...
        idx = rng.integers(0, n, size=(size, n), dtype=np.int64)
        idx += offsets[:size]
        counts = np.bincount(idx.ravel(), minlength=size * n).reshape(size, n)
        if len(by_column):
            weights = counts.astype(np.float64)
            for j, column in enumerate(by_column):
                # einsum, not BLAS: a threaded BLAS on these thin products slows down
                # tenfold when another process holds a core (a CI runner, a parallel test)
                sums[draws, j] = np.einsum("ij,j->i", weights, column)
        if kernels.terms:
            aucs[draws] = kernels.auc(counts.astype(np.int32))
    return sums, aucs


class _Kernels:
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


__all__ = [
    "CHUNK_ELEMENTS",
    "EXACT_BELOW",
    "Interval",
    "McNemar",
    "NotPaired",
    "Paired",
    "aligned",
    "mcnemar",
    "paired_bootstrap",
]
