"""Slash commands in pull-request comments: parse → authorize → act → reply and react.

Runs on ``issue_comment`` in a job whose checkout is the default branch, so the models,
the environments and their policies come from trusted files. Every lookup that fails
denies (fail closed); bots and edited comments get no answer at all, so two bots can
never talk to each other in a loop. Commenters below ``read`` (private repositories) or
``triage`` (public ones) get a reaction and never a reply: a reply notifies every watcher,
so answering anyone would make the bot a spam amplifier (policy.may_answer).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.errors import UserError

if TYPE_CHECKING:
    from engine.definitions.formats import Project
    from engine.environments.policy import CommentFacts
    from engine.forge import Forge, PullRequestInfo
    from engine.github.commands import Command, Diff, Promote, Reply, Retire, Rollback
    from engine.github.context import Context, Outcome
    from engine.github.events import IssueCommentEvent


@dataclass(frozen=True)
class _Thread:
    """What every command of one comment shares: where it was made, by whom, under which policy."""

    ctx: Context
    forge: Forge
    event: IssueCommentEvent
    pr: PullRequestInfo | None
    project: Project
    """The default branch's project file: the policy the commands are judged by."""
    models: list[str]
    facts: CommentFacts
    team_members: Mapping[str, frozenset[str]] | None
    """Members (lowercase) of each ``org/team`` the allow lists name; None if unreadable."""

    @property
    def commenter(self) -> str:
        """The login of who wrote the comment."""
        return self.event.comment.user.login


def on_comment(ctx: Context, event: IssueCommentEvent) -> Outcome:
    """Handle one comment: run its commands in order, reply to each, react once."""
    from engine import api
    from engine.environments.access import may_answer
    from engine.environments.operations import trusted_project
    from engine.github.commands import addressed, parse
    from engine.github.context import Outcome, push_credentials

    defs, _ = api.read_definitions(ctx.root)
    project = trusted_project(ctx.root)
    items = parse(event.comment.body or "", list(defs.models), project.environments)
    if not items:
        return Outcome("the comment holds no command")
    if event.action != "created" or event.comment.user.is_bot or event.sender.is_bot:
        return Outcome(f"ignored: a {event.action} comment by @{event.comment.user.login}")
    forge = ctx.forge()
    push_credentials(ctx)
    if not _acknowledged(forge, event.comment.id):
        return Outcome(
            f"ignored: comment {event.comment.id} was deleted before this job ran, which takes "
            "its commands back"
        )
    permission = _permission(forge, event.comment.user.login)
    if not may_answer(permission, event.repository.private):
        _react(forge, event.comment.id, "confused")
        return Outcome(
            f"ignored: @{event.comment.user.login} has `{permission or 'unknown'}` "
            "permission, too little to get replies (reacted instead)"
        )
    items = _with_pinned(ctx, event.comment.body or "", items, list(defs.models), project)
    pr = _pull_request(forge, event)
    members = _team_members(forge, project)
    facts = _facts(event, pr, permission, members)
    thread = _Thread(ctx, forge, event, pr, project, list(defs.models), facts, members)
    ok = True
    for number, item in enumerate(items, start=1):
        try:
            message, success = _run(thread, item, number)
        except UserError as exc:
            message, success = f"Refused: {exc}", False
        if message:
            forge.reply(event.issue.number, addressed(thread.commenter, message))
        ok = ok and success
    _react(forge, event.comment.id, "rocket" if ok else "confused")
    return Outcome(
        f"{len(items)} command(s) on #{event.issue.number}: "
        f"{'done' if ok else 'refused or failed'}",
        0 if ok else 1,
    )


def _with_pinned(
    ctx: Context, body: str, items: list[Command | Reply], models: list[str], project: Project
) -> list[Command | Reply]:
    """``items``, parsed again with the models the environments pin (or retired) when a
    ``/rollback`` or ``/retire`` line was refused: a model deleted on the default branch is
    unknown to its definitions, yet still runs where it is pinned (the environment branches
    are read only then, so other comments cost no fetch)."""
    import re

    from engine.github.commands import Reply, parse

    if not any(isinstance(i, Reply) for i in items):
        return items
    if not re.search(r"(?im)^ {0,3}/(rollback|retire)[ \t]", body):
        return items
    from engine.environments.operations import pinned_models

    try:
        pinned = pinned_models(ctx.root, project)
    except UserError:  # the branches could not be read (a failed fetch): the replies stand
        return items
    if not pinned - set(models):
        return items
    return parse(body, models, project.environments, pinned=pinned)


def _acknowledged(forge: Forge, comment_id: int) -> bool:
    """React 👀 to the comment; False when it is gone (GitHub's 404 for a deleted comment).

    Edits are ignored, so deleting a comment is how its author takes a command back; the
    job may run minutes later (queued behind others) and must not act on it then.
    """
    from engine.forge import ForgeError, ForgeNotFound

    try:
        forge.react(comment_id, "eyes")
    except ForgeNotFound:
        return False
    except ForgeError:
        pass  # a reaction is a courtesy (see _react)
    return True


def _react(forge: Forge, comment_id: int, content: Any) -> None:
    """A reaction is a courtesy: failing to add one never stops a command."""
    from engine.forge import ForgeError

    with contextlib.suppress(ForgeError):
        forge.react(comment_id, content)


def _pull_request(forge: Forge, event: IssueCommentEvent) -> PullRequestInfo | None:
    from engine.forge import ForgeError

    if not event.issue.is_pull_request:
        return None
    try:
        return forge.pull_request(event.issue.number)
    except ForgeError:
        return None  # unknown facts deny below


def _team_members(forge: Forge, project: Project) -> dict[str, frozenset[str]] | None:
    """The members of every ``@org/team`` the environments' allow lists name."""
    from engine.forge import ForgeError

    wanted = {
        a[1:]
        for env in project.environments.values()
        for a in env.allow
        if a.startswith("@") and "/" in a
    }
    try:
        return {
            team: frozenset(m.lower() for m in forge.team_members(*team.split("/", 1)))
            for team in wanted
        }
    except ForgeError:
        return None


def _teams_of(members: Mapping[str, frozenset[str]] | None, login: str) -> frozenset[str] | None:
    if members is None:
        return None
    return frozenset(team for team, logins in members.items() if login.lower() in logins)


def _permission(forge: Forge, login: str) -> str | None:
    from engine.forge import ForgeError

    try:
        return forge.permission(login)
    except ForgeError:
        return None  # unknown: denies


def _facts(
    event: IssueCommentEvent,
    pr: PullRequestInfo | None,
    permission: str | None,
    members: Mapping[str, frozenset[str]] | None,
) -> CommentFacts:
    from engine.environments.policy import CommentFacts

    user = event.comment.user
    teams = _teams_of(members, user.login)
    return CommentFacts(
        action=event.action,
        is_pull_request=event.issue.is_pull_request,
        commenter=user.login,
        commenter_type=user.type,
        permission=permission,
        teams=teams,
        from_fork=pr.is_fork if pr else None,
        base_ref=pr.base_ref if pr else None,
        default_branch=event.repository.default_branch,
    )


def _run(thread: _Thread, item: Command | Reply, number: int = 1) -> tuple[str, bool]:
    """Run the comment's ``number``-th command; return the reply and whether it succeeded."""
    from engine.environments.policy import authorize
    from engine.github import commands as c

    if isinstance(item, c.Reply):
        return item.message, False
    if isinstance(item, c.Help):
        return c.help_text(thread.models, thread.project.environments), True
    if isinstance(item, c.Status):
        from engine.environments.operations import status_table

        return status_table(thread.ctx.root), True
    env_name = getattr(item, "env", None) or getattr(item, "vs_env", None)
    env = thread.project.environments.get(env_name) if env_name else None
    decision = authorize(thread.facts, env, thread.project)
    if not decision.allowed:
        return ("" if decision.quiet else decision.message()), False
    pr = thread.pr
    if pr is None:
        return "Refused: could not read the pull request; comment again to retry.", False
    _fetch(thread.ctx, pr.head_sha)
    if isinstance(item, c.Promote):
        return _promote(thread, pr, item, number)
    if isinstance(item, c.Rollback):
        return _rollback(thread, item, number)
    if isinstance(item, c.Retire):
        return _retire(thread, item, number)
    if isinstance(item, c.Retrain):
        return _retrain(thread, pr, item.models)
    if isinstance(item, c.Diff):
        return _diff(thread, pr, item)
    return "Refused: not a command this engine runs.", False


def _promote(thread: _Thread, pr: PullRequestInfo, item: Promote, number: int) -> tuple[str, bool]:
    from engine.environments.operations import Request, promote_model

    forge = thread.forge
    moved = _bound(forge, pr, thread.event.comment.created_at)
    if moved:
        return moved, False
    current = forge.pull_request(pr.number).head_sha  # and it must still be the head now
    reviews = _reviews(forge, pr.number)
    # Only approvers need a permission lookup: one call per distinct login.
    approving = sorted({r[0] for r in reviews or () if r[1].upper() == "APPROVED"}, key=str.lower)
    request = Request(
        model=item.model,
        environment=item.env,
        actor=thread.commenter,
        source=pr.head_sha,
        version=item.version,
        canary=item.canary,
        comment_id=thread.event.comment.id,
        command=number,
        pr=pr.number,
        pr_author=pr.author,
        head_sha_at_comment=pr.head_sha,
        current_head_sha=current,
        reviews=reviews,
        reviewer_permissions=None
        if reviews is None
        else {login.lower(): _permission(forge, login) for login in approving},
        reviewer_teams=None
        if thread.team_members is None
        else {
            login.lower(): _teams_of(thread.team_members, login) or frozenset()
            for login in approving
        },
    )
    done = promote_model(thread.ctx.root, request, forge=forge)
    return done.message(), done.decision.allowed


def _rollback(thread: _Thread, item: Rollback, number: int) -> tuple[str, bool]:
    from engine.environments.operations import rollback_model

    done = rollback_model(
        thread.ctx.root,
        model=item.model,
        env_name=item.env,
        actor=thread.commenter,
        to=item.to_version,
        pr=thread.event.issue.number,
        forge=thread.forge,
        comment_id=thread.event.comment.id,
        command=number,
    )
    return done.message(), True


def _retire(thread: _Thread, item: Retire, number: int) -> tuple[str, bool]:
    from engine.environments.operations import retire_model

    done = retire_model(
        thread.ctx.root,
        model=item.model,
        env_name=item.env,
        actor=thread.commenter,
        pr=thread.event.issue.number,
        forge=thread.forge,
        comment_id=thread.event.comment.id,
        command=number,
    )
    return done.message(), True


def _diff(thread: _Thread, pr: PullRequestInfo, item: Diff) -> tuple[str, bool]:
    from engine.review.pipeline import review

    result = review(
        thread.ctx.root,
        settings=thread.project,  # never the PR's store or allow-list
        base=_base(thread.ctx, pr),
        head=pr.head_sha,
        models=[item.model] if item.model else (),
        vs=[item.vs_env] if item.vs_env else (),
    )
    # a reply cut to a comment's limit points to the job summary: put the whole report there
    thread.ctx.runtime.summary(result.full_markdown or result.markdown)
    return result.markdown, result.ok


def _bound(forge: Forge, pr: PullRequestInfo, commented_at: str) -> str | None:
    """Why the PR head cannot be what the commenter saw, or None (see engine.github.binding)."""
    from engine.forge import ForgeError
    from engine.github.binding import Push, unbound

    try:
        # A fork's review is posted under its own context (engine.github.untrusted); both
        # are set by the engine only while the commit is the head, so either binds.
        reviewed_at = forge.first_status_at(pr.head_sha, "mlops/gates")
        if reviewed_at is None:
            reviewed_at = forge.first_status_at(pr.head_sha, "mlops/gates (fork)")
    except ForgeError as exc:
        return f"Refused: could not read the statuses of `{pr.head_sha[:7]}` ({exc})."
    try:
        pushes = [Push(p.at, p.sha) for p in forge.force_pushes(pr.number)]
    except ForgeError as exc:
        return f"Refused: could not read the pull request's timeline ({exc})."
    reason = unbound(pr.head_sha, commented_at, reviewed_at, pushes)
    return f"Refused: {reason}." if reason else None


def _reviews(forge: Forge, pr: int) -> list[tuple[str, str, str | None]] | None:
    from engine.forge import ForgeError

    try:
        return [(r.user, r.state, r.commit_id) for r in forge.reviews(pr)]
    except ForgeError:
        return None  # unknown: a policy that needs approvals then refuses


def _retrain(thread: _Thread, pr: PullRequestInfo, models: tuple[str, ...]) -> tuple[str, bool]:
    """Retrain ignoring the cache; say whether each model's metrics reproduced."""
    from engine import api
    from engine.environments.operations import unreproduced
    from engine.training.planning import compute_plan

    root, settings = thread.ctx.root, thread.project  # never the PR's allow-list or store
    if models:
        names = list(models)
    else:  # the models the pull request changes
        names = [m.name for m in compute_plan(root, _base(thread.ctx, pr), pr.head_sha).to_train]
    if not names:
        return "Nothing to retrain: the pull request changes no model.", True
    before = api.train(root, names, rev=pr.head_sha, settings=settings)
    recorded = {o.model: dict(o.metrics) for o in before.outcomes if o.status != "failed"}
    again = api.train(root, names, rev=pr.head_sha, force=True, settings=settings)
    rows = ["| Model | Version | Reproduced |", "| --- | --- | --- |"]
    ok = True
    for outcome in again.outcomes:
        old = recorded.get(outcome.model, {})
        same = outcome.status != "failed" and unreproduced(old, outcome.metrics) is None
        ok = ok and same
        verdict = "✅ yes" if same else f"❌ no ({outcome.reason or 'metrics differ'})"
        rows.append(f"| `{outcome.model}` | `{outcome.version}` | {verdict} |")
    return "\n".join(rows), ok


def _base(ctx: Context, pr: PullRequestInfo) -> str:
    from engine import gitrepo
    from engine.gitbranches import on_branch

    base = on_branch(pr.base_ref, lambda ref: gitrepo.merge_base(ctx.root, ref, pr.head_sha))
    if base is None:
        raise UserError(
            f"cannot find the base branch {pr.base_ref!r} in the checkout: fetch it "
            "(actions/checkout with fetch-depth: 0)"
        )
    return base


def _fetch(ctx: Context, sha: str) -> None:
    """Make the PR head available locally (a checkout of the default branch lacks it)."""
    from engine import gitbranches, gitrepo

    if gitbranches.ref_sha(ctx.root, sha) is None and "origin" in gitbranches.remotes(ctx.root):
        gitrepo.run_git(ctx.root, "fetch", "--quiet", "origin", sha, check=False)
