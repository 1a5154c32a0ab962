"""``mlops status`` as a table: what each environment runs, every version that serves.

Pure: the pins and the primary metric of each model in, Markdown out. A direct pin is one
row with all the traffic. A canary is two rows, the stable version and the canary with
their shares. A blue-green pin is two rows when both slots hold a version: the live slot
(all the traffic) and the idle slot with its role, ``staged`` (waiting for the switch)
or ``previous`` (kept warm for an instant rollback).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.environments.pins import Pin

HEADER = (
    "| Environment | Model | Version | Traffic | Primary metric | Promoted by | When | PR |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- |"
)


def status_markdown(
    environments: Sequence[str],
    pins: Mapping[str, Mapping[str, Pin]],
    primary: Mapping[str, str],
    defined: Collection[str] | None = None,
    default_branch: str = "main",
) -> str:
    """The table: ``environments`` in order, their pins by model name.

    ``primary``: each model's primary metric (a model no longer defined has none).
    ``defined``: the models the default branch defines; when given, a note under the table
    says how to stop serving each pinned model it no longer defines.
    """
    rows = [HEADER]
    for env_name in environments:
        env_pins = pins.get(env_name, {})
        if not env_pins:
            rows.append(f"| `{env_name}` | — | nothing deployed | | | | | |")
        for model, pin in sorted(env_pins.items()):
            for version, traffic, side in serving_sides(pin):
                rows.append(_row(env_name, model, version, traffic, side, primary.get(model, "")))
    if defined is not None:
        rows += _undefined_notes(environments, pins, defined, default_branch)
    return "\n".join(rows)


def _undefined_notes(
    environments: Sequence[str],
    pins: Mapping[str, Mapping[str, Pin]],
    defined: Collection[str],
    default_branch: str,
) -> list[str]:
    """A line per pinned model ``defined`` lacks: it keeps serving until it is retired."""
    notes = []
    for env_name in environments:
        for model in sorted(set(pins.get(env_name, {})) - set(defined)):
            notes.append(
                f"🗑️ `{model}` is no longer defined on `{default_branch}`, yet `{env_name}` "
                f"still serves it: `/retire {model} {env_name}` (or `mlops retire {model} "
                f"--env {env_name}`) stops it there."
            )
    return ["", *notes] if notes else []


def status_rows(
    environments: Sequence[str],
    pins: Mapping[str, Mapping[str, Pin]],
    primary: Mapping[str, str],
) -> list[dict[str, Any]]:
    """The table's rows as data (``mlops status --json``): one per version that serves,
    with its traffic percent and role; an environment with nothing deployed has none."""
    rows = []
    for env_name in environments:
        for model, pin in sorted(pins.get(env_name, {}).items()):
            for version, traffic, side in serving_sides(pin):
                metric = primary.get(model, "")
                value = side.metrics.get(metric) if metric else None
                share = int(traffic.split("%")[0])
                rows.append(
                    {
                        "environment": env_name,
                        "model": model,
                        "version": version,
                        "fingerprint": side.fingerprint,
                        "traffic_percent": share,
                        "role": _role(pin, side),
                        "slot": getattr(side, "slot", None),
                        "primary_metric": metric or None,
                        "value": value if isinstance(value, float) else None,
                        "promoted_by": side.promoted_by or None,
                        "promoted_at": side.promoted_at or None,
                        "pr": side.pr,
                    }
                )
    return rows


def _role(pin: Pin, side: Any) -> str:
    """``direct``, ``stable`` or ``canary``, or a blue-green slot's ``live``, ``staged`` or
    ``previous``."""
    if pin.canary is not None:
        return "stable" if side is pin else "canary"
    if pin.slot is not None:
        return "live" if side is pin else str(side.role)
    return "direct"


def serving_sides(pin: Pin) -> list[tuple[str, str, Any]]:
    """``(version, traffic, side)`` for each version the pin loads, the one with traffic first.

    ``side``: the pin, its canary or its idle slot (each has metrics, who, when and PR).
    """
    if pin.canary is not None:
        share = pin.canary.percent
        return [
            (pin.version, f"{100 - share}% (stable)", pin),
            (pin.canary.version, f"{share}% (canary)", pin.canary),
        ]
    if pin.slot is not None:
        sides: list[tuple[str, str, Any]] = [(pin.version, f"100% ({pin.slot}, live)", pin)]
        if pin.idle is not None:
            idle = pin.idle
            sides.append((idle.version, f"0% ({idle.slot}, idle: {idle.role})", idle))
        return sides
    return [(pin.version, "100%", pin)]


def _row(env_name: str, model: str, version: str, traffic: str, side: Any, primary: str) -> str:
    value = side.metrics.get(primary) if primary else None
    metric = f"{primary} {value:.4f}" if isinstance(value, float) else "—"
    pr = f"#{side.pr}" if side.pr else "—"
    who = f"@{side.promoted_by}" if side.promoted_by else "—"
    return (
        f"| `{env_name}` | `{model}` | `{version}` | {traffic} | {metric} | "
        f"{who} | {side.promoted_at or '—'} | {pr} |"
    )


__all__ = ["HEADER", "serving_sides", "status_markdown", "status_rows"]
