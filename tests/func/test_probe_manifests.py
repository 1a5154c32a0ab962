"""An outside review of the manifests promotion writes on an environment branch.

- Promoting ``iris-logreg`` deleted ``deploy/kserve/iris-logreg-blue.yaml``, the manifest of
  another model still pinned there (a promotion clears its own blue-green slot files by
  path, and ``<model>-blue.yaml`` is also the path of a model named ``<model>-blue``): a
  GitOps controller that prunes then undeploys that model. Fixed in
  ``engine/environments/branch.py`` (``commit_change`` deletes only its model's manifests).
- The InferenceService's container ran ``mlops serve --env ENV --model M`` in the image's
  working directory, where there is no repository: the pod could not start. Fixed in
  ``engine/environments/manifest.py`` and ``engine/serving/pod.py``: it runs ``mlops serve
  --model-dir /mnt/models`` with the pin's sha256 and the serving spec as arguments.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import commit, git
from tests.func.serving import MLOPS, call, free_port, served

pytestmark = pytest.mark.slow


def test_promoting_a_model_keeps_the_manifest_of_a_model_named_like_its_slot(iris_staged, mlops):
    repo = iris_staged
    definition = (repo / "mlops/models/iris-logreg.yaml").read_text()
    (repo / "mlops/models/iris-logreg-blue.yaml").write_text(
        definition.replace("name: iris-logreg", "name: iris-logreg-blue")
    )
    commit(repo, "A second model, named like a slot")
    git(repo, "push", "-q", "origin", "main")
    for args in (
        ("train", "iris-logreg-blue"),
        ("promote", "iris-logreg-blue", "--to", "staging"),
    ):
        done = mlops(*args, cwd=repo)
        assert done.returncode == 0, done.stdout + done.stderr
    (repo / "mlops/models/iris-logreg.yaml").write_text(definition.replace("C: 1.0", "C: 2.0"))
    commit(repo, "Less regularization")
    git(repo, "push", "-q", "origin", "main")
    for args in (("train", "iris-logreg"), ("promote", "iris-logreg", "--to", "staging")):
        done = mlops(*args, cwd=repo)
        assert done.returncode == 0, done.stdout + done.stderr

    listed = git(repo, "ls-tree", "--name-only", "origin/env/staging", "deploy/kserve/")
    assert listed.splitlines() == [
        "deploy/kserve/iris-logreg-blue.yaml",
        "deploy/kserve/iris-logreg.yaml",
    ]
    kept = yaml.safe_load(
        git(repo, "show", "origin/env/staging:deploy/kserve/iris-logreg-blue.yaml")
    )
    assert kept["metadata"]["labels"]["mlops.dev/model"] == "iris-logreg-blue"


def _pod(repo: Path, pod: Path) -> tuple[list[str], str]:
    """The manifest's container arguments as a pod runs them, with ``pod`` as /mnt/models:
    a copy of the store's ``<model>/<fingerprint>`` folder (what KServe's storage
    initializer downloads), and the pod's host and port swapped for loopback ones."""
    service = yaml.safe_load(git(repo, "show", "origin/env/staging:deploy/kserve/iris-logreg.yaml"))
    (container,) = service["spec"]["predictor"]["containers"]
    fingerprint = service["metadata"]["annotations"]["mlops.dev/fingerprint"]
    shutil.copytree(repo / ".mlops/store/iris-logreg" / fingerprint, pod / "models")
    port = str(free_port())
    swap = {"/mnt/models": str(pod / "models"), "0.0.0.0": "127.0.0.1", "8080": port}
    assert container["command"] == ["mlops"] and container["args"][0] == "serve"
    return [swap.get(a, a) for a in container["args"][1:]], port


def test_the_manifests_container_command_starts_where_a_pod_runs_it(iris_staged, tmp_path):
    pod = tmp_path / "pod"  # the image's working directory: no repository there
    pod.mkdir()
    args, port = _pod(iris_staged, pod)
    version = git(iris_staged, "show", "origin/env/staging:deploy/kserve/iris-logreg.yaml")
    version = yaml.safe_load(version)["metadata"]["labels"]["mlops.dev/version"]
    with served(pod, *args, port=int(port)) as url:
        reply = call(f"{url}/v1/models/iris-logreg:predict", {"instances": [[6.8, 2.8, 4.8, 1.4]]})
        assert reply.status == 200, reply.body
        assert reply.body["predictions"] == [1]
        assert reply.body["model_version"] == version
        assert reply.headers["x-model-version"] == version
        bad = call(f"{url}/v1/models/iris-logreg:predict", {"instances": [[6.8, "x", 4.8, 1.4]]})
        assert bad.status == 400  # the columns' types came with the manifest
    assert not (pod / ".mlops").exists()  # nothing looked for a repository


def test_a_pod_refuses_a_model_file_that_is_not_the_pinned_one(iris_staged, tmp_path):
    pod = tmp_path / "pod"
    pod.mkdir()
    args, _ = _pod(iris_staged, pod)
    model = pod / "models/model.skops"
    model.write_bytes(model.read_bytes() + b"\0")  # resealed meta.json would not help
    done = subprocess.run(
        [str(MLOPS), "serve", *args], cwd=pod, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stderr
    assert "refusing to load" in done.stderr and "Traceback" not in done.stderr
    wrong = [a if a != args[args.index("--sha256") + 1] else "0" * 64 for a in args]
    shutil.copy(
        iris_staged
        / ".mlops/store/iris-logreg"
        / args[args.index("--fingerprint") + 1]
        / "model.skops",
        model,
    )
    done = subprocess.run(
        [str(MLOPS), "serve", *wrong], cwd=pod, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and "0" * 64 in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_status_prints_json_when_asked(iris_staged, mlops):
    """DESIGN §5: ``--json`` where output is data; ``mlops status`` had none."""
    done = mlops("status", "--json", cwd=iris_staged)
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)
    assert (row["environment"], row["model"], row["traffic_percent"], row["role"]) == (
        "staging",
        "iris-logreg",
        100,
        "direct",
    )
    assert row["fingerprint"].startswith(row["version"])
