"""Paired bootstrap, row alignment and McNemar's test, checked against known values.

The reference for every metric is scikit-learn (through ``engine.training.evaluate.compute``, the
code that stores the metrics): the bootstrap's point estimate must equal the stored
difference exactly, and each resample must equal scikit-learn on the resampled rows.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from engine.definitions.formats import CLASSIFICATION_METRICS, REGRESSION_METRICS
from engine.review.evaluation import Evaluation
from engine.review.kernels import Kernels
from engine.review.pairing import NotPaired, Paired, aligned
from engine.review.significance import (
    _gather_rows,
    _intervals,
    mcnemar,
    paired_bootstrap,
)
from engine.training.evaluate import compute

MULTICLASS = [m for m in CLASSIFICATION_METRICS if m not in ("precision", "recall", "f1")]


def classifier(rng, y, skill, k, *, round_to=None):
    """Predictions and probabilities of a classifier that is right more often with skill."""
    logits = rng.normal(size=(y.size, k))
    logits[np.arange(y.size), y] += skill
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    if round_to is not None:  # coarse probabilities: many ties, as trees give
        proba = np.round(proba, round_to)
        proba /= proba.sum(axis=1, keepdims=True)
    return proba.argmax(axis=1), proba


def evaluation(version, y, pred, proba=None, classes=None, ids=None, metrics=(), task=None):
    task = task or ("classification" if classes is not None else "regression")
    ids = np.arange(len(y)) if ids is None else ids
    scores = compute(list(metrics), y, pred, proba, classes) if metrics else {}
    return Evaluation("m", version, task, scores, ids, y, pred, proba, classes)


def pair_of(rng, n=400, k=2, round_to=None, metrics=()):
    y = rng.integers(0, k, n)
    classes = list(range(k))
    base = evaluation(
        "b" * 12, y, *classifier(rng, y, 1.0, k, round_to=round_to), classes, metrics=metrics
    )
    head = evaluation(
        "h" * 12, y, *classifier(rng, y, 1.6, k, round_to=round_to), classes, metrics=metrics
    )
    return base, head


# --- McNemar ------------------------------------------------------------------------------


def test_mcnemar_exact_on_a_hand_computed_table():
    # 1 vs 9 discordant rows: p = 2 * P(X <= 1 | n=10, 1/2) = 2 * 11 / 1024
    test = mcnemar(1, 9)
    assert test.method == "exact"
    assert test.p_value == pytest.approx(22 / 1024)
    assert test.p_value == pytest.approx(stats.binomtest(1, 10, 0.5).pvalue)


def test_mcnemar_chi_square_with_continuity_correction():
    # (|10 - 25| - 1)^2 / 35 = 5.6, one degree of freedom
    test = mcnemar(10, 25)
    assert test.method == "chi-square"
    assert test.statistic == pytest.approx(5.6)
    assert test.p_value == pytest.approx(stats.chi2.sf(5.6, 1))
    assert test.p_value == pytest.approx(0.017960, abs=1e-6)


@pytest.mark.parametrize("b, c", [(0, 0), (3, 3), (40, 40)])
def test_mcnemar_without_disagreement_is_not_significant(b, c):
    assert mcnemar(b, c).p_value == 1.0


@pytest.mark.parametrize("b, c", [(0, 7), (5, 12), (24, 0), (30, 45), (200, 170)])
def test_mcnemar_matches_scipy(b, c):
    n = b + c
    want = (
        stats.binomtest(b, n, 0.5).pvalue if n < 25 else stats.chi2.sf((abs(b - c) - 1) ** 2 / n, 1)
    )
    assert mcnemar(b, c).p_value == pytest.approx(want, rel=1e-9)


# --- alignment ----------------------------------------------------------------------------


def test_aligned_matches_rows_by_id_whatever_their_order():
    y = np.array([0, 1, 1, 0, 1])
    base = evaluation("b", y, np.array([0, 1, 0, 0, 1]), classes=[0, 1], ids=[10, 11, 12, 13, 14])
    order = [4, 2, 0, 3, 1]
    head = evaluation(
        "h",
        y[order],
        np.array([1, 1, 1, 0, 1])[order],
        classes=[0, 1],
        ids=np.array([10, 11, 12, 13, 14])[order],
    )
    paired = aligned(base, head)
    assert isinstance(paired, Paired) and paired.rows == 5
    # in head's order: base's prediction for id 14, 12, 10, 13, 11
    assert paired.base_pred.tolist() == [1, 0, 0, 0, 1]
    assert paired.head_pred.tolist() == [1, 1, 1, 0, 1]


def test_aligned_refuses_different_test_sets_and_says_what_to_do():
    y = np.zeros(4, dtype=int)
    base = evaluation("b", y, y, classes=[0, 1], ids=[1, 2, 3, 4])
    head = evaluation("h", y[:3], y[:3], classes=[0, 1], ids=[2, 3, 9])
    result = aligned(base, head)
    assert isinstance(result, NotPaired)
    assert "base 4 rows, head 3, 2 in common" in result.reason
    assert "score the base version on head's test set" in result.reason


def test_aligned_refuses_changed_labels_repeated_ids_and_missing_predictions():
    y = np.array([0, 1, 0])
    base = evaluation("b", y, y, classes=[0, 1])
    assert "different labels" in aligned(base, evaluation("h", 1 - y, y, classes=[0, 1])).reason
    twice = evaluation("h", y, y, classes=[0, 1], ids=[1, 1, 2])
    assert "repeat" in aligned(base, twice).reason
    empty = Evaluation("m", "e" * 12, "classification", {})
    assert "no stored test predictions" in aligned(empty, base).reason


def test_aligned_compares_string_and_integer_ids_as_text():
    y = np.array([1.0, 2.0])
    base = evaluation("b", y, y, ids=["1", "2"])
    assert isinstance(aligned(base, evaluation("h", y, y, ids=[1, 2])), Paired)


# --- the bootstrap against scikit-learn ---------------------------------------------------


@pytest.mark.parametrize("k, metrics", [(2, list(CLASSIFICATION_METRICS)), (3, MULTICLASS)])
@pytest.mark.parametrize("round_to", [None, 1])
def test_estimates_equal_scikit_learn_differences(k, metrics, round_to):
    base, head = pair_of(np.random.default_rng(k), k=k, round_to=round_to, metrics=metrics)
    intervals = paired_bootstrap(aligned(base, head), metrics, resamples=200)
    assert list(intervals) == metrics
    for name in metrics:
        want = head.metrics[name] - base.metrics[name]
        assert intervals[name].estimate == pytest.approx(want, abs=1e-12), name


def test_regression_estimates_equal_scikit_learn_differences():
    rng = np.random.default_rng(5)
    y = rng.normal(100, 3, 300)  # a large mean: the R² sums must not lose precision
    metrics = list(REGRESSION_METRICS)
    base = evaluation("b", y, y + rng.normal(0, 1.0, y.size), metrics=metrics)
    head = evaluation("h", y, y + rng.normal(0, 0.8, y.size), metrics=metrics)
    intervals = paired_bootstrap(aligned(base, head), metrics, resamples=200)
    for name in metrics:
        want = head.metrics[name] - base.metrics[name]
        assert intervals[name].estimate == pytest.approx(want, abs=1e-10), name


@pytest.mark.parametrize("k", [2, 3])
def test_each_resample_equals_scikit_learn_on_the_drawn_rows(k):
    rng = np.random.default_rng(11)
    base, head = pair_of(rng, n=120, k=k, round_to=1)
    paired = aligned(base, head)
    metrics = list(CLASSIFICATION_METRICS if k == 2 else MULTICLASS)
    kernels = Kernels(paired)
    assert all(kernels.add(m) for m in metrics)
    draws = rng.integers(0, paired.rows, size=(4, paired.rows))
    weights = np.stack([np.bincount(d, minlength=paired.rows) for d in draws])
    sums, aucs = weights @ kernels.matrix(), kernels.auc(weights.astype(np.int32))
    classes = list(range(k))
    for r, rows in enumerate(draws):
        for side, ev in (("base", 0), ("head", 1)):
            pred = (paired.base_pred, paired.head_pred)[ev][rows]
            proba = (paired.base_proba, paired.head_proba)[ev][rows]
            want = compute(metrics, paired.y_true[rows], pred, proba, classes)
            for name in metrics:
                got = kernels.stats[name][ev](sums[r : r + 1], aucs[r : r + 1])[0]
                assert got == pytest.approx(want[name], abs=1e-12), (name, side, r)


def test_gathered_resamples_equal_scikit_learn_on_the_straightforwardly_drawn_rows():
    # the route without AUC terms gathers drawn rows instead of counting them: the same
    # draws (the weight route's n indices per resample, in order) must give
    # scikit-learn's log loss and accuracy on exactly those rows
    rng = np.random.default_rng(12)
    base, head = pair_of(rng, n=150, k=3)
    paired = aligned(base, head)
    kernels = Kernels(paired)
    assert kernels.add("log_loss") and kernels.add("accuracy")
    resamples, seed = 7, 5
    sums = _gather_rows(kernels.matrix(), resamples, seed)
    draws = np.random.default_rng(seed).integers(0, 150, (resamples, 150))
    for r, rows in enumerate(draws):
        for ev, (pred, proba) in enumerate(
            ((paired.base_pred, paired.base_proba), (paired.head_pred, paired.head_proba))
        ):
            want = compute(
                ["log_loss", "accuracy"], paired.y_true[rows], pred[rows], proba[rows], [0, 1, 2]
            )
            for name in ("log_loss", "accuracy"):
                got = kernels.stats[name][ev](sums[r : r + 1], np.empty((1, 0)))[0]
                assert got == pytest.approx(want[name], abs=1e-12), (name, r)


def test_counted_resamples_do_not_depend_on_threads_or_chunks(monkeypatch):
    monkeypatch.setattr("engine.review.significance.COUNTS_FROM", 100)
    base, head = pair_of(np.random.default_rng(13), n=500)
    paired = aligned(base, head)
    once = paired_bootstrap(paired, ["log_loss", "rmse"], seed=2)
    assert once["log_loss"].resamples == 1000
    monkeypatch.setattr("engine.review.resample.CHUNK_CELLS", 500 * 3)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0}, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert paired_bootstrap(paired, ["log_loss", "rmse"], seed=2) == once


def test_identical_predictions_give_a_zero_interval():
    base, _ = pair_of(np.random.default_rng(2), metrics=["accuracy"])
    head = Evaluation(
        "m",
        "h" * 12,
        "classification",
        base.metrics,
        base.row_ids,
        base.y_true,
        base.y_pred,
        base.proba,
        base.classes,
    )
    metrics = ["accuracy", "f1", "roc_auc", "log_loss"]
    for interval in paired_bootstrap(aligned(base, head), metrics).values():
        assert (interval.low, interval.high, interval.estimate) == (0.0, 0.0, 0.0)
        assert interval.spans_zero


def test_interval_contains_the_true_difference():
    # each row: base right with probability 0.80, head 0.85, independently: true gap 0.05
    rng = np.random.default_rng(21)
    n = 4000
    y = rng.integers(0, 2, n)
    flip = lambda p: np.where(rng.random(n) < p, y, 1 - y)  # noqa: E731
    base = evaluation("b", y, flip(0.80), classes=[0, 1])
    head = evaluation("h", y, flip(0.85), classes=[0, 1])
    accuracy = paired_bootstrap(aligned(base, head), ["accuracy"])["accuracy"]
    assert accuracy.low < 0.05 < accuracy.high
    assert accuracy.low > 0  # and 4,000 rows are enough to call it
    x = rng.normal(size=n)
    rmse = paired_bootstrap(
        aligned(
            evaluation("b", x, x + rng.normal(0, 1.0, n)),
            evaluation("h", x, x + rng.normal(0, 0.8, n)),
        ),
        ["rmse"],
    )["rmse"]
    assert rmse.low < -0.2 < rmse.high


def test_the_two_sampling_routes_agree():
    # label-only metrics draw category counts; the others draw rows: same distribution
    base, head = pair_of(np.random.default_rng(8), n=2000)
    paired = aligned(base, head)
    fast = _intervals(paired, ["accuracy", "f1"], 2000, 0, 0.95, discrete=True)
    rows = _intervals(paired, ["accuracy", "f1"], 2000, 0, 0.95, discrete=False)
    for name in ("accuracy", "f1"):
        assert fast[name].estimate == rows[name].estimate
        assert fast[name].low == pytest.approx(rows[name].low, abs=0.006)
        assert fast[name].high == pytest.approx(rows[name].high, abs=0.006)


def test_seeded_and_chunk_independent(monkeypatch):
    base, head = pair_of(np.random.default_rng(9), n=300)
    paired = aligned(base, head)
    once = paired_bootstrap(paired, ["roc_auc", "log_loss"], seed=3)
    assert once == paired_bootstrap(paired, ["roc_auc", "log_loss"], seed=3)
    assert once != paired_bootstrap(paired, ["roc_auc", "log_loss"], seed=4)
    monkeypatch.setattr("engine.review.significance.CHUNK_ELEMENTS", 300 * 7)
    assert once == paired_bootstrap(paired, ["roc_auc", "log_loss"], seed=3)


def test_undefined_metrics_are_left_out():
    y = np.zeros(50, dtype=int)  # a test set of one class: AUC is undefined
    rng = np.random.default_rng(1)
    base = evaluation("b", y, *classifier(rng, y, 1.0, 2), classes=[0, 1])
    head = evaluation("h", y, *classifier(rng, y, 2.0, 2), classes=[0, 1])
    no_proba = evaluation("h", y, head.y_pred, classes=[0, 1])
    result = paired_bootstrap(aligned(base, head), ["roc_auc", "accuracy", "rmse", "nonsense"])
    assert list(result) == ["accuracy"]
    assert "log_loss" not in paired_bootstrap(aligned(base, no_proba), ["log_loss"])


def test_constant_target_r2_follows_scikit_learn():
    y = np.full(20, 3.0)
    base = evaluation("b", y, y, metrics=["r2"])  # perfect: 1.0
    head = evaluation("h", y, y + 0.5, metrics=["r2"])  # not: 0.0
    interval = paired_bootstrap(aligned(base, head), ["r2"])["r2"]
    assert interval.estimate == head.metrics["r2"] - base.metrics["r2"] == -1.0
    assert math.isclose(interval.low, -1.0) and math.isclose(interval.high, -1.0)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000, 1001])
def test_percentiles_equal_numpys(size):
    from engine.review.significance import percentiles

    rng = np.random.default_rng(size)
    for values in (rng.normal(size=size), np.round(rng.normal(size=size), 1)):  # ties too
        qs = [2.5, 97.5, 0, 100, 50, 2.5000000000000022, 97.49999999999999]
        assert percentiles(values, qs) == list(np.percentile(values, qs))
