"""Loading definitions: schema errors located on their node, names, did-you-mean hints."""

from engine.definitions.formats import Model
from engine.definitions.loading import allowed_keys, load

IRIS = b"""name: iris
source: {sklearn: load_iris}
target: target
"""
MODEL = b"""name: m
dataset: iris
task: classification
estimator: {class: sklearn.linear_model.LogisticRegression}
metrics: [accuracy]
primary_metric: accuracy
"""


def rendered(files):
    return [p.render() for p in sorted(load(files).problems)]


def test_valid_definitions_load_into_typed_models():
    defs = load(
        {
            "mlops/datasets/iris.yaml": IRIS,
            "mlops/models/m.yaml": MODEL,
            "README.md": b"not a definition",
        }
    )
    assert defs.problems == []
    assert defs.models["m"].spec.estimator.class_ == "sklearn.linear_model.LogisticRegression"
    assert defs.datasets["iris"].spec.split.test_size == 0.25
    assert defs.settings.store.url == ".mlops/store"


def test_unknown_key_gets_a_did_you_mean_hint_at_the_key():
    files = {"mlops/models/m.yaml": MODEL.replace(b"metrics:", b"metrcs:")}
    assert rendered(files) == [
        "mlops/models/m.yaml:1:1: error: missing required key 'metrics'",
        "mlops/models/m.yaml:5:1: error: unknown key 'metrcs'; did you mean 'metrics'?",
    ]


def test_wrong_type_is_located_on_the_value():
    files = {"mlops/datasets/iris.yaml": IRIS + b"split: {test_size: 1.5, seed: -1}\n"}
    assert rendered(files) == [
        "mlops/datasets/iris.yaml:4:20: error: split.test_size: Input should be less than 1",
        "mlops/datasets/iris.yaml:4:31: error: split.seed: Input should be greater than or "
        "equal to 0",
    ]


def test_file_name_must_match_the_name():
    assert rendered({"mlops/models/other.yaml": MODEL}) == [
        "mlops/models/other.yaml:1:7: error: name 'm' does not match the file name: rename "
        "the file to m.yaml or set name: other"
    ]


def test_duplicate_names_across_files():
    problems = rendered({"mlops/models/m.yaml": MODEL, "mlops/models/m.yml": MODEL})
    assert (
        "mlops/models/m.yml:1:7: error: model 'm' is already defined in "
        "mlops/models/m.yaml: names must be unique" in problems
    )


def test_a_list_where_a_mapping_belongs():
    assert rendered({"mlops/models/m.yaml": b"- a\n- b\n"}) == [
        "mlops/models/m.yaml:1:1: error: a model definition is a mapping of keys to values, "
        "not a list"
    ]


def test_allowed_keys_walks_nested_and_aliased_fields():
    assert "params" in allowed_keys(Model, ("estimator",))
    assert "class" in allowed_keys(Model, ("estimator",))
    assert "max_drop" in allowed_keys(Model, ("gates", "f1"))
    assert "transforms" in allowed_keys(Model, ("features",))


def test_monitoring_thresholds_are_validated_and_located():
    good = MODEL + b"monitoring:\n  drift_share: 0.3\n  window: 6h\n"
    defs = load({"mlops/datasets/iris.yaml": IRIS, "mlops/models/m.yaml": good})
    assert defs.problems == []
    settings = defs.models["m"].spec.monitoring
    assert (settings.drift_share, settings.window, settings.ks_threshold) == (0.3, "6h", 0.05)
    bad = MODEL + b"monitoring:\n  drift_share: 1.5\n  window: weekly\n  ks_treshold: 0.1\n"
    assert rendered({"mlops/datasets/iris.yaml": IRIS, "mlops/models/m.yaml": bad}) == [
        "mlops/models/m.yaml:8:16: error: monitoring.drift_share: Input should be less than "
        "or equal to 1",
        "mlops/models/m.yaml:9:11: error: monitoring.window: String should match pattern "
        "'^[1-9][0-9]*[smhd]$'",
        "mlops/models/m.yaml:10:3: error: unknown key 'monitoring.ks_treshold'; did you mean "
        "'ks_threshold'?",
    ]


def test_retrain_on_drift_needs_a_monitoring_source() -> None:
    import pydantic
    import pytest

    from engine.definitions.formats import Environment

    with pytest.raises(pydantic.ValidationError, match="needs a `monitoring:` source"):
        Environment.model_validate({"branch": "env/staging", "retrain_on_drift": True})
    env = Environment.model_validate(
        {"branch": "env/staging", "retrain_on_drift": True, "monitoring": {"current": "b.csv"}}
    )
    assert env.retrain_on_drift and not Environment(branch="env/x").retrain_on_drift
