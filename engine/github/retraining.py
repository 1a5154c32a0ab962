"""Retraining pull requests: the scheduled monitor's answer to data drift, when asked for.

For each (model, environment) whose data drifted, in an environment whose policy says
``retrain_on_drift: true``: if the bot already has an open pull request for it (found by
the hidden marker ``<!-- mlops:retrain:MODEL:ENV -->`` and the bot's login), leave it;
else build the commit (:func:`engine.monitoring.retrain.prepare`), push its branch
(:func:`~engine.monitoring.retrain.publish`) and open the pull request, unless the bot's
pull request of that very branch (the same rows on the same data) was closed without
merging: people declined those rows, and the branch is not pushed again (the same rows
come back only beside other rows, or on other data). The body says why: the drift
summary, the rows added, the drift issue and the run. Anything that stops a proposal
(unlabelled rows, a dataset that is not a DVC-tracked CSV, rows that would fail the
dataset's checks) is a ``skipped`` line with the reason, never a failed monitor run.

The body is data-derived text in part (feature names), so it is neutralized as the drift
issue's is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import UserError
from engine.forge import clip_comment

if TYPE_CHECKING:
    from engine.environments.pins import Pin
    from engine.forge import Forge
    from engine.monitoring.monitor import Current
    from engine.monitoring.outcome import Outcome
    from engine.monitoring.retrain import Prepared


@dataclass(frozen=True)
class Proposal:
    """What one retraining proposal did: ``created``, ``unchanged`` (one is open) or
    ``skipped`` (``reason`` says why)."""

    model: str
    environment: str
    action: str
    number: int | None = None
    url: str | None = None
    branch: str | None = None
    reason: str = ""

    def line(self) -> str:
        """One line for the job log."""
        head = f"{self.model} in {self.environment}: retraining pull request"
        if self.action == "skipped":
            return f"{head} skipped: {self.reason}"
        return f"{head} {self.action} #{self.number} ({self.branch or 'open'})"


def wants_retraining(outcome: Outcome) -> bool:
    """Data drift (the share of drifted features passed its threshold) asks for new data."""
    return bool(outcome.data.drifted)


def propose(
    root: Path,
    forge: Forge,
    outcome: Outcome,
    pin: Pin,
    current: Current,
    default_branch: str,
    *,
    issue: int | None = None,
    run_url: str | None = None,
) -> Proposal:
    """Open the retraining pull request of ``outcome``, unless one is open already."""
    from engine.monitoring.retrain import marker, prepare, publish

    tag = marker(outcome.model, outcome.environment)
    existing = forge.find_pull_request(tag)
    if existing is not None:
        return Proposal(
            outcome.model, outcome.environment, "unchanged", existing.number, existing.url
        )
    try:
        prepared = prepare(root, pin, current, default_branch)
        declined = forge.declined_pull_request(prepared.branch)
        if declined is not None:
            return Proposal(
                outcome.model, outcome.environment, "skipped", declined.number, declined.url,
                prepared.branch,
                reason=f"#{declined.number} proposed these very rows and was closed without "
                "merging; they are proposed again only with other rows",
            )  # fmt: skip
        prepared = publish(root, prepared)
    except UserError as exc:
        return Proposal(outcome.model, outcome.environment, "skipped", reason=str(exc))
    ref = forge.open_pull_request(
        title(prepared), body(prepared, outcome, issue, run_url), prepared.branch,
        prepared.base, tag,
    )  # fmt: skip
    return Proposal(
        outcome.model, outcome.environment, ref.action, ref.number, ref.url, prepared.branch
    )


def title(prepared: Prepared) -> str:
    """Names only (from the definitions), never data."""
    return (
        f"mlops: retrain {prepared.model} on {prepared.appended.added} monitored rows "
        f"(drift in {prepared.environment})"
    )


def body(
    prepared: Prepared, outcome: Outcome, issue: int | None = None, run_url: str | None = None
) -> str:
    """Why this pull request exists, what it changes, and what happens next."""
    from engine.github.untrusted import neutralize

    drift = outcome.data
    drifted = drift.drifted_features
    rows = "\n".join(
        f"| `{f.name}` | {f.method} | {f.score:.3g} | {f.threshold:.3g} |" for f in drifted[:10]
    )
    more = f"\n…and {len(drifted) - 10} more.\n" if len(drifted) > 10 else ""
    why = [f"drift issue #{issue}"] if issue else []
    if run_url:
        why.append(f"[monitor run]({run_url})")
    links = f" ({', '.join(why)})" if why else ""
    a = prepared.appended
    # Feature names come from the data: neutralized (no mention, link or HTML survives).
    table = (
        neutralize("| feature | method | score | threshold |\n| --- | --- | --- | --- |\n" + rows)
        + more
        if drifted
        else ""
    )
    text = (
        f"**Why**: the scheduled monitor found data drift in **{outcome.model}@"
        f"{outcome.version[:12]}** in **{outcome.environment}**{links}: "
        f"{len(drifted)} of {len(drift.features)} features drifted on "
        f"{outcome.current_rows:,} current rows, and the environment's policy says "
        "`retrain_on_drift: true`.\n\n"
        f"{table}\n\n"
        f"**What**: {a.added:,} labelled row(s) of the monitored data appended to "
        f"`{a.path}` (dataset `{prepared.dataset}`: {a.before:,} → {a.before + a.added:,} "
        f"rows), a new DVC-tracked version (md5 `{a.md5}`, pushed to the DVC remote; "
        f"`{a.pointer}` is the only file changed). Unlabelled rows were left out"
        + (f", and {a.known:,} row(s) the data has already (same id or content)" if a.known else "")
        + ".\n\n"
        "**Next**: the pull-request workflow trains the models that use this dataset and "
        "reports against the base branch and each environment as for any change (a pull "
        "request opened with the workflow's `GITHUB_TOKEN` starts no workflow: close and "
        "reopen it to start the review). Review "
        "the rows, merge if they belong in the training data, then `/promote`. While this "
        "pull request is open the monitor opens no other for "
        f"{outcome.model} in {outcome.environment}; closing it unmerged declines these rows (they "
        "are proposed again only with other labelled rows, or on a new version of the "
        "data).\n"
    )
    return clip_comment(text)


__all__ = ["Proposal", "body", "propose", "title", "wants_retraining"]
