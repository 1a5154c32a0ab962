"""``mlops train`` and ``mlops runs`` end to end: the real command on real git (and DVC) repos.

Training the four example models costs a few seconds, so one module-scoped repository is
trained once (sequentially) and the tests that only read its store, or that change it,
work on copies of it (``trained_copy``). Each test then asserts what a user would see:
exit codes, the text and ``--json`` documents, and what the store holds.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.errors import StoreError
from engine.store import MODEL_FILE, Store
from engine.training.plan import plan
from engine.training.planning import snapshot
from tests import forkserver
from tests.conftest import MLOPS, commit, dvc, git, init_repo

pytestmark = pytest.mark.slow  # every test here runs the training command at least once

EXAMPLES = ("cancer-rf", "diabetes-ridge", "iris-logreg", "wine-knn")
LOADERS = {
    "breast-cancer": "load_breast_cancer",
    "diabetes": "load_diabetes",
    "iris": "load_iris",
    "wine": "load_wine",
}


def mlops(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real ``mlops`` console command, without the GitHub Actions environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env["DVC_NO_ANALYTICS"] = "1"
    return forkserver.run(args, cwd=cwd, env=env)


def train_json(*args: str, cwd: Path) -> tuple[int, dict[str, Any]]:
    """``mlops train --json ...``: the exit code and the document, by model name."""
    done = mlops("train", "--json", *args, cwd=cwd)
    assert "Traceback" not in done.stderr, done.stderr
    doc = json.loads(done.stdout)
    doc["by_name"] = {m["model"]: m for m in doc["models"]}
    return done.returncode, doc


def store_of(root: Path) -> Store:
    """The repository's store, as project.yaml configures it."""
    return Store.open(".mlops/store", root)


def head_fingerprints(root: Path) -> dict[str, str]:
    """The fingerprint of every model in the working tree, computed by the planner."""
    return {m.name: m.head_fingerprint or "" for m in plan(None, snapshot(root, None)).models}


def edit_yaml(path: Path, *keys: str, value: object) -> None:
    """Set ``keys`` in the YAML file at ``path`` to ``value``."""
    doc = yaml.safe_load(path.read_text())
    node = doc
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def processes(root: Path) -> dict[str, int]:
    """Which process trained each stored version, from its training log."""
    found = {}
    for record in store_of(root).versions():
        log = store_of(root).get(record.model, record.fingerprint).log()
        match = re.search(r"\(process (\d+)\)", log)
        assert match, log
        found[record.model] = int(match.group(1))
    return found


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The example repository after one sequential ``mlops train``, and that run."""
    root = init_repo(tmp_path_factory.mktemp("trained") / "repo")
    return root, mlops("train", "--jobs", "1", cwd=root)


@pytest.fixture
def trained_copy(trained: tuple[Path, Any], tmp_path: Path) -> Path:
    """A private copy of the trained repository (store included), free to change."""
    root = tmp_path / "repo"
    shutil.copytree(trained[0], root, symlinks=True)
    return root


# --- training, caching, forcing --------------------------------------------------------


def test_train_stores_every_example_then_has_nothing_to_train(trained):
    root, first = trained
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["trained"] * 4
    assert lines[-1].startswith("4 trained, 0 already stored, 0 failed")
    expected = head_fingerprints(root)
    stored = {r.model: r.fingerprint for r in store_of(root).versions()}
    assert stored == expected and sorted(stored) == list(EXAMPLES)

    again = mlops("train", cwd=root)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "nothing to train: all 4 model(s) already stored"
    assert all(line.split()[0] == "stored" for line in again.stdout.splitlines()[:-1])

    code, doc = train_json(cwd=root)
    assert code == 0 and doc["ok"] is True
    assert sorted(doc["by_name"]) == list(EXAMPLES)
    for name, entry in doc["by_name"].items():
        record = store_of(root).get_record(name, expected[name])
        assert entry["status"] == "stored" and entry["reason"] is None
        assert entry["fingerprint"] == expected[name]
        assert entry["version"] == expected[name][:12] == record.version
        assert entry["metrics"] == record.metrics and entry["metrics"]
    assert set(doc["by_name"]["diabetes-ridge"]["metrics"]) == {"rmse", "mae", "r2"}
    assert {"cv_accuracy", "cv_accuracy_std"} <= set(doc["by_name"]["iris-logreg"]["metrics"])


def test_a_cache_hit_imports_no_training_library(trained):
    root, _ = trained
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "from engine.cli import main; main()", "train"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "nothing to train" in done.stdout
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    heavy = {"sklearn", "skops", "pandas", "numpy", "scipy", "pyarrow", "dvc"} & imported
    assert not heavy, f"a cached train imported {heavy}"


def test_force_retrains_to_the_same_version_and_metrics(trained, trained_copy):
    before = {r.model: r for r in store_of(trained_copy).versions()}
    code, doc = train_json("--force", "iris-logreg", "diabetes-ridge", cwd=trained_copy)
    assert code == 0
    assert sorted(doc["by_name"]) == ["diabetes-ridge", "iris-logreg"]
    for name, entry in doc["by_name"].items():
        assert entry["status"] == "trained"
        assert entry["fingerprint"] == before[name].fingerprint
        assert entry["metrics"] == before[name].metrics
    after = store_of(trained_copy).versions()
    assert sorted(r.model for r in after) == list(EXAMPLES)  # still one version each
    assert all(store_of(trained_copy).get(r.model, r.fingerprint) for r in after)


def test_a_forced_retraining_that_fails_keeps_the_stored_version(trained_copy):
    fp = head_fingerprints(trained_copy)["iris-logreg"]
    edit_yaml(trained_copy / "mlops/datasets/iris.yaml", "checks", "min_rows", value=1000)
    code, doc = train_json("--force", "iris-logreg", cwd=trained_copy)
    assert code == 1 and doc["by_name"]["iris-logreg"]["status"] == "failed"
    assert store_of(trained_copy).has("iris-logreg", fp)


def test_parallel_jobs_train_the_same_versions_as_sequential(trained, repo):
    code, doc = train_json("--jobs", "2", cwd=repo)
    assert code == 0 and sorted(doc["by_name"]) == list(EXAMPLES)
    sequential, parallel = store_of(trained[0]), store_of(repo)
    for name, entry in doc["by_name"].items():
        assert entry["status"] == "trained"
        fp = entry["fingerprint"]
        assert sequential.has(name, fp), f"{name}: another version in parallel"
        assert entry["metrics"] == sequential.get_record(name, fp).metrics
        assert parallel.get(name, fp).predictions().equals(sequential.get(name, fp).predictions())
    # Every training runs in a worker process of its own (its budget is per process),
    # sequentially or --jobs 2 at a time.
    assert len(set(processes(trained[0]).values())) == len(EXAMPLES)
    workers = set(processes(repo).values())
    assert len(workers) == len(EXAMPLES) and os.getpid() not in workers


# --- failures are data ---------------------------------------------------------------


def test_a_dataset_failing_its_checks_fails_only_its_model(repo):
    edit_yaml(repo / "mlops/datasets/iris.yaml", "checks", "min_rows", value=1000)
    done = mlops("train", cwd=repo)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    failed = [line for line in done.stdout.splitlines() if line.lstrip().startswith("failed")]
    assert len(failed) == 1 and "iris-logreg@" in failed[0]
    assert "mlops/datasets/iris.yaml" in failed[0] and "fails its checks" in failed[0]
    assert "1000" in failed[0]
    assert "3 trained, 0 already stored, 1 failed" in done.stdout

    code, doc = train_json(cwd=repo)
    assert code == 1 and doc["ok"] is False
    iris = doc["by_name"]["iris-logreg"]
    assert iris["status"] == "failed" and "1000" in iris["reason"] and iris["metrics"] == {}
    assert {m["status"] for n, m in doc["by_name"].items() if n != "iris-logreg"} == {"stored"}
    assert sorted(r.model for r in store_of(repo).versions()) == [
        "cancer-rf",
        "diabetes-ridge",
        "wine-knn",
    ]

    # A failure is not cached: once the data passes, the next run trains just that model.
    edit_yaml(repo / "mlops/datasets/iris.yaml", "checks", "min_rows", value=75)
    code, doc = train_json(cwd=repo)
    assert code == 0 and doc["by_name"]["iris-logreg"]["status"] == "trained"


def test_a_fit_that_raises_fails_only_its_model(repo):
    bad = yaml.safe_load((repo / "mlops/models/cancer-rf.yaml").read_text())
    # lbfgs can't do an elastic-net penalty: every value is valid alone, so only the fit
    # finds out (scikit-learn checks solver/penalty combinations inside fit).
    bad.update(
        name="cancer-logreg",
        features=None,
        gates={},
        estimator={
            "class": "sklearn.linear_model.LogisticRegression",
            "params": {"solver": "lbfgs", "l1_ratio": 0.5, "max_iter": 200},
        },
    )
    (repo / "mlops/models/cancer-logreg.yaml").write_text(yaml.safe_dump(bad, sort_keys=False))
    static = mlops("validate", "--no-data", cwd=repo)
    assert static.returncode == 0, static.stdout + static.stderr

    code, doc = train_json("cancer-logreg", "diabetes-ridge", cwd=repo)
    assert code == 1 and doc["ok"] is False
    bad_entry = doc["by_name"]["cancer-logreg"]
    assert bad_entry["status"] == "failed"
    assert bad_entry["reason"].startswith("training failed: ValueError: ")
    assert "lbfgs" in bad_entry["reason"] and "elasticnet" in bad_entry["reason"]
    assert doc["by_name"]["diabetes-ridge"]["status"] == "trained"
    assert [r.model for r in store_of(repo).versions()] == ["diabetes-ridge"]


def test_a_misspelled_search_parameter_fails_once_at_its_line_before_any_fit(repo):
    """Issue 11: a typo in a search space came back as scikit-learn's raw error, once the
    data was loaded and the search had started; now as ``mlops validate`` says it."""
    path = repo / "mlops/models/cancer-rf.yaml"
    edit_yaml(path, "search", value={"space": {"n_estimaters": [5, 10]}})
    code, doc = train_json("cancer-rf", cwd=repo)
    assert code == 1
    reason = doc["by_name"]["cancer-rf"]["reason"]
    assert re.fullmatch(
        r"mlops/models/cancer-rf\.yaml:\d+:\d+: error: sklearn\.ensemble\."
        r"RandomForestClassifier has no parameter 'n_estimaters': did you mean 'n_estimators'\?",
        reason,
    ), reason
    assert not (repo / ".mlops/store").exists() or not store_of(repo).versions()


def test_a_bare_class_name_gets_the_import_path_it_means(repo):
    path = repo / "mlops/models/cancer-rf.yaml"
    edit_yaml(path, "estimator", "class", value="RandomForestClassifier")
    code, doc = train_json("cancer-rf", cwd=repo)
    assert code == 1
    reason = doc["by_name"]["cancer-rf"]["reason"]
    assert reason.endswith(
        "'RandomForestClassifier' is not an import path: did you mean "
        "sklearn.ensemble.RandomForestClassifier?"
    ), reason
    planned = mlops("plan", "--base", "HEAD", cwd=repo)
    assert "did you mean sklearn.ensemble.RandomForestClassifier?" in planned.stdout


def test_unknown_models_are_refused_before_anything_trains(repo):
    done = mlops("train", "nosuch", "iris-logreg", cwd=repo)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "unknown model(s): nosuch" in done.stderr
    assert not (repo / ".mlops/store").exists() or not store_of(repo).versions()


def test_an_empty_selection_trains_nothing(repo):
    """``models=None`` means every model (``mlops train``); an empty list means none."""
    from engine import api

    assert api.train(repo, []).outcomes == []
    assert not (repo / ".mlops/store").exists()
    selected = api.train(repo, ["iris-logreg"])
    assert [o.model for o in selected.outcomes] == ["iris-logreg"]


# --- data tracked by DVC, and training an older revision -------------------------------


def write_points(path: Path, rows: int, seed: int) -> None:
    """A classification table from ``make_classification``: x0..x4 and a 0/1 label."""
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=rows, n_features=5, n_informative=3, random_state=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([*(f"x{i}" for i in range(5)), "label"])
        writer.writerows([*map(float, row), int(label)] for row, label in zip(x, y, strict=True))


POINTS_DATASET = {
    "name": "points",
    "source": {"path": "data/points.csv"},
    "target": "label",
    "schema": {
        "columns": {
            **{f"x{i}": {"type": "float"} for i in range(5)},
            "label": {"type": "int", "values": [0, 1]},
        }
    },
    "checks": {"min_rows": 100, "max_null_fraction": 0},
    "split": {"test_size": 0.25, "seed": 3, "stratify": True},
}
POINTS_MODEL = {
    "name": "points-logreg",
    "dataset": "points",
    "task": "classification",
    "estimator": {"class": "sklearn.linear_model.LogisticRegression", "params": {"C": 1.0}},
    "metrics": ["accuracy", "f1", "roc_auc"],
    "primary_metric": "accuracy",
}


def add_points(repo: Path, message: str) -> str:
    """DVC set up in ``repo``, 200 points tracked by it, the points dataset and its model,
    committed with ``message``; the commit's SHA."""
    dvc(repo, "init", "-q")
    dvc(repo, "config", "core.analytics", "false")
    write_points(repo / "data/points.csv", rows=200, seed=1)
    dvc(repo, "add", "-q", "data/points.csv")
    (repo / "mlops/datasets/points.yaml").write_text(yaml.safe_dump(POINTS_DATASET))
    (repo / "mlops/models/points-logreg.yaml").write_text(yaml.safe_dump(POINTS_MODEL))
    return commit(repo, message)


def pointer_md5(root: Path, rev: str) -> str:
    """The md5 that the DVC pointer of data/points.csv records at ``rev``."""
    pointer = yaml.safe_load(git(root, "show", f"{rev}:data/points.csv.dvc"))
    return str(pointer["outs"][0]["md5"])


def test_a_model_on_dvc_tracked_data_trains_at_head_and_at_an_older_revision(repo):
    old = add_points(repo, "Add the points data and model")

    write_points(repo / "data/points.csv", rows=300, seed=2)
    dvc(repo, "add", "-q", "data/points.csv")
    edit_yaml(repo / "mlops/models/points-logreg.yaml", "estimator", "params", "C", value=0.5)
    new = commit(repo, "More points, less regularization")
    assert pointer_md5(repo, old) != pointer_md5(repo, new)

    code, doc = train_json("points-logreg", cwd=repo)
    assert code == 0, doc
    head = doc["by_name"]["points-logreg"]
    record = store_of(repo).get_record("points-logreg", head["fingerprint"])
    assert record.rows_train + record.rows_test == 300 and record.params["C"] == 0.5
    assert pointer_md5(repo, new) in record.data_hash and record.commit == new

    # The working tree holds the new data; --rev trains the old definitions on the old data.
    code, doc = train_json("points-logreg", "--rev", "HEAD~1", cwd=repo)
    assert code == 0, doc
    past = doc["by_name"]["points-logreg"]
    assert past["status"] == "trained" and past["fingerprint"] != head["fingerprint"]
    record = store_of(repo).get_record("points-logreg", past["fingerprint"])
    assert record.rows_train + record.rows_test == 200 and record.params["C"] == 1.0
    assert pointer_md5(repo, old) in record.data_hash and record.commit == old
    planned = plan(None, snapshot(repo, old)).models
    assert {m.name: m.head_fingerprint for m in planned}["points-logreg"] == past["fingerprint"]

    code, doc = train_json("points-logreg", "--rev", old, cwd=repo)
    assert code == 0 and doc["by_name"]["points-logreg"]["status"] == "stored"


# --- the stored model ----------------------------------------------------------------


def test_a_stored_model_predicts_from_raw_columns(trained):
    from sklearn import datasets

    root, _ = trained
    store = store_of(root)
    for record in store.versions():
        frame = getattr(datasets, LOADERS[record.dataset])(as_frame=True).frame
        version = store.get(record.model, record.fingerprint)
        stored = version.predictions()
        raw = frame.drop(columns="target").loc[stored["row_id"]]  # raw columns, by row id
        model = store.load_model(record.model, record.fingerprint)
        predicted = model.predict(raw)
        if record.task == "regression":
            assert predicted == pytest.approx(stored["y_pred"].to_numpy())
            continue
        assert (predicted == stored["y_pred"].to_numpy()).all()
        proba = model.predict_proba(raw)
        for i, label in enumerate(record.classes):
            assert proba[:, i] == pytest.approx(stored[f"proba_{label}"].to_numpy())
        assert (stored["y_true"].to_numpy() == frame.loc[stored["row_id"], "target"]).all()


def test_a_version_records_its_search_cross_validation_and_lineage(trained):
    root, _ = trained
    store = store_of(root)
    versions = {r.model: store.get(r.model, r.fingerprint) for r in store.versions()}
    knn = versions["wine-knn"].record
    assert knn.search is not None and len(knn.search.candidates) == 4 * 2  # the whole grid
    assert knn.search.best.params.items() <= knn.params.items()
    assert "Hyper-parameter search" in versions["wine-knn"].card()
    iris = versions["iris-logreg"].record
    assert iris.metrics["cv_accuracy"] is not None and iris.metrics["cv_accuracy_std"] >= 0
    for version in versions.values():
        record = version.record
        assert len(version.predictions()) == record.rows_test > 0
        assert record.commit == git(root, "rev-parse", "HEAD")
        assert record.author == "Ada Lovelace <ada@example.com>"
        assert record.sklearn_version and record.fingerprint in version.card()
        assert f"version {record.version} " in version.log()


def test_progress_shows_on_a_terminal_and_never_in_json(repo):
    import pty

    for args, shown in ((), True), (("--json",), False):
        leader, follower = pty.openpty()
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
        with os.fdopen(leader, "rb") as terminal:
            done = subprocess.run(
                [str(MLOPS), "train", "--force", "diabetes-ridge", *args],
                cwd=repo,
                env=env,
                stdout=subprocess.PIPE,
                stderr=follower,
                timeout=120,
            )
            os.close(follower)
            seen = _drain(terminal)
        assert done.returncode == 0
        assert ("trained  diabetes-ridge@" in seen) is shown, seen


def _drain(terminal: Any) -> str:
    chunks = []
    try:
        while chunk := os.read(terminal.fileno(), 4096):
            chunks.append(chunk)
    except OSError:  # EIO: the writer closed its end
        pass
    return b"".join(chunks).decode(errors="replace")


def test_a_tampered_model_is_refused_on_load_while_train_reads_meta_only(trained_copy):
    store = store_of(trained_copy)
    record = store.get_record("iris-logreg", head_fingerprints(trained_copy)["iris-logreg"])
    path = store.get(record.model, record.fingerprint).dir / MODEL_FILE
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8] = bytes(b ^ 0xFF for b in data[middle : middle + 8])
    path.write_bytes(bytes(data))

    with pytest.raises(StoreError, match="does not match its recorded checksum"):
        store.load_model(record.model, record.fingerprint)

    # Whoever can also rewrite meta.json still gets no object built from the bytes.
    meta = path.parent / "meta.json"
    sealed = json.loads(meta.read_text())
    sealed["files"][MODEL_FILE] = __import__("hashlib").sha256(bytes(data)).hexdigest()
    meta.write_text(json.dumps(sealed))
    with pytest.raises(StoreError, match="iris-logreg@"):
        store.load_model(record.model, record.fingerprint)

    # mlops train trusts meta.json (the commit marker): the version still counts as stored.
    code, doc = train_json("iris-logreg", cwd=trained_copy)
    assert code == 0 and doc["by_name"]["iris-logreg"]["status"] == "stored"


# --- experiment tracking -------------------------------------------------------------


def test_runs_lists_sorts_and_exports_the_stored_versions(trained):
    root, _ = trained
    fps = head_fingerprints(root)
    text = mlops("runs", cwd=root)
    assert text.returncode == 0, text.stderr
    header, *rows = text.stdout.splitlines()
    assert header.split()[:3] == ["model", "version", "created"]
    # every model's headline metrics, though they differ by task (issue 11)
    assert {"accuracy", "f1", "f1_macro", "roc_auc", "rmse", "r2"} <= set(header.split())
    assert sorted(r.split()[0] for r in rows) == list(EXAMPLES)
    assert {r.split()[1] for r in rows} == {fp[:12] for fp in fps.values()}

    by_accuracy = json.loads(mlops("runs", "--sort", "accuracy", "--json", cwd=root).stdout)
    accuracies = [r["accuracy"] for r in by_accuracy]
    ranked = [a for a in accuracies if a is not None]
    assert ranked == sorted(ranked, reverse=True) and len(ranked) == 3
    assert by_accuracy[-1]["model"] == "diabetes-ridge" and accuracies[-1] is None
    by_rmse = json.loads(mlops("runs", "--sort", "rmse", "--json", cwd=root).stdout)
    assert by_rmse[0]["model"] == "diabetes-ridge"  # lower is better: the one rmse first
    first = by_accuracy[0]
    assert first["fingerprint"] == fps[first["model"]] and first["data_hash"].startswith("sklearn:")
    assert first["commit"] == git(root, "rev-parse", "HEAD")

    exported = mlops("runs", "--csv", cwd=root).stdout
    table = list(csv.DictReader(io.StringIO(exported)))
    assert sorted(r["model"] for r in table) == list(EXAMPLES)
    ridge = next(r for r in table if r["model"] == "diabetes-ridge")
    assert ridge["params.alpha"] == "1.0" and float(ridge["r2"]) > 0.3 and ridge["accuracy"] == ""

    one = json.loads(mlops("runs", "iris-logreg", "--json", cwd=root).stdout)
    assert [r["model"] for r in one] == ["iris-logreg"] and one[0]["params.max_iter"] == 500
    unknown = mlops("runs", "nosuch", cwd=root)
    assert unknown.returncode == 1 and "unknown model 'nosuch'" in unknown.stderr
    typo = mlops("runs", "iris-logrg", cwd=root)
    assert "unknown model 'iris-logrg' (did you mean 'iris-logreg'?)" in typo.stderr


def test_runs_sorted_by_an_unknown_column_says_which_columns_exist(trained):
    done = mlops("runs", "--sort", "bogus", cwd=trained[0])
    assert done.returncode in (1, 2) and "unexpected error" not in done.stderr
    assert "accuracy" in done.stderr
