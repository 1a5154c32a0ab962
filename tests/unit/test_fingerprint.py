"""Fingerprints: what changes a model version, and what must not."""

from __future__ import annotations

import pytest

from engine.definitions.loading import load
from engine.errors import DataError, PointerError
from engine.training.fingerprint import (
    TRAINING_SEMANTICS_VERSION,
    Fingerprints,
    data_hash,
    fingerprint,
    pointer_for,
    short,
)

DATASET = b"""\
name: cancer
description: Tumours.
source: {path: data/cancer.csv}
target: target
schema:
  columns:
    radius: {type: float, min: 0}
    target: {type: int, values: [0, 1]}
checks: {min_rows: 100}
split: {test_size: 0.25, seed: 7, stratify: true}
"""

FEATURES = b"""\
name: scaled
description: Standardized radius.
transforms:
  - columns: [radius]
    steps:
      - {class: sklearn.preprocessing.StandardScaler}
"""

MODEL = b"""\
# a comment
name: cancer-rf
description: Random forest.
owners: ["@ml-team"]
dataset: cancer
features: scaled
task: classification
estimator:
  class: sklearn.ensemble.RandomForestClassifier
  params: {n_estimators: 200, max_depth: 8, random_state: 0}
metrics: [accuracy, f1]
primary_metric: f1
gates:
  f1: {min: 0.9}
"""

MD5 = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
POINTER = f"outs:\n- md5: {MD5}\n  size: 1024\n  hash: md5\n  path: cancer.csv\n".encode()
SKLEARN = "1.9.0"


def fp_of(
    model: bytes = MODEL,
    dataset: bytes = DATASET,
    features: bytes = FEATURES,
    pointer: bytes = POINTER,
    sklearn: str = SKLEARN,
    semantics: int = TRAINING_SEMANTICS_VERSION,
    pointer_path: str = "data/cancer.csv.dvc",
    model_name: str = "cancer-rf",
) -> str:
    """Load real YAML text the way the engine does, and fingerprint the one model."""
    files = {
        f"mlops/models/{model_name}.yaml": model,
        "mlops/datasets/cancer.yaml": dataset,
        "mlops/features/scaled.yaml": features,
        pointer_path: pointer,
    }
    defs = load(files)
    assert defs.problems == []
    m = defs.models[model_name].spec
    ds = defs.datasets["cancer"].spec
    spec = defs.features["scaled"].spec if isinstance(m.features, str) else m.features
    return fingerprint(m, spec, ds, data_hash(ds, files, sklearn), sklearn, semantics=semantics)


BASE = fp_of()


def test_is_a_sha256_hex_digest_and_short_is_its_first_12_characters():
    assert len(BASE) == 64 and int(BASE, 16) >= 0
    assert short(BASE) == BASE[:12]


SAME = {
    "key order": MODEL.replace(b"task: classification\n", b"").replace(
        b"name: cancer-rf\n", b"task: classification\nname: cancer-rf\n"
    ),
    "comments": MODEL.replace(b"# a comment\n", b"") + b"# trailing\n",
    "quoting": MODEL.replace(b"dataset: cancer", b'dataset: "cancer"')
    .replace(b"class: sklearn", b"class: 'sklearn")
    .replace(b"RandomForestClassifier\n", b"RandomForestClassifier'\n"),
    "prose": MODEL.replace(b"Random forest.", b"A better description.").replace(
        b'owners: ["@ml-team"]', b'owners: ["@someone"]\ntags: [new]'
    ),
    "block style": MODEL.replace(
        b"  params: {n_estimators: 200, max_depth: 8, random_state: 0}",
        b"  params:\n    random_state: 0\n    max_depth: 8\n    n_estimators: 200",
    ),
    "flow style": MODEL.replace(b"metrics: [accuracy, f1]", b"metrics:\n  - accuracy\n  - f1"),
    "explicit defaults": MODEL + b"cv: null\nsearch: null\n",
    "gates (they judge a version, not shape it)": MODEL.replace(b"{min: 0.9}", b"{min: 0.95}"),
    "monitoring thresholds (they judge live data)": MODEL
    + b"monitoring: {drift_share: 0.3, ks_threshold: 0.01, window: 6h}\n",
}


@pytest.mark.parametrize("variant", SAME.values(), ids=SAME.keys())
def test_unchanged_by_how_the_model_is_written(variant):
    assert fp_of(model=variant) == BASE


def test_unchanged_by_explicit_defaults_elsewhere():
    assert fp_of(features=FEATURES + b"remainder: passthrough\ncolumns: null\n") == BASE
    assert fp_of(dataset=DATASET.replace(b"checks:", b"id_column: null\nchecks:")) == BASE


def test_unchanged_by_dataset_schema_checks_and_prose():
    dataset = (
        DATASET.replace(b"min_rows: 100", b"min_rows: 500, max_null_fraction: 0.1")
        .replace(b"radius: {type: float, min: 0}", b"radius: {type: float, min: 1, max: 99}")
        .replace(b"Tumours.", b"Wisconsin tumours.")
    )
    assert fp_of(dataset=dataset) == BASE


def test_unchanged_when_a_feature_set_is_renamed_or_written_inline():
    renamed = FEATURES.replace(b"name: scaled", b"name: standard")
    files = {
        "mlops/models/cancer-rf.yaml": MODEL.replace(b"features: scaled", b"features: standard"),
        "mlops/datasets/cancer.yaml": DATASET,
        "mlops/features/standard.yaml": renamed,
        "data/cancer.csv.dvc": POINTER,
    }
    defs = load(files)
    m, ds = defs.models["cancer-rf"].spec, defs.datasets["cancer"].spec
    spec = defs.features["standard"].spec
    assert fingerprint(m, spec, ds, data_hash(ds, files, SKLEARN), SKLEARN) == BASE
    inline = MODEL.replace(
        b"features: scaled",
        b"features:\n  transforms:\n    - columns: [radius]\n      steps:\n"
        b"        - class: sklearn.preprocessing.StandardScaler",
    )
    assert fp_of(model=inline) == BASE


CHANGED = {
    "param": {"model": MODEL.replace(b"max_depth: 8", b"max_depth: 10")},
    "param type": {"model": MODEL.replace(b"max_depth: 8", b"max_depth: 8.0")},
    "new param": {"model": MODEL.replace(b"random_state: 0", b"random_state: 0, n_jobs: 2")},
    "estimator": {"model": MODEL.replace(b"RandomForestClassifier", b"ExtraTreesClassifier")},
    "model name": {
        "model": MODEL.replace(b"name: cancer-rf", b"name: cancer-rf2"),
        "model_name": "cancer-rf2",
    },
    "metrics": {"model": MODEL.replace(b"[accuracy, f1]", b"[accuracy, f1, roc_auc]")},
    "data": {"pointer": POINTER.replace(MD5.encode(), b"f" * 32)},
    "split seed": {"dataset": DATASET.replace(b"seed: 7", b"seed: 8")},
    "split size": {"dataset": DATASET.replace(b"test_size: 0.25", b"test_size: 0.3")},
    "target": {"dataset": DATASET.replace(b"target: target", b"target: radius")},
    "feature step": {"features": FEATURES.replace(b"StandardScaler", b"RobustScaler")},
    "feature columns": {"features": FEATURES + b"columns: [radius]\n"},
    "remainder": {"features": FEATURES + b"remainder: drop\n"},
    "sklearn version": {"sklearn": "1.9.1"},
    "semantics": {"semantics": TRAINING_SEMANTICS_VERSION + 1},
}


@pytest.mark.parametrize("change", CHANGED.values(), ids=CHANGED.keys())
def test_changed_by_what_determines_training(change):
    assert fp_of(**change) != BASE


def test_changed_by_the_data_source():
    moved = DATASET.replace(b"data/cancer.csv", b"data/cancer.parquet")
    pointer = POINTER.replace(b"cancer.csv", b"cancer.parquet")
    assert fp_of(dataset=moved, pointer=pointer, pointer_path="data/cancer.parquet.dvc") != BASE


def test_needs_the_feature_set_the_model_names():
    files = {"mlops/models/cancer-rf.yaml": MODEL, "mlops/datasets/cancer.yaml": DATASET}
    defs = load(files)
    m, ds = defs.models["cancer-rf"].spec, defs.datasets["cancer"].spec
    with pytest.raises(ValueError, match="scaled"):
        fingerprint(m, None, ds, MD5, SKLEARN)


# --- pointers and data hashes -----------------------------------------------------------


def test_pointer_for_finds_the_file_pointer_then_a_folder_pointer():
    assert pointer_for("data/x.csv", {"data/x.csv.dvc": b""}) == "data/x.csv.dvc"
    assert pointer_for("data/raw/x.csv", {"data/raw.dvc": b"", "data.dvc": b""}) == "data/raw.dvc"
    assert pointer_for("data/raw/x.csv", {"data.dvc": b""}) == "data.dvc"
    assert pointer_for("data/x.csv", {"other.csv.dvc": b""}) is None


def test_data_hash_of_sklearn_data_names_loader_and_version():
    defs = load(
        {"mlops/datasets/iris.yaml": b"name: iris\nsource: {sklearn: load_iris}\ntarget: target\n"}
    )
    assert data_hash(defs.datasets["iris"].spec, {}, "1.9.0") == "sklearn:load_iris:1.9.0"


def test_data_hash_of_a_file_is_its_pointer_md5():
    ds = load({"mlops/datasets/cancer.yaml": DATASET}).datasets["cancer"].spec
    assert data_hash(ds, {"data/cancer.csv.dvc": POINTER}, SKLEARN) == MD5
    folder = f"outs:\n- md5: {MD5}.dir\n  nfiles: 3\n  path: data\n".encode()
    assert data_hash(ds, {"data.dvc": folder}, SKLEARN) == MD5 + ".dir"


def test_data_hash_without_a_pointer_says_how_to_track_the_file():
    ds = load({"mlops/datasets/cancer.yaml": DATASET}).datasets["cancer"].spec
    with pytest.raises(DataError, match=r"dvc add data/cancer.csv"):
        data_hash(ds, {}, SKLEARN)
    with pytest.raises(PointerError) as err:
        data_hash(ds, {"data/cancer.csv.dvc": b"outs: []\n"}, SKLEARN)
    assert str(err.value) == (
        "data/cancer.csv.dvc:1:1: a pointer must have exactly one entry under `outs`: "
        "run `dvc add data/cancer.csv` and commit data/cancer.csv.dvc"
    )


def test_data_hash_refuses_an_import_stage_where_dvc_would_read_its_source():
    ds = load({"mlops/datasets/cancer.yaml": DATASET}).datasets["cancer"].spec
    crafted = f"deps:\n- path: /etc/passwd\nouts:\n- md5: {MD5}\n  path: cancer.csv\n"
    with pytest.raises(PointerError) as err:
        data_hash(ds, {"data/cancer.csv.dvc": crafted.encode()}, SKLEARN)
    assert err.value.problem.path == "data/cancer.csv.dvc"
    assert (err.value.problem.line, err.value.problem.col) == (1, 1)
    assert "import stage" in err.value.problem.message


def test_fingerprint_format_does_not_drift():
    # Every stored version is keyed by this hash: a change here retrains every model of
    # every user. If the change is intended, bump FORMAT or TRAINING_SEMANTICS_VERSION
    # and update the value.
    assert BASE == "6d5521a513f9a67452e28ed2bc969b3de51d6628ea89702021d799659c91c957"


def test_remembered_fingerprints_equal_the_reference_computation():
    # Fingerprints joins cached canonical pieces into the same document text: every
    # variant (prose, inline feature sets, unicode, other data) must hash the same
    files = {
        "mlops/models/cancer-rf.yaml": MODEL,
        "mlops/models/inline.yaml": MODEL.replace(b"cancer-rf", b"inline").replace(
            b"features: scaled",
            b"features:\n  transforms:\n    - columns: [radius]\n      steps:\n"
            b"        - {class: sklearn.preprocessing.StandardScaler}",
        ),
        "mlops/models/bare.yaml": MODEL.replace(b"cancer-rf", b"bare")
        .replace(b"features: scaled\n", b"")
        .replace(b"Random forest.", "Forêt « aléatoire ».".encode()),
        "mlops/datasets/cancer.yaml": DATASET.replace(b"Tumours.", "Tumeurs ñ ü.".encode()),
        "mlops/features/scaled.yaml": FEATURES,
    }
    defs = load(files)
    assert defs.problems == []
    prints = Fingerprints()
    ds = defs.datasets["cancer"].spec
    for entry in defs.models.values():
        m = entry.spec
        spec = defs.features["scaled"].spec if isinstance(m.features, str) else m.features
        for data, semantics in ((MD5, 2), ("sklearn:load_iris:1.9", 3)):
            want = fingerprint(m, spec, ds, data, SKLEARN, semantics=semantics)
            assert prints(m, spec, ds, data, SKLEARN, semantics=semantics) == want
            assert prints(m, spec, ds, data, SKLEARN, semantics=semantics) == want  # remembered
    with pytest.raises(ValueError, match="which was not given"):
        prints(defs.models["cancer-rf"].spec, None, ds, MD5, SKLEARN)


def test_the_parts_read_from_dumps_are_the_parts_of_the_specs():
    # the plan's reasons read the definitions' remembered dumps (Entry.dump), the
    # fingerprints the specs: both must see the same content
    from engine.definitions.formats import PROSE_FIELDS, FeatureSet, FeatureSpec
    from engine.training.fingerprint import (
        dataset_part,
        dataset_part_of,
        features_part,
        features_part_of,
        model_part,
        model_part_of,
    )

    defs = load(
        {
            "mlops/models/cancer-rf.yaml": MODEL,
            "mlops/datasets/cancer.yaml": DATASET,
            "mlops/features/scaled.yaml": FEATURES,
        }
    )
    model, dataset = defs.models["cancer-rf"], defs.datasets["cancer"]
    features = defs.features["scaled"]
    assert model_part_of(model.dump) == model_part(model.spec)
    assert dataset_part_of(dataset.dump) == dataset_part(dataset.spec)
    assert features_part_of(features.dump) == features_part(features.spec)
    # a feature set declares what an inline spec does, plus its name and prose
    assert set(FeatureSet.model_fields) == {*FeatureSpec.model_fields, "name", *PROSE_FIELDS}


def test_model_part_leaves_out_exactly_what_model_part_of_drops():
    """``model_part`` serializes only the hashed fields; the same dict as dropping the
    others from the whole dump, for every example model and models that set them all."""
    import sys
    from pathlib import Path

    from engine.definitions.loading import load
    from engine.training.fingerprint import model_part, model_part_of

    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root / "benchmarks"))
    import bench_plan

    files = {
        f"mlops/models/{p.name}": p.read_bytes() for p in (root / "mlops" / "models").glob("*.yaml")
    }
    for i in range(3):
        files[f"mlops/models/m{i}.yaml"] = bench_plan._model(i).encode()
    files["mlops/models/full.yaml"] = (
        MODEL.decode()
        .replace("name: cancer-rf", "name: full")
        .__add__(
            "tags: [a]\ncv: 3\nbudget: {seconds: 60}\n"
            "monitoring: {window: 2d, psi_threshold: 0.3}\n"
        )
        .encode()
    )
    models = load(files).models
    assert len(models) == len(files)
    for entry in models.values():
        assert model_part(entry.spec) == model_part_of(
            entry.spec.model_dump(mode="json", by_alias=True)
        )
