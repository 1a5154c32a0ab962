"""``mlops serve`` for a pin with a canary: one name, two verified versions, a seeded split.

The repository's staging uses ``strategy: canary``; iris-logreg v1 is promoted, v2
(another C) is promoted with ``--canary 30``. Each request's ``x-request-id`` decides
its side, so the test knows in advance which version must answer every request.
"""

from __future__ import annotations

import json
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
