"""Live performance: once labels arrive, is the version still as good as its evaluation?

The labelled live predictions are scored per time window and over the whole period, and
each score is compared with the version's own test-set evaluation. Live rows and test
rows are different rows, so the comparison is *unpaired*: both sides are resampled
independently (a Bayesian bootstrap over (true, predicted) label pairs for classifiers,
Dirichlet with a total prior mass of one, so that a perfect test set is not taken as
certain; Poisson weights per row for regressors) and the interval of live - evaluation
is a percentile interval, the review's :class:`~engine.review.significance.Interval`.
A drop counts when the whole interval is worse than ``performance_drop``. Windows are
many looks at the data, so their intervals are Bonferroni-widened: with ten windows, each
is a 99.5% interval, and a stable version raises a false alarm in at most 5% of runs.

Pure: numpy only, plain values in and out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.definitions.formats import Task, lower_is_better
from engine.review.significance import Interval

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Array = NDArray[Any]

CLASSIFICATION = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "precision_macro",
    "recall_macro",
    "f1_macro",
)
REGRESSION = ("rmse", "mae")
RESAMPLES = 1000
MIN_REGRESSION_ROWS = 5
"""Labelled rows a regressor's window needs to be judged. Resampling one row gives the
same error every time (two or three rows, a handful of errors): no spread, so a stable
version "dropped" in 97% of runs with one row a window, 20% with three, 2.7% with five
(ten windows, 1,000-row evaluation, normal errors, seeded). Below it, scores only.
Classifiers' resampling has a prior that keeps small windows honest."""
CHUNK_ELEMENTS = 1 << 20


@dataclass(frozen=True)
class Labelled:
    """Predictions with their true labels: a version's test split, or live requests."""

    y_true: Sequence[Any]
    y_pred: Sequence[Any]
    times: Sequence[float | None] = ()


@dataclass(frozen=True)
class Window:
    """One time window's scores and how its judged metric compares with the evaluation."""

    start: float | None
    end: float | None
    rows: int
    metrics: dict[str, float | None]
    interval: Interval | None
    dropped: bool


@dataclass(frozen=True)
class Performance:
    """Live scores per window and overall, against the evaluation's scores."""

    metric: str
    """The metric judged: the model's primary metric when it can be scored live."""
    evaluation: dict[str, float | None]
    overall: Window
    windows: tuple[Window, ...]

    @property
    def dropped(self) -> bool:
        """Whether performance dropped significantly overall or in any window."""
        return self.overall.dropped or any(w.dropped for w in self.windows)


def live_metrics(task: Task, classes: Sequence[Any], declared: Sequence[str]) -> list[str]:
    """The metrics scored live: the model's own that can be, else the task's headline ones."""
    known = CLASSIFICATION if task == "classification" else REGRESSION
    binary_only = ("precision", "recall", "f1")
    usable = [m for m in declared if m in known and not (m in binary_only and len(classes) != 2)]
    if usable:
        return usable
    if task == "regression":
        return list(REGRESSION)
    return ["accuracy", *(binary_only if len(classes) == 2 else ("f1_macro",))]


def live_performance(
    task: Task,
    classes: Sequence[Any],
    metrics: Sequence[str],
    primary: str,
    evaluation: Labelled,
    live: Labelled,
    *,
    window_seconds: float,
    tolerance: float = 0.0,
    seed: int = 0,
) -> Performance:
    """Score ``live`` overall and per window against ``evaluation`` on ``metrics``."""
    import numpy as np

    judged = primary if primary in metrics else metrics[0]
    score = _Scorer(task, classes, metrics)
    reference = score.side(evaluation.y_true, evaluation.y_pred)
    times = np.array([np.nan if t is None else t for t in live.times], dtype=np.float64)
    groups = _windows(times, window_seconds) if times.size and not np.isnan(times).all() else []
    looks = max(len(groups), 1)
    overall = _judge(score, reference, live, np.arange(len(live.y_true)), times, judged,
                     tolerance, 0.95, seed)  # fmt: skip
    windows = tuple(
        _judge(score, reference, live, rows, times, judged, tolerance, 1 - 0.05 / looks, seed + i)
        for i, rows in enumerate(groups)
    )
    return Performance(judged, score.point(reference), overall, windows)


def _windows(times: Array, width: float) -> list[Array]:
    import numpy as np

    known = ~np.isnan(times)
    slot = np.where(known, np.floor(np.nan_to_num(times) / width), np.nan)
    return [np.flatnonzero(slot == s) for s in np.unique(slot[known])]


def _judge(
    score: _Scorer,
    reference: Any,
    live: Labelled,
    rows: Array,
    times: Array,
    judged: str,
    tolerance: float,
    confidence: float,
    seed: int,
) -> Window:
    import numpy as np

    side = score.side([live.y_true[i] for i in rows], [live.y_pred[i] for i in rows])
    point = score.point(side)
    interval = score.interval(judged, side, reference, confidence, seed)
    worse = lower_is_better(judged)
    dropped = interval is not None and (
        interval.low > tolerance if worse else interval.high < -tolerance
    )
    span = times[rows] if times.size else np.array([])
    span = span[~np.isnan(span)]
    start, end = (float(span.min()), float(span.max())) if span.size else (None, None)
    return Window(start, end, len(rows), point, interval, dropped)


class _Scorer:
    """Metrics as vectorised functions of resampled sufficient statistics.

    Classification: counts of each (true, predicted) pair, a kxk confusion matrix per
    resample. Regression: per-row errors with a weight per row and resample.
    """

    def __init__(self, task: Task, classes: Sequence[Any], metrics: Sequence[str]):
        self.task, self.metrics = task, list(metrics)
        self.classes = list(classes)
        self.code = {_key(c): i for i, c in enumerate(self.classes)}

    def side(self, y_true: Sequence[Any], y_pred: Sequence[Any]) -> Any:
        import numpy as np

        if self.task == "regression":
            return np.asarray(y_pred, dtype=np.float64) - np.asarray(y_true, dtype=np.float64)
        k = len(self.classes)
        codes = [self._code(t) * k + self._code(p) for t, p in zip(y_true, y_pred, strict=True)]
        return np.bincount(np.asarray(codes, dtype=np.intp), minlength=k * k).astype(np.float64)

    def _code(self, label: Any) -> int:
        code = self.code.get(_key(label))
        if code is None:  # a class the version never saw: a new column of the matrix
            code = self.code[_key(label)] = len(self.classes)
            self.classes.append(label)
        return code

    def point(self, side: Any) -> dict[str, float | None]:

        out: dict[str, float | None] = {}
        for name in self.metrics:
            value = float(self._stat(name)(self._fit(side)[None, :])[0])
            out[name] = None if math.isnan(value) else value
        return out

    def _fit(self, side: Any) -> Any:
        import numpy as np

        if self.task == "regression":
            return side
        k = len(self.classes)
        if side.size < k * k:  # classes were added after this side was counted
            old = round(math.sqrt(side.size))
            grown = np.zeros((k, k))
            grown[:old, :old] = side.reshape(old, old)
            return grown.ravel()
        return side

    def interval(
        self, name: str, live: Any, reference: Any, confidence: float, seed: int
    ) -> Interval | None:
        import numpy as np

        live, reference = self._fit(live), self._fit(reference)
        if self._rows(live) == 0 or self._rows(reference) == 0:
            return None
        if self.task == "regression" and self._rows(live) < MIN_REGRESSION_ROWS:
            return None  # too few rows to resample: no interval, no verdict
        rng = np.random.default_rng(seed)
        stat = self._stat(name)
        with np.errstate(divide="ignore", invalid="ignore"):
            estimate = float(stat(live[None, :])[0] - stat(reference[None, :])[0])
            diffs = self._draw(live, stat, rng) - self._draw(reference, stat, rng)
        diffs = diffs[~np.isnan(diffs)]
        if math.isnan(estimate) or not diffs.size:
            return None
        tail = (1 - confidence) / 2 * 100
        low, high = np.percentile(diffs, [tail, 100 - tail])
        return Interval(float(low), float(high), estimate, int(diffs.size), confidence)

    def _rows(self, side: Any) -> int:
        return int(side.size if self.task == "regression" else side.sum())

    def _draw(self, side: Any, stat: Callable[..., Any], rng: Any) -> Any:
        import numpy as np

        if self.task == "classification":
            # A Bayesian bootstrap over the (true, predicted) cells with a total prior mass
            # of one (Perks): a perfect test set (every off-diagonal cell zero) still has
            # the uncertainty its size implies, instead of resampling to certainty.
            n = float(side.sum())
            shares = rng.dirichlet(side + 1.0 / side.size, size=RESAMPLES)
            return stat(n * shares)
        out = np.empty(RESAMPLES)
        chunk = max(1, CHUNK_ELEMENTS // side.size)
        for start in range(0, RESAMPLES, chunk):
            size = min(chunk, RESAMPLES - start)
            weights = rng.poisson(1.0, size=(size, side.size)).astype(np.float64)
            out[start : start + size] = stat(weights, side)
        return out

    def _stat(self, name: str) -> Callable[..., Any]:
        import numpy as np

        if self.task == "regression":

            def regression(weights: Any, errors: Any = None) -> Any:
                if errors is None:  # a point estimate: the side itself, every weight 1
                    errors, weights = weights[0], np.ones((1, weights.shape[1]))
                total = weights.sum(axis=1)
                if name == "rmse":
                    return np.sqrt((weights @ errors**2) / total)
                return (weights @ np.abs(errors)) / total

            return regression
        k = len(self.classes)

        def classification(counts: Any) -> Any:
            matrix = counts.reshape(-1, k, k)  # [resample, true, predicted]
            hits = np.einsum("rii->ri", matrix)
            if name == "accuracy":
                return hits.sum(axis=1) / matrix.sum(axis=(1, 2))
            predicted, actual = matrix.sum(axis=1), matrix.sum(axis=2)
            precision = np.where(predicted > 0, hits / np.maximum(predicted, 1), 0.0)
            recall = np.where(actual > 0, hits / np.maximum(actual, 1), 0.0)
            both = precision + recall
            f1 = np.where(both > 0, 2 * precision * recall / np.where(both > 0, both, 1), 0.0)
            base = name.removesuffix("_macro")
            per_class = {"precision": precision, "recall": recall, "f1": f1}[base]
            if name.endswith("_macro"):
                present = (predicted + actual) > 0
                return (per_class * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1)
            return per_class[:, min(1, k - 1)]  # binary: the second class is positive

        return classification


def _key(value: Any) -> Any:
    return float(value) if isinstance(value, int | float) else value
