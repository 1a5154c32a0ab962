"""The allow-list checks, on a small hand-written catalog (no scikit-learn needed).

The shapes below are copied from what ``build_catalog`` writes for scikit-learn 1.9;
tests/func/test_catalog.py runs the same checks against the real, built catalog.
"""

import json
import math

import pytest

from engine.definitions.catalog import Catalog, Issue, cache_dir
from engine.definitions.catalog_format import FORMAT, ClassInfo
from engine.definitions.param_constraints import describe, satisfies, show
from engine.errors import DefinitionError

INT_GE_1 = {"interval": {"type": "int", "left": 1, "right": None, "closed": "left"}}
POSITIVE = {"interval": {"type": "real", "left": 0, "right": None, "closed": "neither"}}
FRACTION = {"interval": {"type": "real_not_int", "left": 0.0, "right": 1.0, "closed": "right"}}
NONE, BOOLEAN = {"none": True}, {"boolean": True}
CRITERION = {"options": ["entropy", "gini", "log_loss"], "deprecated": []}
FOREST = {
    "n_estimators": [INT_GE_1],
    "criterion": [CRITERION, {"instance_of": "sklearn.tree._criterion.Criterion", "hidden": True}],
    "max_depth": [INT_GE_1, NONE],
    "max_features": [INT_GE_1, FRACTION, {"options": ["log2", "sqrt"]}, NONE],
    "random_state": [{"random_state": True}],
    "class_weight": [{"options": ["balanced"]}, {"instance_of": "builtins.dict"}, NONE],
}
CLASSES = {
    "sklearn.ensemble.RandomForestClassifier": {"kind": "classifier", "params": FOREST},
    "sklearn.ensemble.RandomForestRegressor": {"kind": "regressor", "params": FOREST},
    "sklearn.linear_model.Ridge": {"kind": "regressor", "params": {"alpha": [POSITIVE]}},
    "sklearn.linear_model.RidgeClassifier": {"kind": "classifier", "params": {}},
    "sklearn.svm.SVC": {
        "kind": "classifier",
        "params": {
            "kernel": [{"options": ["linear", "poly", "rbf"], "deprecated": ["poly"]}],
            "probability": [BOOLEAN, {"options": ["deprecated"], "hidden": True}],
        },
    },
    "sklearn.ensemble.StackingClassifier": {
        "kind": "classifier",
        "params": {"estimators": [{"instance_of": "builtins.list"}]},
        "required": ["estimators"],
    },
    "sklearn.preprocessing.StandardScaler": {
        "kind": "transformer",
        "params": {"with_mean": [BOOLEAN], "copy": [BOOLEAN]},
    },
    "sklearn.preprocessing.MinMaxScaler": {
        "kind": "transformer",
        "params": {"feature_range": [{"instance_of": "builtins.tuple"}], "clip": [BOOLEAN]},
    },
    "sklearn.impute.SimpleImputer": {
        "kind": "transformer",
        "params": {
            "missing_values": [{"missing_values": "any"}],
            "strategy": [{"options": ["mean", "median"]}, {"callable": True}],
            "fill_value": [{"any": True}],
        },
    },
}
DATA = {"format": FORMAT, "sklearn": "1.9.1", "classes": CLASSES}
RF = "sklearn.ensemble.RandomForestClassifier"


@pytest.fixture
def catalog():
    return Catalog.from_data(json.loads(json.dumps(DATA)))


def messages(issues):
    return [i.message for i in issues]


@pytest.mark.parametrize(
    "path",
    [
        "os.system",
        "subprocess.Popen",
        "builtins.eval",
        "sklearn.utils.some_function",
        "sklearn.utils.all_estimators",
        "sklearn.preprocessing.FunctionTransformer",
    ],
)
def test_off_list_estimators_are_refused_with_the_way_out(catalog, path):
    assert catalog.check_estimator(path, {}, "classification") == [
        Issue(
            ("class",),
            f"{path!r} is not an allowed estimator: use a scikit-learn estimator such as "
            "sklearn.ensemble.RandomForestClassifier, or add it to allow_estimators in "
            "mlops/project.yaml",
        )
    ]
    with pytest.raises(DefinitionError, match="not an allowed estimator or transformer"):
        catalog.resolve(path)


def test_the_example_follows_the_task(catalog):
    [issue] = catalog.check_estimator("os.system", {}, "regression")
    assert "such as sklearn.ensemble.RandomForestRegressor" in issue.message


@pytest.mark.parametrize(
    "path",
    [
        "sklearn.ensemble.RandomForestClasifier",  # a typo
        "sklearn.ensemble._forest.RandomForestClassifier",  # the private module
        "sklearn.tree.RandomForestClassifier",  # the wrong module
    ],
)
def test_near_misses_get_a_did_you_mean(catalog, path):
    [issue] = catalog.check_estimator(path, {}, "classification")
    assert issue.message == (
        f"{path!r} is not an allowed estimator: did you mean "
        "sklearn.ensemble.RandomForestClassifier? Otherwise add it to allow_estimators in "
        "mlops/project.yaml"
    )


def test_no_far_fetched_suggestion(catalog):
    [issue] = catalog.check_estimator("xgboost.XGBClassifier", {}, "classification")
    assert "did you mean" not in issue.message


def test_the_wrong_kind_for_the_task(catalog):
    assert messages(
        catalog.check_estimator("sklearn.linear_model.Ridge", {}, "classification")
    ) == [
        "'sklearn.linear_model.Ridge' is a regressor, but the task is classification: use a "
        "classifier such as sklearn.linear_model.RidgeClassifier, or set task: regression"
    ]
    assert messages(catalog.check_estimator(RF, {}, "regression")) == [
        f"{RF!r} is a classifier, but the task is regression: use a regressor such as "
        "sklearn.ensemble.RandomForestRegressor, or set task: classification"
    ]
    [issue] = catalog.check_estimator("sklearn.svm.SVC", {}, "regression")
    assert "use a regressor such as sklearn.ensemble.RandomForestRegressor" in issue.message


def test_a_transformer_is_no_estimator_and_an_estimator_no_step(catalog):
    [issue] = catalog.check_estimator("sklearn.preprocessing.StandardScaler", {}, "regression")
    assert issue.key == ("class",)
    assert "is a transformer, not an estimator" in issue.message
    [issue] = catalog.check_transformer(RF, {})
    assert issue.message == (
        f"{RF!r} is a classifier, not a transformer: feature steps take transformers such as "
        "sklearn.preprocessing.StandardScaler; the model's estimator goes under estimator.class"
    )


def test_off_list_transformers(catalog):
    [typo] = catalog.check_transformer("sklearn.preprocessing.StandardScalr", {})
    assert typo.message.endswith("did you mean sklearn.preprocessing.StandardScaler?")
    [code] = catalog.check_transformer("sklearn.preprocessing.FunctionTransformer", {})
    assert code.message.startswith(
        "'sklearn.preprocessing.FunctionTransformer' is not an allowed transformer: use one of "
        "SimpleImputer, StandardScaler, MinMaxScaler (from sklearn.impute and sklearn.preprocessing"
    )
    assert "nothing that runs code" in code.message


def test_valid_parameters_pass(catalog):
    params = {
        "n_estimators": 300,
        "max_depth": None,
        "max_features": 0.5,
        "random_state": 0,
        "criterion": "gini",
        "class_weight": {"0": 1, "1": 2},
    }
    assert catalog.check_estimator(RF, params, "classification") == []
    assert (
        catalog.check_transformer(
            "sklearn.impute.SimpleImputer", {"missing_values": math.nan, "fill_value": object()}
        )
        == []
    )


def test_bad_parameter_values_say_what_is_allowed(catalog):
    params = {"n_estimators": -3, "criterion": "ginny", "max_depth": "deep", "max_features": 1.5}
    assert catalog.check_estimator(RF, params, "classification") == [
        Issue(
            ("params", "n_estimators"),
            f"n_estimators=-3 is not valid for {RF}: it must be an int in [1, inf)",
        ),
        Issue(
            ("params", "criterion"),
            f"criterion='ginny' is not valid for {RF}: it must be "
            "one of 'entropy', 'gini', 'log_loss'; did you mean 'gini'?",
        ),
        Issue(
            ("params", "max_depth"),
            f"max_depth='deep' is not valid for {RF}: it must be an int in [1, inf) or null",
        ),
        Issue(
            ("params", "max_features"),
            f"max_features=1.5 is not valid for {RF}: it must be "
            "an int in [1, inf), a float (with a decimal point) in (0.0, 1.0], one of 'log2', "
            "'sqrt' or null",
        ),
    ]


def test_unknown_parameters_get_a_did_you_mean(catalog):
    assert messages(catalog.check_estimator(RF, {"max_dept": 3}, "classification")) == [
        f"{RF} has no parameter 'max_dept': did you mean 'max_depth'?"
    ]
    [issue] = catalog.check_estimator("sklearn.linear_model.Ridge", {"zzz": 1}, "regression")
    assert issue.key == ("params", "zzz")
    assert issue.message.endswith("has no parameter 'zzz'; its parameters are: alpha")


def test_deprecations_are_warnings(catalog):
    issues = catalog.check_estimator(
        "sklearn.svm.SVC", {"probability": True, "kernel": "poly"}, "classification"
    )
    assert [(i.key, i.severity) for i in issues] == [
        (("params", "probability"), "warning"),
        (("params", "kernel"), "warning"),
    ]
    assert issues[0].message == (
        "the parameter 'probability' of sklearn.svm.SVC is deprecated "
        "in scikit-learn 1.9.1: leave it out"
    )
    assert (
        issues[1].message == "kernel='poly' is deprecated in scikit-learn 1.9.1 (sklearn.svm.SVC)"
    )


def test_a_deprecated_class_is_a_warning(catalog):
    data = json.loads(json.dumps(DATA))
    data["classes"]["sklearn.linear_model.Perceptron"] = {
        "kind": "classifier",
        "params": {},
        "deprecated": "Class Perceptron is deprecated",
    }
    [issue] = Catalog.from_data(data).check_estimator(
        "sklearn.linear_model.Perceptron", {}, "classification"
    )
    assert issue == Issue(
        ("class",),
        "'sklearn.linear_model.Perceptron' is deprecated: Class Perceptron is deprecated",
        "warning",
    )


def test_required_parameters(catalog):
    [issue] = catalog.check_estimator("sklearn.ensemble.StackingClassifier", {}, "classification")
    assert issue.key == ("params",)
    assert "needs the parameter 'estimators'" in issue.message
    assert catalog.check_params("sklearn.ensemble.StackingClassifier", {}) == []


def test_check_params_alone_for_search_candidates(catalog):
    assert messages(catalog.check_params(RF, {"max_depth": 0})) == [
        f"max_depth=0 is not valid for {RF}: it must be an int in [1, inf) or null"
    ]
    assert catalog.check_params("os.system", {"anything": 1}) == []


def test_tuples_are_written_as_lists(catalog):
    scaler = "sklearn.preprocessing.MinMaxScaler"
    assert catalog.check_transformer(scaler, {"feature_range": [0, 1]}) == []
    assert catalog.prepare_params(scaler, {"feature_range": [0, 1], "clip": True}) == {
        "feature_range": (0, 1),
        "clip": True,
    }
    assert catalog.prepare_params(RF, {"class_weight": None}) == {"class_weight": None}


@pytest.mark.parametrize(
    ("constraint", "good", "bad"),
    [
        (INT_GE_1, [1, 10**9, True], [0, -3, 1.5, "1", None, math.inf]),
        (POSITIVE, [0.1, 3, 1e300], [0, -0.5, math.nan, math.inf, "0.1"]),
        (FRACTION, [0.5, 1.0], [0.0, 1, 2.0]),
        (
            {"interval": {"type": "real", "left": 0, "right": None, "closed": "both"}},
            [0, math.inf],
            [-1],
        ),
        ({"random_state": True}, [None, 0, 2**32 - 1], [-1, 2**32, "0", 1.0]),
        ({"verbose": True}, [0, 3, True, False], [-1, "yes"]),
        ({"cv_object": True}, [2, 5, None, [[0], [1]]], [1, "kfold"]),
        ({"array_like": True}, [[1, 2], {"a": 1}], ["ab", 3]),
        ({"missing_values": "numeric"}, [0, -1.0, math.nan], ["NA", None]),
        ({"nan": True}, [math.nan], [0.0, None]),
        ({"instance_of": "builtins.tuple"}, [[0, 1]], ["01", 1]),
        ({"instance_of": "numpy.ndarray"}, [], [[1], 1, None]),
        ({"instance_of": "builtins.complex"}, [1, "x"], []),
        ({"has_methods": ["fit"]}, [], [{"fit": 1}, "fit"]),
        ({"callable": True}, [], ["print", None]),
        ({"any": True}, [None, "x", 1, [1]], []),
        ({"options": ["a", 1]}, ["a", 1], ["b", "1", 2]),
        ({"some_future_tag": True}, [1, "x"], []),
    ],
)
def test_constraints_accept_what_scikit_learn_accepts(constraint, good, bad):
    assert [v for v in good if not satisfies(constraint, v)] == []
    assert [v for v in bad if satisfies(constraint, v)] == []


def test_describe_hides_hidden_constraints_and_shows_yaml_spelling():
    assert describe(FOREST["criterion"]) == "one of 'entropy', 'gini', 'log_loss'"
    assert describe([{"has_methods": ["fit", "predict"]}, NONE]) == (
        "an object with fit and predict methods (which YAML can't express) or null"
    )
    assert [show(v) for v in (None, True, math.nan, -math.inf, "a", 3)] == [
        "null",
        "true",
        ".nan",
        "-.inf",
        "'a'",
        "3",
    ]


@pytest.mark.parametrize(
    "data",
    [
        {**DATA, "format": FORMAT + 1},
        {**DATA, "classes": {RF: {"kind": "estimator", "params": {}}}},
        {**DATA, "classes": {RF: {"kind": "classifier", "params": {"a": "int"}}}},
        {**DATA, "classes": {RF: {"kind": "classifier", "params": {"a": ["int"]}}}},
        {**DATA, "classes": {RF: {"kind": "classifier"}}},
    ],
)
def test_malformed_catalog_data_is_refused(data):
    with pytest.raises((ValueError, KeyError)):
        Catalog.from_data(data)


def test_stale_catalog_data_is_refused():
    with pytest.raises(ValueError, match=r"scikit-learn 1\.9\.1, not 1\.10\.0"):
        Catalog.from_data(DATA, "1.10.0")
    assert Catalog.from_data(DATA, "1.9.1").classes[RF] == ClassInfo.from_data(RF, CLASSES[RF])


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MLOPS_CACHE_DIR", str(tmp_path / "m"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "m"
    monkeypatch.setenv("MLOPS_CACHE_DIR", "")
    assert cache_dir() == tmp_path / "x" / "mlops"
    monkeypatch.delenv("MLOPS_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert cache_dir() == tmp_path / "h" / ".cache" / "mlops"


@pytest.mark.parametrize(
    ("path", "params", "bad"),
    [
        (RF, {"n_estimators": 10_001}, "n_estimators=10001"),
        ("sklearn.linear_model.LogisticRegression", {"max_iter": 10**9}, "max_iter=1000000000"),
    ],
)
def test_absurd_sizes_are_refused_and_the_caps_themselves_pass(path, params, bad):
    from engine.definitions.catalog import default_catalog

    catalog = default_catalog()  # the real one: every scikit-learn estimator
    [issue] = catalog.check_estimator(path, params, "classification")
    assert issue.message.startswith(f"{bad} is more than the engine allows")
    at_cap = {name: {"n_estimators": 10_000, "max_iter": 100_000}[name] for name in params}
    assert catalog.check_estimator(path, at_cap, "classification") == []
    # Search candidates go through the same check.
    assert catalog.check_params(path, params) == [issue]


def test_remembered_verdicts_keep_equal_but_different_values_apart(catalog):
    # verdicts are remembered per (class, parameter, value): 1 and 1.0 compare equal in
    # Python but not for scikit-learn's constraints, nor in the message
    for _ in range(2):  # the second round answers from memory
        assert catalog.check_estimator(RF, {"max_depth": 1}, "classification") == []
        assert messages(catalog.check_estimator(RF, {"max_depth": 1.0}, "classification")) == [
            f"max_depth=1.0 is not valid for {RF}: it must be an int in [1, inf) or null"
        ]
        assert messages(catalog.check_estimator(RF, {"max_depth": 0}, "classification")) == [
            f"max_depth=0 is not valid for {RF}: it must be an int in [1, inf) or null"
        ]
