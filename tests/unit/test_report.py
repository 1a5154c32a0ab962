"""The markdown report: golden files, the size limit, escaping, and bad input.

Golden files live in ``tests/golden/``. After an intended change to the rendering,
rewrite them with ``UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_report.py`` and
review the diff. Volatile values (content hashes, version ids, times) are masked on
both sides by ``mask_volatile``, so real runs can be compared the same way.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine.data.profile import ColumnProfile, DataProfile
from engine.definitions.formats import Gate
from engine.errors import Problem
from engine.review.compare import DefinitionChange, ModelComparison, compare_model
from engine.review.evaluation import Evaluation
from engine.review.report import DROPPABLE, MAX_CHARS, Marker, ReportInput, render, size
from engine.training.evaluate import compute

GOLDEN = Path(__file__).parents[1] / "golden"
MARKER = Marker("acme/models", 42, "mlops")


def mask_volatile(text: str) -> str:
    """Replace content hashes, version ids and timestamps with placeholders."""
    text = re.sub(r"\b[0-9a-f]{32,64}\b", "<hash>", text)
    text = re.sub(r"\b[0-9a-f]{12}\b", "<version>", text)
    return re.sub(
        r"\b\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?", "<time>", text
    )


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    got = mask_volatile(text)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1 to write it"
    assert got == path.read_text(encoding="utf-8")


# --- fixed inputs -------------------------------------------------------------------------

CLASSIFICATION = ["accuracy", "f1", "roc_auc", "log_loss"]


def classifier(model, version, y, skill, seed, classes=(0, 1), metrics=CLASSIFICATION, **extra):
    """A fixed classifier evaluation: right on a ``skill`` share of rows."""
    rng = np.random.default_rng(seed)
    k = len(classes)
    right = rng.random(y.size) < skill
    pred = np.where(right, y, (y + 1 + rng.integers(0, k - 1, y.size)) % k)
    proba = rng.dirichlet(np.ones(k), y.size) * 0.4
    proba[np.arange(y.size), pred] += 0.6
    scores = compute(list(metrics), y, pred, proba, list(classes))
    ids = extra.pop("ids", np.arange(y.size))
    return Evaluation(
        model, version, "classification", scores, ids, y, pred, proba, list(classes), **extra
    )


def regressor(model, version, y, noise, seed, **extra):
    rng = np.random.default_rng(seed)
    pred = y + rng.normal(0, noise, y.size)
    scores = compute(["rmse", "mae", "r2"], y, pred)
    return Evaluation(model, version, "regression", scores, np.arange(y.size), y, pred, **extra)


def cancer_data(shift: float) -> DataProfile:
    return DataProfile(
        569,
        31,
        # shifted data is other data: its content hash differs
        "5f0c3be8a6e1c2d4b9a7e8f1c3d2b6a4" if not shift else "9d1e7c2b4a3f5e6d8c0b1a2f3e4d5c6b",
        (
            ColumnProfile("mean radius", "double", 0, 14.13 + shift, 3.52, 6.98, 28.11),
            ColumnProfile("mean texture", "double", 0, 19.29, 4.30, 9.71, 39.28),
            ColumnProfile(
                "clinic",
                "string",
                3,
                top=(
                    ("north", 300),
                    ("south", 200 - int(shift * 50)),
                    ("east", 66 + int(shift * 50)),
                ),
            ),
        ),
    )


def pull_request() -> ReportInput:
    y = np.random.default_rng(0).integers(0, 2, 143)
    base = classifier(
        "cancer-rf",
        "3f2a9c1b7d4e",
        y,
        0.90,
        1,
        data=cancer_data(0.0),
        params={"estimator": {"n_estimators": 200, "max_depth": 8}},
    )
    head = classifier(
        "cancer-rf",
        "8b1e0d2c4a6f",
        y,
        0.96,
        2,
        data=cancer_data(1.2),
        params={"estimator": {"n_estimators": 300, "max_depth": 8, "min_samples_leaf": 2}},
        history=[("0d9e8f7a6b5c", 0.91), ("1a2b3c4d5e6f", None), ("3f2a9c1b7d4e", 0.905)],
    )
    cancer = compare_model(
        head,
        base,
        metrics=CLASSIFICATION,
        primary_metric="f1",
        gates={"f1": Gate(min=0.9, max_drop=0.02), "roc_auc": Gate(min=0.95)},
        environments={"production": base, "staging": None},
        changes=[
            DefinitionChange(
                "mlops/models/cancer-rf.yaml", "estimator.params.n_estimators 200 → 300"
            )
        ],
    )
    t = np.random.default_rng(3).normal(150, 70, 111)
    diabetes = compare_model(
        regressor("diabetes-ridge", "9c8b7a6f5e4d", t, 40, 4, params={"alpha": 1.0}),
        regressor("diabetes-ridge", "77aa66bb55cc", t, 30, 5, params={"alpha": 1.0}),
        metrics=["rmse", "mae", "r2"],
        primary_metric="rmse",
        gates={"r2": Gate(min=0.3), "rmse": Gate(max_drop="5%")},
        changes=[
            DefinitionChange(
                "mlops/features/standardized.yaml",
                'transforms.0.columns ["bmi", "bp", "s1"] → ["bmi", "bp"]',
            )
        ],
    )
    return ReportInput(
        [cancer, diabetes],
        MARKER,
        validation=[
            Problem(
                "mlops/models/wine-gb.yaml",
                9,
                5,
                "unknown key 'learning_rat'; did you mean 'learning_rate'?",
            )
        ],
        data_checks=[
            Problem(
                "mlops/datasets/churn.yaml", 12, 3, "column 'age': 2 values below min 0", "warning"
            )
        ],
        training_failures=[
            Problem("mlops/models/svm.yaml", 6, 3, "training failed: ValueError: C must be > 0")
        ],
        base_label="main@4e1f2a3",
        head_label="tune-forest@9b8c7d6",
        summary_url="https://github.com/acme/models/actions/runs/1",
    )


def edge_cases() -> ReportInput:
    y3 = np.random.default_rng(7).integers(0, 3, 38)
    iris = compare_model(
        classifier(
            "iris-logreg",
            "a1a1a1a1a1a1",
            y3,
            0.95,
            8,
            classes=(0, 1, 2),
            metrics=["accuracy", "f1_macro", "log_loss"],
        ),
        None,
        metrics=["accuracy", "f1_macro", "log_loss"],
        primary_metric="accuracy",
        gates={"accuracy": Gate(min=0.85, max_drop="2%")},
    )
    y = np.random.default_rng(9).integers(0, 2, 60)
    gone = compare_model(
        None,
        classifier("old-svm", "b2b2b2b2b2b2", y, 0.8, 10),
    )
    one_class = np.zeros(40, dtype=int)
    single = compare_model(
        classifier("fraud-rf", "c3c3c3c3c3c3", one_class, 0.97, 11),
        classifier("fraud-rf", "d4d4d4d4d4d4", one_class, 0.93, 12),
        metrics=CLASSIFICATION,
        primary_metric="roc_auc",
        gates={"roc_auc": Gate(min=0.9)},
        rescored=True,
        reason="the test rows changed, so d4d4d4d4d4d4 was scored again on c3c3c3c3c3c3's "
        "test set, none of which it trained on",
    )
    head = classifier("churn-gb", "e5e5e5e5e5e5", y, 0.85, 13)
    head = Evaluation(
        **{
            **head.__dict__,
            "metrics": {**head.metrics, "f1": float("nan"), "balanced_accuracy": 0.84},
        }
    )
    base = classifier("churn-gb", "f6f6f6f6f6f6", y[:50], 0.8, 14, ids=np.arange(100, 150))
    base = Evaluation(**{**base.__dict__, "metrics": {**base.metrics, "precision": 0.7}})
    unpaired = compare_model(
        head, base, metrics=CLASSIFICATION, primary_metric="f1", gates={"f1": Gate(max_drop=0.05)}
    )
    return ReportInput([iris, gone, single, unpaired], Marker("acme/models", 7, "mlops"))


# --- golden files -------------------------------------------------------------------------


def test_pull_request_report_matches_golden():
    check_golden("pull_request.md", render(pull_request()))


def test_edge_cases_match_golden():
    check_golden("edge_cases.md", render(edge_cases()))


def test_cut_report_matches_golden():
    report = pull_request()
    check_golden("cut.md", render(ReportInput(**{**report.__dict__, "limit": 4000})))


def test_nothing_changed_matches_golden():
    check_golden("nothing.md", render(ReportInput(marker=Marker("acme/models", None, "mlops"))))


# --- behaviour ----------------------------------------------------------------------------


def test_a_rescoring_that_may_overlap_training_rows_is_not_called_fair():
    y = np.random.default_rng(5).integers(0, 2, 120)
    head = classifier("churn-gb", "e5e5e5e5e5e5", y, 0.85, 13)
    base = classifier("churn-gb", "f6f6f6f6f6f6", y, 0.9, 14)
    for fair, says, never in (
        (True, "paired and fair", "not fair"),
        (False, "the comparison is not fair, and the base may look better", "paired and fair"),
    ):
        compared = compare_model(head, base, metrics=CLASSIFICATION, rescored=True, fair=fair)
        text = render(ReportInput([compared], Marker("acme/models", 7, "mlops")))
        assert says in text and never not in text


def test_marker_comes_first_and_identifies_the_report():
    text = render(ReportInput(marker=Marker("acme/models", 42, "ml ops -->")))
    assert (
        text.splitlines()[0] == "<!-- mlops-report repo=acme/models pr=42 workflow=ml_ops_--_ -->"
    )


def test_marker_parses_back():
    text = render(ReportInput(marker=MARKER))
    assert Marker.parse(text) == MARKER
    assert Marker.parse("<!-- mlops-report repo=a/b -->\nbody") == Marker("a/b")
    assert Marker.parse("a comment that quotes <!-- mlops-report repo=a/b -->") is None
    assert Marker.parse("<!-- mlops-report pr=3 -->") is None


def test_every_size_limit_is_respected_and_sections_go_in_order():
    report = pull_request()
    full = render(report)
    seen = []
    for limit in range(size(full), 400, -250):
        text = render(ReportInput(**{**report.__dict__, "limit": limit}))
        assert size(text) <= limit
        assert text.startswith(MARKER.render())
        seen.append(
            ("```mermaid" in text, "**Data**" in text, "**Confusion" in text, "<details>" in text)
        )
    # each section, once cut, stays cut as the limit shrinks; charts go first
    for i in range(4):
        flags = [s[i] for s in seen]
        assert flags == sorted(flags, reverse=True)
    just_over = render(ReportInput(**{**report.__dict__, "limit": size(full) - 1}))
    assert "```mermaid" not in just_over and "**Data**" in just_over
    assert "✂️ Charts … cut; the full report is in the [job summary]" in just_over


def many_models(n: int) -> list[ModelComparison]:
    y = np.random.default_rng(0).integers(0, 2, 200)
    base = classifier(
        "m", "3f2a9c1b7d4e", y, 0.9, 1, data=cancer_data(0.0), params={"n_estimators": 100}
    )
    head = classifier(
        "m",
        "8b1e0d2c4a6f",
        y,
        0.92,
        2,
        data=cancer_data(0.5),
        params={"n_estimators": 200},
        history=[("0d9e8f7a6b5c", 0.9)],
    )
    one = compare_model(
        head,
        base,
        metrics=CLASSIFICATION,
        primary_metric="f1",
        gates={"f1": Gate(min=0.9)},
        resamples=200,
    )
    fail = compare_model(
        head,
        base,
        metrics=CLASSIFICATION,
        primary_metric="f1",
        gates={"f1": Gate(min=0.99)},
        resamples=200,
    )
    return [
        ModelComparison(**{**(fail if i % 10 == 0 else one).__dict__, "model": f"model-{i:03d}"})
        for i in range(n)
    ]


def test_three_hundred_models_fit_in_one_comment():
    text = render(ReportInput(many_models(300), MARKER, summary_url="https://x.test/run"))
    assert size(text) <= MAX_CHARS
    assert "cut; the full report is in the [job summary](https://x.test/run)" in text
    assert "**300 models changed** · ✅ 270 passed · ❌ 30 failed" in text
    rows = [line for line in text.splitlines() if line.startswith("| **model-")]
    # failing models come first, so whatever is cut, they are shown
    assert [r.split("**")[1] for r in rows[:30]] == [f"model-{i:03d}" for i in range(0, 300, 10)]


def test_user_text_cannot_break_out():
    y = np.random.default_rng(0).integers(0, 2, 50)
    head = classifier("m", "8b1e0d2c4a6f", y, 0.9, 2, params={"kernel": "a|b <script>`x`"})
    base = classifier("m", "3f2a9c1b7d4e", y, 0.9, 1, params={"kernel": "rbf"})
    comparison = compare_model(head, base, reason="<img src=x> @octocat | pipe", rescored=True)
    text = render(
        ReportInput(
            [comparison],
            validation=[Problem("mlops/models/m.yaml", 1, 1, "bad value ```\n@team <b>")],
        )
    )
    assert "<img" not in text and "&lt;img src=x&gt;" in text
    assert "@\u200boctocat" in text and "\\| pipe" in text
    assert "`` a\\|b <script>`x` ``" in text  # inside a code span, nothing is HTML
    assert "````text\nmlops/models/m.yaml:1:1: error: bad value ```\n@team <b>\n````" in text


def test_headlines():
    assert "### ✅ mlops: no model changed" in render(ReportInput())
    report = edge_cases()
    assert "### ⚠️ mlops: 2 models not comparable" in render(report)
    failed = render(ReportInput(report.comparisons, training_failures=[Problem("a.yaml")]))
    assert "### ❌ mlops: 1 training failure" in failed


@pytest.mark.parametrize("name", ["pull_request.md", "edge_cases.md", "cut.md", "nothing.md"])
def test_golden_files_are_within_the_limit(name):
    assert size((GOLDEN / name).read_text(encoding="utf-8")) <= MAX_CHARS


def test_a_small_limit_cuts_sections_in_order_and_names_them():
    report = pull_request()
    text = render(ReportInput(**{**report.__dict__, "limit": 1500}))
    assert size(text) <= 1500
    note = next(line for line in text.splitlines() if line.startswith("> ✂️"))
    assert note.startswith(
        "> ✂️ Charts, data profiles, confusion matrices and per-model details … cut;"
    )
    assert "<details>" not in text and "| **" in text  # the model table stays
    assert DROPPABLE[:4] == ("chart", "data", "confusion", "details")


# --- issue 11: what a reviewer reads is true ----------------------------------------------


def chart_values(text: str) -> list[float]:
    line = next(x for x in text.splitlines() if x.strip().startswith("line ["))
    return [float(v) for v in line.strip()[len("line [") : -1].split(", ")]


def test_the_chart_plots_the_base_the_table_shows():
    """The chart plotted the base's stored figure (its own test set) while the table showed
    it scored again on head's rows: 2.741 against 2.214 in one report."""
    t = np.random.default_rng(3).normal(150, 70, 111)
    base = regressor("diabetes-ridge", "77aa66bb55cc", t, 30, 5)
    head = regressor(
        "diabetes-ridge",
        "9c8b7a6f5e4d",
        t,
        35,
        4,
        history=[("0d9e8f7a6b5c", 31.0), ("77aa66bb55cc", 99.5)],  # base as stored
    )
    compared = compare_model(head, base, metrics=["rmse"], primary_metric="rmse", rescored=True)
    text = render(ReportInput([compared]))
    table_base = compared.vs_base.metrics[0].base
    assert table_base is not None and f"{table_base:.4f}" in text
    assert chart_values(text) == [
        31.0,
        float(f"{table_base:.4g}"),
        float(f"{head.metrics['rmse']:.4g}"),
    ]
    assert "99.5" not in text
    assert "Base and head are plotted as in the table above" in text
    # other stored versions (other branches') sit between them: the axis names base and head
    assert 'x-axis ["0d9e8f7a6b5c", "base: 77aa66bb55cc", "head: 9c8b7a6f5e4d"]' in text


def test_the_chart_without_a_rescoring_has_no_note():
    t = np.random.default_rng(3).normal(150, 70, 111)
    base = regressor("m", "77aa66bb55cc", t, 30, 5)
    stored = base.metrics["rmse"]
    head = regressor("m", "9c8b7a6f5e4d", t, 35, 4, history=[("77aa66bb55cc", stored)])
    text = render(ReportInput([compare_model(head, base, primary_metric="rmse")]))
    assert "xychart-beta" in text and "plotted as in the table" not in text


def test_a_feature_set_change_says_what_changed_instead_of_unchanged():
    y = np.random.default_rng(5).integers(0, 2, 120)
    same = {"n_estimators": 200}
    base = classifier("cancer-rf", "a1a1a1a1a1a1", y, 0.9, 1, params=same, data=cancer_data(0))
    head = classifier("cancer-rf", "b2b2b2b2b2b2", y, 0.9, 2, params=same, data=cancer_data(0))
    change = DefinitionChange(
        "mlops/features/standardized.yaml",
        'transforms.0.columns ["mean radius", "mean area"] → ["mean radius"]',
    )
    text = render(ReportInput([compare_model(head, base, changes=[change])]))
    assert "**What changed**" in text
    assert (
        '- `mlops/features/standardized.yaml`: transforms.0.columns ["mean radius", '
        '"mean area"] → ["mean radius"]' in text
    )
    assert "unchanged." in text  # the data content, which is true
    assert "Parameters: unchanged" not in text
    # without a plan reason (e.g. an explicit MODEL that did not change), say so plainly
    plain = render(ReportInput([compare_model(head, base)]))
    assert "What changed" not in plain and "Estimator parameters: unchanged." in plain


def test_unchanged_data_gets_no_table_of_zero_shifts():
    y = np.random.default_rng(5).integers(0, 2, 120)
    base = classifier("m", "a1a1a1a1a1a1", y, 0.9, 1, data=cancer_data(0))
    head = classifier("m", "b2b2b2b2b2b2", y, 0.9, 2, data=cancer_data(0))
    text = render(ReportInput([compare_model(head, base)]))
    assert "The data content is unchanged." in text and "| Column |" not in text


def test_against_an_environment_the_report_names_it_in_place_of_the_base():
    y = np.random.default_rng(5).integers(0, 2, 120)
    staging = classifier("cancer-rf", "a1a1a1a1a1a1", y, 0.9, 1)
    head = classifier("cancer-rf", "b2b2b2b2b2b2", y, 0.85, 2)
    compared = compare_model(
        head,
        staging,
        metrics=["accuracy"],
        gates={"accuracy": Gate(max_drop=0.5)},
        reference="staging",
    )
    report = ReportInput([compared], head_label="c89cd03", reference="staging")
    text = render(report)
    assert "Head `c89cd03` against what `staging` runs." in text
    assert "**1 model differs from staging**" in text
    assert "| Metric | staging | Head |" in text and "only staging got right" in text
    assert "| accuracy | staging `a1a1a1a1a1a1` (" in text
    assert "base" not in text.lower().replace("database", "")
    nothing = render(ReportInput(reference="staging"))
    assert "### ✅ mlops: no model differs from staging" in nothing


def test_a_model_asked_for_that_did_not_change_is_not_counted_as_changed():
    y = np.random.default_rng(5).integers(0, 2, 120)
    same = classifier("cancer-rf", "a1a1a1a1a1a1", y, 0.9, 1)
    text = render(ReportInput([compare_model(same, same)]))
    assert "**0 models changed** · 1 unchanged" in text
    assert "### ✅ mlops: no model changed; all gates passed" in text
    assert "Head is the base version itself: nothing changed." in text


def test_a_pinned_version_missing_from_the_store_is_not_comparable_never_new():
    """With --vs, a version staging runs that the store lacks (a fresh clone, an empty
    store in CI) was reported as "nothing of this model runs in staging"."""
    from engine.review.compare import Missing

    y = np.random.default_rng(5).integers(0, 2, 120)
    head = classifier("cancer-rf", "b2b2b2b2b2b2", y, 0.85, 2, params={"max_depth": 3})
    recorded = {"accuracy": 0.9}
    missing = Missing("a1a1a1a1a1a1", "retraining it failed: data/x.csv is not cached", recorded)
    compared = compare_model(
        head,
        None,
        metrics=["accuracy"],
        gates={"accuracy": Gate(max_drop=0.01)},
        reference="staging",
        missing={"staging": missing},
    )
    assert (compared.status, compared.verdict) == ("changed", "not comparable")
    assert compared.base_version == "a1a1a1a1a1a1" and compared.params == ()
    (gate,) = compared.gates
    assert gate.status == "not comparable" and "not in the store" in gate.message
    text = render(ReportInput([compared], head_label="c89cd03", reference="staging"))
    assert "Nothing of this model runs" not in text and "🆕" not in text
    assert "`staging` runs `a1a1a1a1a1a1`, which is not in this store" in text
    assert "data/x.csv is not cached" in text and "mlops deploy --env staging" in text
    assert "**1 model differs from staging**" in text and "⚠️ 1 not comparable" in text
    assert "| accuracy ↑ | 0.9000 |" in text and "💬 informational" in text
    assert "🟢" not in text and "🔴" not in text  # no verdict on another test set's figure
    assert "Estimator parameters" not in text and "| `max_depth` |" not in text

    # beside the base, the environment's block says the same, and its gate is not skipped
    beside = compare_model(
        head,
        classifier("cancer-rf", "c3c3c3c3c3c3", y, 0.85, 3),
        metrics=["accuracy"],
        gates={"accuracy": Gate(max_drop=0.5)},
        environments={"staging": None},
        missing={"staging": missing},
    )
    text = render(ReportInput([beside]))
    assert "nothing is deployed in staging" not in text
    assert "**Against staging** `a1a1a1a1a1a1`" in text and "which is not in this store" in text
    assert [g.status for g in beside.gates] == ["pass", "not comparable"]
    assert beside.verdict == "not comparable"


def test_a_reproduced_pinned_version_says_so_with_its_cost():
    from engine.review.compare import Reproduced

    y = np.random.default_rng(5).integers(0, 2, 120)
    staging = classifier("cancer-rf", "a1a1a1a1a1a1", y, 0.9, 1)
    head = classifier("cancer-rf", "b2b2b2b2b2b2", y, 0.85, 2)
    again = Reproduced(("staging", "production"), "a1a1a1a1a1a1", "0123456789abcdef", 3.21)
    compared = compare_model(head, staging, reference="staging", reproduced=[again])
    text = render(ReportInput([compared], reference="staging"))
    assert (
        "🔁 `a1a1a1a1a1a1`, which `staging` and `production` run, was not in this store: it "
        "was retrained at its source commit `0123456` in 3.2 s and reproduced the metrics"
    ) in text
    assert compared.verdict == "pass"


def test_several_environments_name_the_reference_and_count_each():
    y = np.random.default_rng(5).integers(0, 2, 120)
    staging = classifier("cancer-rf", "a1a1a1a1a1a1", y, 0.9, 1)
    head = classifier("cancer-rf", "b2b2b2b2b2b2", y, 0.85, 2)
    compared = compare_model(
        head, staging, reference="staging", environments={"production": None, "canary": head}
    )
    report = ReportInput(
        [compared], head_label="c89cd03", reference="staging", also=("production", "canary")
    )
    text = render(report)
    assert (
        "Head `c89cd03` against what `staging` runs: the reference of the table, the "
        "verdicts and the summary. Also against what `production`, `canary` run, in each "
        "model's details."
    ) in text
    assert (
        "**1 model differs from staging** · 1 differs from production · 0 differ from canary"
    ) in text
    assert "| Model | Versions (staging → head) |" in text
    assert "**Against production**: nothing is deployed in production." in text
    assert "**Against canary** `b2b2b2b2b2b2`: canary already runs this version." in text
    nothing = render(ReportInput(reference="staging", also=("production",)))
    assert "Nothing to compare: `staging` and `production` already run head's version" in nothing


def test_an_environment_running_the_base_version_does_not_repeat_the_table():
    y = np.random.default_rng(5).integers(0, 2, 120)
    base = classifier("m", "a1a1a1a1a1a1", y, 0.9, 1)
    head = classifier("m", "b2b2b2b2b2b2", y, 0.85, 2)
    text = render(ReportInput([compare_model(head, base, environments={"staging": base})]))
    assert (
        "**Against staging** `a1a1a1a1a1a1`: staging runs the base version; the comparison "
        "above holds."
    ) in text
    assert text.count("| Metric |") == 1
    other = classifier("m", "c3c3c3c3c3c3", y, 0.8, 3)
    text = render(ReportInput([compare_model(head, base, environments={"staging": other})]))
    assert "| Metric | staging | Head |" in text


def test_the_confusion_matrix_counts_the_rows_the_table_compares():
    """A rescored base left some head test rows out; the matrix counted all of head's rows
    while its bracketed changes were against the base on fewer rows."""
    y = np.random.default_rng(5).integers(0, 2, 120)
    head = classifier("m", "b2b2b2b2b2b2", y, 0.85, 2)
    keep = np.arange(120) >= 20
    base = classifier("m", "a1a1a1a1a1a1", y[keep], 0.9, 1, ids=np.arange(120)[keep])
    restricted = classifier("m", "b2b2b2b2b2b2", y[keep], 0.85, 2, ids=np.arange(120)[keep])
    compared = compare_model(head, base, heads={"base": restricted}, rescored=True)
    assert compared.vs_base.paired_rows == 100
    assert sum(map(sum, compared.confusion.counts)) == 100
    assert sum(map(sum, compared.base_confusion.counts)) == 100


def test_a_change_that_moves_no_model_says_why_instead_of_zero_counts():
    text = render(ReportInput(base_label="a1b2c3d", head_label="e4f5a6b"))
    assert "0 passed" not in text and "Nothing to compare: the change moves no model" in text
    failed = render(ReportInput(training_failures=[Problem("mlops/models/m.yaml", 1, 1, "boom")]))
    assert "No model could be compared: see the problems below." in failed


def test_a_rescoring_is_explained_once():
    y = np.random.default_rng(5).integers(0, 2, 120)
    why = "the test rows changed, so a1a1a1a1a1a1 was scored again on b2b2b2b2b2b2's test set"
    compared = compare_model(
        classifier("m", "b2b2b2b2b2b2", y, 0.85, 2),
        classifier("m", "a1a1a1a1a1a1", y, 0.9, 1),
        rescored=True,
        reason=why,
    )
    text = render(ReportInput([compared]))
    assert text.count("scored again") == 1 and "Why:" not in text
    assert f"🔁 T{why[1:]}: the comparison is paired and fair." in text


def test_without_a_limit_a_local_report_is_never_cut():
    report = pull_request()
    whole = render(ReportInput(**{**report.__dict__, "limit": None}))
    assert "✂️" not in whole and "job summary" not in whole
    assert "✂️" in render(ReportInput(**{**report.__dict__, "limit": 4000}))


def test_parameters_listed_under_what_changed_are_not_tabled_again():
    y = np.random.default_rng(5).integers(0, 2, 120)
    base = classifier("m", "a1a1a1a1a1a1", y, 0.9, 1, params={"max_depth": 8, "n_jobs": 1})
    head = classifier("m", "b2b2b2b2b2b2", y, 0.9, 2, params={"max_depth": 3, "n_jobs": 1})
    moved = DefinitionChange("mlops/models/m.yaml", "estimator.params.max_depth 8 → 3")
    text = render(ReportInput([compare_model(head, base, changes=[moved])]))
    assert "estimator.params.max_depth 8 → 3" in text and "**Parameters**" not in text
    # a parameter that moved without its own line (an older engine's record) keeps the table
    text = render(ReportInput([compare_model(head, base)]))
    assert "| `max_depth` | `8` | `3` |" in text


def test_the_data_section_counts_every_column_and_names_the_id():
    import dataclasses
    import json

    import pyarrow as pa

    from engine.data.profile import summarize

    # a 9-column file: the id, 7 features and the target; the id is not profiled
    columns = {"loan_id": [f"L{i}" for i in range(120)]}
    columns |= {f"f{k}": [float(i % (k + 2)) for i in range(120)] for k in range(7)}
    columns["default"] = [i % 2 for i in range(120)]
    profile = summarize(pa.table(columns), skip=["loan_id"])
    assert (profile.columns, profile.skipped) == (8, ("loan_id",))
    stored = DataProfile.from_dict(json.loads(json.dumps(dataclasses.asdict(profile))))
    assert stored == profile  # as the review reads it back from the store
    y = np.random.default_rng(5).integers(0, 2, 120)
    base = classifier("m", "a1a1a1a1a1a1", y, 0.9, 1, data=stored)
    head = classifier("m", "b2b2b2b2b2b2", y, 0.9, 2, data=stored)
    text = render(ReportInput([compare_model(head, base)]))
    assert "- Head: 120 rows, 9 columns (id `loan_id` + 8 others)" in text
    # a profile stored before it named the columns left out reads as it always did
    legacy = {k: v for k, v in dataclasses.asdict(profile).items() if k != "skipped"}
    old = classifier("m", "b2b2b2b2b2b2", y, 0.9, 2, data=DataProfile.from_dict(legacy))
    assert "- Head: 120 rows, 8 columns\n" in render(ReportInput([compare_model(old, base)]))


@pytest.mark.parametrize("quote", [True, False])
def test_markdown_escapes_as_the_standard_library_does(quote):
    import html

    from engine.review.markdown import escape

    samples = ["", "plain", "a & b < c > d", "\"q\" 'a' &amp; <&>", "x" * 3 + "&<>\"'" * 5]
    for text in samples:
        assert escape(text, quote=quote) == html.escape(text, quote=quote)


def test_a_version_moved_by_a_scikit_learn_upgrade_says_so_in_the_models_details():
    """The same definition under a newer scikit-learn is another version: the review of
    such a pair (`mlops diff --vs production` after the bump) must say why the versions
    differ, where it would otherwise say only "Estimator parameters: unchanged"."""
    y = np.random.default_rng(3).integers(0, 2, 120)
    params = {"estimator": {"C": 1.0}}
    old = classifier("churn", "0d434adb140b", y, 0.9, 1, params=params, sklearn_version="1.8.0")
    new = classifier("churn", "0292f81118eb", y, 0.9, 1, params=params, sklearn_version="1.9.1")
    moved = compare_model(new, old, metrics=CLASSIFICATION, reference="production")
    text = render(ReportInput(comparisons=[moved], reference="production"))
    assert "Trained with scikit-learn 1.8.0 (production) → 1.9.1 (head)" in text
    same = compare_model(new, replace(old, sklearn_version="1.9.1"), metrics=CLASSIFICATION)
    assert "Trained with scikit-learn" not in render(ReportInput(comparisons=[same]))
    unknown = compare_model(new, replace(old, sklearn_version=""), metrics=CLASSIFICATION)
    assert "Trained with scikit-learn" not in render(ReportInput(comparisons=[unknown]))
