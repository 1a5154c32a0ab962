"""An on-call review of the scheduled monitor on prediction logs over weeks.

A quiet window (no request to an environment in its ``since``: a weekend in staging, a
model nobody called) failed the whole scheduled run with exit 1, so the environments after
it in the loop were not monitored and the job was red every day; and a model without
requests in an environment that had others got a ``quality`` issue ("the current data
has no rows") that the next request closed. No requests is nothing to judge: the run says
so, leaves the issues as they are and monitors the rest.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sklearn.datasets import load_iris

from engine.forge.standin.server import GitHubStandIn
from engine.serving.logs import PredictionLogger, log_line
from tests import forkserver
from tests.conftest import copy_prepared
from tests.func.test_alerts import REPO, monitored_repo, schedule_env

pytestmark = pytest.mark.slow
LOGS = "monitoring/staging/logs"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """iris-logreg and diabetes-ridge promoted to staging; staging monitors its logs."""
    repo = monitored_repo(tmp_path_factory.mktemp("oncall-alerts"), f"{{logs: {LOGS}, since: 7d}}")
    for args in (
        ("train", "iris-logreg", "diabetes-ridge"),
        ("promote", "iris-logreg", "--to", "staging"),
        ("promote", "diabetes-ridge", "--to", "staging"),
    ):
        done = forkserver.run(args, cwd=repo)
        assert done.returncode == 0, done.stdout + done.stderr
    return repo.parent


def write_logs(repo: Path, *, age: timedelta, shift: float = 0.0) -> None:
    """iris-logreg's requests of a day ``age`` ago (diabetes-ridge gets none)."""
    from engine.environments.pins import read_pins

    version = (read_pins(repo, "env/staging") or {})["iris-logreg"].version
    folder = repo / LOGS
    for old in folder.glob("*") if folder.exists() else ():
        old.unlink()
    logger = PredictionLogger(folder)
    frame = load_iris(as_frame=True).frame.drop(columns="target") + shift
    start = datetime.now(UTC) - age
    for i, row in enumerate(frame.to_dict("records")):
        logger.write(log_line(
            request_id=f"req-{i}", model="iris-logreg", version=version,
            inputs={k: [v] for k, v in row.items()}, outputs={"predictions": [0]},
            latency_ms=2.0, status=200, endpoint="/v1/models/iris-logreg:predict",
            source="http://test/", time=(start + timedelta(seconds=i)).isoformat(),
        ))  # fmt: skip
    logger.close()


def test_a_quiet_window_is_nothing_to_judge_not_a_failure_nor_an_issue(prepared, mlops, tmp_path):
    copy_prepared(prepared, tmp_path)
    repo = tmp_path / "repo"
    with GitHubStandIn(REPO) as gh:
        env = schedule_env(tmp_path, gh.url)
        write_logs(repo, age=timedelta(hours=1), shift=1.5)
        first = mlops("event", cwd=repo, env=env)
        assert first.returncode == 0, first.stdout + first.stderr
        (issue,) = gh.issues()  # iris-logreg drifted; diabetes-ridge had no request
        assert "iris-logreg (staging)" in issue.title
        assert "diabetes-ridge in staging: no requests" in first.stdout + first.stderr
        edits = gh.calls("PATCH", r"/issues/\d+$")

        write_logs(repo, age=timedelta(days=30), shift=1.5)  # nothing in the last 7 days
        quiet = mlops("event", cwd=repo, env=env)
        assert quiet.returncode == 0, quiet.stdout + quiet.stderr
        assert "staging: no predictions" in quiet.stdout + quiet.stderr
        (still,) = gh.issues()
        assert still.state == "open" and gh.calls("PATCH", r"/issues/\d+$") == edits
        log = (repo / ".mlops" / "logs" / "engine.jsonl").read_text().splitlines()
        alerts = [json.loads(x) for x in log if '"action": "alert"' in x]
        assert [a["outcome"] for a in alerts] == ["issue created"]


def test_retiring_a_model_closes_its_drift_issue(prepared, mlops, tmp_path):
    """A retired model is no longer pinned, so no run monitored it again: its drift issue
    stayed open for good, an alarm nobody could clear. The scheduled run closes the issue
    of a model retired from the environment, saying so."""
    copy_prepared(prepared, tmp_path)
    repo = tmp_path / "repo"
    with GitHubStandIn(REPO) as gh:
        env = schedule_env(tmp_path, gh.url)
        write_logs(repo, age=timedelta(hours=1), shift=1.5)
        assert mlops("event", cwd=repo, env=env).returncode == 0
        (issue,) = gh.issues()
        retired = mlops("retire", "iris-logreg", "--env", "staging", cwd=repo)
        assert retired.returncode == 0, retired.stdout + retired.stderr
        after = mlops("event", cwd=repo, env=env)
        assert after.returncode == 0, after.stdout + after.stderr
        (closed,) = gh.issues()
        assert closed.number == issue.number and closed.state == "closed"
        (note,) = gh.comments(closed.number)
        assert "retired from staging" in note.body and note.user == "github-actions[bot]"
        again = mlops("event", cwd=repo, env=env)  # nothing more to do, nothing repeated
        assert again.returncode == 0 and len(gh.comments(closed.number)) == 1


def test_a_model_whose_every_request_failed_is_no_quiet_window(prepared, mlops, tmp_path):
    copy_prepared(prepared, tmp_path)
    repo = tmp_path / "repo"
    write_logs(repo, age=timedelta(hours=1))
    logger = PredictionLogger(repo / LOGS)
    for i in range(20):  # a client sends diabetes-ridge what it cannot take, all day
        logger.write(log_line(
            request_id=f"bad-{i}", model="diabetes-ridge", version="", inputs=None,
            outputs={"error": "instances[0]: column 'age' is missing"}, latency_ms=1.0,
            status=400, endpoint="/v1/models/diabetes-ridge:predict", source="http://test/",
            time=(datetime.now(UTC) - timedelta(minutes=i)).isoformat(),
        ))  # fmt: skip
    logger.close()
    with GitHubStandIn(REPO) as gh:
        done = mlops("event", cwd=repo, env=schedule_env(tmp_path, gh.url))
        assert done.returncode == 0, done.stdout + done.stderr
        (issue,) = [i for i in gh.issues() if "diabetes-ridge (staging)" in i.title]
        assert "| 20 | 0 |" in issue.body and "100.00%" in issue.body
