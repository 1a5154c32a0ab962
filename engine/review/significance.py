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
- Below :data:`COUNTS_FROM` rows, rows are drawn as an index matrix
  (``integers(0, n, (chunk, n))``), chunked to bound memory: without ROC AUC terms the
  drawn rows' values are gathered and added up (``_gather_rows``, two columns per
  gather); with them the indices are counted with one ``bincount`` into weights
  (``_draw_rows``). From :data:`COUNTS_FROM` rows (ROC AUC is DeLong's there) the
  resamples' row counts are drawn without row indices, as Poisson counts topped up to
  ``n`` draws: exactly the same multinomial, a few byte operations a row
  (:mod:`engine.review.resample`).
- Metrics that depend only on the label triple
  (true, base, head) — accuracy, balanced accuracy, precision, recall, F1 — collapse
  the rows into a handful of categories whose counts are drawn directly from their
  multinomial: the same distribution as drawing rows, a hundred times cheaper.

Whether a paired comparison is possible at all (the same row ids on both sides with the
same labels) is :func:`engine.review.pairing.aligned`. ``mcnemar`` tests accuracy on the
discordant rows.

Reading order for the bootstrap: ``paired_bootstrap`` splits the metrics into the two
routes; ``_intervals`` turns one route's draws into intervals; ``_draw_categories``,
``_gather_rows`` and ``_draw_rows`` draw (``weighted_sums`` from :data:`COUNTS_FROM`
rows); ``Kernels`` holds, per metric, the per-row columns it needs and the functions
that turn their weighted sums into the metric (``_auc_term`` for AUC).

numpy is imported inside functions only. scipy is not imported at all: McNemar's two
p-values are closed forms (``math.comb``, ``math.erfc``) equal to
``scipy.stats.binomtest`` and ``scipy.stats.chi2.sf`` (the tests check), and
``import scipy.stats`` alone takes ~0.7 s, more than ``mlops diff``'s whole budget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from engine.review.kernels import Kernels
from engine.review.pairing import Paired
from engine.review.resample import MAX_ROWS

if TYPE_CHECKING:
    from numpy.random import Generator
    from numpy.typing import NDArray

    Array = NDArray[Any]

CHUNK_ELEMENTS = 1 << 18
"""Resample weights held at once (chunk x rows); small enough to stay in cache."""
COUNTS_FROM = 10_000
"""From this many rows, resamples without ROC AUC terms draw their row counts with
:func:`engine.review.resample.weighted_sums` (the same bootstrap, several times cheaper
than drawing row indices; parallel random streams). Below it the drawn rows are
gathered on one stream: the same draws as the weight route's (``_draw_rows``) for the
same seed, so the intervals of small test sets do not change."""
EXACT_BELOW = 25
"""McNemar uses the exact binomial test below this many discordant rows."""
DELONG_FROM = 10_000
"""From this many rows ROC AUC's interval is DeLong's (normal, no resampling): there the
bootstrap's per-resample cumulative sums cost most of the budget, and the two agree
(``tests/unit/test_delong.py``). Below it the bootstrap, honest on small test sets."""
# metrics that need per-row numbers beyond the (true, base, head) label triple
_CONTINUOUS = frozenset({"log_loss", "rmse", "mae", "r2", "roc_auc"})


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
    method: Literal["bootstrap", "delong"] = "bootstrap"
    """How the interval was made: percentiles of resamples, or DeLong's normal interval
    (ROC AUC from :data:`DELONG_FROM` rows; ``resamples`` is then 0)."""

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
    unique = list(dict.fromkeys(metrics))
    if "roc_auc" in unique and paired.rows >= DELONG_FROM:
        from concurrent.futures import ThreadPoolExecutor

        # DeLong's interval on a thread of its own, beside the resampling's threads:
        # the cores share all the work instead of waiting for the serial part
        with ThreadPoolExecutor(1) as pool:
            auc = pool.submit(_delong, paired, confidence)
            rest = [m for m in unique if m != "roc_auc"]
            out = _bootstrapped(paired, rest, resamples, seed, confidence)
            out |= auc.result()
    else:
        out = _bootstrapped(paired, unique, resamples, seed, confidence)
    return {m: out[m] for m in unique if m in out}


def _delong(paired: Paired, confidence: float) -> dict[str, Interval]:
    from engine.review.delong import auc_interval

    auc = auc_interval(paired, confidence)
    if auc is None:
        return {}
    estimate, low, high = auc
    return {"roc_auc": Interval(low, high, estimate, 0, confidence, "delong")}


def _bootstrapped(
    paired: Paired, metrics: list[str], resamples: int, seed: int, confidence: float
) -> dict[str, Interval]:
    """Label-only metrics take the cheap exact route (_draw_categories); the rest share draws."""
    out: dict[str, Interval] = {}
    for discrete in (True, False):
        group = [m for m in metrics if (m not in _CONTINUOUS) == discrete]
        if group:
            out |= _intervals(paired, group, resamples, seed, confidence, discrete)
    return out


def _intervals(
    paired: Paired,
    metrics: list[str],
    resamples: int,
    seed: int,
    confidence: float,
    discrete: bool,
) -> dict[str, Interval]:
    import numpy as np

    kernels = Kernels(paired)
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
            low, high = percentiles(diffs, (tail, 100 - tail))
            out[name] = Interval(float(low), float(high), estimate, int(diffs.size), confidence)
    return out


def percentiles(values: Array, qs: Sequence[float]) -> list[float]:
    """``np.percentile(values, qs)`` (its default, linear method), value for value.

    Not numpy's own: ``np.percentile`` imports ``numpy.ma``, a tenth of ``mlops diff``'s
    start-up for two numbers.
    """
    import numpy as np

    ordered = np.sort(values)
    last = ordered.size - 1
    out = []
    for q in qs:
        at = q / 100 * last
        below = min(max(math.floor(at), 0), last)
        a, b = float(ordered[below]), float(ordered[min(below + 1, last)])
        t = at - below
        # numpy's lerp: from the nearer end, so that t = 1 gives b exactly
        out.append(b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t)
    return out


def _draw(
    kernels: Kernels, columns: Array, resamples: int, seed: int, discrete: bool
) -> tuple[Array, Array]:
    """Weighted column sums (resamples x columns) and AUC terms (resamples x terms)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if discrete:
        return _draw_categories(kernels.p, columns, resamples, rng), np.empty((resamples, 0))
    if not kernels.terms:
        if COUNTS_FROM <= kernels.n <= MAX_ROWS:
            from engine.review.resample import weighted_sums

            return weighted_sums(columns, resamples, seed), np.empty((resamples, 0))
        return _gather_rows(columns, resamples, seed), np.empty((resamples, 0))
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


def _gather_rows(columns: Array, resamples: int, seed: int) -> Array:
    """Column sums of rows drawn with replacement: gather the drawn rows' values, add up.

    The same resampling as :func:`_draw_rows` (``n`` row indices per resample, the same
    draws for a seed), without its weight matrix: one gather per pair of columns
    (packed as the real and imaginary parts of one complex column) and a sum.
    """
    import numpy as np

    n, m = columns.shape
    if m % 2:
        columns = np.column_stack([columns, np.zeros(n)])
    packed = [columns[:, j] + 1j * columns[:, j + 1] for j in range(0, m, 2)]
    sums = np.empty((resamples, m + m % 2))
    chunk = max(1, CHUNK_ELEMENTS // n)
    rng = np.random.default_rng(seed)
    for start in range(0, resamples, chunk):
        rows = slice(start, min(start + chunk, resamples))
        idx = rng.integers(0, n, size=(rows.stop - rows.start, n))
        for p, column in enumerate(packed):
            # mode="clip": the indices are in range; it skips numpy's bounds check
            total = np.take(column, idx, mode="clip").sum(axis=1)
            sums[rows, 2 * p], sums[rows, 2 * p + 1] = total.real, total.imag
    return sums[:, :m]


def _draw_rows(
    kernels: Kernels, columns: Array, resamples: int, rng: Generator
) -> tuple[Array, Array]:
    """Column sums and AUC terms from rows drawn with replacement, a chunk at a time.

    The route with ROC AUC terms (below :data:`DELONG_FROM` rows): the AUC terms need
    each resample's row weights.
    """
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
        aucs[draws] = kernels.auc(counts.astype(np.int32))
    return sums, aucs


__all__ = [
    "CHUNK_ELEMENTS",
    "COUNTS_FROM",
    "DELONG_FROM",
    "EXACT_BELOW",
    "Interval",
    "McNemar",
    "mcnemar",
    "paired_bootstrap",
    "percentiles",
]
