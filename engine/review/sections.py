"""One model's part of the report: its table row, its summary line and its sections.

The sections appear in this order inside the model's ``<details>``: pairing, metric table
with 95% intervals and McNemar's test, gates, environments, parameters, data summary and
shift, confusion matrix, and a Mermaid chart of the primary metric across versions. Those
named in :data:`Parts.details` may be cut when the report is too long. Pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.data.profile import ColumnProfile, DataProfile
from engine.definitions.names import lower_is_better
from engine.review import markdown as md
from engine.review.compare import Confusion, MetricDiff, ModelComparison, Reproduced, Versus
from engine.review.gates import GateResult, defined
from engine.review.shift import ColumnShift, date_cells

MAX_COLUMNS = 20  # data-shift rows per model; the most shifted first
MAX_CLASSES = 20  # a larger confusion matrix is unreadable in a comment
MAX_POINTS = 20  # versions on the chart

VERDICT = {
    "better": "🟢 better",
    "worse": "🔴 worse",
    "no significant change": "⚪ no significant change",
    "new": "🆕 new",
    "removed": "🗑️ removed",
    "n/a": "❔ n/a",
    "informational": "💬 informational",
}
GATE = {
    "pass": "✅ pass",
    "fail": "❌ fail",
    "not comparable": "⚠️ not comparable",
    "skipped": "⏭️ skipped",
}
MODEL = {"pass": "✅", "fail": "❌", "not comparable": "⚠️", "removed": "🗑️"}


@dataclass(frozen=True)
class Parts:
    """One model's sections, rendered once; ``details`` holds the droppable ones by name."""

    row: str
    summary: str
    body: str
    details: dict[str, str]


def model_parts(c: ModelComparison) -> Parts:
    primary = next((d for d in c.vs_base.metrics if d.metric == c.primary_metric), None)
    versions = f"{md.version(c.base_version)} → {md.version(c.head_version)}"
    if primary is None:
        metric, change = "—", "—"
    else:
        metric = f"{primary.metric} {md.num(primary.base)} → {md.num(primary.head)}"
        change = VERDICT[primary.verdict]
        if primary.delta is not None:
            change = f"{md.num(primary.delta, sign=True)} ({md.pct(primary.delta_pct)}) {change}"
    row = f"| **{c.model}** | {versions} | {metric} | {change} | {_gate_cell(c)} |"
    arrow = f"{md.html_version(c.base_version)} → {md.html_version(c.head_version)}"
    summary = f"{MODEL[c.verdict]} <b>{c.model}</b> · {c.verdict} · {arrow}"
    body = [
        _pairing(c),
        _changes(c),
        _metric_table(c.vs_base, _column(c)),
        _mcnemar(c.vs_base),
        _gate_table(c),
        *(_environment(v, c) for v in c.environments),
        _params(c),
        _trained_with(c),
    ]
    details = {"data": _data(c), "confusion": _confusion(c), "chart": _chart(c)}
    return Parts(row, summary, "\n\n".join(s for s in body if s), details)


def _gate_cell(c: ModelComparison) -> str:
    if c.verdict == "removed":
        return "—"
    failing = [g for g in c.gates if g.status == "fail"]
    if failing:
        named = [
            f"{g.metric} {g.limit}" + (f" vs {g.against}" if g.against else "") for g in failing[:3]
        ]
        more = f" +{len(failing) - 3} more" if len(failing) > 3 else ""
        return f"❌ fail: {md.cell('; '.join(named))}{more}"
    if c.verdict == "not comparable":
        unchecked = [g.message for g in c.gates if g.status == "not comparable"]
        why = unchecked[0] if unchecked else "not paired with base"
        return f"⚠️ {md.cell(why)}"
    return "✅ pass" if c.gates else "✅ pass (no gates)"


def _column(c: ModelComparison) -> str:
    """The reference's column header: Base, or the environment head is compared with."""
    return "Base" if c.reference == "base" else md.cell(c.reference)


def _the_reference(c: ModelComparison) -> str:
    """The reference in a sentence: "the base version", "the version `staging` runs"."""
    return "the base version" if c.reference == "base" else f"the version {_env(c)} runs"


def _env(c: ModelComparison) -> str:
    return md.code(c.reference)


def _pairing(c: ModelComparison) -> str:
    lines = [_reproduced(r) for r in c.reproduced]
    v = c.vs_base
    by_env = c.reference != "base"
    if v.missing:
        lines.append(_missing(v))
    elif c.status == "new" and by_env:
        lines.append(f"🆕 Nothing of this model runs in {_env(c)}: nothing to compare with.")
    elif c.status == "new":
        lines.append("🆕 New model: there is no base version to compare with.")
    elif c.status == "removed":
        lines.append(
            "🗑️ Removed: the model is no longer defined at head. An environment that pins "
            f"it keeps serving it after the merge: `/retire {c.model} ENV` stops it there."
        )
    elif v.identical and by_env:
        lines.append(f"{_env(c)} already runs head's version: nothing to change there.")
    elif v.identical:
        lines.append("Head is the base version itself: nothing changed.")
    elif v.paired:
        resamples = max((d.interval.resamples for d in v.metrics if d.interval), default=0)
        delong = any(d.interval.method == "delong" for d in v.metrics if d.interval)
        lines.append(
            f"Paired comparison on {v.paired_rows:,} test rows"
            + (f", {resamples:,} bootstrap resamples" if resamples else "")
            + ("; ROC AUC's interval is DeLong's." if delong else ".")
        )
        # the pipeline's reason says on which rows (left out, or unknown); else the gist
        how = _sentence(c.reason) if c.reason else ""
        if c.rescored and c.fair:
            how = how or (
                f"The data changed, so {_the_reference(c)} was scored again on the "
                "head's test rows it never trained on"
            )
            lines.append(f"🔁 {how}: the comparison is paired and fair.")
        elif c.rescored:
            who = f"{_env(c)}'s version" if by_env else "the base"
            how = how or (
                f"The data changed, so {_the_reference(c)} was scored again on head's "
                "test set, but it may have trained on some of those rows"
            )
            lines.append(
                f"⚠️ {how}: the comparison is not fair, and {who} may look better than it is."
            )
    else:
        why = md.cell(c.reason) if c.reason else md.cell(v.note)
        lines.append(
            f"⚠️ Not paired: {why}. Intervals are not shown and the verdicts only follow "
            "the sign of Δ."
        )
    return "<br>\n".join(lines)


def _sentence(text: str) -> str:
    text = md.cell(text).rstrip(".")
    return text[:1].upper() + text[1:]


def _reproduced(r: Reproduced) -> str:
    where = " and ".join(md.code(e) for e in r.environments)
    run = "runs" if len(r.environments) == 1 else "run"
    return (
        f"🔁 {md.version(r.version)}, which {where} {run}, was not in this store: it was "
        "retrained at its source commit "
        f"{md.code(r.source_commit[:7])} in {r.seconds:.1f} s and reproduced the metrics "
        "recorded when it was promoted (as `mlops deploy` does)."
    )


def _missing(v: Versus) -> str:
    """A version an environment runs that the review could not read: say so, and how to fix."""
    env = md.code(v.label)
    return (
        f"⚠️ {env} runs {md.version(v.version)}, which is not in this store and could not "
        f"be reproduced: {md.cell(v.note).rstrip('.')}. Not comparable: {env}'s figures "
        "are those recorded when it was promoted, on its own test set. To compare, point "
        "`store:` in `mlops/project.yaml` at the store it was promoted from, or make its "
        f"data available (`dvc pull`) and run `mlops deploy --env {md.token(v.label)}`."
    )


def _changes(c: ModelComparison) -> str:
    if not c.changes:
        return ""
    lines = ["**What changed** (the definitions that make a new version)", ""]
    for change in c.changes:
        where = f"{md.code(change.path)}: " if change.path else ""
        lines.append(f"- {where}{md.cell(change.what)}")
    return "\n".join(lines)


def _metric_table(v: Versus, ref: str) -> str:
    if not v.metrics:
        return ""
    rows = [
        f"| Metric | {ref} | Head | Δ | Δ% | 95% CI of Δ | Verdict |",
        "| --- | ---: | ---: | ---: | ---: | :---: | --- |",
    ]
    for d in v.metrics:
        rows.append(
            f"| {_metric_name(d)} | {md.num(d.base)} | {md.num(d.head)} | "
            f"{md.num(d.delta, sign=True)} | {md.pct(d.delta_pct)} | {_interval(d)} | "
            f"{VERDICT[d.verdict]} |"
        )
    return "\n".join(rows)


def _metric_name(d: MetricDiff) -> str:
    return f"{d.metric} {'↓' if d.lower_is_better else '↑'}"


def _interval(d: MetricDiff) -> str:
    ci = d.interval
    return "—" if ci is None else f"[{md.num(ci.low, sign=True)}, {md.num(ci.high, sign=True)}]"


def _mcnemar(v: Versus) -> str:
    t = v.mcnemar
    if t is None:
        return ""
    return (
        f"McNemar's test on accuracy ({t.method}): {md.plural(t.base_only, 'row')} only "
        f"{md.cell(v.label)} "
        f"got right, {t.head_only} only head; p = {t.p_value:.3g}."
    )


def _gate_table(c: ModelComparison) -> str:
    if not c.gates:
        return "" if c.verdict == "removed" else "No gates are defined for this model."
    versions = {c.reference: c.base_version, **{v.label: v.version for v in c.environments}}
    rows = ["| Gate | Against | Bound | Head | Result |", "| --- | --- | --- | ---: | --- |"]
    rows += [_gate_row(g, versions) for g in c.gates]
    return "**Gates**\n\n" + "\n".join(rows)


def _gate_row(g: GateResult, versions: dict[str, str | None]) -> str:
    against = "—"
    if g.against:
        against = f"{g.against} {md.version(versions.get(g.against))}"
        if defined(g.reference):
            against += f" ({md.num(g.reference)})"
    bound = g.limit
    if g.check == "max_drop" and g.threshold is not None:
        bound += f" ({'≤' if lower_is_better(g.metric) else '≥'} {md.num(g.threshold)})"
    result = GATE[g.status] + (f": {md.cell(g.message)}" if g.message else "")
    return f"| {g.metric} | {against} | {bound} | {md.num(g.value)} | {result} |"


def _environment(v: Versus, c: ModelComparison) -> str:
    if v.version is None:
        return f"**Against {v.label}**: nothing is deployed in {v.label}."
    title = f"**Against {v.label}** {md.version(v.version)}"
    if v.version == c.head_version:
        return f"{title}: {v.label} already runs this version."
    if v.missing:
        return f"{title}\n\n{_missing(v)}\n\n{_metric_table(v, v.label)}"
    if v.version == c.base_version and c.vs_base.paired and not c.vs_base.missing:
        # the same version as the reference's, on the same rows: the table would repeat
        return f"{title}: {v.label} runs {_the_reference(c)}; the comparison above holds."
    note = "" if v.paired else f"\n\n⚠️ Not paired: {md.cell(v.note)}."
    return f"{title}{note}\n\n{_metric_table(v, v.label)}"


def _params(c: ModelComparison) -> str:
    if not c.params:
        if c.status in ("new", "removed") or c.changes or c.vs_base.missing:
            return ""  # "What changed" says what moved instead
        return "Estimator parameters: unchanged."
    listed = [ch.what for ch in c.changes]
    if all(any(w.startswith(f"estimator.params.{p.name} ") for w in listed) for p in c.params):
        return ""  # each is a line of "What changed" already, old → new
    rows = ["**Parameters**", "", f"| Param | {_column(c)} | Head |", "| --- | --- | --- |"]
    for p in c.params:
        base = "—" if p.status == "added" else md.code(md.value(p.base))
        head = "—" if p.status == "removed" else md.code(md.value(p.head))
        rows.append(f"| {md.code(p.name)} | {base} | {head} |")
    return "\n".join(rows)


def _trained_with(c: ModelComparison) -> str:
    if c.trained_with is None:
        return ""
    before, after = c.trained_with
    who = "base" if c.reference == "base" else md.cell(c.reference)
    return (
        f"Trained with scikit-learn {before} ({who}) → {after} (head): a "
        "version records scikit-learn's, so every model's version moves with it."
    )


def _columns(d: DataProfile) -> str:
    """``9 columns (id `loan_id` + 8 others)``: every column of the file, the id too."""
    if not d.skipped:
        return f"{d.columns} columns"
    left_out = ", ".join(md.code(name) for name in d.skipped)
    return f"{d.columns + len(d.skipped)} columns (id {left_out} + {d.columns} others)"


def _data(c: ModelComparison) -> str:
    head, base = c.head_data, c.base_data
    if head is None and base is None:
        return ""
    lines = ["**Data**", ""]
    for label, d in ((_column(c), base), ("Head", head)):
        if d is not None:
            digest = f" · content {md.code(d.content_hash)}" if d.content_hash else ""
            lines.append(f"- {label}: {d.rows:,} rows, {_columns(d)}{digest}")
    same = bool(base and head and base.content_hash and base.content_hash == head.content_hash)
    if same:
        lines.append("- The data content is unchanged.")
    # the same content can't have shifted: a table of zeros would only hide the news
    shifts = [] if same else sorted(c.shift, key=_shift_order)
    if shifts:
        header = f"| Column | {_column(c)} | Head | Shift |"
        lines += ["", header, "| --- | --- | --- | --- |"]
        rows = (base.rows if base else 0, head.rows if head else 0)
        lines += [_shift_row(s, rows) for s in shifts[:MAX_COLUMNS]]
        if len(shifts) > MAX_COLUMNS:
            rest = shifts[MAX_COLUMNS:]
            flagged = sum(s.flagged for s in rest)
            lines.append(f"| … {len(rest)} more columns ({flagged} flagged) | | | |")
    return "\n".join(lines)


def _shift_order(s: ColumnShift) -> float:
    if s.kind == "date":  # a shift in days is on no other column's scale: flagged first
        return float("-inf") if s.flagged else 0.5
    return -abs(s.shift) if s.shift is not None else 1.0


def _shift_row(s: ColumnShift, rows: tuple[int, int]) -> str:
    if s.kind == "date":
        old, new, moved = date_cells(s, rows)
        return f"| {md.code(s.column)} | {old} | {new} | {moved} |"
    if s.shift is None:
        shift = {"added": "🆕 added", "removed": "🗑️ removed"}.get(s.kind, "—")
    elif s.kind == "numeric":
        sigma = "σ"  # noqa: RUF001 - the standard deviation's symbol
        # a constant base column that moved: infinitely many deviations, up or down
        size = f"{s.shift:+.2f}" if math.isfinite(s.shift) else f"{'+' if s.shift > 0 else '-'}∞"
        shift = f"{size}{sigma}"
    else:
        shift = f"TVD {s.shift:.2f}"
    if s.flagged and s.shift is not None:
        shift += " ⚠️"
    old, new = _profile(s.base, rows[0]), _profile(s.head, rows[1])
    return f"| {md.code(s.column)} | {old} | {new} | {shift} |"


def _profile(col: ColumnProfile | None, rows: int) -> str:
    if col is None:
        return "—"
    bits = []
    if col.top:
        bits += [f"{md.cell(str(v))} {n / max(rows, 1):.0%}" for v, n in col.top[:3]]
    elif col.mean is not None:
        bits.append(f"μ {col.mean:.4g}")
        if col.std is not None:
            bits.append(f"σ {col.std:.4g}")  # noqa: RUF001
        if col.min is not None and col.max is not None:
            bits.append(f"[{col.min:.4g}, {col.max:.4g}]")
    if col.nulls:
        bits.append(f"{col.nulls:,} nulls")
    return " · ".join(bits) or "—"


def _confusion(c: ModelComparison) -> str:
    m: Confusion | None = c.confusion
    if m is None:
        return ""
    if len(m.labels) > MAX_CLASSES:
        return f"Confusion matrix: {len(m.labels)} classes, too many to show here."
    old = c.base_confusion if c.base_confusion and c.base_confusion.labels == m.labels else None
    rows = [
        "**Confusion matrix** (head; rows are true labels, columns predicted"
        + (f"; in brackets the change from {_column(c).lower()})" if old else ")"),
        "",
        "| true \\ predicted | " + " | ".join(md.code(x) for x in m.labels) + " |",
        "| --- |" + " ---: |" * len(m.labels),
    ]
    for i, label in enumerate(m.labels):
        cells = []
        for j, n in enumerate(m.counts[i]):
            change = n - old.counts[i][j] if old else 0
            cells.append(f"{n} ({change:+d})" if change else str(n))
        rows.append(f"| {md.code(label)} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _chart(c: ModelComparison) -> str:
    points, restated = _chart_points(c)
    if len(points) < 2 or c.primary_metric is None:
        return ""
    values = [x for _, x in points]
    low, high = min(values), max(values)
    pad = (high - low) * 0.1 or abs(high) * 0.01 or 0.01
    # a store's recent versions include other branches': name the two the table compares
    roles = {c.head_version: "head", c.base_version: md.label(_column(c).lower())}
    labels = ", ".join(f'"{md.label(f"{roles[v]}: {v}" if v in roles else v)}"' for v, _ in points)
    metric = md.label(c.primary_metric)
    note = (
        [
            "",
            f"{_column(c)} and head are plotted as in the table above (scored on the same "
            "rows); other versions as stored, each on its own test set.",
        ]
        if restated
        else []
    )
    return "\n".join(
        [
            f"**{metric} across recent versions**",
            *note,
            "",
            "```mermaid",
            "xychart-beta",
            f'    title "{md.label(c.model)}: {metric}"',
            f"    x-axis [{labels}]",
            f'    y-axis "{metric}" {low - pad:.4g} --> {high + pad:.4g}',
            f"    line [{', '.join(f'{x:.4g}' for x in values)}]",
            "```",
        ]
    )


def _chart_points(c: ModelComparison) -> tuple[list[tuple[str, float]], bool]:
    """The versions to plot, base and head with the values the table shows.

    The history holds each version's stored figure, measured on its own test set; when
    the base was scored again on the head's rows, the table's figures differ, and one
    report must not show two numbers for the same version.
    """
    primary = next((d for d in c.vs_base.metrics if d.metric == c.primary_metric), None)
    shown: dict[str | None, float | None] = {}
    if primary is not None:
        shown = {c.base_version: primary.base, c.head_version: primary.head}
    points: list[tuple[str, float]] = []
    restated = False
    for version, stored in c.history:
        value = shown.get(version, stored)
        if value is None or not defined(value):
            continue
        restated = restated or value != stored
        points.append((version, float(value)))
    return points[-MAX_POINTS:], restated


__all__ = ["MODEL", "Parts", "model_parts"]
