"""The monitoring report as markdown (for an issue or a terminal) and as plain JSON data.

Markdown renders on GitHub: the per-feature table is sorted by drift (drifted first, then
by how far past its threshold), and the top drifted features are Mermaid ``xychart-beta``
charts of reference (bars) against current (line) shares. The HTML page is
:mod:`engine.monitoring.page`. Pure: an :class:`Outcome` in, text or data out.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from engine.monitoring.drift import DataDrift, FeatureDrift
from engine.monitoring.outcome import Outcome
from engine.monitoring.performance import Performance

TOP_CHARTS = 3
"""Drifted features drawn as charts."""
JSON_FORMAT = 1
VERDICTS = {
    "ok": "no drift",
    "drift": "data drift",
    "concept-drift": "concept drift: performance dropped while the inputs did not drift",
    "degraded": "performance dropped, with drifted inputs",
    "quality": "data-quality errors",
}
_P_VALUES = ("ks", "chi-square", "z-test")


def markdown(outcomes: Sequence[Outcome]) -> str:
    """Every model's report, one after the other."""
    return "\n\n".join(_one(o) for o in outcomes) + "\n"


def _one(o: Outcome) -> str:
    lines = [
        f"## {o.model} in {o.environment}: {VERDICTS[o.status]}",
        "",
        f"Version `{o.version}` from commit `{o.source_commit[:12]}`. "
        f"Reference: {o.reference}. Current: {o.current} ({o.current_rows:,} rows).",
        "",
        "### Data drift",
        "",
        _drift_summary(o.data, "features"),
        "",
        *_table(o.data),
    ]
    top = o.data.drifted_features[:TOP_CHARTS]
    if top:
        lines += ["", "#### Top drifted features", ""]
        for feature in top:
            lines += [*_mermaid(feature), ""]
    if o.data.dates:
        lines += ["", *_dates(o.data.dates)]
    if o.predictions is not None:
        lines += ["", "### Prediction drift", "", _drift_summary(o.predictions, "outputs"), ""]
        lines += _table(o.predictions)
    lines += ["", "### Data quality", ""]
    lines += [
        f"- **{f.severity}** `{f.column or '(batch)'}` {f.check}: {f.message}" for f in o.quality
    ] or ["No findings."]
    if o.health is not None:
        lines += ["", "### Service health", "", *_health(o)]
    if o.performance is not None:
        lines += ["", "### Live performance", "", *_performance(o.performance, o.concept_drift)]
    if o.notes:
        lines += ["", *(f"Note: {note}." for note in o.notes)]
    if o.unknown_labels:
        shown = ", ".join(f"`{i}`" for i in o.unknown_labels[:5])
        lines += [
            "",
            f"{len(o.unknown_labels):,} label(s) for request ids no logged prediction has "
            f"(ignored): {shown}{' ...' if len(o.unknown_labels) > 5 else ''}",
        ]
    if o.log_problems:
        lines += ["", f"{len(o.log_problems):,} log line(s) skipped:", ""]
        lines += [f"- `{p.render()}`" for p in o.log_problems[:10]]
    if o.log_duplicates:
        lines += [
            "",
            f"{o.log_duplicates:,} duplicate log record(s) dropped (the same request "
            "shipped twice; each counts once):",
            "",
        ]
        lines += [f"- `{p.render()}`" for p in o.log_duplicate_lines]
        if o.log_duplicates > len(o.log_duplicate_lines):
            lines.append(f"- … {o.log_duplicates - len(o.log_duplicate_lines):,} more")
    return "\n".join(lines)


def _drift_summary(drift: DataDrift, what: str) -> str:
    if not drift.features:
        return f"No {what} could be tested."
    verdict = "**drifted**" if drift.drifted else "not drifted"
    skipped = f"; not tested: {', '.join(drift.skipped)}" if drift.skipped else ""
    return (
        f"{len(drift.drifted_features)} of {len(drift.features)} {what} drifted "
        f"({drift.share:.0%}; drifted at {drift.drift_share:.0%}): {verdict}{skipped}."
    )


def _table(drift: DataDrift) -> list[str]:
    if not drift.features:
        return []
    rows = [
        f"PSI in bold: at least {drift.psi_threshold:g} (informative; the test decides).",
        "",
        "| feature | type | test | score | threshold | PSI | drifted |",
        "| --- | --- | --- | ---: | ---: | ---: | :---: |",
    ]
    for f in drift.ranked:
        psi = f"**{f.psi:.3f}**" if f.psi >= drift.psi_threshold else f"{f.psi:.3f}"
        rows.append(
            f"| `{_cell(f.name)}` | {f.kind} | {_method(f)} | {_score(f)} | {f.threshold:g} "
            f"| {psi} | {'**yes**' if f.drifted else 'no'} |"
        )
    return rows


def _dates(dates: Sequence[FeatureDrift]) -> list[str]:
    """Date columns: their ranges, and whether their dates moved (information only)."""
    rows = [
        "#### Dates",
        "",
        "Date columns are no model input, and production dates are newer than training "
        "dates by nature: a shift here is information, not drift.",
        "",
        "| date column | reference | current | test | score | threshold | PSI | shifted |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | :---: |",
    ]
    for f in dates:
        rows.append(
            f"| `{_cell(f.name)}` | {_span(f.reference_range)} | {_span(f.current_range)} "
            f"| {_method(f)} | {_score(f)} | {f.threshold:g} | {f.psi:.3f} "
            f"| {'yes' if f.drifted else 'no'} |"
        )
    for f in dates:
        if f.drifted:
            rows += ["", *_mermaid(f)]
    return rows


def _span(dates: tuple[str, str] | None) -> str:
    return f"{dates[0]}…{dates[1]}" if dates else "—"


def _method(f: FeatureDrift) -> str:
    return {
        "ks": "K-S p-value",
        "chi-square": "chi-square p-value",
        "z-test": "z-test p-value",
        "wasserstein": "Wasserstein (norm.)",
        "jensen-shannon": "Jensen-Shannon",
    }[f.method]


def _score(f: FeatureDrift) -> str:
    return f"{f.score:.3g}" if f.method in _P_VALUES else f"{f.score:.4f}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


def _mermaid(f: FeatureDrift) -> list[str]:
    labels = ", ".join(f'"{_label(x)}"' for x in f.labels[:20])
    top = max([*f.reference_share[:20], *f.current_share[:20], 0.01])
    return [
        "```mermaid",
        "xychart-beta",
        f'    title "{_label(f.name)}: reference (bars) vs current (line)"',
        f"    x-axis [{labels}]",
        f'    y-axis "share of rows" 0 --> {math.ceil(top * 100) / 100:g}',
        f"    bar [{', '.join(f'{v:.4f}' for v in f.reference_share[:20])}]",
        f"    line [{', '.join(f'{v:.4f}' for v in f.current_share[:20])}]",
        "```",
    ]


def _label(text: str) -> str:
    return "".join(c for c in str(text) if c not in '"\n\r`[]<>;')[:40]


def _health(o: Outcome) -> list[str]:
    h = o.health
    assert h is not None
    rate = f"{h.rate_per_second:.3g}/s" if h.rate_per_second is not None else "n/a"
    ms = [("p50", h.p50_ms), ("p95", h.p95_ms), ("p99", h.p99_ms)]
    latency = ", ".join(f"{k} {v:.1f} ms" for k, v in ms if v is not None) or "not logged"
    return [
        "| requests | instances | rate | errors | error rate | latency |",
        "| ---: | ---: | ---: | ---: | ---: | --- |",
        f"| {h.requests:,} | {h.instances:,} | {rate} | {h.errors:,} | {h.error_rate:.2%} "
        f"| {latency} |",
    ]


def _performance(p: Performance, concept: bool) -> list[str]:
    metric = p.metric
    evaluated = p.evaluation.get(metric)
    verdict = (
        "**Concept drift**: performance dropped significantly while the inputs did not drift."
        if concept
        else "**Performance dropped significantly**, with drifted inputs."
        if p.dropped
        else "No significant drop."
    )
    lines = [
        f"{verdict} Judged on `{metric}` against the version's own test-set evaluation "
        f"({_num(evaluated)}); interval of live - evaluation, bootstrap.",
        "",
        f"| window | rows | {metric} | change | interval | dropped |",
        "| --- | ---: | ---: | ---: | --- | :---: |",
    ]
    for name, w in [("all", p.overall), *((_when(w.start), w) for w in p.windows)]:
        i = w.interval
        span = f"[{i.low:+.3f}, {i.high:+.3f}] ({i.confidence:.1%})" if i else "n/a"
        change = f"{i.estimate:+.4f}" if i else "n/a"
        lines.append(
            f"| {name} | {w.rows:,} | {_num(w.metrics.get(metric))} | {change} | {span} "
            f"| {'**yes**' if w.dropped else 'no'} |"
        )
    return lines


def _when(t: float | None) -> str:
    if t is None:
        return "?"
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def as_dict(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Plain data for ``--json``: every part, and the verdicts drawn from them."""
    return {"format": JSON_FORMAT, "models": [_data(o) for o in outcomes]}


def _data(o: Outcome) -> dict[str, Any]:
    raw = dataclasses.asdict(o)
    raw["status"] = o.status
    raw["concept_drift"] = o.concept_drift
    raw["data"] = _drift_data(o.data)
    raw["predictions"] = _drift_data(o.predictions) if o.predictions is not None else None
    raw["log_problems"] = [p.render() for p in o.log_problems]
    raw["log_duplicate_lines"] = [p.render() for p in o.log_duplicate_lines]
    if o.health is not None:
        raw["health"]["error_rate"] = o.health.error_rate
        raw["health"]["rate_per_second"] = o.health.rate_per_second
    if o.performance is not None:
        raw["performance"]["dropped"] = o.performance.dropped
    return _finite(raw)


def _drift_data(drift: DataDrift) -> dict[str, Any]:
    return {
        "drifted": drift.drifted,
        "share": drift.share,
        "drift_share": drift.drift_share,
        "psi_threshold": drift.psi_threshold,
        "skipped": list(drift.skipped),
        "features": [dataclasses.asdict(f) for f in drift.ranked],
        "dates": [dataclasses.asdict(f) for f in drift.dates],
    }


def _finite(value: Any) -> Any:
    # JSON has no NaN or infinity: an undefined figure is null
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
