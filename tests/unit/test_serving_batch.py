"""``mlops predict``'s checks of a batch, with Arrow tables built in memory: the same rules
as an online request (type, missing values, finite numbers, bounds, allowed values)."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pytest

from engine.errors import UserError
from engine.serving.batch import check_batch
from engine.serving.inputs import Field, Signature

SIG = Signature(
    (
        Field("age", "int", nullable=False, min=18, max=120),
        Field("income", "float", nullable=True, min=0.0),
        Field("plan", "string", nullable=False, values=("basic", "pro")),
    )
)
FILE = Path("people.parquet")


def batch(**columns: pa.Array) -> pa.RecordBatch:
    given = {
        "age": pa.array([30, 40, 50], pa.int64()),
        "income": pa.array([1.0, None, 3.0], pa.float64()),
        "plan": pa.array(["pro", "basic", "pro"]),
    }
    return pa.RecordBatch.from_pydict({**given, **columns})


def refused(data: pa.RecordBatch, offset: int = 0) -> str:
    with pytest.raises(UserError) as caught:
        check_batch(data, SIG, FILE, offset)
    return str(caught.value)


def test_a_batch_within_the_schema_passes_with_whole_floats_cast_to_int():
    checked = check_batch(batch(age=pa.array([30.0, 40.0, 50.0])), SIG, FILE, 0)
    assert checked.column("age").type == pa.int64()
    assert checked.column("age").to_pylist() == [30, 40, 50]


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        ({"age": pa.array([30, 17, 50])}, "column 'age', row 101: 17 is below min 18"),
        ({"age": pa.array([30.0, 40.0, 121.0])}, "column 'age', row 102: 121 is above max 120"),
        ({"income": pa.array([1.0, -0.5, None])}, "column 'income', row 101: -0.5 is below min 0"),
        ({"income": pa.array([1, -2, 3])}, "column 'income', row 101: -2 is below min 0"),
        ({"income": pa.array([math.inf, 1.0, 2.0])}, "row 100: inf is not a finite number"),
        ({"plan": pa.array(["pro", "gold", "pro"])}, "row 101: 'gold' is not one of"),
        (
            {"age": pa.array([30, 2**63, 50], pa.uint64())},
            "column 'age', row 101: 9223372036854775808 is outside the 64-bit integer range",
        ),
        ({"age": pa.array([30.0, 1.5, 50.0])}, "column 'age', row 101: 1.5 is not an integer"),
        ({"plan": pa.array([1.0, 2.0, 3.0])}, "holds double, but the schema declares string"),
    ],
)
def test_a_value_the_schema_refuses_is_named_by_column_and_row(columns, expected):
    assert expected in refused(batch(**columns), offset=100)


def test_a_missing_value_is_not_out_of_bounds_the_nullable_flag_decides():
    nan_and_null = pa.array([math.nan, None, 2.0], pa.float64())
    assert check_batch(batch(income=nan_and_null), SIG, FILE, 0).num_rows == 3
    message = refused(batch(age=pa.array([30.0, math.nan, 50.0])))
    assert "column 'age', row 1: missing values are forbidden by the schema" in message
