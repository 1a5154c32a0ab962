"""The change plan, from plain file contents: statuses, reasons, JSON and the CI matrix."""

from __future__ import annotations

import pytest

from engine.definitions.loading import load
from engine.training.fingerprint import TRAINING_SEMANTICS_VERSION, short
from engine.training.plan import Plan, Reason, Snapshot, diff, plan, plan_matrix, plan_to_json

OLD_MD5 = "ab12" + "0" * 28
NEW_MD5 = "cd34" + "1" * 28

FILES: dict[str, bytes] = {
    "README.md": b"# models\n",
    "mlops/project.yaml": b"store: {url: .mlops/store}\n",
    "mlops/datasets/iris.yaml": b"""\
name: iris
description: Flowers.
source: {sklearn: load_iris}
target: target
split: {test_size: 0.25, seed: 7, stratify: true}
""",
    "mlops/datasets/churn.yaml": b"""\
name: churn
source: {path: data/churn.csv}
target: churned
split: {seed: 1}
""",
    "data/churn.csv.dvc": f"outs:\n- md5: {OLD_MD5}\n  size: 10\n  path: churn.csv\n".encode(),
    "mlops/features/std.yaml": b"""\
name: std
description: Standardized numbers.
transforms:
  - columns: [tenure, charges]
    steps:
      - {class: sklearn.preprocessing.StandardScaler}
""",
    "mlops/models/iris-logreg.yaml": b"""\
name: iris-logreg
description: Logistic regression.
dataset: iris
task: classification
estimator:
  class: sklearn.linear_model.LogisticRegression
  params: {C: 1.0, max_iter: 500}
metrics: [accuracy]
primary_metric: accuracy
""",
    "mlops/models/churn-rf.yaml": b"""\
name: churn-rf
dataset: churn
features: std
task: classification
estimator:
  class: sklearn.ensemble.RandomForestClassifier
  params: {n_estimators: 100, max_depth: 8}
metrics: [accuracy, f1]
primary_metric: f1
""",
    "mlops/models/churn-lr.yaml": b"""\
name: churn-lr
dataset: churn
task: classification
estimator:
  class: sklearn.linear_model.LogisticRegression
metrics: [accuracy]
primary_metric: accuracy
""",
}


def snap(files: dict[str, bytes], sklearn: str = "1.9.0", semantics: int | None = None) -> Snapshot:
    """A snapshot of ``files`` as the engine would load them."""
    return Snapshot(load(files), files, sklearn, semantics=semantics or TRAINING_SEMANTICS_VERSION)


def edit(path: str, old: bytes, new: bytes, files: dict[str, bytes] = FILES) -> dict[str, bytes]:
    """A copy of ``files`` with one replacement made in ``path``."""
    assert old in files[path], f"{old!r} not in {path}"
    return {**files, path: files[path].replace(old, new)}


def statuses(result: Plan) -> dict[str, str]:
    return {m.name: m.status for m in result.models}


def reasons(result: Plan, name: str) -> list[str]:
    return [r.render() for m in result.models if m.name == name for r in m.reasons]


BASE = snap(FILES)
ALL_UNCHANGED = {"churn-lr": "unchanged", "churn-rf": "unchanged", "iris-logreg": "unchanged"}


def test_nothing_changed_plans_nothing():
    result = plan(BASE, snap(dict(FILES)))
    assert statuses(result) == ALL_UNCHANGED
    assert not result.has_work and result.to_train == []
    assert plan_matrix(result) == {"include": []}
    assert all(m.base_fingerprint == m.head_fingerprint for m in result.models)
    assert result.problems == ()


def test_readme_project_and_prose_edits_plan_nothing():
    files = edit("README.md", b"models", b"our models")
    files = edit(
        "mlops/models/churn-rf.yaml",
        b"name: churn-rf\n",
        b"name: churn-rf\ndescription: new words\ntags: [x]\n",
        files,
    )
    files = edit("mlops/features/std.yaml", b"Standardized numbers.", b"Scaled.", files)
    files = edit("mlops/datasets/iris.yaml", b"Flowers.", b"Irises.", files)
    files = edit("mlops/project.yaml", b".mlops/store", b"s3://bucket/store", files)
    assert statuses(plan(BASE, snap(files))) == ALL_UNCHANGED


def test_a_param_change_plans_that_model_and_says_which_field():
    head = edit("mlops/models/churn-rf.yaml", b"max_depth: 8", b"max_depth: 10")
    result = plan(BASE, snap(head))
    assert statuses(result) == {**ALL_UNCHANGED, "churn-rf": "changed"}
    assert reasons(result, "churn-rf") == [
        "mlops/models/churn-rf.yaml: estimator.params.max_depth 8 → 10"
    ]
    (changed,) = result.to_train
    assert changed.base_version == short(changed.base_fingerprint or "")
    assert changed.head_version != changed.base_version
    assert plan_matrix(result) == {
        "include": [{"model": "churn-rf", "version": changed.head_version}]
    }


def test_a_data_change_replans_every_model_on_the_dataset():
    head = edit("data/churn.csv.dvc", OLD_MD5.encode(), NEW_MD5.encode())
    result = plan(BASE, snap(head))
    assert statuses(result) == {**ALL_UNCHANGED, "churn-rf": "changed", "churn-lr": "changed"}
    assert reasons(result, "churn-lr") == [
        "data/churn.csv.dvc: content changed (md5 ab120000… → cd341111…)"
    ]


def test_a_split_change_names_the_dataset_file_and_field():
    head = edit("mlops/datasets/iris.yaml", b"seed: 7", b"seed: 8")
    result = plan(BASE, snap(head))
    assert statuses(result) == {**ALL_UNCHANGED, "iris-logreg": "changed"}
    assert reasons(result, "iris-logreg") == ["mlops/datasets/iris.yaml: split.seed 7 → 8"]


def test_a_split_default_written_out_changes_nothing():
    head = edit(
        "mlops/datasets/churn.yaml",
        b"split: {seed: 1}",
        b"split: {seed: 1, test_size: 0.25, stratify: true}",
    )
    assert statuses(plan(BASE, snap(head))) == ALL_UNCHANGED


def test_a_feature_set_change_replans_the_models_using_it():
    head = edit("mlops/features/std.yaml", b"StandardScaler", b"RobustScaler")
    result = plan(BASE, snap(head))
    assert statuses(result) == {**ALL_UNCHANGED, "churn-rf": "changed"}
    assert reasons(result, "churn-rf") == [
        "mlops/features/std.yaml: transforms.0.steps.0.class "
        "sklearn.preprocessing.StandardScaler → sklearn.preprocessing.RobustScaler"
    ]


def test_columns_added_to_a_feature_set_show_the_old_and_new_lists():
    """Issue 11: `plan` said only "transforms.0.columns", not which columns moved."""
    head = edit(
        "mlops/features/std.yaml",
        b"columns: [tenure, charges]",
        b"columns: [tenure, charges, monthly_charges, total_charges]",
    )
    assert reasons(plan(BASE, snap(head)), "churn-rf") == [
        'mlops/features/std.yaml: transforms.0.columns ["tenure", "charges"] → '
        '["tenure", "charges", "monthly_charges", "total_charges"]'
    ]


def test_a_step_added_shows_the_steps_by_class():
    a = {"steps": [{"class": "sklearn.preprocessing.StandardScaler", "params": {}}]}
    b = {
        "steps": [
            {"class": "sklearn.impute.SimpleImputer", "params": {"strategy": "median"}},
            {"class": "sklearn.preprocessing.StandardScaler", "params": {}},
        ]
    }
    assert diff(a, b) == [
        ("steps", "[StandardScaler()]", "[SimpleImputer(strategy=median), StandardScaler()]")
    ]


def test_a_long_list_shows_what_was_added_and_removed():
    columns = [f"a_rather_long_column_name_{i}" for i in range(20)]
    changed = [*columns[:-2], "fresh"]
    assert diff({"c": columns}, {"c": changed}) == [
        (
            "c",
            "20 items",
            '19 items (+"fresh", -"a_rather_long_column_name_18", -"a_rather_long_column_name_19")',
        )
    ]


def test_renaming_a_feature_set_retrains_nothing():
    files = {k: v for k, v in FILES.items() if k != "mlops/features/std.yaml"}
    files["mlops/features/scaled.yaml"] = FILES["mlops/features/std.yaml"].replace(
        b"name: std", b"name: scaled"
    )
    files = edit("mlops/models/churn-rf.yaml", b"features: std", b"features: scaled", files)
    assert statuses(plan(BASE, snap(files))) == ALL_UNCHANGED


def test_switching_feature_sets_is_a_model_file_reason():
    files = {
        **FILES,
        "mlops/features/other.yaml": FILES["mlops/features/std.yaml"]
        .replace(b"name: std", b"name: other")
        .replace(b"[tenure, charges]", b"[tenure]"),
    }
    files = edit("mlops/models/churn-rf.yaml", b"features: std", b"features: other", files)
    assert reasons(plan(BASE, snap(files)), "churn-rf") == [
        "mlops/models/churn-rf.yaml: features std → other"
    ]


def test_a_new_scikit_learn_replans_everything():
    result = plan(BASE, snap(FILES, sklearn="1.10.0"))
    assert {m.status for m in result.models} == {"changed"}
    assert reasons(result, "churn-rf") == ["scikit-learn 1.9.0 → 1.10.0"]
    # sklearn's own datasets are versioned by it too, but that says the same thing once.
    assert reasons(result, "iris-logreg") == ["scikit-learn 1.9.0 → 1.10.0"]


def test_new_training_semantics_replans_everything():
    result = plan(BASE, snap(FILES, semantics=TRAINING_SEMANTICS_VERSION + 1))
    assert {m.status for m in result.models} == {"changed"}
    expected = f"training semantics {TRAINING_SEMANTICS_VERSION} → {TRAINING_SEMANTICS_VERSION + 1}"
    assert reasons(result, "churn-lr") == [expected]


def test_new_and_removed_models():
    files = {k: v for k, v in FILES.items() if k != "mlops/models/churn-lr.yaml"}
    files["mlops/models/iris-rf.yaml"] = FILES["mlops/models/iris-logreg.yaml"].replace(
        b"iris-logreg", b"iris-rf"
    )
    result = plan(BASE, snap(files))
    assert statuses(result) == {
        "churn-lr": "removed",
        "churn-rf": "unchanged",
        "iris-logreg": "unchanged",
        "iris-rf": "new",
    }
    removed = next(m for m in result.models if m.name == "churn-lr")
    assert removed.head_fingerprint is None and removed.base_fingerprint
    assert removed.path == "mlops/models/churn-lr.yaml"
    assert [m["model"] for m in plan_matrix(result)["include"]] == ["iris-rf"]


def test_without_a_base_every_model_is_new():
    result = plan(None, BASE)
    assert {m.status for m in result.models} == {"new"}
    assert result.has_work and len(plan_matrix(result)["include"]) == 3


def test_an_invalid_model_is_reported_and_the_rest_still_planned():
    head = edit("mlops/models/churn-rf.yaml", b"max_depth: 8}", b"max_depth: 8")  # bad YAML
    head = edit("mlops/models/churn-lr.yaml", b"dataset: churn", b"dataset: chrun", head)
    head = edit("mlops/models/iris-logreg.yaml", b"C: 1.0", b"C: 2.0", head)
    result = plan(BASE, snap(head))
    assert statuses(result) == {
        "churn-lr": "invalid",
        "churn-rf": "invalid",
        "iris-logreg": "changed",
    }
    by_name = {m.name: m for m in result.models}
    assert [p.render() for p in by_name["churn-lr"].problems] == [
        "mlops/models/churn-lr.yaml:2:10: error: unknown dataset 'chrun': add "
        "mlops/datasets/chrun.yaml or fix the name"
    ]
    (bad_yaml,) = by_name["churn-rf"].problems
    assert bad_yaml.path == "mlops/models/churn-rf.yaml" and "invalid YAML" in bad_yaml.message
    assert by_name["churn-rf"].base_fingerprint and by_name["churn-rf"].head_fingerprint is None
    assert [m.name for m in result.to_train] == ["iris-logreg"]
    assert result.problems == ()  # each problem is listed once, with its model


def test_a_model_on_an_invalid_dataset_is_invalid_with_the_datasets_problems():
    head = edit("mlops/datasets/churn.yaml", b"target: churned", b"target: churned\nbogus: 1")
    result = plan(BASE, snap(head))
    assert statuses(result) == {**ALL_UNCHANGED, "churn-rf": "invalid", "churn-lr": "invalid"}
    rendered = [p.render() for p in result.models[0].problems]
    assert rendered[0].startswith("mlops/datasets/churn.yaml:4:1: error: unknown key 'bogus'")
    assert rendered[1] == (
        "mlops/models/churn-lr.yaml:2:10: error: dataset 'churn' is invalid: fix its file first"
    )
    assert result.problems == ()


def test_a_model_whose_data_has_no_pointer_is_invalid():
    head = {k: v for k, v in FILES.items() if k != "data/churn.csv.dvc"}
    result = plan(BASE, snap(head))
    assert statuses(result) == {**ALL_UNCHANGED, "churn-rf": "invalid", "churn-lr": "invalid"}
    (problem,) = result.models[0].problems
    assert problem.path == "mlops/datasets/churn.yaml" and problem.line == 2
    assert "dvc add data/churn.csv" in problem.message


def test_problems_from_other_checks_make_a_model_invalid():
    head_defs = load(FILES)
    gate = head_defs.models["churn-lr"].doc.problem(("metrics",), "a cross-reference problem")
    head = Snapshot(head_defs, FILES, "1.9.0", problems=[gate])
    result = plan(BASE, head)
    assert statuses(result) == {**ALL_UNCHANGED, "churn-lr": "invalid"}


def test_a_model_fixed_since_base_is_changed():
    broken = edit("mlops/models/churn-lr.yaml", b"task: classification", b"task: clustering")
    result = plan(snap(broken), BASE)
    assert statuses(result) == {**ALL_UNCHANGED, "churn-lr": "changed"}
    assert reasons(result, "churn-lr") == ["mlops/models/churn-lr.yaml: was invalid at base"]


def test_problems_outside_models_are_kept_on_the_plan():
    head = edit("mlops/project.yaml", b"store:", b"stor:")
    result = plan(BASE, snap(head))
    assert statuses(result) == ALL_UNCHANGED
    assert [p.path for p in result.problems] == ["mlops/project.yaml"]


def test_plan_to_json_is_plain_data():
    head = edit("mlops/models/churn-rf.yaml", b"max_depth: 8", b"max_depth: 10")
    data = plan_to_json(plan(BASE, snap(head)))
    assert data["has_work"] is True and data["problems"] == []
    churn = next(m for m in data["models"] if m["name"] == "churn-rf")
    assert churn["status"] == "changed"
    assert churn["head_version"] == churn["head_fingerprint"][:12]
    assert churn["reasons"] == [
        {
            "path": "mlops/models/churn-rf.yaml",
            "field": "estimator.params.max_depth",
            "before": "8",
            "after": "10",
            "note": "",
            "text": "mlops/models/churn-rf.yaml: estimator.params.max_depth 8 → 10",
        }
    ]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ({"x": 1}, {"x": 1}, []),
        ({"x": {"y": 1}}, {"x": {"y": 2}}, [("x.y", "1", "2")]),
        ({"x": 1}, {}, [("x", "1", "(absent)")]),
        ({"x": [1, 2]}, {"x": [1, 3]}, [("x.1", "2", "3")]),
        ({"x": [1]}, {"x": [1, 2]}, [("x", "[1]", "[1, 2]")]),
        ({"x": None}, {"x": "a"}, [("x", "null", "a")]),
        ({"x": "a" * 41}, {"x": "b"}, [("x", None, None)]),
    ],
)
def test_diff_names_leaves(a, b, expected):
    assert diff(a, b) == expected


def test_reason_rendering():
    assert Reason("", "scikit-learn", "1.8", "1.9").render() == "scikit-learn 1.8 → 1.9"
    assert Reason("f.yaml", "transforms").render() == "f.yaml: transforms"
    assert Reason("d.dvc", note="content changed").render() == "d.dvc: content changed"
