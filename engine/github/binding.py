"""Which commit a comment command is about: binding it to the head its author saw.

The ``issue_comment`` webhook carries no head SHA, and the job runs some time after the
comment was written, so the pull request's head may have moved in between. A command must
act on the commit that was the head when the comment was written, established only from
records the pull request's author cannot rewrite, all on GitHub's clock:

- the comment's ``created_at`` (the webhook);
- the engine's own review of the current head: its first ``mlops/gates`` status (for a
  fork's pull request, ``mlops/gates (fork)``), set by the engine's identity (published
  only while that commit was the head);
- the pull request timeline's ``head_ref_force_pushed`` events.

The head is bound when it was reviewed before the comment and no force push happened after
that review. Then it has been the head ever since: plain pushes only move a branch forward,
so leaving a commit and coming back to it takes a force push. This is what refuses the
swap-back attack (head A reviewed, B pushed and reviewed, a maintainer's command written
while B is the head, A force-pushed back before the job runs). Anything unknown refuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Push:
    """A force push of the head branch: when (GitHub's clock; None if missing) and to what."""

    at: str | None
    sha: str | None = None


def unbound(
    head: str, commented_at: str | None, reviewed_at: str | None, force_pushes: Sequence[Push]
) -> str | None:
    """Why ``head`` cannot be shown to be what the commenter saw, or None when it is bound.

    ``reviewed_at`` is when the engine first reviewed ``head`` (None: never);
    ``force_pushes`` are the pull request's force pushes, in any order.
    """
    short = head[:7]
    comment = _instant(commented_at)
    if comment is None:
        return f"could not read the time of your comment ({commented_at!r}), so it cannot be bound"
    pushes = [_instant(p.at) for p in force_pushes]
    if any(at is None for at in pushes):
        return "the pull request's timeline has a force push without a time; comment again"
    after = [at for at in pushes if at is not None and at >= comment]
    if after:
        return (
            f"the PR head was force-pushed after your comment (to `{short}`); "
            "review the current head and comment again"
        )
    reviewed = _instant(reviewed_at)
    if reviewed is None or reviewed > comment:
        return (
            f"the PR head `{short}` was not reviewed by mlops before your comment, so it "
            "may have been pushed after it; wait for the mlops report on the current head "
            "and comment again"
        )
    if any(at is not None and at >= reviewed for at in pushes):
        return (
            f"the PR head was force-pushed after mlops reviewed `{short}`, so `{short}` may "
            "have come back after your comment; push a new commit, wait for its report and "
            "comment again"
        )
    return None


def _instant(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
