"""Data drift: does the current data look like the data the version was trained on?

Per feature, the test is chosen by type and size the way Evidently chooses it, so a team
that knows Evidently reads the same verdicts here:

=============  ==========================  =====================================
reference      numeric (> 5 distinct)      categorical (or numeric, ≤ 5 values)
=============  ==========================  =====================================
≤ 1,000 rows   Kolmogorov-Smirnov p-value  chi-square p-value (z-test if binary)
> 1,000 rows   Wasserstein / ref. std      Jensen-Shannon distance
=============  ==========================  =====================================

PSI (population stability index) is reported for every feature; it informs, it does not
decide. The dataset counts as drifted when the share of drifted features reaches
``drift_share``.

A date column (:class:`Dates`) is tested as its day numbers, by the numeric tests above,
and reported with both sides' ranges; but it is no model input, and production dates are
newer than training dates by nature, so its verdict ("shifted") is information kept in
:attr:`DataDrift.dates` and never counts towards the dataset's drift.

Speed: a column is a numpy array (numbers, NaN for nulls) or the counts of its values
(:class:`Counts`, which the reading seam gets from Arrow without materialising strings).
Large numeric columns are never sorted: both samples go into one fine histogram
(``FINE_BINS`` equal-width bins, one ``bincount`` each), whose cumulative sums give the
Wasserstein distance to within two bin widths; only a column whose distance lands within
that error of its threshold is recomputed exactly (sorted), so the verdict is always the
exact one. The same histograms give PSI and the report's charts.

numpy is imported inside functions; scipy only for the small-sample p-values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from engine.definitions.formats import Monitoring

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Array = NDArray[Any]

Method = Literal["ks", "chi-square", "z-test", "wasserstein", "jensen-shannon"]
FINE_BINS = 1 << 14
"""Histogram bins of a large numeric column; the distance is exact to 2 bins' width."""
CHART_BINS = 16
"""Bars in a numeric feature's chart (FINE_BINS is a multiple of it)."""
PSI_BINS = 10
"""Reference deciles for a numeric feature's PSI."""
PSI_FLOOR = 1e-4
"""Share given to an empty bin so PSI's logarithm stays finite (the common convention)."""
_FEW = 5
"""A numeric column with at most this many distinct values is tested as categorical."""


@dataclass(frozen=True)
class Counts:
    """How often each value of a categorical column occurs; nulls counted apart."""

    values: tuple[Any, ...]
    counts: tuple[int, ...]
    nulls: int = 0

    @property
    def total(self) -> int:
        """Non-null rows."""
        return sum(self.counts)


@dataclass(frozen=True)
class Dates:
    """A date column as day numbers (days since 1970-01-01), NaN for nulls and bad values."""

    days: Array
    nulls: int = 0
    """Values that are null (bad values are apart)."""
    bad: int = 0
    """Values that are present but not dates."""
    first_bad: int | None = None
    """The first bad value's row, counted from 1."""


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's verdict, with what the report needs to draw it."""

    name: str
    kind: Literal["numeric", "categorical", "date"]
    method: Method
    score: float
    """The p-value (ks, chi-square, z-test) or the distance (wasserstein, jensen-shannon)."""
    threshold: float
    drifted: bool
    psi: float
    reference_rows: int
    current_rows: int
    labels: tuple[str, ...] = ()
    """Chart bars: value names, or bin ranges for numbers."""
    reference_share: tuple[float, ...] = ()
    current_share: tuple[float, ...] = ()
    reference_range: tuple[str, str] | None = None
    """A date column's first and last reference day (ISO-8601); None for other kinds."""
    current_range: tuple[str, str] | None = None

    @property
    def strength(self) -> float:
        """How far past (>1) or short of (<1) its threshold the score is, on one scale."""
        if self.method in ("ks", "chi-square", "z-test"):
            low = max(self.score, 1e-300)
            return math.log10(low) / math.log10(self.threshold) if self.threshold < 1 else 0.0
        return self.score / self.threshold if self.threshold > 0 else math.inf


@dataclass(frozen=True)
class DataDrift:
    """Every feature's verdict and the dataset's: drifted when enough features are."""

    features: tuple[FeatureDrift, ...]
    drift_share: float
    skipped: tuple[str, ...] = field(default=())
    """Features with no non-null value on one side (data quality reports why)."""
    psi_threshold: float = 0.2
    """PSI from which the report marks a shift (it decides nothing)."""
    dates: tuple[FeatureDrift, ...] = field(default=())
    """Date columns, tested as day numbers: information, not part of the verdict."""

    @property
    def drifted_features(self) -> tuple[FeatureDrift, ...]:
        """The drifted features, strongest first."""
        return tuple(f for f in self.ranked if f.drifted)

    @property
    def share(self) -> float:
        """Share of tested features that drifted."""
        return len(self.drifted_features) / len(self.features) if self.features else 0.0

    @property
    def drifted(self) -> bool:
        """Whether the dataset as a whole drifted."""
        return bool(self.features) and self.share >= self.drift_share

    @property
    def ranked(self) -> tuple[FeatureDrift, ...]:
        """Features sorted by drift: drifted first, then by strength."""
        return tuple(sorted(self.features, key=lambda f: (not f.drifted, -f.strength, f.name)))


def data_drift(
    reference: Mapping[str, Array | Counts | Dates],
    current: Mapping[str, Array | Counts | Dates],
    settings: Monitoring | None = None,
    *,
    exclude: frozenset[str] = frozenset(),
) -> DataDrift:
    """Test every feature the two sides share, but those in ``exclude``.

    Columns are read from the mappings one at a time, so a lazy mapping keeps memory low.
    """
    settings = settings or Monitoring()
    results: list[FeatureDrift] = []
    dates: list[FeatureDrift] = []
    skipped: list[str] = []
    for name in reference:
        if name not in current or name in exclude:
            continue
        ref, cur = reference[name], current[name]
        if isinstance(ref, Dates) and isinstance(cur, Dates):
            result = date_drift(name, ref, cur, settings)
        elif isinstance(ref, Dates) or isinstance(cur, Dates):
            result = None  # a type change: data quality says so
        else:
            result = feature_drift(name, ref, cur, settings)
        if result is None:
            skipped.append(name)
        else:
            (dates if result.kind == "date" else results).append(result)
    return DataDrift(
        tuple(results),
        settings.drift_share,
        tuple(skipped),
        settings.psi_threshold,
        tuple(dates),
    )


def date_drift(
    name: str, reference: Dates, current: Dates, settings: Monitoring
) -> FeatureDrift | None:
    """A date column's test on its day numbers, its chart and ranges in dates."""
    from dataclasses import replace

    from engine.data.dates import iso

    ref, cur = _present(reference.days), _present(current.days)
    if not ref.size or not cur.size:
        return None
    if _few_values(ref, cur):
        result = _categorical(name, _count(ref), _count(cur), settings, kind="numeric")
        labels = tuple(iso(float(x)) for x in result.labels)
    else:
        test = _wasserstein if _large(ref.size, cur.size, settings) else _ks
        result = test(name, ref, cur, settings)
        # the chart's bins start where _Histogram.chart's do: the joint range in 16 steps
        low = min(float(ref.min()), float(cur.min()))
        step = (max(float(ref.max()), float(cur.max())) - low) / CHART_BINS
        labels = tuple(iso(low + i * step) for i in range(CHART_BINS))
    return replace(
        result,
        kind="date",
        labels=labels,
        reference_range=(iso(ref.min()), iso(ref.max())),
        current_range=(iso(cur.min()), iso(cur.max())),
    )


def feature_drift(
    name: str, reference: Array | Counts, current: Array | Counts, settings: Monitoring
) -> FeatureDrift | None:
    """One feature's test, chosen by kind and size; None when a side has no values."""
    import numpy as np

    if isinstance(reference, Counts) or isinstance(current, Counts):
        ref_counts, cur_counts = _as_counts(reference), _as_counts(current)
        if not ref_counts.total or not cur_counts.total:
            return None
        return _categorical(name, ref_counts, cur_counts, settings, kind="categorical")
    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(current, dtype=np.float64)
    ref, cur = _present(ref), _present(cur)
    if not ref.size or not cur.size:
        return None
    if _few_values(ref, cur):
        return _categorical(name, _count(ref), _count(cur), settings, kind="numeric")
    if _large(ref.size, cur.size, settings):
        return _wasserstein(name, ref, cur, settings)
    return _ks(name, ref, cur, settings)


def _large(reference: int, current: int, settings: Monitoring) -> bool:
    """Whether both samples are past ``small_sample``: then a distance decides, else a test.

    Evidently chooses by the reference's size alone, but a distance between a large
    reference and a few current rows is mostly the current sample's noise: with 10,000
    reference rows from the current rows' own distribution, Wasserstein flagged 100% of
    20-row and 70% of 100-row windows (a quiet week of logs would open drift issues). The
    tests' p-values hold their level at any size, so the smaller sample decides.
    """
    return min(reference, current) > settings.small_sample


# --- numeric ----------------------------------------------------------------------------


def _ks(name: str, ref: Array, cur: Array, settings: Monitoring) -> FeatureDrift:
    from scipy.stats import ks_2samp

    p = float(ks_2samp(ref, cur).pvalue)
    hist = _Histogram.of(ref, cur, FINE_BINS)
    return FeatureDrift(
        name,
        "numeric",
        "ks",
        p,
        settings.ks_threshold,
        p <= settings.ks_threshold,
        hist.psi(),
        ref.size,
        cur.size,
        *hist.chart(),
    )


def _wasserstein(name: str, ref: Array, cur: Array, settings: Monitoring) -> FeatureDrift:

    norm = max(_std(ref), 0.001)
    hist = _Histogram.of(ref, cur, FINE_BINS)
    distance = hist.wasserstein() / norm
    if abs(distance - settings.wasserstein_threshold) <= 2 * hist.width / norm:
        distance = wasserstein_exact(ref, cur) / norm  # too close to call on bins
    return FeatureDrift(
        name,
        "numeric",
        "wasserstein",
        distance,
        settings.wasserstein_threshold,
        distance >= settings.wasserstein_threshold,
        hist.psi(),
        ref.size,
        cur.size,
        *hist.chart(),
    )


def wasserstein_exact(u: Array, v: Array) -> float:
    """The 1-Wasserstein distance of two samples: the area between their CDFs (sorted)."""
    import numpy as np

    u, v = np.sort(u), np.sort(v)
    every = np.sort(np.concatenate([u, v]))
    deltas = np.diff(every)
    u_cdf = np.searchsorted(u, every[:-1], side="right") / u.size
    v_cdf = np.searchsorted(v, every[:-1], side="right") / v.size
    return float(np.sum(np.abs(u_cdf - v_cdf) * deltas))


@dataclass(frozen=True)
class _Histogram:
    """Both samples counted on one grid of equal-width bins over their joint range."""

    low: float
    width: float
    ref: Array
    cur: Array

    @classmethod
    def of(cls, ref: Array, cur: Array, bins: int) -> _Histogram:

        low = min(float(ref.min()), float(cur.min()))
        high = max(float(ref.max()), float(cur.max()))
        width = (high - low) / bins if high > low else 1.0
        return cls(low, width, _bin(ref, low, width, bins), _bin(cur, low, width, bins))

    def wasserstein(self) -> float:
        """The area between the binned CDFs: exact to within two bin widths."""
        import numpy as np

        gap = np.cumsum(self.ref) / self.ref.sum() - np.cumsum(self.cur) / self.cur.sum()
        return float(np.abs(gap[:-1]).sum() * self.width)

    def psi(self) -> float:
        """PSI over the reference's deciles (bins of the fine grid grouped by reference CDF)."""
        import numpy as np

        before = (np.cumsum(self.ref) - self.ref) / self.ref.sum()
        group = np.minimum((before * PSI_BINS).astype(np.intp), PSI_BINS - 1)
        ref = np.bincount(group, weights=self.ref, minlength=PSI_BINS)
        cur = np.bincount(group, weights=self.cur, minlength=PSI_BINS)
        return psi(ref, cur)

    def chart(self) -> tuple[tuple[str, ...], tuple[float, ...], tuple[float, ...]]:
        """CHART_BINS bars: bin labels (each bin's start) and each side's share."""
        ref = self.ref.reshape(CHART_BINS, -1).sum(axis=1) / self.ref.sum()
        cur = self.cur.reshape(CHART_BINS, -1).sum(axis=1) / self.cur.sum()
        step = self.width * self.ref.size / CHART_BINS
        labels = tuple(_num(self.low + i * step) for i in range(CHART_BINS))
        return labels, tuple(ref.tolist()), tuple(cur.tolist())


def _present(values: Array) -> Array:
    """The finite values: without NaN (nulls) and without infinities, which Evidently drops
    too (data quality reports them as out of range); a clean column costs two passes and
    no copy."""
    import numpy as np

    # min is NaN when a NaN is there, -inf when -inf is; max is inf when inf is
    if values.size and not (math.isfinite(values.min()) and math.isfinite(values.max())):
        return values[np.isfinite(values)]
    return values


def _std(values: Array) -> float:
    """Population standard deviation in two passes without temporaries (``np.std``: five).

    ``E[x^2] - E[x]^2`` loses digits when the mean dwarfs the spread; then ``np.std``.
    Squares overflow from ~1e154: such a column's spread is taken on values scaled to 1.
    """
    import numpy as np

    mean = float(values.sum()) / values.size
    variance = float(np.einsum("i,i", values, values)) / values.size - mean * mean
    if math.isfinite(variance) and variance > 1e-6 * mean * mean:
        return math.sqrt(variance)
    with np.errstate(over="ignore"):
        spread = float(np.std(values))
    if math.isfinite(spread):
        return spread
    scale = float(np.abs(values).max())
    return float(np.std(values / scale)) * scale


def _bin(values: Array, low: float, width: float, bins: int) -> Array:
    import numpy as np

    scaled = values - low
    scaled *= 1.0 / width
    index = scaled.astype(np.intp)
    del scaled
    np.minimum(index, bins - 1, out=index)
    return np.bincount(index, minlength=bins)


def _num(value: float) -> str:
    return f"{value:.3g}"


# --- categorical ------------------------------------------------------------------------


def _categorical(
    name: str,
    ref: Counts,
    cur: Counts,
    settings: Monitoring,
    *,
    kind: Literal["numeric", "categorical"],
) -> FeatureDrift:
    import numpy as np

    keys, r, c = _align(ref, cur)
    method: Method
    if _large(ref.total, cur.total, settings):
        method, score = "jensen-shannon", jensen_shannon(r, c)
        threshold = settings.jensen_shannon_threshold
        drifted = score >= threshold
    elif len(keys) <= 2:
        method, score = "z-test", _z_test(r, c)
        threshold, drifted = settings.z_threshold, score < settings.z_threshold
    else:
        method, score = "chi-square", _chi_square(r, c)
        threshold, drifted = settings.chi2_threshold, score < settings.chi2_threshold
    order = np.argsort(-(r / r.sum() + c / c.sum()), kind="stable")
    labels = tuple(str(keys[i]) for i in order)
    return FeatureDrift(
        name,
        kind,
        method,
        score,
        threshold,
        drifted,
        psi(r, c),
        ref.total,
        cur.total,
        labels,
        tuple((r[order] / r.sum()).tolist()),
        tuple((c[order] / c.sum()).tolist()),
    )


def jensen_shannon(ref: Array, cur: Array) -> float:
    """Jensen-Shannon distance (natural log) of two count vectors, empty bins floored.

    The floor is Evidently's: an empty bin gets 1e-4, or a millionth of the smallest
    non-empty share when that is smaller; so a value new on one side counts, finitely.
    """
    import numpy as np

    p, q = _floored(ref), _floored(cur)
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    divergence = (np.sum(p * np.log(p / m)) + np.sum(q * np.log(q / m))) / 2
    return float(np.sqrt(max(divergence, 0.0)))


def _floored(counts: Array) -> Array:
    import numpy as np

    share = counts / counts.sum()
    smallest = float(share[share > 0].min())
    floor = smallest / 1e6 if smallest <= 1e-4 else 1e-4
    return np.where(share == 0, floor, share)


def psi(ref: Array, cur: Array) -> float:
    """Population stability index of two count vectors over the same bins."""
    import numpy as np

    p = np.maximum(ref / ref.sum(), PSI_FLOOR)
    q = np.maximum(cur / cur.sum(), PSI_FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


def _chi_square(ref: Array, cur: Array) -> float:
    """Pearson's chi-square p-value of homogeneity: do both samples share one distribution?

    Evidently instead tests the current counts against the reference *proportions*, as if
    those were exact; with samples of similar size that ignores half the noise and flags
    about 30% of same-distribution pairs at a 5% level. The two-sample table is the test
    whose false-positive rate is its level (a seeded test checks it).
    """
    import numpy as np
    from scipy.special import chdtrc

    seen = (ref + cur) > 0
    table = np.stack([ref[seen], cur[seen]])
    if table.shape[1] < 2:
        return 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    return float(chdtrc(table.shape[1] - 1, statistic))


def _z_test(ref: Array, cur: Array) -> float:
    """Two-proportion z-test p-value on the first value's share (two-sided)."""
    if len(ref) < 2:
        return 1.0
    n1, n2 = float(ref.sum()), float(cur.sum())
    p1, p2 = ref[0] / n1, cur[0] / n2
    pooled = (ref[0] + cur[0]) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return 1.0
    return math.erfc(abs(p1 - p2) / spread / math.sqrt(2))


def _align(ref: Counts, cur: Counts) -> tuple[list[Any], Array, Array]:
    """Both sides' counts over the union of their values (reference order first)."""
    import numpy as np

    keys = list(ref.values)
    seen = {_key(k): i for i, k in enumerate(keys)}
    r = np.zeros(len(keys) + len(cur.values), dtype=np.float64)
    c = np.zeros_like(r)
    r[: len(keys)] = ref.counts
    for value, count in zip(cur.values, cur.counts, strict=True):
        i = seen.get(_key(value))
        if i is None:
            i = seen[_key(value)] = len(keys)
            keys.append(value)
        c[i] += count
    return keys, r[: len(keys)], c[: len(keys)]


def _key(value: Any) -> Any:
    # 1 and 1.0 and True are one value on both sides of a join, as in pandas
    return float(value) if isinstance(value, int | float) else value


def _count(values: Array) -> Counts:
    import numpy as np

    keys, counts = np.unique(values, return_counts=True)
    return Counts(tuple(keys.tolist()), tuple(int(n) for n in counts))


def _as_counts(column: Array | Counts) -> Counts:
    import numpy as np

    if isinstance(column, Counts):
        return column
    values = np.asarray(column, dtype=np.float64)
    counted = _count(values[~np.isnan(values)])
    return Counts(counted.values, counted.counts, int(np.isnan(values).sum()))


def _few_values(ref: Array, cur: Array) -> bool:
    """At most ``_FEW`` distinct values over both samples (a look at the heads first)."""
    import numpy as np

    head = np.concatenate([ref[:4096], cur[:4096]])
    if np.unique(head).size > _FEW:
        return False
    return bool(np.unique(np.concatenate([ref, cur])).size <= _FEW)


def counts_of(values: Sequence[Any]) -> Counts:
    """Counts of a plain sequence of values (None is a null), for small inputs and tests."""
    tally: dict[Any, int] = {}
    nulls = 0
    for value in values:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            nulls += 1
        else:
            tally[value] = tally.get(value, 0) + 1
    return Counts(tuple(tally), tuple(tally.values()), nulls)
