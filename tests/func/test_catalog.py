"""The catalog against the real scikit-learn: building, caching, importing (or not).

The catalog is built once per session into a temporary cache dir; tests that need their
own ``MLOPS_CACHE_DIR`` copy it, so only the cache tests pay for a build.
"""

import importlib
import inspect
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

from engine.definitions.catalog import (
    SHIPPED,
    Catalog,
    build_catalog,
    catalog_text,
    instantiate,
    resolve,
)
from engine.definitions.catalog_format import TRANSFORMERS, sklearn_version
from engine.definitions.param_constraints import satisfies
from engine.errors import DefinitionError

REPO = Path(__file__).resolve().parents[2]
RF = "sklearn.ensemble.RandomForestClassifier"
CACHE_NAME = f"catalog-sklearn-{sklearn_version()}.json"


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """A cache dir holding a freshly built catalog (not the one shipped with the engine)."""
    directory = tmp_path_factory.mktemp("catalog")
    Catalog.load(directory, shipped=None)
    return directory


@pytest.fixture
def catalog(built):
    return Catalog.load(built)


@pytest.fixture
def warm(built, tmp_path, monkeypatch):
    """MLOPS_CACHE_DIR=tmp_path, holding a copy of the built catalog."""
    shutil.copy(built / CACHE_NAME, tmp_path / CACHE_NAME)
    monkeypatch.setenv("MLOPS_CACHE_DIR", str(tmp_path))
    return tmp_path / CACHE_NAME


def load_class(path):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def run_python(code, cache):
    env = {**os.environ, "MLOPS_CACHE_DIR": str(cache)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO, check=True, capture_output=True, text=True
    )
    return out.stdout.split()


# --- the cache ----------------------------------------------------------------------------


def test_a_cold_load_builds_and_writes_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_CACHE_DIR", str(tmp_path))
    catalog = Catalog.load(shipped=tmp_path / "none shipped for this version")
    data = json.loads((tmp_path / CACHE_NAME).read_text())
    assert data["sklearn"] == sklearn_version() == catalog.sklearn_version
    assert set(data["classes"]) == set(catalog.classes)
    assert [p.name for p in tmp_path.iterdir()] == [CACHE_NAME]  # no temp file left behind


def test_a_warm_load_reads_the_cache_without_importing_sklearn(warm):
    before = warm.stat().st_mtime_ns
    code = (
        "import sys; from engine.definitions.catalog import Catalog; c = Catalog.load(); "
        "print('sklearn' in sys.modules, len(c.classes))"
    )
    assert run_python(code, warm.parent) == [
        "False",
        str(len(json.loads(warm.read_text())["classes"])),
    ]
    assert warm.stat().st_mtime_ns == before


def locked_sklearn() -> str:
    lock = (REPO / "requirements" / "lock.txt").read_text()
    return next(
        ln.split("==")[1].split()[0] for ln in lock.splitlines() if ln.startswith("scikit-learn==")
    )


def test_the_locked_scikit_learn_has_its_catalog_shipped_as_a_build_writes_it(built):
    # A fresh runner reads the shipped file instead of importing scikit-learn to build
    # it; it must be byte for byte what a build writes (its digest keys remembered checks).
    # After a scikit-learn upgrade in the lock: python -m engine.definitions.catalog
    if sklearn_version() != locked_sklearn():
        pytest.skip(f"scikit-learn {sklearn_version()} is not the locked {locked_sklearn()}")
    shipped = SHIPPED / CACHE_NAME
    assert shipped.read_bytes() == (built / CACHE_NAME).read_bytes()
    assert shipped.read_text() == catalog_text(json.loads(shipped.read_text()))
    assert [p.name for p in SHIPPED.iterdir()] == [CACHE_NAME]  # no stale version kept


def test_a_cold_cache_reads_the_shipped_catalog_without_importing_sklearn(tmp_path):
    if not (SHIPPED / CACHE_NAME).exists():
        pytest.skip(f"no catalog shipped for scikit-learn {sklearn_version()}")
    code = (
        "import sys; from engine.definitions.catalog import Catalog, SHIPPED; c = Catalog.load(); "
        "print('sklearn' in sys.modules, len(c.classes), c.digest)"
    )
    raw = (SHIPPED / CACHE_NAME).read_bytes()
    import hashlib

    assert run_python(code, tmp_path) == [
        "False",
        str(len(json.loads(raw)["classes"])),
        hashlib.sha256(raw).hexdigest(),
    ]
    assert list(tmp_path.iterdir()) == []  # nothing written: the shipped file is enough


def test_importing_the_module_imports_no_sklearn(tmp_path):
    code = "import sys, engine.definitions.catalog; print('sklearn' in sys.modules)"
    assert run_python(code, tmp_path) == ["False"]


def test_the_cache_is_what_is_loaded(warm):
    data = json.loads(warm.read_text())
    data["classes"]["sklearn.fake.Marker"] = {"kind": "classifier", "params": {}}
    warm.write_text(json.dumps(data))
    assert "sklearn.fake.Marker" in Catalog.load().classes


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: "{not json",
        lambda text: "",
        lambda text: text[: len(text) // 2],
        lambda text: text.replace('"format": 1', '"format": 99'),
        lambda text: text.replace('"kind": "classifier"', '"kind": 7'),
        lambda text: '["a list"]',
    ],
)
def test_a_corrupt_cache_is_rebuilt(warm, damage):
    good = json.loads(warm.read_text())
    warm.write_text(damage(warm.read_text()))
    catalog = Catalog.load(shipped=None)
    assert json.loads(warm.read_text()) == good
    assert set(catalog.classes) == set(good["classes"])
    # with a catalog shipped for this version, that one is read instead of a build
    warm.write_text(damage(warm.read_text()))
    shipped = warm.parent / "shipped"
    shipped.mkdir()
    (shipped / CACHE_NAME).write_text(json.dumps({**good, "classes": {RF: good["classes"][RF]}}))
    assert list(Catalog.load(shipped=shipped).classes) == [RF]


def test_undecodable_bytes_are_rebuilt_too(warm):
    warm.write_bytes(b"\xff\xfe\x00garbage")
    assert RF in Catalog.load(shipped=None).classes


# --- what the catalog holds ---------------------------------------------------------------


def test_every_public_classifier_and_regressor_under_its_public_path():
    from sklearn.utils import all_estimators

    data = build_catalog()["classes"]
    estimators = {p for p, e in data.items() if e["kind"] != "transformer"}
    assert {
        "sklearn.ensemble.HistGradientBoostingClassifier",
        "sklearn.linear_model.Ridge",
        "sklearn.linear_model.LogisticRegression",
        RF,
    } <= estimators
    assert all(not part.startswith("_") for p in data for part in p.split("."))
    found = {cls for _, cls in all_estimators(type_filter=["classifier", "regressor"])}
    assert {load_class(p) for p in estimators} == found


def test_kinds_match_scikit_learn(catalog):
    from sklearn.base import is_classifier, is_regressor

    checked = 0
    for path, info in catalog.classes.items():
        cls = load_class(path)
        if info.kind == "transformer":
            assert hasattr(cls, "transform"), path
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # deprecated classes
                tags = is_classifier(cls()), is_regressor(cls())
        except (TypeError, AttributeError):
            continue  # meta-estimators need an estimator to report their tags
        assert tags == (info.kind == "classifier", info.kind == "regressor"), path
        checked += 1
    assert checked > 80


def test_deprecated_classes_are_flagged_with_scikit_learns_words(catalog):
    deprecated = {p: i.deprecated for p, i in catalog.classes.items() if i.deprecated}
    if not deprecated:
        pytest.skip(f"scikit-learn {catalog.sklearn_version} deprecates no estimator class")
    path, notice = next(iter(deprecated.items()))
    task = "classification" if catalog.classes[path].kind == "classifier" else "regression"
    [issue] = catalog.check_estimator(path, {}, task)
    assert (issue.severity, issue.key) == ("warning", ("class",))
    assert issue.message == f"{path!r} is deprecated: {notice}"
    assert "RandomForestClassifier" not in str(deprecated)


def test_the_transformer_list_is_exact(catalog):
    transformers = sorted(p for p, i in catalog.classes.items() if i.kind == "transformer")
    assert transformers == sorted(TRANSFORMERS)
    [issue] = catalog.check_transformer("sklearn.preprocessing.FunctionTransformer", {})
    assert "not an allowed transformer" in issue.message


VALUES = [
    -3,
    0,
    1,
    2,
    0.5,
    1.5,
    2.0,
    float("nan"),
    float("inf"),
    "gini",
    "ginny",
    "auto",
    "sqrt",
    "balanced",
    "l2",
    "mean",
    "deprecated",
    "warn",
    "ignore",
    None,
    True,
    False,
    [1, 2],
    [0.0, 1.0],
    {"a": 1},
    "1",
]


def test_our_verdicts_agree_with_scikit_learns_own_validation(catalog):
    """Every parameter of every class, against a corpus of values and its own default."""
    from sklearn.utils._param_validation import (
        InvalidParameterError,
        validate_parameter_constraints,
    )

    disagreements, checked = [], 0
    for path, info in catalog.classes.items():
        cls = load_class(path)
        declared = cls._parameter_constraints
        defaults = {
            p.name: p.default for p in list(inspect.signature(cls.__init__).parameters.values())[1:]
        }
        for name, checks in info.params.items():
            if declared.get(name, "no_validation") == "no_validation":
                assert checks == [{"any": True}]
                continue
            for value in [*VALUES, defaults.get(name)]:
                ours = any(satisfies(c, value) for c in checks)
                given = catalog.prepare_params(path, {name: value})
                try:
                    validate_parameter_constraints({name: declared[name]}, given, path)
                    theirs = True
                except InvalidParameterError:
                    theirs = False
                checked += 1
                if ours != theirs:
                    disagreements.append((path, name, value, ours))
    assert disagreements == [], disagreements[:20]
    assert checked > 20_000


def test_the_repositorys_own_examples_pass(catalog):
    for path in sorted((REPO / "mlops" / "models").glob("*.yaml")):
        model = yaml.safe_load(path.read_text())
        estimator = model["estimator"]
        assert (
            catalog.check_estimator(estimator["class"], estimator.get("params", {}), model["task"])
            == []
        ), path
        for space_name, candidates in model.get("search", {}).get("space", {}).items():
            for value in candidates:
                assert catalog.check_params(estimator["class"], {space_name: value}) == []
    feature_files = [
        *(REPO / "mlops" / "features").glob("*.yaml"),
        *(REPO / "mlops" / "models").glob("*.yaml"),
    ]
    for path in feature_files:
        spec = yaml.safe_load(path.read_text())
        spec = spec.get("features") if "estimator" in spec else spec
        for transform in (spec or {}).get("transforms", []) if isinstance(spec, dict) else []:
            for step in transform["steps"]:
                assert catalog.check_transformer(step["class"], step.get("params", {})) == []


def test_module_level_resolve_and_instantiate_for_training(warm, trap):
    from sklearn.ensemble import RandomForestClassifier

    assert resolve(RF) is RandomForestClassifier
    scaler = instantiate("sklearn.preprocessing.MinMaxScaler", {"feature_range": [-1, 1]})
    assert scaler.feature_range == (-1, 1)
    with pytest.raises(DefinitionError, match="not an allowed"):
        instantiate("mlops_trap_module.Model", {})
    assert not trap.exists()


def test_resolve_and_prepare_params_build_a_working_step(catalog):
    from sklearn.ensemble import RandomForestClassifier

    assert catalog.resolve(RF) is RandomForestClassifier
    path, params = "sklearn.preprocessing.MinMaxScaler", {"feature_range": [-1, 1]}
    assert catalog.check_transformer(path, params) == []
    scaler = catalog.resolve(path)(**catalog.prepare_params(path, params))
    assert scaler.fit_transform([[0.0], [5.0], [10.0]]).ravel().tolist() == [-1.0, 0.0, 1.0]


# --- nothing off the list is imported -----------------------------------------------------

SIDE_EFFECT = """
from pathlib import Path
Path({marker!r}).write_text("imported")
class Model:
    def fit(self, X, y):
        return self
"""


@pytest.fixture
def trap(tmp_path, monkeypatch):
    """A module on sys.path whose import writes a marker file."""
    marker = tmp_path / "imported.txt"
    (tmp_path / "mlops_trap_module.py").write_text(SIDE_EFFECT.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield marker
    sys.modules.pop("mlops_trap_module", None)


BAD = [
    "mlops_trap_module.Model",
    "os.system",
    "subprocess.Popen",
    "builtins.eval",
    "sklearn.utils.some_function",
    "sklearn.utils.all_estimators",
]


@pytest.mark.parametrize("path", BAD)
def test_off_list_names_are_refused_without_being_imported(catalog, trap, path):
    [issue] = catalog.check_estimator(path, {"n": 1}, "classification")
    assert issue.message.startswith(f"{path!r} is not an allowed estimator: use a scikit-learn")
    [issue] = catalog.check_transformer(path, {})
    assert issue.message.startswith(f"{path!r} is not an allowed transformer")
    assert catalog.check_params(path, {"n": 1}) == []
    assert catalog.prepare_params(path, {"n": [1]}) == {"n": [1]}
    with pytest.raises(DefinitionError, match="not an allowed"):
        catalog.resolve(path)
    assert not trap.exists()
    assert "mlops_trap_module" not in sys.modules


def test_allow_estimators_imports_only_what_it_lists(catalog, trap):
    other = "mlops_trap_module.Other"
    assert catalog.check_estimator("mlops_trap_module.Model", {}, "classification", [other])
    assert not trap.exists()
    [issue] = catalog.check_estimator(other, {}, "classification", [other])
    assert trap.exists()  # listed, so imported: and Other does not exist
    assert "can't be imported: AttributeError" in issue.message


HOUSE = """
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils._param_validation import Interval
from numbers import Integral

class HouseClassifier(ClassifierMixin, BaseEstimator):
    _parameter_constraints = {"depth": [Interval(Integral, 1, None, closed="left")]}
    def __init__(self, depth=3, flavour="plain"):
        self.depth, self.flavour = depth, flavour
    def fit(self, X, y):
        return self

class OpenRegressor(RegressorMixin, BaseEstimator):
    def __init__(self, alpha=1.0, **kwargs):
        self.alpha = alpha
    def fit(self, X, y):
        return self

def not_a_class():
    pass
"""


@pytest.fixture
def house(tmp_path, monkeypatch):
    (tmp_path / "mlops_house_models.py").write_text(HOUSE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "mlops_house_models"
    sys.modules.pop("mlops_house_models", None)


def test_an_allowed_house_estimator_is_checked_like_scikit_learns(catalog, house):
    path, extra = f"{house}.HouseClassifier", [f"{house}.HouseClassifier"]
    assert catalog.check_estimator(path, {"depth": 5}, "classification", extra) == []
    issues = catalog.check_estimator(path, {"depth": 0, "flavor": "x"}, "regression", extra)
    assert [i.key for i in issues] == [("class",), ("params", "depth"), ("params", "flavor")]
    assert "is a classifier, but the task is regression" in issues[0].message
    assert issues[2].message.endswith("did you mean 'flavour'?")
    assert catalog.resolve(path, extra).__name__ == "HouseClassifier"


def test_a_kwargs_estimator_takes_any_parameter(catalog, house):
    path = f"{house}.OpenRegressor"
    assert catalog.check_estimator(path, {"alpha": 2, "anything": 1}, "regression", [path]) == []
    [issue] = catalog.check_estimator(path, {}, "classification", [path])
    assert "is a regressor" in issue.message


def test_an_allowed_name_that_is_no_estimator_class(catalog, house):
    for path in (f"{house}.not_a_class", "os.getcwd"):
        [issue] = catalog.check_estimator(path, {}, "classification", [path])
        assert issue.message.endswith("is not an estimator class (a class with a fit method)")
        with pytest.raises(DefinitionError, match="not an estimator class"):
            catalog.resolve(path, [path])


def test_a_missing_allowed_package_is_an_issue(catalog):
    path = "mlops_no_such_package.Model"
    [issue] = catalog.check_estimator(path, {}, "classification", [path])
    assert issue.message.startswith(
        f"{path!r} (listed in allow_estimators in mlops/project.yaml) can't be imported: "
        "ModuleNotFoundError"
    )


def test_building_warns_nothing(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Catalog.load(tmp_path, shipped=None)
