"""The GitHub forge: the engine's one seam to the GitHub REST API, through github3.py.

Every request goes to ``api_url`` (``GITHUB_API_URL``: github.com, GitHub Enterprise's
``https://host/api/v3``, or the stand-in of :mod:`engine.forge.standin.server`). github3.py does
what it covers (issues, opening pull requests, reviews, pagination); the endpoints it lacks
(reactions, collaborator permission, workflow dispatch, commit pulls, the issue timeline)
go through its session with the full URL, so they share the same auth and the same rules.
So do the reads and writes of every pull-request event (the pull request, its comments):
their JSON is read as GitHub sends it, since github3's objects would parse every date (and
import a date parser) for fields the engine never reads. The transport (retries, time
budgets, error translation) is :class:`~engine.forge.github_client.RepoClient`; this module
is what the engine asks of it.

A retried create never duplicates: a comment or an issue carries a hidden marker, a
deployment a nonce in its payload, and after an ambiguous failure the forge looks for it
before creating again. Statuses, reactions, deployment statuses and dispatches are safe to
send twice.

The engine's identity (whose comments are "ours") comes from ``bot_login``, else from
``GET /user``; for ``GITHUB_TOKEN`` that answers 403 and the identity is
``github-actions[bot]``. It is never guessed from comment text.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, cast

from github3 import exceptions as gh_errors
from github3.issues.issue import ShortIssue
from github3.pulls import PullReview
from github3.structs import GitHubIterator
from github3.users import ShortUser

from engine.forge import (
    PERMISSION_ORDER,
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
    has_marker,
    marker_tag,
    with_marker,
)
from engine.forge.github_client import GITHUB_API_URL, RepoClient
from engine.forge.github_client import seg as _seg
from engine.forge.retry import RetryPolicy

_ROLES: frozenset[str] = frozenset(PERMISSION_ORDER)

__all__ = ["GITHUB_API_URL", "GitHubForge", "RetryPolicy", "pull_info"]


class GitHubForge(RepoClient):
    """The :class:`~engine.forge.Forge` for one GitHub repository."""

    name = "github"

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        *,
        bot_login: str | None = None,
        policy: RetryPolicy | None = None,
    ) -> GitHubForge:
        """The forge from ``GITHUB_REPOSITORY``, ``GITHUB_TOKEN`` and ``GITHUB_API_URL``."""
        return cls(
            env.get("GITHUB_REPOSITORY", ""),
            env.get("GITHUB_TOKEN", ""),
            env.get("GITHUB_API_URL") or GITHUB_API_URL,
            bot_login,
            policy=policy,
        )

    # -- pull requests -----------------------------------------------------------------

    def pull_request(self, number: int) -> PullRequestInfo:
        """Read pull request ``number``."""
        with self._guard(f"read pull request #{number}", "pull-requests: read"):
            data = self._call("GET", f"pulls/{int(number)}").json()
            if not isinstance(data, dict) or not data:
                raise ForgeError(f"pull request #{number} of {self.repo} came back empty")
            return pull_info(data)

    def pulls_for_sha(self, sha: str) -> list[int]:
        """Open pull requests whose head is ``sha``, forks included."""
        with self._guard(f"find the pull request of commit {sha[:12]}", "pull-requests: read"):
            found = self._numbers(self._iter(f"commits/{sha}/pulls", dict), sha)
            if not found:  # a fork's commit is not on the base repository's branches
                found = self._numbers(self._iter("pulls", dict, {"state": "open"}), sha)
            return found

    def reviews(self, pr: int) -> list[Review]:
        """The reviews of pull request ``pr``, oldest first."""
        with self._guard(f"read the reviews of #{pr}", "pull-requests: read"):
            return [
                Review(
                    r.user.login,
                    r.state,
                    r.commit_id,
                    r.submitted_at.strftime("%Y-%m-%dT%H:%M:%SZ") if r.submitted_at else None,
                )
                for r in self._iter(f"pulls/{pr}/reviews", PullReview)
            ]

    def first_status_at(self, sha: str, context: str) -> str | None:
        """When the engine first set status ``context`` on ``sha``: GitHub's clock.

        Only statuses the engine's own identity created count, so someone else with
        ``statuses: write`` cannot stand in for a review that never happened.
        """
        me = self.identity().lower()  # logins ignore case, on GitHub as in _find_comments
        with self._guard(f"read the statuses of {sha[:12]}", "statuses: read"):
            times = [
                str(s["created_at"])
                for s in self._iter(f"commits/{sha}/statuses", dict)
                if s.get("context") == context
                and s.get("created_at")
                and _login(s.get("creator")) == me
            ]
        return min(times) if times else None

    def own_statuses(self, sha: str) -> dict[str, tuple[str, str]]:
        """Each context whose latest status on ``sha`` the engine set: (state, description).

        GitHub lists a commit's statuses newest first; a context whose latest status someone
        else set is left out (re-posting ours is then needed to show it).
        """
        me = self.identity().lower()
        latest: dict[str, dict[str, Any]] = {}
        with self._guard(f"read the statuses of {sha[:12]}", "statuses: read"):
            for s in self._iter(f"commits/{sha}/statuses", dict):
                latest.setdefault(str(s.get("context")), s)
        return {
            context: (str(s.get("state")), str(s.get("description") or ""))
            for context, s in latest.items()
            if _login(s.get("creator")) == me
        }

    def force_pushes(self, pr: int) -> list[ForcePush]:
        """The ``head_ref_force_pushed`` events of ``pr``'s timeline, oldest first.

        The timeline is GitHub's record: its times are GitHub's clock, which the PR's
        author cannot set (commit dates they can, so ``committed`` events are not used).
        """
        with self._guard(f"read the timeline of #{pr}", "pull-requests: read"):
            return [
                ForcePush(
                    str(e["created_at"]) if e.get("created_at") else None,
                    str(e["commit_id"]) if e.get("commit_id") else None,
                    str((e.get("actor") or {}).get("login") or "") or None,
                )
                for e in self._iter(f"issues/{pr}/timeline", dict)
                if e.get("event") == "head_ref_force_pushed"
            ]

    # -- comments, statuses, reactions --------------------------------------------------

    def upsert_comment(
        self, pr: int, body: str, marker: str, *, comment_count: int | None = None
    ) -> CommentRef:
        """Edit the bot's comment carrying ``marker`` on ``pr``, or create it once.

        Every page is read, so a duplicate left by an earlier race (two runs at once, or a
        create that landed after its timeout) is deleted: the PR converges to one comment.
        When the caller just read that ``pr`` has no comment at all (``comment_count=0``,
        GitHub's own count), there is nothing to read: one request less on a new PR. A run
        racing in between may then leave a duplicate, which the next run deletes.
        """
        text = with_marker(body, marker)
        with self._guard(f"comment on pull request #{pr}", "pull-requests: write"):
            bot = self.identity()
            found = [] if comment_count == 0 else self._find_comments(pr, marker, bot)
            if found:
                (keep, body), duplicates = found[0], found[1:]
                for duplicate, _ in duplicates:
                    self._delete_comment(duplicate.id)
                if body == text:
                    return keep
                self._call("PATCH", f"issues/comments/{keep.id}", json={"body": text})
                return CommentRef(keep.id, keep.url, "updated")
            return self._create_comment(pr, text, marker, bot, "comment")

    def reply(self, pr: int, body: str) -> CommentRef:
        """Post a new comment on ``pr``; a hidden one-off marker makes retries safe."""
        nonce = f"reply-{uuid.uuid4().hex[:16]}"
        text = with_marker(body, nonce)
        with self._guard(f"reply on pull request #{pr}", "pull-requests: write"):
            return self._create_comment(pr, text, nonce, self.identity(), "reply")

    def set_status(
        self,
        sha: str,
        context: str,
        state: StatusState,
        description: str,
        target_url: str | None = None,
    ) -> None:
        """Set commit status ``context`` on ``sha`` (re-sending the same status is harmless)."""
        data: dict[str, Any] = {
            "state": check_state(state),
            "context": context,
            "description": clip_description(description),
        }
        if target_url:
            data["target_url"] = target_url
        with self._guard(f"set the {context} status on {sha[:12]}", "statuses: write"):
            self._call("POST", f"statuses/{sha}", json=data, replay_safe=True)

    def react(self, comment_id: int, content: Reaction) -> None:
        """React to comment ``comment_id`` (GitHub ignores a repeated reaction)."""
        data = {"content": check_reaction(content)}
        with self._guard(f"react to comment {comment_id}", "pull-requests: write"):
            self._call(
                "POST", f"issues/comments/{comment_id}/reactions", json=data, replay_safe=True
            )

    def permission(self, user: str) -> Permission:
        """``user``'s role on the repository: admin, maintain, write, triage, read or none."""
        with self._guard(f"read {user}'s permission", "metadata: read"):
            try:
                data = self._call("GET", f"collaborators/{_seg(user)}/permission").json()
            except gh_errors.NotFoundError:
                return "none"  # not a user GitHub knows
            role = str(data.get("role_name") or data.get("permission") or "none")
            if role not in _ROLES:  # a custom role: its base level is in `permission`
                role = str(data.get("permission") or "none")
            return cast(Permission, role if role in _ROLES else "none")

    # -- actions, deployments, issues, teams ----------------------------------------

    def dispatch_workflow(self, workflow_file: str, ref: str, inputs: Mapping[str, str]) -> None:
        """Start ``workflow_file`` on ``ref``; resent after a 5xx (a deploy is idempotent)."""
        data = {"ref": ref, "inputs": dict(inputs)}
        with self._guard(f"start the {workflow_file} workflow on {ref}", "actions: write"):
            self._call(
                "POST",
                f"actions/workflows/{_seg(workflow_file)}/dispatches",
                json=data,
                replay_safe=True,
            )

    def create_deployment(
        self, ref: str, environment: str, description: str, payload: Mapping[str, Any]
    ) -> DeploymentRef:
        """Record a deployment of ``ref`` to ``environment`` (created once, even on retries)."""
        nonce = uuid.uuid4().hex
        data = {
            "ref": ref,
            "environment": environment,
            "description": description,
            "auto_merge": False,
            "required_contexts": [],
            "payload": {**payload, "mlops_request": nonce},
        }

        def find() -> dict[str, Any] | None:
            params = {"environment": environment, "ref": ref}
            return next(
                (
                    d
                    for d in self._iter("deployments", dict, params)
                    if (d.get("payload") or {}).get("mlops_request") == nonce
                ),
                None,
            )

        with self._guard(f"record a deployment to {environment}", "deployments: write"):
            made = self._create_once(
                lambda: self._call("POST", "deployments", json=data).json(),
                find,
                f"deployment to {environment}",
            )
            return DeploymentRef(int(made["id"]), environment, ref, str(made["url"]))

    def set_deployment_status(
        self,
        deployment_id: int,
        state: DeploymentState,
        description: str = "",
        environment_url: str | None = None,
        log_url: str | None = None,
    ) -> None:
        """Report a deployment's state (the latest status wins, so resending is harmless)."""
        data: dict[str, Any] = {"state": state, "description": clip_description(description)}
        if environment_url:
            data["environment_url"] = environment_url
        if log_url:
            data["log_url"] = log_url
        with self._guard(f"report deployment {deployment_id}", "deployments: write"):
            self._call("POST", f"deployments/{deployment_id}/statuses", json=data, replay_safe=True)

    def open_or_update_issue(
        self, title: str, body: str, marker: str, labels: Sequence[str] = ()
    ) -> IssueRef:
        """Update the bot's open issue carrying ``marker``, or open it once."""
        text = with_marker(body, marker)
        with self._guard(f"open or update the issue {title!r}", "issues: write"):
            bot = self.identity()
            existing = self._find_issue(marker, labels, bot)
            if existing is not None:
                if (existing.title, existing.body) == (title, text):
                    return IssueRef(existing.number, existing.html_url, "unchanged")
                existing.edit(title=title, body=text)
                return IssueRef(existing.number, existing.html_url, "updated")
            data = {"title": title, "body": text, "labels": list(labels)}
            made = self._create_once(
                lambda: ShortIssue(self._call("POST", "issues", json=data).json(), self._gh),
                lambda: self._find_issue(marker, labels, bot),
                f"issue {title!r}",
            )
            return IssueRef(made.number, made.html_url, "created")

    def close_issue(self, marker: str, note: str, labels: Sequence[str] = ()) -> IssueRef | None:
        """Comment ``note`` on the bot's open issue carrying ``marker``, then close it.

        A retry after a lost answer finds the issue closed (not listed) and does nothing;
        one after the comment but before the close posts the note again, which is the
        lesser harm than leaving an alarm open.
        """
        with self._guard(f"close the issue {marker!r}", "issues: write"):
            existing = self._find_issue(marker, labels, self.identity())
            if existing is None:
                return None
            number = existing.number
            self._call("POST", f"issues/{number}/comments", json={"body": clip_comment(note)})
            self._call(
                "PATCH",
                f"issues/{number}",
                json={"state": "closed", "state_reason": "completed"},
                replay_safe=True,
            )
            return IssueRef(number, existing.html_url, "closed")

    def _find_issue(self, marker: str, labels: Sequence[str], bot: str) -> ShortIssue | None:
        """The bot's open issue (not a pull request) with ``labels`` that carries ``marker``."""
        params = {"state": "open", "labels": ",".join(labels) or None}
        return next(
            (
                i
                for i in self._iter("issues", ShortIssue, params)
                if i.user.login.lower() == bot.lower()
                and "pull_request" not in i.as_dict()
                and has_marker(i.body, marker)
            ),
            None,
        )

    def find_pull_request(self, marker: str) -> IssueRef | None:
        """The bot's open pull request whose body carries ``marker``."""
        with self._guard(f"look for the open pull request {marker!r}", "pull-requests: read"):
            bot = self.identity()
            for data in self._iter("pulls", dict, {"state": "open"}):
                user = (data.get("user") or {}).get("login") or ""
                if user.lower() == bot.lower() and has_marker(data.get("body"), marker):
                    return IssueRef(int(data["number"]), str(data["html_url"]), "unchanged")
            return None

    def declined_pull_request(self, head: str) -> IssueRef | None:
        """The bot's closed, unmerged pull request of ``head`` (``GET /pulls?state=closed``)."""
        with self._guard(f"look for a closed pull request of {head!r}", "pull-requests: read"):
            bot = self.identity()
            params = {"state": "closed", "head": f"{self._owner}:{head}"}
            for data in self._iter("pulls", dict, params):
                user = (data.get("user") or {}).get("login") or ""
                if user.lower() == bot.lower() and not data.get("merged_at"):
                    return IssueRef(int(data["number"]), str(data["html_url"]), "closed")
            return None

    def open_pull_request(
        self, title: str, body: str, head: str, base: str, marker: str
    ) -> IssueRef:
        """``create_pull`` (github3); after an ambiguous failure or a 422 "already exists",
        the open pull request of ``head`` (``GET /pulls?head=owner:branch``) is the answer."""
        text = with_marker(body, marker)

        def find() -> IssueRef | None:
            params = {"state": "open", "head": f"{self._owner}:{head}", "base": base}
            for data in self._iter("pulls", dict, params):
                return IssueRef(int(data["number"]), str(data["html_url"]), "unchanged")
            return None

        with self._guard(f"open the pull request {title!r}", "pull-requests: write"):
            repo = self._gh.repository(self._owner, self._name)
            try:
                made = self._create_once(
                    lambda: repo.create_pull(title, base, head, body=text), find, "pull request"
                )
            except gh_errors.UnprocessableEntity:
                existing = find()
                if existing is None:
                    raise
                return existing
            if isinstance(made, IssueRef):
                return made
            return IssueRef(made.number, made.html_url, "created")

    def team_members(self, org: str, team: str) -> list[str]:
        """Logins of team ``org/team``."""
        needs = (
            "a token that may read the organization's teams (`read:org`, or `members: "
            "read` for an app); GITHUB_TOKEN cannot"
        )
        with self._guard(f"read the members of team {org}/{team}", needs):
            url = f"{self.api_url}/orgs/{_seg(org)}/teams/{_seg(team)}/members"
            return [u.login for u in GitHubIterator(-1, url, ShortUser, self._gh)]

    def _find_comments(self, pr: int, marker: str, bot: str) -> list[tuple[CommentRef, str]]:
        """The comments on ``pr`` by ``bot`` that carry ``marker``, oldest first, with text.

        Read as JSON, as GitHub sends them: github3's objects would parse every date (and
        import a date parser) for fields the engine never reads.
        """
        tag = marker_tag(marker)
        return [
            (_comment(data, "unchanged"), str(data.get("body") or ""))
            for data in self._iter(f"issues/{pr}/comments", dict)
            if str((data.get("user") or {}).get("login") or "").lower() == bot.lower()
            and tag in str(data.get("body") or "")
        ]

    def _delete_comment(self, comment_id: int) -> None:
        """Delete a comment; one already gone (a concurrent run deleted it) is fine."""
        with contextlib.suppress(gh_errors.NotFoundError):
            self._call("DELETE", f"issues/comments/{comment_id}")

    def _create_comment(self, pr: int, text: str, marker: str, bot: str, what: str) -> CommentRef:
        """Post ``text`` on ``pr`` once: after an ambiguous failure, look for ``marker`` first."""

        def post() -> CommentRef:
            response = self._call("POST", f"issues/{pr}/comments", json={"body": text})
            return _comment(response.json(), "created")

        def find() -> CommentRef | None:
            found = next(iter(self._find_comments(pr, marker, bot)), None)
            return None if found is None else CommentRef(found[0].id, found[0].url, "created")

        return self._create_once(post, find, f"{what} on #{pr}")

    @staticmethod
    def _numbers(pulls: Any, sha: str) -> list[int]:
        return sorted(
            {
                int(p["number"])
                for p in pulls
                if p.get("state") == "open" and (p.get("head") or {}).get("sha") == sha
            }
        )


def _login(user: Any) -> str:
    """A user object's login in lower case ("" when missing): GitHub logins ignore case."""
    return str((user or {}).get("login") or "").lower() if isinstance(user, dict | None) else ""


def _comment(data: Mapping[str, Any], action: WriteAction) -> CommentRef:
    """An issue comment's JSON (as GitHub sends it) as a reference."""
    return CommentRef(int(data["id"]), str(data["html_url"]), action)


def pull_info(data: Mapping[str, Any]) -> PullRequestInfo:
    """A pull request's JSON (as GitHub sends it) as :class:`PullRequestInfo`."""
    head, base = data["head"], data["base"]
    head_repo = head.get("repo")
    return PullRequestInfo(
        number=int(data["number"]),
        title=str(data.get("title") or ""),
        state=str(data["state"]),
        merged=bool(data.get("merged") or data.get("merged_at")),
        author=str((data.get("user") or {}).get("login", "")),
        head_sha=str(head["sha"]),
        head_ref=str(head["ref"]),
        head_repo=str(head_repo["full_name"]) if head_repo else None,
        base_ref=str(base["ref"]),
        base_repo=str(base["repo"]["full_name"]),
        comments=data["comments"] if isinstance(data.get("comments"), int) else None,
    )
