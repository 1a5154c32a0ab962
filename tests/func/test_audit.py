"""The engine's one structured log, end to end: a real repository, the real commands, one
JSON line per action in ``.mlops/logs/engine.jsonl``, and ``mlops history`` merging it
with the store and the environment branches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sklearn.datasets import load_iris

from engine.audit import FIELDS
from tests.conftest import init_repo

pytestmark = pytest.mark.slow
HISTORY_KEYS = ["when", "event", "version", "environment", "by", "commit", "outcome", "source"]


def lines(repo: Path) -> list[dict]:
    path = repo / ".mlops" / "logs" / "engine.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_action_writes_one_line_and_history_merges_them(mlops, tmp_path):
    repo = init_repo(tmp_path / "repo")
    assert mlops("validate", "--no-data", cwd=repo).returncode == 0
    assert mlops("train", "iris-logreg", cwd=repo).returncode == 0
    assert mlops("promote", "iris-logreg", "--to", "staging", cwd=repo).returncode == 0
    refused = mlops("promote", "iris-logreg", "--to", "production", cwd=repo)
    assert refused.returncode == 1
    assert mlops("deploy", "--env", "staging", cwd=repo).returncode == 0
    batch = tmp_path / "batch.csv"
    load_iris(as_frame=True).frame.to_csv(batch, index=False)
    done = mlops(
        "--log-format", "json", "monitor", "--env", "staging", "--current", str(batch), cwd=repo
    )
    assert done.returncode == 0, done.stderr
    printed = [json.loads(x) for x in done.stderr.splitlines() if x.startswith("{")]
    assert [p["action"] for p in printed] == ["monitor"]

    logged = lines(repo)
    assert all(list(line) == list(FIELDS) for line in logged)
    assert [(x["action"], x["outcome"]) for x in logged] == [
        ("validate", "ok"),
        ("train", "trained"),
        ("promote", "ok"),
        ("promote", "refused"),
        ("deploy", "ok"),
        ("monitor", "ok"),
    ]
    assert len({x["run_id"] for x in logged}) == len(logged)  # one process each
    train = logged[1]
    assert train["model"] == "iris-logreg" and len(train["version"]) == 12
    assert logged[2]["environment"] == "staging" and logged[2]["actor"] == "ada"
    assert logged[5]["version"] == train["version"]
    assert all(len(x["commit"]) == 40 for x in logged)

    result = mlops("history", "iris-logreg", "--json", cwd=repo)
    assert result.returncode == 0, result.stderr
    events = json.loads(result.stdout)
    assert all(list(e) == HISTORY_KEYS for e in events)
    seen = [(e["event"], e["environment"], e["outcome"], e["source"]) for e in events]
    # newest first; the logged train and promotion are not repeated
    assert seen == [
        ("monitor", "staging", "ok", "log"),
        ("deploy", "staging", "ok", "log"),
        ("promote", "production", "refused", "log"),
        ("promote", "staging", "ok", "branch"),
        ("trained", "", "ok", "store"),
    ]


def test_a_failing_action_is_logged_with_its_outcome(mlops, tmp_path):
    repo = init_repo(tmp_path / "repo")
    result = mlops("promote", "iris-logreg", "--to", "nowhere", cwd=repo)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (line,) = lines(repo)
    assert line["action"] == "promote" and line["outcome"] == "refused"
    assert line["environment"] == "nowhere" and line["duration"] >= 0
