"""A ``date`` column: checked row by row (located in the CSV), never a model input.

The repository holds a CSV with an order date beside the numbers derived from it (month,
day of the week), tracked by real DVC; a model trains on it through the real CLI.
"""

from __future__ import annotations

import csv
import datetime
import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import commit, dvc, init_repo
from tests.func.serving import mlops

pytestmark = pytest.mark.slow

DATASET = {
    "name": "orders",
    "source": {"path": "data/orders.csv"},
    "target": "returned",
    "schema": {
        "columns": {
            "amount": {"type": "float", "min": 0},
            "when": {"type": "date"},
            "month": {"type": "int", "min": 1, "max": 12},
            "weekday": {"type": "int", "min": 0, "max": 6},
            "returned": {"type": "int", "values": [0, 1]},
        }
    },
    "checks": {"min_rows": 100},
    "split": {"test_size": 0.25, "seed": 3, "stratify": True},
}
MODEL = {
    "name": "returns",
    "dataset": "orders",
    "task": "classification",
    "estimator": {"class": "sklearn.linear_model.LogisticRegression", "params": {"C": 1.0}},
    "metrics": ["accuracy"],
    "primary_metric": "accuracy",
}


def write_orders(path: Path, bad_row: int | None = None) -> None:
    """240 orders over 2024; returns are likelier on weekends and for large amounts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    start = datetime.date(2024, 1, 1)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["amount", "when", "month", "weekday", "returned"])
        for n in range(240):
            day = start + datetime.timedelta(days=(n * 7) % 366)
            amount = float((n * 37) % 200)
            returned = int(day.weekday() >= 5 or amount > 150)
            when = "2024-13-01" if n + 1 == bad_row else day.isoformat()
            writer.writerow([amount, when, day.month, day.weekday(), returned])


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    root = init_repo(tmp_path_factory.mktemp("dates") / "repo", examples=False)
    (root / "mlops/datasets").mkdir(parents=True)
    (root / "mlops/models").mkdir()
    (root / "mlops/project.yaml").write_text("store: {url: .mlops/store}\n")
    (root / "mlops/datasets/orders.yaml").write_text(yaml.safe_dump(DATASET, sort_keys=False))
    (root / "mlops/models/returns.yaml").write_text(yaml.safe_dump(MODEL, sort_keys=False))
    dvc(root, "init", "-q")
    dvc(root, "config", "core.analytics", "false")
    write_orders(root / "data/orders.csv")
    dvc(root, "add", "-q", "data/orders.csv")
    commit(root, "Orders with their dates")
    return root


def test_a_model_trains_on_a_dataset_with_a_date_column(repo):
    done = mlops("train", "--json", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    (outcome,) = json.loads(done.stdout)["models"]
    assert outcome["status"] == "trained", outcome
    assert outcome["metrics"]["accuracy"] > 0.7  # weekday and amount explain the returns


def test_a_bad_date_is_located_in_the_csv(repo):
    write_orders(repo / "data/orders.csv", bad_row=12)
    dvc(repo, "add", "-q", "data/orders.csv")
    try:
        done = mlops("validate", cwd=repo)
    finally:
        write_orders(repo / "data/orders.csv")
        dvc(repo, "add", "-q", "data/orders.csv")
    assert done.returncode == 1
    # row 12 is line 13 (after the header); `when`, the second field, starts at character 5
    assert (
        "data/orders.csv:13:5: error: column 'when' is not an ISO-8601 date (such as "
        "2024-05-31) (mlops/datasets/orders.yaml:11)"
    ) in done.stdout
    assert "2024-13-01" not in done.stdout  # findings never quote the data


def test_a_feature_set_naming_a_date_is_refused(repo):
    features = repo / "mlops/features/by-date.yaml"
    features.parent.mkdir(exist_ok=True)
    features.write_text(yaml.safe_dump({"name": "by-date", "columns": ["amount", "when"]}))
    model = repo / "mlops/models/returns.yaml"
    model.write_text(yaml.safe_dump({**MODEL, "features": "by-date"}, sort_keys=False))
    try:
        done = mlops("validate", "--no-data", cwd=repo)
    finally:
        features.unlink()
        model.write_text(yaml.safe_dump(MODEL, sort_keys=False))
    assert done.returncode == 1
    assert "'when' of 'orders' is a date, which is not a model input" in done.stdout
