"""build_pipeline: definitions in, a real scikit-learn Pipeline out (features, then estimator).

Plain definition values go in; the assertions look at the real scikit-learn objects and at
what the fitted pipeline does with a small raw DataFrame, the way a stored model is used.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from engine.definitions.formats import FeatureSet, FeatureSpec, Model
from engine.errors import DefinitionError
from engine.training.train import Outcome, build_pipeline

INPUTS = ["age", "income", "score", "visits"]
SCALE = {"class": "sklearn.preprocessing.StandardScaler"}
IMPUTE = {"class": "sklearn.impute.SimpleImputer", "params": {"strategy": "median"}}


def model(
    estimator: str = "sklearn.linear_model.LogisticRegression",
    params: dict[str, Any] | None = None,
    **fields: Any,
) -> Model:
    """A classification model definition, as the loader would build it."""
    return Model.model_validate(
        {
            "name": "m",
            "dataset": "d",
            "task": "classification",
            "estimator": {"class": estimator, "params": params or {}},
            "metrics": ["accuracy"],
            "primary_metric": "accuracy",
            **fields,
        }
    )


def features(**fields: Any) -> FeatureSpec:
    """An inline feature spec."""
    return FeatureSpec.model_validate(fields)


def frame() -> pd.DataFrame:
    """Eight raw rows with a missing value, and a binary label."""
    return pd.DataFrame(
        {
            "age": [21.0, 35.0, None, 52.0, 44.0, 30.0, 61.0, 27.0],
            "income": [1.0, 3.0, 2.0, 8.0, 5.0, 2.5, 9.0, 1.5],
            "score": [0.1, 0.4, 0.3, 0.9, 0.7, 0.2, 0.8, 0.3],
            "visits": [1, 4, 2, 9, 6, 3, 8, 2],
        }
    )


LABELS = [0, 0, 0, 1, 1, 0, 1, 0]


def output_names(spec: FeatureSpec | None, inputs: list[str] = INPUTS) -> list[str]:
    """The columns the fitted feature step hands to the estimator."""
    pipeline = build_pipeline(model(), spec, inputs)
    pipeline.fit(frame()[inputs], LABELS)
    return list(pipeline[:-1].get_feature_names_out())


def test_no_feature_set_gives_the_bare_estimator_with_its_params():
    from sklearn.linear_model import LogisticRegression

    pipeline = build_pipeline(model(params={"C": 0.5, "max_iter": 50}), None, INPUTS)
    assert [name for name, _ in pipeline.steps] == ["estimator"]
    estimator = pipeline.named_steps["estimator"]
    assert type(estimator) is LogisticRegression
    assert (estimator.C, estimator.max_iter) == (0.5, 50)


def test_a_spec_without_transforms_over_every_input_is_the_bare_estimator():
    assert len(build_pipeline(model(), features(), INPUTS).steps) == 1
    same = features(columns=list(INPUTS))
    assert [name for name, _ in build_pipeline(model(), same, INPUTS).steps] == ["estimator"]


def test_inline_transforms_become_chains_on_their_columns_and_the_rest_passes_through():
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    spec = features(transforms=[{"columns": ["age", "income"], "steps": [IMPUTE, SCALE]}])
    pipeline = build_pipeline(model(), spec, INPUTS)
    assert [name for name, _ in pipeline.steps] == ["features", "estimator"]
    columns = pipeline.named_steps["features"]
    assert isinstance(columns, ColumnTransformer) and columns.remainder == "drop"
    (name, chain, cols), (rest_name, rest, rest_cols) = columns.transformers
    assert (name, cols) == ("group0", ["age", "income"])
    assert isinstance(chain, Pipeline)
    assert [type(step) for _, step in chain.steps] == [SimpleImputer, StandardScaler]
    assert chain.steps[0][1].strategy == "median"
    assert (rest_name, rest, rest_cols) == ("passthrough", "passthrough", ["score", "visits"])
    assert output_names(spec) == INPUTS


def test_a_named_feature_set_builds_the_same_pipeline_as_the_same_spec_inline():
    transforms = [{"columns": ["age"], "steps": [IMPUTE]}, {"columns": ["score"], "steps": [SCALE]}]
    named = FeatureSet.model_validate(
        {"name": "shared", "description": "prose", "owners": ["@team"], "transforms": transforms}
    )
    inline = features(transforms=transforms)
    a = build_pipeline(model(), named, INPUTS).named_steps["features"]
    b = build_pipeline(model(), inline, INPUTS).named_steps["features"]
    assert (
        [(n, c) for n, _, c in a.transformers]
        == [(n, c) for n, _, c in b.transformers]
        == [("group0", ["age"]), ("group1", ["score"]), ("passthrough", ["income", "visits"])]
    )
    assert output_names(named) == output_names(inline) == ["age", "score", "income", "visits"]


def test_remainder_drop_keeps_only_the_transformed_columns():
    spec = features(
        transforms=[{"columns": ["income", "age"], "steps": [IMPUTE]}], remainder="drop"
    )
    names = [n for n, _, _ in build_pipeline(model(), spec, INPUTS)[0].transformers]
    assert names == ["group0"]
    assert output_names(spec) == ["income", "age"]


def test_a_column_subset_without_transforms_selects_those_columns_in_their_order():
    spec = features(columns=["visits", "age"])
    pipeline = build_pipeline(model(), spec, INPUTS)
    assert [name for name, _ in pipeline.steps] == ["features", "estimator"]
    assert pipeline[0].transformers == [("passthrough", "passthrough", ["visits", "age"])]
    assert output_names(features(columns=["visits", "income"])) == ["visits", "income"]


def test_a_column_subset_limits_what_the_remainder_passes_through():
    spec = features(
        columns=["age", "income", "score"],
        transforms=[{"columns": ["age"], "steps": [IMPUTE, SCALE]}],
    )
    assert output_names(spec) == ["age", "income", "score"]  # visits is not an input
    dropped = features(
        columns=["age", "income", "score"],
        remainder="drop",
        transforms=[{"columns": ["age"], "steps": [IMPUTE]}],
    )
    assert output_names(dropped) == ["age"]


def test_the_fitted_pipeline_takes_raw_rows_in_any_column_order():
    spec = features(transforms=[{"columns": ["age"], "steps": [IMPUTE, SCALE]}])
    pipeline = build_pipeline(model(), spec, INPUTS).fit(frame(), LABELS)
    shuffled = frame()[["visits", "score", "age", "income"]]
    assert list(pipeline.predict(shuffled)) == list(pipeline.predict(frame()))
    assert pipeline.predict_proba(frame().iloc[[2]]).shape == (1, 2)  # the row with a gap


def test_yaml_lists_become_the_tuples_a_transformer_needs():
    minmax = {"class": "sklearn.preprocessing.MinMaxScaler", "params": {"feature_range": [0, 2]}}
    spec = features(transforms=[{"columns": ["income"], "steps": [minmax]}], remainder="drop")
    pipeline = build_pipeline(model(), spec, INPUTS)
    scaler = pipeline[0].transformers[0][1].steps[0][1]
    assert scaler.feature_range == (0, 2)
    assert pipeline[0].fit_transform(frame()).max() == pytest.approx(2.0)


def test_an_estimator_off_the_allow_list_is_refused_without_importing_it():
    with pytest.raises(DefinitionError, match="not an allowed estimator"):
        build_pipeline(model("os.system"), None, INPUTS)
    with pytest.raises(DefinitionError, match="not an allowed"):
        build_pipeline(
            model(),
            features(transforms=[{"columns": ["age"], "steps": [{"class": "subprocess.Popen"}]}]),
            INPUTS,
        )


def test_params_the_estimator_does_not_take_fail_when_the_pipeline_is_built():
    with pytest.raises(TypeError, match="n_trees"):
        build_pipeline(
            model("sklearn.ensemble.RandomForestClassifier", {"n_trees": 3}), None, INPUTS
        )


def test_an_outcome_names_its_version_and_reads_as_plain_data():
    outcome = Outcome(
        "iris-logreg", "0123456789ab" + "c" * 52, "failed", reason="why", seconds=1.23456
    )
    assert outcome.version == "0123456789ab"
    assert outcome.as_dict() == {
        "model": "iris-logreg",
        "version": "0123456789ab",
        "fingerprint": outcome.fingerprint,
        "status": "failed",
        "reason": "why",
        "metrics": {},
        "seconds": 1.235,
    }


def test_a_models_budget_can_only_lower_the_project_files() -> None:
    from engine.definitions.formats import Budget

    ceiling = Budget(seconds=60, memory_mb=1024)
    assert Budget(seconds=5).within(ceiling) == Budget(seconds=5, memory_mb=1024)
    assert Budget(seconds=86400, memory_mb=10**6).within(ceiling) == ceiling
    assert Budget() == Budget(seconds=1800, memory_mb=4096)
