"""Prediction drift and live performance of one version, from plain values.

Both compare what the version did live (:class:`engine.monitoring.live.Live`) with its
test-set predictions stored at training time (``test``: ``y_true``, ``y_pred`` and, for
classifiers, ``proba_*`` columns); the seam (:mod:`engine.monitoring.monitor`) reads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.monitoring.drift import DataDrift, counts_of, data_drift

if TYPE_CHECKING:
    import pandas as pd

    from engine.definitions.formats import Model
    from engine.monitoring.live import Live
    from engine.monitoring.performance import Performance


def prediction_drift(test: pd.DataFrame | None, live: Live, model: Model) -> DataDrift | None:
    """Predicted classes/values, and max probability, against the test-set predictions."""
    import numpy as np

    if not live.predictions or test is None:
        return None
    reference: dict[str, Any] = {}
    current: dict[str, Any] = {}
    if model.task == "classification":
        reference["prediction"] = counts_of(test["y_pred"].tolist())
        current["prediction"] = counts_of(live.predictions)
        proba = [c for c in test.columns if c.startswith("proba_")]
        if proba and len(live.confidence):
            reference["confidence"] = test[proba].to_numpy().max(axis=1)
            current["confidence"] = np.asarray(live.confidence, dtype=np.float64)
    else:
        reference["prediction"] = test["y_pred"].to_numpy(dtype=np.float64)
        current["prediction"] = np.asarray(live.predictions, dtype=np.float64)
    return data_drift(reference, current, model.monitoring)


def performance(
    test: pd.DataFrame | None, classes: list[Any], live: Live, model: Model
) -> Performance | None:
    """Live scores against the version's evaluation, when labelled rows were predicted."""
    from engine.monitoring.performance import Labelled, live_metrics, live_performance
    from engine.monitoring.records import span_seconds

    if live.scored is not None:  # logs: every labelled request, in the window or before
        labels, predicted, times = live.scored
    elif live.labels is None or not live.predictions:
        return None
    else:
        rows = [i for i, y in enumerate(live.labels) if y is not None]
        labels = [live.labels[i] for i in rows]
        predicted = [live.predictions[i] for i in rows]
        times = [live.times[i] for i in rows] if live.times else []
    if not labels or test is None:
        return None
    window = span_seconds(model.monitoring.window)
    assert window is not None  # (the definitions' pattern: a span such as 1d or 6h)
    return live_performance(
        model.task,
        classes,
        live_metrics(model.task, classes, model.metrics),
        model.primary_metric,
        Labelled(test["y_true"].tolist(), test["y_pred"].tolist()),
        Labelled(labels, predicted, times),
        window_seconds=window,
        tolerance=model.monitoring.performance_drop,
    )
