"""Which monitored rows may become training data (engine.data.append.training_rows)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from engine.data.append import file_of, training_rows
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
