"""Terminal text for the CLI: plans, training outcomes, runs tables. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.api import Training
    from engine.training.plan import Plan
    from engine.training.train import Outcome

_MARK = {"changed": "~", "new": "+", "removed": "-", "invalid": "!", "unchanged": " "}


def plan_text(plan: Plan) -> str:
    """The plan as lines: one per affected model with its reasons, then a summary."""
    lines: list[str] = []
    for m in plan.models:
        if m.status == "unchanged":
            continue
        versions = f"{m.base_version or '-'} → {m.head_version or '-'}"
        lines.append(f"{_MARK.get(m.status, '?')} {m.name} ({m.status}) {versions}")
        lines += [f"    {r.render()}" for r in m.reasons]
        lines += [f"    {p.render()}" for p in m.problems]
    lines += [p.render() for p in plan.problems]
    affected = len(plan.to_train)
    unchanged = sum(m.status == "unchanged" for m in plan.models)
    lines.append(
        f"{affected} model(s) to train, {unchanged} unchanged"
        if affected
        else f"nothing to train: {unchanged} model(s) unchanged"
    )
    return "\n".join(lines)


def _metrics(metrics: dict[str, float | None], limit: int = 4) -> str:
    shown = [(k, v) for k, v in metrics.items() if not k.startswith("cv_")][:limit]
    return " ".join(f"{k}={'n/a' if v is None else f'{v:.4f}'}" for k, v in shown)


def outcome_line(outcome: Outcome) -> str:
    """One line per model: status, version, headline metrics or the reason it failed."""
    # a model that failed before it could be fingerprinted has no version to show
    name = f"{outcome.model}@{outcome.version}" if outcome.version else outcome.model
    head = f"{outcome.status:>7}  {name}"
    if outcome.status == "failed":
        return f"{head}  {outcome.reason}"
    timing = f"  ({outcome.seconds:.1f}s)" if outcome.status == "trained" else ""
    return f"{head}  {_metrics(outcome.metrics)}{timing}"


def training_text(result: Training) -> str:
    """Every outcome, then the summary line."""
    return "\n".join([*(outcome_line(o) for o in result.outcomes), result.summary()])


def runs_text(rows: Sequence[dict[str, Any]], limit_columns: int = 12) -> str:
    """A fixed-width table of runs: lineage and every headline metric, then cross-validation
    figures, parameters and timings while the table has fewer than ``limit_columns``
    columns (``--json`` and ``--csv`` have them all).
    """
    if not rows:
        return "no stored versions yet: run `mlops train`"
    columns, cells = runs_cells(rows, limit_columns)
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    out = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in out)


def runs_cells(
    rows: Sequence[dict[str, Any]], limit_columns: int = 12
) -> tuple[list[str], list[list[str]]]:
    """The columns and cells :func:`runs_text` shows (a terminal draws them as a table)."""
    # rows of several models carry different metrics: show the union, in order of appearance
    union = [c for c in dict.fromkeys(key for row in rows for key in row) if c not in _LONG]
    optional = [c for c in union if c.startswith(("params.", "cv_")) or c in _TRAILING]
    room = max(limit_columns - (len(union) - len(optional)), 0)
    dropped = set(optional[room:])
    columns = [c for c in union if c not in dropped]
    return columns, [[_short(c, r.get(c)) for c in columns] for r in rows]


_LONG = {"fingerprint"}  # the version column is its short form
_TRAILING = {"training_seconds", "rows_train", "rows_test"}


def _short(column: str, value: Any) -> str:
    if column == "commit" and isinstance(value, str):
        return value[:12]
    return _cell(value)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
