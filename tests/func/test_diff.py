"""``mlops diff`` end to end: changed, new and removed models, gates, and a data change
that makes the base be scored again on the head's test rows (real DVC)."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import commit, dvc, git
from tests.func.test_train import POINTS_DATASET, POINTS_MODEL, write_points

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
    dvc(repo, "init", "-q")
    dvc(repo, "config", "core.analytics", "false")
    write_points(repo / "data/points.csv", rows=200, seed=1)
    dvc(repo, "add", "-q", "data/points.csv")
    (repo / "mlops/datasets/points.yaml").write_text(yaml.safe_dump(POINTS_DATASET))
    (repo / "mlops/models/points-logreg.yaml").write_text(yaml.safe_dump(POINTS_MODEL))
    base = commit(repo, "Add the points data and model")
    write_points(repo / "data/points.csv", rows=300, seed=2)
    dvc(repo, "add", "-q", "data/points.csv")
    commit(repo, "More points")

    result = mlops("diff", "points-logreg", "--base", base, "--head", "HEAD", cwd=repo)
    assert "Traceback" not in result.stderr
    assert "was scored again" in result.stdout
    assert "200 rows" in result.stdout and "300 rows" in result.stdout
