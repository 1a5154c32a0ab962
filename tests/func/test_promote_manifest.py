"""Promotion writes the model's KServe ``InferenceService`` beside its pin, in one commit.

Read back from the origin's environment branch, the way Argo CD or Flux would sync it,
and validated against KServe's own CRD schema (strict: an unknown field is an error).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import git
from tests.unit.test_serving_manifest import problems

pytestmark = pytest.mark.slow

SERVING = """\
store: {url: .mlops/store}
default_branch: main
serving:
  image: ghcr.io/acme/mlops:1.4.0
  resources: {requests: {cpu: 250m, memory: 1Gi}}
environments:
  staging:
    branch: env/staging
    serving: {logger_url: "http://logs.monitoring.svc.cluster.local", min_replicas: 2}
"""


def configure(repo: Path, text: str) -> None:
    (repo / "mlops/project.yaml").write_text(text)
    git(repo, "commit", "-q", "-am", "Serve with our image")
    git(repo, "push", "-q", "origin", "main")


def test_the_manifest_on_the_branch_validates_and_names_the_pinned_version(repo, mlops):
    configure(repo, SERVING)
    assert mlops("train", "iris-logreg", cwd=repo).returncode == 0
    done = mlops("promote", "iris-logreg", "--to", "staging", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr

    show = "origin/env/staging:"
    pin = yaml.safe_load(git(repo, "show", f"{show}mlops/deployments/iris-logreg.yaml"))
    service = yaml.safe_load(git(repo, "show", f"{show}deploy/kserve/iris-logreg.yaml"))
    assert problems(service) == []
    meta = service["metadata"]
    assert meta["labels"]["mlops.dev/model"] == "iris-logreg"
    assert meta["labels"]["mlops.dev/version"] == pin["version"]
    assert meta["annotations"] == {
        "mlops.dev/fingerprint": pin["fingerprint"],
        "mlops.dev/source-commit": pin["source_commit"],
        "mlops.dev/sha256": pin["sha256"],
        "mlops.dev/store": ".mlops/store",
    }
    predictor = service["spec"]["predictor"]
    (container,) = predictor["containers"]
    assert container["image"] == "ghcr.io/acme/mlops:1.4.0"  # the project's
    assert container["resources"] == {"requests": {"cpu": "250m", "memory": "1Gi"}}
    assert predictor["logger"] == {"mode": "all", "url": "http://logs.monitoring.svc.cluster.local"}
    assert predictor["minReplicas"] == 2  # staging's own, over the project's
    # One commit wrote both files.
    changed = git(repo, "show", "--name-only", "--format=", "origin/env/staging").split()
    assert sorted(changed) == [
        "deploy/kserve/iris-logreg.yaml",
        "mlops/deployments/iris-logreg.yaml",
    ]


def test_a_bad_serving_section_is_refused_with_its_place(repo, mlops):
    configure(repo, SERVING.replace("ghcr.io/acme/mlops:1.4.0", "'evil image; rm -rf /'"))
    done = mlops("validate", cwd=repo)
    assert done.returncode == 1
    assert "mlops/project.yaml:4:" in done.stdout and "image" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


CANARY = SERVING.replace(
    "    branch: env/staging\n", "    branch: env/staging\n    strategy: canary\n"
)


def test_a_canary_promotion_sets_the_traffic_percent_and_completes(repo, mlops):
    configure(repo, CANARY)
    assert mlops("train", "iris-logreg", cwd=repo).returncode == 0
    assert mlops("promote", "iris-logreg", "--to", "staging", cwd=repo).returncode == 0
    model = repo / "mlops/models/iris-logreg.yaml"
    model.write_text(model.read_text().replace("C: 1.0", "C: 0.9"))
    git(repo, "commit", "-q", "-am", "A little more regularisation")
    git(repo, "push", "-q", "origin", "main")
    assert mlops("train", "iris-logreg", cwd=repo).returncode == 0

    done = mlops("promote", "iris-logreg", "--to", "staging", "--canary", "10", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "at 10%" in done.stdout
    show = "origin/env/staging:"
    pin = yaml.safe_load(git(repo, "show", f"{show}mlops/deployments/iris-logreg.yaml"))
    service = yaml.safe_load(git(repo, "show", f"{show}deploy/kserve/iris-logreg.yaml"))
    assert problems(service) == []
    assert service["spec"]["predictor"]["canaryTrafficPercent"] == 10
    assert service["metadata"]["labels"]["mlops.dev/version"] == pin["canary"]["version"]
    assert pin["canary"]["version"] != pin["version"]

    done = mlops("promote", "iris-logreg", "--to", "staging", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    completed = yaml.safe_load(git(repo, "show", f"{show}mlops/deployments/iris-logreg.yaml"))
    service = yaml.safe_load(git(repo, "show", f"{show}deploy/kserve/iris-logreg.yaml"))
    assert completed["version"] == pin["canary"]["version"] and completed["canary"] is None
    assert "canaryTrafficPercent" not in service["spec"]["predictor"]


def test_a_canary_needs_the_canary_strategy(repo, mlops):
    done = mlops("promote", "iris-logreg", "--to", "staging", "--canary", "10", cwd=repo)
    assert done.returncode == 1
    assert "strategy: canary" in done.stdout + done.stderr
