"""Blue-green in jobs whose store starts empty (comment.yml, deploy.yml on Actions).

A staged version missing from the store is retrained when it is promoted again, and a
retrained ``model.skops`` is not byte for byte the staged one: the switch must still
switch (to the bytes this job verified), never stage the same version again; and
``promote --switch`` either switches or refuses.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import copy_prepared, git, init_repo
from tests.func.serving import mlops

pytestmark = pytest.mark.slow

PROJECT = """\
store: {url: .mlops/store}
default_branch: main
environments:
  staging: {branch: env/staging, strategy: blue-green}
"""


def pin(repo):
    text = git(repo, "show", "origin/env/staging:mlops/deployments/iris-logreg.yaml")
    return yaml.safe_load(text)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Staging blue-green, v1 live in blue (C=1.0), v2 (C=0.9) staged in green. Built once:
    each test gets a copy (``staged``)."""
    folder = tmp_path_factory.mktemp("bluegreen-fresh")
    repo = init_repo(folder / "repo")
    (repo / "mlops/project.yaml").write_text(PROJECT)
    git(repo, "commit", "-q", "-am", "Staging deploys blue-green")
    git(repo, "push", "-q", "origin", "main")
    done = mlops("promote", "iris-logreg", "--to", "staging", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    model = repo / "mlops/models/iris-logreg.yaml"
    model.write_text(model.read_text().replace("C: 1.0", "C: 0.9"))
    git(repo, "commit", "-q", "-am", "More regularisation")
    git(repo, "push", "-q", "origin", "main")
    done = mlops("promote", "iris-logreg", "--to", "staging", cwd=repo)
    assert "Staged `iris-logreg`" in done.stdout, done.stdout + done.stderr
    return folder


@pytest.fixture
def staged(prepared: Path, tmp_path: Path) -> Path:
    """A copy of ``prepared``: the repository and its origin."""
    copy_prepared(prepared, tmp_path)
    return tmp_path / "repo"


@pytest.mark.parametrize("switch", [False, True], ids=["promote-again", "promote-switch"])
def test_promoting_the_staged_version_from_an_empty_store_switches(staged, switch):
    repo = staged
    now = pin(repo)
    v1, v2 = now["version"], now["idle"]["version"]
    assert (now["slot"], now["idle"]["role"]) == ("blue", "staged")

    shutil.rmtree(repo / ".mlops/store")  # a fresh job: nothing stored
    args = ["--switch"] if switch else []
    done = mlops("promote", "iris-logreg", "--to", "staging", *args, cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Switched `iris-logreg`" in done.stdout, done.stdout
    now = pin(repo)
    assert (now["version"], now["slot"], now["action"]) == (v2, "green", "switch")
    assert (now["idle"]["version"], now["idle"]["role"]) == (v1, "previous")


def test_switch_never_stages_another_version(staged, tmp_path):
    """``promote --switch`` moves traffic to the idle slot's version or refuses: when the
    slot's source commit gives another version (here a pin edited by hand on the branch),
    it does not stage that one instead."""
    repo = staged
    edit = tmp_path / "edit"
    git(repo, "worktree", "add", "-q", str(edit), "origin/env/staging")
    path = edit / "mlops/deployments/iris-logreg.yaml"
    data = yaml.safe_load(path.read_text())
    data["idle"].update(fingerprint="ab" * 32, version="ab" * 6)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    git(edit, "commit", "-q", "-am", "Hand edit")
    git(edit, "push", "-q", "origin", "HEAD:env/staging")
    tip = git(repo, "rev-parse", "origin/env/staging")

    done = mlops("promote", "iris-logreg", "--to", "staging", "--switch", cwd=repo)
    assert done.returncode != 0 and "Staged" not in done.stdout, done.stdout
    assert "switching would stage that instead" in done.stdout + done.stderr
    git(repo, "fetch", "-q", "origin")
    assert git(repo, "rev-parse", "origin/env/staging") == tip  # nothing moved
