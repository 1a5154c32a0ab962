"""Retraining on drift end to end: a repository set up by ``mlops init`` (a DVC-tracked CSV,
a DVC remote), a promoted version, ``retrain_on_drift: true`` in staging, and the two jobs
of ``monitor.yml`` run as Actions runs them, against the GitHub stand-in over HTTP."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.forge.standin.server import GitHubStandIn
from engine.scaffold import example_csv
from tests import forkserver
from tests.conftest import commit, copy_prepared, dvc, git, write_csv

pytestmark = pytest.mark.slow
REPO = "octo/models"
BATCH = "monitoring/staging/batch.csv"
DATA = "data/example.csv"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """churn-logreg trained and promoted to staging; staging monitors BATCH, retrains on
    drift. Built once: each test gets a copy (``deployed``)."""
    folder = tmp_path_factory.mktemp("retrain")
    repo = folder / "repo"
    git(folder, "init", "-q", "-b", "main", str(repo))
    for key, value in (("user.email", "ada@example.com"), ("user.name", "Ada Lovelace")):
        git(repo, "config", key, value)
    # a relative DVC remote (beside the repository), so that a copy pushes to its own
    done = forkserver.run(("init", "--remote", "../repo-dvc-remote"), cwd=repo)
    assert done.returncode == 0, done.stderr
    project = repo / "mlops" / "project.yaml"
    project.write_text(
        project.read_text().replace(
            "staging: {branch: env/staging}",
            f"staging: {{branch: env/staging, monitoring: {{current: {BATCH}}}, "
            "retrain_on_drift: true}",
        )
    )
    write_batch(repo, drift=False)
    commit(repo, "Start mlops, monitor staging")
    origin = folder / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "origin", "main")
    dvc(repo, "push", "-q")
    for args in (("train",), ("promote", "churn-logreg", "--to", "staging")):
        done = forkserver.run(args, cwd=repo)
        assert done.returncode == 0, done.stdout + done.stderr
    return folder


@pytest.fixture
def deployed(prepared: Path, tmp_path: Path) -> Path:
    """A copy of ``prepared``: the repository, ``origin.git`` and the DVC remote."""
    copy_prepared(prepared, tmp_path)
    return tmp_path / "repo"


def batch_rows(drift: bool) -> list[dict[str, str]]:
    """200 labelled customers with new ids; with ``drift``, longer tenure, higher charges and
    more calls (three of four features move)."""
    rows = list(csv.DictReader(io.StringIO(example_csv(rows=200, seed=99))))
    for row in rows:
        row["customer_id"] = str(int(row["customer_id"]) + 10_000)
        if drift:
            row["tenure_months"] = str(int(row["tenure_months"]) + 40)
            row["monthly_charges"] = f"{float(row['monthly_charges']) * 1.8:.2f}"
            row["support_calls"] = str(int(row["support_calls"]) + 4)
    return rows


def write_batch(repo: Path, drift: bool) -> list[dict[str, str]]:
    rows = batch_rows(drift)
    write_csv(repo / BATCH, rows)
    return rows


def job_env(tmp: Path, api: str, job: str, retrain: str = "") -> dict[str, str]:
    event = tmp / "schedule.json"
    event.write_text(json.dumps({"schedule": "17 6 * * *", "repository": {"full_name": REPO}}))
    (tmp / job).mkdir(exist_ok=True)
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "schedule",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": api,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "42",
        "GITHUB_TOKEN": "ghs_standin",
        "GITHUB_STEP_SUMMARY": str(tmp / job / "summary.md"),
        "GITHUB_OUTPUT": str(tmp / job / "output.txt"),
    }
    if job == "retrain":
        env.update(MLOPS_MONITOR_JOB="retrain", MLOPS_RETRAIN=retrain)
    return env


def run_jobs(mlops, repo: Path, tmp: Path, api: str) -> str:
    """The monitor job, then the retrain job when its ``retrain`` output asks; the output."""
    first = mlops("event", cwd=repo, env=job_env(tmp, api, "monitor"))
    assert first.returncode == 0, first.stdout + first.stderr
    outputs = (tmp / "monitor" / "output.txt").read_text()
    retrain = next(
        line.split("=", 1)[1] for line in outputs.splitlines() if line.startswith("retrain=")
    )
    (tmp / "monitor" / "output.txt").unlink()
    if retrain:  # the workflow's `if: needs.monitor.outputs.retrain != ''`
        second = mlops("event", cwd=repo, env=job_env(tmp, api, "retrain", retrain))
        assert second.returncode == 0, second.stdout + second.stderr
        assert "Traceback" not in second.stderr
        # DVC's hint after `dvc add` is not the job's to say: the job commits the pointer
        assert "To track the changes" not in second.stdout + second.stderr, second.stdout
        assert "git add" not in second.stdout + second.stderr, second.stdout
    return retrain


def open_pulls(gh: GitHubStandIn) -> list:
    return [p for n, p in gh.state.pulls.items() if gh.state.issues[n].state == "open"]


def test_drift_with_labels_opens_one_retraining_pull_request(deployed, mlops, tmp_path):
    origin = tmp_path / "origin.git"
    with GitHubStandIn(REPO, git_dir=origin) as gh:
        added = write_batch(deployed, drift=True)
        retrain = run_jobs(mlops, deployed, tmp_path, gh.url)
        (issue,) = gh.issues()
        assert json.loads(retrain) == {"staging/churn-logreg": issue.number}
        (pull,) = open_pulls(gh)
        assert pull.head_ref.startswith("mlops/retrain/staging/churn-logreg-")
        assert pull.base_ref == "main"
        pr = gh.state.issues[pull.number]
        assert pr.user == "github-actions[bot]" and "retrain churn-logreg" in pr.title
        assert "<!-- mlops:retrain:churn-logreg:staging -->" in pr.body
        assert f"drift issue #{issue.number}" in pr.body and "retrain_on_drift" in pr.body
        assert "240 → 440 rows" in pr.body

        # The branch as a teammate sees it: the pointer changed, the data on the remote.
        mate = tmp_path / "mate"
        git(tmp_path, "clone", "-q", "-b", pull.head_ref, str(origin), str(mate))
        changed = git(mate, "diff", "--name-only", "origin/main", "HEAD").split()
        assert changed == [f"{DATA}.dvc"]
        dvc(mate, "pull", "-q")
        lines = (mate / DATA).read_text().splitlines()
        assert len(lines) == 1 + 240 + 200
        assert lines[-1].split(",")[0] == added[-1]["customer_id"]
        assert lines[:241] == (deployed / DATA).read_text().splitlines()
        status = subprocess.run(
            [sys.executable, "-m", "dvc", "status"],
            cwd=mate,
            capture_output=True,
            text=True,
            env={**os.environ, "DVC_NO_ANALYTICS": "1"},
        )
        assert status.returncode == 0 and "up to date" in status.stdout, status.stdout
        validated = mlops("validate", cwd=mate)
        assert validated.returncode == 0, validated.stdout + validated.stderr
        assert git(deployed, "status", "--porcelain", "--", "data", "mlops") == ""  # untouched

        # The new version monitored as the current data, by revision: read by its hash
        # from the DVC remote, never from the (here stale and broken) working file.
        working = (deployed / DATA).read_bytes()
        (deployed / DATA).write_text("customer_id\nnot a number\n")
        try:
            for rev, rows in (("main", 240), (f"origin/{pull.head_ref}", 440)):
                done = mlops(
                    "monitor", "--env", "staging", "--current-dataset", f"customers@{rev}",
                    "--json", cwd=deployed,
                )  # fmt: skip
                assert done.returncode == 0, done.stderr
                (model,) = json.loads(done.stdout)["models"]
                assert model["current_rows"] == rows
                assert model["current"] == f"dataset customers at {rev}"
            bad = mlops("monitor", "--env", "staging", "--current-dataset", "nope@main",
                        cwd=deployed)  # fmt: skip
            assert bad.returncode == 1 and "no dataset 'nope' at main" in bad.stderr
            usage = mlops("monitor", "--env", "staging", "--current-dataset", "customers",
                          cwd=deployed)  # fmt: skip
            assert usage.returncode == 2 and "NAME@REV" in usage.stderr
        finally:
            (deployed / DATA).write_bytes(working)

        # Drift goes on: the open pull request is left alone, no second one.
        write_batch(deployed, drift=True)
        assert run_jobs(mlops, deployed, tmp_path, gh.url)
        assert len(open_pulls(gh)) == 1 and gh.calls("POST", r"/pulls$") == 1
        log = (deployed / ".mlops/logs/engine.jsonl").read_text().splitlines()
        retrains = [json.loads(x)["outcome"] for x in log if '"action": "retrain"' in x]
        assert retrains == ["pull request created", "pull request unchanged"]


def test_no_drift_opens_no_pull_request(deployed, mlops, tmp_path):
    with GitHubStandIn(REPO, git_dir=tmp_path / "origin.git") as gh:
        write_batch(deployed, drift=False)
        assert run_jobs(mlops, deployed, tmp_path, gh.url) == ""
        assert gh.calls("POST", r"/pulls$") == 0 and not gh.state.pulls
        # Even a retrain job given a pair (a stale output) checks the drift again.
        retrain = json.dumps({"staging/churn-logreg": None})
        again = mlops("event", cwd=deployed, env=job_env(tmp_path, gh.url, "retrain", retrain))
        assert again.returncode == 0, again.stderr
        assert not gh.state.pulls


def test_unlabelled_drift_is_skipped_with_the_reason(deployed, mlops, tmp_path):
    with GitHubStandIn(REPO, git_dir=tmp_path / "origin.git") as gh:
        rows = write_batch(deployed, drift=True)
        write_csv(deployed / BATCH, [{k: v for k, v in r.items() if k != "churned"} for r in rows])
        first = mlops("event", cwd=deployed, env=job_env(tmp_path, gh.url, "monitor"))
        retrain = next(
            line.split("=", 1)[1]
            for line in (tmp_path / "monitor/output.txt").read_text().splitlines()
            if line.startswith("retrain=")
        )
        assert first.returncode == 0 and retrain
        second = mlops("event", cwd=deployed, env=job_env(tmp_path, gh.url, "retrain", retrain))
        assert second.returncode == 0, second.stderr
        assert "unlabelled rows are not training data" in second.stdout + second.stderr
        assert not gh.state.pulls


def test_a_branch_of_that_name_with_other_changes_is_not_proposed(deployed, mlops, tmp_path):
    """The branch name is the new data's md5, which anyone who can read the batch can
    compute: a branch pushed there first with other changes (a model edited beside the
    pointer) gets no pull request whose body says the pointer is the only change."""
    origin = tmp_path / "origin.git"
    with GitHubStandIn(REPO, git_dir=origin) as gh:
        write_batch(deployed, drift=True)
        # A first run pushes the branch, then cannot open the pull request.
        gh.fail("POST", r"/pulls$", status=422)
        first = mlops("event", cwd=deployed, env=job_env(tmp_path, gh.url, "monitor"))
        assert first.returncode == 0, first.stderr
        outputs = (tmp_path / "monitor" / "output.txt").read_text()
        retrain = next(x.split("=", 1)[1] for x in outputs.splitlines() if "retrain=" in x)
        (tmp_path / "monitor" / "output.txt").unlink()
        failed = mlops("event", cwd=deployed, env=job_env(tmp_path, gh.url, "retrain", retrain))
        assert failed.returncode == 1 and "Traceback" not in failed.stderr
        gh.clear_faults()
        (branch,) = [b for b in git(origin, "branch", "--format=%(refname:short)").split()
                     if b.startswith("mlops/retrain/")]  # fmt: skip
        assert not gh.state.pulls

        # Someone pushes an extra change on the same branch name.
        mate = tmp_path / "mate"
        git(tmp_path, "clone", "-q", "-b", branch, str(origin), str(mate))
        for key, value in (("user.email", "eve@example.com"), ("user.name", "Eve")):
            git(mate, "config", key, value)
        (mate / "mlops/models/extra.txt").write_text("not what the bot proposed\n")
        git(mate, "add", "-A")
        git(mate, "commit", "-q", "-m", "Extra")
        git(mate, "push", "-q", "origin", branch)

        write_batch(deployed, drift=True)
        line = retrain_job(mlops, deployed, tmp_path, gh.url)
        assert f"skipped: branch {branch} exists with other changes" in line
        assert not gh.state.pulls
        log = (deployed / ".mlops/logs/engine.jsonl").read_text().splitlines()
        retrains = [json.loads(x)["outcome"] for x in log if '"action": "retrain"' in x]
        assert retrains[-1] == "pull request skipped"


def retrain_job(mlops, repo: Path, tmp: Path, api: str) -> str:
    """Both jobs; the retrain job's log line for the one drifted model."""
    first = mlops("event", cwd=repo, env=job_env(tmp, api, "monitor"))
    assert first.returncode == 0, first.stdout + first.stderr
    outputs = (tmp / "monitor" / "output.txt").read_text()
    retrain = next(x.split("=", 1)[1] for x in outputs.splitlines() if x.startswith("retrain="))
    (tmp / "monitor" / "output.txt").unlink()
    done = mlops("event", cwd=repo, env=job_env(tmp, api, "retrain", retrain))
    assert done.returncode == 0, done.stdout + done.stderr
    return next(x for x in (done.stdout + done.stderr).splitlines() if "retraining pull" in x)


def test_declined_rows_are_not_proposed_again_and_merged_rows_not_added_twice(
    deployed, mlops, tmp_path
):
    """A pull request closed unmerged declines its rows: the same rows on the same data
    (the same branch, reused, never forced) are not proposed again. Once the rows are
    merged, the same batch monitored again adds nothing: its rows are in the data."""
    origin = tmp_path / "origin.git"
    with GitHubStandIn(REPO, git_dir=origin) as gh:
        write_batch(deployed, drift=True)
        assert "created" in retrain_job(mlops, deployed, tmp_path, gh.url)
        (pull,) = open_pulls(gh)
        tip = git(origin, "rev-parse", f"refs/heads/{pull.head_ref}")
        gh.state.issues[pull.number].state = "closed"

        line = retrain_job(mlops, deployed, tmp_path, gh.url)
        assert f"skipped: #{pull.number} proposed these very rows and was closed" in line
        assert not open_pulls(gh) and gh.calls("POST", r"/pulls$") == 1
        assert git(origin, "rev-parse", f"refs/heads/{pull.head_ref}") == tip

        git(origin, "update-ref", "refs/heads/main", tip)  # merged after all
        line = retrain_job(mlops, deployed, tmp_path, gh.url)
        assert "skipped: all 200 labelled row(s) of the current data are in " + DATA in line
        assert not open_pulls(gh) and gh.calls("POST", r"/pulls$") == 1
