"""Crafted model files: a real skops file whose schema names a function, resealed.

The attacker can write to the store (a shared DVC remote, a poisoned cache). They take a
real ``model.skops``, edit its ``schema.json`` so that one node is a "reduce" node whose
type is a function that the old prefix rule trusted (``numpy.save`` writes a file;
``sklearn.datasets.fetch_openml`` downloads; ``numpy.load`` unpickles), and rewrite the
sha256 in the version's ``meta.json``. Each test first proves the file is live (loaded
with everything it asks for trusted, the function runs and leaves a marker file), then
that the engine refuses it, naming the type, and the marker never appears.
"""

import hashlib
import io
import itertools
import json
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from engine.errors import StoreError
from engine.store import MODEL_FILE, Store, load_verified, save_model
from engine.store.artifacts import _skops_io
from engine.training.runs import VersionRecord

MODEL = "iris-pipe"
FP = hashlib.sha256(b"attack").hexdigest()
_IDS = itertools.count(10**9)


@pytest.fixture(scope="module")
def pipeline():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_iris(return_X_y=True)
    steps = [("scale", StandardScaler()), ("estimator", LogisticRegression(max_iter=300))]
    return Pipeline(steps).fit(x, y)


def _json(value):
    return {
        "__class__": type(value).__name__,
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
        "__id__": next(_IDS),
    }


def call_node(function, *args):
    """A skops node that calls ``function(*args)`` while the file is loaded."""
    module, _, name = function.rpartition(".")
    return {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": [_json(a) for a in args],
            "__id__": next(_IDS),
        },
    }


def craft(data: bytes, node: dict) -> bytes:
    """``data`` (a skops file) with its first string node replaced by ``node``."""
    source = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(source.read("schema.json"))

    def replace(tree) -> bool:
        items = tree.items() if isinstance(tree, dict) else enumerate(tree)
        for key, child in items:
            if isinstance(child, dict) and (child.get("__loader__"), child.get("__class__")) == (
                "JsonNode",
                "str",
            ):
                tree[key] = node
                return True
            if isinstance(child, dict | list) and replace(child):
                return True
        return False

    assert replace(schema)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            payload = json.dumps(schema) if name == "schema.json" else source.read(name)
            target.writestr(name, payload)
    return out.getvalue()


def reseal(store_root: Path, data: bytes) -> Path:
    """Write ``data`` as the version's model and rewrite meta.json's sha256 to match."""
    folder = store_root / MODEL / FP
    (folder / MODEL_FILE).write_bytes(data)
    meta = json.loads((folder / "meta.json").read_text())
    meta["files"][MODEL_FILE] = hashlib.sha256(data).hexdigest()
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder / MODEL_FILE


@pytest.fixture
def store(tmp_path, pipeline):
    store = Store.open(".mlops/store", tmp_path)
    with store.writer(MODEL, FP) as writer:
        save_model(pipeline, writer.path / MODEL_FILE)
        record = VersionRecord(
            model=MODEL,
            fingerprint=FP,
            created="2025-03-01T10:00:00+00:00",
            task="classification",
            dataset="iris",
        )
        writer.publish(record)
    return store


def test_a_function_in_the_schema_runs_when_trusted_and_is_refused_by_the_engine(
    store, tmp_path, pipeline
):
    sio = _skops_io()
    marker = tmp_path / "pwned.npy"
    crafted = craft(sio.dumps(pipeline), call_node("numpy.save", str(marker), 1))
    # The file is live: trusting what it asks for (as the old "numpy.*" rule did) runs it.
    assert "numpy.save" in sio.get_untrusted_types(data=crafted)
    sio.loads(crafted, trusted=sio.get_untrusted_types(data=crafted))
    assert marker.is_file()
    marker.unlink()

    reseal(tmp_path / ".mlops/store", crafted)
    assert store.get(MODEL, FP)  # resealed: the checksum beside the file agrees
    with pytest.raises(StoreError, match=r"refusing to load iris-pipe@.*would build numpy\.save,"):
        store.load_model(MODEL, FP)
    assert not marker.exists()


@pytest.mark.parametrize(
    "function",
    [
        "numpy.load",  # unpickles
        "numpy.lib._npyio_impl.savetxt",  # writes
        "sklearn.datasets.fetch_openml",  # downloads
        "scipy.datasets.face",  # downloads
        "sklearn.utils.all_estimators",  # imports every module
        "os.system",
    ],
)
def test_any_function_named_in_a_resealed_file_is_refused_by_name(
    store, tmp_path, pipeline, function
):
    crafted = craft(_skops_io().dumps(pipeline), call_node(function, "x"))
    path = reseal(tmp_path / ".mlops/store", crafted)
    with pytest.raises(StoreError, match=rf"would build {re.escape(function)}, which"):
        store.load_model(MODEL, FP)
    with pytest.raises(StoreError, match="would build"):
        load_verified(path, hashlib.sha256(crafted).hexdigest())  # right hash, wrong types


def test_load_verified_checks_the_pinned_hash_before_anything_is_built(store, tmp_path, pipeline):
    sio = _skops_io()
    folder = tmp_path / ".mlops/store" / MODEL / FP
    pinned = hashlib.sha256((folder / MODEL_FILE).read_bytes()).hexdigest()
    assert load_verified(folder / MODEL_FILE, pinned).predict([[5.1, 3.5, 1.4, 0.2]]) == [0]
    assert store.load_pinned(MODEL, FP, pinned) is not None

    marker = tmp_path / "pwned.npy"
    crafted = craft(sio.dumps(pipeline), call_node("numpy.save", str(marker), 1))
    resealed = hashlib.sha256(crafted).hexdigest()
    reseal(tmp_path / ".mlops/store", crafted)
    with pytest.raises(StoreError) as caught:
        store.load_pinned(MODEL, FP, pinned)
    assert f"has sha256 {resealed}, but the pin expects {pinned}" in str(caught.value)
    assert not marker.exists()


@pytest.mark.slow
def test_promotion_refuses_a_crafted_stored_model_before_pinning_its_hash(repo, mlops):
    assert mlops("train", "iris-logreg", cwd=repo).returncode == 0
    (model_file,) = (repo / ".mlops/store/iris-logreg").glob("*/model.skops")
    marker = repo.parent / "pwned.npy"
    crafted = craft(model_file.read_bytes(), call_node("numpy.save", str(marker), 1))
    model_file.write_bytes(crafted)
    meta = json.loads(model_file.with_name("meta.json").read_text())
    meta["files"][MODEL_FILE] = hashlib.sha256(crafted).hexdigest()
    model_file.with_name("meta.json").write_text(json.dumps(meta))

    result = mlops("promote", "iris-logreg", "--to", "staging", cwd=repo)
    assert result.returncode == 1
    assert "would build numpy.save" in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists()
    branches = subprocess.run(
        ["git", "ls-remote", "--heads", "origin"], cwd=repo, capture_output=True, text=True
    ).stdout
    assert "env/staging" not in branches  # nothing pinned
