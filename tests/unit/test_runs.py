"""Version records and their pure views: validation, the model card, the runs table, CSV."""

import csv
import io
import json

import pytest
from pydantic import ValidationError

from engine.errors import UserError
from engine.training.runs import (
    Candidate,
    RowsRecord,
    SearchRecord,
    VersionRecord,
    model_card,
    runs_table,
    to_csv,
)

FP_A = "a" * 64
FP_B = "b" * 64
FP_C = "c" * 64


def record(fingerprint=FP_A, **fields):
    base = {
        "model": "cancer-rf",
        "fingerprint": fingerprint,
        "created": "2025-01-02T03:04:05+00:00",
        "task": "classification",
        "dataset": "breast-cancer",
    }
    return VersionRecord(**(base | fields))


def test_version_is_the_fingerprints_first_twelve_characters_and_is_serialized():
    rec = record(fingerprint="0123456789ab" + "f" * 52)
    assert rec.version == "0123456789ab"
    assert rec.label == "cancer-rf@0123456789ab"
    data = json.loads(rec.to_json())
    assert data["version"] == "0123456789ab"
    assert VersionRecord.parse(data) == rec


def test_record_round_trips_through_json_with_search_and_classes():
    best = Candidate(params={"max_depth": 8}, mean_score=0.97, std_score=0.01)
    rec = record(
        params={"n_estimators": 200},
        metrics={"f1": 0.96, "roc_auc": None},
        classes=[0, 1],
        search=SearchRecord(scoring="f1", candidates=[best], best=best),
        cv={"folds": 5, "f1": {"mean": 0.95, "std": 0.02}},
    )
    again = VersionRecord.parse(json.loads(rec.to_json()))
    assert again == rec
    assert again.classes == [0, 1]
    assert again.search is not None and again.search.best.params == {"max_depth": 8}


def test_non_finite_metrics_become_none_so_the_record_stays_json():
    rec = record(metrics={"roc_auc": float("nan"), "f1": float("inf"), "accuracy": 0.9})
    assert rec.metrics == {"roc_auc": None, "f1": None, "accuracy": 0.9}
    assert "NaN" not in rec.to_json()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("fingerprint", "abc"),
        ("fingerprint", "A" * 64),
        ("created", "2025-01-02T03:04:05"),
        ("created", "yesterday"),
    ],
)
def test_invalid_fingerprint_or_naive_timestamp_is_refused(field, value):
    with pytest.raises(ValidationError):
        record(**{field: value})


def test_unknown_keys_from_a_newer_engine_are_ignored():
    data = json.loads(record().to_json()) | {"added_later": 1}
    assert VersionRecord.parse(data).model == "cancer-rf"


def test_model_card_shows_metrics_params_and_lineage():
    rec = record(
        metrics={"f1": 0.95123, "roc_auc": None},
        params={"n_estimators": 200},
        commit="deadbeef",
        author="alice",
        data_hash="md5:123",
        sklearn_version="1.9.0",
        training_seconds=1.5,
        rows_train=426,
        rows_test=143,
        classes=[0, 1],
    )
    card = model_card(rec)
    assert card.startswith(f"# cancer-rf@{'a' * 12}\n")
    assert "| f1 | 0.9512 |" in card
    assert "| roc_auc | n/a |" in card
    assert '"n_estimators": 200' in card
    assert "| commit | `deadbeef` |" in card
    assert "| data hash | `md5:123` |" in card
    assert "| split rows | not recorded |" in card
    rows = RowsRecord(key="id", columns=["customer"], train=75, test=25)
    assert "| split rows | 75 train, 25 test, by id column `customer`" in model_card(
        rec.replace(rows=rows)
    )
    assert "| scikit-learn | 1.9.0 |" in card
    assert "426 training rows, 143 test rows" in card
    assert "`0`, `1`" in card


def test_model_card_ranks_search_candidates_best_first():
    worse = Candidate(params={"C": 0.1}, mean_score=0.80, std_score=0.02)
    best = Candidate(params={"C": 1.0}, mean_score=0.90, std_score=0.01)
    rec = record(search=SearchRecord(scoring="f1", candidates=[worse, best], best=best))
    card = model_card(rec)
    assert "2 candidates, scored by f1" in card
    assert card.index('`{"C": 1.0}` | 0.9000') < card.index('`{"C": 0.1}` | 0.8000')


def test_the_search_summary_gives_the_kept_candidates_std():
    """Issue 11: the card said "(0.9644 ± n/a)" above a table that had the std (0.0177):
    the kept candidate was recorded without it. Older records get it from the table."""
    kept = Candidate(params={"n_neighbors": 15}, mean_score=0.9644, std_score=0.0177)
    other = Candidate(params={"n_neighbors": 3}, mean_score=0.9633, std_score=0.0097)
    old_best = Candidate(params={"n_neighbors": 15}, mean_score=0.9644)  # as recorded
    card = model_card(record(search=SearchRecord(candidates=[kept, other], best=old_best)))
    assert 'kept `{"n_neighbors": 15}` (0.9644 ± 0.0177).' in card and "n/a" not in card


def three_records():
    return [
        record(FP_A, metrics={"f1": 0.90, "log_loss": 0.30}, params={"max_depth": 4}),
        record(FP_B, metrics={"f1": 0.95, "log_loss": 0.20}, params={"max_depth": 8}),
        record(FP_C, metrics={"f1": None, "log_loss": 0.10}, params={"n_estimators": 10}),
    ]


def test_runs_table_flattens_params_and_gives_every_row_the_same_columns():
    rows = runs_table(three_records())
    assert [r["version"] for r in rows] == ["a" * 12, "b" * 12, "c" * 12]
    assert {tuple(r) for r in rows} == {tuple(rows[0])}
    assert list(rows[0])[:7] == [
        "model",
        "version",
        "created",
        "commit",
        "author",
        "dataset",
        "data_hash",
    ]
    assert rows[0]["params.max_depth"] == 4
    assert rows[0]["params.n_estimators"] is None
    assert rows[2]["params.n_estimators"] == 10
    assert rows[1]["f1"] == 0.95


def test_nested_params_flatten_with_dots():
    rows = runs_table([record(params={"model": {"C": 1.0}, "steps": []})])
    assert rows[0]["params.model.C"] == 1.0
    assert rows[0]["params.steps"] == []


def test_sort_by_metric_puts_the_best_first_and_missing_values_last():
    by_f1 = runs_table(three_records(), sort_by="f1")
    assert [r["f1"] for r in by_f1] == [0.95, 0.90, None]
    # log_loss is lower-is-better: the best (smallest) comes first by default.
    by_loss = runs_table(three_records(), sort_by="log_loss")
    assert [r["log_loss"] for r in by_loss] == [0.10, 0.20, 0.30]
    explicit = runs_table(three_records(), sort_by="f1", descending=False)
    assert [r["f1"] for r in explicit] == [0.90, 0.95, None]


def test_sort_by_an_unknown_column_names_the_choices():
    with pytest.raises(UserError, match=r"no column 'recall' to sort by.*f1"):
        runs_table(three_records(), sort_by="recall")


def test_to_csv_writes_a_header_and_empty_cells_for_none():
    text = to_csv(runs_table(three_records(), sort_by="f1"))
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert parsed[0]["f1"] == "0.95"
    assert parsed[2]["f1"] == ""
    assert parsed[0]["params.max_depth"] == "8"
    assert text.splitlines()[0].startswith("model,version,created,")


def test_to_csv_quotes_commas_and_encodes_lists_as_json():
    text = to_csv([{"a": "x,y", "b": [1, 2], "c": None}])
    assert list(csv.reader(io.StringIO(text))) == [["a", "b", "c"], ["x,y", "[1, 2]", ""]]


def test_empty_inputs_give_empty_outputs():
    assert runs_table([]) == []
    assert runs_table([], sort_by="f1") == []
    assert to_csv([]) == "\n"


def test_model_card_shows_cross_validated_intervals_beside_the_test_metrics():
    rec = record(metrics={"f1": 0.9}, cv={"cv_f1": 0.88, "cv_f1_std": 0.02})
    card = model_card(rec)
    assert "| metric | value | cross-validated (mean ± std) |" in card
    assert "| f1 | 0.9000 | 0.8800 ± 0.0200 |" in card
