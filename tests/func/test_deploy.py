"""``mlops deploy``: what an environment branch pins, made ready to serve, all or nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture
def staged(repo: Path, mlops) -> Path:
    """iris-logreg trained on main and promoted to staging."""
    assert mlops("train", "iris-logreg", cwd=repo).returncode == 0
    done = mlops("promote", "iris-logreg", "--to", "staging", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    return repo


def manifest(repo: Path) -> dict:
    return json.loads((repo / ".mlops/deploy/staging/manifest.json").read_text())


def test_deploy_writes_the_pinned_models_and_a_manifest(staged, mlops):
    result = mlops("deploy", "--env", "staging", cwd=staged)
    assert result.returncode == 0, result.stderr
    entry = manifest(staged)["models"]["iris-logreg"]
    assert (staged / ".mlops/deploy/staging/iris-logreg.skops").is_file()
    assert entry["metrics"]["accuracy"] > 0.8 and len(entry["fingerprint"]) == 64


def test_a_tampered_version_is_refused_and_the_last_deployment_stays(staged, mlops):
    assert mlops("deploy", "--env", "staging", cwd=staged).returncode == 0
    before = manifest(staged)
    (model_file,) = (staged / ".mlops/store/iris-logreg").glob("*/model.skops")
    data = bytearray(model_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model_file.write_bytes(bytes(data))
    result = mlops("deploy", "--env", "staging", cwd=staged)
    assert result.returncode == 1
    assert "FAILED  iris-logreg" in result.stdout and "checksum" in result.stdout
    assert manifest(staged) == before


def test_a_version_missing_from_the_store_is_retrained_and_must_reproduce(staged, mlops):
    shutil.rmtree(staged / ".mlops/store")
    result = mlops("deploy", "--env", "staging", cwd=staged)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "retrained and its metrics reproduced" in result.stdout


def test_an_unknown_environment_is_a_clear_error(repo, mlops):
    result = mlops("deploy", "--env", "prod", cwd=repo)
    assert result.returncode == 1
    assert "unknown environment 'prod'" in result.stderr and "Traceback" not in result.stderr


# --- hole 5: the environment is the branch's, never an input's ------------------------

ACTIONS = {"GITHUB_ACTIONS": "true"}


def test_in_actions_a_deploy_of_another_environment_than_the_branchs_is_refused(staged, mlops):
    on_staging = {**ACTIONS, "GITHUB_REF": "refs/heads/env/staging"}
    result = mlops("deploy", "--env", "production", cwd=staged, env=on_staging)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "refusing to deploy 'production' from env/staging" in result.stderr
    assert not (staged / ".mlops/deploy/production").exists()
    on_main = {**ACTIONS, "GITHUB_REF": "refs/heads/main"}
    result = mlops("deploy", "--env", "staging", cwd=staged, env=on_main)
    assert result.returncode == 1 and "not an environment branch" in result.stderr
    result = mlops("deploy", "--env", "staging", cwd=staged, env=on_staging)
    assert result.returncode == 0, result.stdout + result.stderr


def dispatch(repo: Path, tmp_path: Path, mlops, ref: str, inputs: dict[str, str]):
    """``mlops event`` on a workflow_dispatch of deploy.yml on ``ref``."""
    payload = tmp_path / "dispatch.json"
    payload.write_text(json.dumps({"ref": ref, "inputs": inputs, "repository": {
        "full_name": "octo/ml", "default_branch": "main"}}))  # fmt: skip
    env = {**ACTIONS, "GITHUB_EVENT_NAME": "workflow_dispatch", "GITHUB_REF": ref,
           "GITHUB_EVENT_PATH": str(payload), "GITHUB_REPOSITORY": "octo/ml"}  # fmt: skip
    return mlops("event", cwd=repo, env=env)


def test_a_dispatch_whose_input_names_another_environment_is_refused(staged, mlops, tmp_path):
    forged = dispatch(
        staged, tmp_path, mlops, "refs/heads/env/staging", {"environment": "production"}
    )
    assert forged.returncode == 1 and "Traceback" not in forged.stderr
    assert "refusing to deploy 'production' from env/staging" in forged.stderr
    assert not (staged / ".mlops/deploy").exists()
    off_branch = dispatch(staged, tmp_path, mlops, "refs/heads/main", {"environment": "staging"})
    assert off_branch.returncode == 1 and "not an environment branch" in off_branch.stderr
    done = dispatch(staged, tmp_path, mlops, "refs/heads/env/staging", {"environment": "staging"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "iris-logreg" in manifest(staged)["models"]
