"""Blue-green through comment commands: the switch is a promotion, under the same policy.

Staging is blue-green and only maintainers may promote there. v1 is live in blue (from
main); the pull request's version is staged in green by ``/promote``; the same
``/promote`` by a writer (not on the allow list) is refused and nothing moves; by a
maintainer it switches; ``/rollback`` follows the same rule and switches back.
"""

from __future__ import annotations

import pytest
import yaml

from engine.forge.standin.server import GitHubStandIn
from tests.conftest import git
from tests.func.test_comments import PR, REPO, origin_of, replies, run

pytestmark = pytest.mark.slow

PROJECT = """\
store: {url: .mlops/store}
default_branch: main
environments:
  staging: {branch: env/staging, strategy: blue-green, allow: [maintain, admin]}
"""


def pin(repo):
    text = git(repo, "show", "origin/env/staging:mlops/deployments/iris-logreg.yaml")
    return yaml.safe_load(text)


def test_who_may_promote_decides_who_may_switch_and_roll_back(repo, mlops, tmp_path):
    (repo / "mlops/project.yaml").write_text(PROJECT)
    git(repo, "commit", "-q", "-am", "Staging deploys blue-green, maintainers only")
    git(repo, "push", "-q", "origin", "main")
    done = mlops("promote", "iris-logreg", "--to", "staging", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    v1 = pin(repo)["version"]
    git(repo, "switch", "-q", "-c", "tune-iris")
    model = repo / "mlops/models/iris-logreg.yaml"
    model.write_text(model.read_text().replace("C: 1.0", "C: 2.0"))
    git(repo, "commit", "-q", "-am", "Loosen iris-logreg's regularization")
    git(repo, "push", "-q", "origin", "tune-iris")
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "switch", "-q", "main")

    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        gh.add_pull(PR, head_sha=head, author="grace", head_ref="tune-iris")
        gh.add_status(head, "mlops/gates")
        gh.set_permission("ada", "maintain")
        gh.set_permission("eve", "write")
        command = "/promote iris-logreg to staging"

        result, _ = run(mlops, repo, tmp_path, gh, command, login="ada")
        assert result.returncode == 0, result.stderr
        assert "Staged `iris-logreg`" in replies(gh)[-1]
        staged = pin(repo)
        assert staged["version"] == v1 and staged["idle"]["role"] == "staged"
        v2 = staged["idle"]["version"]

        tip = git(repo, "rev-parse", "origin/env/staging")
        result, _ = run(mlops, repo, tmp_path, gh, command, login="eve")
        assert "Refused" in replies(gh)[-1] and "eve" in replies(gh)[-1]
        assert git(repo, "rev-parse", "origin/env/staging") == tip  # nothing moved

        result, _ = run(mlops, repo, tmp_path, gh, command, login="ada")
        assert result.returncode == 0, result.stderr
        assert "Switched `iris-logreg` in `staging` to `" + v2 in replies(gh)[-1]
        assert (pin(repo)["version"], pin(repo)["slot"]) == (v2, "green")

        rollback = "/rollback iris-logreg in staging"
        tip = git(repo, "rev-parse", "origin/env/staging")
        run(mlops, repo, tmp_path, gh, rollback, login="eve")
        assert "Refused" in replies(gh)[-1]
        assert git(repo, "rev-parse", "origin/env/staging") == tip

        result, _ = run(mlops, repo, tmp_path, gh, rollback, login="ada")
        assert result.returncode == 0, result.stderr
        assert "Rolled back `iris-logreg` in `staging` to `" + v1 in replies(gh)[-1]
        assert (pin(repo)["version"], pin(repo)["slot"]) == (v1, "blue")
