"""A ``date`` column profiled at training and monitored as dates, through the real CLI.

The orders of the first half of 2024 train a model, promoted to staging; the same orders
dated in the second half are a batch in which only time moved: the date column is reported
shifted with both ranges (information), nothing drifts and the verdict stays ok. A batch
with dates that are not dates gets a data-quality error naming the column and row.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.conftest import PROJECT, commit, dvc, git, init_repo, write_csv
from tests.func.serving import mlops

pytestmark = pytest.mark.slow

SCHEMA = json.loads((PROJECT / "schemas" / "monitor-report.schema.json").read_text())
DATASET = {
    "name": "orders",
    "source": {"path": "data/orders.csv"},
    "target": "returned",
    "schema": {
        "columns": {
            "amount": {"type": "float", "min": 0},
            "channel": {"type": "int", "values": [0, 1, 2]},
            "when": {"type": "date"},
            "returned": {"type": "int", "values": [0, 1]},
        }
    },
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
ROWS = 400
H1, H2 = datetime.date(2024, 1, 1), datetime.date(2024, 7, 1)


def orders(start: datetime.date, *, target: bool = True) -> list[dict[str, object]]:
    """The same 400 orders, dated evenly over the half year from ``start``."""
    out = []
    for n in range(ROWS):
        amount = float((n * 37) % 200)
        channel = n % 3
        row: dict[str, object] = {
            "amount": amount,
            "channel": channel,
            "when": (start + datetime.timedelta(days=n * 181 // ROWS)).isoformat(),
        }
        if target:
            row["returned"] = int(amount > 120 or channel == 2)
        out.append(row)
    return out


@pytest.fixture(scope="module")
def deployed(tmp_path_factory) -> Path:
    """The returns model trained on 2024-H1 orders and promoted to staging."""
    root = init_repo(tmp_path_factory.mktemp("date-monitoring") / "repo", examples=False)
    (root / "mlops/datasets").mkdir(parents=True)
    (root / "mlops/models").mkdir()
    (root / "mlops/project.yaml").write_text(
        "store: {url: .mlops/store}\nenvironments:\n  staging: {branch: env/staging}\n"
    )
    (root / "mlops/datasets/orders.yaml").write_text(yaml.safe_dump(DATASET, sort_keys=False))
    (root / "mlops/models/returns.yaml").write_text(yaml.safe_dump(MODEL, sort_keys=False))
    dvc(root, "init", "-q")
    dvc(root, "config", "core.analytics", "false")
    write_csv(root / "data/orders.csv", orders(H1))
    dvc(root, "add", "-q", "data/orders.csv")
    commit(root, "Orders of 2024-H1")
    git(root, "push", "-q", "origin", "main")  # promotion reads the default branch there
    for args in (("train",), ("promote", "returns", "--to", "staging")):
        done = mlops(*args, cwd=root)
        assert done.returncode == 0, done.stdout + done.stderr
    return root


def monitor(repo: Path, batch: Path, *args: str):
    done = mlops("monitor", "returns", "--env", "staging", "--current", str(batch), *args, cwd=repo)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
    return done


def report(repo: Path, batch: Path) -> dict:
    data = json.loads(monitor(repo, batch, "--json").stdout)
    jsonschema.validate(data, SCHEMA)
    (model,) = data["models"]
    return model


def test_the_stored_profile_holds_the_dates_as_dates(deployed):
    (stored,) = (deployed / ".mlops/store").rglob("profile.json")
    profiles = {c["name"]: c for c in json.loads(stored.read_text())["profiles"]}
    when = profiles["when"]
    assert (when["dtype"], when["earliest"], when["latest"]) == ("date", "2024-01-01", "2024-06-29")
    assert when["top"] == [] and when["histogram"][0][0] == "2024-01"
    assert len(when["histogram"]) == 6 and sum(n for _, n in when["histogram"]) == ROWS


def test_dates_half_a_year_later_are_shifted_information_and_nothing_drifts(deployed, tmp_path):
    batch = write_csv(tmp_path / "h2.csv", orders(H2, target=False))
    model = report(deployed, batch)
    assert model["status"] == "ok", model
    assert not [f["name"] for f in model["data"]["features"] if f["drifted"]]
    assert {f["name"] for f in model["data"]["features"]} == {"amount", "channel"}
    (when,) = model["data"]["dates"]
    assert when["kind"] == "date" and when["drifted"] and when["method"] == "ks"
    # the reference is the training split's sample, so its range is within 2024-H1
    assert when["reference_range"][0] >= "2024-01-01"
    assert when["reference_range"][1] <= "2024-06-29"
    assert when["current_range"] == ["2024-07-01", "2024-12-28"]
    quality = [(q["column"], q["check"], q["severity"]) for q in model["quality"]]
    assert quality == [("when", "newer-dates", "info")]
    text = monitor(deployed, batch).stdout
    assert "no drift" in text.splitlines()[0] and "0 of 2 features drifted" in text
    assert "…2024-06-" in text and "| 2024-07-01…2024-12-28 |" in text


def test_dates_that_are_not_dates_are_quality_errors_located_by_column(deployed, tmp_path):
    rows = orders(H1, target=False)
    rows[9]["when"] = "2024-02-30"
    rows[20]["when"] = "soon"
    model = report(deployed, write_csv(tmp_path / "bad.csv", rows))
    assert model["status"] == "quality"
    (finding,) = [q for q in model["quality"] if q["check"] == "not-a-date"]
    assert (finding["column"], finding["severity"]) == ("when", "error")
    assert finding["message"].startswith("2 value(s) are not dates (first at row 10)")
    assert "soon" not in json.dumps(model["quality"])
    assert not [f for f in model["data"]["features"] if f["drifted"]]
