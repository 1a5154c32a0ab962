"""``mlops deploy``: what an environment branch pins, made ready to serve, all or nothing.

The attacks: the store is writable by someone who is not allowed to deploy (a shared
remote, a poisoned cache). They swap a pinned version's ``model.skops`` for another
model and reseal the sha256 in its ``meta.json``; deploy must compare with the hash in
the pin on the environment branch instead, and refuse.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from engine.environments.pins import parse_pin
from engine.store import load_verified, save_model
from tests.conftest import git, unseal_pin

pytestmark = pytest.mark.slow


@pytest.fixture
def staged(iris_staged: Path) -> Path:
    """iris-logreg trained on main and promoted to staging (a copy of one built once)."""
    return iris_staged


def manifest(repo: Path) -> dict:
    return json.loads((repo / ".mlops/deploy/staging/manifest.json").read_text())


def pin(repo: Path):
    path = "mlops/deployments/iris-logreg.yaml"
    return parse_pin(git(repo, "show", f"origin/env/staging:{path}").encode(), path)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_deploy_writes_the_pinned_models_and_a_manifest(staged, mlops):
    result = mlops("deploy", "--env", "staging", cwd=staged)
    assert result.returncode == 0, result.stderr
    entry = manifest(staged)["models"]["iris-logreg"]
    deployed = staged / ".mlops/deploy/staging/iris-logreg.skops"
    assert entry["metrics"]["accuracy"] > 0.8 and len(entry["fingerprint"]) == 64
    (stored,) = (staged / ".mlops/store/iris-logreg").glob("*/model.skops")
    assert pin(staged).sha256 == sha256(stored) == sha256(deployed) == entry["sha256"]
    assert (entry["pinned_sha256"], entry["retrained"]) == (entry["sha256"], False)
    model = load_verified(deployed, entry["sha256"])  # what serving calls
    assert type(model).__name__ == "Pipeline" and hasattr(model, "predict")


def reseal_with(staged: Path, estimator) -> tuple[str, str]:
    """Swap the stored model for ``estimator`` and reseal meta.json; (pinned, new) sha256."""
    (model_file,) = (staged / ".mlops/store/iris-logreg").glob("*/model.skops")
    pinned = sha256(model_file)
    save_model(estimator, model_file)
    meta_file = model_file.with_name("meta.json")
    meta = json.loads(meta_file.read_text())
    meta["files"]["model.skops"] = sha256(model_file)
    meta["metrics"] = {"accuracy": 1.0}
    meta_file.write_text(json.dumps(meta))
    return pinned, sha256(model_file)


def test_a_resealed_different_model_in_the_store_is_refused_by_the_pins_hash(staged, mlops):
    from sklearn.datasets import load_iris
    from sklearn.dummy import DummyClassifier

    assert mlops("deploy", "--env", "staging", cwd=staged).returncode == 0
    before = manifest(staged)
    x, y = load_iris(return_X_y=True, as_frame=True)
    # A real model of a trusted type: only the pinned hash tells it apart.
    pinned, swapped = reseal_with(
        staged, DummyClassifier(strategy="constant", constant=0).fit(x, y)
    )
    assert mlops("runs", "iris-logreg", cwd=staged).returncode == 0  # the store reads it fine

    result = mlops("deploy", "--env", "staging", cwd=staged)
    assert result.returncode == 1
    assert "FAILED  iris-logreg" in result.stdout
    assert "nothing deployed" in result.stdout and "deployed to" not in result.stdout
    assert f"has sha256 {swapped}, but the pin expects {pinned}" in result.stdout
    assert manifest(staged) == before


def test_an_older_pin_without_a_hash_is_refused_until_promoted_again(staged, mlops):
    unseal_pin(staged, "iris-logreg")
    assert pin(staged).sha256 is None

    refused = mlops("deploy", "--env", "staging", cwd=staged)
    assert refused.returncode == 1
    assert "records no artifact sha256" in refused.stdout
    assert "promote iris-logreg@" in refused.stdout and "again" in refused.stdout

    sealed = mlops("promote", "iris-logreg", "--to", "staging", cwd=staged)
    assert sealed.returncode == 0, sealed.stdout + sealed.stderr
    assert pin(staged).sha256 is not None
    assert mlops("deploy", "--env", "staging", cwd=staged).returncode == 0


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


def test_a_deploy_stopped_between_its_renames_loses_no_deployment(staged, mlops):
    # the state a deploy killed after setting the last deployment aside leaves behind
    assert mlops("deploy", "--env", "staging", cwd=staged).returncode == 0
    before = manifest(staged)
    deployed = staged / ".mlops/deploy"
    (deployed / "staging").rename(deployed / ".staging.previous")
    (model_file,) = (staged / ".mlops/store/iris-logreg").glob("*/model.skops")
    model_file.write_bytes(model_file.read_bytes()[:-1])  # and this deploy fails
    result = mlops("deploy", "--env", "staging", cwd=staged)
    assert result.returncode == 1 and "FAILED  iris-logreg" in result.stdout
    assert manifest(staged) == before  # the last deployment is back, whole
    assert sorted(p.name for p in deployed.iterdir() if not p.name.endswith(".lock")) == ["staging"]


def test_a_version_missing_from_the_store_is_retrained_and_must_reproduce(staged, mlops):
    shutil.rmtree(staged / ".mlops/store")
    result = mlops("deploy", "--env", "staging", cwd=staged)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "retrained and its metrics reproduced" in result.stdout
    # skops files are not byte-reproducible: the bytes this run trained are deployed, and
    # the manifest says so, keeping the pinned hash beside the deployed one.
    entry = manifest(staged)["models"]["iris-logreg"]
    deployed = staged / ".mlops/deploy/staging/iris-logreg.skops"
    assert (entry["retrained"], entry["pinned_sha256"]) == (True, pin(staged).sha256)
    assert entry["sha256"] == sha256(deployed)


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


def dispatch(repo: Path, tmp_path: Path, mlops, ref: str, inputs: dict[str, str] | None):
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
    # GitHub sends `"inputs": null` for a dispatch without inputs: the branch decides
    bare = dispatch(staged, tmp_path, mlops, "refs/heads/env/staging", None)
    assert bare.returncode == 0, bare.stdout + bare.stderr


def recorded(repo: Path) -> list[dict]:
    return json.loads((repo / ".mlops/outbox/deployments.json").read_text())


def test_deploy_records_a_deployment_and_its_statuses(staged, mlops):
    result = mlops("deploy", "--env", "staging", cwd=staged)
    assert result.returncode == 0, result.stderr
    (deployment,) = recorded(staged)
    assert (deployment["ref"], deployment["environment"]) == ("env/staging", "staging")
    entry = deployment["payload"]["models"]["iris-logreg"]
    assert (entry["version"], entry["sha256"]) == (pin(staged).version, pin(staged).sha256)
    assert [s["state"] for s in deployment["statuses"]] == ["in_progress", "success"]


def test_a_failed_deploy_is_recorded_as_a_failure(staged, mlops):
    from sklearn.dummy import DummyClassifier

    reseal_with(staged, DummyClassifier())
    assert mlops("deploy", "--env", "staging", cwd=staged).returncode == 1
    (deployment,) = recorded(staged)
    states = [s["state"] for s in deployment["statuses"]]
    assert states == ["in_progress", "failure"]
    assert "iris-logreg@" in deployment["statuses"][-1]["description"]


def test_the_deployment_reaches_github_environments_through_the_forge(staged):
    """The deploy workflow's path: GitHubForge over HTTP to the stand-in's deployments."""
    from engine.environments.deploy import recorded_deploy
    from engine.forge.github import GitHubForge
    from engine.forge.standin.server import DEFAULT_TOKEN, GitHubStandIn

    with GitHubStandIn("octo/repo") as gh:
        gh.set_ref("refs/heads/env/staging", git(staged, "rev-parse", "origin/env/staging"))
        forge = GitHubForge("octo/repo", DEFAULT_TOKEN, gh.url)
        result, notes = recorded_deploy(staged, "staging", forge, log_url="https://ci/run/1")
        assert result.ok and notes == []
        (deployment,) = gh.state.deployments.values()
        assert (deployment.ref, deployment.environment) == ("env/staging", "staging")
        assert deployment.payload["models"]["iris-logreg"]["sha256"] == pin(staged).sha256
        statuses = [(s.state, s.log_url) for s in gh.state.deployment_statuses]
        assert statuses == [("in_progress", "https://ci/run/1"), ("success", "https://ci/run/1")]


def test_a_forge_that_refuses_deployments_does_not_stop_the_deploy(staged):
    from engine.environments.deploy import recorded_deploy
    from engine.forge.github import GitHubForge
    from engine.forge.standin.server import DEFAULT_TOKEN, GitHubStandIn

    with GitHubStandIn("octo/repo") as gh:  # env/staging unknown there: GitHub answers 422
        forge = GitHubForge("octo/repo", DEFAULT_TOKEN, gh.url)
        result, notes = recorded_deploy(staged, "staging", forge)
    assert result.ok and len(notes) == 1 and "could not be recorded" in notes[0]
    assert (staged / ".mlops/deploy/staging/manifest.json").exists()
