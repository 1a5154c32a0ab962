"""The records of the GitHub stand-in: what GitHub stores, as plain mutable dataclasses.

:class:`~engine.forge.standin.state.State` keeps them and applies GitHub's rules;
:mod:`engine.forge.standin.payloads` shapes them as GitHub's JSON. :class:`ApiError` is a
request GitHub would refuse, with its status code and message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, get_args

from engine.forge import PERMISSION_ORDER, DeploymentState

T = TypeVar("T")
SHA = re.compile(r"^[0-9a-f]{40}$")  # a full commit id
ROLES = tuple(reversed(PERMISSION_ORDER))  # strongest first, as error messages list them
# The permission API's legacy ``permission`` field folds the newer roles into three levels.
LEGACY_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}
DEPLOYMENT_STATES: frozenset[str] = frozenset(get_args(DeploymentState))
REVIEW_STATES = frozenset({"APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING"})


class ApiError(Exception):
    """A request GitHub would refuse: status code, message and validation errors."""

    def __init__(self, status: int, message: str, errors: Sequence[Mapping[str, str]] = ()):
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.errors = list(errors)


def invalid(resource: str, field_name: str, message: str) -> ApiError:
    """GitHub's ``422 Validation Failed`` for one field."""
    error = {"resource": resource, "code": "custom", "field": field_name, "message": message}
    return ApiError(422, "Validation Failed", [error])


@dataclass
class User:
    """A GitHub account; logins ending in ``[bot]`` are bots."""

    login: str
    id: int
    type: str = "User"
    created_at: str = ""


@dataclass
class Repo:
    """The served repository, or one of its forks."""

    full_name: str
    id: int
    owner: str
    default_branch: str = "main"
    private: bool = False
    fork: bool = False
    description: str | None = None
    created_at: str = ""


@dataclass
class Issue:
    """An issue, or the issue half of a pull request (``is_pull``)."""

    number: int
    id: int
    title: str
    body: str | None
    user: str
    created_at: str
    updated_at: str
    state: str = "open"
    labels: list[str] = field(default_factory=list)
    closed_at: str | None = None
    is_pull: bool = False


@dataclass
class Pull:
    """The pull-request half: branches and commits (``head_repo`` None: fork deleted)."""

    number: int
    id: int
    head_sha: str
    head_ref: str
    head_repo: str | None
    base_ref: str
    base_sha: str
    draft: bool = False


@dataclass
class HeadMove:
    """A push to a pull request's head branch, as the timeline records it.

    A plain push becomes a ``committed`` event (GitHub gives it no server time: only the
    commit's own dates); a force push a ``head_ref_force_pushed`` event with ``created_at``.
    """

    id: int
    pr: int
    sha: str
    actor: str
    created_at: str
    forced: bool = False


@dataclass
class Comment:
    """A comment on an issue or pull request."""

    id: int
    issue: int
    user: str
    body: str
    created_at: str
    updated_at: str


@dataclass
class Status:
    """One commit status, as posted."""

    id: int
    sha: str
    context: str
    state: str
    description: str | None
    target_url: str | None
    creator: str
    created_at: str
    updated_at: str


@dataclass
class Reaction:
    """A reaction to a comment."""

    id: int
    comment_id: int
    user: str
    content: str
    created_at: str


@dataclass
class ReviewRecord:
    """A pull-request review."""

    id: int
    pr: int
    user: str
    state: str
    commit_id: str | None
    body: str
    submitted_at: str


@dataclass
class Deployment:
    """A deployment record."""

    id: int
    ref: str
    sha: str
    environment: str
    description: str | None
    payload: Any
    creator: str
    created_at: str


@dataclass
class DeploymentStatus:
    """One state report of a deployment."""

    id: int
    deployment_id: int
    state: str
    description: str
    environment: str
    environment_url: str | None
    log_url: str | None
    creator: str
    created_at: str


@dataclass(frozen=True)
class DispatchRecord:
    """A ``workflow_dispatch`` the stand-in accepted."""

    workflow: str
    ref: str
    inputs: Mapping[str, Any]
    user: str


def found(records: Mapping[int, T], key: int) -> T:
    """``records[key]``, else GitHub's 404."""
    if key not in records:
        raise ApiError(404, "Not Found")
    return records[key]
