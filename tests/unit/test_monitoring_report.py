"""The monitoring report: markdown tables sorted by drift, Mermaid charts, JSON, HTML."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np

from engine.definitions.formats import Monitoring
from engine.errors import Problem
from engine.monitoring.drift import counts_of, data_drift
from engine.monitoring.health import Health
from engine.monitoring.outcome import Outcome
from engine.monitoring.page import html
from engine.monitoring.quality import Finding
from engine.monitoring.report import as_dict, markdown


def outcome() -> Outcome:
    rng = np.random.default_rng(0)
    reference = {"a": rng.normal(size=2000), "b": rng.normal(size=2000),
                 "c|d": counts_of(rng.choice(["x", "y"], 2000).tolist())}  # fmt: skip
    current = {"a": rng.normal(size=2000), "b": rng.normal(1.0, 1, 2000),
               "c|d": counts_of(rng.choice(["x", "y", '<b>"z"'], 2000).tolist())}  # fmt: skip
    return Outcome(
        model="m", environment="prod", version="abc123", source_commit="f" * 40,
        reference="stored sample", current="batch b.csv", reference_rows=2000,
        current_rows=2000, data=data_drift(reference, current, Monitoring()),
        quality=(Finding("c|d", "unseen-category", "new values", "warning"),),
        health=Health(10, 1, 12, 60.0, 2.0, 9.0, 11.0),
        log_problems=(Problem("logs/a.jsonl", 3, message="skipped: not JSON"),),
    )  # fmt: skip


def test_markdown_sorts_by_drift_and_charts_the_drifted_features() -> None:
    text = markdown([outcome()])
    assert text.startswith("## m in prod: data drift")
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert [r.split("`")[1] for r in rows] == ["b", "c\\|d", "a"]
    assert text.count("```mermaid") == 2 and "xychart-beta" in text
    assert '"bz"]' in text  # no quote or markup can break out of a Mermaid label
    assert "| 10 | 12 | 0.167/s | 1 | 10.00% | p50 2.0 ms, p95 9.0 ms, p99 11.0 ms |" in text
    assert "`logs/a.jsonl:3:1: error: skipped: not JSON`" in text


def test_json_is_plain_data_with_the_verdicts() -> None:
    data = json.loads(json.dumps(as_dict([outcome()])))
    schema = Path(__file__).parents[2] / "schemas" / "monitor-report.schema.json"
    jsonschema.validate(data, json.loads(schema.read_text()))
    (model,) = data["models"]
    assert model["status"] == "drift" and model["data"]["drifted"]
    assert [f["name"] for f in model["data"]["features"]] == ["b", "c|d", "a"]
    assert model["health"]["error_rate"] == 0.1 and model["log_problems"][0].endswith("JSON")


def test_html_is_self_contained_and_escaped() -> None:
    page = html([outcome()])
    assert (
        page.count("<svg") == 3
        and "<script" not in page
        and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    )
    assert "&lt;b&gt;&quot;z&quot;" in page and '<b>"z"' not in page
