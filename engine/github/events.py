"""GitHub webhook payloads as typed values, tolerant of what we don't use.

``mlops event`` reads ``GITHUB_EVENT_NAME`` and the JSON at ``GITHUB_EVENT_PATH`` and
parses it here. Models ignore unknown fields (GitHub adds fields all the time) and
allow the real-world quirks: a comment on a plain issue (no ``pull_request`` key), a
pull request whose fork was deleted (``head.repo`` is null), a tag deletion pushed with
an all-zero ``after``, a ``workflow_run`` without ``pull_requests``. Pure: no I/O.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine.errors import UserError

ZERO_SHA = "0" * 40
MAX_PAYLOAD = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MB


class _Loose(BaseModel):
    # Built on first use: an event needs a few of these models, and building all at import
    # costs every `mlops event` (defer_build).
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class User(_Loose):
    """Who did it."""

    login: str
    type: str = "User"

    @property
    def is_bot(self) -> bool:
        """Bots never command the engine (and replying to one can start a loop)."""
        return self.type == "Bot" or self.login.endswith("[bot]")


class Repository(_Loose):
    """A repository as webhooks describe it."""

    full_name: str
    default_branch: str = "main"
    fork: bool = False
    private: bool | None = None


class Ref(_Loose):
    """One side of a pull request: a branch at a commit, in a repository (None: deleted)."""

    ref: str
    sha: str
    repo: Repository | None = None


class PullRequest(_Loose):
    """The pull request a ``pull_request`` event is about."""

    number: int
    title: str = ""
    state: str = "open"
    user: User
    head: Ref
    base: Ref
    draft: bool = False


class PullRequestEvent(_Loose):
    """``pull_request``: opened, synchronize, reopened, closed..."""

    action: str
    number: int
    pull_request: PullRequest
    repository: Repository
    sender: User

    @property
    def from_fork(self) -> bool:
        """Whether the head lives in another repository (or one since deleted)."""
        head = self.pull_request.head.repo
        return head is None or head.full_name != self.repository.full_name


class Issue(_Loose):
    """The issue (or pull request) a comment is on."""

    number: int
    user: User
    pull_request: dict[str, Any] | None = None
    state: str = "open"

    @property
    def is_pull_request(self) -> bool:
        """Comments on pull requests carry a ``pull_request`` key on the issue."""
        return self.pull_request is not None


class Comment(_Loose):
    """An issue comment."""

    id: int
    body: str | None = ""
    user: User
    created_at: str = ""


class IssueCommentEvent(_Loose):
    """``issue_comment``: created, edited, deleted."""

    action: str
    issue: Issue
    comment: Comment
    repository: Repository
    sender: User


class PushEvent(_Loose):
    """``push``: a branch or tag moved, was created, or was deleted."""

    ref: str
    before: str
    after: str
    created: bool = False
    deleted: bool = False
    repository: Repository
    sender: User | None = None

    @property
    def branch(self) -> str | None:
        """The branch pushed to, or None for a tag."""
        return self.ref.removeprefix("refs/heads/") if self.ref.startswith("refs/heads/") else None

    @property
    def is_deletion(self) -> bool:
        """A deleted branch or tag: nothing to build."""
        return self.deleted or self.after == ZERO_SHA


class RunPullRequest(_Loose):
    """A pull request a workflow run belongs to (same-repository PRs only)."""

    number: int


class WorkflowRun(_Loose):
    """The run a ``workflow_run`` event reports."""

    id: int
    name: str = ""
    event: str = ""
    head_sha: str
    head_branch: str | None = None
    conclusion: str | None = None
    pull_requests: list[RunPullRequest] = Field(default_factory=list)
    html_url: str = ""
    head_repository: Repository | None = None


class WorkflowRunEvent(_Loose):
    """``workflow_run``: a workflow we follow completed."""

    action: str
    workflow_run: WorkflowRun
    repository: Repository


class DispatchEvent(_Loose):
    """``workflow_dispatch`` (inputs) or ``schedule`` (no payload beyond the repository)."""

    inputs: dict[str, Any] = Field(default_factory=dict)
    ref: str = ""
    repository: Repository | None = None

    @field_validator("inputs", mode="before")
    @classmethod
    def _no_inputs(cls, value: Any) -> Any:
        # GitHub sends `"inputs": null` for a dispatch of a workflow that declares none
        return {} if value is None else value


Event = PullRequestEvent | IssueCommentEvent | PushEvent | WorkflowRunEvent | DispatchEvent
MODELS: dict[str, type[BaseModel]] = {
    "pull_request": PullRequestEvent,
    "issue_comment": IssueCommentEvent,
    "push": PushEvent,
    "workflow_run": WorkflowRunEvent,
    "workflow_dispatch": DispatchEvent,
    "schedule": DispatchEvent,
}


def parse_event(name: str, data: bytes, source: str = "GITHUB_EVENT_PATH") -> Event:
    """The typed payload of event ``name``; a clear UserError when it can't be read."""
    model = MODELS.get(name)
    if model is None:
        raise UserError(
            f"event {name!r} is not handled by mlops; it handles "
            f"{', '.join(MODELS)}: check the workflow's `on:` triggers"
        )
    if len(data) > MAX_PAYLOAD:
        raise UserError(f"{source}: the payload is {len(data):,} bytes, over GitHub's 25 MB")
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{source}: the {name} payload is not valid JSON ({exc})") from None
    try:
        return model.model_validate(raw)  # type: ignore[return-value]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UserError(
            f"{source}: not a {name} payload: {where}: {first['msg']} "
            f"({exc.error_count()} problem(s))"
        ) from None
