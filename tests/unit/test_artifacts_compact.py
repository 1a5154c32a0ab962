"""save_model's compact skops file: the same schema value as skops.io.dump, half the bytes,
and loaded by the same type-checked path."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from engine.store import artifacts
from engine.store.artifacts import _skops_io, load_bytes, save_model

# skops imported as the engine imports it: a plain `import skops.io` would make skops trust
# every scikit-learn estimator by default in this process, and the trusted-types sweep run
# by the same test worker would then no longer see the estimator classes it must list.
sio = _skops_io()


@pytest.fixture(scope="module")
def fitted():
    x, y = load_iris(return_X_y=True)
    model = Pipeline([("scale", StandardScaler()), ("rf", RandomForestClassifier(20))])
    return model.fit(x, y), x


def unnamed(value):
    """A schema without the names skops takes from id(): array files and memo ids."""
    if isinstance(value, dict):
        return {k: unnamed(v) for k, v in value.items() if k not in ("file", "__id__")}
    if isinstance(value, list):
        return [unnamed(v) for v in value]
    return value


def members(data: bytes) -> dict[str, bytes]:
    import io

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {name: z.read(name) for name in z.namelist()}


def test_compact_file_is_skops_own_schema_without_the_indentation(fitted, tmp_path):
    model, x = fitted
    save_model(model, tmp_path / "model.skops")
    ours = members((tmp_path / "model.skops").read_bytes())
    theirs = members(sio.dumps(model))
    # skops names array members and memo entries by id(): equal up to those names
    assert unnamed(json.loads(ours["schema.json"])) == unnamed(json.loads(theirs["schema.json"]))
    assert b"\n" not in ours["schema.json"]  # compact: no pretty-printing
    assert len(ours["schema.json"]) < len(theirs["schema.json"]) * 0.7
    arrays = sorted(v for k, v in ours.items() if k != "schema.json")
    assert arrays == sorted(v for k, v in theirs.items() if k != "schema.json")
    loaded = load_bytes((tmp_path / "model.skops").read_bytes(), "model")
    assert np.array_equal(loaded.predict_proba(x), model.predict_proba(x))


def test_another_skops_version_saves_with_skops_itself(fitted, tmp_path, monkeypatch):
    model, x = fitted
    monkeypatch.setattr(artifacts, "COMPACT_SKOPS", ("0.0.",))
    save_model(model, tmp_path / "model.skops")
    schema = members((tmp_path / "model.skops").read_bytes())["schema.json"]
    assert b"\n" in schema  # skops's own indented dump
    loaded = load_bytes((tmp_path / "model.skops").read_bytes(), "model")
    assert np.array_equal(loaded.predict(x), model.predict(x))
