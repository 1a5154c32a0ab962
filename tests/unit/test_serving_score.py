"""Scoring a pinned version: a forest classifier's trees are walked once for both outputs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from engine.serving.inputs import Field, Signature
from engine.serving.pinned import PinnedVersion, predicts_from_proba


class Counting(RandomForestClassifier):
    """A forest subclass: it may score differently, so it gets no shortcut."""


def version(estimator, task: str = "classification") -> PinnedVersion:
    return PinnedVersion(
        model="iris",
        environment="staging",
        version="a" * 12,
        fingerprint="a" * 64,
        source_commit="a" * 40,
        sha256="",
        task=task,
        estimator=estimator,
        signature=Signature(tuple(Field(n, "float", False) for n in load_iris().feature_names)),
        classes=(0, 1, 2),
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: RandomForestClassifier(n_estimators=15, random_state=0),
        lambda: make_pipeline(
            StandardScaler(), ExtraTreesClassifier(n_estimators=15, random_state=0)
        ),
    ],
)
def test_a_forest_scores_in_one_pass_with_the_predictions_predict_gives(make):
    data = load_iris(as_frame=True)
    target = data.target.map({0: "setosa", 1: "versicolor", 2: "virginica"})  # labels, not 0..k
    estimator = make().fit(data.data, target)
    pinned = version(estimator)
    assert pinned.from_proba
    noisy = data.data * np.random.default_rng(0).normal(1.0, 0.2, data.data.shape)
    predictions, proba = pinned.score(noisy)
    assert predictions.dtype == estimator.predict(noisy).dtype
    assert predictions.tolist() == estimator.predict(noisy).tolist()
    assert np.array_equal(proba, estimator.predict_proba(noisy))


def test_other_estimators_call_predict():
    data = load_iris(as_frame=True)
    logistic = LogisticRegression(max_iter=500).fit(data.data, data.target)
    subclass = Counting(n_estimators=5, random_state=0).fit(data.data, data.target)
    regressor = RandomForestRegressor(n_estimators=5, random_state=0).fit(data.data, data.target)
    subpipeline = type("Steps", (Pipeline,), {})(
        [("forest", RandomForestClassifier(n_estimators=5))]
    )
    assert not predicts_from_proba(logistic)
    assert not predicts_from_proba(subclass)
    assert not predicts_from_proba(regressor)
    assert not predicts_from_proba(subpipeline)
    predictions, proba = version(regressor, "regression").score(data.data)
    assert proba is None and predictions.tolist() == regressor.predict(data.data).tolist()
    predictions, proba = version(logistic).score(data.data)
    assert predictions.tolist() == logistic.predict(data.data).tolist() and proba is not None


@pytest.mark.parametrize(
    "make",
    [
        lambda: RandomForestClassifier(n_estimators=20, max_depth=4, random_state=1),
        lambda: RandomForestClassifier(n_estimators=20, n_jobs=1, class_weight="balanced"),
        lambda: Pipeline(
            [
                ("none", None),
                ("scale", StandardScaler()),
                ("skip", "passthrough"),
                ("forest", ExtraTreesClassifier(n_estimators=20, random_state=2)),
            ]
        ),
    ],
)
def test_a_sequential_forest_sums_its_trees_to_the_bits_predict_proba_gives(make):
    data = load_iris(as_frame=True)
    features = data.data.copy()
    features.iloc[::7, 1] = np.nan  # trees fitted with missing values route them
    estimator = make().fit(features, data.target)
    pinned = version(estimator)
    assert pinned.trees is not None
    noisy = features * np.random.default_rng(3).normal(1.0, 0.3, features.shape)
    predictions, proba = pinned.score(noisy)
    assert np.array_equal(proba, estimator.predict_proba(noisy))
    assert predictions.tolist() == estimator.predict(noisy).tolist()
    for i in range(5):  # one row, as a server scores it
        assert np.array_equal(
            pinned.score(noisy.iloc[[i]])[1], estimator.predict_proba(noisy.iloc[[i]])
        )


def test_a_forest_scored_in_parallel_is_left_to_scikit_learn():
    data = load_iris(as_frame=True)
    forest = RandomForestClassifier(n_estimators=6, n_jobs=2, random_state=0).fit(
        data.data, data.target
    )
    pinned = version(forest)
    assert pinned.from_proba and pinned.trees is None
    assert np.allclose(pinned.score(data.data)[1], forest.predict_proba(data.data))


def test_numeric_rows_become_the_frame_pandas_builds_column_by_column():
    import pandas as pd

    pinned = version(LogisticRegression())
    names = pinned.signature.names
    rows = {n: [1.5 * i, float("nan"), -2.0] for i, n in enumerate(names)}
    fast = pinned.frame(rows)
    assert fast.equals(pd.DataFrame(rows, columns=names))
    assert list(fast.dtypes) == list(pd.DataFrame(rows, columns=names).dtypes)
    mixed = {**rows, names[0]: [1, None, 2.0]}  # not all floats: pandas infers each column
    assert pinned.frame(mixed).equals(pd.DataFrame(mixed, columns=names))
    assert list(pinned.frame(mixed).columns) == names
