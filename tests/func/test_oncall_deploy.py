"""An on-call review of ``mlops deploy``: two deploys of one environment on one machine.

A cron job and a person (or two terminals) deploying the same environment shared one
staging folder: the second deleted the first's files half-way, and one of them failed
with "unexpected error: FileNotFoundError ... This is a bug in mlops". The second now
waits for the first; both end ready and the folder holds one whole deployment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
MLOPS = Path(sys.executable).parent / "mlops"


def test_deploys_of_one_environment_at_once_wait_for_each_other(iris_staged):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    runs = [
        subprocess.Popen(
            [str(MLOPS), "deploy", "--env", "staging"],
            cwd=iris_staged,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [(run.wait(timeout=300), *run.communicate()) for run in runs]
    for code, out, err in results:
        assert code == 0 and "ready  iris-logreg@" in out and not err, (out, err)
    folder = iris_staged / ".mlops" / "deploy"
    manifest = json.loads((folder / "staging" / "manifest.json").read_text())
    assert set(manifest["models"]) == {"iris-logreg"}
    assert (folder / "staging" / "iris-logreg.skops").is_file()
    assert not (folder / ".staging.partial").exists()
