"""The drift issue's text: the marker, the title from names only, a neutralized and
capped body."""

from __future__ import annotations

from engine.forge import MAX_COMMENT_CHARS
from engine.github import alerts
from engine.monitoring.drift import DataDrift
from engine.monitoring.outcome import Outcome


def outcome() -> Outcome:
    return Outcome(
        model="churn",
        environment="staging",
        version="3e45a1c0d2b9ffff",
        source_commit="0" * 40,
        reference="sample",
        current="batch b.csv",
        reference_rows=10,
        current_rows=10,
        data=DataDrift(features=(), drift_share=0.5),
    )


def test_the_marker_and_title_name_model_and_environment() -> None:
    assert alerts.marker("churn", "staging") == "drift:churn:staging"
    assert alerts.title(outcome()) == "mlops: ok in churn (staging)"


def test_a_crafted_report_is_neutralized_and_a_huge_one_capped() -> None:
    crafted = "| `@octo/admins` | <img src=x> | [x](https://evil.example) | #1 |\n"
    text = alerts.body(outcome(), crafted * 5000, "https://github.com/o/r/actions/runs/1")
    assert len(text) <= MAX_COMMENT_CHARS
    assert "@octo" not in text and "<img" not in text and "](https://evil" not in text
    assert "](https://github.com/o/r/actions/runs/1)" in text  # the engine's own run link
