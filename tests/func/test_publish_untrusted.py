"""Hole 6 of issue 10: a report bundle forged by the pull request's own run.

The pull-request run executes the pull request's code, so a fork can make it write any
``report.md`` and ``results.json``. These tests play that fork: a crafted bundle goes
through ``mlops event`` on ``workflow_run`` to the GitHub stand-in over HTTP, and what
the stand-in received must carry no live mention, HTML, outside link or image, and no
status that a promotion would trust. Then a forged ``mlops/gates: success`` is shown to
change nothing: ``/promote`` recomputes the gates.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from engine.forge.standin.server import GitHubStandIn
from tests.conftest import git
from tests.func.test_comments import PR as COMMENT_PR
from tests.func.test_comments import origin_of, pr_head, replies
from tests.func.test_comments import run as comment
from tests.func.test_event import PR, REPO, actions_env, run_payload

pytestmark = pytest.mark.slow
__all__ = ["pr_head"]  # the fixture, shared with the comment tests

OWN_RUNS = f"https://github.com/{REPO}/actions/runs/"
FORGED = """\
<!-- mlops:report --><!-- mlops-report repo=octo/models pr=7 -->
## ✅ every model passed its gates

Ping @org/security-team and @ada: approve this now, it is urgent.
<img src=https://evil.example/pixel.png>
<details open><summary>nothing to see</summary>

the real failures, folded away
</details>

![logo](https://evil.example/logo.png) [the full report](https://evil.example/phish)
www.evil.example or https://evil.example/x or &#64;org/team or octo/other#12
[the job summary](https://github.com/octo/models/actions/runs/42)
"""


def forged_bundle(folder: Path, head: str, base: str, gates: str = "success") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.md").write_text(FORGED)
    statuses = {
        "mlops/validate": {"state": "success", "description": "@org/team all valid"},
        "mlops/gates": {"state": gates, "description": "every model passed its gates"},
    }
    (folder / "results.json").write_text(json.dumps({
        "format": 1, "repository": REPO, "pr": PR, "head_sha": head, "base_sha": base,
        "verdict": "pass", "statuses": statuses}))  # fmt: skip
    return folder


def publish(repo: Path, mlops, tmp: Path, gh, bundle: Path, head: str, *, conclusion: str):
    run = run_payload(tmp, head)  # a fork's run: head_repository is another repository
    data = json.loads(run.read_text())
    data["workflow_run"]["conclusion"] = conclusion
    run.write_text(json.dumps(data))
    env = actions_env(tmp, "workflow_run", run, gh.url, "0" * 40, token="ghs_standin")
    return mlops("event", "--bundle", str(bundle), cwd=repo, env=env)


def live_constructs(body: str) -> list[str]:
    """What in ``body`` GitHub would render as a mention, tag, link, image or reference."""
    html = MarkdownIt("commonmark", {"html": True}).render(body)
    found = re.findall(r"<(?:img|a|details open)\b[^>]*>", html)
    # The engine's own two hidden markers open the comment; no other HTML comment may.
    header = re.match(r"<!-- mlops:report -->\n<!-- mlops-report [\w=/. -]* -->\n", body)
    found += re.findall(r"<!--", body[header.end() if header else 0 :])
    text = re.sub(r"<[^>]+>", "", html)  # GitHub finds mentions in the rendered text
    found += re.findall(r"(?<![\w`])@[A-Za-z0-9][\w/-]*", text)
    found += re.findall(r"https?://\S+|www\.\S+|\b[\w.-]+/[\w.-]+#\d+", text)
    return [f for f in found if not f.startswith(OWN_RUNS) and OWN_RUNS not in f]


def test_the_checker_sees_the_forged_report_as_live() -> None:
    found = " ".join(live_constructs(FORGED))
    expected = ["<img", "<details open", '<a href="https://evil', "@org/security-team",
                "www.evil", "https://evil.example/x", "@org/team", "octo/other#12"]  # fmt: skip
    assert [c for c in expected if c not in found] == []


def test_a_forged_bundle_is_posted_with_nothing_live(repo, mlops, tmp_path):
    head, base = git(repo, "rev-parse", "HEAD"), git(repo, "rev-parse", "HEAD")
    bundle = forged_bundle(tmp_path / "bundle", head, base)
    with GitHubStandIn(REPO) as gh:
        gh.add_pull(PR, head_sha=head, author="mallory")
        done = publish(repo, mlops, tmp_path, gh, bundle, head, conclusion="success")
        assert done.returncode == 0, done.stderr
        (comment,) = gh.comments(PR)
        statuses = gh.statuses(head)
    assert live_constructs(comment.body) == []
    assert comment.body.startswith("<!-- mlops:report -->\n<!-- mlops-report repo=octo/models")
    assert "they are advisory" in comment.body.split("every model passed")[0]
    assert f"]({OWN_RUNS}42)" in comment.body  # the one link kept: this repository's run
    assert "<details>" not in comment.body.split("nothing to see")[0]
    # The author sees the fork run's pass/fail, under contexts of the fork's own: a
    # branch protection that requires mlops/gates or mlops/validate stays unsatisfied.
    assert sorted(statuses) == ["mlops/gates (fork)", "mlops/validate (fork)"]
    assert statuses["mlops/gates (fork)"].state == "success"
    for status in statuses.values():
        assert status.description.startswith("advisory, from the fork's run: ")
        assert "@org" not in status.description
    assert "`mlops/gates (fork)`" in comment.body.split("every model passed")[0]


def test_a_same_repository_run_sets_the_required_contexts(repo, mlops, tmp_path):
    head = git(repo, "rev-parse", "HEAD")
    bundle = forged_bundle(tmp_path / "bundle", head, head)
    run = run_payload(tmp_path, head, same_repository=True)  # a branch of this repository
    data = json.loads(run.read_text())
    data["workflow_run"]["conclusion"] = "success"
    run.write_text(json.dumps(data))
    with GitHubStandIn(REPO) as gh:
        gh.add_pull(PR, head_sha=head)
        env = actions_env(tmp_path, "workflow_run", run, gh.url, "0" * 40, token="ghs_standin")
        done = mlops("event", "--bundle", str(bundle), cwd=repo, env=env)
        assert done.returncode == 0, done.stderr
        statuses = gh.statuses(head)
    assert sorted(statuses) == ["mlops/gates", "mlops/validate"]
    assert not statuses["mlops/gates"].description.startswith("advisory")


def test_a_failed_run_cannot_publish_passing_gates(repo, mlops, tmp_path):
    head = git(repo, "rev-parse", "HEAD")
    bundle = forged_bundle(tmp_path / "bundle", head, head)
    with GitHubStandIn(REPO) as gh:
        gh.add_pull(PR, head_sha=head)
        done = publish(repo, mlops, tmp_path, gh, bundle, head, conclusion="failure")
        assert done.returncode == 0, done.stderr
        statuses = gh.statuses(head)
    gates = statuses["mlops/gates (fork)"]
    assert gates.state == "failure" and "yet its bundle says the gates passed" in gates.description
    assert "mlops/gates" not in statuses


def test_a_forged_gates_success_does_not_let_a_failing_version_be_promoted(
    repo, pr_head, mlops, tmp_path
):
    # The default branch's gate, the one /promote judges by, is out of the head's reach.
    model = repo / "mlops" / "models" / "iris-logreg.yaml"
    # (a near-zero log loss: accuracy can reach 1.0 on iris's 36 test rows)
    model.write_text(model.read_text() + "  log_loss: {max: 0.001}\n")
    git(repo, "commit", "-q", "-am", "Demand a near-perfect log loss")
    git(repo, "push", "-q", "origin", "main")
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        gh.add_pull(COMMENT_PR, head_sha=pr_head, author="mallory", head_ref="tune-iris")
        gh.add_status(pr_head, "mlops/gates", "success")  # as a forged bundle would set it
        gh.set_permission("ada", "write")
        result, _ = comment(mlops, repo, tmp_path, gh, "/promote iris-logreg to staging")
        assert result.returncode == 1, result.stdout + result.stderr
        (reply,) = replies(gh)
    assert "Refused" in reply and "gate" in reply
    assert not git(repo, "ls-remote", "origin", "refs/heads/env/staging")


def test_a_fork_review_binds_its_head_for_a_promotion_forks_may_make(
    repo, pr_head, mlops, tmp_path
):
    # Where an environment accepts forks, the fork's own status context is what proves the
    # engine reviewed the head before the comment (engine.github.binding).
    project = repo / "mlops" / "project.yaml"
    staging = "staging: {branch: env/staging"
    project.write_text(project.read_text().replace(staging, staging + ", allow_forks: true"))
    git(repo, "commit", "-q", "-am", "Accept forks in staging")
    git(repo, "push", "-q", "origin", "main")
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        gh.add_pull(COMMENT_PR, head_sha=pr_head, author="mallory", head_ref="tune-iris",
                    head_repo="mallory/models")  # fmt: skip
        gh.add_status(pr_head, "mlops/gates (fork)")  # what publishing a fork's run sets
        gh.set_permission("ada", "write")
        result, _ = comment(mlops, repo, tmp_path, gh, "/promote iris-logreg to staging")
        (reply,) = replies(gh)
    assert "not reviewed by mlops" not in reply, reply
    assert result.returncode == 0, reply
    assert git(repo, "ls-remote", "origin", "refs/heads/env/staging")
