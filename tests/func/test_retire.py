"""Retiring a model from an environment: ``/retire`` and ``mlops retire`` end to end, with a
real bare origin and the GitHub stand-in (the outside review: a model deleted on main
stayed deployed for ever, and ``/rollback`` said "there is no model")."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.forge.standin.server import GitHubStandIn
from tests.conftest import git
from tests.func.test_comments import PR, REPO, origin_of, replies, run

pytestmark = pytest.mark.slow

PIN = "mlops/deployments/iris-logreg.yaml"
MANIFEST = "deploy/kserve/iris-logreg.yaml"


def tip(repo: Path, branch: str = "env/staging") -> str:
    return git(repo, "ls-remote", "origin", f"refs/heads/{branch}").split()[0]


def on_staging(repo: Path) -> list[str]:
    git(repo, "fetch", "-q", "origin")
    return git(repo, "ls-tree", "-r", "--name-only", "origin/env/staging").splitlines()


def delete_on_main(repo: Path) -> str:
    """Delete iris-logreg's definition on main (pushed); open a PR on top; return its head."""
    git(repo, "rm", "-q", "mlops/models/iris-logreg.yaml")
    git(repo, "commit", "-q", "-m", "Drop iris-logreg")
    git(repo, "push", "-q", "origin", "main")
    git(repo, "switch", "-q", "-c", "notes")
    (repo / "NOTES.md").write_text("notes\n")
    git(repo, "add", "NOTES.md")
    git(repo, "commit", "-q", "-m", "Notes")
    git(repo, "push", "-q", "origin", "notes")
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "switch", "-q", "main")
    return head


def again(mlops, repo: Path, tmp: Path, gh: GitHubStandIn):
    """The same job with the same payload: GitHub's "Re-run jobs"."""
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "issue_comment",
        "GITHUB_EVENT_PATH": str(tmp / "comment.json"),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": gh.url,
        "GITHUB_TOKEN": "ghs_standin",
    }
    return mlops("event", cwd=repo, env=env)


def test_retire_a_model_deleted_on_main_and_a_re_run_changes_nothing(iris_staged, mlops, tmp_path):
    repo = iris_staged
    assert PIN in on_staging(repo) and MANIFEST in on_staging(repo)
    head = delete_on_main(repo)
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        gh.add_pull(PR, head_sha=head, author="grace", head_ref="notes")
        gh.set_permission("ada", "write")
        # the parser knows a model the environment still pins: rollback is understood
        run(mlops, repo, tmp_path, gh, "/rollback iris-logreg in staging")
        assert "there is no model" not in replies(gh)[-1]
        before = tip(repo)

        result, cid = run(
            mlops, repo, tmp_path, gh, "Deleted on main.\n/retire iris-logreg staging"
        )
        reply = replies(gh)[-1]
        assert result.returncode == 0, reply
        assert gh.reactions(cid) == ["eyes", "rocket"]
        assert "Retired `iris-logreg` from `staging`" in reply and "pushed as" in reply
        assert [d.ref for d in gh.dispatches][-1:] == ["env/staging"]
        retired = tip(repo)
        assert git(repo, "rev-parse", f"{retired}^") == before  # one new commit, no force
        message = git(repo, "log", "-1", "--format=%B", retired)
        assert message.startswith("Retire iris-logreg from staging")
        assert f"Requested-by-comment: {cid}/1" in message and "Retired-by: ada" in message

        dispatched = len(gh.dispatches)
        rerun = again(mlops, repo, tmp_path, gh)
        assert rerun.returncode == 0, replies(gh)
        assert "already carried out" in replies(gh)[-1]
        assert tip(repo) == retired
        # its commit is still the tip: the first run may have stopped before dispatching
        # the deploy (a push with GITHUB_TOKEN starts none), so the re-run starts it
        assert [d.ref for d in gh.dispatches[dispatched:]] == ["env/staging"]
    files = on_staging(repo)
    assert PIN not in files and MANIFEST not in files
    history = mlops("history", "iris-logreg", "--json", cwd=repo)
    assert history.returncode == 0, history.stderr
    assert '"retire"' in history.stdout  # the audit log names it


def test_an_outsiders_retire_is_refused_and_nothing_is_pushed(iris_staged, mlops, tmp_path):
    repo = iris_staged
    head = delete_on_main(repo)
    before = tip(repo)
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        gh.add_pull(PR, head_sha=head, author="grace", head_ref="notes")
        gh.set_permission("mallory", "triage")
        result, cid = run(
            mlops, repo, tmp_path, gh, "/retire iris-logreg in staging", login="mallory"
        )
        assert result.returncode == 1
        assert gh.reactions(cid) == ["eyes", "confused"]
        (reply,) = replies(gh)
        assert "Refused" in reply and "mallory" in reply
        assert gh.dispatches == []
    assert tip(repo) == before and PIN in on_staging(repo)


def test_a_writer_on_a_fork_pull_request_is_refused(iris_staged, mlops, tmp_path):
    repo = iris_staged
    head = delete_on_main(repo)
    before = tip(repo)
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        gh.add_pull(PR, head_sha=head, author="grace", head_ref="notes", head_repo="them/fork")
        gh.set_permission("ada", "write")
        result, _ = run(mlops, repo, tmp_path, gh, "/retire iris-logreg staging")
        assert result.returncode == 1
        assert "fork" in replies(gh)[-1]
    assert tip(repo) == before


def test_retiring_what_the_environment_does_not_pin_says_what_it_pins(iris_staged, mlops, tmp_path):
    repo = iris_staged
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        head = git(repo, "rev-parse", "HEAD")
        gh.add_pull(PR, head_sha=head, author="grace")
        gh.set_permission("ada", "write")
        before = tip(repo)
        result, _ = run(mlops, repo, tmp_path, gh, "/retire diabetes-ridge staging")
        assert result.returncode == 1
        reply = replies(gh)[-1]
        assert "'diabetes-ridge' is not pinned in staging" in reply
        assert "the models pinned there are iris-logreg" in reply
        result, _ = run(mlops, repo, tmp_path, gh, "/retire nope staging")
        assert "there is no model `nope`" in replies(gh)[-1]  # pinned nowhere either
    assert tip(repo) == before


def test_mlops_retire_from_the_terminal(iris_staged, mlops):
    repo = iris_staged
    missing = mlops("retire", "diabetes-ridge", "--env", "staging", cwd=repo)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "the models pinned there are iris-logreg" in missing.stderr + missing.stdout
    done = mlops("retire", "iris-logreg", "--env", "staging", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "Retired `iris-logreg` from `staging`" in done.stdout
    files = on_staging(repo)
    assert PIN not in files and MANIFEST not in files
    status = mlops("status", "--json", cwd=repo)
    assert "iris-logreg" not in status.stdout
    # a rollback of a retired model is refused before any version is made ready
    back = mlops("rollback", "iris-logreg", "--env", "staging", cwd=repo)
    assert back.returncode == 1 and "'iris-logreg' is not pinned in staging" in back.stderr
    # the branch shows the retirement in the history, without the local action log (a
    # comment's job wrote that on its runner)
    shutil.rmtree(repo / ".mlops" / "logs")
    events = json.loads(mlops("history", "iris-logreg", "--json", cwd=repo).stdout)
    retired = [e for e in events if e["event"] == "retire"]
    assert [(e["environment"], e["source"]) for e in retired] == [("staging", "branch")]
    assert retired[0]["by"] and retired[0]["version"]
    # the previous pin stays in the branch's history: promoting brings the model back
    assert "Retire iris-logreg from staging" in git(
        repo, "log", "-1", "--format=%s", "origin/env/staging"
    )


def test_status_suggests_retiring_a_deleted_model_not_one_whose_file_is_only_invalid(
    iris_staged, mlops
):
    """A model file on main that merely fails validation is a model still defined: telling
    the team to `/retire` it invites a destructive command for a typo (the second read)."""
    repo = iris_staged
    model = repo / "mlops" / "models" / "iris-logreg.yaml"
    model.write_text(model.read_text() + "no_such_field: 1\n")
    git(repo, "commit", "-q", "-am", "A typo")
    git(repo, "push", "-q", "origin", "main")
    status = mlops("status", cwd=repo)
    assert status.returncode == 0, status.stderr
    assert "iris-logreg" in status.stdout and "no longer defined" not in status.stdout
    git(repo, "rm", "-q", str(model))
    git(repo, "commit", "-q", "-m", "Drop iris-logreg")
    git(repo, "push", "-q", "origin", "main")
    assert "`iris-logreg` is no longer defined" in mlops("status", cwd=repo).stdout
