"""Facts remembered in the parse cache (validity, clean references, clean estimator checks,
fingerprints) must never change a result: every plan and check here is computed without
a cache and through caches warmed by the other scenarios, cold and from disk, and must be
the same; each memo key's inputs (a dataset, a data pointer, a feature set, scikit-learn,
the training semantics, the catalog, the engine's code) are changed one at a time."""

from __future__ import annotations

import pytest

from engine.definitions import parse_cache
from engine.definitions.catalog import Catalog
from engine.definitions.estimators import check_estimators
from engine.definitions.loading import load
from engine.definitions.parse_cache import ParseCache
from engine.definitions.references import check_references
from engine.training.fingerprint import TRAINING_SEMANTICS_VERSION
from engine.training.plan import Snapshot, plan, plan_to_json
from tests.unit.test_plan import FILES, NEW_MD5, OLD_MD5, edit

KEY = b"d" * 32

SCENARIOS = {
    "nothing": (FILES, "1.9.0", TRAINING_SEMANTICS_VERSION),
    "split seed": (
        edit("mlops/datasets/churn.yaml", b"seed: 1", b"seed: 2"),
        "1.9.0",
        TRAINING_SEMANTICS_VERSION,
    ),
    "data": (
        edit("data/churn.csv.dvc", OLD_MD5.encode(), NEW_MD5.encode()),
        "1.9.0",
        TRAINING_SEMANTICS_VERSION,
    ),
    "feature set": (
        edit("mlops/features/std.yaml", b"StandardScaler", b"MinMaxScaler"),
        "1.9.0",
        TRAINING_SEMANTICS_VERSION,
    ),
    "param": (
        edit("mlops/models/churn-rf.yaml", b"max_depth: 8", b"max_depth: 9"),
        "1.9.0",
        TRAINING_SEMANTICS_VERSION,
    ),
    "scikit-learn": (FILES, "1.9.1", TRAINING_SEMANTICS_VERSION),
    "semantics": (FILES, "1.9.0", TRAINING_SEMANTICS_VERSION + 1),
    "a column left the schema": (
        {
            **FILES,
            "mlops/datasets/churn.yaml": FILES["mlops/datasets/churn.yaml"]
            + b"schema: {columns: {churned: {type: int}, charges: {type: float}}}\n",
        },
        "1.9.0",
        TRAINING_SEMANTICS_VERSION,
    ),
    "a metric the dataset cannot have": (
        edit("mlops/models/iris-logreg.yaml", b"[accuracy]", b"[accuracy, f1]"),
        "1.9.0",
        TRAINING_SEMANTICS_VERSION,
    ),
    "invalid model": (
        edit("mlops/models/churn-lr.yaml", b"task: classification", b"task: clustering"),
        "1.9.0",
        TRAINING_SEMANTICS_VERSION,
    ),
    "missing feature set": (
        {k: v for k, v in FILES.items() if k != "mlops/features/std.yaml"},
        "1.9.0",
        TRAINING_SEMANTICS_VERSION,
    ),
}


def snapshot(files, sklearn, semantics, cache=None):
    defs = load(files, cache)
    return Snapshot(defs, files, sklearn, semantics=semantics, problems=check_references(defs))


def planned(scenario, cache=None):
    files, sklearn, semantics = SCENARIOS[scenario]
    base = snapshot(FILES, "1.9.0", TRAINING_SEMANTICS_VERSION, cache)
    return plan_to_json(plan(base, snapshot(files, sklearn, semantics, cache)))


def test_every_plan_is_the_same_through_warm_caches(tmp_path):
    expected = {name: planned(name) for name in SCENARIOS}
    assert expected["data"]["has_work"] and expected["split seed"]["has_work"]
    assert not expected["nothing"]["has_work"]
    for order in (list(SCENARIOS), list(reversed(SCENARIOS))):
        for name in order:
            cache = ParseCache(tmp_path, key=KEY)  # a new process: the facts from disk
            assert planned(name, cache) == expected[name], name
            assert planned(name, cache) == expected[name], name  # and from memory
            cache.save()
    remembered = ParseCache(tmp_path, key=KEY).derived
    assert any(k.startswith("fingerprint:") for k in remembered)
    assert any(k.startswith("references:") for k in remembered)
    assert any(k.startswith("valid:model:") for k in remembered)


def test_the_problems_of_every_scenario_are_the_same_through_warm_caches(tmp_path):
    for name, (files, _, _) in SCENARIOS.items():
        plain = sorted(check_references(load(files)))
        for _ in range(2):
            cache = ParseCache(tmp_path, key=KEY)
            assert sorted(check_references(load(files, cache))) == plain, name
            cache.save()


def test_estimator_checks_are_remembered_against_the_catalog_they_ran_with(tmp_path):
    catalog = Catalog.load()
    assert catalog.digest
    bad = edit("mlops/models/churn-rf.yaml", b"max_depth: 8", b"max_dpeth: 8")
    for files in (FILES, bad, FILES, bad):
        cache = ParseCache(tmp_path, key=KEY)
        plain = [p.render() for p in check_estimators(load(files), catalog)]
        assert [p.render() for p in check_estimators(load(files, cache), catalog)] == plain
        cache.save()
    assert [p for p in check_estimators(load(bad), catalog) if "max_dpeth" in p.message]
    # the same model, clean against one catalog, is checked again against another
    cache = ParseCache(tmp_path, key=KEY)
    defs = load(FILES, cache)
    assert check_estimators(defs, catalog) == []
    classes = {k: v for k, v in catalog.classes.items() if "RandomForest" not in k}
    other = Catalog(catalog.sklearn_version, classes, digest="another catalog")
    assert any("RandomForestClassifier" in p.message for p in check_estimators(defs, other))
    unhashed = Catalog(catalog.sklearn_version, classes)  # made by hand: nothing remembered
    assert any("RandomForestClassifier" in p.message for p in check_estimators(defs, unhashed))


def test_facts_of_another_engine_code_are_dropped(tmp_path, monkeypatch):
    cache = ParseCache(tmp_path, key=KEY)
    planned("param", cache)
    cache.save()
    assert ParseCache(tmp_path, key=KEY).derived
    monkeypatch.setattr(parse_cache, "code_key", lambda: "an edited engine")
    again = ParseCache(tmp_path, key=KEY)
    assert again.derived == {} and again.memory  # the parses stay: they depend on bytes
    assert planned("param", again) == planned("param")


def test_the_code_key_follows_the_modules_that_derive_the_facts():
    key = parse_cache.code_key()
    assert len(key) == 64 and key == parse_cache.code_key()
    assert "definitions/formats.py" in parse_cache._CODE
    assert "training/fingerprint.py" in parse_cache._CODE


def test_a_spec_known_valid_is_built_when_asked_and_equals_a_fresh_one(tmp_path):
    cache = ParseCache(tmp_path, key=KEY)
    load(FILES, cache)
    cache.save()
    warm = ParseCache(tmp_path, key=KEY)
    defs = load(FILES, warm)
    entry = defs.models["churn-rf"]
    assert entry._spec is None and entry.name == "churn-rf"
    assert entry.spec == load(FILES).models["churn-rf"].spec
    assert entry.spec is entry.spec


@pytest.mark.parametrize("kind_path", ["mlops/datasets/m.yaml", "mlops/features/m.yaml"])
def test_validity_is_remembered_per_kind(tmp_path, kind_path):
    model = FILES["mlops/models/churn-rf.yaml"]
    cache = ParseCache(tmp_path, key=KEY)
    assert "churn-rf" in load({"mlops/models/churn-rf.yaml": model}, cache).models
    cache.save()
    # the same bytes under another folder: not a valid dataset or feature set
    defs = load({kind_path: model}, ParseCache(tmp_path, key=KEY))
    assert defs.problems and not defs.datasets and not defs.features


def test_a_definitions_dump_is_remembered_and_read_without_building_it(tmp_path):
    first = ParseCache(tmp_path, key=KEY)
    defs = load(FILES, first)
    expected = {
        path: entry.spec.model_dump(mode="json", by_alias=True)
        for entry in (*defs.models.values(), *defs.datasets.values(), *defs.features.values())
        for path in (entry.path,)
    }
    for entry in (*defs.models.values(), *defs.datasets.values(), *defs.features.values()):
        assert entry.dump == expected[entry.path]
    first.save()
    again = load(FILES, ParseCache(tmp_path, key=KEY))  # a new process
    for entry in (*again.models.values(), *again.datasets.values(), *again.features.values()):
        assert entry.dump == expected[entry.path]
        assert entry._spec is None  # read from the cache, the spec never built
    assert again.settings_dump == again.settings.model_dump(mode="json", by_alias=True)
