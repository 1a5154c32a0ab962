"""Bootstrap row counts drawn as topped-up Poisson counts: the same multinomial as drawing rows.

The reference everywhere is the plain bootstrap: ``n`` row indices drawn uniformly per
resample (numpy's ``integers``), counted or summed. ``weighted_sums`` of the identity
matrix returns the drawn count vectors themselves, so the tests see exactly the counts
the review uses.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from engine.review.pairing import aligned
from engine.review.resample import PoissonTable, _Block, weighted_sums
from engine.review.significance import paired_bootstrap
from tests.unit.test_significance import pair_of


def implied_pmf(table: PoissonTable) -> np.ndarray:
    """The probability of each count the table's mixture gives: a byte's, or R's."""
    pmf = np.zeros(64)
    pmf[: len(table.units)] += (1 - table.residual) * np.array(table.units) / 256
    r = np.diff(table.cdf, prepend=0.0)
    pmf[: r.size] += table.residual * r
    return pmf


@pytest.mark.parametrize("lam", [0.95, 1 - 5 / math.sqrt(100_000), 1.0, 0.3, 4.0, 0.0])
def test_the_table_is_the_poisson_distribution(lam):
    table = PoissonTable.build(lam)
    assert sum(table.units) == 256 and len(table.edges) == len(table.units) - 1
    assert table.residual < 0.02 or lam > 1  # the share of rows that draw a double
    want = stats.poisson(lam).pmf(np.arange(64))
    assert implied_pmf(table) == pytest.approx(want, abs=1e-15)
    # a byte b has the count of the units it falls in
    for b in range(256):
        assert sum(b >= e for e in table.edges) == np.searchsorted(
            np.cumsum(table.units), b, "right"
        )


def test_r_is_inverted_exactly_even_at_its_steps():
    table = PoissonTable.build(1 - 5 / math.sqrt(100_000))
    steps = table.cdf[table.cdf < 1]
    u = np.concatenate(
        [np.random.default_rng(0).random(100_000), steps, np.nextafter(steps, 0), [0.0]]
    )
    assert (table.invert(u) == np.searchsorted(table.cdf, u, side="right")).all()
    assert (~table.exact).sum() <= len(steps)  # the slices that search: those with a step


def test_counts_before_the_top_up_are_poisson():
    # every cell (a row of a resample) independently Poisson(lam): bytes, marks and R
    n, rows = 100_000, 200
    table = PoissonTable.build(1 - 5 / math.sqrt(n))
    block = _Block.of(table, n, rows, np.random.SeedSequence(3))
    counts = np.concatenate([block.counts(7) for _ in range(-(-rows // 7))]).astype(int)
    seen = np.bincount(counts.ravel())
    want = stats.poisson(table.lam).pmf(np.arange(seen.size)) * counts.size
    keep = want > 20
    chi2 = (((seen[keep] - want[keep]) ** 2) / want[keep]).sum()
    assert stats.chi2(keep.sum() - 1).sf(chi2) > 1e-3
    # the counts R gives: above the bytes' largest, at the rate Poisson has them
    top = len(table.units)
    assert seen[top:].sum() == pytest.approx(
        stats.poisson(table.lam).sf(top - 1) * counts.size, rel=0.05
    )
    # neighbouring cells independent: pairs of counts as often as the products say
    pairs = np.bincount((np.minimum(counts[:, :-1], 3) * 4 + np.minimum(counts[:, 1:], 3)).ravel())
    p = np.append(stats.poisson(table.lam).pmf(np.arange(3)), stats.poisson(table.lam).sf(2))
    want = np.outer(p, p).ravel() * pairs.sum()
    chi2 = (((pairs - want) ** 2) / want).sum()
    assert stats.chi2(15).sf(chi2) > 1e-3


def counts_of(n, resamples, seed):
    """The count vectors ``weighted_sums`` draws: its sums of the identity's columns."""
    sums = weighted_sums(np.eye(n), resamples, seed)
    counts = np.rint(sums)
    assert np.abs(sums - counts).max() < 1e-3  # float32 sums of whole counts
    return counts.astype(int)


@pytest.mark.parametrize("slack", [5.0, 0.0])
def test_counts_are_multinomial_like_drawing_n_rows(slack, monkeypatch):
    # slack 0: lam = 1, the Poisson total exceeds n in half the resamples: the redraws
    monkeypatch.setattr("engine.review.resample.SLACK", slack)
    n, resamples = 300, 6000
    counts = counts_of(n, resamples, seed=1)
    assert (counts.sum(axis=1) == n).all() and counts.min() >= 0
    # a block of 60 rows holds Binomial(300, 0.2) draws (variance 48; an untopped Poisson
    # total would have variance ~60, a 17-sigma miss here)
    block = counts[:, :60].sum(axis=1)
    assert block.var() == pytest.approx(48, rel=0.06)
    seen = np.bincount(block, minlength=n + 1)
    want = stats.binom(n, 0.2).pmf(np.arange(n + 1)) * resamples
    keep = want > 5
    chi2 = (((seen[keep] - want[keep]) ** 2) / want[keep]).sum()
    assert stats.chi2(keep.sum() - 1).sf(chi2) > 1e-3
    # one row: Binomial(300, 1/300); two rows: covariance -1/300
    single = np.bincount(counts.ravel(), minlength=8)[:8] / counts.size
    assert single == pytest.approx(stats.binom(n, 1 / n).pmf(np.arange(8)), abs=0.003)
    assert np.cov(counts[:, 0], counts[:, 1])[0, 1] == pytest.approx(-1 / n, abs=0.03)


def test_sums_are_the_counts_times_the_columns():
    rng = np.random.default_rng(3)
    n = 400
    # a large offset: the sums are taken of centred columns and must lose nothing to it
    columns = np.column_stack([rng.random(n), 1e6 + rng.normal(size=n), rng.exponential(size=n)])
    counts = counts_of(n, 50, seed=7)
    sums = weighted_sums(columns, 50, seed=7)
    want = counts @ columns
    spread = np.sqrt(n) * columns.std(axis=0)
    assert (np.abs(sums - want).max(axis=0) < 1e-5 * spread).all()


def test_sums_do_not_depend_on_chunks_or_threads(monkeypatch):
    monkeypatch.setattr("engine.review.resample.SLACK", 0.5)  # redraws now and then
    columns = np.random.default_rng(4).random((1003, 2))
    once = weighted_sums(columns, 40, seed=9)
    monkeypatch.setattr("engine.review.resample.CHUNK_CELLS", 1003 * 3)
    monkeypatch.setattr("engine.review.resample.MARKS_CELLS", 1003 * 5)
    monkeypatch.setattr("engine.review.resample.AHEAD", 7)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0}, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert (weighted_sums(columns, 40, seed=9) == once).all()
    assert not (weighted_sums(columns, 40, seed=10) == once).all()


def test_the_distribution_of_a_mean_equals_the_plain_bootstraps():
    rng = np.random.default_rng(5)
    n, resamples = 2000, 4000
    x = rng.exponential(size=n) ** 2  # skewed, like per-row log losses
    ours = weighted_sums(x[:, None], resamples, seed=0)[:, 0] / n
    idx = np.random.default_rng(1).integers(0, n, (resamples, n))
    plain = x[idx].mean(axis=1)
    # the exact bootstrap moments of a mean: x.mean() and x.var() / n
    for sample in (ours, plain):
        assert sample.mean() == pytest.approx(x.mean(), abs=4 * x.std() / math.sqrt(n * resamples))
        assert sample.var() == pytest.approx(x.var() / n, rel=0.07)
    assert stats.ks_2samp(ours, plain).pvalue > 1e-3
    # a tail percentile of 4,000 resamples has a Monte Carlo error of ~0.05 sigma
    for q in (2.5, 50, 97.5):
        gap = np.percentile(ours, q) - np.percentile(plain, q)
        assert abs(gap) < 0.25 * plain.std(), q


def test_log_loss_intervals_agree_with_the_index_drawing_bootstrap_over_seeds(monkeypatch):
    base, head = pair_of(np.random.default_rng(6), n=20_000)
    paired = aligned(base, head)
    counted = [paired_bootstrap(paired, ["log_loss"], seed=s)["log_loss"] for s in range(4)]
    monkeypatch.setattr("engine.review.significance.COUNTS_FROM", 10**9)  # rows drawn
    drawn = [paired_bootstrap(paired, ["log_loss"], seed=s)["log_loss"] for s in range(4)]
    width = np.mean([d.high - d.low for d in drawn])
    sigma = width / 3.92
    assert counted[0].estimate == drawn[0].estimate
    # one 2.5% percentile of 1,000 resamples has a Monte Carlo error of ~0.085 sigma
    for a, b in zip(counted, drawn, strict=True):
        assert abs(a.low - b.low) < 0.5 * sigma and abs(a.high - b.high) < 0.5 * sigma
    for end in ("low", "high"):
        mean_gap = np.mean([getattr(a, end) - getattr(b, end) for a, b in zip(counted, drawn)])
        assert abs(mean_gap) < 0.25 * sigma, end
