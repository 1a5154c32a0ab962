"""``mlops serve --workers 2`` follows the environment branch in every worker.

A client sends a steady stream of requests while a promotion moves the branch: every
response is a 200, and once each worker has reloaded (one log line per worker) every
answer comes from the new version.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import git
from tests.func.serving import call, mlops, served

pytestmark = pytest.mark.slow
SAMPLE = Path(__file__).parents[1] / "fixtures/kserve/samples/v1-iris-input.json"


def version(repo: Path) -> str:
    text = git(repo, "show", "origin/env/staging:mlops/deployments/iris-logreg.yaml")
    return yaml.safe_load(text)["version"]


class Stream(threading.Thread):
    """Requests one after another, each on a new connection, until stopped."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.body = f"{url}/v1/models/iris-logreg:predict", json.loads(SAMPLE.read_text())
        self.answers: list[tuple[int, str | None]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            reply = call(self.url, self.body)
            self.answers.append((reply.status, reply.headers.get("x-model-version")))


def test_every_worker_reloads_without_dropping_a_request(iris_staged):
    repo = iris_staged  # iris-logreg v1 trained on main and promoted to staging
    old = version(repo)
    model = repo / "mlops/models/iris-logreg.yaml"
    model.write_text(model.read_text().replace("C: 1.0", "C: 0.8"))
    git(repo, "commit", "-q", "-am", "More regularisation")
    git(repo, "push", "-q", "origin", "main")
    assert mlops("train", "iris-logreg", cwd=repo).returncode == 0

    args = ("--env", "staging", "--workers", "2", "--reload-every", "0.2")
    with served(repo, *args, ready_within=240) as url:  # two spawned workers import all
        log = next(repo.parent.glob(f"serve-{url.rsplit(':', 1)[1]}.log"))
        stream = Stream(url)
        stream.start()
        try:
            deadline = time.monotonic() + 180
            while len(stream.answers) < 20:  # both workers answer before the promotion
                assert time.monotonic() < deadline
                time.sleep(0.05)
            done = mlops("promote", "iris-logreg", "--to", "staging", cwd=repo)
            assert done.returncode == 0, done.stdout + done.stderr
            new = version(repo)
            assert new != old
            while log.read_text().count("env/staging moved to") < 2:  # one line per worker
                assert time.monotonic() < deadline, log.read_text()[-2000:]
                time.sleep(0.1)
            # the one request in flight may have been answered before its worker reloaded
            after = len(stream.answers) + 1
            while len(stream.answers) < after + 40:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        finally:
            stream.stopped.set()
            stream.join(timeout=30)
    statuses = {status for status, _ in stream.answers}
    assert statuses == {200}, statuses
    versions = [v for _, v in stream.answers]
    assert versions[0] == old
    assert set(versions[after:]) == {new}  # every worker answers with the new version
