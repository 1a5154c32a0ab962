"""An evaluated version: what the review reads of a stored model version.

Both :mod:`engine.review.compare` and :mod:`engine.review.significance` take these, so the
type lives apart from either. Pure: plain values, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.data.profile import DataProfile
from engine.definitions.names import Task

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


@dataclass(frozen=True)
class Evaluation:
    """One stored model version scored on its test split: what a comparison reads."""

    model: str
    version: str
    task: Task
    metrics: Mapping[str, float | None]
    row_ids: ArrayLike = ()
    y_true: ArrayLike = ()
    y_pred: ArrayLike = ()
    proba: ArrayLike | None = None
    """Class probabilities, one column per entry of ``classes`` (classifiers)."""
    classes: Sequence[Any] | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    data: DataProfile | None = None
    history: Sequence[tuple[str, float | None]] = ()
    """(version, primary metric) of recent versions, oldest first, for the chart."""
    sklearn_version: str = ""
    """The scikit-learn that trained it (its record; empty where the record does not say)."""
