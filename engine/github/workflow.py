"""Wire one GitHub event to its handlers: the body of ``mlops event``.

Each handler takes the run's :class:`Context` (environment, repository, runtime) and the
typed payload, does its work through the engine's API, and publishes through a forge.
The pull-request flow comes in two halves (DESIGN.md §7): ``pull_request`` does all the
work without secrets and always writes a report bundle; ``workflow_run`` reads that
bundle as untrusted data and publishes it with a write token.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import UserError
from engine.github.context import Context, Outcome
from engine.github.events import (
    DispatchEvent,
    IssueCommentEvent,
    PullRequestEvent,
    PushEvent,
    WorkflowRunEvent,
    parse_event,
)

if TYPE_CHECKING:
    from engine.forge import Forge
    from engine.github.bundle import Results, Status
    from engine.review.pipeline import Review
    from engine.review.report import Marker

REPORT_MARKER = "report"
PR_ACTIONS = ("opened", "synchronize", "reopened")


def handle(ctx: Context) -> Outcome:
    """Read the event from the environment and run its handler."""
    name = ctx.env.get("GITHUB_EVENT_NAME", "")
    if not name:
        raise UserError(
            "GITHUB_EVENT_NAME is not set: `mlops event` runs inside GitHub "
            "Actions (or set GITHUB_EVENT_NAME and GITHUB_EVENT_PATH by hand)"
        )
    path = ctx.env.get("GITHUB_EVENT_PATH", "")
    if not path or not Path(path).is_file():
        raise UserError(
            f"GITHUB_EVENT_PATH ({path or 'unset'}) is not a readable file: "
            "`mlops event` needs the webhook payload"
        )
    event = parse_event(name, Path(path).read_bytes(), source=path)
    ctx.runtime.log(f"event {name}", repository=ctx.repository)
    if isinstance(event, PullRequestEvent):
        outcome = on_pull_request(ctx, event)
    elif isinstance(event, WorkflowRunEvent):
        outcome = on_workflow_run(ctx, event)
    elif isinstance(event, PushEvent):
        outcome = on_push(ctx, event)
    elif isinstance(event, IssueCommentEvent):
        outcome = on_issue_comment(ctx, event)
    else:
        outcome = on_dispatch(ctx, name, event)
    ctx.runtime.outputs(outcome.outputs)
    ctx.runtime.log(outcome.message)
    return outcome


# --- pull requests ----------------------------------------------------------------------


def on_pull_request(ctx: Context, event: PullRequestEvent) -> Outcome:
    """Validate, plan, train, compare; write the bundle; publish when the token may write.

    The bundle is written whatever happens: when the review itself fails, it says why,
    so the pull request still gets one comment and failing statuses.
    """
    from engine.review.pipeline import review
    from engine.review.report import Marker

    if event.action not in PR_ACTIONS:
        return Outcome(f"pull_request {event.action}: nothing to do")
    pr = event.pull_request
    head = ctx.env.get("GITHUB_SHA") or pr.head.sha
    marker = Marker(
        ctx.repository or event.repository.full_name, pr.number, ctx.env.get("GITHUB_WORKFLOW", "")
    )
    if not event.from_fork:  # it publishes (with a token) once the review is done
        ctx.prepare_forge()
    try:
        with ctx.runtime.group("review the change"):
            result = review(
                ctx.root, base=pr.base.sha, head=head, marker=marker, summary_url=ctx.run_url
            )
    except Exception as exc:
        _deliver(ctx, event, marker.repo, _failure_report(marker, exc))
        raise  # the job fails after the pull request got its report
    ctx.runtime.annotate(result.problems)
    published = _deliver(ctx, event, marker.repo, _review_report(result))
    outputs = {"verdict": result.verdict, "ok": str(result.ok).lower()}
    return Outcome(
        f"pull request #{pr.number}: {result.verdict}{published}",
        0 if result.ok else 1,
        outputs,
    )


@dataclass(frozen=True)
class _Report:
    """What a pull request gets: the comment, the verdict and the two statuses."""

    markdown: str
    verdict: str
    validate: Status
    gates: Status
    full: str = ""
    """The report uncut, for the job summary a cut comment points to."""


def _review_report(result: Review) -> _Report:
    from engine.github.bundle import Status

    count = len(result.problems)
    validate = (
        Status(state="failure", description=f"{count} problem(s) in definitions or data")
        if count
        else Status(state="success", description="definitions and data are valid")
    )
    gates = _gates_status(result.verdict, len(result.failures))
    return _Report(result.markdown, result.verdict, validate, gates, result.full_markdown)


def _failure_report(marker: Marker, error: Exception) -> _Report:
    """The report when the review itself failed: what went wrong, in a code block."""
    from engine.github.bundle import Status

    what = str(error) if isinstance(error, UserError) else f"{type(error).__name__}: {error}"
    fence = "`" * 3
    what = what.replace(fence, "'" * 3)[:4000]
    markdown = (
        f"{marker.render()}\n### ❌ mlops could not review this change\n\n{fence}\n{what}\n"
        f"{fence}\n\nFix the cause and push again; the job log has the details.\n"
    )
    status = Status(state="error", description="mlops could not review this change: see the report")
    return _Report(markdown, "fail", status, status)


def _gates_status(verdict: str, failures: int) -> Status:
    from engine.github.bundle import Status

    if failures:
        return Status(state="failure", description=f"{failures} model(s) failed to train")
    if verdict == "fail":
        return Status(state="failure", description="a model failed its gates")
    if verdict == "not comparable":
        return Status(state="success", description="gates passed; some models not comparable")
    return Status(state="success", description="every model passed its gates")


def _deliver(ctx: Context, event: PullRequestEvent, repository: str, report: _Report) -> str:
    """Write the job summary and the bundle; publish when the token may write.

    Returns ``"; published"`` when it published, for the log line.
    """
    from engine.github.bundle import Results, write_bundle

    pr = event.pull_request
    ctx.runtime.summary(report.full or report.markdown)
    results = Results(
        repository=repository,
        pr=pr.number,
        head_sha=pr.head.sha,
        base_sha=pr.base.sha,
        verdict=report.verdict,
        statuses={"mlops/validate": report.validate, "mlops/gates": report.gates},
    )
    if ctx.bundle is not None:
        write_bundle(ctx.bundle, report.markdown, results)
    # A forge handed in by the caller (the demo's local forge) is one the caller may write to.
    may_write = bool(ctx.env.get("GITHUB_TOKEN")) or ctx.forge_factory is not None
    if may_write and not event.from_fork:
        forge = ctx.forge()
        # As on workflow_run: a review is published only while its commit is the head, so
        # the engine's first mlops/gates status on a commit proves it was the head then
        # (engine.github.binding relies on it).
        now = forge.pull_request(pr.number)
        if now.head_sha != pr.head.sha:
            return f"; not published: the head moved on to {now.head_sha[:12]}"
        publish(forge, report.markdown, results, comment_count=now.comments)
        return "; published"
    return ""


def publish(
    forge: Forge, report: str, results: Results, *, comment_count: int | None = None
) -> None:
    """Post the sticky report comment and the two statuses on the PR head (unless set).

    ``comment_count`` is the pull request's comment count, just read with its head: 0 spares
    looking for the sticky comment.
    """
    from engine.forge import clip_description

    written = forge.upsert_comment(results.pr, report, REPORT_MARKER, comment_count=comment_count)
    # A report that is word for word the one already posted is most likely a re-run on the
    # same head, whose statuses usually say the same: one read instead of two writes. A new
    # or changed report (a new head, a first run) skips the read: its statuses are new. The
    # first status of a context stays the engine's proof of when it ran (engine.github.binding).
    current = forge.own_statuses(results.head_sha) if written.action == "unchanged" else {}
    for context, status in results.statuses.items():
        if current.get(context) != (status.state, clip_description(status.description)):
            forge.set_status(results.head_sha, context, status.state, status.description)


def on_workflow_run(ctx: Context, event: WorkflowRunEvent) -> Outcome:
    """Publish the bundle a pull-request run uploaded, treating it as untrusted data."""
    from engine.github.bundle import read_bundle

    run = event.workflow_run
    if event.action != "completed":  # the trigger filter says so too; a bundle is final only now
        return Outcome(f"workflow_run {event.action}: nothing to publish until it completes")
    if ctx.bundle is None:
        raise UserError("workflow_run needs the downloaded report bundle: pass --bundle DIR")
    if run.conclusion == "cancelled":
        return Outcome(f"run {run.id} was cancelled: nothing to publish")
    report, results = read_bundle(ctx.bundle)
    if results.head_sha != run.head_sha:
        raise UserError(
            f"the bundle is for {results.head_sha[:12]} but run {run.id} built "
            f"{run.head_sha[:12]}: refusing to publish it"
        )
    if ctx.repository and results.repository != ctx.repository:
        raise UserError(f"the bundle names {results.repository}, not {ctx.repository}")
    forge = ctx.forge()
    candidates = [p.number for p in run.pull_requests] or forge.pulls_for_sha(run.head_sha)
    if results.pr not in candidates:
        raise UserError(
            f"the bundle names PR #{results.pr}, but commit {run.head_sha[:12]} "
            f"heads {', '.join(f'#{n}' for n in candidates) or 'no open PR'}"
        )
    now = forge.pull_request(results.pr)
    if now.head_sha != run.head_sha:
        return Outcome(
            f"PR #{results.pr} moved on to {now.head_sha[:12]}: not publishing the "
            f"report of {run.head_sha[:12]}"
        )
    report, results = _publishable(ctx, event, report, results)
    publish(forge, report, results, comment_count=now.comments)
    return Outcome(
        f"published the report of PR #{results.pr} ({results.verdict})",
        outputs={"verdict": results.verdict, "pr": results.pr},
    )


def _publishable(
    ctx: Context, event: WorkflowRunEvent, report: str, results: Results
) -> tuple[str, Results]:
    """The bundle's comment and statuses, neutralized: the pull request's code wrote them.

    A run whose head repository is unknown counts as a fork's (fail closed).
    """
    from engine.github.untrusted import publishable

    run = event.workflow_run
    head = run.head_repository.full_name if run.head_repository else None
    server = ctx.env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    return publishable(
        report,
        results,
        fork=head != event.repository.full_name,
        run_succeeded=run.conclusion == "success",
        links_under=f"{server}/{results.repository}/actions/runs/",
        workflow=run.name,
    )


# --- pushes, comments, dispatches -------------------------------------------------------


def on_push(ctx: Context, event: PushEvent) -> Outcome:
    """A push to the default branch trains and stores the versions now on it."""
    from engine import api

    if event.is_deletion or event.branch is None:
        return Outcome(f"push to {event.ref}: a deletion or a tag, nothing to do")
    defs, _ = api.read_definitions(ctx.root)
    if event.branch != defs.settings.default_branch:
        envs = {e.branch for e in defs.settings.environments.values()}
        if event.branch in envs:
            return _deploy(ctx, event.ref, "")
        return Outcome(f"push to {event.branch}: not the default branch, nothing to do")
    with ctx.runtime.group("train the versions on the default branch"):
        result = api.train(ctx.root)  # one training per CPU at a time
    for outcome in result.outcomes:
        ctx.runtime.log(
            f"{outcome.status} {outcome.model}", version=outcome.version, reason=outcome.reason
        )
    return Outcome(
        result.summary(),
        1 if result.failed else 0,
        {"trained": sum(o.status == "trained" for o in result.outcomes)},
    )


def on_issue_comment(ctx: Context, event: IssueCommentEvent) -> Outcome:
    """Slash commands in pull-request comments."""
    from engine.github.chatops import on_comment

    return on_comment(ctx, event)


def on_dispatch(ctx: Context, name: str, event: DispatchEvent) -> Outcome:
    """``workflow_dispatch`` of the deploy workflow (it names an environment) deploys it.

    Other dispatches and ``schedule`` run the monitor (:mod:`engine.github.watch`).
    """
    requested = event.inputs.get("environment")
    if name == "workflow_dispatch" and requested is not None:
        ref = ctx.env.get("GITHUB_REF") or event.ref
        return _deploy(ctx, ref, str(requested))
    from engine.github.watch import on_schedule

    return on_schedule(ctx, name, event)


def _deploy(ctx: Context, ref: str, requested: str) -> Outcome:
    """Deploy the environment whose branch ``ref`` is; an input that differs is refused."""
    from engine.environments.deploy import environment_for_ref, recorded_deploy
    from engine.environments.operations import trusted_project

    env_name = environment_for_ref(trusted_project(ctx.root), ref, requested)
    try:
        forge: Forge | None = ctx.forge()
    except UserError as exc:  # no token: deploy anyway, the record is a report
        ctx.runtime.log(f"not recording the deployment: {exc}")
        forge = None
    with ctx.runtime.group(f"deploy {env_name}"):
        result, notes = recorded_deploy(ctx.root, env_name, forge, log_url=ctx.run_url)
    summary = "\n".join([result.summary(), *notes])
    return Outcome(summary, 0 if result.ok else 1, {"environment": env_name})
