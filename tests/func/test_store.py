"""The model store on real disks: local folder, DVC filesystem layer, real processes.

Every test writes real versions (a small scikit-learn model saved with skops, Parquet
predictions) and reads them back through the public API. Races and crashes use real
child processes; the DVC backend is exercised on local folders through ``dvc.fs``.
"""

import hashlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import StoreError
from engine.store import (
    LOG_FILE,
    MODEL_FILE,
    PREDICTIONS_FILE,
    Store,
    save_model,
    save_predictions,
)
from engine.training.runs import VersionRecord

MODEL = "iris-logreg"
FORK = multiprocessing.get_context("fork")


def fingerprint(text="v1"):
    return hashlib.sha256(text.encode()).hexdigest()


def make_record(fp, model=MODEL, created="2025-03-01T10:00:00+00:00", **fields):
    return VersionRecord(
        model=model,
        fingerprint=fp,
        created=created,
        task="classification",
        dataset="iris",
        metrics={"accuracy": 0.95, "f1_macro": 0.94},
        params={"C": 1.0, "max_iter": 500},
        classes=[0, 1, 2],
        **fields,
    )


@pytest.fixture(scope="module")
def fitted():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=500).fit(x, y), x, y


def write_version(writer, fitted, log="trained\n"):
    estimator, x, y = fitted
    save_model(estimator, writer.path / MODEL_FILE)
    save_predictions(
        writer.path / PREDICTIONS_FILE,
        range(len(y)),
        y,
        estimator.predict(x),
        estimator.predict_proba(x),
        estimator.classes_,
    )
    (writer.path / LOG_FILE).write_text(log)


def store_version(store, fitted, fp, **fields):
    with store.writer(fields.get("model", MODEL), fp) as writer:
        write_version(writer, fitted)
        return writer.publish(make_record(fp, **fields))


@pytest.fixture(params=["local", "dvc"])
def store(request, tmp_path):
    """The same tests run on the local fast path and through DVC's filesystem layer."""
    return Store.open(
        ".mlops/store", tmp_path, backend="auto" if request.param == "local" else "dvc"
    )


def version_dir(tmp_path, fp, model=MODEL):
    return tmp_path / ".mlops" / "store" / model / fp


# --- the contract, on both backends ----------------------------------------------------------


def test_put_then_get_returns_every_file_verified(store, fitted):
    fp = fingerprint()
    assert not store.has(MODEL, fp)
    version = store_version(store, fitted, fp, author="alice")
    assert version.published
    assert store.has(MODEL, fp)
    again = store.get(MODEL, fp)
    assert not again.published
    assert again.record == version.record
    assert again.record.version == fp[:12]
    assert sorted(again.record.files) == [
        "card.md",
        "metrics.json",
        "model.skops",
        "predictions.parquet",
        "train.log",
    ]
    assert json.loads(again.path("metrics.json").read_text()) == {
        "accuracy": 0.95,
        "f1_macro": 0.94,
    }
    assert "| accuracy | 0.9500 |" in again.card()
    assert again.log() == "trained\n"
    frame = again.predictions()
    assert list(frame.columns) == ["row_id", "y_true", "y_pred", "proba_0", "proba_1", "proba_2"]
    assert len(frame) == 150
    assert frame[["proba_0", "proba_1", "proba_2"]].sum(axis=1).round(6).eq(1).all()


def test_load_model_returns_a_working_estimator(store, fitted):
    estimator, x, _ = fitted
    fp = fingerprint()
    store_version(store, fitted, fp)
    loaded = store.load_model(MODEL, fp)
    assert (loaded.predict(x) == estimator.predict(x)).all()


def test_a_second_put_of_the_same_fingerprint_keeps_the_first(store, fitted):
    fp = fingerprint()
    first = store_version(store, fitted, fp, author="first")
    second = store.put(make_record(fp, author="second"), {MODEL_FILE: first.model_path})
    assert not second.published
    assert second.record.author == "first"
    assert store.get_record(MODEL, fp).author == "first"


def test_versions_are_listed_newest_first_and_resolved_by_prefix(store, fitted):
    old, new, other = fingerprint("old"), fingerprint("new"), fingerprint("other")
    store_version(store, fitted, old, created="2025-01-01T00:00:00+00:00")
    store_version(store, fitted, new, created="2025-02-01T00:00:00+00:00")
    store_version(store, fitted, other, model="wine-gb", created="2025-01-15T00:00:00+00:00")
    assert [r.fingerprint for r in store.versions()] == [new, other, old]
    assert [r.fingerprint for r in store.versions(MODEL)] == [new, old]
    assert store.versions("unknown-model") == []
    assert store.resolve(MODEL, new[:12]) == new
    assert store.resolve(MODEL, new.upper()[:8]) == new
    with pytest.raises(StoreError, match="no version"):
        store.resolve(MODEL, other[:12])
    with pytest.raises(StoreError, match="not a version id"):
        store.resolve(MODEL, "xyz")


def test_delete_removes_a_version_at_once(store, fitted):
    fp = fingerprint()
    store_version(store, fitted, fp)
    assert store.delete(MODEL, fp)
    assert not store.has(MODEL, fp)
    assert store.versions() == []
    assert not store.delete(MODEL, fp)
    assert store_version(store, fitted, fp).published


def test_missing_version_and_bad_keys_are_user_errors(store):
    with pytest.raises(StoreError, match=r"not in the store .*mlops train iris-logreg"):
        store.get(MODEL, fingerprint())
    with pytest.raises(StoreError, match="not a model name"):
        store.has("../etc", fingerprint())
    with pytest.raises(StoreError, match="not a fingerprint"):
        store.has(MODEL, "abc123")


def test_writer_refuses_a_record_of_another_version_or_no_model(store, fitted):
    fp = fingerprint()
    with store.writer(MODEL, fp) as writer:
        with pytest.raises(StoreError, match=r"has no model\.skops"):
            writer.publish(make_record(fp))
        write_version(writer, fitted)
        with pytest.raises(StoreError, match="does not belong"):
            writer.publish(make_record(fingerprint("other")))
    with pytest.raises(StoreError, match="written by the store"):
        store.put(make_record(fp), {"meta.json": b"{}"})
    assert not store.has(MODEL, fp)


def test_an_error_inside_the_writer_stores_nothing(store, fitted):
    fp = fingerprint()
    with pytest.raises(RuntimeError), store.writer(MODEL, fp) as writer:
        write_version(writer, fitted)
        raise RuntimeError("training failed")
    assert not store.has(MODEL, fp)
    assert store.versions() == []


# --- tamper detection ---------------------------------------------------------------------


def stored_files(tmp_path, store, fp, name):
    """Every on-disk copy of a file of a version (the remote blob and the cache)."""
    found = [p for p in (tmp_path / ".mlops").rglob(name) if fp in str(p)]
    assert found
    return found


def test_flipped_bytes_in_the_model_are_detected_before_loading(store, fitted, tmp_path):
    fp = fingerprint()
    store_version(store, fitted, fp)
    for path in stored_files(tmp_path, store, fp, MODEL_FILE):
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    message = rf"model.skops of {MODEL}@{fp[:12]} does not match its recorded checksum"
    with pytest.raises(StoreError, match=message):
        store.load_model(MODEL, fp)
    with pytest.raises(StoreError, match="delete the version to retrain"):
        store.get(MODEL, fp)


def test_meta_json_moved_from_another_version_is_detected(fitted, tmp_path):
    store = Store.open(".mlops/store", tmp_path)
    a, b = fingerprint("a"), fingerprint("b")
    store_version(store, fitted, a)
    store_version(store, fitted, b)
    meta = version_dir(tmp_path, a) / "meta.json"
    meta.write_bytes((version_dir(tmp_path, b) / "meta.json").read_bytes())
    with pytest.raises(StoreError, match="the store was modified"):
        store.get_record(MODEL, a)
    meta.write_text("{not json")
    with pytest.raises(StoreError, match=r"meta\.json of .* is not valid"):
        store.versions()


INTRUDER_BUILT = []


class Intruder:
    """Stands for code an attacker wants run: building one is recorded."""

    def __setstate__(self, state):
        INTRUDER_BUILT.append(state)
        self.__dict__.update(state)


def test_a_model_of_an_untrusted_type_is_refused(fitted, tmp_path):
    store = Store.open(".mlops/store", tmp_path)
    fp = fingerprint()
    with store.writer(MODEL, fp) as writer:
        save_model(Intruder(), writer.path / MODEL_FILE)
        writer.publish(make_record(fp))
    refused = r"refusing to load .*would build tests\.func\.test_store\.Intruder"
    with pytest.raises(StoreError, match=refused):
        store.load_model(MODEL, fp)
    assert INTRUDER_BUILT == []


def test_a_replaced_model_with_a_rewritten_checksum_is_still_refused(fitted, tmp_path):
    store = Store.open(".mlops/store", tmp_path)
    fp = fingerprint()
    store_version(store, fitted, fp)
    model = version_dir(tmp_path, fp) / MODEL_FILE
    save_model({"step": Intruder()}, model)
    meta_path = version_dir(tmp_path, fp) / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["files"][MODEL_FILE] = hashlib.sha256(model.read_bytes()).hexdigest()
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(StoreError, match=r"would build tests\.func\.test_store\.Intruder"):
        store.load_model(MODEL, fp)
    assert INTRUDER_BUILT == []


# --- the local fast path ---------------------------------------------------------------------


def test_has_and_get_record_import_nothing_heavy(fitted, tmp_path):
    fp = fingerprint()
    store_version(Store.open(".mlops/store", tmp_path), fitted, fp)
    script = f"""
import sys
from pathlib import Path
from engine.store import Store
store = Store.open(".mlops/store", Path({str(tmp_path)!r}))
assert store.has({MODEL!r}, {fp!r})
assert store.get_record({MODEL!r}, {fp!r}).metrics["accuracy"] == 0.95
heavy = {{"dvc", "dvc_objects", "fsspec", "skops", "sklearn", "pandas", "numpy", "scipy"}}
print(sorted(heavy & {{name.split(".")[0] for name in sys.modules}}))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_metrics_json_is_readable_by_dvc_metrics_show(fitted, tmp_path):
    subprocess.run(
        [sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=tmp_path, check=True
    )
    fp = fingerprint()
    store_version(Store.open(".mlops/store", tmp_path), fitted, fp)
    target = f".mlops/store/{MODEL}/{fp}/metrics.json"
    out = subprocess.run(
        [sys.executable, "-m", "dvc", "metrics", "show", "--json", target],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    shown = json.loads(out.stdout)
    assert shown[""]["data"][target]["data"] == {"accuracy": 0.95, "f1_macro": 0.94}


def test_a_folder_without_meta_json_is_not_a_version(fitted, tmp_path):
    store = Store.open(".mlops/store", tmp_path)
    fp = fingerprint()
    leftover = version_dir(tmp_path, fp)
    leftover.mkdir(parents=True)
    (leftover / MODEL_FILE).write_bytes(b"half written")
    assert not store.has(MODEL, fp)
    assert store.versions() == []
    assert store_version(store, fitted, fp).published
    assert store.get(MODEL, fp).model_path.read_bytes() != b"half written"


def race(url, root, backend, fp, name, barrier, results, fitted):
    store = Store.open(url, Path(root), backend=backend)
    try:
        with store.writer(MODEL, fp) as writer:
            write_version(writer, fitted, log=f"written by {name}\n")
            barrier.wait(timeout=30)
            version = writer.publish(make_record(fp, author=name))
        outcome = version.published
        # The files this process was handed are those of the record it was handed.
        if version.log() != f"written by {version.record.author}\n":
            outcome = f"{version.record.author}'s record with the log {version.log()!r}"
    except StoreError as exc:
        outcome = str(exc)
    results.put((name, outcome))


@pytest.mark.parametrize("backend", ["auto", "dvc"])
def test_two_processes_racing_leave_one_intact_version(backend, fitted, tmp_path):
    fp = fingerprint()
    names = ("p1", "p2", "p3")
    barrier, results = FORK.Barrier(len(names)), FORK.Queue()
    args = (".mlops/store", str(tmp_path), backend, fp)
    procs = [
        FORK.Process(target=race, args=(*args, name, barrier, results, fitted)) for name in names
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    outcome = dict(results.get(timeout=5) for _ in procs)
    assert all(isinstance(published, bool) for published in outcome.values()), outcome
    store = Store.open(".mlops/store", tmp_path, backend=backend)
    version = store.get(MODEL, fp)  # verifies every checksum
    winner = version.record.author
    assert version.log() == f"written by {winner}\n"
    assert outcome[winner] is True
    if backend == "auto":  # an atomic rename: exactly one publish wins
        assert sorted(outcome.values()) == [False, False, True]
    assert [r.fingerprint for r in store.versions()] == [fp]
    staging = tmp_path / ".mlops" / ("store" if backend == "auto" else "cache/store") / ".staging"
    assert list(staging.iterdir()) == []


def crash_while_writing(root, backend, fp, started, fitted):
    store = Store.open(".mlops/store", Path(root), backend=backend)
    with store.writer(MODEL, fp) as writer:
        write_version(writer, fitted)
        started.set()
        with open(writer.path / "big.log", "w") as log:
            while True:  # keeps writing until killed
                log.write("x" * 4096)


@pytest.mark.parametrize("backend", ["auto", "dvc"])
def test_a_writer_killed_mid_write_leaves_no_version(backend, fitted, tmp_path):
    fp = fingerprint()
    started = FORK.Event()
    child = FORK.Process(
        target=crash_while_writing, args=(str(tmp_path), backend, fp, started, fitted)
    )
    child.start()
    assert started.wait(30)
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    assert child.exitcode == -signal.SIGKILL
    store = Store.open(".mlops/store", tmp_path, backend=backend)
    assert not store.has(MODEL, fp)
    assert store.versions() == []
    # The garbage is a dead writer's: the next cleanup removes it whatever its age.
    assert store.clean_staging() == 1
    assert store.clean_staging() == 0
    assert store_version(store, fitted, fp).published


# --- the DVC filesystem layer ---------------------------------------------------------------


def test_file_url_and_named_dvc_remote_go_through_dvc(fitted, tmp_path):
    remote = tmp_path / "remote"
    fp = fingerprint()
    by_url = Store.open(remote.as_uri(), tmp_path, backend="dvc")
    store_version(by_url, fitted, fp)
    assert (remote / MODEL / fp / "meta.json").is_file()
    # A remote named in the repository's DVC config, as `dvc remote add` writes it.
    subprocess.run(
        [sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=tmp_path, check=True
    )
    subprocess.run(
        [sys.executable, "-m", "dvc", "remote", "add", "models", str(tmp_path)],
        cwd=tmp_path,
        check=True,
    )
    named = Store.open("remote://models/remote", tmp_path, cache=tmp_path / "other-cache")
    assert named.has(MODEL, fp)
    assert named.get(MODEL, fp).log() == "trained\n"
    assert named.get(MODEL, fp).model_path.is_relative_to(tmp_path / "other-cache" / MODEL / fp)


def test_remote_download_replaces_a_damaged_cached_copy(fitted, tmp_path):
    fp = fingerprint()
    writer_store = Store.open(".mlops/store", tmp_path, backend="dvc", cache=tmp_path / "c1")
    store_version(writer_store, fitted, fp)
    reader = Store.open(".mlops/store", tmp_path, backend="dvc", cache=tmp_path / "c2")
    cached = reader.get(MODEL, fp).model_path
    cached.write_bytes(b"damaged in the cache")
    assert reader.get(MODEL, fp).model_path.read_bytes() != b"damaged in the cache"


def test_two_records_of_one_fingerprint_never_share_cached_files(fitted, tmp_path):
    # What two racing writers see for a moment: two records of one fingerprint whose
    # train.log and card.md differ. Reading one must not rewrite the other's files.
    fp, cache = fingerprint(), tmp_path / "cache"
    stores = [Store.open(f"remote{i}", tmp_path, backend="dvc", cache=cache) for i in (1, 2)]
    for name, store in zip(("p1", "p2"), stores, strict=True):
        with store.writer(MODEL, fp) as writer:
            write_version(writer, fitted, log=f"written by {name}\n")
            writer.publish(make_record(fp, author=name))
    first = stores[0].get(MODEL, fp)
    second = stores[1].get(MODEL, fp)
    assert (first.log(), second.log()) == ("written by p1\n", "written by p2\n")
    for name, sha in first.record.files.items():  # still the bytes it was verified with
        assert hashlib.sha256(first.path(name).read_bytes()).hexdigest() == sha
    assert stores[0].get(MODEL, fp).dir == first.dir  # served from the cache again


def test_remote_blobs_without_meta_json_are_not_a_version(fitted, tmp_path):
    fp = fingerprint()
    half = version_dir(tmp_path, fp) / "files" / ("0" * 64)
    half.mkdir(parents=True)
    (half / MODEL_FILE).write_bytes(b"partial upload")
    store = Store.open(".mlops/store", tmp_path, backend="dvc")
    assert not store.has(MODEL, fp)
    assert store.versions() == []
    assert store_version(store, fitted, fp).published


@pytest.mark.parametrize(
    ("url", "package"),
    [
        ("s3://bucket/models", "dvc-s3"),
        ("gs://bucket/models", "dvc-gs"),
        ("azure://container/models", "dvc-azure"),
        ("ssh://host/srv/models", "dvc-ssh"),
    ],
)
def test_a_missing_dvc_plugin_says_what_to_install(url, package, tmp_path):
    with pytest.raises(StoreError, match=f"pip install {package}"):
        Store.open(url, tmp_path)


def test_unsupported_urls_are_user_errors(tmp_path):
    with pytest.raises(StoreError, match="not a usable DVC remote"):
        Store.open("ftp://host/models", tmp_path)
    with pytest.raises(StoreError, match=r"not a usable DVC remote.*doesn.t exist"):
        Store.open("remote://nowhere/models", tmp_path)
    with pytest.raises(StoreError, match="not a local folder"):
        Store.open("s3://bucket", tmp_path, backend="local")


def test_copy_from_another_store_keeps_the_record_and_refuses_damage(store, fitted, tmp_path):
    """What main's register job does with MLOPS_STORE_FROM: the same version, checked."""
    fp, damaged = fingerprint("copied"), fingerprint("damaged")
    seed = Store.open("handed-on", tmp_path)  # the folder the train jobs filled
    store_version(seed, fitted, fp)
    copied = store.copy_from(seed, MODEL, fp)
    assert copied.published and copied.record == seed.get_record(MODEL, fp)
    assert (
        store.get(MODEL, fp).model_path.read_bytes()
        == (tmp_path / "handed-on" / MODEL / fp / MODEL_FILE).read_bytes()
    )
    store_version(seed, fitted, damaged)
    model = tmp_path / "handed-on" / MODEL / damaged / MODEL_FILE
    model.write_bytes(model.read_bytes() + b"\0")
    with pytest.raises(StoreError, match="does not match its recorded checksum"):
        store.copy_from(seed, MODEL, damaged)
    assert not store.has(MODEL, damaged)
