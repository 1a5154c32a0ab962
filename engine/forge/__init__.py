"""The forge: where the engine's results are published (GitHub, or local files).

Everything the engine says to a code host goes through one small protocol, :class:`Forge`,
so the rest of the engine never knows whether it talks to GitHub or to a laptop:

- :class:`~engine.forge.github.GitHubForge` (``engine.forge.github``) speaks the GitHub REST
  API through github3.py, honours ``GITHUB_API_URL`` (github.com, GitHub Enterprise, or the
  local stand-in of ``engine.forge.standin.server``) and carries the retry rules;
- :class:`~engine.forge.local.LocalForge` (``engine.forge.local``) writes comments and
  statuses under ``<repo>/.mlops/outbox/`` for the terminal and the demo.

This module holds the protocol, the plain frozen values it trades in and the pure rules
both forges share (the hidden marker of a sticky comment, the length caps GitHub enforces).
It imports nothing heavy, so commands that never publish stay cheap.

    UserError
    └── ForgeError            the forge refused or failed a call (message says what to do)
        ├── ForgeAuthError    the token is missing, invalid or lacks a permission
        ├── ForgeNotFound     what the call named is not there (404: a deleted comment...)
        └── ForgeUnavailable  the API kept failing (5xx, rate limits, timeouts) past the budget
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, get_args, runtime_checkable

from engine.definitions import installed
from engine.errors import UserError
from engine.forge._lazy import lazily

# github3.py and requests import at import time what the engine's calls never use:
# deferred until something reads from them (engine.forge._lazy says why). PyJWT and
# cryptography serve GitHub App auth; dateutil.parser the dates of github3's objects (the
# engine reads JSON); charset_normalizer a response without a charset (GitHub names it;
# requests reads its version at import); idna a host name that is not ASCII;
# importlib.metadata urllib3's HTTP/2 opt-in.
lazily("jwt")
lazily("dateutil.parser")
lazily("idna")
lazily("importlib.metadata", functions=["version"])
with suppress(ImportError):  # not installed: requests then falls back to chardet
    lazily(
        "charset_normalizer",
        values={"__version__": installed.version("charset-normalizer")},
    )

StatusState = Literal["error", "failure", "pending", "success"]
Reaction = Literal["+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"]
Permission = Literal["admin", "maintain", "write", "triage", "read", "none"]
DeploymentState = Literal[
    "error", "failure", "inactive", "in_progress", "queued", "pending", "success"
]
WriteAction = Literal["created", "updated", "unchanged", "closed"]

REACTIONS: frozenset[str] = frozenset(get_args(Reaction))
STATUS_STATES: frozenset[str] = frozenset(get_args(StatusState))
# Ordered weakest to strongest: policy code compares levels with PERMISSION_ORDER.index().
PERMISSION_ORDER: tuple[Permission, ...] = tuple(reversed(get_args(Permission)))

MAX_COMMENT_CHARS = 65_536
"""GitHub rejects longer comment bodies with a 422; counted in UTF-16 units (the stricter
count: an emoji may count 2), as the report counts itself."""
MAX_STATUS_DESCRIPTION = 140  # ... and longer commit-status descriptions
GITHUB_ACTIONS_BOT = "github-actions[bot]"
_CUT_NOTE = "\n\n…(cut to fit GitHub's comment limit; the full report is in the job summary)"
_MARKER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$")


class ForgeError(UserError):
    """The forge refused or failed a call; the message says what to change."""


class ForgeAuthError(ForgeError):
    """The token is missing, invalid, or lacks the permission a call needs."""


class ForgeNotFound(ForgeError):
    """What the call named is not there (GitHub's 404): a deleted comment, a gone branch."""


class ForgeUnavailable(ForgeError):
    """The API kept failing (5xx, rate limits, timeouts) until the time budget ran out."""


@dataclass(frozen=True)
class CommentRef:
    """A comment the forge wrote: its id (for reactions), where to see it, what happened."""

    id: int
    url: str
    action: WriteAction = "created"


@dataclass(frozen=True)
class PullRequestInfo:
    """The facts about a pull request that the engine decides on.

    ``head_repo`` is the full name of the repository the head branch lives in; it is
    ``None`` when that fork was deleted (GitHub then sends ``head.repo: null``).
    ``comments`` is how many issue comments it had when read (None: not known).
    """

    number: int
    title: str
    state: str
    merged: bool
    author: str
    head_sha: str
    head_ref: str
    head_repo: str | None
    base_ref: str
    base_repo: str
    comments: int | None = None

    @property
    def is_fork(self) -> bool:
        """Whether the head branch lives outside the base repository (or is gone)."""
        return self.head_repo is None or self.head_repo.lower() != self.base_repo.lower()


@dataclass(frozen=True)
class Review:
    """One pull-request review: who, what verdict, on which commit."""

    user: str
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING
    commit_id: str | None
    submitted_at: str | None = None


@dataclass(frozen=True)
class ForcePush:
    """A force push of a pull request's head branch, from the PR's timeline.

    ``at`` is GitHub's clock (the author cannot set it); ``sha`` the commit the event
    names, when GitHub gives one. Either is None when the event lacks it.
    """

    at: str | None
    sha: str | None
    actor: str | None = None


@dataclass(frozen=True)
class DeploymentRef:
    """A deployment record the forge created."""

    id: int
    environment: str
    ref: str
    url: str


@dataclass(frozen=True)
class IssueRef:
    """An issue the forge opened or updated."""

    number: int
    url: str
    action: WriteAction = "created"


@dataclass(frozen=True)
class Dispatch:
    """A ``workflow_dispatch`` the engine asked for (recorded by the local forge)."""

    workflow: str
    ref: str
    inputs: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class Forge(Protocol):
    """What the engine needs from a code host; every method is one logical operation."""

    name: str
    """``github``, or ``local`` for the outbox that stands in for one without GitHub."""

    def identity(self) -> str:
        """The login the engine posts as (``github-actions[bot]`` for ``GITHUB_TOKEN``)."""
        ...

    def upsert_comment(
        self, pr: int, body: str, marker: str, *, comment_count: int | None = None
    ) -> CommentRef:
        """Create or edit the one sticky comment per pull request and ``marker``.

        ``comment_count`` is how many comments the pull request has, when the caller has
        just read it (:attr:`PullRequestInfo.comments`): 0 means there is none to look for.
        """
        ...

    def reply(self, pr: int, body: str) -> CommentRef:
        """Post a new comment (an answer to a command); never duplicated by retries."""
        ...

    def set_status(
        self,
        sha: str,
        context: str,
        state: StatusState,
        description: str,
        target_url: str | None = None,
    ) -> None:
        """Set the commit status ``context`` (``mlops/validate``, ``mlops/gates``) on ``sha``."""
        ...

    def react(self, comment_id: int, content: Reaction) -> None:
        """Add a reaction (``eyes``, ``rocket``, ``confused``, ``+1`` ...) to a PR comment."""
        ...

    def permission(self, user: str) -> Permission:
        """The user's collaborator permission on the repository (``none`` if not one)."""
        ...

    def pull_request(self, number: int) -> PullRequestInfo:
        """Read one pull request."""
        ...

    def pulls_for_sha(self, sha: str) -> list[int]:
        """Open pull requests whose head commit is ``sha`` (forks included)."""
        ...

    def reviews(self, pr: int) -> list[Review]:
        """The reviews of a pull request, oldest first."""
        ...

    def first_status_at(self, sha: str, context: str) -> str | None:
        """When status ``context`` was first set on ``sha`` (ISO 8601, server time), or None."""
        ...

    def own_statuses(self, sha: str) -> dict[str, tuple[str, str]]:
        """Each context whose latest status on ``sha`` the engine set: (state, description).

        Lets a re-run skip re-posting a status that already says the same thing.
        """
        ...

    def force_pushes(self, pr: int) -> list[ForcePush]:
        """Every force push of the pull request's head branch, from its timeline, oldest first."""
        ...

    def dispatch_workflow(self, workflow_file: str, ref: str, inputs: Mapping[str, str]) -> None:
        """Start a ``workflow_dispatch`` run of ``.github/workflows/<workflow_file>`` on ``ref``."""
        ...

    def create_deployment(
        self, ref: str, environment: str, description: str, payload: Mapping[str, Any]
    ) -> DeploymentRef:
        """Record a deployment of ``ref`` to ``environment``."""
        ...

    def set_deployment_status(
        self,
        deployment_id: int,
        state: DeploymentState,
        description: str = "",
        environment_url: str | None = None,
        log_url: str | None = None,
    ) -> None:
        """Report the state of a deployment."""
        ...

    def open_or_update_issue(
        self, title: str, body: str, marker: str, labels: Sequence[str] = ()
    ) -> IssueRef:
        """Open the one open issue per ``marker`` (drift alarms ...), or update it."""
        ...

    def close_issue(self, marker: str, note: str, labels: Sequence[str] = ()) -> IssueRef | None:
        """Comment ``note`` on the bot's open issue per ``marker`` and close it (None if none)."""
        ...

    def find_pull_request(self, marker: str) -> IssueRef | None:
        """The bot's open pull request carrying ``marker`` (a retraining PR ...), or None."""
        ...

    def declined_pull_request(self, head: str) -> IssueRef | None:
        """The bot's pull request of branch ``head`` closed without merging, or None."""
        ...

    def open_pull_request(
        self, title: str, body: str, head: str, base: str, marker: str
    ) -> IssueRef:
        """Open a pull request of branch ``head`` into ``base``, its body carrying ``marker``.

        An open pull request of ``head`` already there (a retry, a rerun) is returned as
        ``unchanged``, never duplicated.
        """
        ...

    def team_members(self, org: str, team: str) -> list[str]:
        """Logins of a team's members (for environment allow-lists)."""
        ...


def marker_tag(marker: str) -> str:
    """The hidden HTML comment that identifies a sticky comment: ``<!-- mlops:NAME -->``."""
    if not _MARKER_NAME.match(marker):
        raise ValueError(f"invalid comment marker {marker!r}: use letters, digits and -_.:/")
    return f"<!-- mlops:{marker} -->"


def with_marker(body: str, marker: str) -> str:
    """``body`` with its hidden marker first, cut to GitHub's comment limit."""
    tag = marker_tag(marker)
    text = body if body.startswith(tag) else f"{tag}\n{body}"
    return clip_comment(text)


def has_marker(body: str | None, marker: str) -> bool:
    """Whether a comment body carries the hidden marker ``marker``."""
    return body is not None and marker_tag(marker) in body


def clip_comment(body: str) -> str:
    """Cut ``body`` to GitHub's 65,536-character limit, saying where the rest is."""
    units = body.encode("utf-16-le")
    if len(units) <= 2 * MAX_COMMENT_CHARS:
        return body
    room = 2 * (MAX_COMMENT_CHARS - len(_CUT_NOTE.encode("utf-16-le")) // 2)
    # a character cut in half (a surrogate pair's first unit) is dropped whole
    return units[:room].decode("utf-16-le", errors="ignore") + _CUT_NOTE


def clip_description(text: str) -> str:
    """A status description on one line, at most 140 characters."""
    line = " ".join(text.split())
    if len(line) <= MAX_STATUS_DESCRIPTION:
        return line
    return line[: MAX_STATUS_DESCRIPTION - 1] + "…"


def check_reaction(content: str) -> Reaction:
    """``content`` if GitHub accepts it as a reaction, else ``ValueError``."""
    if content not in REACTIONS:
        raise ValueError(f"unknown reaction {content!r}: use one of {sorted(REACTIONS)}")
    return content  # type: ignore[return-value]


def check_state(state: str) -> StatusState:
    """``state`` if it is a commit-status state, else ``ValueError``."""
    if state not in STATUS_STATES:
        raise ValueError(f"unknown status state {state!r}: use one of {sorted(STATUS_STATES)}")
    return state  # type: ignore[return-value]


__all__ = [
    "GITHUB_ACTIONS_BOT",
    "MAX_COMMENT_CHARS",
    "MAX_STATUS_DESCRIPTION",
    "PERMISSION_ORDER",
    "REACTIONS",
    "CommentRef",
    "DeploymentRef",
    "DeploymentState",
    "Dispatch",
    "ForcePush",
    "Forge",
    "ForgeAuthError",
    "ForgeError",
    "ForgeNotFound",
    "ForgeUnavailable",
    "IssueRef",
    "Permission",
    "PullRequestInfo",
    "Reaction",
    "Review",
    "StatusState",
    "WriteAction",
    "check_reaction",
    "check_state",
    "clip_comment",
    "clip_description",
    "has_marker",
    "marker_tag",
    "with_marker",
]
