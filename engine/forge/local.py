"""The local forge: what the engine would post to GitHub, written to files instead.

Without GitHub (a laptop, the demo, tests) the engine publishes to
``<repo>/.mlops/outbox/``, through the same :class:`~engine.forge.Forge` protocol::

    comments/pr-7/report.md        the sticky comment of PR 7 for marker "report"
    comments/pr-7/reply-3.md       a one-off reply (comment id 3)
    comments.json                  every comment: id, pr, marker, file, reactions
    statuses.json                  {sha: {context: {state, description, target_url}}}
    dispatches.json                workflow dispatches asked for, in order
    deployments.json               deployments and their statuses
    issues/<marker>.md, issues.json  issues opened or updated (drift alarms ...)
    pulls/<marker>-N.md, proposals.json  pull requests the engine opened (retraining ...)

Markdown files hold exactly the body GitHub would get, hidden marker included, so a golden
test can compare them. The caller prints a summary (the returned refs carry the file paths).
Collaborator permission is ``admin`` for the repository's git user (``user.name`` or
``user.email``), what :meth:`LocalForge.set_permission` recorded (``permissions.json``) for
others, and ``none`` for anyone else; pull requests and their reviews exist only once
registered with :meth:`LocalForge.add_pull` and :meth:`LocalForge.add_review` (``mlops
demo`` does that to simulate a pull request a teammate approves).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from engine.forge import (
    CommentRef,
    DeploymentRef,
    DeploymentState,
    ForcePush,
    ForgeError,
    IssueRef,
    Permission,
    PullRequestInfo,
    Reaction,
    Review,
    StatusState,
    WriteAction,
    check_reaction,
    check_state,
    clip_comment,
    clip_description,
    with_marker,
)

LOCAL_LOGIN = "mlops[local]"


class LocalForge:
    """A :class:`~engine.forge.Forge` that writes under ``<root>/.mlops/outbox/``."""

    name = "local"

    def __init__(self, root: Path, *, user: str | None = None) -> None:
        self.root = Path(root)
        self.outbox = self.root / ".mlops" / "outbox"
        self._user = user

    def identity(self) -> str:
        """The login local comments are written as."""
        return LOCAL_LOGIN

    # -- comments, statuses, reactions ----------------------------------------------

    def upsert_comment(
        self, pr: int, body: str, marker: str, *, comment_count: int | None = None
    ) -> CommentRef:
        """Write (or rewrite) ``comments/pr-<pr>/<marker>.md`` (the outbox is cheap to read)."""
        text = with_marker(body, marker)
        comments = self._load("comments.json", [])
        entry = next((e for e in comments if e["pr"] == pr and e["marker"] == marker), None)
        if entry is None:
            return self._add_comment(comments, pr, text, marker, f"{_slug(marker)}.md")
        path = self.outbox / entry["file"]
        if path.exists() and path.read_text(encoding="utf-8") == text:
            return CommentRef(entry["id"], str(path), "unchanged")
        _write(path, text)
        return CommentRef(entry["id"], str(path), "updated")

    def reply(self, pr: int, body: str) -> CommentRef:
        """Write a one-off reply ``comments/pr-<pr>/reply-<id>.md``."""
        comments = self._load("comments.json", [])
        return self._add_comment(comments, pr, body, None, f"reply-{len(comments) + 1}.md")

    def set_status(
        self,
        sha: str,
        context: str,
        state: StatusState,
        description: str,
        target_url: str | None = None,
    ) -> None:
        """Record the status in ``statuses.json`` (the latest per sha and context wins)."""
        statuses = self._load("statuses.json", {})
        first = statuses.get(sha, {}).get(context, {}).get("first_at") or _now()
        statuses.setdefault(sha, {})[context] = {
            "state": check_state(state),
            "description": clip_description(description),
            "target_url": target_url,
            "first_at": first,
        }
        self._save("statuses.json", statuses)

    def own_statuses(self, sha: str) -> dict[str, tuple[str, str]]:
        """The latest status of each context on ``sha`` (all of them are the engine's here)."""
        return {
            context: (entry["state"], entry["description"])
            for context, entry in self._load("statuses.json", {}).get(sha, {}).items()
        }

    def first_status_at(self, sha: str, context: str) -> str | None:
        """When ``context`` was first recorded on ``sha`` here."""
        entry = self._load("statuses.json", {}).get(sha, {}).get(context)
        return entry.get("first_at") if entry else None

    def add_force_push(self, pr: int, sha: str, actor: str) -> ForcePush:
        """Record a simulated force push of ``pr``'s head to ``sha``, now."""
        pushes = self._load("force_pushes.json", {})
        push = ForcePush(_now(), sha, actor)
        pushes.setdefault(str(pr), []).append(asdict(push))
        self._save("force_pushes.json", pushes)
        return push

    def force_pushes(self, pr: int) -> list[ForcePush]:
        """The force pushes recorded for ``pr`` (none unless one was simulated)."""
        return [
            ForcePush(e.get("at"), e.get("sha"), e.get("actor"))
            for e in self._load("force_pushes.json", {}).get(str(pr), [])
        ]

    def react(self, comment_id: int, content: Reaction) -> None:
        """Record a reaction on a local comment (a repeat is ignored, as on GitHub)."""
        check_reaction(content)
        comments = self._load("comments.json", [])
        reactions = self._by_id(comments, comment_id, "comment")["reactions"]
        if content not in reactions:
            reactions.append(content)
            self._save("comments.json", comments)

    def permission(self, user: str) -> Permission:
        """``admin`` for the repository's git user, a recorded level, else ``none``."""
        names = {self._user.lower()} if self._user else _git_identities(self.root)
        if user.strip().lower() in names:
            return "admin"
        level: Permission = self._load("permissions.json", {}).get(user.strip().lower(), "none")
        return level

    def set_permission(self, user: str, level: Permission) -> None:
        """Record ``user``'s permission on the repository (a simulated collaborator)."""
        permissions = self._load("permissions.json", {})
        permissions[user.strip().lower()] = level
        self._save("permissions.json", permissions)

    # -- pull requests -------------------------------------------------------------------

    def add_pull(self, info: PullRequestInfo) -> None:
        """Register a simulated pull request (the demo's stand-in for a real one)."""
        pulls = self._load("pulls.json", {})
        pulls[str(info.number)] = asdict(info)
        self._save("pulls.json", pulls)

    def pull_request(self, number: int) -> PullRequestInfo:
        """A registered pull request, else a ForgeError."""
        data = self._load("pulls.json", {}).get(str(number))
        if data is None:
            raise ForgeError(
                f"pull request #{number} is unknown to the local forge: there is no GitHub "
                "here (set GITHUB_REPOSITORY and GITHUB_TOKEN to publish to GitHub)"
            )
        return PullRequestInfo(**data)

    def pulls_for_sha(self, sha: str) -> list[int]:
        """Registered open pull requests whose head is ``sha``."""
        pulls = self._load("pulls.json", {}).values()
        return sorted(p["number"] for p in pulls if p["head_sha"] == sha and p["state"] == "open")

    def add_review(self, pr: int, review: Review) -> None:
        """Record a simulated review of ``pr`` (the newest last, as GitHub lists them)."""
        reviews = self._load("reviews.json", {})
        reviews.setdefault(str(pr), []).append(asdict(review))
        self._save("reviews.json", reviews)

    def reviews(self, pr: int) -> list[Review]:
        """The reviews recorded for ``pr``, oldest first (none unless one was simulated)."""
        return [Review(**entry) for entry in self._load("reviews.json", {}).get(str(pr), [])]

    # -- actions, deployments, issues, teams ----------------------------------------

    def dispatch_workflow(self, workflow_file: str, ref: str, inputs: Mapping[str, str]) -> None:
        """Record the dispatch in ``dispatches.json`` (nothing runs locally)."""
        dispatches = self._load("dispatches.json", [])
        dispatches.append({"workflow": workflow_file, "ref": ref, "inputs": dict(inputs)})
        self._save("dispatches.json", dispatches)

    def create_deployment(
        self, ref: str, environment: str, description: str, payload: Mapping[str, Any]
    ) -> DeploymentRef:
        """Record a deployment in ``deployments.json``."""
        deployments = self._load("deployments.json", [])
        ident = len(deployments) + 1
        deployments.append(
            {
                "id": ident,
                "ref": ref,
                "environment": environment,
                "description": description,
                "payload": dict(payload),
                "statuses": [],
            }
        )
        self._save("deployments.json", deployments)
        return DeploymentRef(ident, environment, ref, str(self.outbox / "deployments.json"))

    def set_deployment_status(
        self,
        deployment_id: int,
        state: DeploymentState,
        description: str = "",
        environment_url: str | None = None,
        log_url: str | None = None,
    ) -> None:
        """Append a status to a recorded deployment."""
        deployments = self._load("deployments.json", [])
        self._by_id(deployments, deployment_id, "deployment")["statuses"].append(
            {
                "state": state,
                "description": clip_description(description),
                "environment_url": environment_url,
                "log_url": log_url,
            }
        )
        self._save("deployments.json", deployments)

    def open_or_update_issue(
        self, title: str, body: str, marker: str, labels: Sequence[str] = ()
    ) -> IssueRef:
        """Write ``issues/<marker>.md`` and index it in ``issues.json``."""
        text = with_marker(body, marker)
        issues = self._load("issues.json", [])
        path = self.outbox / "issues" / f"{_slug(marker)}.md"
        entry = next((e for e in issues if e["marker"] == marker and e["state"] == "open"), None)
        if entry is None:
            action: WriteAction = "created"
            entry = {
                "number": len(issues) + 1,
                "marker": marker,
                "state": "open",
                "file": str(path.relative_to(self.outbox)),
            }
            issues.append(entry)
        elif entry["title"] == title and path.exists() and path.read_text("utf-8") == text:
            return IssueRef(entry["number"], str(path), "unchanged")
        else:
            action = "updated"
        entry.update(title=title, labels=list(labels))
        _write(path, text)
        self._save("issues.json", issues)
        return IssueRef(entry["number"], str(path), action)

    def close_issue(self, marker: str, note: str, labels: Sequence[str] = ()) -> IssueRef | None:
        """Write the note beside the issue (``issues/<marker>.closed.md``) and mark it closed."""
        issues = self._load("issues.json", [])
        entry = next((e for e in issues if e["marker"] == marker and e["state"] == "open"), None)
        if entry is None:
            return None
        path = self.outbox / "issues" / f"{_slug(marker)}.closed.md"
        _write(path, clip_comment(note))
        entry.update(state="closed", note=str(path.relative_to(self.outbox)))
        self._save("issues.json", issues)
        return IssueRef(entry["number"], str(path), "closed")

    def find_pull_request(self, marker: str) -> IssueRef | None:
        """The open pull request with ``marker`` written by :meth:`open_pull_request`."""
        entry = next(
            (e for e in self._load("proposals.json", []) if e["marker"] == marker),
            None,
        )
        if entry is None or entry["state"] != "open":
            return None
        return IssueRef(entry["number"], str(self.outbox / entry["file"]), "unchanged")

    def declined_pull_request(self, head: str) -> IssueRef | None:
        """A proposal of ``head`` whose state was set to ``closed`` in ``proposals.json``."""
        for entry in self._load("proposals.json", []):
            if entry["head"] == head and entry["state"] == "closed":
                return IssueRef(entry["number"], str(self.outbox / entry["file"]), "closed")
        return None

    def open_pull_request(
        self, title: str, body: str, head: str, base: str, marker: str
    ) -> IssueRef:
        """Write ``pulls/<marker>.md`` and index it in ``proposals.json`` (state ``open``;
        edit the state to ``closed`` to decline it: the engine proposes again only other rows)."""
        proposals = self._load("proposals.json", [])
        for entry in proposals:
            if entry["head"] == head and entry["state"] == "open":
                return IssueRef(entry["number"], str(self.outbox / entry["file"]), "unchanged")
        path = self.outbox / "pulls" / f"{_slug(marker)}-{len(proposals) + 1}.md"
        _write(path, with_marker(body, marker))
        entry = {
            "number": len(proposals) + 1,
            "marker": marker,
            "title": title,
            "head": head,
            "base": base,
            "state": "open",
            "file": str(path.relative_to(self.outbox)),
        }
        proposals.insert(0, entry)  # newest first: find_pull_request sees the latest
        self._save("proposals.json", proposals)
        return IssueRef(entry["number"], str(path), "created")

    def team_members(self, org: str, team: str) -> list[str]:
        """No teams exist locally: an allow-list naming a team admits nobody."""
        return []

    # -- files ----------------------------------------------------------------------------

    def _add_comment(
        self, comments: list[dict[str, Any]], pr: int, text: str, marker: str | None, name: str
    ) -> CommentRef:
        ident = len(comments) + 1
        path = self.outbox / "comments" / f"pr-{pr}" / name
        _write(path, text)
        comments.append(
            {
                "id": ident,
                "pr": pr,
                "marker": marker,
                "file": str(path.relative_to(self.outbox)),
                "author": LOCAL_LOGIN,
                "reactions": [],
            }
        )
        self._save("comments.json", comments)
        return CommentRef(ident, str(path), "created")

    def _by_id(self, entries: list[dict[str, Any]], ident: int, what: str) -> dict[str, Any]:
        """The entry with id ``ident``, else a ForgeError naming the outbox."""
        for entry in entries:
            if entry["id"] == ident:
                return entry
        raise ForgeError(f"{what} {ident} is not in the local outbox {self.outbox}")

    def _load(self, name: str, default: Any) -> Any:
        path = self.outbox / name
        if not path.exists():
            return default
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ForgeError(f"{path}: not valid JSON ({exc}); delete it to start over") from exc

    def _save(self, name: str, data: Any) -> None:
        _write(self.outbox / name, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _write(path: Path, text: str) -> None:
    """Replace ``path`` atomically, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _slug(marker: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", marker)


def _git_identities(root: Path) -> set[str]:
    """The repository's git ``user.name`` and ``user.email``, lower-cased."""
    found = set()
    for key in ("user.name", "user.email"):
        result = subprocess.run(
            ["git", "config", "--get", key], cwd=root, capture_output=True, text=True, check=False
        )
        if result.returncode == 0 and result.stdout.strip():
            found.add(result.stdout.strip().lower())
    return found


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
