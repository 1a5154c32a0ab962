"""GitHub webhook payloads as typed values, tolerant of what we don't use.

``mlops event`` reads ``GITHUB_EVENT_NAME`` and the JSON at ``GITHUB_EVENT_PATH`` and
parses it here. The values ignore unknown fields (GitHub adds fields all the time) and
allow the real-world quirks: a comment on a plain issue (no ``pull_request`` key), a
pull request whose fork was deleted (``head.repo`` is null), a tag deletion pushed with
an all-zero ``after``, a ``workflow_run`` without ``pull_requests``. Pure: no I/O.

They are plain read-only classes checked by :func:`_build` rather than pydantic models:
every event pays for this module, and a pull request that changes no definition otherwise
needs no pydantic at all (importing it and building the models cost more than the rest of
such an event); nor frozen dataclasses, whose generated methods cost about as much as the
rest of this module's import. The check reads each field's declared type and answers as
pydantic did: the same lax conversions (``"3"`` for an int, ``"true"`` for a bool) and,
for a payload out of shape, the same message with the first problem's dotted path and the
problem count.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from engine.errors import UserError
from engine.plain import MISSING, Plain, fields_of

ZERO_SHA = "0" * 40
MAX_PAYLOAD = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MB


class _Payload(Plain):
    """A webhook object: its fields are its annotations, set once from keywords, read-only.

    A field's class attribute is its default (a list or dict default is copied for each
    value); one without is required.
    """

    def __init__(self, **values: Any) -> None:
        for name, _, default in fields_of(type(self)):
            value = values.get(name, default)
            if value is MISSING:
                raise TypeError(f"{type(self).__name__} needs {name}")
            if value is default and isinstance(value, list | dict):
                value = value.copy()
            object.__setattr__(self, name, value)


class User(_Payload):
    """Who did it."""

    login: str
    type: str = "User"

    @property
    def is_bot(self) -> bool:
        """Bots never command the engine (and replying to one can start a loop)."""
        return self.type == "Bot" or self.login.endswith("[bot]")


class Repository(_Payload):
    """A repository as webhooks describe it."""

    full_name: str
    default_branch: str = "main"
    fork: bool = False
    private: bool | None = None


class Ref(_Payload):
    """One side of a pull request: a branch at a commit, in a repository (None: deleted)."""

    ref: str
    sha: str
    repo: Repository | None = None


class PullRequest(_Payload):
    """The pull request a ``pull_request`` event is about."""

    number: int
    title: str = ""
    state: str = "open"
    user: User
    head: Ref
    base: Ref
    draft: bool = False


class PullRequestEvent(_Payload):
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


class Issue(_Payload):
    """The issue (or pull request) a comment is on."""

    number: int
    user: User
    pull_request: dict[str, Any] | None = None
    state: str = "open"

    @property
    def is_pull_request(self) -> bool:
        """Comments on pull requests carry a ``pull_request`` key on the issue."""
        return self.pull_request is not None


class Comment(_Payload):
    """An issue comment."""

    id: int
    body: str | None = ""
    user: User
    created_at: str = ""


class IssueCommentEvent(_Payload):
    """``issue_comment``: created, edited, deleted."""

    action: str
    issue: Issue
    comment: Comment
    repository: Repository
    sender: User


class PushEvent(_Payload):
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


class RunPullRequest(_Payload):
    """A pull request a workflow run belongs to (same-repository PRs only)."""

    number: int


class WorkflowRun(_Payload):
    """The run a ``workflow_run`` event reports."""

    id: int
    name: str = ""
    event: str = ""
    head_sha: str
    head_branch: str | None = None
    conclusion: str | None = None
    pull_requests: list[RunPullRequest] = []  # copied for each value
    html_url: str = ""
    head_repository: Repository | None = None


class WorkflowRunEvent(_Payload):
    """``workflow_run``: a workflow we follow completed."""

    action: str
    workflow_run: WorkflowRun
    repository: Repository


class DispatchEvent(_Payload):
    """``workflow_dispatch`` (inputs) or ``schedule`` (no payload beyond the repository).

    GitHub sends ``"inputs": null`` for a dispatch of a workflow that declares none: that
    reads as no inputs.
    """

    inputs: dict[str, Any] = {}  # copied for each value
    ref: str = ""
    repository: Repository | None = None


Event = PullRequestEvent | IssueCommentEvent | PushEvent | WorkflowRunEvent | DispatchEvent
MODELS: dict[str, type[Any]] = {
    "pull_request": PullRequestEvent,
    "issue_comment": IssueCommentEvent,
    "push": PushEvent,
    "workflow_run": WorkflowRunEvent,
    "workflow_dispatch": DispatchEvent,
    "schedule": DispatchEvent,
}
_NULL_IS_EMPTY = {(DispatchEvent, "inputs")}
"""Fields where JSON ``null`` means the default (GitHub's quirks), not a wrong type."""


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
    errors: list[tuple[tuple[str | int, ...], str]] = []
    event = _build(model, raw, (), errors)
    if errors:
        loc, msg = errors[0]
        where = ".".join(str(p) for p in loc)
        raise UserError(
            f"{source}: not a valid {name} payload: {where}: {msg} ({len(errors)} problem(s))"
        )
    return typing.cast(Event, event)


# --- checking a payload against the classes ---------------------------------------------

_Errors = list[tuple[tuple[str | int, ...], str]]


def _build(cls: type[Any], raw: Any, loc: tuple[str | int, ...], errors: _Errors) -> Any:
    """``cls`` from the JSON value ``raw``; problems are appended to ``errors``."""
    if not isinstance(raw, dict):
        errors.append((loc, f"Input should be a valid dictionary or instance of {cls.__name__}"))
        return None
    values: dict[str, Any] = {}
    start = len(errors)
    for name, tp, default in fields_of(cls):
        value = raw.get(name, MISSING)
        if value is None and (cls, name) in _NULL_IS_EMPTY:
            value = MISSING
        if value is MISSING:
            if default is MISSING:
                errors.append(((*loc, name), "Field required"))
            continue
        values[name] = _convert(tp, value, (*loc, name), errors)
    return cls(**values) if len(errors) == start else None  # none built from a bad part


def _convert(tp: Any, value: Any, loc: tuple[str | int, ...], errors: _Errors) -> Any:
    """``value`` as type ``tp``, converted as pydantic's lax mode does."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, value, loc, errors)
    if origin is list:
        if not isinstance(value, list):
            errors.append((loc, "Input should be a valid list"))
            return None
        (item,) = typing.get_args(tp)
        return [_convert(item, v, (*loc, i), errors) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            errors.append((loc, "Input should be a valid dictionary"))
            return None
        return value
    if isinstance(tp, type) and issubclass(tp, _Payload):
        return _build(tp, value, loc, errors)
    converted, problem = _SCALARS[tp](value)
    if problem:
        errors.append((loc, problem))
    return converted


def _str(value: Any) -> tuple[Any, str]:
    return (value, "") if isinstance(value, str) else (None, "Input should be a valid string")


def _int(value: Any) -> tuple[Any, str]:
    if isinstance(value, int):
        return int(value), ""
    if isinstance(value, float):
        if value.is_integer():
            return int(value), ""
        return None, "Input should be a valid integer, got a number with a fractional part"
    if isinstance(value, str):
        try:
            return int(value.strip()), ""
        except ValueError:
            return None, "Input should be a valid integer, unable to parse string as an integer"
    return None, "Input should be a valid integer"


_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


def _bool(value: Any) -> tuple[Any, str]:
    if isinstance(value, bool):
        return value, ""
    if isinstance(value, int) and value in (0, 1):
        return bool(value), ""
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE, ""
    if isinstance(value, int | str):
        return None, "Input should be a valid boolean, unable to interpret input"
    return None, "Input should be a valid boolean"


_SCALARS = {str: _str, int: _int, bool: _bool}
