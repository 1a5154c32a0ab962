"""A team's second month: the lifecycle of one model over several changes, end to end.

A repository set up by ``mlops init`` (a DVC-tracked CSV, a DVC remote, a bare origin),
its model trained and promoted to staging once; each test then takes a copy and lives
through what comes later — the data grows, a version is promoted again — with the real
``mlops`` commands, reading the results back from git as a teammate would.
"""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest

from tests import forkserver
from tests.conftest import commit, copy_prepared, dvc, git

pytestmark = pytest.mark.slow
DATA = "data/example.csv"
MODEL = "churn-logreg"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """churn-logreg trained on main and promoted to staging. Built once; tests copy it."""
    folder = tmp_path_factory.mktemp("lifecycle")
    repo = folder / "repo"
    git(folder, "init", "-q", "-b", "main", str(repo))
    for key, value in (("user.email", "ada@example.com"), ("user.name", "Ada Lovelace")):
        git(repo, "config", key, value)
    done = forkserver.run(("init", "--remote", "../repo-dvc-remote"), cwd=repo)
    assert done.returncode == 0, done.stderr
    commit(repo, "Start mlops")
    origin = folder / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "origin", "main")
    dvc(repo, "push", "-q")
    for args in (("train",), ("promote", MODEL, "--to", "staging")):
        done = forkserver.run(args, cwd=repo)
        assert done.returncode == 0, done.stdout + done.stderr
    return folder


@pytest.fixture
def team(prepared: Path, tmp_path: Path) -> Path:
    """A copy of ``prepared``: the repository, ``origin.git`` and the DVC remote."""
    copy_prepared(prepared, tmp_path)
    return tmp_path / "repo"


def append_customers(repo: Path, rows: int = 100, seed: int = 3) -> None:
    """``rows`` new customers at the end of the CSV, labelled by a plainer rule than the
    example's (harder to predict from the features), then ``dvc add``."""
    rng = random.Random(seed)
    path = repo / DATA
    lines = path.read_text().splitlines()
    first = len(lines)  # the header and the rows so far: ids continue after them
    for i in range(first, first + rows):
        tenure, charges = rng.randint(1, 72), round(rng.uniform(20, 120), 2)
        calls, plan = rng.randint(0, 9), rng.choice(["basic", "pro", "team"])
        lines.append(f"{i},{tenure},{charges},{calls},{plan},{int(calls > 5 or tenure < 12)}")
    path.write_text("\n".join(lines) + "\n")
    dvc(repo, "add", "-q", DATA)


def test_a_retrained_version_on_grown_data_is_gated_on_the_same_rows_as_its_review(team, mlops):
    """After the data grew, the live version's recorded metrics come from another test set.

    The review rescored it on the new version's test rows and said the gates pass; the
    promotion compared the two recorded figures (0.93 on the old rows, 0.86 on the new)
    and refused, pointing at ``mlops diff --vs staging``, which said pass.
    """
    append_customers(team)
    commit(team, "100 more customers")
    assert mlops("train", cwd=team).returncode == 0

    done = mlops("diff", MODEL, "--vs", "staging", "--json", cwd=team)
    assert done.returncode == 0, done.stdout + done.stderr
    (compared,) = json.loads(done.stdout)["models"]
    drops = [g for g in compared["gates"] if g["check"] == "max_drop"]
    assert [(g["against"], g["status"]) for g in drops] == [("staging", "pass")]

    promoted = mlops("promote", MODEL, "--to", "staging", cwd=team)
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    assert f"Promoted `{MODEL}` `{compared['head_version']}`" in promoted.stdout


def pinned_version(repo: Path) -> str:
    """The version staging pins, read from origin's branch as a teammate would."""
    text = git(repo, "show", f"origin/env/staging:mlops/deployments/{MODEL}.yaml")
    return next(line.split("'")[1] for line in text.splitlines() if line.startswith("version:"))


def test_a_second_rollback_after_two_promotions_goes_further_back(team, mlops):
    """v1 (the fixture's), v2, v3 promoted; a rollback restores v2, and the next one v1.

    The second rollback restored v3, the version the first had rolled back from: a
    re-run of the rollback's job, or a teammate's second `/rollback`, put the bad
    version back.
    """
    v1 = pinned_version(team)
    model = team / "mlops" / "models" / f"{MODEL}.yaml"
    versions = [v1]
    for c in ("0.9", "0.8"):
        model.write_text(
            model.read_text().replace("C: 1.0", f"C: {c}").replace("C: 0.9", f"C: {c}")
        )
        commit(team, f"C {c}")
        git(team, "push", "-q", "origin", "main")
        done = mlops("promote", MODEL, "--to", "staging", cwd=team)
        assert done.returncode == 0, done.stdout + done.stderr
        versions.append(pinned_version(team))
    assert len(set(versions)) == 3

    for expected in (versions[1], versions[0]):
        done = mlops("rollback", MODEL, "--env", "staging", cwd=team)
        assert done.returncode == 0, done.stdout + done.stderr
        assert pinned_version(team) == expected
    done = mlops("rollback", MODEL, "--env", "staging", cwd=team)
    assert done.returncode == 1 and "first version staging ran" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert pinned_version(team) == versions[0]


def test_a_job_store_without_the_live_version_still_gates_on_the_same_rows(team, mlops):
    """A comment job's store (MLOPS_STORE, a folder that lives as long as the job) lacks
    the live version: it is retrained at its pin's source commit, as the review does, so
    the promotion is judged on the same rows (it compared the figures of two test sets)."""
    append_customers(team)
    commit(team, "100 more customers")
    git(team, "push", "-q", "origin", "main")
    fresh = {"MLOPS_STORE": ".mlops/job-store"}
    promoted = mlops("promote", MODEL, "--to", "staging", cwd=team, env=fresh)
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    assert "retrained and its metrics reproduced" in promoted.stdout
