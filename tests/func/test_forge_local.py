"""The local forge: what would go to GitHub lands in ``.mlops/outbox/`` of a real repository."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from engine.forge import Forge, ForgeError, PullRequestInfo, Review
from engine.forge.local import LOCAL_LOGIN, LocalForge

SHA = "b" * 40


@pytest.fixture
def root(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    for key, value in [("user.name", "Ada Lovelace"), ("user.email", "ada@example.com")]:
        subprocess.run(["git", "config", key, value], cwd=tmp_path, check=True)
    return tmp_path


def outbox(root: Path, name: str) -> object:
    return json.loads((root / ".mlops" / "outbox" / name).read_text())


def test_sticky_comment_is_one_file_rewritten_in_place(root: Path) -> None:
    forge = LocalForge(root)
    first = forge.upsert_comment(7, "accuracy 0.91", "report")
    same = forge.upsert_comment(7, "accuracy 0.91", "report")
    edited = forge.upsert_comment(7, "accuracy 0.93", "report")
    assert (first.action, same.action, edited.action) == ("created", "unchanged", "updated")
    path = root / ".mlops/outbox/comments/pr-7/report.md"
    assert first.url == str(path) and first.id == edited.id
    assert path.read_text() == "<!-- mlops:report -->\naccuracy 0.93"
    forge.upsert_comment(7, "plan", "plan/cancer-rf")
    assert sorted(p.name for p in path.parent.iterdir()) == ["plan_cancer-rf.md", "report.md"]


def test_replies_and_reactions(root: Path) -> None:
    forge = LocalForge(root)
    forge.upsert_comment(3, "report", "report")
    reply = forge.reply(3, "Promoted cancer-rf to staging")
    assert Path(reply.url).read_text() == "Promoted cancer-rf to staging"
    forge.react(reply.id, "rocket")
    forge.react(reply.id, "rocket")
    comments = outbox(root, "comments.json")
    assert [(c["id"], c["author"], c["reactions"]) for c in comments] == [
        (1, LOCAL_LOGIN, []),
        (2, LOCAL_LOGIN, ["rocket"]),
    ]
    with pytest.raises(ForgeError, match="comment 9 is not in the local outbox"):
        forge.react(9, "eyes")


def test_statuses_keep_the_latest_per_sha_and_context(root: Path) -> None:
    forge = LocalForge(root)
    forge.set_status(SHA, "mlops/gates", "pending", "training")
    forge.set_status(SHA, "mlops/gates", "failure", "accuracy dropped " + "x" * 300)
    forge.set_status(SHA, "mlops/validate", "success", "ok", "file:///report.md")
    statuses = outbox(root, "statuses.json")[SHA]
    assert statuses["mlops/gates"]["state"] == "failure"
    assert len(statuses["mlops/gates"]["description"]) == 140
    assert statuses["mlops/validate"]["target_url"] == "file:///report.md"


def test_permission_is_admin_for_the_local_git_user_only(root: Path) -> None:
    forge = LocalForge(root)
    assert forge.permission("Ada Lovelace") == "admin"
    assert forge.permission("ada@example.com") == "admin"
    assert forge.permission("mallory") == "none"
    assert LocalForge(root, user="grace").permission("grace") == "admin"


def test_dispatches_deployments_and_issues_are_recorded(root: Path) -> None:
    forge = LocalForge(root)
    forge.dispatch_workflow("deploy.yml", "env/staging", {"environment": "staging"})
    assert outbox(root, "dispatches.json") == [
        {"workflow": "deploy.yml", "ref": "env/staging", "inputs": {"environment": "staging"}}
    ]
    made = forge.create_deployment("env/staging", "staging", "cancer-rf v3", {"model": "m"})
    forge.set_deployment_status(made.id, "success", "live")
    assert outbox(root, "deployments.json")[0]["statuses"][0]["state"] == "success"
    issue = forge.open_or_update_issue("Drift", "psi 0.3", "drift/cancer-rf", ["drift"])
    again = forge.open_or_update_issue("Drift", "psi 0.3", "drift/cancer-rf", ["drift"])
    worse = forge.open_or_update_issue("Drift", "psi 0.5", "drift/cancer-rf", ["drift"])
    assert (issue.action, again.action, worse.action) == ("created", "unchanged", "updated")
    assert Path(worse.url).read_text().endswith("psi 0.5")
    closed = forge.close_issue("drift/cancer-rf", "cleared", ["drift"])
    assert closed is not None and closed.action == "closed"
    assert Path(closed.url).read_text() == "cleared"
    assert outbox(root, "issues.json")[0]["state"] == "closed"
    assert forge.close_issue("drift/cancer-rf", "cleared") is None
    assert forge.open_or_update_issue("Drift", "psi 0.7", "drift/cancer-rf").number == 2
    assert forge.team_members("octo", "ml") == []


def test_pull_requests_exist_once_registered(root: Path) -> None:
    forge = LocalForge(root)
    with pytest.raises(ForgeError, match="unknown to the local forge"):
        forge.pull_request(1)
    info = PullRequestInfo(
        1, "Tune", "open", False, "ada", SHA, "tune", "me/repo", "main", "me/repo"
    )
    forge.add_pull(info)
    assert forge.pull_request(1) == info
    assert forge.pulls_for_sha(SHA) == [1] and forge.reviews(1) == []


def test_a_corrupt_outbox_file_is_a_clear_error(root: Path) -> None:
    forge = LocalForge(root)
    forge.set_status(SHA, "mlops/gates", "success", "ok")
    (root / ".mlops/outbox/statuses.json").write_text("{oops")
    with pytest.raises(ForgeError, match=r"statuses\.json: not valid JSON"):
        forge.set_status(SHA, "mlops/gates", "success", "ok")


def test_it_is_a_forge(root: Path) -> None:
    assert isinstance(LocalForge(root), Forge)


def test_force_pushes_are_recorded_per_pull_request(root: Path) -> None:
    forge = LocalForge(root)
    assert forge.force_pushes(3) == []
    made = forge.add_force_push(3, "a" * 40, "alice")
    assert LocalForge(root).force_pushes(3) == [made] and forge.force_pushes(4) == []
    assert made.at is not None and made.at.endswith("Z")


def test_pull_requests_are_written_once_per_open_head(root: Path) -> None:
    forge = LocalForge(root)
    assert forge.find_pull_request("retrain:m:staging") is None
    made = forge.open_pull_request(
        "Retrain m", "why", "mlops/retrain/a", "main", "retrain:m:staging"
    )
    assert made.action == "created" and Path(made.url).read_text().endswith("why")
    again = forge.open_pull_request(
        "Retrain m", "why", "mlops/retrain/a", "main", "retrain:m:staging"
    )
    assert again.action == "unchanged" and again.number == made.number
    found = forge.find_pull_request("retrain:m:staging")
    assert found is not None and found.number == made.number
    index = root / ".mlops/outbox/proposals.json"
    entries = json.loads(index.read_text())
    assert forge.declined_pull_request("mlops/retrain/a") is None
    entries[0]["state"] = "closed"  # a person declined it: other rows may be proposed
    index.write_text(json.dumps(entries))
    assert forge.find_pull_request("retrain:m:staging") is None
    declined = forge.declined_pull_request("mlops/retrain/a")
    assert declined is not None and declined.number == made.number
    assert forge.declined_pull_request("mlops/retrain/b") is None


def test_reviews_and_collaborators_exist_once_recorded(root: Path) -> None:
    forge = LocalForge(root, user="Ada")
    assert forge.reviews(7) == [] and forge.permission("grace") == "none"
    forge.set_permission("Grace", "maintain")
    forge.add_review(7, Review("grace", "COMMENTED", SHA))
    forge.add_review(7, Review("grace", "APPROVED", SHA, "2024-05-01T10:00:00Z"))
    assert forge.permission("GRACE") == "maintain" and forge.permission("ada") == "admin"
    assert [(r.state, r.submitted_at) for r in forge.reviews(7)] == [
        ("COMMENTED", None),
        ("APPROVED", "2024-05-01T10:00:00Z"),
    ]
    assert forge.reviews(8) == []
