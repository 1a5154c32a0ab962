"""An on-call review of ``mlops rollback`` when the store no longer holds the pinned file.

The version rolled back to was retrained since it was pinned (on purpose, or by ``mlops
deploy`` after the store lost it), so the store's file has another sha256 than its old pin.
The rollback committed that old pin anyway and said it rolled back; every server then
refused it ("not the artifact that was promoted") and went on serving the version the
on-call person was rolling back from, logging the refusal at every poll. A rollback now
checks the file it pins, as a promotion does, before it commits anything.
"""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import git

pytestmark = pytest.mark.slow


def test_a_rollback_to_a_file_the_pin_does_not_name_is_refused_before_any_commit(
    iris_staged, mlops
):
    from engine.environments.pins import read_pins

    repo = iris_staged
    first = (read_pins(repo, "env/staging") or {})["iris-logreg"]
    model = repo / "mlops" / "models" / "iris-logreg.yaml"
    model.write_text(model.read_text().replace("max_iter: 500", "max_iter: 600"))
    git(repo, "commit", "-q", "-am", "More iterations")
    git(repo, "push", "-q", "origin", "main")
    for args in (("train", "iris-logreg"), ("promote", "iris-logreg", "--to", "staging")):
        done = mlops(*args, cwd=repo)
        assert done.returncode == 0, done.stdout + done.stderr
    # the first version is retrained: same version, a new file
    shutil.rmtree(repo / ".mlops" / "store" / "iris-logreg" / first.fingerprint)
    again = mlops("train", "iris-logreg", "--rev", first.source_commit, cwd=repo)
    assert again.returncode == 0, again.stdout + again.stderr
    tip = git(repo, "rev-parse", "origin/env/staging")

    refused = mlops("rollback", "iris-logreg", "--env", "staging", cwd=repo)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr
    assert first.sha256 is not None and first.sha256 in refused.stderr
    assert "promote it again to pin the new file" in refused.stderr
    git(repo, "fetch", "-q", "origin")
    assert git(repo, "rev-parse", "origin/env/staging") == tip  # nothing committed
