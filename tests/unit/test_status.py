"""``mlops status``'s table (pure): every version an environment serves, with its traffic."""

from __future__ import annotations

from engine.environments.bluegreen import promoted
from engine.environments.pins import Canary
from engine.environments.status import status_markdown
from tests.unit.test_pins import fp, pin

PRIMARY = {"cancer-rf": "f1"}


def table(model_pin) -> list[list[str]]:
    """The rows of staging's table with ``model_pin`` as cancer-rf's pin."""
    return rows(status_markdown(["staging"], {"staging": {"cancer-rf": model_pin}}, PRIMARY))


def rows(text: str) -> list[list[str]]:
    lines = text.splitlines()
    assert lines[0].startswith("| Environment | Model | Version | Traffic |")
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def fresh(label: str, actor: str, when: str, **kw: object):
    return pin(label, sha256=fp(f"{label}-file"), promoted_by=actor, promoted_at=when, **kw)


def test_a_direct_pin_is_one_row_with_all_the_traffic_and_an_empty_environment_says_so():
    table = status_markdown(
        ["staging", "production"], {"staging": {"cancer-rf": pin("v1")}}, PRIMARY
    )
    (direct, empty) = rows(table)
    assert direct == [
        "`staging`",
        "`cancer-rf`",
        f"`{fp('v1')[:12]}`",
        "100%",
        "f1 0.9500",
        "@ada",
        "2025-03-01T12:00:00Z",
        "#7",
    ]
    assert empty[:3] == ["`production`", "—", "nothing deployed"]


def test_blue_green_shows_the_live_slot_and_the_idle_one_with_its_role():
    live = fresh("v1", "ada", "2025-03-01T12:00:00Z").model_copy(update={"slot": "blue"})
    step = promoted(live, fresh("v2", "bob", "2025-03-02T09:00:00Z", metrics={"f1": 0.97}), "bob")
    assert step is not None
    staged = step[0]
    (first, second) = rows(
        status_markdown(["staging"], {"staging": {"cancer-rf": staged}}, PRIMARY)
    )
    assert first[2:6] == [f"`{fp('v1')[:12]}`", "100% (blue, live)", "f1 0.9500", "@ada"]
    assert second[:2] == ["`staging`", "`cancer-rf`"]
    assert second[2:7] == [
        f"`{fp('v2')[:12]}`",
        "0% (green, idle: staged)",
        "f1 0.9700",
        "@bob",
        "2025-03-02T09:00:00Z",
    ]

    step = promoted(staged, fresh("v2", "cy", "2025-03-03T09:00:00Z", metrics={"f1": 0.97}), "cy")
    assert step is not None
    (first, second) = rows(
        status_markdown(["staging"], {"staging": {"cancer-rf": step[0]}}, PRIMARY)
    )
    assert first[2:4] == [f"`{fp('v2')[:12]}`", "100% (green, live)"]
    assert second[2:4] == [f"`{fp('v1')[:12]}`", "0% (blue, idle: previous)"]


def test_a_blue_green_pin_with_one_slot_filled_is_one_row():
    live = pin("v1").model_copy(update={"slot": "green"})
    (only,) = table(live)
    assert only[3] == "100% (green, live)"


def test_a_canary_shows_both_versions_with_their_shares():
    canary = Canary(
        version=fp("v2")[:12],
        fingerprint=fp("v2"),
        sha256=fp("v2-file"),
        source_commit="d" * 40,
        percent=10,
        pr=9,
        promoted_by="bob",
        promoted_at="2025-03-02T09:00:00Z",
        metrics={"f1": 0.96},
    )
    stable = pin("v1", canary=canary)
    (first, second) = rows(
        status_markdown(["staging"], {"staging": {"cancer-rf": stable}}, PRIMARY)
    )
    assert first[2:4] == [f"`{fp('v1')[:12]}`", "90% (stable)"]
    assert second[2:] == [
        f"`{fp('v2')[:12]}`",
        "10% (canary)",
        "f1 0.9600",
        "@bob",
        "2025-03-02T09:00:00Z",
        "#9",
    ]


def test_a_model_no_longer_defined_and_a_missing_metric_show_dashes():
    old = pin("v1", metrics={}, pr=None, promoted_by="")
    (row,) = rows(status_markdown(["staging"], {"staging": {"gone": old}}, PRIMARY))
    assert row[1] == "`gone`" and row[4:] == ["—", "—", "2025-03-01T12:00:00Z", "—"]


def test_status_as_data_has_every_serving_version_with_its_share_and_role():
    """``mlops status --json`` (DESIGN: ``--json`` where output is data)."""
    from engine.environments.status import status_rows

    canary = Canary(
        version=fp("v2")[:12],
        fingerprint=fp("v2"),
        sha256=fp("v2-file"),
        source_commit="d" * 40,
        percent=10,
    )
    stable = pin("v1", canary=canary)
    rows = status_rows(["staging", "production"], {"staging": {"cancer-rf": stable}}, PRIMARY)
    assert [(r["version"], r["traffic_percent"], r["role"]) for r in rows] == [
        (fp("v1")[:12], 90, "stable"),
        (fp("v2")[:12], 10, "canary"),
    ]
    assert rows[0]["primary_metric"] == "f1" and rows[0]["value"] == 0.95
    assert {r["environment"] for r in rows} == {"staging"}


def test_a_pinned_model_the_default_branch_no_longer_defines_says_how_to_retire_it():
    pins = {"staging": {"cancer-rf": pin("v1")}, "production": {}}
    text = status_markdown(["staging", "production"], pins, PRIMARY, ("iris-logreg",), "trunk")
    assert text.splitlines()[-1] == (
        "🗑️ `cancer-rf` is no longer defined on `trunk`, yet `staging` still serves it: "
        "`/retire cancer-rf staging` (or `mlops retire cancer-rf --env staging`) stops it there."
    )
    defined = status_markdown(["staging"], pins, PRIMARY, ("cancer-rf",))
    assert "retire" not in defined
