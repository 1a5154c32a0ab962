"""Live performance and concept drift: seeded data, the verdicts the issue asks for."""

from __future__ import annotations

import numpy as np
import pytest

from engine.definitions.formats import Monitoring
from engine.monitoring.drift import data_drift
from engine.monitoring.outcome import Outcome
from engine.monitoring.performance import Labelled, live_metrics, live_performance


def _inputs(rng: np.random.Generator, rows: int) -> dict[str, np.ndarray]:
    return {"x0": rng.normal(size=rows), "x1": rng.normal(size=rows)}


def _rule(x: dict[str, np.ndarray]) -> np.ndarray:
    return (x["x0"] + x["x1"] > 0).astype(int)


def _noisy(rng: np.random.Generator, y: np.ndarray, share: float = 0.05) -> np.ndarray:
    flip = rng.random(y.size) < share
    return np.where(flip, 1 - y, y)


def test_labels_flipping_in_one_region_is_concept_drift_not_data_drift() -> None:
    rng = np.random.default_rng(21)
    reference, test, live = _inputs(rng, 4000), _inputs(rng, 1000), _inputs(rng, 3000)
    evaluation = Labelled(_noisy(rng, _rule(test)), _rule(test))
    truth = _noisy(rng, _rule(live))
    truth = np.where(live["x0"] > 1.0, 1 - truth, truth)  # the world changed there
    # midnight UTC, so the three days are three windows
    times = 1_699_920_000 + np.sort(rng.uniform(0, 3 * 86400, 3000))
    performance = live_performance(
        "classification", [0, 1], live_metrics("classification", [0, 1], ["accuracy", "f1"]),
        "accuracy", evaluation, Labelled(truth, _rule(live), times.tolist()),
        window_seconds=86400,
    )  # fmt: skip
    drift = data_drift(reference, live, Monitoring())
    outcome = Outcome("m", "prod", "v", "c", "ref", "cur", 4000, 3000, drift, None, (), None,
                      performance)  # fmt: skip
    assert not drift.drifted_features
    assert performance.overall.dropped and len(performance.windows) == 3
    assert all(w.dropped for w in performance.windows)
    assert outcome.concept_drift and outcome.status == "concept-drift"
    assert performance.evaluation["accuracy"] == pytest.approx(0.95, abs=0.02)
    assert performance.overall.metrics["accuracy"] < 0.85


def test_a_stable_version_does_not_drop() -> None:
    dropped = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        test, live = _inputs(rng, 1000), _inputs(rng, 2000)
        performance = live_performance(
            "classification", [0, 1], ["accuracy"], "accuracy",
            Labelled(_noisy(rng, _rule(test)), _rule(test)),
            Labelled(_noisy(rng, _rule(live)), _rule(live)),
            window_seconds=86400,
        )  # fmt: skip
        dropped += performance.dropped
    assert dropped <= 4  # one-sided at 2.5%: expected 1 of 40; 4 is its 99.9% quantile


def test_regression_errors_rising_is_a_drop_and_metrics_match_numpy() -> None:
    rng = np.random.default_rng(5)
    y_test, y_live = rng.normal(size=800), rng.normal(size=1500)
    evaluation = Labelled(y_test, y_test + rng.normal(0, 0.5, 800))
    live = Labelled(y_live, y_live + rng.normal(0, 0.8, 1500))
    performance = live_performance(
        "regression", [], ["rmse", "mae"], "rmse", evaluation, live, window_seconds=3600
    )
    errors = np.asarray(live.y_pred) - np.asarray(live.y_true)
    assert performance.overall.metrics["rmse"] == pytest.approx(np.sqrt(np.mean(errors**2)))
    assert performance.overall.metrics["mae"] == pytest.approx(np.mean(np.abs(errors)))
    assert performance.dropped and performance.windows == ()
    assert performance.overall.interval is not None and performance.overall.interval.low > 0


def test_classification_metrics_match_scikit_learn() -> None:
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    rng = np.random.default_rng(9)
    y, p = rng.integers(0, 2, 500), rng.integers(0, 2, 500)
    performance = live_performance(
        "classification", [0, 1], ["accuracy", "precision", "recall", "f1"], "f1",
        Labelled(y, p), Labelled(y, p), window_seconds=60,
    )  # fmt: skip
    got = performance.overall.metrics
    assert got["accuracy"] == pytest.approx(accuracy_score(y, p))
    assert got["precision"] == pytest.approx(precision_score(y, p))
    assert got["recall"] == pytest.approx(recall_score(y, p))
    assert got["f1"] == pytest.approx(f1_score(y, p))
    three = rng.integers(0, 3, 500)
    performance = live_performance(
        "classification", [0, 1, 2], ["f1_macro"], "f1_macro",
        Labelled(three, p), Labelled(three, p), window_seconds=60,
    )  # fmt: skip
    assert performance.overall.metrics["f1_macro"] == pytest.approx(
        f1_score(three, p, average="macro")
    )


def test_a_perfect_test_set_is_not_taken_as_certain() -> None:
    """36 right out of 36 is compatible with 96% live accuracy (Clopper-Pearson: 0.90-1)."""
    y = np.array([0, 1, 2] * 12)
    live_true = np.array([0, 1, 2] * 50)
    live_pred = live_true.copy()
    live_pred[:6] = (live_pred[:6] + 1) % 3  # 6 errors in 150
    performance = live_performance(
        "classification", [0, 1, 2], ["accuracy"], "accuracy",
        Labelled(y, y), Labelled(live_true, live_pred), window_seconds=86400,
    )  # fmt: skip
    assert performance.overall.metrics["accuracy"] == pytest.approx(0.96)
    assert not performance.dropped


def test_a_stable_regressor_with_sparse_windows_does_not_drop() -> None:
    # one labelled row a day: resampling one row has no spread, so the live side's interval
    # was a point, and a stable regressor "dropped" in nearly every run (97% measured)
    dropped = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        y_test, y_live = rng.normal(size=500), rng.normal(size=10)
        times = [1_699_920_000.0 + 86400 * i for i in range(10)]  # ten one-row windows
        performance = live_performance(
            "regression", [], ["rmse", "mae"], "rmse",
            Labelled(y_test.tolist(), (y_test + rng.normal(size=500)).tolist()),
            Labelled(y_live.tolist(), (y_live + rng.normal(size=10)).tolist(), times),
            window_seconds=86400, seed=seed,
        )  # fmt: skip
        assert len(performance.windows) == 10
        assert all(w.metrics["rmse"] is not None for w in performance.windows)  # still scored
        dropped += performance.dropped
    assert dropped <= 4  # the documented 5%: expected at most 2 of 40; 4 its 99.9% quantile
