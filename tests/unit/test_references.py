"""Cross-references: models, datasets, feature sets and environments that must fit together."""

from engine.definitions.loading import load
from engine.definitions.references import check_references

IRIS = b"""name: iris
source: {sklearn: load_iris}
target: target
schema:
  columns:
    petal: {type: float}
    target: {type: int, values: [0, 1, 2]}
"""


def problems(files):
    defs = load(files)
    assert defs.problems == []
    return [p.render() for p in sorted(check_references(defs))]


def model(extra: str = "", dataset: str = "iris") -> bytes:
    return (
        f"name: m\ndataset: {dataset}\ntask: classification\n"
        "estimator: {class: sklearn.linear_model.LogisticRegression}\n"
        "metrics: [accuracy]\nprimary_metric: accuracy\n" + extra
    ).encode()


def test_unknown_dataset_with_hint():
    assert problems(
        {"mlops/datasets/iris.yaml": IRIS, "mlops/models/m.yaml": model(dataset="iriss")}
    ) == [
        "mlops/models/m.yaml:2:10: error: unknown dataset 'iriss' (did you mean 'iris'?): "
        "add mlops/datasets/iriss.yaml or fix the name"
    ]


def test_gates_must_name_computed_metrics_and_cv_adds_metrics():
    files = {
        "mlops/datasets/iris.yaml": IRIS,
        "mlops/models/m.yaml": model(
            "cv: 3\ngates:\n  cv_accuracy: {min: 0.8}\n  f1_macro: {min: 0.8}\n"
        ),
    }
    assert problems(files) == [
        "mlops/models/m.yaml:10:3: error: gate on 'f1_macro', which is not computed: add it "
        "to metrics or remove the gate"
    ]


def test_feature_columns_must_exist_and_must_not_be_the_target():
    feature = (
        b"name: fs\ntransforms:\n  - columns: [petl, target]\n    steps: "
        b"[{class: sklearn.preprocessing.StandardScaler}]\n"
    )
    files = {
        "mlops/datasets/iris.yaml": IRIS,
        "mlops/features/fs.yaml": feature,
        "mlops/models/m.yaml": model("features: fs\n"),
    }
    assert problems(files) == [
        "mlops/features/fs.yaml:3:15: error: column 'petl' is not in the schema of dataset "
        "'iris' (did you mean 'petal'?) (used by model 'm' on dataset 'iris')",
        "mlops/features/fs.yaml:3:21: error: column 'target' is the target of 'iris': a "
        "feature must not leak the target (used by model 'm' on dataset 'iris')",
    ]


def test_binary_metrics_on_a_multiclass_target():
    files = {
        "mlops/datasets/iris.yaml": IRIS,
        "mlops/models/m.yaml": model().replace(b"[accuracy]", b"[accuracy, f1]"),
    }
    assert problems(files) == [
        "mlops/models/m.yaml:5:21: error: metric 'f1' needs a binary target but 'iris' has 3 "
        "classes: use f1_macro"
    ]


def test_environment_requirements_exist_and_form_no_cycle():
    project = b"""environments:
  staging: {branch: env/staging, requires: [production]}
  production: {branch: env/production, requires: [staging, qa]}
  canary: {branch: main}
"""
    assert problems({"mlops/project.yaml": project}) == [
        "mlops/project.yaml:3:50: error: environments require each other in a cycle: "
        "production → staging → production",
        "mlops/project.yaml:3:60: error: environment 'production' requires unknown "
        "environment 'qa'",
        "mlops/project.yaml:4:20: error: an environment branch must not be the default "
        "branch: use e.g. env/canary",
    ]


def test_a_reference_to_an_invalid_file_is_not_reported_twice():
    files = {
        "mlops/datasets/iris.yaml": b"name: iris\nsource: {}\n",
        "mlops/models/m.yaml": model(),
    }
    defs = load(files)
    assert len(defs.problems) == 2  # source needs one of two keys; target is missing
    assert check_references(defs) == []


def test_a_nullable_target_is_refused_at_its_nullable_key():
    """Issue 11: a nullable target passed validation, then training failed on NaN labels."""
    nullable = IRIS.replace(b"values: [0, 1, 2]}", b"values: [0, 1, 2], nullable: true}")
    files = {"mlops/datasets/iris.yaml": nullable, "mlops/models/m.yaml": model()}
    assert problems(files) == [
        "mlops/datasets/iris.yaml:7:54: error: target 'target' cannot be nullable: every "
        "row needs a label to train and score on; remove nullable: true and keep unlabeled "
        "rows out of this dataset"
    ]
    assert problems({"mlops/datasets/iris.yaml": IRIS, "mlops/models/m.yaml": model()}) == []
