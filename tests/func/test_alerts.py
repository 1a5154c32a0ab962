"""The scheduled monitor end to end: a real repository with a promoted version, batches
built from the iris data, ``mlops event`` on ``schedule`` exactly as Actions runs it,
and the GitHub API stand-in over real HTTP keeping one drift issue per model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sklearn.datasets import load_iris

from engine.forge.standin.server import GitHubStandIn
from tests import forkserver
from tests.conftest import copy_prepared, git, init_repo

pytestmark = pytest.mark.slow
REPO = "octo/models"
PETAL = "petal length (cm)"
BATCH = "monitoring/staging/batch.csv"


def monitored_repo(folder: Path, monitoring: str) -> Path:
    """A new repository (``init_repo``) whose staging has ``monitoring:`` (flow YAML),
    committed and pushed."""
    repo = init_repo(folder / "repo")
    project = repo / "mlops" / "project.yaml"
    project.write_text(
        project.read_text().replace(
            "staging: {branch: env/staging}",
            f"staging: {{branch: env/staging, monitoring: {monitoring}}}",
        )
    )
    git(repo, "commit", "-q", "-am", "Monitor staging")
    git(repo, "push", "-q", "origin", "main")
    return repo


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """iris-logreg promoted to staging; staging monitors ``monitoring/staging/batch.csv``.
    Built once: each test gets a copy (``deployed``)."""
    repo = monitored_repo(tmp_path_factory.mktemp("alerts"), f"{{current: {BATCH}}}")
    for args in (("train", "iris-logreg"), ("promote", "iris-logreg", "--to", "staging")):
        done = forkserver.run(args, cwd=repo)
        assert done.returncode == 0, done.stdout + done.stderr
    return repo.parent


@pytest.fixture
def deployed(prepared: Path, tmp_path: Path) -> Path:
    """A copy of ``prepared``: the repository and its origin."""
    copy_prepared(prepared, tmp_path)
    return tmp_path / "repo"


def write_batch(repo: Path, shift: float = 0.0, rename: dict[str, str] | None = None) -> None:
    frame = load_iris(as_frame=True).frame.drop(columns="target")
    frame += shift  # every feature moves: the share of drifted features passes 0.5
    path = repo / BATCH
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.rename(columns=rename or {}).to_csv(path, index=False)


def schedule_env(tmp: Path, api: str) -> dict[str, str]:
    event = tmp / "schedule.json"
    event.write_text(json.dumps({"schedule": "17 6 * * *", "repository": {"full_name": REPO}}))
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "schedule",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": api,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "42",
        "GITHUB_WORKFLOW": "mlops monitor",
        "GITHUB_TOKEN": "ghs_standin",
        "GITHUB_STEP_SUMMARY": str(tmp / "summary.md"),
        "GITHUB_OUTPUT": str(tmp / "output.txt"),
    }


def test_drift_opens_one_issue_a_second_run_updates_it_a_clean_run_closes_it(
    deployed, mlops, tmp_path
):
    with GitHubStandIn(REPO) as gh:
        env = schedule_env(tmp_path, gh.url)
        write_batch(deployed, shift=1.5)
        first = mlops("event", cwd=deployed, env=env)
        assert first.returncode == 0, first.stderr
        assert gh.issues(), first.stdout + first.stderr
        (issue,) = gh.issues()
        assert issue.state == "open" and issue.user == "github-actions[bot]"
        assert issue.labels == ["mlops:drift"]
        assert "<!-- mlops:drift:iris-logreg:staging -->" in issue.body
        assert PETAL in issue.body and "iris-logreg (staging)" in issue.title
        before = issue.body

        write_batch(deployed, shift=3.0)
        second = mlops("event", cwd=deployed, env=env)
        assert second.returncode == 0, second.stderr
        (again,) = gh.issues()
        assert again.number == issue.number and again.body != before
        assert gh.calls("POST", r"/issues$") == 1

        write_batch(deployed)
        third = mlops("event", cwd=deployed, env=env)
        assert third.returncode == 0, third.stderr
        (closed,) = gh.issues()
        assert closed.state == "closed"
        log = (deployed / ".mlops" / "logs" / "engine.jsonl").read_text().splitlines()
        alerts = [json.loads(x) for x in log if '"action": "alert"' in x]
        assert [a["outcome"] for a in alerts] == ["issue created", "issue updated", "issue closed"]
        (note,) = gh.comments(closed.number)
        assert "No drift" in note.body and note.user == "github-actions[bot]"

        # Clean again: nothing open, nothing to do; drift again opens a new issue.
        assert mlops("event", cwd=deployed, env=env).returncode == 0
        assert len(gh.issues()) == 1
        write_batch(deployed, shift=1.5)
        assert mlops("event", cwd=deployed, env=env).returncode == 0
        assert [i.state for i in sorted(gh.issues(), key=lambda i: i.number)] == [
            "closed",
            "open",
        ]


def test_another_users_look_alike_issue_is_not_taken_over(deployed, mlops, tmp_path):
    with GitHubStandIn(REPO) as gh:
        gh.add_issue(
            "fake", body="<!-- mlops:drift:iris-logreg:staging -->", labels=["mlops:drift"]
        )
        write_batch(deployed, shift=1.5)
        assert mlops("event", cwd=deployed, env=schedule_env(tmp_path, gh.url)).returncode == 0
        mine = [i for i in gh.issues() if i.user == "github-actions[bot]"]
        assert len(mine) == 1 and len(gh.issues()) == 2


def test_a_column_name_from_the_data_cannot_ping_or_link(deployed, mlops, tmp_path):
    crafted = "@octo/admins ![x](https://evil.example/p.png) <img src=x>"
    with GitHubStandIn(REPO) as gh:
        write_batch(deployed, shift=1.5, rename={"sepal width (cm)": crafted})
        result = mlops("event", cwd=deployed, env=schedule_env(tmp_path, gh.url))
        assert result.returncode == 0, result.stderr
        (issue,) = gh.issues()
        body = issue.body
        assert "@octo" not in body and "](https://evil" not in body and "<img" not in body
        assert "octo/admins" in body  # still shown, as text
        assert len(body) <= 65_536


def test_a_monitoring_path_outside_the_repository_is_refused(deployed, mlops, tmp_path):
    project = deployed / "mlops" / "project.yaml"
    text = project.read_text()
    project.write_text(text.replace(BATCH, "../outside.csv"))
    git(deployed, "commit", "-q", "-am", "Point outside")
    git(deployed, "push", "-q", "origin", "main")
    with GitHubStandIn(REPO) as gh:
        result = mlops("event", cwd=deployed, env=schedule_env(tmp_path, gh.url))
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert "project.yaml" in result.stderr and "inside the repository" in result.stderr
        assert gh.issues() == []
