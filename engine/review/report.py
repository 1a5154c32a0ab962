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
cutting, and the top of the report. One model's sections are :mod:`engine.review.sections`;
the formatting primitives, through which every piece of user text goes, are
:mod:`engine.review.markdown`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.errors import Problem
from engine.review import markdown as md

if TYPE_CHECKING:
    from engine.review.compare import ModelComparison
    from engine.review.sections import Parts

MARKER_PREFIX = "<!-- mlops-report "
MAX_CHARS = 65_536 - 116
"""GitHub's limit on a comment body (counted here in UTF-16 units, the stricter count), less
room for the hidden tag the forge puts first (``<!-- mlops:NAME -->`` and a newline, 116 at
the longest name), so that the forge never cuts a report a second time."""
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

_ORDER = {"fail": 0, "not comparable": 1, "pass": 2, "removed": 3}


@dataclass(frozen=True)
class Marker:
    """What identifies a report, so its sticky comment is updated rather than repeated."""

    repo: str
    pr: int | None = None
    workflow: str = ""

    def render(self) -> str:
        """The hidden HTML comment placed at the top of the report."""
        parts = [f"repo={md.token(self.repo)}"]
        if self.pr is not None:
            parts.append(f"pr={self.pr}")
        if self.workflow:
            parts.append(f"workflow={md.token(self.workflow)}")
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
    limit: int | None = MAX_CHARS
    title: str = "mlops"
    reference: str = "base"
    """What head is compared with: the base revision, or an environment (``--vs ENV``)."""
    also: Sequence[str] = ()
    """With several ``--vs`` environments, those after the first (the reference)."""


def size(text: str) -> int:
    """Length as GitHub counts it at worst: UTF-16 code units (an emoji may count 2)."""
    return len(text.encode("utf-16-le")) // 2


def render(report: ReportInput) -> str:
    """The report as markdown, never longer than ``report.limit`` (None: never cut, as
    for a local run, where no comment limit applies and no job summary holds the rest)."""
    models = sorted(report.comparisons, key=lambda c: _ORDER[c.verdict])
    parts = _model_parts(models)
    problems = [
        ("Validation errors", list(report.validation)),
        ("Data checks", list(report.data_checks)),
        ("Training failures", list(report.training_failures)),
    ]
    most = max(len(items) for _, items in problems)
    fit = _Fit(problems=most, details=len(parts), models=len(parts))
    out = _assemble(report, parts, problems, fit)
    limit = report.limit
    if limit is None:
        return out
    for section in DROPPABLE:
        if size(out) <= limit:
            break
        fit.cut.append(section)
        if section in _WHOLE:
            out = _assemble(report, parts, problems, fit)
            continue
        # a list: keep a quarter fewer at a time, per-model details from the end (passing
        # models before failing ones), then problems, and at last rows of the model table
        while size(out) > limit and fit.less(section):
            out = _assemble(report, parts, problems, fit)
    return out if size(out) <= limit else _hard_cut(out, limit)


def _model_parts(models: Sequence[ModelComparison]) -> list[Parts]:
    """Each model's sections; a report of no model (a change that moves none, the most
    common pull request) does not even import them."""
    if not models:
        return []
    from engine.review.sections import model_parts

    return [model_parts(c) for c in models]


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
    parts: list[Parts],
    problems: list[tuple[str, list[Problem]]],
    fit: _Fit,
) -> str:
    """The whole report with what ``fit`` keeps."""
    out = [report.marker.render()] if report.marker else []
    out += [_headline(report), "", _summary(report)]
    if report.reference != "base":
        out += ["", _against(report)]
    elif report.base_label or report.head_label:
        base, head = md.code(report.base_label or "base"), md.code(report.head_label or "head")
        out += ["", f"Base {base} → head {head}."]
    if fit.cut:
        out += ["", _cut_note(fit.cut, report.summary_url)]
    shown = parts[: fit.models]
    if parts:
        out += ["", _model_table(shown, len(parts), report.reference)]
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


def _model_table(shown: list[Parts], total: int, reference: str) -> str:
    versions = "Versions" if reference == "base" else f"Versions ({md.cell(reference)} → head)"
    rows = [
        f"| Model | {versions} | Primary metric | Change | Gates |",
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
    issues = [md.plural(n, t) for t, n in errors.items() if n]
    if failed:
        issues.insert(
            0, f"{md.plural(failed, 'model')} failed {'its' if failed == 1 else 'their'} gates"
        )
    verdict = _overall(models)
    if issues:
        return f"### ❌ {report.title}: {', '.join(issues)}"
    if verdict == "not comparable":
        n = sum(c.verdict == "not comparable" for c in models)
        return f"### ⚠️ {report.title}: {md.plural(n, 'model')} not comparable"
    if not any(c.status != "unchanged" for c in models):
        what = (
            "changed" if report.reference == "base" else f"differs from {md.cell(report.reference)}"
        )
        if not models:
            return f"### ✅ {report.title}: no model {what}"
        return f"### ✅ {report.title}: no model {what}; all gates passed"
    return f"### ✅ {report.title}: all gates passed"


def _overall(models: Sequence[ModelComparison]) -> str:
    if not models:
        return "pass"
    from engine.review.compare import overall

    return overall(models)


def _against(report: ReportInput) -> str:
    """What head is compared with, under ``--vs``: the reference, and any other environment."""
    head = md.code(report.head_label or "head")
    line = f"Head {head} against what {md.code(report.reference)} runs"
    if not report.also:
        return line + "."
    also = ", ".join(md.code(e) for e in report.also)
    return (
        f"{line}: the reference of the table, the verdicts and the summary. Also against "
        f"what {also} {'runs' if len(report.also) == 1 else 'run'}, in each model's details."
    )


def _summary(report: ReportInput) -> str:
    models = list(report.comparisons)
    if not models:
        return _nothing_compared(report)
    count = {v: sum(c.verdict == v for c in models) for v in _ORDER}
    changed = sum(c.status != "unchanged" for c in models)
    what = "changed"
    if report.reference != "base":
        what = f"differ{'s' if changed == 1 else ''} from {md.cell(report.reference)}"
    line = [f"**{md.plural(changed, 'model')} {what}**"]
    if changed < len(models):
        line.append(f"{len(models) - changed} unchanged")
    for env in report.also:
        differ = sum(
            any(v.label == env and v.version != c.head_version for v in c.environments)
            for c in models
        )
        line.append(f"{differ} differ{'s' if differ == 1 else ''} from {md.cell(env)}")
    line += [
        f"✅ {count['pass']} passed",
        f"❌ {count['fail']} failed",
        f"⚠️ {count['not comparable']} not comparable",
    ]
    if count["removed"]:
        line.append(f"🗑️ {count['removed']} removed")
    return " · ".join(line)


def _nothing_compared(report: ReportInput) -> str:
    """The summary when no model is compared: why, rather than a row of zero counts."""
    if report.validation or report.training_failures:
        return "No model could be compared: see the problems below."
    if report.reference == "base":
        return (
            "Nothing to compare: the change moves no model's version (no definition, "
            "feature set or data a model uses changed), so nothing was trained."
        )
    envs = [report.reference, *report.also]
    named = " and ".join(md.code(e) for e in envs)
    run = "runs" if len(envs) == 1 else "run"
    return f"Nothing to compare: {named} already {run} head's version of every model there."


def _problems(title: str, items: list[Problem], budget: int) -> str:
    shown = sorted(items)[:budget]
    lines = [p.render() for p in shown]
    if len(items) > len(shown):
        lines.append(f"… and {len(items) - len(shown)} more")
    body = "\n".join(line.replace("\r", " ") for line in lines)
    fence = "`" * max(3, md.longest_run(body, "`") + 1)
    return f"#### {title} ({len(items)})\n\n{fence}text\n{body}\n{fence}"


# --- one model ----------------------------------------------------------------------------


# --- formatting ---------------------------------------------------------------------------


__all__ = ["DROPPABLE", "MARKER_PREFIX", "MAX_CHARS", "Marker", "ReportInput", "render", "size"]
