"""Who may run a command, and whether a promotion may happen: decisions as data.

Two pure functions turn facts into a :class:`Decision`:

- :func:`authorize` — may this comment's author run a command (against an environment)?
- :func:`check_promotion` — does the environment's policy in ``mlops/project.yaml``
  let this version in?

Permission levels, allow-list matching, who gets replies and whose approval counts live in
:mod:`engine.environments.access`. The caller gathers the facts (the webhook payload, the
collaborator-permission API, the reviews, the environment branches, the store) and passes
plain values. Every fact
is optional: ``None`` means the lookup failed or was not made, and a decision that
needs it denies, naming the fact. The engine fails closed.

:func:`authorize` checks, in order, and stops at the first failure (the later checks
mean nothing once an earlier one fails):

1. the comment was just ``created`` (not edited or deleted);
2. its author is a user, not a bot (type ``Bot`` or a login ending in ``[bot]``);
3. it is on a pull request;
4. the pull request targets the default branch;
5. the pull request is not from a fork, unless the environment has ``allow_forks``;
6. the author's permission is known;
7. the environment's ``allow`` list names the author: a permission level means *that
   level or higher* (GitHub orders admin > maintain > write > triage > read, so
   ``allow: [maintain, admin]`` and ``allow: [maintain]`` mean the same), ``@user`` a
   login and ``@org/team`` a team (compared case-insensitively, as GitHub does).

Failures 1 and 2 are ``quiet``: answering an edited comment repeats an old answer, and
answering a bot can start a loop of bots answering each other.

:func:`check_promotion` first refuses a command whose pull request head moved after the
comment (the command is bound to the commit its author saw), then answers a promotion of
what is already live with a no-op, then checks every rule of the environment and lists
*all* that fail, each saying what would make it pass: ``requires``, ``from_default_branch``,
``approvals`` and the gates. An approval counts only when it is its reviewer's latest
decisive review, of the exact head commit, by someone other than the author whose permission
is at least ``write`` and who is on the environment's ``allow`` list (:func:`approvers`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.environments.access import LEVELS, Review, admits, approver_allow, approvers, who
from engine.training.fingerprint import short

if TYPE_CHECKING:
    from engine.definitions.formats import Environment, Project


@dataclass(frozen=True)
class Decision:
    """Yes or no, and why: each reason says what would make the command pass.

    ``noop``: allowed, and nothing to do. ``quiet``: do not answer (see the module doc).
    """

    allowed: bool
    reasons: list[str] = field(default_factory=list)
    noop: bool = False
    quiet: bool = False

    def message(self) -> str:
        """The decision as markdown for a reply."""
        if self.allowed:
            return " ".join(self.reasons) if self.reasons else "Allowed."
        if len(self.reasons) == 1:
            return f"Refused: {self.reasons[0]}."
        return "Refused:\n" + "".join(f"- {reason}\n" for reason in self.reasons)


def _allow(*reasons: str) -> Decision:
    return Decision(True, list(reasons))


def _deny(*reasons: str, quiet: bool = False) -> Decision:
    return Decision(False, list(reasons), quiet=quiet)


def describe(env: Environment) -> str:
    """An environment's branch and promotion policy in words, for `/help`."""
    parts = [f"branch `{env.branch}`"]
    if env.requires:
        parts.append("live in " + ", ".join(f"`{r}`" for r in env.requires) + " first")
    if env.approvals:
        parts.append(f"{env.approvals} approving review{'s' if env.approvals > 1 else ''}")
    if env.from_default_branch:
        parts.append("versions from the default branch only")
    parts.append("who: " + (" or ".join(who(env.allow)) or "nobody"))
    if env.allow_forks:
        parts.append("accepts pull requests from forks")
    return "; ".join(parts)


# --- authorization ----------------------------------------------------------------------


@dataclass(frozen=True)
class CommentFacts:
    """What is known about a comment and its author; None where a lookup failed."""

    action: str | None = None  # the webhook's action: created, edited, deleted
    is_pull_request: bool | None = None
    commenter: str | None = None  # login
    commenter_type: str | None = None  # the payload's user.type: User, Bot, Organization
    permission: str | None = None  # role_name: admin, maintain, write, triage, read or none
    teams: frozenset[str] | None = None  # "org/team" slugs; None when not readable
    from_fork: bool | None = None
    base_ref: str | None = None  # the branch the pull request targets
    default_branch: str | None = None  # the repository's default branch


def authorize(facts: CommentFacts, env: Environment | None, project: Project) -> Decision:
    """May the comment's author run a command against ``env`` (None: no environment)?

    Without an environment (``/retrain``) the default allow list applies: write or higher.
    """
    name = f"@{facts.commenter}"
    if facts.action != "created":
        return _deny(
            f"only new comments run commands; this one was {facts.action or 'unknown'}", quiet=True
        )
    if facts.commenter is None or facts.commenter_type is None:
        return _deny("could not tell who wrote the comment", quiet=True)
    if facts.commenter_type != "User" or facts.commenter.lower().endswith("[bot]"):
        return _deny(
            f"{name} is not a user ({facts.commenter_type}); bots cannot run commands", quiet=True
        )
    context = _check_pull_request(facts, env, project)
    if context is not None:
        return _deny(context)
    if facts.permission is None:
        return _deny(f"could not read {name}'s permission on this repository; try again later")
    allow = env.allow if env is not None else ["write", "maintain", "admin"]
    return _check_allow_list(facts, allow)


def _check_pull_request(
    facts: CommentFacts, env: Environment | None, project: Project
) -> str | None:
    """Why the pull request itself rules the command out, or None."""
    if facts.is_pull_request is None:
        return "could not tell whether this comment is on a pull request"
    if not facts.is_pull_request:
        return "commands run on pull requests only"
    if facts.default_branch is None or facts.base_ref is None:
        return "could not read the pull request's base branch or the repository's default branch"
    if facts.default_branch != project.default_branch:
        return (
            f"`mlops/project.yaml` says the default branch is `{project.default_branch}` but "
            f"the repository's is `{facts.default_branch}`: fix `default_branch` there"
        )
    if facts.base_ref != facts.default_branch:
        return (
            f"this pull request targets `{facts.base_ref}`; commands run on pull requests "
            f"into `{facts.default_branch}` only"
        )
    if facts.from_fork is None:
        return "could not tell whether this pull request comes from a fork"
    if facts.from_fork and not (env is not None and env.allow_forks):
        where = "this environment" if env is not None else "this command"
        return (
            f"this pull request comes from a fork, and {where} does not accept forks "
            "(`allow_forks: true` in `mlops/project.yaml` would)"
        )
    return None


def _check_allow_list(facts: CommentFacts, allow: Sequence[str]) -> Decision:
    """Whether ``allow`` names the commenter by level, login or team."""
    login = facts.commenter or ""
    admitted = admits(allow, login, facts.permission, facts.teams)
    if admitted:
        return _allow()
    if admitted is None:
        teams = sorted(item[1:].lower() for item in allow if item.startswith("@") and "/" in item)
        return _deny(
            f"could not read @{facts.commenter}'s teams, which the allow list "
            f"needs ({_listed(teams)})"
        )
    return _deny(_not_allowed(login, (facts.permission or "none").lower(), allow))


def _not_allowed(login: str, permission: str, allow: Sequence[str]) -> str:
    """@bob has `read` permission; this needs `maintain` or higher, or `@alice`."""
    has = (
        f"has `{permission}` permission"
        if permission in (*LEVELS, "none")
        else f"has the role `{permission}`, which is none of {', '.join(LEVELS)}"
    )
    options = who(allow)
    if not options:
        return f"@{login} {has}; the allow list is empty, so nobody may run this"
    return f"@{login} {has}; this needs " + " or ".join(options)


def _listed(teams: Sequence[str]) -> str:
    return ", ".join(f"`@{team}`" for team in teams)


# --- promotion policy -------------------------------------------------------------------


@dataclass(frozen=True)
class PromotionFacts:
    """What is known about a promotion; None where a lookup failed.

    ``live`` maps an environment to the version it runs (None: nothing); an environment
    missing from it is unknown. ``approvals`` are the pull request's reviews, oldest first.
    Versions are full fingerprints, compared exactly.
    """

    model: str
    version: str | None
    head_sha_at_comment: str | None = None
    current_head_sha: str | None = None
    live: Mapping[str, str | None] = field(default_factory=dict)
    approvals: Sequence[Review] | None = None
    pr_author: str | None = None
    reviewer_permissions: Mapping[str, str | None] | None = None
    """Each reviewer's permission (login → role; None where the lookup failed)."""
    reviewer_teams: Mapping[str, frozenset[str]] | None = None
    """Each reviewer's ``org/team`` memberships among the allow list's teams; None: unread."""
    version_on_default_branch: bool | None = None
    gates_passed: bool | None = None
    via_comment: bool = True
    """Asked by a comment on a pull request; False for ``mlops promote`` in a terminal,
    whose reasons name the CLI command to run instead of a comment to write."""


def check_promotion(
    facts: PromotionFacts,
    env_name: str,
    env: Environment,
    environments: Mapping[str, Environment],
) -> Decision:
    """May ``facts.version`` of ``facts.model`` go live in ``env_name``?"""
    moved = _head_moved(facts)
    if moved is not None:
        return _deny(moved)
    model, version = f"`{facts.model}`", facts.version
    if version is None:
        return _deny(f"could not tell which version of {model} to promote")
    if env_name not in facts.live:
        return _deny(f"could not read what `{env_name}` runs now")
    if facts.live[env_name] == version:
        return Decision(
            True,
            [f"{model} `{short(version)}` is already live in `{env_name}`; nothing to do."],
            noop=True,
        )
    reasons = [
        *_check_requires(facts, version, env, environments),
        *_check_default_branch(facts, env),
        *_check_approvals(facts, env, env_name),
        *_check_gates(facts, env_name),
    ]
    return _deny(*reasons) if reasons else _allow()


def _head_moved(facts: PromotionFacts) -> str | None:
    """Why the command's commit is not the pull request's head any more, or None."""
    then, now = facts.head_sha_at_comment, facts.current_head_sha
    if then is None or now is None:
        return "could not read the pull request's head commit; comment again to retry"
    if then != now:
        return (
            f"the PR head moved from {then[:7]} to {now[:7]} after your comment; "
            "comment again to promote the new head"
        )
    return None


def _check_requires(
    facts: PromotionFacts, version: str, env: Environment, environments: Mapping[str, Environment]
) -> list[str]:
    reasons = []
    for required in env.requires:
        if required not in environments:
            reasons.append(f"requires `{required}`, which `mlops/project.yaml` does not define")
        elif required not in facts.live:
            reasons.append(f"could not read what `{required}` runs, which must come first")
        elif facts.live[required] != version:
            running = facts.live[required]
            now = f"it runs `{short(running)}`" if running else "it runs no version"
            reasons.append(
                f"needs `{short(version)}` live in `{required}` first ({now}): "
                f"`{_promote_command(facts, version, required)}`"
            )
    return reasons


def _promote_command(facts: PromotionFacts, version: str, env_name: str) -> str:
    """How the asker promotes ``version`` to ``env_name``: a comment, or the CLI."""
    if facts.via_comment:
        return f"/promote {facts.model}@{short(version)} to {env_name}"
    return f"mlops promote {facts.model} --to {env_name} --version {short(version)}"


def _check_default_branch(facts: PromotionFacts, env: Environment) -> list[str]:
    if not env.from_default_branch or facts.version_on_default_branch:
        return []
    if facts.version_on_default_branch is None:
        return ["could not tell whether this version comes from the default branch"]
    if not facts.via_comment:
        return [
            "needs a version trained on the default branch: merge the change into it, "
            "then promote from there"
        ]
    return [
        "needs a version trained on the default branch: merge the pull request, then "
        "promote the version it trains there"
    ]


def _check_approvals(facts: PromotionFacts, env: Environment, env_name: str) -> list[str]:
    if env.approvals == 0:
        return []
    head = facts.current_head_sha or ""
    plural = "s" if env.approvals > 1 else ""
    if not facts.via_comment:  # reviews exist on pull requests only
        needed = " or ".join(who(approver_allow(env.allow))) or "a place on the allow list"
        return [
            f"needs {env.approvals} approving review{plural} from someone other than "
            f"@{facts.pr_author} with {needed}, and only a pull request has reviews: open "
            f"one and comment `/promote {facts.model} to {env_name}` once it is approved"
        ]
    if facts.approvals is None or facts.pr_author is None:
        return [
            f"needs {env.approvals} approving review{plural} on {head[:7]}, but the reviews "
            "could not be read"
        ]
    counted, ignored = approvers(
        facts.approvals,
        head,
        facts.pr_author,
        allow=env.allow,
        permissions=facts.reviewer_permissions or {},
        teams=facts.reviewer_teams,
    )
    if len(counted) >= env.approvals:
        return []
    needed = " or ".join(who(approver_allow(env.allow))) or "a place on the (empty) allow list"
    why = f" (not counted: {'; '.join(ignored)})" if ignored else ""
    return [
        f"needs {env.approvals} approving review{plural} on {head[:7]} from someone other "
        f"than @{facts.pr_author} with {needed}; has {len(counted)}{why}"
    ]


def _check_gates(facts: PromotionFacts, env_name: str) -> list[str]:
    if facts.gates_passed:
        return []
    if facts.gates_passed is None:
        return [
            f"could not tell whether the gates pass against what `{env_name}` runs: "
            "the version has no evaluation to compare"
        ]
    if not facts.via_comment:
        return [
            f"the gates fail against what `{env_name}` runs now; "
            f"`mlops diff {facts.model} --vs {env_name}` shows how"
        ]
    return [f"the gates fail against what `{env_name}` runs now; see the report on this PR"]
