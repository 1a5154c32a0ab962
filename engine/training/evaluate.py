"""Metrics of a fitted model on held-out rows, and the scorers cross-validation uses.

Called only on paths that train or rescore, so importing scikit-learn here is fine; the
module is never imported by cheap commands. Undefined metrics (ROC AUC on a test split
with a single class) are ``None``, never a crash.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

# metric name -> scikit-learn scorer name (for cross-validation and search)
SCORERS = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced_accuracy",
    "precision": "precision",
    "recall": "recall",
    "f1": "f1",
    "precision_macro": "precision_macro",
    "recall_macro": "recall_macro",
    "f1_macro": "f1_macro",
    "roc_auc": "roc_auc",
    "log_loss": "neg_log_loss",
    "rmse": "neg_root_mean_squared_error",
    "mae": "neg_mean_absolute_error",
    "r2": "r2",
}


def scorer(metric: str, n_classes: int | None) -> str:
    """The scikit-learn scorer name for ``metric`` (multiclass AUC is one-vs-rest)."""
    if metric == "roc_auc" and n_classes is not None and n_classes > 2:
        return "roc_auc_ovr"
    return SCORERS[metric]


def score_sign(metric: str) -> float:
    """-1 for scorers scikit-learn negates (losses), so the metric reads as usual."""
    return -1.0 if SCORERS[metric].startswith("neg_") else 1.0


def compute(
    metrics: list[str],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray | None = None,
    classes: list[Any] | None = None,
) -> dict[str, float | None]:
    """Each requested metric on one evaluation; ``None`` where it is undefined."""
    from sklearn import metrics as m

    out: dict[str, float | None] = {}
    pos_label = classes[1] if classes is not None and len(classes) == 2 else None
    for name in metrics:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                value = _one(m, name, y_true, y_pred, proba, classes, pos_label)
            except ValueError:
                value = None
        out[name] = None if value is None or not math.isfinite(value) else float(value)
    return out


def _one(
    m: Any, name: str, y_true: Any, y_pred: Any, proba: Any, classes: Any, pos_label: Any
) -> float | None:
    if name == "accuracy":
        return float(m.accuracy_score(y_true, y_pred))
    if name == "balanced_accuracy":
        return float(m.balanced_accuracy_score(y_true, y_pred))
    if name in ("precision", "recall", "f1"):
        func = getattr(m, f"{name}_score")
        return float(func(y_true, y_pred, pos_label=pos_label, zero_division=0))
    if name in ("precision_macro", "recall_macro", "f1_macro"):
        func = getattr(m, f"{name.removesuffix('_macro')}_score")
        return float(func(y_true, y_pred, average="macro", zero_division=0))
    if name == "roc_auc":
        if proba is None or len(set(y_true.tolist())) < 2:
            return None
        if proba.shape[1] == 2:
            return float(m.roc_auc_score(y_true, proba[:, 1]))
        return float(m.roc_auc_score(y_true, proba, multi_class="ovr", labels=classes))
    if name == "log_loss":
        return None if proba is None else float(m.log_loss(y_true, proba, labels=classes))
    if name == "rmse":
        return float(m.root_mean_squared_error(y_true, y_pred))
    if name == "mae":
        return float(m.mean_absolute_error(y_true, y_pred))
    if name == "r2":
        return float(m.r2_score(y_true, y_pred)) if len(y_true) > 1 else None
    raise ValueError(f"unknown metric {name!r}")
