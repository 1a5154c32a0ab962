"""The routes of the GitHub stand-in: REST paths to state changes and JSON replies.

:class:`Api` maps ``(method, path)`` to a handler that reads or changes the
:class:`~engine.forge.standin.state.State` and answers with bodies built by
:mod:`engine.forge.standin.payloads` and :mod:`engine.forge.standin.commit_payloads`. Paths
under ``/repos/{owner}/{repo}`` answer 404 for any repository but the stand-in's own, as
GitHub does for one you can't see.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from engine.forge.standin import payloads as shape
from engine.forge.standin.pull_routes import PullRoutes
from engine.forge.standin.records import LEGACY_PERMISSION, ApiError
from engine.forge.standin.routes import Call, Reply, Route, created, error_reply, object_body
from engine.forge.standin.state import State


class Api(PullRoutes):
    """GitHub's REST routes over one repository's state."""

    def __init__(self, state: State, base_url: Callable[[], str]) -> None:
        super().__init__(state, base_url)
        self._routes = self._build_routes()

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

    # -- routes ---------------------------------------------------------------------------

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], Route]]:
        repo = r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"
        table: list[tuple[str, str, Route]] = [
            (
                "GET",
                r"/users/(?P<login>[^/]+)",
                lambda m, c: Reply(200, self.account_json(m["login"])),
            ),
            ("GET", r"/orgs/(?P<org>[^/]+)/teams/(?P<team>[^/]+)/members", self._team_members),
            ("GET", repo, lambda m, c: Reply(200, self._repo_json(full=True))),
            ("GET", repo + r"/issues", self._list_issues),
            ("POST", repo + r"/issues", self._create_issue),
            (
                "GET",
                repo + r"/issues/(?P<n>\d+)",
                lambda m, c: Reply(200, self._issue_json(self.state.issue(int(m["n"])))),
            ),
            ("PATCH", repo + r"/issues/(?P<n>\d+)", self._edit_issue),
            ("GET", repo + r"/issues/(?P<n>\d+)/comments", self._list_comments),
            ("GET", repo + r"/issues/(?P<n>\d+)/timeline", self._timeline),
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
            ("POST", repo + r"/pulls", self._create_pull),
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
        body = object_body(call.body)
        issue = self.state.create_issue(
            call.login, str(body.get("title") or ""), body.get("body"), body.get("labels") or ()
        )
        return created(self._issue_json(issue))

    def _edit_issue(self, m: re.Match[str], call: Call) -> Reply:
        issue = self.state.edit_issue(int(m["n"]), object_body(call.body))
        return Reply(200, self._issue_json(issue))

    def _list_comments(self, m: re.Match[str], call: Call) -> Reply:
        found = self.state.comments_of(int(m["n"]))
        return self._paged(call, [self._comment_json(c) for c in found])

    def _create_comment(self, m: re.Match[str], call: Call) -> Reply:
        body = str(object_body(call.body).get("body") or "")
        return created(self._comment_json(self.state.add_comment(int(m["n"]), call.login, body)))

    def _edit_comment(self, m: re.Match[str], call: Call) -> Reply:
        body = str(object_body(call.body).get("body") or "")
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
        content = str(object_body(call.body).get("content") or "")
        reaction, created = self.state.react(int(m["id"]), call.login, content)
        data = shape.reaction(self.url, self._web(), reaction, self.state.user(call.login))
        return Reply(201 if created else 200, data)

    def _permission(self, m: re.Match[str], call: Call) -> Reply:
        self.state.known(m["login"])  # GitHub: 404 for a login that is no user at all
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
