"""Training budgets (issue 10): a valid definition cannot hold a job for hours or gigabytes.

Each training runs in a worker process of its own; over its time budget it is killed,
over its memory budget its allocations fail, and either way that model fails with a
message saying which budget and where to change it, the others train, and nothing of it
is stored.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.func.test_train import edit_yaml, mlops, store_of, train_json

pytestmark = pytest.mark.slow

MODEL = "mlops/models/cancer-rf.yaml"


def test_a_large_forest_over_a_one_second_budget_fails_fast(repo: Path) -> None:
    edit_yaml(repo / MODEL, "estimator", "params", "n_estimators", value=10_000)
    edit_yaml(repo / MODEL, "budget", value={"seconds": 1})
    code, doc = train_json("cancer-rf", "iris-logreg", cwd=repo)
    assert code == 1
    forest, other = doc["by_name"]["cancer-rf"], doc["by_name"]["iris-logreg"]
    assert forest["status"] == "failed" and other["status"] == "trained"
    assert "took longer than its budget of 1s and was stopped" in forest["reason"]
    assert "nothing was stored" in forest["reason"]
    assert forest["seconds"] < 10  # killed at its deadline, not left to finish
    assert [r.model for r in store_of(repo).versions()] == ["iris-logreg"]


def test_a_model_cannot_raise_its_budget_above_the_project_files(repo: Path) -> None:
    edit_yaml(repo / "mlops/project.yaml", "budget", value={"seconds": 1})
    edit_yaml(repo / MODEL, "estimator", "params", "n_estimators", value=10_000)
    edit_yaml(repo / MODEL, "budget", value={"seconds": 86400})
    code, doc = train_json("cancer-rf", cwd=repo)
    assert code == 1 and "budget of 1s" in doc["by_name"]["cancer-rf"]["reason"]


def test_a_training_over_its_memory_budget_fails_with_the_message(repo: Path) -> None:
    # Two 4,000-unit hidden layers: a 128 MB weight matrix, plus its optimizer state,
    # over a 256 MB budget. The allocation fails; nothing near the machine's memory is used.
    params = {"hidden_layer_sizes": [4000, 4000], "max_iter": 5, "random_state": 0}
    mlp = {"class": "sklearn.neural_network.MLPClassifier", "params": params}
    edit_yaml(repo / MODEL, "estimator", value=mlp)
    edit_yaml(repo / MODEL, "budget", value={"memory_mb": 256})
    code, doc = train_json("cancer-rf", cwd=repo)
    assert code == 1
    reason = doc["by_name"]["cancer-rf"]["reason"]
    assert "needed more memory than its budget of 256 MB" in reason, reason
    assert store_of(repo).versions() == []


def test_absurd_sizes_are_refused_at_validation(repo: Path) -> None:
    edit_yaml(repo / MODEL, "estimator", "params", "n_estimators", value=1_000_000_000)
    done = mlops("validate", cwd=repo)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    out = done.stdout + done.stderr
    assert (
        "cancer-rf.yaml" in out and "n_estimators=1000000000 is more than the engine allows" in out
    )
