"""Terminal text: training outcomes and runs tables."""

from __future__ import annotations

from engine.render import outcome_line, runs_text
from engine.training.train import Outcome


def test_a_failure_before_fingerprinting_shows_no_empty_version():
    line = outcome_line(Outcome("cars-gbr", "", "failed", reason="mlops/models/cars.yaml: bad"))
    assert line == " failed  cars-gbr  mlops/models/cars.yaml: bad"
    line = outcome_line(Outcome("cars-gbr", "ab12", "failed", reason="boom"))
    assert "cars-gbr@ab12  boom" in line


def test_runs_of_several_models_show_every_metric_column():
    rows = [
        {"model": "iris-logreg", "version": "a1", "accuracy": 0.9, "f1": 0.8},
        {"model": "cars-gbr", "version": "b2", "rmse": 2.5},
    ]
    header, first, second = runs_text(rows).splitlines()
    assert header.split() == ["model", "version", "accuracy", "f1", "rmse"]
    assert first.split() == ["iris-logreg", "a1", "0.9000", "0.8000", "-"]
    assert second.split() == ["cars-gbr", "b2", "-", "-", "2.5000"]


def test_runs_with_full_lineage_still_show_every_models_metrics():
    """Issue 11: with the lineage columns first, a 12-column cut kept the first model's
    metrics only (diabetes-ridge's rmse never showed beside cancer-rf)."""
    lineage = dict.fromkeys(("created", "commit", "author", "dataset", "data_hash"), "x")
    trailing = {"training_seconds": 1.0, "rows_train": 10, "rows_test": 5, "fingerprint": "f"}
    rows = [
        {"model": "cancer-rf", "version": "a1", **lineage, "accuracy": 0.9, "f1": 0.8,
         "roc_auc": 0.95, "log_loss": 0.2, "cv_f1": 0.8, "cv_f1_std": 0.01,
         "params.n_estimators": 200, "params.max_depth": 8, **trailing},
        {"model": "diabetes-ridge", "version": "b2", **lineage, "rmse": 57.7, "mae": 49.5,
         "r2": 0.45, "params.alpha": 1.0, **trailing},
    ]  # fmt: skip
    header = runs_text(rows).splitlines()[0].split()
    for metric in ("accuracy", "f1", "roc_auc", "log_loss", "rmse", "mae", "r2"):
        assert metric in header
    assert "fingerprint" not in header and len(header) >= 14
    wider = runs_text(rows, limit_columns=16).splitlines()[0].split()
    assert set(wider) - set(header) == {"cv_f1", "cv_f1_std"}  # then the optional ones
