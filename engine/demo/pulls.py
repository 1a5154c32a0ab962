"""A pull request on the local forge, driven through the same handlers as on GitHub.

Each event is written as the webhook payload GitHub would send and handed to
:func:`engine.github.workflow.handle`, the body of ``mlops event``: a ``pull_request``
reviews the change and posts the report; an ``issue_comment`` runs its slash commands
and replies. The forge is the local one, so comments, statuses, reviews and replies land
in ``.mlops/outbox/``. What GitHub would know by itself (the pull request, a teammate's
review and permission, the merge) is recorded on the local forge first.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.forge import PullRequestInfo
    from engine.forge.local import LocalForge
    from engine.github.context import Outcome

REPOSITORY = "demo/models"


@dataclass
class Reply:
    """What one comment got: the handler's outcome and the replies it posted."""

    outcome: Outcome
    replies: list[str]

    @property
    def text(self) -> str:
        """The replies, without the leading mention of the commenter."""
        return "\n".join(r.split(" ", 1)[1] if r.startswith("@") else r for r in self.replies)


class PullRequest:
    """One pull request of the demo: open it, comment on it, approve it, merge it."""

    def __init__(self, root: Path, forge: LocalForge, events: Path, info: PullRequestInfo):
        self.root, self.forge, self.events, self.info = root, forge, events, info
        self.base_sha = ""
        self._comments = 0

    @classmethod
    def open(
        cls, root: Path, forge: LocalForge, events: Path, *, title: str, branch: str, author: str
    ) -> PullRequest:
        """Register the pull request of ``branch`` into main on the forge."""
        from engine.forge import PullRequestInfo
        from engine.gitrepo import resolve

        info = PullRequestInfo(
            number=1,
            title=title,
            state="open",
            merged=False,
            author=author,
            head_sha=resolve(root, branch),
            head_ref=branch,
            head_repo=REPOSITORY,
            base_ref="main",
            base_repo=REPOSITORY,
        )
        forge.add_pull(info)
        pull = cls(root, forge, events, info)
        pull.base_sha = resolve(root, "main")
        return pull

    def review(self) -> Outcome:
        """``pull_request`` (opened): validate, plan, train, compare, post the report."""
        pr, repo = self.info, _repository()
        user = {"login": pr.author, "type": "User"}
        payload = {
            "action": "opened",
            "number": pr.number,
            "pull_request": {
                "number": pr.number,
                "title": pr.title,
                "user": user,
                "head": {"ref": pr.head_ref, "sha": pr.head_sha, "repo": repo},
                "base": {"ref": pr.base_ref, "sha": self.base_sha, "repo": repo},
            },
            "repository": repo,
            "sender": user,
        }
        return self._handle("pull_request", payload)

    def comment(self, login: str, body: str) -> Reply:
        """``issue_comment`` (created) by ``login``: the commands in ``body`` run."""
        self._comments += 1
        user = {"login": login, "type": "User"}
        payload = {
            "action": "created",
            "issue": {
                "number": self.info.number,
                "user": {"login": self.info.author, "type": "User"},
                "pull_request": {"url": f"https://github.invalid/{REPOSITORY}/pull/1"},
            },
            "comment": {
                "id": 1000 + self._comments,
                "body": body,
                "user": user,
                "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            "repository": _repository(),
            "sender": user,
        }
        before = len(self._replies())
        outcome = self._handle("issue_comment", payload)
        return Reply(outcome, self._replies()[before:])

    def approve(self, login: str) -> None:
        """``login`` approves the current head (GitHub records the review)."""
        from engine.forge import Review

        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.forge.add_review(
            self.info.number, Review(login, "APPROVED", self.info.head_sha, stamp)
        )

    def merge(self) -> str:
        """Merge into main (a merge commit) and push, as the merge button does."""
        from engine.gitrepo import resolve, run_git

        run_git(self.root, "switch", "-q", "main")
        message = f"Merge pull request #{self.info.number} from {self.info.head_ref}"
        run_git(self.root, "merge", "-q", "--no-ff", "-m", message, self.info.head_ref)
        run_git(self.root, "push", "-q", "origin", "main")
        self.info = replace(self.info, state="closed", merged=True)
        self.forge.add_pull(self.info)
        return resolve(self.root, "main")

    def _handle(self, name: str, payload: dict[str, Any]) -> Outcome:
        from engine.github.actions import Runtime
        from engine.github.context import Context
        from engine.github.workflow import handle

        path = self.events / f"{name}-{len(list(self.events.glob('*.json'))) + 1}.json"
        path.write_text(json.dumps(payload), encoding="utf-8")
        env = {
            "GITHUB_EVENT_NAME": name,
            "GITHUB_EVENT_PATH": str(path),
            "GITHUB_REPOSITORY": REPOSITORY,
        }
        # The handler's log lines would only repeat what the demo says.
        runtime = Runtime(env, "text", stream=io.StringIO())
        forge = self.forge
        return handle(Context(self.root, env, runtime, forge_factory=lambda: forge))

    def _replies(self) -> list[str]:
        outbox = self.forge.outbox
        index = outbox / "comments.json"
        if not index.exists():
            return []
        entries = json.loads(index.read_text(encoding="utf-8"))
        return [
            (outbox / e["file"]).read_text(encoding="utf-8")
            for e in entries
            if e["pr"] == self.info.number and e["marker"] is None
        ]


def _repository() -> dict[str, Any]:
    return {"full_name": REPOSITORY, "default_branch": "main", "private": False}


__all__ = ["PullRequest", "Reply"]
