"""``mlops serve`` as a subprocess on a free loopback port, and a tiny HTTP client.

Shared by the serving tests and benchmarks: :func:`served` starts the real command,
waits (bounded) for ``/v2/health/ready``, yields the base URL and always stops the
process it started; :func:`call` makes one request and returns status, headers, JSON.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from engine.demo.server import call, free_port
from tests import forkserver
from tests.conftest import copy_prepared

MLOPS = Path(sys.executable).parent / "mlops"


def mlops(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real ``mlops`` command in ``cwd``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    return forkserver.run(args, cwd=cwd, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def staged(two_staged_template: Path, tmp_path_factory) -> Path:
    """iris-logreg (a classifier) and diabetes-ridge (a regression) promoted to staging:
    this module's copy of the repository built once (``two_staged_template``)."""
    folder = tmp_path_factory.mktemp("serve")
    copy_prepared(two_staged_template, folder)
    return folder / "repo"


@pytest.fixture(scope="module")
def versions(staged) -> dict[str, str]:
    """The version each model has in staging, read from the pins."""
    found = {}
    for model in ("iris-logreg", "diabetes-ridge"):
        text = subprocess.run(
            ["git", "show", f"origin/env/staging:mlops/deployments/{model}.yaml"],
            cwd=staged,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        found[model] = yaml.safe_load(text)["version"]
    return found


@contextlib.contextmanager
def served(
    repo: Path, *args: str, port: int | None = None, ready_within: float = 60
) -> Iterator[str]:
    """Run ``mlops serve --env ... ARGS`` in ``repo``; yield its base URL once ready."""
    port = port or free_port()
    log = repo.parent / f"serve-{port}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(MLOPS), "serve", "--port", str(port), *args],
            cwd=repo,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_within
        while True:
            if process.poll() is not None:
                raise AssertionError(f"mlops serve exited: {log.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                if call(f"{url}/v2/health/ready").status == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"not ready in {ready_within} s: {log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
