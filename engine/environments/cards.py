"""``mlops card MODEL[@VERSION]``: a version's model card with where it runs and how it got there.

The stored ``card.md`` (``engine.training.runs.model_card``) is written once, at training
time; promotions happen later, on environment branches. This module joins the two: the
record from the store, then for each environment whether the version is live there,
and every promotion or rollback that pinned it (who, when, from which PR and commit).
``render`` is pure; ``card`` does the reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import UserError, unknown_model

if TYPE_CHECKING:
    from engine.environments.pins import Pin
    from engine.training.runs import VersionRecord


@dataclass(frozen=True)
class Pinning:
    """One time the version was pinned in an environment (a promote or a rollback)."""

    environment: str
    pin: Pin
    commit: str
    when: str
    live: bool
    """True for the environment's current pin."""


def render(record: VersionRecord, pinnings: Sequence[Pinning], monitoring: str = "") -> str:
    """The markdown card: the stored card, then the environments, then monitoring."""
    from engine.training.runs import model_card

    lines = [model_card(record).rstrip("\n"), "", "## Environments", ""]
    live = sorted({p.environment for p in pinnings if p.live})
    lines.append(
        f"Live in {', '.join(f'`{env}`' for env in live)}." if live else "Not live anywhere."
    )
    if pinnings:
        lines += [
            "",
            "| environment | action | by | when | PR | pin commit |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for p in pinnings:
            pr = f"#{p.pin.pr}" if p.pin.pr else "—"
            by = f"@{p.pin.promoted_by}" if p.pin.promoted_by else "—"
            sha = p.commit[:12]
            lines.append(
                f"| `{p.environment}` | {p.pin.action} | {by} | {p.when} | {pr} | `{sha}` |"
            )
    lines += [
        "",
        "## Monitoring",
        "",
        monitoring
        or "No monitoring status recorded yet: `mlops monitor MODEL --env ENV` reports drift "
        "and live quality (docs/monitoring.md).",
        "",
    ]
    return "\n".join(lines)


def to_html(markdown: str) -> str:
    """The card as a standalone HTML page (markdown-it, which rich already depends on)."""
    from html import escape

    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    title = escape(markdown.splitlines()[0].lstrip("# ")) if markdown else "model card"
    return (
        f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>\n'
        f"<body>\n{body}</body></html>\n"
    )


def card(root: Path, ref: str) -> str:
    """The card of ``model@version`` (a version prefix), or of the newest version of ``model``."""
    from engine.environments.operations import live_versions, open_store, trusted_definitions
    from engine.environments.promote import pin_history

    model, _, version = ref.partition("@")
    defs = trusted_definitions(root)
    project = defs.settings
    store = open_store(root, project)
    if version:
        record = store.get_record(model, store.resolve(model, version))
    else:
        records = store.versions(model)
        if not records and model not in defs.models:
            raise unknown_model(model, defs.models)  # a removed model keeps its versions
        if not records:
            raise UserError(
                f"no stored version of {model!r} in {store.url}: "
                f"run `mlops train {model}` (or `mlops runs` to list what is stored)"
            )
        record = records[0]
    live = live_versions(root, project)
    pinnings: list[Pinning] = []
    for env_name, env in project.environments.items():
        current = live.get(env_name, {}).get(model)
        for event in pin_history(root, env.branch, model):
            if event.pin.fingerprint == record.fingerprint:
                is_live = current is not None and current.fingerprint == record.fingerprint
                newest = not pinnings or pinnings[-1].environment != env_name
                pinnings.append(
                    Pinning(env_name, event.pin, event.commit, event.when, is_live and newest)
                )
    return render(record, pinnings)
