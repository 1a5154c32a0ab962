"""Drift alarms on the forge: one issue per (model, environment), kept in step with the data.

The scheduled monitor (``mlops event`` on ``schedule`` / ``workflow_dispatch``, see
``.github/workflows/monitor.yml``) monitors every pinned model of every environment that
says where its current data is (``monitoring:`` in ``mlops/project.yaml``), then for each
(model, environment):

- drift (any status but ``ok``): open the issue labelled ``mlops:drift`` with the report,
  or update the one already open (found by label, the hidden marker
  ``<!-- mlops:drift:MODEL:ENV -->`` and the bot's login, as sticky comments are found);
- ``ok``: close that issue, if one is open, with a note saying the drift cleared.

The report is data-derived text: column names and category values come from the
monitored data, which anyone who can send a request to the service controls. It is
neutralized (:func:`engine.github.untrusted.neutralize`: no mention, reference, HTML,
link or image survives) and capped to GitHub's limit before it goes anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.forge import clip_comment

if TYPE_CHECKING:
    from engine.forge import Forge, IssueRef
    from engine.monitoring.outcome import Outcome

LABEL = "mlops:drift"


@dataclass(frozen=True)
class Alert:
    """What one (model, environment) alarm did: ``created``/``updated``/``unchanged``/
    ``closed``, or ``none`` (no drift and no open issue)."""

    model: str
    environment: str
    status: str
    action: str
    number: int | None = None
    url: str | None = None


def marker(model: str, environment: str) -> str:
    """The hidden marker of the one issue per (model, environment)."""
    return f"drift:{model}:{environment}"


def title(outcome: Outcome) -> str:
    """The issue's title: names only (from the definitions, not the data)."""
    return f"mlops: {outcome.status} in {outcome.model} ({outcome.environment})"


def body(outcome: Outcome, report: str, run_url: str | None = None) -> str:
    """The issue's body: a header the engine writes, then the neutralized report."""
    from engine.github.untrusted import neutralize

    where = f" ([run]({run_url}))" if run_url else ""
    head = (
        f"**{outcome.model}@{outcome.version[:12]}** in **{outcome.environment}**: "
        f"`{outcome.status}` on {outcome.current_rows:,} current rows{where}.\n"
        "This issue is updated while the drift lasts and closed when a run finds none.\n"
    )
    links = run_url.rsplit("/", 1)[0] + "/" if run_url else ""
    text = head + "\n" + neutralize(report, links_under=links)
    return clip_comment(text)


def cleared(outcome: Outcome, run_url: str | None = None) -> str:
    """The note left on the issue when a run finds the data back to normal."""
    where = f" ([run]({run_url}))" if run_url else ""
    return (
        f"✅ No drift in {outcome.model}@{outcome.version[:12]} ({outcome.environment}) "
        f"on {outcome.current_rows:,} current rows{where}: closing."
    )


def close_retired(forge: Forge, models: Sequence[str], environment: str) -> list[Alert]:
    """Close the open drift issue of each model retired from ``environment`` (no run
    monitors it again, so nothing else would); a model without one is left out."""
    alerts = []
    for model in models:
        note = (
            f"{model} was retired from {environment}: it is no longer served there, so "
            "nothing is left to monitor; closing."
        )
        ref = forge.close_issue(marker(model, environment), note, labels=[LABEL])
        if ref is not None:
            alerts.append(Alert(model, environment, "retired", ref.action, ref.number, ref.url))
    return alerts


def raise_alerts(
    forge: Forge,
    outcomes: Sequence[Outcome],
    reports: Sequence[str],
    run_url: str | None = None,
) -> list[Alert]:
    """Open, update or close the issue of each outcome (``reports[i]`` is its markdown)."""
    alerts = []
    for outcome, report in zip(outcomes, reports, strict=True):
        tag = marker(outcome.model, outcome.environment)
        ref: IssueRef | None
        if outcome.alarming:
            text = body(outcome, report, run_url)
            ref = forge.open_or_update_issue(title(outcome), text, tag, labels=[LABEL])
        else:
            ref = forge.close_issue(tag, cleared(outcome, run_url), labels=[LABEL])
        alerts.append(
            Alert(
                outcome.model,
                outcome.environment,
                outcome.status,
                ref.action if ref else "none",
                ref.number if ref else None,
                ref.url if ref else None,
            )
        )
    return alerts
