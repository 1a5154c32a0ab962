"""Routes of the GitHub stand-in for what hangs off commits: pull requests, reviews, the
pull-request timeline, commit statuses, refs, workflow dispatches and deployments."""

from __future__ import annotations

import re
from typing import Any

from engine.forge.standin import commit_payloads as code
from engine.forge.standin.records import ApiError
from engine.forge.standin.routes import Call, Reply, Routes, created, object_body


class CommitRoutes(Routes):
    """Handlers for pull requests, reviews, statuses, refs, dispatches and deployments."""

    def _create_status(self, m: re.Match[str], call: Call) -> Reply:
        status = self.state.add_status(m["sha"], call.login, object_body(call.body))
        return created(self._json(code.status, status, status.creator))

    def _list_statuses(self, m: re.Match[str], call: Call) -> Reply:
        found = self.state.statuses_for(m["ref"] or m["sha"])
        return self._paged(call, [self._json(code.status, s, s.creator) for s in found])

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
            {k: v for k, v in self._json(code.status, s, s.creator).items() if k != "creator"}
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

    def _timeline(self, m: re.Match[str], call: Call) -> Reply:
        """``GET /issues/{n}/timeline``: pushes, force pushes and comments, oldest first."""
        number = self.state.issue(int(m["n"])).number
        events: list[tuple[int, dict[str, Any]]] = [
            (
                move.id,
                self._json(
                    code.force_pushed_event if move.forced else code.committed_event,
                    move,
                    move.actor,
                ),
            )
            for move in self.state.head_moves
            if move.pr == number
        ]
        events += [
            (c.id, {**self._comment_json(c), "event": "commented", "actor": self.user_json(c.user)})
            for c in self.state.comments_of(number)
        ]
        return self._paged(call, [event for _, event in sorted(events, key=lambda e: e[0])])

    def _list_reviews(self, m: re.Match[str], call: Call) -> Reply:
        number = self.state.pull(int(m["n"])).number
        found = [r for r in self.state.reviews if r.pr == number]
        return self._paged(call, [self._json(code.review, r, r.user) for r in found])

    def _create_review(self, m: re.Match[str], call: Call) -> Reply:
        body = object_body(call.body)
        event = str(body.get("event") or "COMMENT")
        state = {
            "APPROVE": "APPROVED",
            "REQUEST_CHANGES": "CHANGES_REQUESTED",
            "COMMENT": "COMMENTED",
        }.get(event, event)
        review = self.state.add_review(
            int(m["n"]), call.login, state, body.get("commit_id"), str(body.get("body") or "")
        )
        return Reply(200, self._json(code.review, review, review.user))

    def _get_ref(self, m: re.Match[str], call: Call) -> Reply:
        name = m["ref"]
        if name not in self.state.refs:
            raise ApiError(404, "Not Found")
        return Reply(200, code.ref(self.url, self.repo, name, self.state.refs[name]))

    def _create_ref(self, m: re.Match[str], call: Call) -> Reply:
        body = object_body(call.body)
        name, sha = str(body.get("ref") or "").removeprefix("refs/"), str(body.get("sha") or "")
        if not name.startswith(("heads/", "tags/")) or not sha:
            raise ApiError(422, "Reference name and sha are required")
        if name in self.state.refs:
            raise ApiError(422, "Reference already exists")
        self.state.refs[name] = sha
        return created(code.ref(self.url, self.repo, name, sha))

    def _update_ref(self, m: re.Match[str], call: Call) -> Reply:
        name, sha = m["ref"], str(object_body(call.body).get("sha") or "")
        if name not in self.state.refs:
            raise ApiError(422, "Reference does not exist")
        self.state.refs[name] = sha
        return Reply(200, code.ref(self.url, self.repo, name, sha))

    def _delete_ref(self, m: re.Match[str], call: Call) -> Reply:
        if self.state.refs.pop(m["ref"], None) is None:
            raise ApiError(422, "Reference does not exist")
        return Reply(204)

    def _dispatch(self, m: re.Match[str], call: Call) -> Reply:
        self.state.dispatch(m["wf"], call.login, object_body(call.body))
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
        return self._paged(call, [self._json(code.deployment, d, d.creator) for d in found])

    def _create_deployment(self, m: re.Match[str], call: Call) -> Reply:
        d = self.state.create_deployment(call.login, object_body(call.body))
        return created(self._json(code.deployment, d, d.creator))

    def _deployment_statuses(self, m: re.Match[str], call: Call) -> Reply:
        found = [
            s for s in reversed(self.state.deployment_statuses) if s.deployment_id == int(m["id"])
        ]
        return self._paged(call, [self._json(code.deployment_status, s, s.creator) for s in found])

    def _deployment_status(self, m: re.Match[str], call: Call) -> Reply:
        s = self.state.add_deployment_status(int(m["id"]), call.login, object_body(call.body))
        return created(self._json(code.deployment_status, s, s.creator))
