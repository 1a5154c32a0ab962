"""The scheduled monitor: ``mlops event`` on ``schedule`` and ``workflow_dispatch``.

For every environment that says where its current data is (``monitoring:`` in
``mlops/project.yaml``; a dispatch may name ``environments`` and ``models``), monitor
every pinned model, write the reports to the job summary, and keep the drift issues in
step (:mod:`engine.github.alerts`).

The project file is read from the checkout of the default branch (``trusted_project``);
the pins from the environment branches, as data.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import UserError
from engine.github.context import Context, Outcome

if TYPE_CHECKING:
    from engine.definitions.formats import Watch
    from engine.github.events import DispatchEvent
    from engine.monitoring.monitor import Current


def on_schedule(ctx: Context, name: str, event: DispatchEvent) -> Outcome:
    """Monitor, publish the reports, raise or clear the alarms."""
    from engine import audit
    from engine.environments.operations import trusted_project
    from engine.environments.pins import read_pins
    from engine.github.alerts import raise_alerts
    from engine.monitoring import report
    from engine.monitoring.monitor import monitor

    _check_project(ctx.root)
    project = trusted_project(ctx.root)
    wanted_envs = _names(event.inputs.get("environments"))
    wanted_models = _names(event.inputs.get("models"))
    for env_name in wanted_envs:
        if env_name not in project.environments:
            raise UserError(f"the dispatch names environment {env_name!r}, which is not defined")
    lines: list[str] = []
    alarms = 0
    for env_name, env in sorted(project.environments.items()):
        if wanted_envs and env_name not in wanted_envs:
            continue
        if env.monitoring is None:
            lines.append(f"{env_name}: no `monitoring:` source in mlops/project.yaml, skipped")
            continue
        pins = read_pins(ctx.root, env.branch) or {}
        models = [m for m in sorted(pins) if not wanted_models or m in wanted_models]
        if not models:
            lines.append(f"{env_name}: nothing deployed to monitor")
            continue
        with ctx.runtime.group(f"monitor {env_name}"):
            outcomes = monitor(ctx.root, env_name, current_of(ctx.root, env.monitoring), models)
        reports = [report.markdown([o]) for o in outcomes]
        ctx.runtime.summary("\n\n".join(reports))
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
        alarms += sum(o.alarming for o in outcomes)
    for line in lines:
        ctx.runtime.log(line)
    return Outcome(f"{name}: {alarms} alarm(s)", 0, {"alarms": alarms})


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
