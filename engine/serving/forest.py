"""A forest classifier's class probabilities, summed tree by tree without joblib's dispatch.

scikit-learn's ``ForestClassifier.predict_proba`` hands every tree to joblib's ``Parallel``
through its own ``delayed`` wrapper, which, *for each tree*, enters a config context and a
``catch_warnings`` block, resets the warning filters and adds back every filter the
process has, one call each (``sklearn/utils/parallel.py``, ``_FuncWrapper.__call__``).
On a few rows that bookkeeping costs more than the trees: with 200 trees and one row it
is most of the call, it grows with the number of warning filters in the process (a
KServe server has 15: its imports add urllib3's and requests'), and every reset makes
Python show again, on every request, a warning it had shown once (KServe's
``ORJSONResponse`` deprecation, a stderr write per request).

:func:`forest_proba` does what that call does with ``n_jobs`` 1, in the same order: the
forest's own input check (``_validate_X_predict``: float32, feature names and count),
then each tree's public ``predict_proba(X, check_input=False)`` added into one float64
array in the order of ``estimators_``, divided by the number of trees: the same float
operations, so the same bits (tested against scikit-learn's own answer). Anything else
(``n_jobs`` other than 1, several outputs, a forest without the check) is None from
:func:`sequential_forest`, and the caller uses ``predict_proba``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


def sequential_forest(estimator: Any) -> tuple[tuple[Any, ...], Any] | None:
    """``(transforms before the forest, forest)`` when :func:`forest_proba` gives exactly
    ``estimator.predict_proba``; None otherwise.

    ``estimator`` is a forest classifier or a plain ``Pipeline`` ending in one (the caller
    checked the exact types: :func:`engine.serving.pinned.predicts_from_proba`). scikit-learn
    scores the trees one after the other, in order, when the forest's ``n_jobs`` is None or
    1; with more jobs its sum's order varies from call to call, so that is left to it.
    """
    steps = getattr(estimator, "steps", None)
    forest = steps[-1][1] if steps is not None else estimator
    head = tuple(s for _, s in (steps or [])[:-1] if s is not None and not _passthrough(s))
    if (
        getattr(forest, "n_jobs", 0) not in (None, 1)
        or getattr(forest, "n_outputs_", None) != 1
        or not callable(getattr(forest, "_validate_X_predict", None))
        or not getattr(forest, "estimators_", None)
    ):
        return None
    return head, forest


def _passthrough(step: Any) -> bool:
    return isinstance(step, str) and step == "passthrough"


def forest_proba(head: tuple[Any, ...], forest: Any, X: Any) -> np.ndarray:
    """Class probabilities of ``X`` (see the module doc)."""
    import numpy as np

    for step in head:  # what Pipeline.predict_proba does before its last step
        X = step.transform(X)
    X = forest._validate_X_predict(X)
    proba = np.zeros((X.shape[0], forest.n_classes_), dtype=np.float64)
    for tree in forest.estimators_:
        proba += tree.predict_proba(X, check_input=False)
    proba /= len(forest.estimators_)
    return proba


__all__ = ["forest_proba", "sequential_forest"]
