"""Upgrading scikit-learn under models that serve: versions trained by the older one.

A minor scikit-learn bump changes every model's fingerprint (it records the version), so
what the environments pin was trained by the older scikit-learn while the engine runs the
newer. These tests make such a version for real parts: a model trained and stored here,
then its skops file and record rewritten to say what an older scikit-learn writes (the
``_sklearn_version`` each estimator's state carries, which scikit-learn compares on load,
and the record's ``sklearn_version``), before it is promoted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from engine.definitions.catalog_format import sklearn_version
from tests.conftest import git, unseal_pin

ENGINE_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

OLD = "1.0.2"


def as_if_trained_with(version_dir: Path, old: str) -> None:
    """Rewrite a stored version as the older scikit-learn ``old`` would have written it."""
    model = version_dir / "model.skops"
    with zipfile.ZipFile(model) as source:
        members = {name: source.read(name) for name in source.namelist()}
    schema = members["schema.json"].decode()
    pattern = r'("_sklearn_version":\{[^{}]*?"content":"\\")[^"\\]+'
    schema, count = re.subn(pattern, lambda m: m[1] + old, schema)
    assert count > 0, "no estimator state records its scikit-learn version"
    members["schema.json"] = schema.encode()
    with zipfile.ZipFile(model, "w", compression=zipfile.ZIP_STORED) as target:
        for name, data in members.items():
            target.writestr(name, data)
    meta_file = version_dir / "meta.json"
    meta = json.loads(meta_file.read_text())
    meta["sklearn_version"] = old
    meta["files"]["model.skops"] = hashlib.sha256(model.read_bytes()).hexdigest()
    meta_file.write_text(json.dumps(meta))


def older_sklearn(folder: Path) -> dict[str, str]:
    """The environment of ``mlops`` as the team ran it before the upgrade, as far as the
    engine can tell: scikit-learn's metadata, first on the path, says ``OLD`` (the
    fingerprints and records take the version from there; the code that runs is this
    scikit-learn's, and :func:`as_if_trained_with` rewrites what it wrote)."""
    info = folder / f"scikit_learn-{OLD}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: scikit-learn\nVersion: {OLD}\n")
    return {"PYTHONPATH": os.pathsep.join([str(folder), str(ENGINE_ROOT)])}


@pytest.fixture
def pinned_old(repo: Path, tmp_path: Path, mlops) -> Path:
    """iris-logreg trained by scikit-learn ``OLD`` and promoted to staging by the engine
    of before the upgrade; the commands after it run this scikit-learn."""
    before = older_sklearn(tmp_path / "before")
    trained = mlops("train", "iris-logreg", cwd=repo, env=before)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    (version_dir,) = (repo / ".mlops/store/iris-logreg").iterdir()
    as_if_trained_with(version_dir, OLD)
    promoted = mlops("promote", "iris-logreg", "--to", "staging", cwd=repo, env=before)
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    return repo


def test_deploy_of_a_version_trained_by_an_older_sklearn_says_so_once_without_warnings(
    pinned_old, mlops
):
    """The pinned file still deploys (that is the point of pins: an upgrade must not take
    production down), but scikit-learn's own warning, one per estimator of the pipeline
    with a link, is not what the on-call engineer should read: one note per model says
    which scikit-learn trained it, which loads it, and how to move it."""
    done = mlops("deploy", "--env", "staging", cwd=pinned_old)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "InconsistentVersionWarning" not in done.stderr, done.stderr
    (line,) = [x for x in done.stdout.splitlines() if "iris-logreg@" in x]
    assert line.startswith(" ready  iris-logreg@")
    assert f"trained with scikit-learn {OLD}, loaded with {sklearn_version()}" in line
    assert "mlops promote iris-logreg --to staging" in line
    manifest = json.loads((pinned_old / ".mlops/deploy/staging/manifest.json").read_text())
    assert manifest["models"]["iris-logreg"]["record"]["sklearn_version"] == OLD
    assert git(pinned_old, "status", "--porcelain") == ""


def test_serve_loads_it_without_warnings_and_says_which_scikit_learn_trained_it(pinned_old):
    """What `mlops serve` prints before it answers (the same loading, in this process)."""
    import warnings

    from engine.serving.pinned import pinned_versions, version_skews

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scikit-learn's InconsistentVersionWarning included
        (loaded,) = pinned_versions(pinned_old, "staging")
    assert loaded.trained_with == OLD
    (line,) = version_skews([loaded])
    assert line.startswith(f"iris-logreg@{loaded.version} in staging was trained with ")
    assert f"scikit-learn {OLD}, loaded with {sklearn_version()}" in line
    assert version_skews([replace(loaded, trained_with=sklearn_version())]) == []


def test_promoting_the_version_an_older_sklearn_trained_says_why_no_revision_gives_it(
    pinned_old, mlops
):
    """Staging runs a version the older scikit-learn trained; after the upgrade, asking to
    promote exactly that version onwards cannot work (its definition now makes another
    version). "Pass the --rev whose version that is" sends the user looking for a commit
    that does not exist; the refusal must say that scikit-learn moved and what to do."""
    (staged,) = (pinned_old / ".mlops/store/iris-logreg").iterdir()
    old_version = staged.name[:12]
    done = mlops(
        "promote", "iris-logreg", "--to", "production", "--version", old_version, cwd=pinned_old
    )
    assert done.returncode == 1
    assert "pass the `--rev` whose version that is" not in done.stdout + done.stderr
    assert (
        f"`{old_version}` was trained with scikit-learn {OLD} and this engine runs "
        f"{sklearn_version()}: no revision makes that version any more"
    ) in done.stdout, done.stdout + done.stderr
    assert "mlops promote iris-logreg --to staging" in done.stdout


def test_a_pin_an_older_engine_wrote_without_a_hash_is_sealed_by_rolling_back_to_itself(
    pinned_old, mlops
):
    """Pins written before pins recorded the model file's sha256 are refused by deploy
    (it never trusts the store's own record). "Promote it again" cannot work once the
    engine or scikit-learn moved: no revision makes that version any more. Rolling back
    to the very version that runs pins it again with its hash, in a new commit."""
    unseal_pin(pinned_old, "iris-logreg")
    (version_dir,) = (pinned_old / ".mlops/store/iris-logreg").iterdir()
    version = version_dir.name[:12]

    refused = mlops("deploy", "--env", "staging", cwd=pinned_old)
    assert refused.returncode == 1
    fix = f"mlops rollback iris-logreg --env staging --to {version}"
    assert fix in refused.stdout, refused.stdout

    sealed = mlops(*fix.split()[1:], cwd=pinned_old)
    assert sealed.returncode == 0, sealed.stdout + sealed.stderr
    assert "nothing to do" not in sealed.stdout
    pinned = git(pinned_old, "show", "origin/env/staging:mlops/deployments/iris-logreg.yaml")
    sha = hashlib.sha256((version_dir / "model.skops").read_bytes()).hexdigest()
    assert f"sha256: '{sha}'" in pinned and f"version: '{version}'" in pinned
    assert mlops("deploy", "--env", "staging", cwd=pinned_old).returncode == 0
    again = mlops(*fix.split()[1:], cwd=pinned_old)  # sealed: now it is a no-op
    assert again.returncode == 0 and "nothing to do" in again.stdout


GITHUB_REFUSAL = (
    "refusing to allow a GitHub App to create or update workflow "
    "`.github/workflows/mlops-main.yml` without `workflows` permission"
)


def test_a_promotion_refused_for_carrying_new_workflows_says_to_merge_main_by_hand(
    iris_staged, mlops
):
    """After an engine upgrade, main's workflows changed; a /promote merges main into the
    environment branch, and GitHub refuses a GITHUB_TOKEN push that changes workflows.
    The origin here refuses such a push as GitHub does (a hook saying GitHub's words).
    The answer must name the cause and the one-time fix, not a protected branch."""
    origin = Path(git(iris_staged, "remote", "get-url", "origin"))
    hook = origin / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\n"
        "while read old new ref; do\n"
        '  case "$ref" in refs/heads/env/*)\n'
        '    if git diff --name-only "$old" "$new" -- .github/workflows | grep -q .; then\n'
        f'      echo "{GITHUB_REFUSAL}" >&2; exit 1\n'
        "    fi;;\n"
        "  esac\n"
        "done\n"
    )
    hook.chmod(0o755)
    workflows = iris_staged / ".github/workflows"
    workflows.mkdir(parents=True)
    (workflows / "mlops-main.yml").write_text("name: mlops main\n")
    git(iris_staged, "add", "-A")
    git(iris_staged, "commit", "-q", "-m", "Upgrade the engine: new workflows")
    git(iris_staged, "push", "-q", "origin", "main")

    done = mlops("promote", "diabetes-ridge", "--to", "staging", cwd=iris_staged)
    assert done.returncode == 1
    said = done.stdout + done.stderr
    assert "Traceback" not in said
    assert "allow the engine's identity to push" not in said, said
    assert "changes .github/workflows/" in said, said
    assert "merge it into env/staging by hand once" in said, said
    assert "git merge origin/main" in said, said  # the default branch by its name
    assert "docs/upgrading.md" in said
