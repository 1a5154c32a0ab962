"""Render one event's report as GitHub-flavoured markdown: a pure function, no I/O.

``render(ReportInput)`` turns the comparisons of ``engine.review.compare`` and the located
problems of the change into one document, written for a reviewer who has ten seconds:

1. a hidden marker (``<!-- mlops-report repo=... pr=... workflow=... -->``) the forge
   uses to find and update its sticky comment;
2. a headline and a summary line (models changed / passed / failed / not comparable);
3. one table row per model: versions, primary metric, change, gates;
4. validation errors, data-check findings and training failures, each located;
5. per model, folded in ``<details>``: metric table with 95% intervals, McNemar,
   gates, environments, params diff, data summary and shift, confusion matrix, and a
   Mermaid ``xychart-beta`` chart of the primary metric across recent versions.

A GitHub comment holds at most 65,536 characters. Sections are rendered once, then
assembled; when the whole is too long, lower-priority sections go first (charts, data
profiles, confusion matrices, then per-model details, problem lists and rows of the
model table, a quarter at a time; ``DROPPABLE``) and a note points to the full report in
the job summary.

The file reads top down: the inputs (``Marker``, ``ReportInput``), ``render`` and its
cutting, the top of the report, one model's sections in the order they appear, and the
formatting helpers; every piece of user text goes through ``_cell``, ``_code`` or
``_label`` so that it can't break out of its table cell, code span or chart.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.data.profile import ColumnProfile
from engine.definitions.formats import lower_is_better
from engine.errors import Problem
from engine.review.compare import (
    ColumnShift,
    Confusion,
    GateResult,
    MetricDiff,
    ModelComparison,
    Versus,
    defined,
    overall,
)

MARKER_PREFIX = "<!-- mlops-report "
MAX_CHARS = 65_536
"""GitHub's limit on a comment body (counted here in UTF-16 units, the stricter count)."""
MAX_COLUMNS = 20  # data-shift rows per model; the most shifted first
MAX_CLASSES = 20  # a larger confusion matrix is unreadable in a comment
MAX_POINTS = 20  # versions on the chart
_CUT_NAMES = {
    "chart": "charts",
    "data": "data profiles",
    "confusion": "confusion matrices",
    "details": "per-model details",
    "problems": "problem lists",
    "models": "models",
}
DROPPABLE = tuple(_CUT_NAMES)
"""What is cut, in this order, when the report is too long."""
_WHOLE = DROPPABLE[:3]  # sections cut from every model at once

_VERDICT = {
    "better": "🟢 better",
    "worse": "🔴 worse",
    "no significant change": "⚪ no significant change",
    "new": "🆕 new",
    "removed": "🗑️ removed",
    "n/a": "❔ n/a",
}
_GATE = {
    "pass": "✅ pass",
    "fail": "❌ fail",
    "not comparable": "⚠️ not comparable",
    "skipped": "⏭️ skipped",
}
_MODEL = {"pass": "✅", "fail": "❌", "not comparable": "⚠️", "removed": "🗑️"}
_ORDER = {"fail": 0, "not comparable": 1, "pass": 2, "removed": 3}


@dataclass(frozen=True)
class Marker:
    """What identifies a report, so its sticky comment is updated rather than repeated."""

    repo: str
    pr: int | None = None
    workflow: str = ""

    def render(self) -> str:
        """The hidden HTML comment placed at the top of the report."""
        parts = [f"repo={_token(self.repo)}"]
        if self.pr is not None:
            parts.append(f"pr={self.pr}")
        if self.workflow:
            parts.append(f"workflow={_token(self.workflow)}")
        return f"{MARKER_PREFIX}{' '.join(parts)} -->"

    @classmethod
    def parse(cls, body: str) -> Marker | None:
        """The marker at the top of a comment body, or None (for finding sticky comments)."""
        first = body.lstrip().split("\n", 1)[0]
        if not first.startswith(MARKER_PREFIX) or not first.endswith(" -->"):
            return None
        fields = dict(
            item.split("=", 1)
            for item in first[len(MARKER_PREFIX) : -len(" -->")].split()
            if "=" in item
        )
        if "repo" not in fields:
            return None
        pr = fields.get("pr", "")
        return cls(fields["repo"], int(pr) if pr.isdigit() else None, fields.get("workflow", ""))


@dataclass(frozen=True)
class ReportInput:
    """Everything one report shows."""

    comparisons: Sequence[ModelComparison] = ()
    marker: Marker | None = None
    validation: Sequence[Problem] = ()
    data_checks: Sequence[Problem] = ()
    training_failures: Sequence[Problem] = ()
    base_label: str = ""
    head_label: str = ""
    summary_url: str | None = None
    """Where the full report lives (the job summary); linked from the cut note."""
    limit: int = MAX_CHARS
    title: str = "mlops"


@dataclass(frozen=True)
class _Parts:
    """One model's sections, rendered once; ``details`` holds the droppable ones by name."""

    row: str
    summary: str
    body: str
    details: dict[str, str]


def size(text: str) -> int:
    """Length as GitHub counts it at worst: UTF-16 code units (an emoji may count 2)."""
    return len(text.encode("utf-16-le")) // 2


def render(report: ReportInput) -> str:
    """The report as markdown, never longer than ``report.limit``."""
    models = sorted(report.comparisons, key=lambda c: _ORDER[c.verdict])
    parts = [_model_parts(c) for c in models]
    problems = [
        ("Validation errors", list(report.validation)),
        ("Data checks", list(report.data_checks)),
        ("Training failures", list(report.training_failures)),
    ]
    most = max(len(items) for _, items in problems)
    fit = _Fit(problems=most, details=len(parts), models=len(parts))
    out = _assemble(report, parts, problems, fit)
    for section in DROPPABLE:
        if size(out) <= report.limit:
            break
        fit.cut.append(section)
        if section in _WHOLE:
            out = _assemble(report, parts, problems, fit)
            continue
        # a list: keep a quarter fewer at a time, per-model details from the end (passing
        # models before failing ones), then problems, and at last rows of the model table
        while size(out) > report.limit and fit.less(section):
            out = _assemble(report, parts, problems, fit)
    return out if size(out) <= report.limit else _hard_cut(out, report.limit)


@dataclass
class _Fit:
    """How much of the report is kept: the sections cut, and how many of each list."""

    problems: int
    """Items kept in each problem list."""
    details: int
    """Models (of those in the table) whose details are kept."""
    models: int
    """Rows kept in the model table."""
    cut: list[str] = field(default_factory=list)

    def less(self, name: str) -> bool:
        """Keep about a quarter fewer of ``name``; False when there were none left."""
        count = getattr(self, name)
        setattr(self, name, count * 3 // 4)
        return count > 0


def _assemble(
    report: ReportInput,
    parts: list[_Parts],
    problems: list[tuple[str, list[Problem]]],
    fit: _Fit,
) -> str:
    """The whole report with what ``fit`` keeps."""
    out = [report.marker.render()] if report.marker else []
    out += [_headline(report), "", _summary(report)]
    if report.base_label or report.head_label:
        base, head = _code(report.base_label or "base"), _code(report.head_label or "head")
        out += ["", f"Base {base} → head {head}."]
    if fit.cut:
        out += ["", _cut_note(fit.cut, report.summary_url)]
    shown = parts[: fit.models]
    if parts:
        out += ["", _model_table(shown, len(parts))]
    for title, items in problems:
        if items:
            out += ["", _problems(title, items, fit.problems)]
    detailed = shown[: fit.details]
    if detailed:
        out += ["", "### Models"]
    for p in detailed:
        sections = [p.body, *(v for k, v in p.details.items() if k not in fit.cut)]
        body = "\n\n".join(s for s in sections if s)
        out += ["", f"<details><summary>{p.summary}</summary>", "", body, "", "</details>"]
    return "\n".join(out) + "\n"


def _cut_note(cut: list[str], summary_url: str | None) -> str:
    names = [_CUT_NAMES[k] for k in cut]
    what = ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1]
    where = f"[job summary]({summary_url})" if summary_url else "job summary"
    return f"> ✂️ {what[0].upper()}{what[1:]} … cut; the full report is in the {where}."


def _model_table(shown: list[_Parts], total: int) -> str:
    rows = [
        "| Model | Versions | Primary metric | Change | Gates |",
        "| --- | --- | --- | --- | --- |",
        *(p.row for p in shown),
    ]
    if len(shown) < total:
        rows.append(f"| … and {total - len(shown)} more models | | | | |")
    return "\n".join(rows)


def _hard_cut(text: str, limit: int) -> str:
    note = "\n\n> ✂️ … cut; the full report is in the job summary.\n"
    keep = text[: max(0, limit - size(note) - 2)]
    while keep and size(keep) + size(note) > limit:
        keep = keep[:-1]
    return keep.rsplit("\n", 1)[0] + note


# --- top of the report --------------------------------------------------------------------


def _headline(report: ReportInput) -> str:
    errors = {
        title: sum(p.severity == "error" for p in items)
        for title, items in (
            ("validation error", report.validation),
            ("data-check error", report.data_checks),
            ("training failure", report.training_failures),
        )
    }
    models = list(report.comparisons)
    failed = sum(c.verdict == "fail" for c in models)
    issues = [_plural(n, t) for t, n in errors.items() if n]
    if failed:
        issues.insert(
            0, f"{_plural(failed, 'model')} failed {'its' if failed == 1 else 'their'} gates"
        )
    verdict = overall(models)
    if issues:
        return f"### ❌ {report.title}: {', '.join(issues)}"
    if verdict == "not comparable":
        n = sum(c.verdict == "not comparable" for c in models)
        return f"### ⚠️ {report.title}: {_plural(n, 'model')} not comparable"
    if not models:
        return f"### ✅ {report.title}: no model changed"
    return f"### ✅ {report.title}: all gates passed"


def _summary(report: ReportInput) -> str:
    models = list(report.comparisons)
    count = {v: sum(c.verdict == v for c in models) for v in _ORDER}
    line = [
        f"**{_plural(len(models), 'model')} changed**",
        f"✅ {count['pass']} passed",
        f"❌ {count['fail']} failed",
        f"⚠️ {count['not comparable']} not comparable",
    ]
    if count["removed"]:
        line.append(f"🗑️ {count['removed']} removed")
    return " · ".join(line)


def _problems(title: str, items: list[Problem], budget: int) -> str:
    shown = sorted(items)[:budget]
    lines = [p.render() for p in shown]
    if len(items) > len(shown):
        lines.append(f"… and {len(items) - len(shown)} more")
    body = "\n".join(line.replace("\r", " ") for line in lines)
    fence = "`" * max(3, _longest_run(body, "`") + 1)
    return f"#### {title} ({len(items)})\n\n{fence}text\n{body}\n{fence}"


# --- one model ----------------------------------------------------------------------------


def _model_parts(c: ModelComparison) -> _Parts:
    primary = next((d for d in c.vs_base.metrics if d.metric == c.primary_metric), None)
    versions = f"{_version(c.base_version)} → {_version(c.head_version)}"
    if primary is None:
        metric, change = "—", "—"
    else:
        metric = f"{primary.metric} {_num(primary.base)} → {_num(primary.head)}"
        change = _VERDICT[primary.verdict]
        if primary.delta is not None:
            change = f"{_num(primary.delta, sign=True)} ({_pct(primary.delta_pct)}) {change}"
    row = f"| **{c.model}** | {versions} | {metric} | {change} | {_gate_cell(c)} |"
    arrow = f"{_html_version(c.base_version)} → {_html_version(c.head_version)}"
    summary = f"{_MODEL[c.verdict]} <b>{c.model}</b> · {c.verdict} · {arrow}"
    body = [
        _pairing(c),
        _metric_table(c.vs_base, "Base"),
        _mcnemar(c.vs_base),
        _gate_table(c),
        *(_environment(v, c) for v in c.environments),
        _params(c),
    ]
    details = {"data": _data(c), "confusion": _confusion(c), "chart": _chart(c)}
    return _Parts(row, summary, "\n\n".join(s for s in body if s), details)


def _gate_cell(c: ModelComparison) -> str:
    if c.verdict == "removed":
        return "—"
    failing = [g for g in c.gates if g.status == "fail"]
    if failing:
        named = [
            f"{g.metric} {g.limit}" + (f" vs {g.against}" if g.against else "") for g in failing[:3]
        ]
        more = f" +{len(failing) - 3} more" if len(failing) > 3 else ""
        return f"❌ fail: {_cell('; '.join(named))}{more}"
    if c.verdict == "not comparable":
        unchecked = [g.message for g in c.gates if g.status == "not comparable"]
        why = unchecked[0] if unchecked else "not paired with base"
        return f"⚠️ {_cell(why)}"
    return "✅ pass" if c.gates else "✅ pass (no gates)"


def _pairing(c: ModelComparison) -> str:
    lines = [f"Why: {_cell(c.reason)}"] if c.reason else []
    v = c.vs_base
    if c.status == "new":
        lines.append("🆕 New model: there is no base version to compare with.")
    elif c.status == "removed":
        lines.append("🗑️ Removed: the model is no longer defined at head.")
    elif v.identical:
        lines.append("Head is the base version itself: nothing changed.")
    elif v.paired:
        resamples = max((d.interval.resamples for d in v.metrics if d.interval), default=0)
        lines.append(
            f"Paired comparison on {v.paired_rows:,} test rows"
            + (f", {resamples:,} bootstrap resamples." if resamples else ".")
        )
        if c.rescored and c.fair:
            lines.append(
                "🔁 The data changed, so the base version was scored again on the "
                "head's test rows it never trained on: the comparison is paired and fair."
            )
        elif c.rescored:
            lines.append(
                "⚠️ The data changed, so the base version was scored again on head's test "
                "set, but it may have trained on some of those rows: the comparison is "
                "not fair, and the base may look better than it is."
            )
    else:
        lines.append(
            f"⚠️ Not paired: {_cell(v.note)}. Intervals are not shown and the "
            "verdicts only follow the sign of Δ."
        )
    return "<br>\n".join(lines)


def _metric_table(v: Versus, ref: str) -> str:
    if not v.metrics:
        return ""
    rows = [
        f"| Metric | {ref} | Head | Δ | Δ% | 95% CI of Δ | Verdict |",
        "| --- | ---: | ---: | ---: | ---: | :---: | --- |",
    ]
    for d in v.metrics:
        rows.append(
            f"| {_metric_name(d)} | {_num(d.base)} | {_num(d.head)} | "
            f"{_num(d.delta, sign=True)} | {_pct(d.delta_pct)} | {_interval(d)} | "
            f"{_VERDICT[d.verdict]} |"
        )
    return "\n".join(rows)


def _metric_name(d: MetricDiff) -> str:
    return f"{d.metric} {'↓' if d.lower_is_better else '↑'}"


def _interval(d: MetricDiff) -> str:
    ci = d.interval
    return "—" if ci is None else f"[{_num(ci.low, sign=True)}, {_num(ci.high, sign=True)}]"


def _mcnemar(v: Versus) -> str:
    t = v.mcnemar
    if t is None:
        return ""
    return (
        f"McNemar's test on accuracy ({t.method}): {_plural(t.base_only, 'row')} only base "
        f"got right, {t.head_only} only head; p = {t.p_value:.3g}."
    )


def _gate_table(c: ModelComparison) -> str:
    if not c.gates:
        return "" if c.verdict == "removed" else "No gates are defined for this model."
    versions = {"base": c.base_version, **{v.label: v.version for v in c.environments}}
    rows = ["| Gate | Against | Bound | Head | Result |", "| --- | --- | --- | ---: | --- |"]
    rows += [_gate_row(g, versions) for g in c.gates]
    return "**Gates**\n\n" + "\n".join(rows)


def _gate_row(g: GateResult, versions: dict[str, str | None]) -> str:
    against = "—"
    if g.against:
        against = f"{g.against} {_version(versions.get(g.against))}"
        if defined(g.reference):
            against += f" ({_num(g.reference)})"
    bound = g.limit
    if g.check == "max_drop" and g.threshold is not None:
        bound += f" ({'≤' if lower_is_better(g.metric) else '≥'} {_num(g.threshold)})"
    result = _GATE[g.status] + (f": {_cell(g.message)}" if g.message else "")
    return f"| {g.metric} | {against} | {bound} | {_num(g.value)} | {result} |"


def _environment(v: Versus, c: ModelComparison) -> str:
    if v.version is None:
        return f"**Against {v.label}**: nothing is deployed in {v.label}."
    title = f"**Against {v.label}** {_version(v.version)}"
    if v.version == c.head_version:
        return f"{title}: {v.label} already runs this version."
    note = "" if v.paired else f"\n\n⚠️ Not paired: {_cell(v.note)}."
    return f"{title}{note}\n\n{_metric_table(v, v.label)}"


def _params(c: ModelComparison) -> str:
    if not c.params:
        return "" if c.status in ("new", "removed") else "Parameters: unchanged."
    rows = ["**Parameters**", "", "| Param | Base | Head |", "| --- | --- | --- |"]
    for p in c.params:
        base = "—" if p.status == "added" else _code(_value(p.base))
        head = "—" if p.status == "removed" else _code(_value(p.head))
        rows.append(f"| {_code(p.name)} | {base} | {head} |")
    return "\n".join(rows)


def _data(c: ModelComparison) -> str:
    head, base = c.head_data, c.base_data
    if head is None and base is None:
        return ""
    lines = ["**Data**", ""]
    for label, d in (("Base", base), ("Head", head)):
        if d is not None:
            digest = f" · content {_code(d.content_hash)}" if d.content_hash else ""
            lines.append(f"- {label}: {d.rows:,} rows, {d.columns} columns{digest}")
    if base and head and base.content_hash and base.content_hash == head.content_hash:
        lines.append("- The data is unchanged.")
    shifts = sorted(c.shift, key=lambda s: -abs(s.shift) if s.shift is not None else 1.0)
    if shifts:
        lines += ["", "| Column | Base | Head | Shift |", "| --- | --- | --- | --- |"]
        rows = (base.rows if base else 0, head.rows if head else 0)
        lines += [_shift_row(s, rows) for s in shifts[:MAX_COLUMNS]]
        if len(shifts) > MAX_COLUMNS:
            rest = shifts[MAX_COLUMNS:]
            flagged = sum(s.flagged for s in rest)
            lines.append(f"| … {len(rest)} more columns ({flagged} flagged) | | | |")
    return "\n".join(lines)


def _shift_row(s: ColumnShift, rows: tuple[int, int]) -> str:
    if s.shift is None:
        shift = {"added": "🆕 added", "removed": "🗑️ removed"}.get(s.kind, "—")
    elif s.kind == "numeric":
        sigma = "σ"  # noqa: RUF001 - the standard deviation's symbol
        shift = f"{s.shift:+.2f}{sigma}" if abs(s.shift) != float("inf") else f"∞{sigma}"
    else:
        shift = f"TVD {s.shift:.2f}"
    if s.flagged and s.shift is not None:
        shift += " ⚠️"
    old, new = _profile(s.base, rows[0]), _profile(s.head, rows[1])
    return f"| {_code(s.column)} | {old} | {new} | {shift} |"


def _profile(col: ColumnProfile | None, rows: int) -> str:
    if col is None:
        return "—"
    bits = []
    if col.top:
        bits += [f"{_cell(str(v))} {n / max(rows, 1):.0%}" for v, n in col.top[:3]]
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
        + ("; in brackets the change from base)" if old else ")"),
        "",
        "| true \\ predicted | " + " | ".join(_code(x) for x in m.labels) + " |",
        "| --- |" + " ---: |" * len(m.labels),
    ]
    for i, label in enumerate(m.labels):
        cells = []
        for j, n in enumerate(m.counts[i]):
            change = n - old.counts[i][j] if old else 0
            cells.append(f"{n} ({change:+d})" if change else str(n))
        rows.append(f"| {_code(label)} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _chart(c: ModelComparison) -> str:
    points = [(v, x) for v, x in c.history if defined(x)][-MAX_POINTS:]
    if len(points) < 2 or c.primary_metric is None:
        return ""
    values = [float(x) for _, x in points if x is not None]
    low, high = min(values), max(values)
    pad = (high - low) * 0.1 or abs(high) * 0.01 or 0.01
    labels = ", ".join(f'"{_label(v)}"' for v, _ in points)
    metric = _label(c.primary_metric)
    return "\n".join(
        [
            f"**{metric} across recent versions**",
            "",
            "```mermaid",
            "xychart-beta",
            f'    title "{_label(c.model)}: {metric}"',
            f"    x-axis [{labels}]",
            f'    y-axis "{metric}" {low - pad:.4g} --> {high + pad:.4g}',
            f"    line [{', '.join(f'{x:.4g}' for x in values)}]",
            "```",
        ]
    )


# --- formatting ---------------------------------------------------------------------------


def _num(value: float | None, sign: bool = False) -> str:
    if value is None:
        return "—"
    if value != value:  # NaN
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "∞" if value > 0 else "-∞"
    plus = "+" if sign else ""
    magnitude = abs(value)
    spec = ",.0f" if magnitude >= 10_000 else ".2f" if magnitude >= 100 else ".4f"
    return format(value, plus + spec)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+,.1f}%"


def _value(value: object) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)


def _version(version: str | None) -> str:
    return "—" if version is None else _code(version[:12])


def _html_version(version: str | None) -> str:
    # inside <summary>, markdown is not reliably rendered: use HTML
    return "—" if version is None else f"<code>{html.escape(version[:12])}</code>"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _cell(text: str) -> str:
    """User text made safe for a table cell: no HTML, no pipes, no @mentions."""
    text = html.escape(_one_line(text), quote=False)
    return text.replace("|", "\\|").replace("@", "@\u200b")


def _code(text: str) -> str:
    """An inline code span that holds any text, pipes escaped for tables."""
    text = _one_line(text).replace("|", "\\|")
    fence = "`" * (_longest_run(text, "`") + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")


def _label(text: str) -> str:
    """Text safe inside a quoted Mermaid string."""
    return re.sub(r"[^A-Za-z0-9_.:+ -]", "_", text)[:40]


def _token(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_./-]", "_", text)


def _longest_run(text: str, char: str) -> int:
    runs = re.findall(f"{re.escape(char)}+", text)
    return max((len(r) for r in runs), default=0)


__all__ = ["DROPPABLE", "MARKER_PREFIX", "MAX_CHARS", "Marker", "ReportInput", "render", "size"]
