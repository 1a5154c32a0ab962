"""Metric diffs, gates, params/data/confusion diffs and whole-model comparisons."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from engine.data.profile import ColumnProfile, DataProfile
from engine.definitions.formats import Gate
from engine.review.compare import (
    compare_model,
    confusion,
    diff_metrics,
    diff_params,
    model_verdict,
    overall,
)
from engine.review.evaluation import Evaluation
from engine.review.gates import evaluate_gates
from engine.review.shift import data_shift
from engine.review.significance import Interval
from engine.training.evaluate import compute

CI_UP = Interval(0.01, 0.03, 0.02, 1000)
CI_DOWN = Interval(-0.03, -0.01, -0.02, 1000)
CI_ZERO = Interval(-0.01, 0.03, 0.01, 1000)


def by_metric(diffs):
    return {d.metric: d for d in diffs}


# --- metric diffs -------------------------------------------------------------------------


def test_direction_decides_better_or_worse():
    diffs = by_metric(
        diff_metrics({"accuracy": 0.90, "rmse": 2.0}, {"accuracy": 0.92, "rmse": 2.5})
    )
    assert diffs["accuracy"].verdict == "better"
    assert diffs["accuracy"].delta == pytest.approx(0.02)
    assert diffs["accuracy"].delta_pct == pytest.approx(2.0 / 0.9)
    assert diffs["rmse"].verdict == "worse" and diffs["rmse"].lower_is_better


def test_cross_validation_figures_get_no_verdict_without_an_interval():
    base = {"cv_accuracy": 0.95, "cv_accuracy_std": 0.01, "accuracy": 0.9}
    head = {"cv_accuracy": 0.93, "cv_accuracy_std": 0.03, "accuracy": 0.9}
    diffs = by_metric(diff_metrics(base, head))
    assert diffs["cv_accuracy"].verdict == "informational"
    assert diffs["cv_accuracy_std"].verdict == "informational"
    assert diffs["cv_accuracy"].delta == pytest.approx(-0.02)  # the figure is still shown
    with_ci = by_metric(diff_metrics(base, head, intervals={"cv_accuracy": CI_DOWN}))
    assert with_ci["cv_accuracy"].verdict == "worse"
    # a spread of any kind (a search's score std...) is no verdict without an interval
    spread = by_metric(diff_metrics({"score_std": 0.01}, {"score_std": 0.05}))
    assert spread["score_std"].verdict == "informational"


@pytest.mark.parametrize(
    "metric, interval, verdict",
    [
        ("accuracy", CI_UP, "better"),
        ("accuracy", CI_DOWN, "worse"),
        ("accuracy", CI_ZERO, "no significant change"),
        ("log_loss", CI_UP, "worse"),
        ("log_loss", CI_DOWN, "better"),
        ("log_loss", CI_ZERO, "no significant change"),
    ],
)
def test_an_interval_decides_the_verdict(metric, interval, verdict):
    # the point delta says "up" every time; only the interval counts
    (diff,) = diff_metrics({metric: 0.5}, {metric: 0.6}, intervals={metric: interval})
    assert diff.verdict == verdict and diff.interval is interval


def test_missing_nan_and_one_sided_metrics():
    base = {"accuracy": 0.9, "f1": float("nan"), "old": 0.5, "auc": None}
    head = {"accuracy": 0.9, "f1": 0.8, "new": 0.7, "auc": None}
    diffs = by_metric(diff_metrics(base, head, ["accuracy", "f1", "old", "new", "auc", "gone"]))
    assert diffs["accuracy"].verdict == "no significant change"
    assert diffs["f1"].verdict == "n/a" and diffs["f1"].delta is None
    assert diffs["old"].verdict == "removed" and diffs["new"].verdict == "new"
    assert diffs["auc"].verdict == "n/a"
    assert diffs["gone"].verdict == "n/a"
    assert [d.verdict for d in diff_metrics(None, head)] == ["new"] * 4
    assert [d.verdict for d in diff_metrics(base, None)] == ["removed"] * 4


def test_relative_change_of_a_zero_base_is_undefined():
    (diff,) = diff_metrics({"mae": 0.0}, {"mae": 0.1})
    assert diff.delta == pytest.approx(0.1) and diff.delta_pct is None


# --- gates --------------------------------------------------------------------------------


def statuses(results):
    return [(r.metric, r.check, r.against, r.status) for r in results]


def test_floors_and_ceilings_are_inclusive():
    gates = {"f1": Gate(min=0.93), "log_loss": Gate(max=0.3)}
    assert {r.status for r in evaluate_gates(gates, {"f1": 0.93, "log_loss": 0.3}, {})} == {"pass"}
    failed = evaluate_gates(gates, {"f1": 0.929, "log_loss": 0.31}, {})
    assert [r.status for r in failed] == ["fail", "fail"]


def test_absolute_max_drop_against_each_baseline_ignores_float_noise():
    gates = {"f1": Gate(max_drop=0.01)}
    results = evaluate_gates(
        gates, {"f1": 0.94}, {"base": {"f1": 0.95}, "production": {"f1": 0.96}}
    )
    assert statuses(results) == [
        ("f1", "max_drop", "base", "pass"),  # 0.95 - 0.94 is 0.010000000000000009
        ("f1", "max_drop", "production", "fail"),
    ]
    assert results[1].threshold == pytest.approx(0.95)


def test_relative_max_drop_is_direction_aware():
    gates = {"rmse": Gate(max_drop="5%"), "accuracy": Gate(max_drop="2%")}
    ok = evaluate_gates(
        gates, {"rmse": 52.4, "accuracy": 0.882}, {"base": {"rmse": 50.0, "accuracy": 0.9}}
    )
    assert [r.status for r in ok] == ["pass", "pass"]
    bad = evaluate_gates(
        gates, {"rmse": 52.6, "accuracy": 0.88}, {"base": {"rmse": 50.0, "accuracy": 0.9}}
    )
    assert [r.status for r in bad] == ["fail", "fail"]
    assert bad[0].threshold == pytest.approx(52.5)
    assert bad[1].threshold == pytest.approx(0.882)


def test_gates_that_cannot_be_checked():
    gates = {"roc_auc": Gate(min=0.9, max_drop=0.01)}
    results = evaluate_gates(gates, {"roc_auc": None}, {"base": {"roc_auc": 0.95}})
    assert [r.status for r in results] == ["not comparable", "not comparable"]
    assert results[0].message == "roc_auc is missing on head"
    nan = evaluate_gates({"f1": Gate(min=0.5)}, {"f1": float("nan")}, {})
    assert nan[0].status == "not comparable" and "NaN" in nan[0].message
    skipped = evaluate_gates(
        {"f1": Gate(max_drop=0.01)}, {"f1": 0.9}, {"base": None, "staging": {"acc": 1.0}}
    )
    assert [r.status for r in skipped] == ["skipped", "skipped"]
    assert skipped[0].message == "no base version to compare with"


def test_an_unchecked_bound_keeps_its_threshold_and_names_no_baseline():
    results = evaluate_gates({"rmse": Gate(max=0.3, max_drop="5%")}, {}, {"base": {"rmse": 0.2}})
    bound, drop = results
    assert (bound.check, bound.threshold, bound.against) == ("max", 0.3, None)
    assert (drop.check, drop.against, drop.reference) == ("max_drop", "base", 0.2)
    assert bound.message == drop.message == "rmse is missing on head"


def test_model_and_overall_verdicts():
    passed = evaluate_gates({"f1": Gate(min=0.5)}, {"f1": 0.9}, {})
    failed = evaluate_gates({"f1": Gate(min=0.95)}, {"f1": 0.9}, {})
    unknown = evaluate_gates({"f1": Gate(min=0.5)}, {}, {})
    assert model_verdict(passed, None) == "pass"
    assert model_verdict(failed + unknown, None) == "fail"
    assert model_verdict(passed + unknown, None) == "not comparable"


# --- params, confusion, data --------------------------------------------------------------


def test_params_diff_is_flat_and_type_aware():
    base = {"estimator": {"n_estimators": 200, "max_depth": 8, "bootstrap": True}, "cv": 3}
    head = {"estimator": {"n_estimators": 300, "max_depth": 8, "bootstrap": 1}, "seed": 0}
    changes = [(c.name, c.status, c.base, c.head) for c in diff_params(base, head)]
    assert changes == [
        ("cv", "removed", 3, None),
        ("estimator.bootstrap", "modified", True, 1),
        ("estimator.n_estimators", "modified", 200, 300),
        ("seed", "added", None, 0),
    ]
    assert diff_params(base, base) == ()


def test_confusion_matrix_follows_the_model_class_order():
    ev = Evaluation(
        "m",
        "v",
        "classification",
        {},
        [0, 1, 2, 3, 4],
        [2, 10, 10, 2, 3],
        [2, 10, 2, 2, 10],
        classes=[2, 3, 10],
    )
    matrix = confusion(ev)
    assert matrix is not None and matrix.labels == ("2", "3", "10")
    assert matrix.counts == ((2, 0, 0), (0, 0, 1), (1, 0, 1))
    labels = Evaluation("m", "v", "classification", {}, [0, 1], ["b", "a"], ["b", "b"])
    assert confusion(labels).labels == ("a", "b")
    assert confusion(Evaluation("m", "v", "regression", {}, [0], [1.0], [1.0])) is None


def test_data_shift_measures_numeric_and_categorical_columns():
    base = DataProfile(
        100,
        3,
        "h1",
        (
            ColumnProfile("x", "double", mean=10.0, std=2.0),
            ColumnProfile("c", "string", nulls=10, top=(("a", 60), ("b", 30))),
            ColumnProfile("gone", "double", mean=1.0, std=1.0),
            ColumnProfile("flat", "double", mean=1.0, std=0.0),
        ),
    )
    head = DataProfile(
        200,
        3,
        "h2",
        (
            ColumnProfile("x", "double", mean=11.0, std=2.0),
            ColumnProfile("c", "string", nulls=0, top=(("a", 100), ("b", 60), ("c", 40))),
            ColumnProfile("flat", "double", mean=1.5, std=0.0),
            ColumnProfile("new", "double", mean=0.0, std=1.0),
        ),
    )
    shift = {s.column: s for s in data_shift(base, head)}
    assert shift["x"].shift == pytest.approx(0.5) and shift["x"].flagged
    # shares a .6 b .3 null .1 vs a .5 b .3 c .2: TVD = (.1 + 0 + .1 + .2) / 2
    assert shift["c"].kind == "categorical" and shift["c"].shift == pytest.approx(0.2)
    assert shift["flat"].shift == math.inf
    assert (shift["new"].kind, shift["gone"].kind) == ("added", "removed")


def test_a_profile_survives_its_json_round_trip():
    original = DataProfile(
        10, 1, "abc", (ColumnProfile("x", "double", 1, 1.0, 0.5, 0.0, 2.0, (("a", 3),)),)
    )
    stored = json.loads(json.dumps(dataclasses.asdict(original)))
    assert DataProfile.from_dict(stored) == original


# --- one model ----------------------------------------------------------------------------

METRICS = ["accuracy", "f1", "roc_auc"]


def classifier_eval(version, y, skill, seed, ids=None, **extra):
    rng = np.random.default_rng(seed)
    right = rng.random(y.size) < skill
    pred = np.where(right, y, 1 - y)
    p1 = np.clip(np.where(pred == 1, 0.8, 0.2) + rng.normal(0, 0.05, y.size), 0.01, 0.99)
    proba = np.column_stack([1 - p1, p1])
    scores = compute(METRICS, y, pred, proba, [0, 1])
    ids = np.arange(y.size) if ids is None else ids
    return Evaluation(
        "cancer-rf", version, "classification", scores, ids, y, pred, proba, [0, 1], **extra
    )


def test_a_paired_comparison_with_gates_environments_and_history():
    y = np.random.default_rng(0).integers(0, 2, 600)
    base = classifier_eval("b" * 12, y, 0.80, 1, params={"n": 1})
    head = classifier_eval(
        "h" * 12, y, 0.90, 2, params={"n": 2}, history=[("a" * 12, 0.7), ("b" * 12, 0.8)]
    )
    result = compare_model(
        head,
        base,
        metrics=METRICS,
        primary_metric="f1",
        gates={"f1": Gate(min=0.5, max_drop=0.01)},
        environments={"production": base, "staging": None},
    )
    assert result.status == "changed" and result.verdict == "pass"
    assert result.vs_base.paired_rows == 600 and result.vs_base.mcnemar is not None
    assert result.vs_base.mcnemar.p_value < 1e-4
    assert {d.verdict for d in result.vs_base.metrics} == {"better"}
    assert [e.label for e in result.environments] == ["production", "staging"]
    assert [g.against for g in result.gates] == [None, "base", "production", "staging"]
    assert result.params[0].name == "n"
    assert result.history[-1] == ("h" * 12, head.metrics["f1"])
    assert result.confusion is not None and sum(map(sum, result.confusion.counts)) == 600


def test_an_unchanged_version_is_compared_without_resampling():
    y = np.random.default_rng(0).integers(0, 2, 100)
    head = classifier_eval("h" * 12, y, 0.9, 2)
    same = compare_model(head, head, metrics=METRICS, gates={"f1": Gate(max_drop=0.0)})
    assert (same.status, same.verdict) == ("unchanged", "pass")
    assert same.vs_base.identical and same.vs_base.paired
    assert {d.verdict for d in same.vs_base.metrics} == {"no significant change"}


def test_new_removed_and_unpaired_models():
    y = np.random.default_rng(0).integers(0, 2, 200)
    head = classifier_eval("h" * 12, y, 0.9, 2)
    new = compare_model(head, None, metrics=METRICS, gates={"f1": Gate(min=0.5, max_drop=0.1)})
    assert (new.status, new.verdict) == ("new", "pass")
    assert {d.verdict for d in new.vs_base.metrics} == {"new"}
    removed = compare_model(None, head, gates={"f1": Gate(min=0.99)})
    assert (removed.status, removed.verdict, removed.gates) == ("removed", "removed", ())
    other_rows = classifier_eval("b" * 12, y[:150], 0.8, 1)
    unpaired = compare_model(head, other_rows, metrics=METRICS)
    assert unpaired.verdict == "not comparable"
    assert "score the base version" in unpaired.vs_base.note
    assert all(d.interval is None for d in unpaired.vs_base.metrics)
    with pytest.raises(ValueError):
        compare_model(None, None)


def test_a_single_class_test_set_is_not_comparable_on_auc():
    y = np.zeros(80, dtype=int)
    base, head = classifier_eval("b" * 12, y, 0.8, 1), classifier_eval("h" * 12, y, 0.9, 2)
    assert head.metrics["roc_auc"] is None
    result = compare_model(
        head, base, metrics=METRICS, gates={"roc_auc": Gate(min=0.9)}, rescored=True
    )
    diffs = by_metric(result.vs_base.metrics)
    assert diffs["roc_auc"].verdict == "n/a" and diffs["roc_auc"].interval is None
    assert diffs["accuracy"].interval is not None
    assert result.verdict == "not comparable" and result.rescored


def test_a_base_rescored_on_fewer_rows_is_compared_with_the_head_on_those_rows():
    """The base was scored only on the head's test rows it never trained on; the Δ and the
    max_drop gate compare it with the head on those rows, not on the whole test set."""
    y = np.random.default_rng(4).integers(0, 2, 400)
    head = classifier_eval("h" * 12, y, 0.80, 2)
    keep = np.arange(400) >= 100  # the first 100 were in the base's training rows
    rows = np.flatnonzero(keep)
    head_on_rows = dataclasses.replace(
        head,
        metrics=compute(METRICS, y[keep], np.asarray(head.y_pred)[keep], head.proba[keep], [0, 1]),
        row_ids=rows,
        y_true=y[keep],
        y_pred=np.asarray(head.y_pred)[keep],
        proba=head.proba[keep],
    )
    base = classifier_eval("b" * 12, y[keep], 0.80, 3, ids=rows)
    gates = {"accuracy": Gate(max_drop=0.5)}
    result = compare_model(
        head, base, metrics=METRICS, gates=gates, heads={"base": head_on_rows}, rescored=True
    )
    assert result.vs_base.paired_rows == 300 and result.fair
    accuracy = by_metric(result.vs_base.metrics)["accuracy"]
    assert accuracy.head == head_on_rows.metrics["accuracy"] != head.metrics["accuracy"]
    (drop,) = [g for g in result.gates if g.check == "max_drop"]
    assert drop.value == head_on_rows.metrics["accuracy"]
    # without the head on the same rows, the two versions are not paired at all
    unpaired = compare_model(head, base, metrics=METRICS, rescored=True, fair=False)
    assert not unpaired.vs_base.paired and not unpaired.fair


def test_overall_is_the_worst_verdict():
    y = np.random.default_rng(0).integers(0, 2, 100)
    head = classifier_eval("h" * 12, y, 0.9, 2)
    ok = compare_model(head, None, metrics=METRICS)
    bad = compare_model(head, None, metrics=METRICS, gates={"f1": Gate(min=0.99)})
    gone = compare_model(None, head)
    assert overall([ok, gone]) == "pass" and overall([ok, bad]) == "fail" and overall([]) == "pass"


def test_ids_and_dates_get_no_shift_row():
    """Issue 11: an id column and a date column (strings until dates get a type) got
    data-shift rows that say nothing: every value of theirs is new."""

    def profile(offset):
        return DataProfile(
            100,
            4,
            profiles=(
                ColumnProfile("id", "string", top=(("p00001", 1), ("p00002", 1))),
                ColumnProfile("day", "string", top=((f"2024-01-{10 + offset}", 1),)),
                ColumnProfile("at", "timestamp[s]"),
                ColumnProfile("x", "double", mean=1.0 + offset, std=1.0),
            ),
        )

    shifted = data_shift(profile(0), profile(1), skip=["id"])
    assert [s.column for s in shifted] == ["x"]
    assert [s.column for s in data_shift(profile(0), profile(1))] == ["id", "x"]


def test_a_constant_base_column_that_moves_shows_the_sign_of_its_infinite_shift():
    """A base column with no spread that moves any amount is infinitely many deviations
    away: the row says which way (it showed the same infinity for a fall as for a rise)."""
    from engine.review import sections

    def profile(mean):
        return DataProfile(100, 1, profiles=(ColumnProfile("x", "double", mean=mean, std=0.0),))

    rows = {}
    for head in (2.0, 0.5, 1.0):
        (shift,) = data_shift(profile(1.0), profile(head))
        rows[head] = sections._shift_row(shift, (100, 100)).split(" | ")[-1]
    sigma = "σ"  # noqa: RUF001 - the standard deviation's symbol
    assert rows == {2.0: f"+∞{sigma} ⚠️ |", 0.5: f"-∞{sigma} ⚠️ |", 1.0: f"+0.00{sigma} |"}
