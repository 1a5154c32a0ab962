"""The vocabulary of the definition formats: names, tasks, metrics and file kinds.

Plain constants and functions, without pydantic: the review of stored versions, the
store and the report use them without building the format classes of
:mod:`engine.definitions.formats` (which re-exports all of this), whose construction
costs most of such a run's start-up.
"""

from __future__ import annotations

import functools
from typing import Literal

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
IMPORT_PATH_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$"
SKLEARN_LOADERS = (
    "load_iris",
    "load_wine",
    "load_breast_cancer",
    "load_diabetes",
    "load_digits",
)
Task = Literal["classification", "regression"]

CLASSIFICATION_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "roc_auc",
    "log_loss",
)
BINARY_ONLY_METRICS = ("precision", "recall", "f1")
REGRESSION_METRICS = ("rmse", "mae", "r2")
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae"})


def lower_is_better(metric: str) -> bool:
    """Whether a smaller value of ``metric`` is better (losses, errors, and CV spreads)."""
    if metric.startswith("cv_") and metric.endswith("_std"):
        return True
    return metric.removeprefix("cv_") in LOWER_IS_BETTER


METRICS_BY_TASK: dict[str, tuple[str, ...]] = {
    "classification": CLASSIFICATION_METRICS,
    "regression": REGRESSION_METRICS,
}
PROSE_FIELDS = frozenset({"description", "owners", "tags"})
PERMISSIONS = ("admin", "maintain", "write", "triage", "read")

FOLDERS = {"datasets": "dataset", "features": "feature-set", "models": "model"}


@functools.lru_cache(maxsize=1 << 16)
def kind_of(path: str) -> str | None:
    """The definition kind of a repository path under ``mlops/``, or None."""
    # str.split, not PurePosixPath, and remembered: asked several times for every file
    # of each revision (git's paths are already normalised: no empty or "." parts)
    parts = tuple(path.split("/"))
    if parts == ("mlops", "project.yaml"):
        return "project"
    if len(parts) == 3 and parts[0] == "mlops" and parts[2].endswith((".yaml", ".yml")):
        return FOLDERS.get(parts[1])
    return None


__all__ = [
    "BINARY_ONLY_METRICS",
    "CLASSIFICATION_METRICS",
    "FOLDERS",
    "IMPORT_PATH_PATTERN",
    "LOWER_IS_BETTER",
    "METRICS_BY_TASK",
    "NAME_PATTERN",
    "PERMISSIONS",
    "PROSE_FIELDS",
    "REGRESSION_METRICS",
    "SKLEARN_LOADERS",
    "Task",
    "kind_of",
    "lower_is_better",
]
