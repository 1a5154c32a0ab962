"""``mlops diff`` end to end: changed, new and removed models, gates, and a data change
that makes the base be scored again on the head's test rows (real DVC)."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import commit, dvc, git
from tests.func.test_train import POINTS_DATASET, POINTS_MODEL, add_points, write_points

pytestmark = pytest.mark.slow


def test_a_change_is_reviewed_against_the_base_with_gates(repo, mlops):
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "switch", "-q", "-c", "change")
    model = repo / "mlops/models/iris-logreg.yaml"
    model.write_text(model.read_text().replace("C: 1.0", "C: 0.05"))
    (repo / "mlops/models/diabetes-ridge.yaml").unlink()
    lasso = yaml.safe_load((repo / "mlops/models/iris-logreg.yaml").read_text())
    lasso["name"] = "iris-tree"
    lasso["estimator"] = {
        "class": "sklearn.tree.DecisionTreeClassifier",
        "params": {"max_depth": 3, "random_state": 0},
    }
    lasso.pop("cv")
    (repo / "mlops/models/iris-tree.yaml").write_text(yaml.safe_dump(lasso))
    commit(repo, "Regularize iris-logreg, add iris-tree, drop diabetes-ridge")

    result = mlops("diff", "--base", base, "--json", cwd=repo)
    assert result.returncode == 1, result.stderr  # iris-logreg drops more than its 2%
    doc = json.loads(result.stdout)
    by_model = {m["model"]: m for m in doc["models"]}
    assert by_model["iris-logreg"]["verdict"] == "fail"
    assert by_model["iris-tree"]["status"] == "new"
    assert by_model["diabetes-ridge"]["status"] == "removed"
    assert "cancer-rf" not in by_model  # unchanged models are not reviewed
    report = (repo / ".mlops/outbox/report.md").read_text()
    assert "iris-logreg" in report and "95% CI" in report and "xychart-beta" in report


def test_changed_data_is_compared_on_the_same_rows(repo, mlops):
    base = add_points(repo, "Add the points data and model")
    write_points(repo / "data/points.csv", rows=300, seed=2)
    dvc(repo, "add", "-q", "data/points.csv")
    commit(repo, "More points")

    result = mlops("diff", "points-logreg", "--base", base, "--head", "HEAD", cwd=repo)
    assert "Traceback" not in result.stderr
    assert "was scored again" in result.stdout
    assert "200 rows" in result.stdout and "300 rows" in result.stdout


TREE_MODEL = {
    **POINTS_MODEL,
    "name": "points-tree",
    # unpruned: it memorises its training rows, so any of them in a test set flatters it
    "estimator": {"class": "sklearn.tree.DecisionTreeClassifier", "params": {"random_state": 0}},
    "metrics": ["accuracy"],
}


def stored(repo, fingerprint_prefix):
    from engine.store import ROWS_FILE, Store, load_rows

    store = Store.open(".mlops/store", repo)
    version = store.get("points-tree", store.resolve("points-tree", fingerprint_prefix))
    return store, version, load_rows(version.path(ROWS_FILE))


def accuracy_on(repo, version, store, rows):
    import numpy as np
    import pandas as pd

    model = store.load_model("points-tree", version.record.fingerprint)
    data = pd.read_csv(repo / "data/points.csv").iloc[rows]
    return float(np.mean(model.predict(data.drop(columns="label")) == data["label"]))


def test_a_memorising_base_is_never_scored_on_rows_it_trained_on(repo, mlops):
    """Issue 11: rows appended to the data reshuffled the split, so the base was rescored
    on head test rows it had trained on and looked better than it is."""
    import numpy as np

    dvc(repo, "init", "-q")
    dvc(repo, "config", "core.analytics", "false")
    write_points(repo / "data/points.csv", rows=300, seed=1)
    lines = (repo / "data/points.csv").read_text().splitlines(keepends=True)
    (repo / "data/points.csv").write_text("".join(lines[:201]))  # the header and 200 rows
    dvc(repo, "add", "-q", "data/points.csv")
    dataset = {**POINTS_DATASET, "split": {"test_size": 0.25, "seed": 3, "stratify": False}}
    (repo / "mlops/datasets/points.yaml").write_text(yaml.safe_dump(dataset))
    (repo / "mlops/models/points-tree.yaml").write_text(yaml.safe_dump(TREE_MODEL))
    base = commit(repo, "Add the points data and a tree")
    (repo / "data/points.csv").write_text("".join(lines))  # the same 200 rows, then 100 more
    dvc(repo, "add", "-q", "data/points.csv")
    appended = commit(repo, "Append 100 points")

    def review(head):
        done = mlops("diff", "points-tree", "--base", base, "--head", head, "--json", cwd=repo)
        assert "Traceback" not in done.stderr, done.stderr
        doc = json.loads(done.stdout)["models"][0]
        report = (repo / ".mlops/outbox/report.md").read_text()
        accuracy = next(m for m in doc["metrics"] if m["metric"] == "accuracy")
        return doc, accuracy, report

    # Appended rows: every old row keeps its side, so no head test row is a base training row.
    doc, accuracy, report = review(appended)
    store, base_version, (base_rows, base_test) = stored(repo, doc["base_version"])
    _, head_version, (head_rows, head_test) = stored(repo, doc["head_version"])
    assert (base_rows == head_rows[:200]).all() and (base_test == head_test[:200]).all()
    trained = set(base_rows[~base_test].tolist())
    assert not trained & set(head_rows[head_test].tolist())
    head_test_rows = np.flatnonzero(head_test)
    assert accuracy["base"] == accuracy_on(repo, base_version, store, head_test_rows)
    assert accuracy_on(repo, base_version, store, np.flatnonzero(~base_test)) == 1.0
    assert accuracy["base"] < 1.0
    assert "none of which it trained on" in report and "paired and fair" in report

    # A larger test share moves some of the base's training rows into the head's test
    # set: those are left out, and the head is compared on the same remaining rows.
    dataset["split"]["test_size"] = 0.4
    (repo / "mlops/datasets/points.yaml").write_text(yaml.safe_dump(dataset))
    larger = commit(repo, "Hold out 40%")
    doc, accuracy, report = review(larger)
    _, head_version, (head_rows, head_test) = stored(repo, doc["head_version"])
    tested = np.flatnonzero(head_test)
    leaked = np.isin(head_rows[tested], list(trained))
    assert 0 < leaked.sum() < len(tested)
    fresh = tested[~leaked]
    assert accuracy["base"] == accuracy_on(repo, base_version, store, fresh)
    assert accuracy["head"] == accuracy_on(repo, head_version, store, fresh)
    assert accuracy_on(repo, base_version, store, tested[leaked]) == 1.0  # what leaked in
    assert f"({leaked.sum()} it trained on are left out)" in report
    assert f"Paired comparison on {len(fresh)} test rows" in report
    assert "paired and fair" in report

    # A version from an engine that did not record its rows: the overlap can't be
    # excluded, and the report says so instead of calling the comparison fair.
    meta = base_version.dir / "meta.json"
    record = json.loads(meta.read_text())
    del record["rows"], record["files"]["rows.parquet"]
    meta.write_text(json.dumps(record))
    (base_version.dir / "rows.parquet").unlink()
    doc, accuracy, report = review(appended)
    assert "before the engine recorded training rows" in report
    assert "paired and fair" not in report and "the comparison is not fair" in report


def test_a_feature_set_change_and_vs_an_environment(repo, mlops):
    """Issue 11: a feature-set change showed "Parameters: unchanged"; `--vs staging` said
    "1 model changed" and "nothing changed" at once, and without MODEL "no model changed"
    though staging ran another version; a clean committed tree was called "working tree"."""
    assert mlops("train", "cancer-rf", cwd=repo).returncode == 0
    promoted = mlops("promote", "cancer-rf", "--to", "staging", cwd=repo)
    assert promoted.returncode == 0, promoted.stderr
    base = git(repo, "rev-parse", "HEAD")
    features = repo / "mlops/features/standardized.yaml"
    features.write_text(features.read_text().replace(', "mean smoothness"]', "]"))
    head = commit(repo, "Leave mean smoothness unscaled")
    git(repo, "push", "-q", "origin", "main")  # head is now the base of its own branch

    planned = mlops("plan", "--base", base, cwd=repo)
    assert (
        '["mean radius", "mean texture", "mean perimeter", "mean area", "mean smoothness"] → '
        '["mean radius", "mean texture", "mean perimeter", "mean area"]' in planned.stdout
    )

    reviewed = mlops("diff", "--base", base, cwd=repo)
    assert "Traceback" not in reviewed.stderr, reviewed.stderr
    assert f"Base `{base[:7]}` → head `{head[:7]}`." in reviewed.stdout  # not "working tree"
    assert "**What changed**" in reviewed.stdout
    assert "- `mlops/features/standardized.yaml`: transforms.0.columns [" in reviewed.stdout
    assert "Parameters: unchanged" not in reviewed.stdout

    for args in (["cancer-rf"], []):
        done = mlops("diff", *args, "--vs", "staging", cwd=repo)
        assert "Traceback" not in done.stderr, done.stderr
        report = done.stdout
        assert f"Head `{head[:7]}` against what `staging` runs." in report
        assert "**1 model differs from staging**" in report
        assert "nothing changed" not in report and "no model changed" not in report
        assert "| Metric | staging | Head |" in report
        # what moved head's version away from staging's, since the pin's source commit
        assert "- `mlops/features/standardized.yaml`: transforms.0.columns [" in report
        assert "Estimator parameters: unchanged" not in report
        doc = json.loads(mlops("diff", *args, "--vs", "staging", "--json", cwd=repo).stdout)
        assert [(m["model"], m["reference"], m["status"]) for m in doc["models"]] == [
            ("cancer-rf", "staging", "changed")
        ]

    # what staging runs, compared with itself, is "nothing to change", never "1 changed"
    git(repo, "checkout", "-q", base)
    same = mlops("diff", "cancer-rf", "--vs", "staging", "--base", base, cwd=repo).stdout
    assert (
        "already runs head's version" in same
        and "**0 models differ from staging** · 1 unchanged" in same
    )
    nothing = mlops("diff", "--vs", "staging", "--base", base, cwd=repo).stdout
    assert "no model differs from staging" in nothing


def write_dated_points(path, rows, seed):
    """The points table with an id and a date column in front."""
    write_points(path, rows=rows, seed=seed)
    lines = path.read_text().splitlines()
    out = ["id,day," + lines[0]]
    out += [
        f"p{i:05d},2024-{1 + i % 12:02d}-{1 + i % 28:02d},{line}"
        for i, line in enumerate(lines[1:])
    ]
    path.write_text("\n".join(out) + "\n")


def test_ids_and_dates_get_no_shift_row_and_the_chart_agrees_with_the_table(repo, mlops):
    """Issue 11: an id column (and a date column) got a useless data-shift row; the chart
    plotted the base's stored figure while the table showed it scored again."""
    dvc(repo, "init", "-q")
    dvc(repo, "config", "core.analytics", "false")
    write_dated_points(repo / "data/points.csv", rows=200, seed=1)
    dvc(repo, "add", "-q", "data/points.csv")
    columns = {"id": {"type": "string"}, "day": {"type": "string"}}
    dataset = {**POINTS_DATASET, "id_column": "id"}
    dataset["schema"] = {"columns": {**columns, **POINTS_DATASET["schema"]["columns"]}}
    model = {
        **POINTS_MODEL,
        "features": {
            "transforms": [
                {
                    "columns": [f"x{i}" for i in range(5)],
                    "steps": [{"class": "sklearn.preprocessing.StandardScaler"}],
                }
            ],
            "remainder": "drop",
        },
    }
    (repo / "mlops/datasets/points.yaml").write_text(yaml.safe_dump(dataset))
    (repo / "mlops/models/points-logreg.yaml").write_text(yaml.safe_dump(model))
    base = commit(repo, "Add dated points with ids")
    write_dated_points(repo / "data/points.csv", rows=300, seed=2)
    dvc(repo, "add", "-q", "data/points.csv")
    commit(repo, "Other points")

    done = mlops("diff", "points-logreg", "--base", base, "--head", "HEAD", cwd=repo)
    assert "Traceback" not in done.stderr, done.stderr
    report = done.stdout
    assert "was scored again" in report and "| `x0` |" in report
    assert "| `id` |" not in report and "| `day` |" not in report
    table = next(x for x in report.splitlines() if x.startswith("| accuracy ↑ |"))
    base_value, head_value = (float(v) for v in table.split("|")[2:4])
    chart = next(x for x in report.splitlines() if x.strip().startswith("line ["))
    plotted = [float(v) for v in chart.strip()[len("line [") : -1].split(", ")]
    assert plotted[-2:] == pytest.approx([base_value, head_value], abs=5e-4)


def pin_file(repo, model):
    return f"mlops/deployments/{model}.yaml"


def test_vs_an_environment_whose_version_the_store_lacks(iris_staged, mlops):
    """Issue 11: in a fresh clone or CI's empty store, `--vs staging` said "nothing of this
    model runs in staging". The pinned version is reproduced as `mlops deploy` does, and
    the report says so with the time it took; when it cannot be, it says why and the
    model is not comparable."""
    import shutil

    repo = iris_staged  # iris-logreg trained on main and promoted to staging
    source = git(repo, "rev-parse", "HEAD")
    model = repo / "mlops/models/iris-logreg.yaml"
    model.write_text(model.read_text().replace("C: 1.0", "C: 0.8"))
    commit(repo, "Regularize iris-logreg a little more")
    shutil.rmtree(repo / ".mlops/store")

    done = mlops("diff", "iris-logreg", "--vs", "staging", "--vs", "production", cwd=repo)
    assert "Traceback" not in done.stderr, done.stderr
    report = done.stdout
    assert "Nothing of this model runs" not in report and "🆕" not in report
    assert (
        "which `staging` runs, was not in this store: it was retrained at its source commit "
        f"`{source[:7]}` in "
    ) in report
    assert "reproduced the metrics recorded when it was promoted" in report
    (entry,) = json.loads(
        mlops("diff", "iris-logreg", "--vs", "staging", "--json", cwd=repo).stdout
    )["models"]
    assert entry["reproduced"] == [] and entry["not_in_store"] == {}  # stored now: no retraining
    assert "| Metric | staging | Head |" in report and "Paired comparison on 36 test rows" in report
    assert "- `mlops/models/iris-logreg.yaml`: estimator.params.C 1.0 → 0.8" in report
    # several environments: which one is the reference, and where the others are
    assert "Also against what `production` runs, in each model's details." in report
    assert "· 1 differs from production ·" in report
    assert "**Against production**: nothing is deployed in production." in report

    # A pin its source commit cannot make again (here its fingerprint is not the one that
    # commit gives, as after a change of scikit-learn): not comparable, and why.
    shutil.rmtree(repo / ".mlops/store")
    git(repo, "switch", "-q", "env/staging")
    pinned = repo / pin_file(repo, "iris-logreg")
    text = pinned.read_text()
    fingerprint = yaml.safe_load(text)["fingerprint"]
    pinned.write_text(text.replace(fingerprint, "ab" * 32))
    commit(repo, "A pin from another toolchain")
    git(repo, "push", "-q", "origin", "env/staging")
    git(repo, "switch", "-q", "main")
    done = mlops("diff", "iris-logreg", "--vs", "staging", "--json", cwd=repo)
    assert "Traceback" not in done.stderr, done.stderr
    (entry,) = json.loads(done.stdout)["models"]
    assert (entry["status"], entry["verdict"]) == ("changed", "not comparable")
    assert entry["not_in_store"]["staging"]["version"] == entry["base_version"]
    assert "gives version" in entry["not_in_store"]["staging"]["reason"]
    report = (repo / ".mlops/outbox/report.md").read_text()
    assert "which is not in this store and could not be reproduced" in report
    assert f"retraining it at its source commit {source[:7]} gives version" in report
    assert "mlops deploy --env staging" in report and "💬 informational" in report
    assert "Nothing of this model runs" not in report

    # A report cut to a comment's limit points to the job summary, which gets it whole.
    from engine.review.pipeline import review

    cut = review(repo, base="main", vs=["staging"], models=["iris-logreg"], limit=1500)
    assert "✂️" in cut.markdown and "job summary" in cut.markdown
    assert "✂️" not in cut.full_markdown and "</details>" in cut.full_markdown


# What a review of versions both in the store never needs: PyYAML (the parse cache has
# every file, and DVC pointers in the form `dvc add` writes are read line by line),
# pydantic (the formats are not needed, and store records are plain checked values), the
# format classes (the plan's and the report's facts are the definitions' remembered
# dumps), the pin format (nothing is promoted), scikit-learn, and the metadata reader
# (scikit-learn's version is remembered in the parse cache).
NOT_ON_A_STORED_DIFF = (
    "yaml",
    "pydantic",
    "engine.definitions.formats",
    "engine.environments.pins",
    "sklearn",
    "importlib.metadata",
)
WARM_DIFF = """
import json, sys
from engine.cli import main
sys.argv = ["mlops", "diff", "--base", sys.argv[1], "--head", "HEAD", "--json"]
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(m for m in json.loads(sys.argv[-1]) if m in sys.modules)), file=sys.stderr)
"""


def warm_diff_imports(repo, base):
    """The report of a second ``mlops diff --json`` from ``base``, and which of
    NOT_ON_A_STORED_DIFF it imported."""
    import subprocess
    import sys

    code = WARM_DIFF.replace("sys.argv[-1]", repr(json.dumps(NOT_ON_A_STORED_DIFF)))
    # twice: scikit-learn's version is remembered per sys.path, and `python -c` puts the
    # working directory first on it where `mlops` has its own folder
    for _ in range(2):
        warm = subprocess.run(
            [sys.executable, "-c", code, base], cwd=repo, capture_output=True, text=True
        )
    return warm.stdout, json.loads(warm.stderr.strip().splitlines()[-1])


def test_a_diff_of_stored_versions_imports_neither_yaml_nor_the_formats(repo, mlops):
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "switch", "-q", "-c", "change")
    model = repo / "mlops/models/iris-logreg.yaml"
    model.write_text(model.read_text().replace("C: 1.0", "C: 0.5"))
    commit(repo, "Regularize iris-logreg a little")
    cold = mlops("diff", "--base", base, "--head", "HEAD", "--json", cwd=repo)  # trains both
    assert '"iris-logreg"' in cold.stdout, cold.stderr

    report, imported = warm_diff_imports(repo, base)
    assert imported == []
    assert report == cold.stdout  # the same report from the remembered facts


def test_a_diff_of_stored_versions_on_dvc_data_imports_no_yaml_either(repo, mlops):
    """The data's content hash is in its pointer, read without PyYAML."""
    base = add_points(repo, "Add the points data and model")
    changed = {**POINTS_MODEL, "estimator": {**POINTS_MODEL["estimator"], "params": {"C": 0.5}}}
    (repo / "mlops/models/points-logreg.yaml").write_text(yaml.safe_dump(changed))
    commit(repo, "Regularize points-logreg")
    cold = mlops("diff", "--base", base, "--head", "HEAD", "--json", cwd=repo)
    assert '"points-logreg"' in cold.stdout, cold.stderr

    report, imported = warm_diff_imports(repo, base)
    assert imported == []
    assert report == cold.stdout
