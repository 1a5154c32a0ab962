"""The pure card rendering: environments section and a safe HTML page."""

from __future__ import annotations

from engine.environments.cards import Pinning, render, to_html
from engine.environments.pins import Pin
from engine.training.runs import VersionRecord

FP = "ab" * 32


def record(**fields):
    base = dict(
        model="m",
        fingerprint=FP,
        created="2025-01-02T03:04:05+00:00",
        task="classification",
        dataset="d",
    )
    return VersionRecord(**(base | fields))


def pin(env, **fields):
    base = dict(
        model="m",
        version=FP[:12],
        fingerprint=FP,
        environment=env,
        source_commit="c" * 40,
        promoted_by="grace",
        pr=7,
    )
    return Pin(**(base | fields))


def test_environments_list_each_pinning_and_where_it_is_live():
    text = render(
        record(),
        [
            Pinning("production", pin("production"), "1" * 40, "2025-01-03", live=True),
            Pinning("staging", pin("staging", action="rollback"), "2" * 40, "2025-01-02", False),
        ],
    )
    assert "Live in `production`." in text
    assert "| `production` | promote | @grace | 2025-01-03 | #7 | `111111111111` |" in text
    assert "| `staging` | rollback |" in text
    assert "No monitoring status recorded yet" in text


def test_a_version_never_promoted_says_so_and_monitoring_is_passed_through():
    text = render(record(), [], monitoring="drift: none in the last 7 days")
    assert "Not live anywhere." in text and "drift: none in the last 7 days" in text


def test_html_escapes_what_people_typed():
    page = to_html(render(record(author="<script>alert(1)</script>"), []))
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<table>" in page
