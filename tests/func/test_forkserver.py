"""The tests' fork server (``tests/forkserver.py``) runs ``mlops`` as exec'ing it would:
the same exit status, output and error, in the folder and environment the test gives."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests import forkserver
from tests.conftest import MLOPS


def both(args: tuple[str, ...], cwd: Path, env: dict[str, str]) -> tuple[object, object]:
    execd = subprocess.run(
        [str(MLOPS), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    forked = forkserver.run(args, cwd=cwd, env=env, timeout=120)
    assert forked.args == execd.args
    return (forked.returncode, forked.stdout, forked.stderr), (
        execd.returncode,
        execd.stdout,
        execd.stderr,
    )


@pytest.mark.parametrize(
    "args",
    [
        ("--version",),
        ("validate",),  # not a repository: a user error on stderr, exit 1
        ("promote", "--to"),  # a usage error: exit 2, click's message names the program
    ],
)
def test_a_forked_command_answers_as_the_execd_one(args, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    forked, execd = both(args, tmp_path, env)
    assert forked == execd


def test_the_environment_and_folder_are_the_ones_given(repo, tmp_path):
    """A variable set here reaches the command, one removed here does not: the log format
    comes from ``MLOPS_LOG_FORMAT`` only when the test passes it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MLOPS_"))}
    quiet = forkserver.run(("validate",), cwd=repo, env=env)
    logged = forkserver.run(("validate",), cwd=repo, env={**env, "MLOPS_LOG_FORMAT": "json"})
    assert quiet.returncode == logged.returncode == 0, quiet.stderr + logged.stderr
    assert '"action"' not in quiet.stderr and '"action": "validate"' in logged.stderr
    elsewhere = forkserver.run(("validate",), cwd=tmp_path, env=env)
    assert elsewhere.returncode == 1 and "git" in elsewhere.stderr.lower()
