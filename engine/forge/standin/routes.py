"""The plumbing of the GitHub stand-in's routes: requests, replies and JSON helpers.

:class:`Routes` holds what every handler shares (the state, the base URL, JSON builders for
the records, GitHub's pagination); :class:`~engine.forge.standin.commit_routes.CommitRoutes`
(pull requests, reviews, the timeline, statuses, refs, deployments) builds on it and
:class:`~engine.forge.standin.api.Api` (issues, comments, reactions, permissions, teams, and
the route table) on that. Authentication, fault injection and the HTTP server itself live in
:mod:`engine.forge.standin.server`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

from engine.forge.standin import commit_payloads as code
from engine.forge.standin import payloads as shape
from engine.forge.standin.records import ApiError, Comment, Issue, User
from engine.forge.standin.state import State

DOCS_URL = "https://docs.github.com/rest"


@dataclass
class Call:
    """One authenticated request: who sent what."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    login: str


@dataclass
class Reply:
    """An answer: status, JSON data (None for no body) and extra headers."""

    status: int
    data: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Route = Callable[[re.Match[str], Call], Reply]
R = TypeVar("R")
# A builder of :mod:`payloads` for a record of this repository: (api, web, repo, record, user).
Shape = Callable[[str, str, str, R, User], dict[str, Any]]


class Routes:
    """The state and base URL every route handler needs, and the JSON helpers."""

    def __init__(self, state: State, base_url: Callable[[], str]) -> None:
        self.state = state
        self._base_url = base_url

    @property
    def url(self) -> str:
        """The API root the JSON's URLs point at."""
        return self._base_url()

    @property
    def repo(self) -> str:
        """The repository's ``owner/name``."""
        return self.state.repo.full_name

    def user_json(self, login: str) -> dict[str, Any]:
        """A user as GitHub embeds it."""
        return shape.user(self.url, self._web(), self.state.user(login))

    def account_json(self, login: str, *, own: bool = False) -> dict[str, Any]:
        """``GET /users/{login}`` (404 for an unknown login), or ``GET /user`` when ``own``."""
        build = shape.private_user if own else shape.public_user
        return build(self.url, self._web(), self.state.known(login))

    # -- JSON helpers ---------------------------------------------------------------

    def _web(self) -> str:
        return self.url + "/_web"

    def _repo_json(self, full_name: str | None = None, *, full: bool = False) -> dict[str, Any]:
        repo = self.state.fork(full_name) if full_name else self.state.repo
        return shape.repo(self.url, self._web(), repo, self.state.user(repo.owner), full=full)

    def _comment_json(self, c: Comment) -> dict[str, Any]:
        return shape.comment(
            self.url,
            self._web(),
            self.repo,
            c,
            self.state.user(c.user),
            self.state.association(c.user),
            self.state.reactions_of(c.id),
            self.state.issues[c.issue].is_pull,
        )

    def _issue_json(self, i: Issue) -> dict[str, Any]:
        return shape.issue(
            self.url,
            self._web(),
            self.repo,
            i,
            self.state.user(i.user),
            self.state.association(i.user),
            len(self.state.comments_of(i.number)),
        )

    def _pull_json(self, number: int) -> dict[str, Any]:
        p, i = self.state.pull(number), self.state.issue(number)
        head = self._repo_json(p.head_repo) if p.head_repo else None
        return code.pull(
            self.url,
            self._web(),
            self._repo_json(),
            head,
            i,
            p,
            self.state.user(i.user),
            self.state.association(i.user),
            len(self.state.comments_of(number)),
        )

    def _json(self, build: Shape[R], record: R, login: str) -> dict[str, Any]:
        """``record`` (a status, review, deployment ...) by ``login`` as ``build`` shapes it."""
        return build(self.url, self._web(), self.repo, record, self.state.user(login))

    def _paged(self, call: Call, items: list[Any]) -> Reply:
        """One page of ``items`` with GitHub's ``Link`` header (``per_page`` ≤ 100)."""
        per_page = max(1, min(100, int_param(call.query.get("per_page"), 30)))
        page = max(1, int_param(call.query.get("page"), 1))
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        shown = [("prev", page - 1), ("next", page + 1), ("first", 1), ("last", last)]
        links = []
        for rel, number in shown:
            if page > 1 if rel in ("prev", "first") else page < last:
                query = urlencode({**call.query, "per_page": str(per_page), "page": str(number)})
                links.append(f'<{self.url}{call.path}?{query}>; rel="{rel}"')
        return Reply(200, chunk, {"Link": ", ".join(links)} if links else {})


def error_reply(exc: ApiError) -> Reply:
    """GitHub's error body: ``message``, ``documentation_url``, ``status`` (and ``errors``)."""
    data: dict[str, Any] = {
        "message": exc.message,
        "documentation_url": DOCS_URL,
        "status": str(exc.status),
    }
    if exc.errors:
        data["errors"] = exc.errors
    return Reply(exc.status, data)


def object_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "Problems parsing JSON")
    return body


def int_param(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def created(data: dict[str, Any]) -> Reply:
    return Reply(201, data, {"Location": str(data.get("url", ""))})
