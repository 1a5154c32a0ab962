"""The scheduled monitor: ``mlops event`` on ``schedule`` and ``workflow_dispatch``.

For every environment that says where its current data is (``monitoring:`` in
``mlops/project.yaml``; a dispatch may name ``environments`` and ``models``), monitor
every pinned model, write the reports to the job summary, and keep the drift issues in
step (:mod:`engine.github.alerts`).

The project file is read from the checkout of the default branch (``trusted_project``);
the pins from the environment branches, as data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import UserError
from engine.github.context import Context, Outcome, push_credentials

if TYPE_CHECKING:
    from engine.definitions.formats import Project, Watch
    from engine.environments.pins import Pin
    from engine.github.events import DispatchEvent
    from engine.monitoring.monitor import Current
    from engine.monitoring.outcome import Outcome as MonitorOutcome


def on_schedule(ctx: Context, name: str, event: DispatchEvent) -> Outcome:
    """Monitor, publish the reports, raise or clear the alarms, propose retraining.

    On Actions the work is split by privilege (``monitor.yml``): the ``monitor`` job
    (``issues: write``) keeps the drift issues and names, in its ``retrain`` output, the
    drifted (environment, model) pairs whose environment says ``retrain_on_drift``; only
    then does the ``retrain`` job run (``contents: write``, ``pull-requests: write``, with
    ``MLOPS_RETRAIN`` set to that output), monitor those pairs again and open the pull
    requests. Off Actions one run does both.
    """
    from engine.environments.operations import trusted_project
    from engine.environments.pins import read_pins
    from engine.github.retraining import wants_retraining
    from engine.monitoring.monitor import NoPredictions, monitor

    _check_project(ctx.root)
    project = trusted_project(ctx.root)
    wanted_envs = _names(event.inputs.get("environments"))
    wanted_models = _names(event.inputs.get("models"))
    for env_name in wanted_envs:
        if env_name not in project.environments:
            raise UserError(f"the dispatch names environment {env_name!r}, which is not defined")
    retrain_job = ctx.env.get("MLOPS_MONITOR_JOB") == "retrain"
    asked = _retrain_list(ctx.env.get("MLOPS_RETRAIN", "")) if retrain_job else {}
    lines: list[str] = []
    alarms = 0
    candidates: dict[str, int | None] = {}
    for env_name, env in sorted(project.environments.items()):
        if wanted_envs and env_name not in wanted_envs:
            continue
        if retrain_job and not any(k.startswith(f"{env_name}/") for k in asked):
            continue
        if env.monitoring is None:
            lines.append(f"{env_name}: no `monitoring:` source in mlops/project.yaml, skipped")
            continue
        pins = read_pins(ctx.root, env.branch) or {}
        if not retrain_job:
            _close_retired(ctx, env_name, env.branch, pins, wanted_models, lines)
        models = [m for m in sorted(pins) if not wanted_models or m in wanted_models]
        if retrain_job:
            models = [m for m in models if f"{env_name}/{m}" in asked]
        if not models:
            lines.append(f"{env_name}: nothing deployed to monitor")
            continue
        current = current_of(ctx.root, env.monitoring)
        try:
            with ctx.runtime.group(f"monitor {env_name}"):
                outcomes = monitor(ctx.root, env_name, current, models)
        except NoPredictions as exc:  # a quiet window: nothing to judge, no alarm to change
            lines.append(f"{env_name}: {exc}; nothing judged, its issues are left as they are")
            continue
        outcomes = _judged(outcomes, current, lines)
        issues: dict[str, int | None] = {}
        if not retrain_job:
            issues = _alerts(ctx, outcomes, lines)
            alarms += sum(o.alarming for o in outcomes)
        if not env.retrain_on_drift:
            continue
        drifted = [o for o in outcomes if wants_retraining(o)]
        if ctx.runtime.on_actions and not retrain_job:
            candidates.update({f"{env_name}/{o.model}": issues.get(o.model) for o in drifted})
            continue
        if drifted:
            push_credentials(ctx)
        for o in drifted:
            issue = asked.get(f"{env_name}/{o.model}") if retrain_job else issues.get(o.model)
            lines.append(_retrain(ctx, project, o, pins[o.model], current, issue))
    for line in lines:
        ctx.runtime.log(line)
    outputs: dict[str, object] = {"alarms": alarms}
    if ctx.runtime.on_actions and not retrain_job:
        outputs["retrain"] = json.dumps(candidates, sort_keys=True) if candidates else ""
    return Outcome(f"{name}: {alarms} alarm(s)", 0, outputs)


def _close_retired(
    ctx: Context,
    env_name: str,
    branch: str,
    pins: dict[str, Pin],
    wanted: list[str],
    lines: list[str],
) -> None:
    """Close the drift issues of the models once pinned on ``branch`` and pinned no more."""
    from engine import audit
    from engine.environments.promote import retired_models
    from engine.github.alerts import close_retired

    if ctx.runtime.on_actions and not ctx.env.get("GITHUB_TOKEN"):
        return
    gone = [m for m in retired_models(ctx.root, branch) - set(pins) if not wanted or m in wanted]
    if not gone:
        return
    for alert in close_retired(ctx.forge(), sorted(gone), env_name):
        audit.record(
            ctx.root, "alert", model=alert.model, environment=env_name, outcome="issue closed"
        )
        lines.append(f"{alert.model} in {env_name}: retired; issue closed #{alert.number}")


def _judged(
    outcomes: list[MonitorOutcome], current: Current, lines: list[str]
) -> list[MonitorOutcome]:
    """The outcomes with something to judge: from logs, a model no request reached in the
    window is not a data-quality alarm (nor its recovery) but a line in the log."""
    if not current.logs:
        return outcomes
    quiet = [o for o in outcomes if not o.current_rows and not (o.health and o.health.requests)]
    for o in quiet:  # (requests that all failed are no quiet window: they are judged)
        lines.append(
            f"{o.model} in {o.environment}: no requests in the logs' window; nothing "
            "judged, its issue is left as it is"
        )
    return [o for o in outcomes if all(o is not q for q in quiet)]


def _alerts(
    ctx: Context, outcomes: list[MonitorOutcome], lines: list[str]
) -> dict[str, int | None]:
    """Write the reports to the summary, keep the drift issues; ``{model: issue number}``."""
    from engine import audit
    from engine.github.alerts import raise_alerts
    from engine.github.untrusted import neutralize
    from engine.monitoring import report

    reports = [report.markdown([o]) for o in outcomes]
    # GitHub renders the summary as it renders the issue: values and column names from the
    # monitored data (what clients sent) must not mention, link or embed there either
    runs = ctx.run_url.rsplit("/", 1)[0] + "/" if ctx.run_url else ""
    ctx.runtime.summary(neutralize("\n\n".join(reports), links_under=runs))
    numbers: dict[str, int | None] = {}
    if ctx.env.get("GITHUB_TOKEN") or not ctx.runtime.on_actions:
        for alert in raise_alerts(ctx.forge(), outcomes, reports, ctx.run_url):
            audit.record(
                ctx.root,
                "alert",
                model=alert.model,
                environment=alert.environment,
                version=next(o.version for o in outcomes if o.model == alert.model),
                outcome=f"issue {alert.action}",
            )
            lines.append(
                f"{alert.model} in {alert.environment}: {alert.status}; issue {alert.action}"
                + (f" #{alert.number}" if alert.number else "")
            )
            numbers[alert.model] = alert.number
    return numbers


def _retrain(
    ctx: Context,
    project: Project,
    outcome: MonitorOutcome,
    pin: Pin,
    current: Current,
    issue: int | None,
) -> str:
    """Propose the retraining pull request of one drifted model; its line for the log."""
    from engine import audit
    from engine.github.retraining import propose

    with audit.action(
        ctx.root,
        "retrain",
        model=outcome.model,
        version=outcome.version,
        environment=outcome.environment,
        commit=pin.source_commit,
    ) as entry:
        proposal = propose(
            ctx.root, ctx.forge(), outcome, pin, current, project.default_branch,
            issue=issue, run_url=ctx.run_url,
        )  # fmt: skip
        entry.outcome = f"pull request {proposal.action}"
    return proposal.line()


def _retrain_list(value: str) -> dict[str, int | None]:
    """``MLOPS_RETRAIN`` (the monitor job's ``retrain`` output): ``{"ENV/MODEL": issue}``."""
    try:
        data = json.loads(value) if value.strip() else {}
    except ValueError:
        data = None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, int)) for k, v in data.items()
    ):
        raise UserError(
            "MLOPS_RETRAIN must be the monitor job's `retrain` output, a JSON object "
            '{"ENV/MODEL": issue number}: pass `${{ needs.monitor.outputs.retrain }}`'
        )
    return data


def _check_project(root: Path) -> None:
    """A project file with errors stops the monitor (its settings would read as empty)."""
    from engine.training.planning import read_definitions

    defs, _ = read_definitions(root)
    bad = [p for p in defs.problems if p.severity == "error" and p.path.endswith("project.yaml")]
    if bad:
        raise UserError(
            "the project file has errors, so the monitor cannot tell what to watch:\n"
            + "\n".join(p.render() for p in bad)
        )


def current_of(root: Path, watch: Watch) -> Current:
    """The :class:`Current` a ``monitoring:`` setting names, checked to stay in the repo."""
    from engine.monitoring.logs import parse_since
    from engine.monitoring.monitor import Current, now

    def inside(value: str | None) -> Path | None:
        if value is None:
            return None
        path = (root / value).resolve()
        if not path.is_relative_to(root.resolve()):
            raise UserError(
                f"mlops/project.yaml: monitoring path {value!r} leads outside the "
                "repository (a symbolic link?): point it at a file or folder inside it"
            )
        if not path.exists():
            raise UserError(
                f"mlops/project.yaml: monitoring path {value!r} does not exist in the "
                "checkout: sync the logs (or `dvc pull` them) before the monitor runs"
            )
        return path

    logs = inside(watch.logs)
    return Current(
        batch=inside(watch.current),
        logs=(logs,) if logs is not None else (),
        labels=inside(watch.labels),
        since=parse_since(watch.since, now()) if logs is not None else None,
    )


def _names(value: object) -> list[str]:
    """A dispatch input as a list: ``"a b,c"`` → ``["a", "b", "c"]``."""
    if value is None:
        return []
    return [x for x in str(value).replace(",", " ").split() if x]
