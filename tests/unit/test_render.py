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
