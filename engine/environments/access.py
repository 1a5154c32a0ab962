"""Who counts: permission levels, allow lists, who gets replies and whose approval counts.

Pure functions over plain values, shared by :mod:`engine.environments.policy` (may this
comment run a command, may this version go live) and the comment job. GitHub orders the
permission levels admin > maintain > write > triage > read; an allow list names levels
(*that level or higher*), ``@login`` or ``@org/team``, compared case-insensitively.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

LEVELS = ("read", "triage", "write", "maintain", "admin")  # lowest first, as GitHub orders them
Review: TypeAlias = tuple[str, str, str | None]  # (login, state, commit_id), oldest first


def admits(
    allow: Sequence[str], login: str, permission: str | None, teams: frozenset[str] | None
) -> bool | None:
    """Whether ``allow`` names ``login`` by level, login or team.

    None when only a team could admit them and their teams are unknown (``teams`` None).
    """
    key = login.lower()
    permission = (permission or "none").lower()
    rank = LEVELS.index(permission) if permission in LEVELS else -1
    levels = [LEVELS.index(item) for item in allow if item in LEVELS]
    users = {item[1:].lower() for item in allow if item.startswith("@") and "/" not in item}
    wanted = {item[1:].lower() for item in allow if item.startswith("@") and "/" in item}
    if (levels and rank >= min(levels)) or key in users:
        return True
    if wanted:
        if teams is None:
            return None
        return bool(wanted & {team.lower() for team in teams})
    return False


def who(allow: Sequence[str]) -> list[str]:
    """The allow list as people read it: ``maintain`` or higher, ``@alice``."""
    levels = [item for item in allow if item in LEVELS]
    lowest = [f"`{min(levels, key=LEVELS.index)}` or higher"] if levels else []
    return lowest + [f"`{item}`" for item in allow if item.startswith("@")]


def may_answer(permission: str | None, private: bool | None) -> bool:
    """Whether the engine replies to a commenter at all (else it only reacts).

    A reply notifies everyone watching the pull request, so answering anyone turns the bot
    into a spam amplifier. Replies go to users with at least ``read`` on a private
    repository and ``triage`` on a public one (where everybody can read); others get a
    reaction, which notifies nobody and which GitHub keeps to one per user and kind.
    Unknown permission or visibility counts as the stricter case.
    """
    floor = "read" if private is True else "triage"
    return permission in LEVELS and LEVELS.index(permission) >= LEVELS.index(floor)


def approvers(
    reviews: Sequence[Review],
    head: str,
    author: str,
    *,
    allow: Sequence[str] = ("write",),
    permissions: Mapping[str, str | None],
    teams: Mapping[str, frozenset[str]] | None = None,
) -> tuple[set[str], list[str]]:
    """Who approves ``head`` now, and why each other approval does not count.

    Each reviewer's latest decisive review counts: a later ``CHANGES_REQUESTED`` or a
    dismissal cancels an approval, a comment does not. The approval must be of ``head``
    exactly, from someone other than the author and not a bot, whose permission is known,
    at least ``write`` (as GitHub counts approvals for branch protection) and admitted by
    the environment's ``allow`` list (level, ``@login`` or ``@org/team``). Logins are
    compared case-insensitively; ``permissions`` and ``teams`` are keyed by lowercase login.
    """
    latest: dict[str, tuple[str, str | None, str]] = {}
    for login, state, commit in reviews:
        if state.upper() in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[login.lower()] = (state.upper(), commit, login)
    counted: set[str] = set()
    ignored: list[str] = []
    for key, (state, commit, login) in latest.items():
        if state != "APPROVED" or not head:
            continue
        if key == author.lower() or key.endswith("[bot]"):
            continue  # never counted, and not worth a word
        if commit != head:
            ignored.append(f"@{login} approved an older commit")
            continue
        why = _may_not_approve(login, permissions.get(key), allow, teams)
        if why:
            ignored.append(why)
        else:
            counted.add(key)
    return counted, sorted(ignored)


def approver_allow(allow: Sequence[str]) -> list[str]:
    """The allow list with its levels raised to ``write`` at least."""
    levels = [item for item in allow if item in LEVELS]
    others = [item for item in allow if item not in LEVELS]
    floor = LEVELS.index("write")
    raised = sorted({max(LEVELS.index(level), floor) for level in levels})
    return [LEVELS[raised[0]], *others] if raised else others


def _may_not_approve(
    login: str,
    permission: str | None,
    allow: Sequence[str],
    teams: Mapping[str, frozenset[str]] | None,
) -> str | None:
    """Why ``login``'s approval does not count, or None when it does."""
    if permission is None:
        return f"could not read @{login}'s permission"
    rank = LEVELS.index(permission) if permission in LEVELS else -1
    if rank < LEVELS.index("write"):
        return f"@{login} has `{permission}` permission; approvals need `write` or higher"
    known = None if teams is None else teams.get(login.lower(), frozenset())
    if admits(allow, login, permission, known):
        return None
    return f"@{login} is not on the allow list"
