"""Every real webhook payload in the shared fixtures parses, quirks included."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import UserError
from engine.github.events import (
    DispatchEvent,
    IssueCommentEvent,
    PullRequestEvent,
    PushEvent,
    WorkflowRunEvent,
    parse_event,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "webhooks"
PAYLOADS = sorted(FIXTURES.glob("*.json"))


def event_name(path: Path) -> str:
    return path.name.split(".", 1)[0]


def test_the_fixtures_are_there():
    assert len(PAYLOADS) >= 15


@pytest.mark.parametrize("path", PAYLOADS, ids=lambda p: p.name)
def test_every_fixture_parses(path):
    name = event_name(path)
    if name == "pull_request_review":
        with pytest.raises(UserError, match="is not handled by mlops"):
            parse_event(name, path.read_bytes())
        return
    event = parse_event(name, path.read_bytes())
    assert event.repository is not None and "/" in event.repository.full_name


def load(name: str):
    path = FIXTURES / name
    return parse_event(event_name(path), path.read_bytes())


def test_a_comment_on_a_plain_issue_is_not_a_pull_request():
    event = load("issue_comment.created.on-issue.json")
    assert isinstance(event, IssueCommentEvent)
    assert not event.issue.is_pull_request
    on_pr = load("issue_comment.created.json")
    assert on_pr.issue.is_pull_request and on_pr.action == "created"


def test_a_pull_request_event_knows_its_sides():
    event = load("pull_request.opened.json")
    assert isinstance(event, PullRequestEvent)
    assert len(event.pull_request.head.sha) == 40
    assert event.pull_request.base.ref


def test_a_null_body_and_a_deleted_fork_are_tolerated():
    event = load("pull_request.opened.null-body.json")
    assert isinstance(event, PullRequestEvent)
    raw = (FIXTURES / "pull_request.opened.json").read_text()
    import json

    data = json.loads(raw)
    data["pull_request"]["head"]["repo"] = None
    deleted = parse_event("pull_request", json.dumps(data).encode())
    assert deleted.from_fork  # a vanished head repository is never trusted as our own


def test_pushes_new_branches_and_tag_deletions():
    tag_deleted = load("push.json")  # GitHub's example: a tag deleted, after = 40 zeros
    assert isinstance(tag_deleted, PushEvent)
    assert tag_deleted.is_deletion and tag_deleted.branch is None
    new = load("push.new-branch.json")
    assert new.created and not new.is_deletion and new.branch == "master"
    committer = load("push.no-username-committer.json")
    assert committer.branch is not None


def test_workflow_runs_with_and_without_pull_requests():
    bare = load("workflow_run.completed.json")
    assert isinstance(bare, WorkflowRunEvent)
    with_prs = load("workflow_run.completed.with-pull-requests.json")
    assert with_prs.workflow_run.pull_requests
    assert len(bare.workflow_run.head_sha) == 40


@pytest.mark.parametrize(
    "name,data,message",
    [
        ("pull_request", b"{not json", "is not valid JSON"),
        ("pull_request", b"{}", "not a valid pull_request payload: action: Field required"),
        ("deployment", b"{}", "event 'deployment' is not handled by mlops"),
        ("push", b"\xff\xfe", "is not valid JSON"),
    ],
)
def test_malformed_payloads_get_a_clear_error(name, data, message):
    with pytest.raises(UserError, match=message):
        parse_event(name, data)


def test_a_dispatch_without_inputs_sends_null_and_parses():
    """GitHub sends ``"inputs": null`` when the dispatched workflow declares no inputs."""
    payload = b'{"inputs": null, "ref": "refs/heads/env/staging", "workflow": "deploy.yml"}'
    event = parse_event("workflow_dispatch", payload)
    assert isinstance(event, DispatchEvent)
    assert event.inputs == {}
    assert event.ref == "refs/heads/env/staging"


def test_payloads_are_read_only_values():
    event, same = load("pull_request.opened.json"), load("pull_request.opened.json")
    assert event == same and event is not same and "PullRequestEvent(action=" in repr(event)
    with pytest.raises(AttributeError, match="read-only"):
        event.action = "closed"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="read-only"):
        del event.pull_request.head.sha
    # a default list or dict is each value's own
    first, second = (parse_event("workflow_dispatch", b"{}") for _ in range(2))
    assert isinstance(first, DispatchEvent) and isinstance(second, DispatchEvent)
    first.inputs["environment"] = "staging"
    assert second.inputs == {}
