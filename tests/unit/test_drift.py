"""Drift statistics: seeded checks of what the tests decide, and agreement with scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

from engine.definitions.formats import Monitoring
from engine.monitoring.drift import (
    Counts,
    counts_of,
    data_drift,
    feature_drift,
    jensen_shannon,
    wasserstein_exact,
)

SETTINGS = Monitoring()
ALPHA = SETTINGS.ks_threshold
# The false-positive rate over 100 trials is a Binomial(100, alpha) count / 100; its
# 99.9% quantile for alpha = 0.05 is 12, so a correct test stays at or below 0.12: a
# margin of 0.07, wide enough that a calibrated test never fails it by chance and narrow
# enough that a test at twice its level (mean 10, often > 12) is caught.
FPR_MARGIN = 0.07


def _normal_features(rng: np.random.Generator, rows: int, shift: dict[str, float]) -> dict:
    return {f"x{i}": rng.normal(shift.get(f"x{i}", 0.0), 1.0, rows) for i in range(5)}


@pytest.mark.parametrize("rows", [200, 1000])
def test_ks_false_positive_rate_is_the_significance_level(rows: int) -> None:
    flagged = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        result = feature_drift("x", rng.normal(size=rows), rng.normal(size=rows), SETTINGS)
        assert result is not None and result.method == "ks"
        flagged += result.drifted
    assert flagged / 100 <= ALPHA + FPR_MARGIN


def test_chi_square_false_positive_rate_is_the_significance_level() -> None:
    flagged = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        p = [0.5, 0.3, 0.15, 0.05]
        ref = counts_of(rng.choice(list("abcd"), 800, p=p).tolist())
        cur = counts_of(rng.choice(list("abcd"), 800, p=p).tolist())
        result = feature_drift("c", ref, cur, SETTINGS)
        assert result is not None and result.method == "chi-square"
        flagged += result.drifted
    assert flagged / 100 <= SETTINGS.chi2_threshold + FPR_MARGIN


def test_z_test_false_positive_rate_is_the_significance_level() -> None:
    flagged = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        ref = counts_of((rng.random(600) < 0.3).tolist())
        cur = counts_of((rng.random(600) < 0.3).tolist())
        result = feature_drift("flag", ref, cur, SETTINGS)
        assert result is not None and result.method == "z-test"
        flagged += result.drifted
    assert flagged / 100 <= SETTINGS.z_threshold + FPR_MARGIN


@pytest.mark.parametrize("current", [1, 20, 100])
def test_a_few_current_rows_against_a_large_reference_hold_the_level(current: int) -> None:
    """A distance between 10,000 reference rows and a few current rows is the current
    sample's noise (Evidently's choice by the reference's size flagged 100% of 20-row
    windows): the smaller sample decides, so the p-value tests keep their level."""
    flagged = {"numeric": 0, "categorical": 0}
    for seed in range(100):
        rng = np.random.default_rng(seed)
        numeric = feature_drift("x", rng.normal(size=10_000), rng.normal(size=current), SETTINGS)
        p = [0.5, 0.3, 0.15, 0.05]
        ref = counts_of(rng.choice(list("abcd"), 10_000, p=p).tolist())
        cur = counts_of(rng.choice(list("abcd"), current, p=p).tolist())
        categorical = feature_drift("c", ref, cur, SETTINGS)
        assert numeric is not None and numeric.method == "ks"
        assert categorical is not None and categorical.method == "chi-square"
        flagged["numeric"] += numeric.drifted
        flagged["categorical"] += categorical.drifted
    assert flagged["numeric"] / 100 <= ALPHA + FPR_MARGIN, flagged
    assert flagged["categorical"] / 100 <= SETTINGS.chi2_threshold + FPR_MARGIN, flagged


def test_large_samples_from_one_distribution_never_drift() -> None:
    # the distances' thresholds are effect sizes, far above the sampling noise at 5,000 rows
    for seed in range(100):
        rng = np.random.default_rng(seed)
        result = data_drift(
            _normal_features(rng, 5000, {}), _normal_features(rng, 5000, {}), SETTINGS
        )
        assert not result.drifted_features


def test_half_a_standard_deviation_in_one_of_five_features_is_found_alone() -> None:
    rng = np.random.default_rng(13)
    result = data_drift(
        _normal_features(rng, 5000, {}), _normal_features(rng, 5000, {"x2": 0.5}), SETTINGS
    )
    assert [f.name for f in result.drifted_features] == ["x2"]
    assert result.ranked[0].name == "x2" and result.ranked[0].method == "wasserstein"
    assert result.ranked[0].score == pytest.approx(0.5, abs=0.05)
    assert not result.drifted  # one of five is below the default share of 0.5


def test_half_a_standard_deviation_is_found_by_ks_in_every_seed() -> None:
    others = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        result = data_drift(
            _normal_features(rng, 1000, {}), _normal_features(rng, 1000, {"x2": 0.5}), SETTINGS
        )
        by_name = {f.name: f for f in result.features}
        assert by_name["x2"].drifted and by_name["x2"].score < 1e-10
        others += sum(f.drifted for f in result.features if f.name != "x2")
    assert others / 80 <= ALPHA + FPR_MARGIN


def test_a_new_category_is_found() -> None:
    rng = np.random.default_rng(3)
    ref = counts_of(rng.choice(["red", "green", "blue"], 5000).tolist())
    values = rng.choice(["red", "green", "blue"], 4000).tolist() + ["purple"] * 1000
    result = feature_drift("colour", ref, counts_of(values), SETTINGS)
    assert result is not None and result.method == "jensen-shannon" and result.drifted
    assert result.labels[result.current_share.index(max(result.current_share))] != "purple"
    assert "purple" in result.labels


def test_an_all_null_column_is_skipped_not_tested() -> None:
    rng = np.random.default_rng(4)
    result = data_drift({"x": rng.normal(size=50)}, {"x": np.full(50, np.nan)}, SETTINGS)
    assert result.features == () and result.skipped == ("x",)


def test_binned_wasserstein_agrees_with_scipy_and_the_verdict_is_exact() -> None:
    rng = np.random.default_rng(5)
    ref = rng.normal(size=20000)
    for shift in (0.0, 0.05, 0.0999, 0.1001, 0.3):
        cur = rng.normal(shift, 1.0, 20000)
        exact = wasserstein_distance(ref, cur) / np.std(ref)
        result = feature_drift("x", ref, cur, SETTINGS)
        assert result is not None
        assert result.score == pytest.approx(exact, abs=2e-3)
        assert result.drifted == (exact >= 0.1)
    assert wasserstein_exact(ref, cur) == pytest.approx(wasserstein_distance(ref, cur))


def test_ks_and_chi_square_are_scipy_s() -> None:
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=300), rng.normal(0.2, 1, 300)
    result = feature_drift("x", a, b, SETTINGS)
    assert result is not None and result.score == pytest.approx(ks_2samp(a, b).pvalue)
    ref = Counts(("a", "b", "c"), (50, 30, 20))
    cur = Counts(("a", "b", "c"), (40, 30, 30))
    result = feature_drift("c", ref, cur, SETTINGS)
    assert result is not None
    table = [[50, 30, 20], [40, 30, 30]]
    assert result.score == pytest.approx(chi2_contingency(table, correction=False).pvalue)


def test_jensen_shannon_is_scipy_s_with_evidently_s_floor() -> None:
    ref, cur = np.array([500.0, 300, 200, 0]), np.array([400.0, 300, 200, 100])
    floored = np.array([0.5, 0.3, 0.2, 1e-4])
    assert jensen_shannon(ref, cur) == pytest.approx(jensenshannon(floored, cur / 1000))


def test_binary_columns_use_the_z_test_and_few_valued_numbers_are_categories() -> None:
    ref = Counts((True, False), (60, 40))
    result = feature_drift("flag", ref, Counts((True, False), (30, 70)), SETTINGS)
    assert result is not None and result.method == "z-test" and result.drifted
    rng = np.random.default_rng(7)
    small = rng.integers(0, 4, 500).astype(float)
    result = feature_drift("level", small, rng.integers(0, 4, 500).astype(float), SETTINGS)
    assert result is not None and result.method == "chi-square" and result.kind == "numeric"


def test_thresholds_come_from_the_settings() -> None:
    rng = np.random.default_rng(8)
    ref, cur = rng.normal(size=5000), rng.normal(0.3, 1, 5000)
    assert feature_drift("x", ref, cur, Monitoring())
    strict = feature_drift("x", ref, cur, Monitoring(wasserstein_threshold=0.5))
    assert strict is not None and not strict.drifted
    shares = {f"x{i}": rng.normal(size=5000) for i in range(4)}
    moved = dict(shares, x0=shares["x0"] + 1)
    assert data_drift(shares, moved, Monitoring(drift_share=0.25)).drifted
    assert not data_drift(shares, moved, Monitoring(drift_share=0.5)).drifted


def test_the_fast_standard_deviation_is_numpy_s_even_with_a_large_mean() -> None:
    from engine.monitoring.drift import _std

    rng = np.random.default_rng(10)
    for mean in (0.0, 1e3, 1e9):
        values = rng.normal(mean, 2.0, 100_000)
        assert _std(values) == pytest.approx(np.std(values), rel=1e-9)


@pytest.mark.parametrize("rows", [500, 5000])
def test_infinities_are_dropped_as_evidently_drops_them(rows: int) -> None:
    # a batch or a log can carry inf (pandas reads "inf", Python's json reads Infinity):
    # the numeric tests ran on it and crashed in the histogram; Evidently drops them
    rng = np.random.default_rng(3)
    ref, cur = rng.normal(0, 1, rows), rng.normal(0.5, 1, rows)
    clean = feature_drift("x", ref, cur, SETTINGS)
    dirty = feature_drift("x", np.r_[ref, np.inf], np.r_[cur, -np.inf, np.nan], SETTINGS)
    assert clean is not None and dirty is not None
    assert dirty.method == clean.method
    assert dirty.score == pytest.approx(clean.score, rel=1e-3)
    assert dirty.drifted and dirty.reference_rows == rows and dirty.current_rows == rows


def test_huge_magnitudes_keep_their_distance() -> None:
    # squares of values near 1e200 overflow: the normalizing spread was NaN, and a shift of
    # a whole standard deviation read as "no drift"
    rng = np.random.default_rng(4)
    ref, cur = rng.normal(0, 1, 5000), rng.normal(1, 1, 4000)
    result = feature_drift("x", ref * 1e200, cur * 1e200, SETTINGS)
    assert result is not None and result.drifted
    expected = wasserstein_distance(ref, cur) / np.std(ref)
    assert result.score == pytest.approx(expected, rel=1e-3)
