"""Which monitored rows may become training data (engine.data.append.training_rows)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from engine.data.append import file_of, training_rows, unseen
from engine.definitions.formats import Dataset
from engine.errors import DataError

DATASET = Dataset.model_validate(
    {
        "name": "customers",
        "source": {"path": "data/customers.csv"},
        "target": "churned",
        "schema": {"columns": {"age": {"type": "int"}, "churned": {"type": "int"}}},
    }
)


def test_unlabelled_rows_are_dropped_and_labels_replace_the_target() -> None:
    table = pa.table({"age": [30, 40, 50], "churned": [None, None, None]})
    rows = training_rows(table, [1, None, 0], DATASET)
    assert rows.column("age").to_pylist() == [30, 50]
    assert rows.column("churned").to_pylist() == [1, 0]


def test_no_labels_at_all_is_an_error_that_says_how_to_give_them() -> None:
    table = pa.table({"age": [30, 40]})
    for labels in (None, [None, None]):
        with pytest.raises(DataError, match=r"unlabelled rows are not training data.*'churned'"):
            training_rows(table, labels, DATASET)


def test_only_a_dvc_tracked_csv_can_grow() -> None:
    assert file_of(DATASET) == "data/customers.csv"
    loader = DATASET.model_copy(update={"source": DATASET.source.model_copy(
        update={"path": None, "sklearn": "load_iris"})})  # fmt: skip
    with pytest.raises(DataError, match="scikit-learn's load_iris"):
        file_of(loader)
    parquet = DATASET.model_copy(update={"source": DATASET.source.model_copy(
        update={"path": "data/customers.parquet"})})  # fmt: skip
    with pytest.raises(DataError, match="only be appended to a CSV"):
        file_of(parquet)


def test_rows_the_data_has_already_are_not_added_again() -> None:
    """By content without an id column: 3 and 3.0 are one value, a new label is a new row,
    and repeated observations beyond the copies the data holds are new."""
    table = pa.table(
        {
            "age": [30, 40, 30.0, 50, 40, 40, 60, 60, 30, 30],
            "churned": [1, 0, 1, 1, 1, 0, 0, 0, 1, 1],
        }
    )  # the first two rows are the data; eight monitored rows follow
    fresh = unseen(table, 2, DATASET, ["age", "churned"])
    # (30, 1) is in the data once: of its three new copies the first is known, two are new;
    # (50, 1) new; (40, 1) new (another label); (40, 0) in the data; (60, 0) twice: both
    assert fresh.tolist() == [False, True, True, False, True, True, True, True]


def test_with_an_id_column_the_id_names_the_row() -> None:
    by_id = DATASET.model_copy(update={"id_column": "customer_id"})
    table = pa.table({"customer_id": ["a", "b", "b", "c", "c", "d"], "age": [1, 2, 9, 3, 4, 5]})
    fresh = unseen(table, 2, by_id, ["customer_id", "age"])
    # b is in the data (whatever its values now); c twice in the batch is added once
    assert fresh.tolist() == [False, True, False, True]
