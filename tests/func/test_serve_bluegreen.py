"""Blue-green end to end: stage into the idle slot, switch in one commit, roll back instantly.

Staging uses ``strategy: blue-green``. iris-logreg v1 goes live in blue; v2 (another C)
is promoted, which stages it in green without moving traffic; ``promote --switch`` moves
every request to green in one commit; ``rollback`` switches back to blue, which stayed
loaded, so the server swaps it in without loading or retraining anything.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import git, init_repo
from tests.func.serving import call, mlops, served

pytestmark = pytest.mark.slow
SAMPLE = Path(__file__).parents[1] / "fixtures/kserve/samples/v1-iris-input.json"
PROJECT = """\
store: {url: .mlops/store}
default_branch: main
environments:
  staging: {branch: env/staging, strategy: blue-green}
  production: {branch: env/production}
"""
BRANCH = "origin/env/staging"


def pin(repo: Path) -> dict:
    return yaml.safe_load(git(repo, "show", f"{BRANCH}:mlops/deployments/iris-logreg.yaml"))


def tip(repo: Path) -> str:
    return git(repo, "rev-parse", BRANCH)


def changed(repo: Path, before: str) -> list[str]:
    """The files the commits since ``before`` changed on the branch, and how many commits."""
    commits = git(repo, "rev-list", "--first-parent", "--count", f"{before}..{BRANCH}")
    assert commits == "1", f"{commits} commits, not one"
    return sorted(git(repo, "diff", "--name-only", before, BRANCH).split())


@pytest.fixture(scope="module")
def staged(tmp_path_factory) -> dict:
    """v1 live in blue, v2 staged in green; returns the repo and both versions."""
    repo = init_repo(tmp_path_factory.mktemp("bluegreen") / "repo")
    (repo / "mlops/project.yaml").write_text(PROJECT)
    git(repo, "commit", "-q", "-am", "Staging deploys blue-green")
    git(repo, "push", "-q", "origin", "main")
    done = mlops("promote", "iris-logreg", "--to", "staging", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    v1 = pin(repo)["version"]
    assert pin(repo)["slot"] == "blue"
    model = repo / "mlops/models/iris-logreg.yaml"
    model.write_text(model.read_text().replace("C: 1.0", "C: 0.9"))
    git(repo, "commit", "-q", "-am", "More regularisation")
    git(repo, "push", "-q", "origin", "main")
    before = tip(repo)
    done = mlops("promote", "iris-logreg", "--to", "staging", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Staged `iris-logreg`" in done.stdout and "in the idle `green` slot" in done.stdout
    now = pin(repo)
    assert (now["version"], now["slot"]) == (v1, "blue")  # traffic did not move
    assert now["idle"]["slot"] == "green" and now["idle"]["role"] == "staged"
    files = changed(repo, before)
    assert "deploy/kserve/iris-logreg-green.yaml" in files
    assert "mlops/deployments/iris-logreg.yaml" in files
    trailers = git(repo, "log", "-1", "--format=%(trailers:only,unfold)", BRANCH)
    assert f"Staged-Version: {now['idle']['version']}" in trailers
    return {"repo": repo, "v1": v1, "v2": now["idle"]["version"]}


def answers(url: str, name: str = "iris-logreg", **headers: str) -> set[str]:
    body = json.loads(SAMPLE.read_text())
    replies = [call(f"{url}/v1/models/{name}:predict", body, headers=headers) for _ in range(5)]
    assert all(r.status == 200 for r in replies), replies[0].body
    return {r.headers["x-model-version"] for r in replies}


def wait_for(url: str, version: str, log: Path, since: int) -> str:
    """Poll (bounded) until every answer is ``version``; the server's log lines since then."""
    deadline = time.monotonic() + 30
    while answers(url) != {version}:
        assert time.monotonic() < deadline, "the server never served the new pin"
        time.sleep(0.1)
    return log.read_text()[since:]


def test_stage_switch_and_instant_rollback_while_serving(staged):
    repo, v1, v2 = staged["repo"], staged["v1"], staged["v2"]
    with served(repo, "--env", "staging", "--reload-every", "0.2") as url:
        log = next(repo.parent.glob(f"serve-{url.rsplit(':', 1)[1]}.log"))
        # the live slot answers under the model's name; each slot under its own name
        assert answers(url) == {v1}
        assert answers(url, "iris-logreg-blue") == {v1}
        assert answers(url, "iris-logreg-green") == {v2}
        assert answers(url, **{"x-model-version": v2}) == {v2}  # the idle slot, by version
        listed = call(f"{url}/v1/models").body["models"]
        assert sorted(listed) == ["iris-logreg", "iris-logreg-blue", "iris-logreg-green"]

        before, mark = tip(repo), len(log.read_text())
        done = mlops("promote", "iris-logreg", "--to", "staging", "--switch", cwd=repo)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Switched `iris-logreg` in `staging`" in done.stdout
        assert changed(repo, before) == [
            "deploy/kserve/iris-logreg.yaml",  # the route to the live slot, nothing else
            "mlops/deployments/iris-logreg.yaml",
        ]
        now = pin(repo)
        assert (now["version"], now["slot"], now["action"]) == (v2, "green", "switch")
        assert (now["idle"]["version"], now["idle"]["role"]) == (v1, "previous")
        assert "loaded 0" in wait_for(url, v2, log, mark)  # both slots were loaded already

        before, mark = tip(repo), len(log.read_text())
        started = time.monotonic()
        done = mlops("rollback", "iris-logreg", "--env", "staging", cwd=repo)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "retrained" not in done.stdout
        assert changed(repo, before) == [
            "deploy/kserve/iris-logreg.yaml",
            "mlops/deployments/iris-logreg.yaml",
        ]
        assert (pin(repo)["version"], pin(repo)["slot"]) == (v1, "blue")
        lines = wait_for(url, v1, log, mark)
        assert "loaded 0" in lines  # nothing loaded, nothing retrained: a switch back
        assert time.monotonic() - started < 30
        assert answers(url, "iris-logreg-green") == {v2}  # still warm for a roll forward


def test_switch_needs_a_blue_green_environment(staged):
    repo = staged["repo"]
    done = mlops("promote", "iris-logreg", "--to", "production", "--switch", cwd=repo)
    assert done.returncode == 1
    assert "strategy `direct`, which has no slots to switch" in done.stdout
    both = ("--switch", "--canary", "5")
    assert mlops("promote", "iris-logreg", "--to", "staging", *both, cwd=repo).returncode == 2


def test_serve_one_slot_as_the_cluster_does(staged):
    repo, v1, v2 = staged["repo"], staged["v1"], staged["v2"]
    live = pin(repo)
    idle_slot, idle_version = live["idle"]["slot"], live["idle"]["version"]
    assert {live["version"], idle_version} == {v1, v2}
    with served(repo, "--env", "staging", "--slot", idle_slot, "--reload-every", "0") as url:
        assert answers(url) == {idle_version}


def test_deploy_makes_the_idle_slot_ready_too(staged):
    repo = staged["repo"]
    live = pin(repo)
    done = mlops("deploy", "--env", "staging", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    folder = repo / ".mlops/deploy/staging"
    entry = json.loads((folder / "manifest.json").read_text())["models"]["iris-logreg"]
    assert (entry["version"], entry["slot"]) == (live["version"], live["slot"])
    idle = entry["idle"]
    assert (idle["version"], idle["slot"]) == (live["idle"]["version"], live["idle"]["slot"])
    assert (folder / idle["file"]).is_file() and idle["sha256"] == live["idle"]["sha256"]


def test_status_shows_both_slots_with_the_idle_ones_role(staged):
    repo = staged["repo"]
    live = pin(repo)
    done = mlops("status", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [
        line for line in done.stdout.splitlines() if "iris-logreg" in line and "staging" in line
    ]
    assert len(lines) == 2, done.stdout
    assert f"`{live['version']}`" in lines[0] and f"100% ({live['slot']}, live)" in lines[0]
    idle = live["idle"]
    assert f"`{idle['version']}`" in lines[1]
    assert f"0% ({idle['slot']}, idle: {idle['role']})" in lines[1]
