"""The routes of the GitHub stand-in: REST paths to state changes and JSON replies.

:class:`Api` maps ``(method, path)`` to a handler that reads or changes the
:class:`~engine.forge.standin.state.State` and answers with bodies built by
:mod:`engine.forge.standin.payloads`. Paths under ``/repos/{owner}/{repo}`` answer 404 for any
repository but the stand-in's own, as GitHub does for one you can't see. Authentication,
fault injection and the HTTP server itself live in :mod:`engine.forge.standin.server`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

from engine.forge.standin import payloads as shape
from engine.forge.standin.state import LEGACY_PERMISSION, ApiError, Comment, Issue, State, User

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


class Api:
    """GitHub's REST routes over one repository's state."""

    def __init__(self, state: State, base_url: Callable[[], str]) -> None:
        self.state = state
        self._base_url = base_url
        self._routes = self._build_routes()

    @property
    def url(self) -> str:
        """The API root the JSON's URLs point at."""
        return self._base_url()

    @property
    def repo(self) -> str:
        """The repository's ``owner/name``."""
        return self.state.repo.full_name

    def serve(self, call: Call) -> Reply:
        """Answer ``call``; GitHub's error JSON for anything refused."""
        try:
            for verb, pattern, route in self._routes:
                match = pattern.fullmatch(call.path)
                if match and verb == call.method:
                    return route(match, call)
            raise ApiError(404, "Not Found")
        except ApiError as exc:
            return error_reply(exc)

    def user_json(self, login: str) -> dict[str, Any]:
        """A user as GitHub embeds it."""
        return shape.user(self.url, self._web(), self.state.user(login))

    # -- JSON helpers ---------------------------------------------------------------

    def _web(self) -> str:
        return self.url + "/_web"

    def _repo_json(self, full_name: str | None = None) -> dict[str, Any]:
        repo = self.state.fork(full_name) if full_name else self.state.repo
        return shape.repo(self.url, self._web(), repo, self.state.user(repo.owner))

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
        return shape.pull(
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
        per_page = max(1, min(100, _int(call.query.get("per_page"), 30)))
        page = max(1, _int(call.query.get("page"), 1))
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        shown = [("prev", page - 1), ("next", page + 1), ("first", 1), ("last", last)]
        links = []
        for rel, number in shown:
            if page > 1 if rel in ("prev", "first") else page < last:
                query = urlencode({**call.query, "per_page": str(per_page), "page": str(number)})
                links.append(f'<{self.url}{call.path}?{query}>; rel="{rel}"')
        return Reply(200, chunk, {"Link": ", ".join(links)} if links else {})

    # -- routes ---------------------------------------------------------------------------

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], Route]]:
        repo = r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"
        table: list[tuple[str, str, Route]] = [
            (
                "GET",
                r"/users/(?P<login>[^/]+)",
                lambda m, c: Reply(200, self.user_json(m["login"])),
            ),
            ("GET", r"/orgs/(?P<org>[^/]+)/teams/(?P<team>[^/]+)/members", self._team_members),
            ("GET", repo, lambda m, c: Reply(200, self._repo_json())),
            ("GET", repo + r"/issues", self._list_issues),
            ("POST", repo + r"/issues", self._create_issue),
            (
                "GET",
                repo + r"/issues/(?P<n>\d+)",
                lambda m, c: Reply(200, self._issue_json(self.state.issue(int(m["n"])))),
            ),
            ("PATCH", repo + r"/issues/(?P<n>\d+)", self._edit_issue),
            ("GET", repo + r"/issues/(?P<n>\d+)/comments", self._list_comments),
            ("POST", repo + r"/issues/(?P<n>\d+)/comments", self._create_comment),
            (
                "GET",
                repo + r"/issues/comments/(?P<id>\d+)",
                lambda m, c: Reply(200, self._comment_json(self.state.comment(int(m["id"])))),
            ),
            ("PATCH", repo + r"/issues/comments/(?P<id>\d+)", self._edit_comment),
            ("DELETE", repo + r"/issues/comments/(?P<id>\d+)", self._delete_comment),
            ("GET", repo + r"/issues/comments/(?P<id>\d+)/reactions", self._list_reactions),
            ("POST", repo + r"/issues/comments/(?P<id>\d+)/reactions", self._react),
            ("POST", repo + r"/statuses/(?P<sha>[^/]+)", self._create_status),
            (
                "GET",
                repo + r"/(?:commits/(?P<ref>.+)/statuses|statuses/(?P<sha>[^/]+))",
                self._list_statuses,
            ),
            ("GET", repo + r"/commits/(?P<ref>.+)/status", self._combined_status),
            ("GET", repo + r"/commits/(?P<sha>[^/]+)/pulls", self._commit_pulls),
            ("GET", repo + r"/pulls", self._list_pulls),
            (
                "GET",
                repo + r"/pulls/(?P<n>\d+)",
                lambda m, c: Reply(200, self._pull_json(int(m["n"]))),
            ),
            ("GET", repo + r"/pulls/(?P<n>\d+)/reviews", self._list_reviews),
            ("POST", repo + r"/pulls/(?P<n>\d+)/reviews", self._create_review),
            ("GET", repo + r"/git/refs?/(?P<ref>.+)", self._get_ref),
            ("POST", repo + r"/git/refs", self._create_ref),
            ("PATCH", repo + r"/git/refs/(?P<ref>.+)", self._update_ref),
            ("DELETE", repo + r"/git/refs/(?P<ref>.+)", self._delete_ref),
            ("GET", repo + r"/collaborators/(?P<login>[^/]+)/permission", self._permission),
            (
                "GET",
                repo + r"/collaborators/(?P<login>[^/]+)",
                lambda m, c: Reply(204 if self.state.role(m["login"]) != "none" else 404),
            ),
            ("POST", repo + r"/actions/workflows/(?P<wf>[^/]+)/dispatches", self._dispatch),
            ("GET", repo + r"/deployments", self._list_deployments),
            ("POST", repo + r"/deployments", self._create_deployment),
            ("GET", repo + r"/deployments/(?P<id>\d+)/statuses", self._deployment_statuses),
            ("POST", repo + r"/deployments/(?P<id>\d+)/statuses", self._deployment_status),
        ]
        return [
            (verb, re.compile(pattern), self._scoped(route) if pattern.startswith(repo) else route)
            for verb, pattern, route in table
        ]

    def _scoped(self, route: Route) -> Route:
        """Serve ``route`` only for this repository (any other answers 404, like GitHub)."""

        def serve(match: re.Match[str], call: Call) -> Reply:
            if f"{match['owner']}/{match['name']}".lower() != self.repo.lower():
                raise ApiError(404, "Not Found")
            return route(match, call)

        return serve

    def _team_members(self, m: re.Match[str], call: Call) -> Reply:
        members = self.state.teams.get((m["org"].lower(), m["team"].lower()))
        if members is None:
            raise ApiError(404, "Not Found")
        return self._paged(call, [self.user_json(login) for login in members])

    def _list_issues(self, m: re.Match[str], call: Call) -> Reply:
        labels = [x for x in call.query.get("labels", "").split(",") if x]
        found = self.state.list_issues(
            call.query.get("state", "open"), labels, call.query.get("creator")
        )
        return self._paged(call, [self._issue_json(i) for i in found])

    def _create_issue(self, m: re.Match[str], call: Call) -> Reply:
        body = _object(call.body)
        issue = self.state.create_issue(
            call.login, str(body.get("title") or ""), body.get("body"), body.get("labels") or ()
        )
        return _created(self._issue_json(issue))

    def _edit_issue(self, m: re.Match[str], call: Call) -> Reply:
        issue = self.state.edit_issue(int(m["n"]), _object(call.body))
        return Reply(200, self._issue_json(issue))

    def _list_comments(self, m: re.Match[str], call: Call) -> Reply:
        found = self.state.comments_of(int(m["n"]))
        return self._paged(call, [self._comment_json(c) for c in found])

    def _create_comment(self, m: re.Match[str], call: Call) -> Reply:
        body = str(_object(call.body).get("body") or "")
        return _created(self._comment_json(self.state.add_comment(int(m["n"]), call.login, body)))

    def _edit_comment(self, m: re.Match[str], call: Call) -> Reply:
        body = str(_object(call.body).get("body") or "")
        return Reply(200, self._comment_json(self.state.edit_comment(int(m["id"]), body)))

    def _delete_comment(self, m: re.Match[str], call: Call) -> Reply:
        del self.state.comments[self.state.comment(int(m["id"])).id]
        return Reply(204)

    def _list_reactions(self, m: re.Match[str], call: Call) -> Reply:
        found = self.state.reactions_of(self.state.comment(int(m["id"])).id)
        return self._paged(
            call, [shape.reaction(self.url, self._web(), r, self.state.user(r.user)) for r in found]
        )

    def _react(self, m: re.Match[str], call: Call) -> Reply:
        content = str(_object(call.body).get("content") or "")
        reaction, created = self.state.react(int(m["id"]), call.login, content)
        data = shape.reaction(self.url, self._web(), reaction, self.state.user(call.login))
        return Reply(201 if created else 200, data)

    def _create_status(self, m: re.Match[str], call: Call) -> Reply:
        status = self.state.add_status(m["sha"], call.login, _object(call.body))
        return _created(self._json(shape.status, status, status.creator))

    def _list_statuses(self, m: re.Match[str], call: Call) -> Reply:
        found = self.state.statuses_for(m["ref"] or m["sha"])
        return self._paged(call, [self._json(shape.status, s, s.creator) for s in found])

    def _combined_status(self, m: re.Match[str], call: Call) -> Reply:
        sha = self.state.resolve(m["ref"]) or m["ref"]
        latest = self.state.latest_statuses(sha)
        states = {s.state for s in latest}
        if states & {"error", "failure"}:
            overall = "failure"
        elif "pending" in states or not latest:
            overall = "pending"
        else:
            overall = "success"
        statuses = [
            {k: v for k, v in self._json(shape.status, s, s.creator).items() if k != "creator"}
            for s in latest
        ]
        url = f"{self.url}/repos/{self.repo}/commits/{sha}"
        return Reply(
            200,
            {
                "state": overall,
                "statuses": statuses,
                "sha": sha,
                "total_count": len(statuses),
                "repository": self._repo_json(),
                "commit_url": url,
                "url": f"{url}/status",
            },
        )

    def _commit_pulls(self, m: re.Match[str], call: Call) -> Reply:
        found = self.state.pulls_for_commit(m["sha"])
        return self._paged(call, [self._pull_json(p.number) for p in found])

    def _list_pulls(self, m: re.Match[str], call: Call) -> Reply:
        found = self.state.list_pulls(call.query.get("state", "open"))
        return self._paged(call, [self._pull_json(p.number) for p in found])

    def _list_reviews(self, m: re.Match[str], call: Call) -> Reply:
        number = self.state.pull(int(m["n"])).number
        found = [r for r in self.state.reviews if r.pr == number]
        return self._paged(call, [self._json(shape.review, r, r.user) for r in found])

    def _create_review(self, m: re.Match[str], call: Call) -> Reply:
        body = _object(call.body)
        event = str(body.get("event") or "COMMENT")
        state = {
            "APPROVE": "APPROVED",
            "REQUEST_CHANGES": "CHANGES_REQUESTED",
            "COMMENT": "COMMENTED",
        }.get(event, event)
        review = self.state.add_review(
            int(m["n"]), call.login, state, body.get("commit_id"), str(body.get("body") or "")
        )
        return Reply(200, self._json(shape.review, review, review.user))

    def _get_ref(self, m: re.Match[str], call: Call) -> Reply:
        name = m["ref"]
        if name not in self.state.refs:
            raise ApiError(404, "Not Found")
        return Reply(200, shape.ref(self.url, self.repo, name, self.state.refs[name]))

    def _create_ref(self, m: re.Match[str], call: Call) -> Reply:
        body = _object(call.body)
        name, sha = str(body.get("ref") or "").removeprefix("refs/"), str(body.get("sha") or "")
        if not name.startswith(("heads/", "tags/")) or not sha:
            raise ApiError(422, "Reference name and sha are required")
        if name in self.state.refs:
            raise ApiError(422, "Reference already exists")
        self.state.refs[name] = sha
        return _created(shape.ref(self.url, self.repo, name, sha))

    def _update_ref(self, m: re.Match[str], call: Call) -> Reply:
        name, sha = m["ref"], str(_object(call.body).get("sha") or "")
        if name not in self.state.refs:
            raise ApiError(422, "Reference does not exist")
        self.state.refs[name] = sha
        return Reply(200, shape.ref(self.url, self.repo, name, sha))

    def _delete_ref(self, m: re.Match[str], call: Call) -> Reply:
        if self.state.refs.pop(m["ref"], None) is None:
            raise ApiError(422, "Reference does not exist")
        return Reply(204)

    def _permission(self, m: re.Match[str], call: Call) -> Reply:
        role = self.state.role(m["login"])
        legacy = LEGACY_PERMISSION[role]
        user = {
            **self.user_json(m["login"]),
            "permissions": {
                "admin": role == "admin",
                "maintain": role in ("admin", "maintain"),
                "push": legacy in ("admin", "write"),
                "triage": legacy != "none",
                "pull": legacy != "none",
            },
            "role_name": role,
        }
        return Reply(200, {"permission": legacy, "role_name": role, "user": user})

    def _dispatch(self, m: re.Match[str], call: Call) -> Reply:
        self.state.dispatch(m["wf"], call.login, _object(call.body))
        return Reply(204)

    def _list_deployments(self, m: re.Match[str], call: Call) -> Reply:
        q = call.query
        found = [
            d
            for d in reversed(self.state.deployments.values())
            if q.get("environment") in (None, d.environment)
            and q.get("ref") in (None, d.ref)
            and q.get("sha") in (None, d.sha)
        ]
        return self._paged(call, [self._json(shape.deployment, d, d.creator) for d in found])

    def _create_deployment(self, m: re.Match[str], call: Call) -> Reply:
        d = self.state.create_deployment(call.login, _object(call.body))
        return _created(self._json(shape.deployment, d, d.creator))

    def _deployment_statuses(self, m: re.Match[str], call: Call) -> Reply:
        found = [
            s for s in reversed(self.state.deployment_statuses) if s.deployment_id == int(m["id"])
        ]
        return self._paged(call, [self._json(shape.deployment_status, s, s.creator) for s in found])

    def _deployment_status(self, m: re.Match[str], call: Call) -> Reply:
        s = self.state.add_deployment_status(int(m["id"]), call.login, _object(call.body))
        return _created(self._json(shape.deployment_status, s, s.creator))


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


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "Problems parsing JSON")
    return body


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _created(data: dict[str, Any]) -> Reply:
    return Reply(201, data, {"Location": str(data.get("url", ""))})
