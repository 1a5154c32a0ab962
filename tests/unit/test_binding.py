"""Binding a comment command to the head its author saw: every rule, from plain values."""

from __future__ import annotations

import pytest

from engine.github.binding import Push, unbound

A = "a" * 40
T0, T1, T2, T3, T4 = (f"2026-01-01T10:0{m}:00Z" for m in range(5))


def test_a_head_reviewed_before_the_comment_with_no_force_push_is_bound() -> None:
    assert unbound(A, T2, T1, []) is None


def test_a_force_push_before_the_review_does_not_matter() -> None:
    assert unbound(A, T3, T2, [Push(T1, A)]) is None


def test_the_swap_back_attack_is_refused() -> None:
    """A reviewed at T0, B pushed and reviewed, comment at T2, A force-pushed back at T3."""
    reason = unbound(A, T2, T0, [Push(T3, A)])
    assert reason is not None and "force-pushed after your comment" in reason


def test_a_force_push_in_the_same_second_as_the_comment_is_refused() -> None:
    assert unbound(A, T2, T0, [Push(T2, A)]) is not None


def test_a_head_that_came_back_by_force_push_before_the_comment_is_refused() -> None:
    """A reviewed, force-pushed away and back: its old review no longer proves it was the head."""
    reason = unbound(A, T3, T0, [Push(T1, "b" * 40), Push(T2, A)])
    assert reason is not None and "after mlops reviewed" in reason


@pytest.mark.parametrize("reviewed", [None, T3])
def test_a_head_not_reviewed_before_the_comment_is_refused(reviewed: str | None) -> None:
    reason = unbound(A, T2, reviewed, [])
    assert reason is not None and "not reviewed by mlops before your comment" in reason


@pytest.mark.parametrize("commented", [None, "", "yesterday"])
def test_an_unknown_comment_time_is_refused(commented: str | None) -> None:
    assert unbound(A, commented, T0, []) is not None


def test_a_force_push_without_a_time_is_refused() -> None:
    assert unbound(A, T2, T1, [Push(None, A)]) is not None
