"""Routes of the GitHub stand-in that open and list pull requests by branch.

``POST /repos/{o}/{r}/pulls`` opens a pull request from a branch of this repository (a
ref the stand-in holds, or one pushed to the real origin it was given as ``git_dir``),
with GitHub's refusals: 422 for a missing field, an unknown branch, or a head that
already has an open pull request into the same base. ``GET /repos/{o}/{r}/pulls`` takes
GitHub's filters ``state``, ``head`` (``owner:branch``) and ``base``.
"""

from __future__ import annotations

import re

from engine.forge.standin.commit_routes import CommitRoutes
from engine.forge.standin.records import ApiError, invalid
from engine.forge.standin.routes import Call, Reply, created, object_body


class PullRoutes(CommitRoutes):
    """Creating pull requests, and listing them with GitHub's filters."""

    def _create_pull(self, m: re.Match[str], call: Call) -> Reply:
        body = object_body(call.body)
        title, head, base = (str(body.get(k) or "") for k in ("title", "head", "base"))
        for name, value in (("title", title), ("head", head), ("base", base)):
            if not value:
                raise invalid("PullRequest", name, f"{name} wasn't supplied")
        owner, _, branch = head.rpartition(":")
        if owner and owner.lower() != self.repo.split("/")[0].lower():
            raise invalid("PullRequest", "head", "head: forks are not served by the stand-in")
        sha = self.state.resolve(f"heads/{branch}")
        if sha is None:
            raise invalid("PullRequest", "head", "head invalid")
        if self.state.resolve(f"heads/{base}") is None:
            raise invalid("PullRequest", "base", "base invalid")
        for pull in self.state.list_pulls("open"):
            if pull.head_ref == branch and pull.base_ref == base:
                raise ApiError(
                    422,
                    "Validation Failed",
                    [{"resource": "PullRequest", "code": "custom", "message": (
                        f"A pull request already exists for {self.repo.split('/')[0]}:{branch}."
                    )}],
                )  # fmt: skip
        pull = self.state.add_pull(
            call.login, title, sha, head_ref=branch, base_ref=base, body=body.get("body")
        )
        return created(self._pull_json(pull.number))

    def _list_pulls(self, m: re.Match[str], call: Call) -> Reply:
        query = call.query
        owner, _, branch = query.get("head", "").rpartition(":")
        found = [
            p
            for p in self.state.list_pulls(query.get("state", "open"))
            if (not branch or (p.head_ref == branch and self._owns(p.head_repo, owner)))
            and query.get("base") in (None, p.base_ref)
        ]
        return self._paged(call, [self._pull_json(p.number) for p in found])

    def _owns(self, head_repo: str | None, owner: str) -> bool:
        """Whether ``owner`` (GitHub's ``head=owner:branch``) owns the head repository."""
        return head_repo is not None and (
            not owner or head_repo.split("/")[0].lower() == owner.lower()
        )
