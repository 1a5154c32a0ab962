"""The monitoring report as one self-contained HTML page, charts drawn as inline SVG.

For people who would rather look than read: per model a verdict, the drift table, a bar
chart per drifted feature (reference against current shares), prediction drift and a
chart of live performance per window. No script and no network: a Content-Security-Policy
forbids fetching anything, and every text that came from data (feature names, category
values) is escaped, so a crafted column name cannot inject markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from engine.monitoring.drift import DataDrift, FeatureDrift
from engine.monitoring.outcome import Outcome
from engine.monitoring.performance import Performance
from engine.monitoring.report import VERDICTS, _method, _score, _span, _when

CHARTS = 6
"""Features drawn per model: the drifted ones first."""
_W, _H, _PAD = 520, 220, 36
_REF, _CUR = "#4c78a8", "#f58518"
_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{font-size:1.5rem}h2{margin-top:2.5rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.25rem .6rem;border:1px solid #ddd}
th{background:#f5f5f5}td.n{text-align:right}.yes{color:#b00020;font-weight:600}
.badge{display:inline-block;padding:.1rem .5rem;border-radius:.6rem;color:#fff}
.ok{background:#2e7d32}.bad{background:#b00020}.charts{display:flex;flex-wrap:wrap;gap:1rem}
figure{margin:0}figcaption{font-weight:600}.key rect{stroke:none}
"""


def html(outcomes: Sequence[Outcome]) -> str:
    """The whole page."""
    body = "\n".join(_model(o) for o in outcomes)
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' "
        "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        "<title>mlops monitor</title>"
        f"<style>{_STYLE}</style></head><body><h1>Monitoring report</h1>\n{body}\n"
        "</body></html>\n"
    )


def _model(o: Outcome) -> str:
    badge = "ok" if o.status == "ok" else "bad"
    parts = [
        f"<section class='model' data-status='{o.status}'>",
        f"<h2>{escape(o.model)} in {escape(o.environment)} "
        f"<span class='badge {badge}'>{escape(VERDICTS[o.status])}</span></h2>",
        f"<p>Version <code>{escape(o.version)}</code> from commit "
        f"<code>{escape(o.source_commit[:12])}</code>. Reference: {escape(o.reference)}. "
        f"Current: {escape(o.current)} ({o.current_rows:,} rows).</p>",
        "<h3>Data drift</h3>",
        _drift(o.data),
    ]
    if o.predictions is not None:
        parts += ["<h3>Prediction drift</h3>", _drift(o.predictions)]
    if o.quality:
        items = "".join(
            f"<li><b>{f.severity}</b> <code>{escape(f.column or '(batch)')}</code> "
            f"{f.check}: {escape(f.message)}</li>"
            for f in o.quality
        )
        parts.append(f"<h3>Data quality</h3><ul class='quality'>{items}</ul>")
    if o.health is not None:
        h = o.health
        parts.append(
            "<h3>Service health</h3><table><tr><th>requests</th><th>errors</th>"
            "<th>p50 ms</th><th>p95 ms</th><th>p99 ms</th></tr>"
            f"<tr><td class=n>{h.requests:,}</td><td class=n>{h.error_rate:.2%}</td>"
            + "".join(
                f"<td class=n>{'' if v is None else f'{v:.1f}'}</td>"
                for v in (h.p50_ms, h.p95_ms, h.p99_ms)
            )
            + "</tr></table>"
        )
    if o.performance is not None:
        parts += ["<h3>Live performance</h3>", _performance(o.performance, o.concept_drift)]
    parts += [f"<p class='note'>Note: {escape(note)}.</p>" for note in o.notes]
    parts.append("</section>")
    return "\n".join(parts)


def _drift(drift: DataDrift) -> str:
    if not drift.features:
        return "<p>Nothing could be tested.</p>" + _dates(drift)
    rows = "".join(
        f"<tr><td><code>{escape(f.name)}</code></td><td>{f.kind}</td><td>{_method(f)}</td>"
        f"<td class=n>{_score(f)}</td><td class=n>{f.threshold:g}</td>"
        f"<td class=n>{f.psi:.3f}</td>"
        f"<td class='{'yes' if f.drifted else 'no'}'>{'yes' if f.drifted else 'no'}</td></tr>"
        for f in drift.ranked
    )
    table = (
        f"<p>{len(drift.drifted_features)} of {len(drift.features)} drifted "
        f"({drift.share:.0%}; drifted at {drift.drift_share:.0%}).</p>"
        "<table class='drift'><tr><th>feature</th><th>type</th><th>test</th><th>score</th>"
        f"<th>threshold</th><th>PSI</th><th>drifted</th></tr>{rows}</table>"
    )
    charts = "".join(_bars(f) for f in drift.ranked[:CHARTS])
    return f"{table}<div class='charts'>{charts}</div>{_dates(drift)}"


def _dates(drift: DataDrift) -> str:
    """Date columns: both ranges in dates and whether they moved (information, not drift)."""
    if not drift.dates:
        return ""
    rows = "".join(
        f"<tr><td><code>{escape(f.name)}</code></td>"
        f"<td>{escape(_span(f.reference_range))}</td><td>{escape(_span(f.current_range))}</td>"
        f"<td>{_method(f)}</td><td class=n>{_score(f)}</td><td class=n>{f.psi:.3f}</td>"
        f"<td>{'yes' if f.drifted else 'no'}</td></tr>"
        for f in drift.dates
    )
    charts = "".join(_bars(f) for f in drift.dates if f.drifted)
    return (
        "<h4>Dates</h4><p>Date columns are no model input, and production dates are newer "
        "than training dates by nature: a shift here is information, not drift.</p>"
        "<table class='dates'><tr><th>date column</th><th>reference</th><th>current</th>"
        f"<th>test</th><th>score</th><th>PSI</th><th>shifted</th></tr>{rows}</table>"
        f"<div class='charts'>{charts}</div>"
    )


def _bars(f: FeatureDrift) -> str:
    """Grouped bars: each bin's (or value's) share in the reference and in the current data."""
    n = min(len(f.labels), 20)
    if not n:
        return ""
    top = max([*f.reference_share[:n], *f.current_share[:n], 1e-9])
    inner_w, inner_h = _W - 2 * _PAD, _H - 2 * _PAD
    slot = inner_w / n
    bars = []
    for i in range(n):
        for j, (shares, colour) in enumerate(((f.reference_share, _REF), (f.current_share, _CUR))):
            height = shares[i] / top * inner_h
            x = _PAD + i * slot + j * slot / 2 + 1
            y = _PAD + inner_h - height
            bars.append(
                f"<rect x='{x:.1f}' y='{y:.1f}' width='{max(slot / 2 - 2, 1):.1f}' "
                f"height='{height:.1f}' fill='{colour}'><title>{escape(f.labels[i])}: "
                f"{shares[i]:.2%}</title></rect>"
            )
    first, last = escape(f.labels[0]), escape(f.labels[n - 1])
    verdict = " (shifted)" if f.kind == "date" else " (drifted)"
    caption = f"{escape(f.name)}{verdict if f.drifted else ''}"
    return (
        f"<figure class='chart'><figcaption>{caption}</figcaption>"
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{_W}' height='{_H}' role='img' "
        f"aria-label='{escape(f.name, quote=True)}'>"
        f"<line x1='{_PAD}' y1='{_H - _PAD}' x2='{_W - _PAD}' y2='{_H - _PAD}' stroke='#888'/>"
        + "".join(bars)
        + f"<text x='{_PAD}' y='{_H - 12}' font-size='11'>{first}</text>"
        f"<text x='{_W - _PAD}' y='{_H - 12}' font-size='11' text-anchor='end'>{last}</text>"
        f"<text x='{_PAD}' y='{_PAD - 8}' font-size='11'>max {top:.1%}</text>"
        f"<g class='key'><rect x='{_W - 190}' y='8' width='10' height='10' fill='{_REF}'/>"
        f"<text x='{_W - 176}' y='17' font-size='11'>reference</text>"
        f"<rect x='{_W - 110}' y='8' width='10' height='10' fill='{_CUR}'/>"
        f"<text x='{_W - 96}' y='17' font-size='11'>current</text></g></svg></figure>"
    )


def _performance(p: Performance, concept: bool) -> str:
    windows = [w for w in p.windows if w.metrics.get(p.metric) is not None] or [p.overall]
    baseline = p.evaluation.get(p.metric)
    values = [w.metrics[p.metric] or 0.0 for w in windows]
    low = min([*values, baseline if baseline is not None else values[0]]) - 0.05
    high = max([*values, baseline if baseline is not None else values[0]]) + 0.05
    inner_w, inner_h = _W - 2 * _PAD, _H - 2 * _PAD

    def y(v: float) -> float:
        return _PAD + inner_h - (v - low) / (high - low) * inner_h

    step = inner_w / max(len(windows) - 1, 1)
    points = " ".join(f"{_PAD + i * step:.1f},{y(v):.1f}" for i, v in enumerate(values))
    dots = "".join(
        f"<circle cx='{_PAD + i * step:.1f}' cy='{y(v):.1f}' r='4' "
        f"fill='{'#b00020' if w.dropped else _CUR}'><title>{_when(w.start)}: {v:.4f}"
        f"</title></circle>"
        for i, (v, w) in enumerate(zip(values, windows, strict=True))
    )
    line = (
        f"<line x1='{_PAD}' x2='{_W - _PAD}' y1='{y(baseline):.1f}' y2='{y(baseline):.1f}' "
        f"stroke='{_REF}' stroke-dasharray='6 4'/>"
        if baseline is not None
        else ""
    )
    verdict = (
        "Concept drift: performance dropped while the inputs did not drift."
        if concept
        else "Performance dropped significantly."
        if p.dropped
        else "No significant drop."
    )
    return (
        f"<p>{verdict} {escape(p.metric)} per window (dots; red: a significant drop) against "
        "the version's test-set evaluation (dashed).</p>"
        f"<figure class='chart'><svg xmlns='http://www.w3.org/2000/svg' width='{_W}' "
        f"height='{_H}' role='img' aria-label='live {escape(p.metric)}'>{line}"
        f"<polyline points='{points}' fill='none' stroke='{_CUR}'/>{dots}</svg></figure>"
    )
