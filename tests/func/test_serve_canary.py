"""``mlops serve`` for a pin with a canary: one name, two verified versions, a seeded split.

The repository's staging uses ``strategy: canary``; iris-logreg v1 is promoted, v2
(another C) is promoted with ``--canary 30``. Each request's ``x-request-id`` decides
its side, so the test knows in advance which version must answer every request.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from engine.serving.canary import Split
from tests.conftest import git, init_repo
from tests.func.serving import call, mlops, served

pytestmark = pytest.mark.slow
SAMPLE = Path(__file__).parents[1] / "fixtures/kserve/samples/v1-iris-input.json"
PROJECT = """\
store: {url: .mlops/store}
default_branch: main
environments:
  staging: {branch: env/staging, strategy: canary}
"""


def pin(repo: Path) -> dict:
    return yaml.safe_load(
        git(repo, "show", "origin/env/staging:mlops/deployments/iris-logreg.yaml")
    )


@pytest.fixture(scope="module")
def canaried(tmp_path_factory) -> Path:
    repo = init_repo(tmp_path_factory.mktemp("canary") / "repo")
    (repo / "mlops/project.yaml").write_text(PROJECT)
    git(repo, "commit", "-q", "-am", "Staging deploys by canary")
    git(repo, "push", "-q", "origin", "main")
    for step, args in enumerate(((), ("--canary", "30"))):
        if step:
            model = repo / "mlops/models/iris-logreg.yaml"
            model.write_text(model.read_text().replace("C: 1.0", "C: 0.9"))
            git(repo, "commit", "-q", "-am", "More regularisation")
            git(repo, "push", "-q", "origin", "main")
        assert mlops("train", "iris-logreg", cwd=repo).returncode == 0
        done = mlops("promote", "iris-logreg", "--to", "staging", *args, cwd=repo)
        assert done.returncode == 0, done.stdout + done.stderr
    return repo


def test_requests_split_by_the_canary_percent_as_the_seed_says(canaried):
    stable, canary = pin(canaried)["version"], pin(canaried)["canary"]["version"]
    body = json.loads(SAMPLE.read_text())
    split = Split(30, 0)
    keys = [f"request-{n}" for n in range(40)]
    with served(canaried, "--env", "staging") as url:
        answered = [
            call(f"{url}/v1/models/iris-logreg:predict", body, headers={"x-request-id": key})
            for key in keys
        ]
    assert all(reply.status == 200 for reply in answered), answered[0].body
    expected = [canary if split.to_canary(key) else stable for key in keys]
    assert [reply.headers["x-model-version"] for reply in answered] == expected
    assert stable in expected and canary in expected  # both sides seen


def test_status_shows_the_canary_split(canaried):
    now = pin(canaried)  # before the next test completes the canary
    done = mlops("status", cwd=canaried)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if "iris-logreg" in line]
    assert len(lines) == 2, done.stdout
    assert f"`{now['version']}`" in lines[0] and "70% (stable)" in lines[0]
    assert f"`{now['canary']['version']}`" in lines[1] and "30% (canary)" in lines[1]


def test_a_promotion_while_serving_is_answered_by_the_next_request(canaried):
    """Complete the canary while the server runs: it follows the branch, loads and
    verifies the new pin, and the next request answers with the new version only."""
    canary = pin(canaried)["canary"]["version"]
    body = json.loads(SAMPLE.read_text())
    with served(canaried, "--env", "staging", "--reload-every", "0.2") as url:
        done = mlops("promote", "iris-logreg", "--to", "staging", cwd=canaried)
        assert done.returncode == 0, done.stdout + done.stderr
        assert pin(canaried)["version"] == canary and pin(canaried)["canary"] is None
        deadline = time.monotonic() + 30
        while True:  # bounded: the reload polls every 0.2 s, then loads the version
            keys = [f"after-{n}" for n in range(10)]
            assert not all(Split(30, 0).to_canary(k) for k in keys)  # the old pin differs
            replies = [
                call(f"{url}/v1/models/iris-logreg:predict", body, headers={"x-request-id": k})
                for k in keys
            ]
            assert all(reply.status == 200 for reply in replies)
            if {reply.headers["x-model-version"] for reply in replies} == {canary}:
                break
            assert time.monotonic() < deadline, "the server never served the new pin"
            time.sleep(0.2)
