"""Pins and the pure half of a promotion: checks, commit messages, rollback choice."""

from __future__ import annotations

import hashlib

import pytest

from engine.environments.pins import (
    Pin,
    PromotionError,
    check_request,
    check_version,
    choose_rollback,
    parse_pin,
    promotion_message,
    render,
    rollback_message,
)


def fp(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def pin(label: str, **kw: object) -> Pin:
    values: dict[str, object] = {
        "model": "cancer-rf",
        "version": fp(label)[:12],
        "fingerprint": fp(label),
        "environment": "staging",
        "source_commit": "c" * 40,
        "pr": 7,
        "promoted_by": "ada",
        "promoted_at": "2025-03-01T12:00:00Z",
        "metrics": {"f1": 0.95, "auc": None},
    }
    values.update(kw)
    return Pin.model_validate(values)


def test_a_pin_survives_render_and_parse() -> None:
    original = pin("v1", previous=fp("v0"), action="rollback")
    text = render(original)
    assert text.startswith("# Pinned by mlops: cancer-rf@")
    assert parse_pin(text.encode(), "mlops/deployments/cancer-rf.yaml") == original


def test_the_promotion_message_ends_with_trailers() -> None:
    new = pin("v2", previous=fp("v1"))
    message = promotion_message(new, pin("v1"), "ada")
    subject, _, rest = message.partition("\n\n")
    body, _, trailers = rest.partition("\n\n")
    assert subject == f"Promote cancer-rf@{fp('v2')[:12]} to staging"
    assert f"Replaces {fp('v1')[:12]}." in body
    assert trailers.splitlines() == [
        "Model: cancer-rf",
        f"Version: {fp('v2')[:12]}",
        "Environment: staging",
        "Promoted-by: ada",
        "Source-PR: #7",
        f"Source-Commit: {'c' * 40}",
    ]
    assert "First version" in promotion_message(pin("v1", pr=None), None, "ada")
    assert "Source-PR" not in promotion_message(pin("v1", pr=None), None, "ada")


def test_the_rollback_message_says_what_it_replaced() -> None:
    message = rollback_message(pin("v1", action="rollback"), pin("v2"), "grace", 12)
    lines = message.splitlines()
    assert lines[0] == f"Roll back cancer-rf in staging to {fp('v1')[:12]}"
    assert lines[-3:] == [
        f"Source-Commit: {'c' * 40}",
        f"Rolled-back-from: {fp('v2')[:12]}",
        "Requested-in: #12",
    ]
    assert "Promoted-by: grace" in lines
    assert "Requested-in" not in rollback_message(pin("v1"), pin("v2"), "grace", None)


@pytest.mark.parametrize(
    "field",
    [
        {"model": "../etc"},
        {"model": ""},
        {"model": "x" * 65},
        {"model": "café"},
        {"environment": "prod\nModel: evil"},
        {"actor": "ada\nSource-PR: #1"},
        {"actor": "-ada"},
        {"actor": "a" * 40},
        {"actor": "ada[bot]x"},
        {"pr": 0},
        {"pr": True},
        {"fingerprint": "a" * 63},
        {"fingerprint": "A" * 64},
        {"source_commit": "main"},
        {"source_commit": "c" * 39},
        {"branch": "-f"},
        {"branch": "env/../main"},
        {"branch": "env//staging"},
        {"branch": "env/staging.lock"},
        {"branch": "env/staging/"},
        {"branch": "env staging"},
    ],
)
def test_unsafe_values_are_refused(field: dict[str, object]) -> None:
    request: dict[str, object] = {
        "model": "cancer-rf",
        "branch": "env/staging",
        "environment": "staging",
        "actor": "ada",
        "pr": 7,
        "fingerprint": fp("v1"),
        "source_commit": "c" * 40,
    }
    check_request(**request)  # type: ignore[arg-type]
    request.update(field)
    with pytest.raises(PromotionError):
        check_request(**request)  # type: ignore[arg-type]


def test_bots_and_long_shas_are_accepted() -> None:
    check_request(model="m", branch="env/prod", actor="github-actions[bot]", source_commit="d" * 64)
    assert check_version(" ABCDEF12 ") == "abcdef12"


def test_rollback_to_the_previous_skips_repeats_of_the_live_version() -> None:
    history = [pin("v3"), pin("v3", action="rollback"), pin("v2"), pin("v1")]
    assert choose_rollback(history, None, "cancer-rf", "staging").fingerprint == fp("v2")


def rolled_back(history: list[Pin]) -> str:
    """The label of the version a plain rollback of ``history`` (newest first) restores."""
    chosen = choose_rollback(history, None, "cancer-rf", "staging").fingerprint
    return next(f"v{i}" for i in range(10) if fp(f"v{i}") == chosen)


def test_a_second_rollback_goes_further_back_not_to_the_version_rolled_back_from() -> None:
    # v1, v2, v3, then a rollback to v2: the next rollback restores v1, never v3 again
    history = [pin("v2", action="rollback", previous=fp("v3")), pin("v3"), pin("v2"), pin("v1")]
    assert rolled_back(history) == "v1"
    back_to_v1 = [pin("v1", action="rollback", previous=fp("v2")), *history]
    with pytest.raises(PromotionError, match=r"first version staging ran.*rolled back; name one"):
        choose_rollback(back_to_v1, None, "cancer-rf", "staging")


def test_after_a_rollback_a_new_promotion_rolls_back_to_what_ran_before_it() -> None:
    # v1, v2, rollback to v1, v3: v1 ran before v3
    history = [pin("v3"), pin("v1", action="rollback"), pin("v2"), pin("v1")]
    assert rolled_back(history) == "v1"
    # v1, v2, rollback to v1, v2 promoted again, v3: v2 ran before v3
    again = [pin("v3"), pin("v2"), pin("v1", action="rollback"), pin("v2"), pin("v1")]
    assert rolled_back(again) == "v2"


def test_a_named_rollback_to_a_version_rolled_back_from_counts_as_bringing_it_back() -> None:
    # v1, v2, v3, rollback to v2, rollback to v3 by name: a plain rollback then gives v2
    history = [
        pin("v3", action="rollback"),
        pin("v2", action="rollback"),
        pin("v3"),
        pin("v2"),
        pin("v1"),
    ]
    assert rolled_back(history) == "v2"


def test_rollback_to_a_named_version_takes_its_newest_pin() -> None:
    history = [pin("v3"), pin("v1", promoted_by="grace"), pin("v2"), pin("v1")]
    chosen = choose_rollback(history, fp("v1")[:12], "cancer-rf", "staging")
    assert (chosen.fingerprint, chosen.promoted_by) == (fp("v1"), "grace")
    assert choose_rollback(history, fp("v2"), "cancer-rf", "staging").fingerprint == fp("v2")


@pytest.mark.parametrize(
    ("history", "to", "message"),
    [
        ([], None, "never pinned"),
        (["v1", "v1"], None, "only version ever pinned"),
        (["v1"], "0000", "never pinned in staging for cancer-rf; versions it had"),
        (["v1"], "xyz", "is not a version"),
        (["v1"], "abc", "is not a version"),
    ],
)
def test_rollback_refusals(history: list[str], to: str | None, message: str) -> None:
    with pytest.raises(PromotionError, match=message):
        choose_rollback([pin(label) for label in history], to, "cancer-rf", "staging")


def test_an_ambiguous_prefix_is_refused() -> None:
    labels = [f"v{i}" for i in range(400)]
    by_prefix: dict[str, list[str]] = {}
    for label in labels:
        by_prefix.setdefault(fp(label)[:4], []).append(label)
    twins = next(group for group in by_prefix.values() if len(group) > 1)
    with pytest.raises(PromotionError, match="ambiguous"):
        choose_rollback([pin(x) for x in twins], fp(twins[0])[:4], "cancer-rf", "staging")


@pytest.mark.parametrize("version", ["3e4507281234", "123456789012", "1e10", "abcdef012345"])
def test_hex_ids_that_look_like_numbers_stay_text(version: str) -> None:
    # 3e4507281234 is a float to a YAML 1.2 reader; the pin must still read back as text.
    fingerprint = version + "0" * (64 - len(version))
    original = pin("x", version=version, fingerprint=fingerprint, source_commit="1e" + "0" * 38)
    text = render(original)
    assert f"version: '{version}'" in text
    assert parse_pin(text.encode(), "mlops/deployments/cancer-rf.yaml") == original
