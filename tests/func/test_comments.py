"""Comment commands end to end: ``mlops event`` on ``issue_comment`` against the stand-in,
with a real bare origin that receives the environment branch."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.forge.standin.server import GitHubStandIn
from tests.conftest import git

WEBHOOKS = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "webhooks"
REPO = "octo/models"
PR = 9

pytestmark = pytest.mark.slow


@pytest.fixture
def pr_head(repo: Path) -> str:
    """A pull-request branch pushed to origin; the checkout goes back to main."""
    return push_pr_head(repo)


def push_pr_head(repo: Path) -> str:
    """Push branch ``tune-iris`` (iris-logreg with C 2.0); return its head; back on main."""
    git(repo, "switch", "-q", "-c", "tune-iris")
    model = repo / "mlops" / "models" / "iris-logreg.yaml"
    model.write_text(model.read_text().replace("C: 1.0", "C: 2.0"))
    git(repo, "commit", "-q", "-am", "Loosen iris-logreg's regularization")
    git(repo, "push", "-q", "origin", "tune-iris")
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "switch", "-q", "main")
    return head


def comment_event(
    tmp: Path,
    body: str,
    comment_id: int,
    *,
    login: str = "ada",
    kind: str = "User",
    action: str = "created",
    created_at: str = "",
    private: bool = False,
) -> Path:
    data = json.loads((WEBHOOKS / "issue_comment.created.json").read_text())
    data["action"] = action
    data["repository"]["full_name"] = REPO
    data["repository"]["default_branch"] = "main"
    data["repository"]["private"] = private
    data["issue"]["number"] = PR
    data["issue"]["pull_request"] = {"url": f"https://api.github.com/repos/{REPO}/pulls/{PR}"}
    data["comment"].update(
        {
            "id": comment_id,
            "body": body,
            "created_at": created_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )
    data["comment"]["user"].update({"login": login, "type": kind})
    data["sender"].update({"login": login, "type": kind})
    path = tmp / "comment.json"
    path.write_text(json.dumps(data))
    return path


def run(mlops, repo, tmp, gh, body, before_job=None, **who):
    """Post the comment in the stand-in, then run the engine on its webhook.

    ``before_job`` runs between the comment and the job (what happens while it is queued).
    """
    comment_id = gh.add_comment(PR, body, author=who.get("login", "ada"))
    event = comment_event(tmp, body, comment_id, **who)
    if before_job is not None:
        before_job()
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "issue_comment",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": gh.url,
        "GITHUB_TOKEN": "ghs_standin",
    }
    return mlops("event", cwd=repo, env=env), comment_id


def replies(gh) -> list[str]:
    return [c.body for c in gh.comments(PR) if c.user == "github-actions[bot]"]


def origin_of(repo: Path) -> Path:
    return repo.parent / f"{repo.name}-origin.git"


def branch_exists(repo: Path, branch: str) -> bool:
    return bool(git(repo, "ls-remote", "origin", f"refs/heads/{branch}"))


def test_promote_by_a_writer_pins_the_version_and_dispatches_deploy(repo, pr_head, mlops, tmp_path):
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        gh.add_pull(PR, head_sha=pr_head, author="grace", head_ref="tune-iris")
        gh.add_status(pr_head, "mlops/gates")  # the engine reviewed this head
        gh.set_permission("ada", "write")
        result, cid = run(mlops, repo, tmp_path, gh, "Looks good.\n/promote iris-logreg to staging")
        assert result.returncode == 0, result.stderr
        assert gh.reactions(cid) == ["eyes", "rocket"]
        posted = replies(gh)
        assert len(posted) == 1 and "Promoted `iris-logreg`" in posted[0]
        assert [d.ref for d in gh.dispatches] == ["env/staging"]
    assert branch_exists(repo, "env/staging")
    pin = git(repo, "show", "origin/env/staging:mlops/deployments/iris-logreg.yaml")
    assert "promoted_by: 'ada'" in pin and f"source_commit: '{pr_head}'" in pin
    message = git(repo, "log", "-1", "--format=%B", "origin/env/staging")
    assert "Promoted-by: ada" in message and f"Source-PR: #{PR}" in message


def test_a_triager_is_refused_and_nothing_is_pushed(repo, pr_head, mlops, tmp_path):
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        gh.add_pull(PR, head_sha=pr_head, author="grace")
        gh.set_permission("mallory", "triage")
        result, cid = run(
            mlops, repo, tmp_path, gh, "/promote iris-logreg to staging", login="mallory"
        )
        assert result.returncode == 1
        assert gh.reactions(cid) == ["eyes", "confused"]
        (reply,) = replies(gh)
        assert "Refused" in reply and "mallory" in reply
    assert not branch_exists(repo, "env/staging")


@pytest.mark.parametrize("command", ["/help", "/status", "/promote iris-logreg to staging"])
@pytest.mark.parametrize("role", ["read", "none"])
def test_outsiders_on_a_public_repository_get_a_reaction_not_a_reply(
    repo, pr_head, mlops, tmp_path, command, role
):
    """Issue 10 (low): a reply notifies every watcher, so answering anyone is a spam
    amplifier; on a public repository everyone can read, so replies need triage."""
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        gh.add_pull(PR, head_sha=pr_head, author="grace")
        if role != "none":
            gh.set_permission("spammer", role)
        result, cid = run(mlops, repo, tmp_path, gh, command, login="spammer")
        assert result.returncode == 0
        assert replies(gh) == [] and gh.reactions(cid) == ["eyes", "confused"]
        assert gh.calls("GET", rf"/pulls/{PR}$") == 0  # nothing else is looked up
    assert not branch_exists(repo, "env/staging")


def test_a_reader_of_a_private_repository_gets_help(repo, pr_head, mlops, tmp_path):
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        gh.add_pull(PR, head_sha=pr_head)
        gh.set_permission("reader", "read")
        result, cid = run(mlops, repo, tmp_path, gh, "/help", login="reader", private=True)
        assert result.returncode == 0
        (reply,) = replies(gh)
        assert "/promote" in reply and gh.reactions(cid) == ["eyes", "rocket"]


def test_production_needs_staging_and_an_approval(repo, pr_head, mlops, tmp_path):
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        gh.add_pull(PR, head_sha=pr_head, author="grace")
        gh.add_status(pr_head, "mlops/gates")
        gh.set_permission("ada", "admin")
        result, _ = run(mlops, repo, tmp_path, gh, "/promote iris-logreg production")
        assert result.returncode == 1
        (reply,) = replies(gh)
        assert "staging" in reply and "approving review" in reply
    assert not branch_exists(repo, "env/production")


@pytest.mark.parametrize("who", [{"login": "dependabot[bot]", "kind": "Bot"}, {"action": "edited"}])
def test_bots_and_edits_get_no_answer(repo, pr_head, mlops, tmp_path, who):
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        gh.add_pull(PR, head_sha=pr_head)
        gh.set_permission("ada", "admin")
        result, cid = run(mlops, repo, tmp_path, gh, "/promote iris-logreg to staging", **who)
        assert result.returncode == 0
        assert replies(gh) == [] and gh.reactions(cid) == []


def test_a_command_deleted_before_its_job_ran_is_not_run(repo, pr_head, mlops, tmp_path):
    """Edits are ignored, so deleting the comment is how a mistaken command is taken back:
    the job (queued behind others) promoted it anyway, reacting to nothing."""
    import requests

    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        gh.add_pull(PR, head_sha=pr_head, author="grace")
        gh.add_status(pr_head, "mlops/gates")
        gh.set_permission("ada", "write")

        def delete_it() -> None:
            (mine,) = gh.comments(PR)
            gone = requests.delete(
                f"{gh.url}/repos/{REPO}/issues/comments/{mine.id}",
                headers={"Authorization": "token ghs_standin"},
                timeout=10,
            )
            assert gone.status_code == 204

        result, _ = run(mlops, repo, tmp_path, gh, "/promote iris-logreg to staging", delete_it)
        assert result.returncode == 0, result.stderr
        assert "deleted" in result.stdout + result.stderr
        assert gh.comments(PR) == [] and gh.dispatches == []
    assert not branch_exists(repo, "env/staging")


def test_help_and_a_misspelled_command(repo, pr_head, mlops, tmp_path):
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        gh.add_pull(PR, head_sha=pr_head)
        gh.set_permission("ada", "write")
        result, _ = run(mlops, repo, tmp_path, gh, "/help\n/promte iris-logreg to staging")
        assert result.returncode == 1
        help_reply, typo_reply = replies(gh)
        assert "/promote" in help_reply and "staging" in help_reply
        assert "did you mean" in typo_reply


def approved(gh: GitHubStandIn, pr_head: str) -> None:
    """Grace's pull request, gates passed on its head and approved there by linus (a
    maintainer, as ada who comments)."""
    gh.add_pull(PR, head_sha=pr_head, author="grace")
    gh.add_status(pr_head, "mlops/gates")
    gh.set_permission("ada", "maintain")
    gh.add_review(PR, "linus", "APPROVED", pr_head)
    gh.set_permission("linus", "maintain")


def test_production_after_staging_with_an_approval_on_the_head(repo, pr_head, mlops, tmp_path):
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        approved(gh, pr_head)
        staged, _ = run(mlops, repo, tmp_path, gh, "/promote iris-logreg to staging")
        assert staged.returncode == 0, staged.stderr
        result, cid = run(mlops, repo, tmp_path, gh, "/promote iris-logreg to production")
        assert result.returncode == 1  # from_default_branch: the PR is not merged yet
        assert "default branch" in replies(gh)[-1]

        git(repo, "merge", "-q", "--no-ff", "-m", "Merge tune-iris", "tune-iris")
        git(repo, "push", "-q", "origin", "main")
        result, cid = run(mlops, repo, tmp_path, gh, "/promote iris-logreg to production")
        assert result.returncode == 0, replies(gh)[-1]
        assert gh.reactions(cid) == ["eyes", "rocket"]
    assert "Source-PR: #9" in git(repo, "log", "-1", "--format=%B", "origin/env/production")


@pytest.mark.parametrize("how", ["squash", "rebase"])
def test_production_after_a_squash_or_rebase_merge(repo, pr_head, mlops, tmp_path, how):
    """GitHub's "Squash and merge" and "Rebase and merge" put new commits on main, never
    the pull request's head: `from_default_branch` refused its version for ever, saying to
    merge the pull request (it was) and promote the version it trains there (the same)."""
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        approved(gh, pr_head)
        staged, _ = run(mlops, repo, tmp_path, gh, "/promote iris-logreg to staging")
        assert staged.returncode == 0, staged.stderr

        git(repo, "commit", "-q", "--allow-empty", "-m", "Meanwhile on main")
        if how == "squash":
            git(repo, "merge", "-q", "--squash", "tune-iris")
            git(repo, "commit", "-q", "-m", "Loosen iris-logreg's regularization (#9)")
        else:
            git(repo, "cherry-pick", "tune-iris")
        git(repo, "push", "-q", "origin", "main")
        merged = git(repo, "rev-parse", "HEAD")
        result, cid = run(mlops, repo, tmp_path, gh, "/promote iris-logreg to production")
        assert result.returncode == 0, replies(gh)[-1]
        assert gh.reactions(cid) == ["eyes", "rocket"]
    pin = git(repo, "show", "origin/env/production:mlops/deployments/iris-logreg.yaml")
    assert f"source_commit: '{merged}'" in pin  # the commit on main that trains it


def test_a_push_after_the_comment_is_refused(repo, pr_head, mlops, tmp_path):
    """The head was reviewed (and so pushed) after the comment: not what was approved."""
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        gh.add_pull(PR, head_sha=pr_head)
        gh.add_status(pr_head, "mlops/gates")
        gh.set_permission("ada", "write")
        result, cid = run(
            mlops,
            repo,
            tmp_path,
            gh,
            "/promote iris-logreg to staging",
            created_at="2020-01-01T00:00:00Z",
        )
        assert result.returncode == 1
        assert "was not reviewed by mlops before your comment" in replies(gh)[-1]
        assert gh.reactions(cid) == ["eyes", "confused"]
    assert not branch_exists(repo, "env/staging")


def test_an_unreviewed_head_is_refused(repo, pr_head, mlops, tmp_path):
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        gh.add_pull(PR, head_sha=pr_head)
        gh.set_permission("ada", "write")
        result, _ = run(mlops, repo, tmp_path, gh, "/promote iris-logreg to staging")
        assert result.returncode == 1
        assert "was not reviewed by mlops before your comment" in replies(gh)[-1]
    assert not branch_exists(repo, "env/staging")


def test_a_status_set_by_someone_else_does_not_bind_a_command(repo, pr_head, mlops, tmp_path):
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        gh.add_pull(PR, head_sha=pr_head)
        gh.add_status(pr_head, "mlops/gates", creator="mallory")  # not the engine's review
        gh.set_permission("ada", "write")
        result, _ = run(mlops, repo, tmp_path, gh, "/promote iris-logreg to staging")
        assert result.returncode == 1
        assert "was not reviewed by mlops before your comment" in replies(gh)[-1]
    assert not branch_exists(repo, "env/staging")


def push_on_top(repo: Path, branch: str = "tune-iris") -> str:
    """A second commit on the pull request's branch, pushed to origin."""
    git(repo, "switch", "-q", branch)
    model = repo / "mlops" / "models" / "iris-logreg.yaml"
    model.write_text(model.read_text().replace("C: 2.0", "C: 3.0"))
    git(repo, "commit", "-q", "-am", "Loosen it further")
    git(repo, "push", "-q", "origin", branch)
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "switch", "-q", "main")
    return head


def test_swapping_the_head_back_after_the_comment_is_refused(repo, pr_head, mlops, tmp_path):
    """Issue 10 hole 3: A reviewed, B pushed and reviewed, `/promote` written while B is the
    head, A force-pushed back before the job runs. A was reviewed before the comment, but
    the timeline shows the head was rewritten after it."""
    a, b = pr_head, push_on_top(repo)
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        gh.add_pull(PR, head_sha=a, author="grace", head_ref="tune-iris")
        gh.add_status(a, "mlops/gates")
        gh.push(PR, b, pusher="grace")
        gh.add_status(b, "mlops/gates")
        gh.set_permission("ada", "write")

        def swap_back() -> None:
            git(repo, "push", "-q", "--force", "origin", f"{a}:refs/heads/tune-iris")
            gh.push(PR, a, force=True, pusher="grace")

        result, cid = run(
            mlops, repo, tmp_path, gh, "/promote iris-logreg to staging", before_job=swap_back
        )
        assert result.returncode == 1
        assert "force-pushed after your comment" in replies(gh)[-1]
        assert gh.reactions(cid) == ["eyes", "confused"]
        assert gh.calls("GET", rf"/issues/{PR}/timeline$") >= 1
    assert not branch_exists(repo, "env/staging")


def test_a_later_plain_push_that_was_reviewed_before_the_comment_is_promoted(
    repo, pr_head, mlops, tmp_path
):
    """The normal path with a timeline: A, then B pushed and reviewed, comment, job."""
    b = push_on_top(repo)
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        gh.add_pull(PR, head_sha=pr_head, author="grace", head_ref="tune-iris")
        gh.add_status(pr_head, "mlops/gates")
        gh.push(PR, b, pusher="grace")
        gh.add_status(b, "mlops/gates")
        gh.set_permission("ada", "write")
        result, cid = run(mlops, repo, tmp_path, gh, "/promote iris-logreg to staging")
        assert result.returncode == 0, replies(gh)
        assert gh.reactions(cid) == ["eyes", "rocket"]
    pin = git(repo, "show", "origin/env/staging:mlops/deployments/iris-logreg.yaml")
    assert f"source_commit: '{b}'" in pin


def test_an_unreadable_timeline_refuses(repo, pr_head, mlops, tmp_path):
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        gh.add_pull(PR, head_sha=pr_head)
        gh.add_status(pr_head, "mlops/gates")
        gh.set_permission("ada", "write")
        gh.fail("GET", r"/timeline$", status=404, times=10)
        result, _ = run(mlops, repo, tmp_path, gh, "/promote iris-logreg to staging")
        assert result.returncode == 1
        assert "timeline" in replies(gh)[-1]
    assert not branch_exists(repo, "env/staging")


def test_a_read_only_approval_does_not_satisfy_production(repo, pr_head, mlops, tmp_path):
    """Issue 10 hole 4: on a public repository anyone (or the author's second account) can
    leave an APPROVED review; production (`approvals: 1`, `allow: [maintain, admin]`)
    counts only reviewers the environment allows."""
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        gh.add_pull(PR, head_sha=pr_head, author="grace", head_ref="tune-iris")
        gh.add_status(pr_head, "mlops/gates")
        gh.set_permission("ada", "maintain")
        gh.set_permission("grace-alt", "read")  # the author's second account
        gh.add_review(PR, "grace-alt", "APPROVED", pr_head)
        gh.add_review(PR, "passer-by", "APPROVED", pr_head)  # no access at all
        staged, _ = run(mlops, repo, tmp_path, gh, "/promote iris-logreg to staging")
        assert staged.returncode == 0, staged.stderr
        git(repo, "merge", "-q", "--no-ff", "-m", "Merge tune-iris", "tune-iris")
        git(repo, "push", "-q", "origin", "main")
        result, cid = run(mlops, repo, tmp_path, gh, "/promote iris-logreg to production")
        assert result.returncode == 1
        reply = replies(gh)[-1]
        assert "has 0" in reply and "@grace-alt has `read` permission" in reply
        assert "@passer-by has `none` permission" in reply
        assert gh.reactions(cid) == ["eyes", "confused"]
    assert not branch_exists(repo, "env/production")


def test_rollback_from_a_comment_retrains_a_version_the_store_lost(iris_staged, mlops, tmp_path):
    """Issue 11: with the default local store, each comment job starts with an empty store
    (on Actions it lives as long as the job), and ``/rollback`` answered "no longer in the
    store" where ``/promote`` retrains. The rolled-back version is retrained at its pin's
    source commit, must reproduce the pinned metrics, and is pinned with the new file's hash.
    """
    import shutil

    import yaml

    from engine.store import MODEL_FILE, Store

    repo = iris_staged  # main's version trained and promoted to staging
    pr_head = push_pr_head(repo)
    first = yaml.safe_load(
        git(repo, "show", "origin/env/staging:mlops/deployments/iris-logreg.yaml")
    )
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        gh.add_pull(PR, head_sha=pr_head, author="grace", head_ref="tune-iris")
        gh.add_status(pr_head, "mlops/gates")
        gh.set_permission("ada", "write")
        promoted, _ = run(mlops, repo, tmp_path, gh, "/promote iris-logreg to staging")
        assert promoted.returncode == 0, replies(gh)
        shutil.rmtree(repo / ".mlops" / "store")  # the next job's store is empty
        result, cid = run(mlops, repo, tmp_path, gh, "/rollback iris-logreg in staging")
        reply = replies(gh)[-1]
        assert result.returncode == 0, reply
        assert gh.reactions(cid) == ["eyes", "rocket"]
        assert f"Rolled back `iris-logreg` in `staging` to `{first['version']}`" in reply
        assert "retrained and its metrics reproduced" in reply
    pin = yaml.safe_load(git(repo, "show", "origin/env/staging:mlops/deployments/iris-logreg.yaml"))
    record = Store.open(".mlops/store", repo).get_record("iris-logreg", first["fingerprint"])
    assert (pin["fingerprint"], pin["action"]) == (first["fingerprint"], "rollback")
    assert pin["sha256"] == record.files[MODEL_FILE]  # what `deploy` will check the file against
    assert pin["metrics"] == first["metrics"]


def test_a_re_run_of_a_comment_job_changes_nothing_more(iris_staged, mlops, tmp_path):
    """GitHub's "Re-run jobs" sends the same comment again (and the engine's own error after
    an outage says to re-run): a `/rollback` rolled back a second time."""
    repo = iris_staged
    pr_head = push_pr_head(repo)
    pin_file = "origin/env/staging:mlops/deployments/iris-logreg.yaml"
    first = git(repo, "show", pin_file)
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        gh.add_pull(PR, head_sha=pr_head, author="grace", head_ref="tune-iris")
        gh.add_status(pr_head, "mlops/gates")
        gh.set_permission("ada", "write")
        for body in ("/promote iris-logreg to staging", "/rollback iris-logreg in staging"):
            result, cid = run(mlops, repo, tmp_path, gh, body)
            assert result.returncode == 0, replies(gh)
        tip = git(repo, "ls-remote", "origin", "refs/heads/env/staging").split()[0]
        assert f"Requested-by-comment: {cid}/1" in git(repo, "log", "-1", "--format=%B", tip)

        again = mlops(  # the same job, same payload (run() left it in place)
            "event",
            cwd=repo,
            env={
                "GITHUB_ACTIONS": "true",
                "GITHUB_EVENT_NAME": "issue_comment",
                "GITHUB_EVENT_PATH": str(tmp_path / "comment.json"),
                "GITHUB_REPOSITORY": REPO,
                "GITHUB_API_URL": gh.url,
                "GITHUB_TOKEN": "ghs_standin",
            },
        )
        assert again.returncode == 0, replies(gh)
        assert "already carried out" in replies(gh)[-1]
    assert git(repo, "ls-remote", "origin", "refs/heads/env/staging").split()[0] == tip
    assert git(repo, "show", pin_file).split("promoted_at")[0] == first.split("promoted_at")[0]


def test_diff_vs_an_environment_with_an_empty_store_reproduces_what_it_runs(
    iris_staged, mlops, tmp_path
):
    """Issue 11: in the comment job's empty store, `/diff MODEL vs staging` said "nothing of
    this model runs in staging"; the pinned version is retrained at its source commit."""
    import shutil

    repo = iris_staged  # main's version trained and promoted to staging
    pr_head = push_pr_head(repo)
    source = git(repo, "rev-parse", "main")
    shutil.rmtree(repo / ".mlops/store")
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        gh.add_pull(PR, head_sha=pr_head, author="grace", head_ref="tune-iris")
        gh.set_permission("ada", "write")
        result, _ = run(mlops, repo, tmp_path, gh, "/diff iris-logreg vs staging")
        assert "Traceback" not in result.stderr, result.stderr
        (reply,) = replies(gh)
    assert "Nothing of this model runs" not in reply
    assert "which `staging` runs, was not in this store: it was retrained at its source " in reply
    assert f"commit `{source[:7]}`" in reply and "| Metric | staging | Head |" in reply
