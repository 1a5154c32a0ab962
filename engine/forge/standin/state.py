"""The in-memory state of the GitHub stand-in: one repository and what lives in it.

The records (:mod:`engine.forge.standin.records`) are plain mutable dataclasses;
:class:`State` applies GitHub's rules to them (one number sequence for issues and pull
requests, the latest status per context wins, a repeated reaction is not duplicated, 422s
for what GitHub refuses) and raises :class:`ApiError` with GitHub's message when a request
can't be served; dispatches and deployments come from the
:class:`~engine.forge.standin.deployments.Deployments` mixin. The routes
(:mod:`engine.forge.standin.api`) turn records into JSON with the payload modules.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.forge import MAX_COMMENT_CHARS, MAX_STATUS_DESCRIPTION, REACTIONS, STATUS_STATES
from engine.forge.standin.deployments import Deployments
from engine.forge.standin.records import (
    REVIEW_STATES,
    SHA,
    ApiError,
    Comment,
    Deployment,
    DeploymentStatus,
    DispatchRecord,
    HeadMove,
    Issue,
    Pull,
    Reaction,
    Repo,
    ReviewRecord,
    Status,
    User,
    found,
    invalid,
)


class State(Deployments):
    """One repository's issues, pulls, comments, statuses, refs and the rest."""

    def __init__(
        self,
        full_name: str,
        default_branch: str = "main",
        clock: Callable[[], float] = time.time,
        git_dir: Path | None = None,
    ) -> None:
        self._clock = clock
        self._ids = 1000
        owner = full_name.split("/")[0]
        self.users: dict[str, User] = {}
        self.repo = Repo(full_name, self.next_id(), owner, default_branch, created_at=self.now())
        self.forks: dict[str, Repo] = {}
        self.permissions: dict[str, str] = {owner.lower(): "admin"}
        self.issues: dict[int, Issue] = {}
        self.pulls: dict[int, Pull] = {}
        self.comments: dict[int, Comment] = {}
        self.statuses: list[Status] = []
        self.reactions: list[Reaction] = []
        self.reviews: list[ReviewRecord] = []
        self.head_moves: list[HeadMove] = []
        self.refs: dict[str, str] = {f"heads/{default_branch}": "0" * 39 + "1"}
        self.dispatches: list[DispatchRecord] = []
        self.deployments: dict[int, Deployment] = {}
        self.deployment_statuses: list[DeploymentStatus] = []
        self.teams: dict[tuple[str, str], list[str]] = {}
        # A real repository (the bare origin) whose refs count as this repository's too.
        self.git_dir = git_dir
        self.user(owner)

    # -- identities -------------------------------------------------------------------

    def next_id(self) -> int:
        """A fresh id, unique across every kind of record."""
        self._ids += 1
        return self._ids

    def now(self) -> str:
        """The current time as GitHub writes it (``2024-01-31T12:00:00Z``)."""
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._clock()))

    def user(self, login: str) -> User:
        """The user named ``login``, created on first mention (``[bot]`` logins are bots)."""
        key = login.lower()
        if key not in self.users:
            kind = "Bot" if login.endswith("[bot]") else "User"
            self.users[key] = User(login, self.next_id(), kind, self.now())
        return self.users[key]

    def known(self, login: str) -> User:
        """The user named ``login`` if the stand-in has seen them, else GitHub's 404."""
        if login.lower() not in self.users:
            raise ApiError(404, "Not Found")
        return self.users[login.lower()]

    def role(self, login: str) -> str:
        """The collaborator role of ``login`` (``none`` when not a collaborator)."""
        return self.permissions.get(login.lower(), "none")

    def association(self, login: str) -> str:
        """GitHub's ``author_association`` for ``login`` in this repository."""
        if login.lower() == self.repo.owner.lower():
            return "OWNER"
        return "COLLABORATOR" if self.role(login) != "none" else "NONE"

    def fork(self, full_name: str) -> Repo:
        """The fork ``full_name`` of this repository, created on first mention."""
        if full_name.lower() == self.repo.full_name.lower():
            return self.repo
        if full_name not in self.forks:
            owner = full_name.split("/")[0]
            self.user(owner)
            self.forks[full_name] = Repo(
                full_name, self.next_id(), owner, fork=True, created_at=self.now()
            )
        return self.forks[full_name]

    # -- issues and pull requests ------------------------------------------------------

    def create_issue(
        self,
        login: str,
        title: str,
        body: str | None,
        labels: Sequence[str] = (),
        *,
        is_pull: bool = False,
        number: int | None = None,
    ) -> Issue:
        """Open an issue (or the issue half of a pull request)."""
        if not title:
            raise invalid("Issue", "title", "title wasn't supplied")
        number = number or max(self.issues, default=0) + 1
        if number in self.issues:
            raise invalid("Issue", "number", f"#{number} exists")
        now = self.now()
        self.user(login)
        issue = Issue(
            number,
            self.next_id(),
            title,
            body,
            login,
            now,
            now,
            labels=list(labels),
            is_pull=is_pull,
        )
        self.issues[number] = issue
        return issue

    def issue(self, number: int) -> Issue:
        """Issue (or pull request) ``number``, else 404."""
        return found(self.issues, number)

    def edit_issue(self, number: int, changes: Mapping[str, Any]) -> Issue:
        """Apply ``title``/``body``/``state``/``labels`` changes."""
        issue = self.issue(number)
        if "title" in changes:
            issue.title = str(changes["title"])
        if "body" in changes:
            issue.body = changes["body"]
        if "labels" in changes:
            issue.labels = [str(x) for x in changes["labels"]]
        if "state" in changes and changes["state"] != issue.state:
            if changes["state"] not in ("open", "closed"):
                raise invalid("Issue", "state", "state must be open or closed")
            issue.state = str(changes["state"])
            issue.closed_at = self.now() if issue.state == "closed" else None
        issue.updated_at = self.now()
        return issue

    def list_issues(
        self, state: str = "open", labels: Sequence[str] = (), creator: str | None = None
    ) -> list[Issue]:
        """Issues and pull requests, newest first, as ``GET /issues`` lists them."""
        wanted = {x.lower() for x in labels}
        found = [
            i
            for i in self.issues.values()
            if (state == "all" or i.state == state)
            and wanted <= {x.lower() for x in i.labels}
            and (creator is None or i.user.lower() == creator.lower())
        ]
        return sorted(found, key=lambda i: -i.number)

    def add_pull(
        self,
        author: str,
        title: str,
        head_sha: str,
        *,
        head_ref: str = "feature",
        base_ref: str | None = None,
        head_repo: str | None = "",
        number: int | None = None,
        body: str | None = None,
    ) -> Pull:
        """Open a pull request; ``head_repo=None`` means the fork was deleted."""
        issue = self.create_issue(author, title, body, is_pull=True, number=number)
        if head_repo:
            self.fork(head_repo)
        base_ref = base_ref or self.repo.default_branch
        pull = Pull(
            issue.number,
            self.next_id(),
            head_sha,
            head_ref,
            self.repo.full_name if head_repo == "" else head_repo,
            base_ref,
            self.refs.get(f"heads/{base_ref}", "0" * 40),
        )
        self.pulls[issue.number] = pull
        if pull.head_repo == self.repo.full_name:
            self.refs[f"heads/{head_ref}"] = head_sha
        self.head_moves.append(HeadMove(self.next_id(), pull.number, head_sha, author, self.now()))
        return pull

    def move_head(self, pr: int, sha: str, login: str, *, forced: bool = False) -> HeadMove:
        """Push ``sha`` to the head branch of ``pr`` (a force push when ``forced``)."""
        pull = self.pull(pr)
        pull.head_sha = sha
        if pull.head_repo == self.repo.full_name:
            self.refs[f"heads/{pull.head_ref}"] = sha
        self.user(login)
        move = HeadMove(self.next_id(), pr, sha, login, self.now(), forced)
        self.head_moves.append(move)
        return move

    def pull(self, number: int) -> Pull:
        """Pull request ``number``, else 404."""
        return found(self.pulls, number)

    def list_pulls(self, state: str = "open") -> list[Pull]:
        """Pull requests, newest first."""
        pulls = [
            p for n, p in self.pulls.items() if state == "all" or self.issues[n].state == state
        ]
        return sorted(pulls, key=lambda p: -p.number)

    def pulls_for_commit(self, sha: str) -> list[Pull]:
        """``GET /commits/{sha}/pulls``: like GitHub, only pulls whose head is in this repo."""
        return [
            p
            for p in self.list_pulls("all")
            if p.head_sha == sha and p.head_repo == self.repo.full_name
        ]

    # -- comments and reactions -----------------------------------------------------------

    def add_comment(self, issue: int, login: str, body: str) -> Comment:
        """Comment on issue or pull request ``issue``."""
        self.issue(issue)
        if not body:
            raise invalid("IssueComment", "body", "body wasn't supplied")
        _check_comment_length(body)
        now = self.now()
        self.user(login)
        comment = Comment(self.next_id(), issue, login, body, now, now)
        self.comments[comment.id] = comment
        return comment

    def comment(self, comment_id: int) -> Comment:
        """Comment ``comment_id``, else 404."""
        return found(self.comments, comment_id)

    def edit_comment(self, comment_id: int, body: str) -> Comment:
        """Replace a comment's body."""
        comment = self.comment(comment_id)
        _check_comment_length(body)
        comment.body, comment.updated_at = body, self.now()
        return comment

    def comments_of(self, issue: int) -> list[Comment]:
        """The comments of ``issue``, oldest first."""
        self.issue(issue)
        return [c for c in self.comments.values() if c.issue == issue]

    def react(self, comment_id: int, login: str, content: str) -> tuple[Reaction, bool]:
        """Add a reaction; the same user and content again returns the first (not created)."""
        self.comment(comment_id)
        if content not in REACTIONS:
            raise invalid("Reaction", "content", f"content {content!r} is not a valid reaction")
        for r in self.reactions:
            if (r.comment_id, r.user.lower(), r.content) == (comment_id, login.lower(), content):
                return r, False
        reaction = Reaction(self.next_id(), comment_id, login, content, self.now())
        self.reactions.append(reaction)
        return reaction, True

    def reactions_of(self, comment_id: int) -> list[Reaction]:
        """Reactions to ``comment_id``, oldest first."""
        return [r for r in self.reactions if r.comment_id == comment_id]

    # -- statuses, refs, reviews -----------------------------------------------------------

    def add_status(self, sha: str, login: str, body: Mapping[str, Any]) -> Status:
        """Set a commit status; GitHub refuses unknown states and long descriptions."""
        state = body.get("state")
        if state not in STATUS_STATES:
            raise invalid("Status", "state", f"state is not included in the list: {state!r}")
        description = body.get("description")
        if description is not None and len(description) > MAX_STATUS_DESCRIPTION:
            message = f"description is too long (maximum is {MAX_STATUS_DESCRIPTION} characters)"
            raise invalid("Status", "description", message)
        now = self.now()
        status = Status(
            self.next_id(),
            sha,
            str(body.get("context") or "default"),
            state,
            description,
            body.get("target_url"),
            login,
            now,
            now,
        )
        self.statuses.append(status)
        return status

    def statuses_for(self, ref: str) -> list[Status]:
        """Every status of ``ref`` (a sha or a branch), newest first."""
        sha = self.resolve(ref) or ref
        return [s for s in reversed(self.statuses) if s.sha == sha]

    def latest_statuses(self, ref: str) -> list[Status]:
        """The latest status per context: what GitHub shows on the commit."""
        latest: dict[str, Status] = {}
        for s in self.statuses_for(ref):
            latest.setdefault(s.context, s)
        return list(latest.values())

    def resolve(self, ref: str) -> str | None:
        """The sha a branch, tag or full sha names, or ``None``."""
        name = ref.removeprefix("refs/")
        for candidate in (name, f"heads/{name}", f"tags/{name}"):
            if candidate in self.refs:
                return self.refs[candidate]
        if self.git_dir is not None and not SHA.match(ref) and not ref.startswith("-"):
            # Refs pushed to a real origin (an environment branch after a promotion).
            done = subprocess.run(
                ["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
                cwd=self.git_dir,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode == 0:
                return done.stdout.strip()
        return ref if SHA.match(ref) else None

    def has_workflow(self, sha: str, name: str) -> bool:
        """Whether ``sha`` has ``.github/workflows/<name>``: asked of the real origin when it
        has workflows at that commit (a repository without any accepts every name)."""
        if self.git_dir is None:
            return True
        listing = subprocess.run(
            ["git", "ls-tree", "--name-only", f"{sha}:.github/workflows"],
            cwd=self.git_dir,
            capture_output=True,
            text=True,
            check=False,
        )
        if listing.returncode != 0:  # no such folder (or commit): nothing to check against
            return True
        return name in listing.stdout.splitlines()

    def add_review(
        self, pr: int, login: str, state: str, commit_id: str | None, body: str = ""
    ) -> ReviewRecord:
        """Record a review of pull request ``pr``."""
        pull = self.pull(pr)
        if state not in REVIEW_STATES:
            raise invalid("PullRequestReview", "state", f"unknown review state {state!r}")
        self.user(login)
        review = ReviewRecord(
            self.next_id(), pr, login, state, commit_id or pull.head_sha, body, self.now()
        )
        self.reviews.append(review)
        return review


def _check_comment_length(body: str) -> None:
    if len(body) > MAX_COMMENT_CHARS:
        message = f"Body is too long (maximum is {MAX_COMMENT_CHARS} characters)"
        raise invalid("IssueComment", "body", message)
