"""JSON bodies of the GitHub stand-in for what hangs off commits: pull requests, reviews,
the pull-request timeline (pushes and force pushes), commit statuses, refs and deployments.

Shaped, like :mod:`engine.forge.standin.payloads` (accounts, issues, comments, reactions),
after GitHub's recorded responses and documented schemas, with URLs pointing back at the
stand-in; pure functions of the records.
"""

from __future__ import annotations

import zlib
from typing import Any

from engine.forge.standin.payloads import html_and_text, label, node_id, user
from engine.forge.standin.records import (
    Deployment,
    DeploymentStatus,
    HeadMove,
    Issue,
    Pull,
    ReviewRecord,
    Status,
    User,
)


def pull(
    api: str,
    web: str,
    base: dict[str, Any],
    head: dict[str, Any] | None,
    i: Issue,
    p: Pull,
    author: User,
    association: str,
    comments: int,
) -> dict[str, Any]:
    """A pull request; ``base``/``head`` are repository bodies (``head`` None: fork deleted)."""
    full_name = base["full_name"]
    url = f"{api}/repos/{full_name}/pulls/{i.number}"
    html = f"{web}/{full_name}/pull/{i.number}"
    issue_url = f"{api}/repos/{full_name}/issues/{i.number}"
    statuses = f"{api}/repos/{full_name}/statuses/{p.head_sha}"
    body_html, body_text = html_and_text(i.body)
    head_owner = head["owner"] if head else user(api, web, author)
    links = {
        "self": url,
        "html": html,
        "issue": issue_url,
        "comments": f"{issue_url}/comments",
        "review_comments": f"{url}/comments",
        "review_comment": f"{api}/repos/{full_name}/pulls/comments{{/number}}",
        "commits": f"{url}/commits",
        "statuses": statuses,
    }
    return {
        "url": url,
        "id": p.id,
        "node_id": node_id("PullRequest", p.id),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue_url,
        "number": i.number,
        "state": i.state,
        "locked": False,
        "title": i.title,
        "user": user(api, web, author),
        "body": i.body,
        "created_at": i.created_at,
        "updated_at": i.updated_at,
        "closed_at": i.closed_at,
        "merged_at": None,
        "merge_commit_sha": None,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "labels": [label(api, full_name, name) for name in i.labels],
        "milestone": None,
        "draft": p.draft,
        "commits_url": f"{url}/commits",
        "review_comments_url": f"{url}/comments",
        "review_comment_url": links["review_comment"],
        "comments_url": f"{issue_url}/comments",
        "statuses_url": statuses,
        "head": {
            "label": f"{head_owner['login']}:{p.head_ref}",
            "ref": p.head_ref,
            "sha": p.head_sha,
            "user": head_owner,
            "repo": head,
        },
        "base": {
            "label": f"{base['owner']['login']}:{p.base_ref}",
            "ref": p.base_ref,
            "sha": p.base_sha,
            "user": base["owner"],
            "repo": base,
        },
        "_links": {key: {"href": href} for key, href in links.items()},
        "author_association": association,
        "auto_merge": None,
        "body_html": body_html,
        "body_text": body_text,
        "active_lock_reason": None,
        "merged": False,
        "mergeable": True,
        "rebaseable": True,
        "mergeable_state": "clean",
        "merged_by": None,
        "comments": comments,
        "review_comments": 0,
        "maintainer_can_modify": False,
        "commits": 1,
        "additions": 0,
        "deletions": 0,
        "changed_files": 0,
    }


def status(api: str, web: str, full_name: str, s: Status, creator: User) -> dict[str, Any]:
    """A commit status (``POST /repos/{o}/{r}/statuses/{sha}``)."""
    return {
        "url": f"{api}/repos/{full_name}/statuses/{s.sha}",
        "avatar_url": f"{web}/avatars/u/{creator.id}?v=4",
        "id": s.id,
        "node_id": node_id("StatusContext", s.id),
        "state": s.state,
        "description": s.description,
        "target_url": s.target_url,
        "context": s.context,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "creator": user(api, web, creator),
    }


def review(api: str, web: str, full_name: str, r: ReviewRecord, author: User) -> dict[str, Any]:
    """A pull-request review."""
    pulls = f"{api}/repos/{full_name}/pulls/{r.pr}"
    html = f"{web}/{full_name}/pull/{r.pr}#pullrequestreview-{r.id}"
    body_html, body_text = html_and_text(r.body)
    return {
        "id": r.id,
        "node_id": node_id("PullRequestReview", r.id),
        "user": user(api, web, author),
        "body": r.body,
        "state": r.state,
        "html_url": html,
        "pull_request_url": pulls,
        "author_association": "COLLABORATOR",
        "_links": {"html": {"href": html}, "pull_request": {"href": pulls}},
        "submitted_at": r.submitted_at,
        "commit_id": r.commit_id,
        "body_html": body_html,
        "body_text": body_text,
    }


def ref(api: str, full_name: str, name: str, sha: str) -> dict[str, Any]:
    """A git reference (``refs/heads/main``)."""
    return {
        "ref": f"refs/{name}",
        "node_id": node_id("Ref", zlib.crc32(name.encode()) % 10**8),
        "url": f"{api}/repos/{full_name}/git/refs/{name}",
        "object": {
            "sha": sha,
            "type": "commit",
            "url": f"{api}/repos/{full_name}/git/commits/{sha}",
        },
    }


def deployment(api: str, web: str, full_name: str, d: Deployment, creator: User) -> dict[str, Any]:
    """A deployment record."""
    url = f"{api}/repos/{full_name}/deployments/{d.id}"
    return {
        "url": url,
        "id": d.id,
        "node_id": node_id("Deployment", d.id),
        "sha": d.sha,
        "ref": d.ref,
        "task": "deploy",
        "payload": d.payload,
        "original_environment": d.environment,
        "environment": d.environment,
        "description": d.description,
        "creator": user(api, web, creator),
        "created_at": d.created_at,
        "updated_at": d.created_at,
        "statuses_url": f"{url}/statuses",
        "repository_url": f"{api}/repos/{full_name}",
        "transient_environment": False,
        "production_environment": d.environment == "production",
    }


def deployment_status(
    api: str, web: str, full_name: str, s: DeploymentStatus, creator: User
) -> dict[str, Any]:
    """A deployment status."""
    deployment_url = f"{api}/repos/{full_name}/deployments/{s.deployment_id}"
    return {
        "url": f"{deployment_url}/statuses/{s.id}",
        "id": s.id,
        "node_id": node_id("DeploymentStatus", s.id),
        "state": s.state,
        "creator": user(api, web, creator),
        "description": s.description,
        "environment": s.environment,
        "target_url": s.log_url or "",
        "log_url": s.log_url or "",
        "environment_url": s.environment_url or "",
        "created_at": s.created_at,
        "updated_at": s.created_at,
        "deployment_url": deployment_url,
        "repository_url": f"{api}/repos/{full_name}",
    }


def committed_event(
    api: str, web: str, full_name: str, m: HeadMove, pusher: User
) -> dict[str, Any]:
    """A ``committed`` timeline event: the commit itself, with only its own (author-set) dates."""
    return {
        "sha": m.sha,
        "node_id": node_id("Commit", m.id),
        "url": f"{api}/repos/{full_name}/git/commits/{m.sha}",
        "html_url": f"{web}/{full_name}/commit/{m.sha}",
        "author": {"name": pusher.login, "email": f"{pusher.login}@example.com", "date": ""},
        "committer": {"name": pusher.login, "email": f"{pusher.login}@example.com", "date": ""},
        "tree": {"sha": "0" * 40, "url": f"{api}/repos/{full_name}/git/trees/{'0' * 40}"},
        "message": "",
        "parents": [],
        "verification": {
            "verified": False,
            "reason": "unsigned",
            "signature": None,
            "payload": None,
            "verified_at": None,
        },
        "event": "committed",
    }


def force_pushed_event(
    api: str, web: str, full_name: str, m: HeadMove, actor: User
) -> dict[str, Any]:
    """A ``head_ref_force_pushed`` timeline event, timed by the server."""
    return {
        "id": m.id,
        "node_id": node_id("HeadRefForcePushedEvent", m.id),
        "url": f"{api}/repos/{full_name}/issues/events/{m.id}",
        "actor": user(api, web, actor),
        "event": "head_ref_force_pushed",
        "commit_id": m.sha,
        "commit_url": f"{api}/repos/{full_name}/commits/{m.sha}",
        "created_at": m.created_at,
        "performed_via_github_app": None,
    }
