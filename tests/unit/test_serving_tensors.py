"""V2 tensors checked against their datatype, their shape and the model's columns."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.serving.inputs import Field, InputError, Signature
from engine.serving.tensors import Tensor, from_tensors

SIG = Signature(
    (
        Field("age", "int", nullable=False),
        Field("income", "float", nullable=True),
        Field("plan", "string", nullable=False, values=("basic", "pro")),
        Field("active", "bool", nullable=False),
    )
)
NUMERIC = Signature((Field("age", "int", nullable=False), Field("income", "float")))


def columns(**changed: Tensor) -> list[Tensor]:
    """One tensor per column, one row, each as metadata advertises it; ``changed`` replaces."""
    tensors = {
        "age": Tensor("age", [1], "INT64", [42]),
        "income": Tensor("income", [1], "FP64", [1200.5]),
        "plan": Tensor("plan", [1], "BYTES", ["pro"]),
        "active": Tensor("active", [1], "BOOL", [True]),
    }
    return list({**tensors, **changed}.values())


def refused(tensors: list[Tensor], sig: Signature = SIG) -> str:
    with pytest.raises(InputError) as caught:
        from_tensors(tensors, sig)
    return str(caught.value)


ANY = Signature((Field("x"),))
"""A column the schema does not declare: only the tensor's datatype judges its values."""


@pytest.mark.parametrize(
    ("tensor", "expected"),
    [
        (Tensor("x", [1], "INT64", [1.5]), "inputs['x'][0]: 1.5 is not an INT64 value"),
        (Tensor("x", [1], "BOOL", [2]), "inputs['x'][0]: 2 is not a BOOL value (true or false)"),
        (Tensor("x", [1], "BOOL", [1]), "inputs['x'][0]: 1 is not a BOOL value"),
        (Tensor("x", [2], "FP32", [1.0, "abc"]), "inputs['x'][1]: 'abc' is not an FP32 value"),
        (Tensor("x", [1], "FP64", [True]), "inputs['x'][0]: True is not an FP64 value"),
        (Tensor("x", [1], "FP32", [1e39]), "1e+39 is not an FP32 value (a number within ±3.4"),
        (Tensor("x", [2], "UINT8", [3, -1]), "inputs['x'][1]: -1 is not a UINT8 value"),
        (Tensor("x", [1], "INT8", [128]), "128 is not an INT8 value (an integer from -128 to"),
        (Tensor("x", [1], "INT64", [2**63]), "is not an INT64 value (a 64-bit integer)"),
        (Tensor("x", [1], "BYTES", [7]), "inputs['x'][0]: 7 is not a BYTES value (a string)"),
    ],
)
def test_a_value_that_is_not_of_the_tensors_datatype_is_refused(tensor, expected):
    assert expected in refused([tensor], ANY)


def test_a_declared_column_is_judged_by_the_datatype_first():
    message = refused(columns(income=Tensor("income", [1], "INT64", [1.5])))
    assert message.startswith("inputs['income'][0]: 1.5 is not an INT64 value")


@pytest.mark.parametrize(
    ("tensor", "expected"),
    [
        (
            Tensor("age", [1], "BYTES", [42]),
            "inputs['age']: datatype BYTES does not fit column 'age', declared int, which "
            "takes a number datatype: send INT64",
        ),
        (Tensor("income", [1], "BOOL", [1.0]), "does not fit column 'income', declared float"),
        (Tensor("plan", [1], "FP64", ["pro"]), "column 'plan', declared string, which takes BYTES"),
        (Tensor("active", [1], "INT64", [True]), "declared bool, which takes BOOL: send BOOL"),
    ],
)
def test_a_datatype_that_does_not_fit_the_trained_column_is_refused(tensor, expected):
    assert expected in refused(columns(**{tensor.name: tensor}))


def test_one_tensor_must_have_a_datatype_every_column_takes():
    tensor = Tensor("input-0", [1, 4], "FP32", [[42, 1.5, "pro", True]])
    assert refused([tensor]) == (
        "inputs['input-0']: datatype FP32 does not fit column 'plan', declared string, which "
        "takes BYTES: send one tensor per column, named by the column (BYTES for 'plan')"
    )


@pytest.mark.parametrize(
    ("datatype", "expected"),
    [
        ("FLOAT", "datatype 'FLOAT' is not one of the protocol's: BOOL, BYTES, FP16"),
        ("BF16", "BF16 data cannot be sent as JSON; send FP32 or FP64"),
    ],
)
def test_a_datatype_outside_the_protocol_is_refused(datatype, expected):
    assert expected in refused(columns(income=Tensor("income", [1], datatype, [1.0])))


def test_the_matrix_names_the_row_and_column_of_a_value_not_of_its_datatype():
    tensor = Tensor("input-0", [2, 2], "INT32", [[1, 2.0], [3, 4.5]])
    assert refused([tensor], NUMERIC).startswith(
        "inputs['input-0'][1]['income']: 4.5 is not an INT32 value"
    )


@pytest.mark.parametrize(
    ("tensor", "expected"),
    [
        (Tensor("x", [2, 2], "FP64", [1, 2, 3]), "3 values do not fill the shape [2, 2]"),
        (
            Tensor("x", [2, 2], "FP64", [[1, 2, 3], [4]]),
            "nested, but not as the shape [2, 2] says (at depth 1, every list must hold 2)",
        ),
        (Tensor("x", [2, 2], "FP64", [[1, 2], 3, 4]), "nested, but not as the shape"),
        (Tensor("x", [1, 2], "FP64", [[[1], [2]]]), "nested deeper than the shape [1, 2]"),
        (Tensor("x", [1, 2], "FP64", 1.0), "data must be a list"),
    ],
)
def test_data_must_fill_the_shape_flat_or_nested_as_the_shape(tensor, expected):
    assert expected in refused([tensor], NUMERIC)


def test_a_columns_tensor_has_shape_n_or_n_by_1():
    assert from_tensors(columns(age=Tensor("age", [1, 1], "INT64", [[42]])), SIG)["age"] == [42]
    assert "shape [n] or [n, 1]" in refused(
        [Tensor("age", [1, 2], "INT64", [1, 2]), Tensor("income", [2], "FP64", [1.0, 2.0])],
        NUMERIC,
    )


def test_the_values_the_protocol_lets_a_server_coerce_are_read_as_the_column_says():
    got = from_tensors(
        [
            Tensor("age", [3], "FP32", [42.0, 7, 8]),  # whole FP fits an int
            Tensor("income", [3, 1], "INT32", [[1], [None], [3]]),  # null: a missing value
        ],
        NUMERIC,
    )
    assert got["age"] == [42, 7, 8] and all(type(v) is int for v in got["age"])
    assert got["income"][0] == 1.0 and math.isnan(got["income"][1]) and got["income"][2] == 3.0
    matrix = from_tensors([Tensor("input-0", [2, 2], "FP32", [5.0, 1.5, 6, 2])], NUMERIC)
    assert matrix == {"age": [5, 6], "income": [1.5, 2.0]}


INT_TYPES = {"INT8": 8, "INT16": 16, "INT32": 32, "INT64": 64}


@settings(max_examples=300, deadline=None)
@given(
    datatype=st.sampled_from([*INT_TYPES, "UINT8", "UINT32", "UINT64", "FP32", "FP64", "BOOL"]),
    data=st.lists(
        st.integers(-(2**65), 2**65) | st.floats() | st.booleans() | st.text(max_size=3),
        min_size=1,
        max_size=6,
    ),
)
def test_a_value_accepted_is_one_the_datatype_holds(datatype, data):
    try:
        got = from_tensors([Tensor("x", [len(data)], datatype, data)], ANY)["x"]
    except InputError as exc:
        assert str(exc).startswith("inputs['x'][")
        return
    for value in got:
        if datatype == "BOOL":
            assert type(value) is bool
        elif datatype.startswith(("INT", "UINT")):
            bits = int(datatype.lstrip("UINT"))
            low = 0 if datatype[0] == "U" else -(2 ** (bits - 1))
            high = 2**bits - 1 if datatype[0] == "U" else 2 ** (bits - 1) - 1
            assert type(value) in (int, float) and value == int(value) and low <= value <= high
        else:
            assert type(value) in (int, float) or value is None
            if datatype == "FP32" and value is not None and math.isfinite(value):
                assert abs(value) <= 3.4028234663852886e38


def test_many_nested_rows_are_judged_column_by_column_as_the_flat_form_is():
    rows = [[i, i + 0.5] for i in range(10)]
    flat = [v for row in rows for v in row]
    nested = from_tensors([Tensor("input-0", [10, 2], "FP32", rows)], NUMERIC)
    assert nested == from_tensors([Tensor("input-0", [10, 2], "FP32", flat)], NUMERIC)
    assert nested["age"] == list(range(10)) and all(type(v) is int for v in nested["age"])
    whole = [[i, 2 * i] for i in range(9)]
    bad = [*whole, [9, 4.5]]
    for data in (bad, [v for row in bad for v in row]):  # nested and flat: the same error
        assert refused([Tensor("input-0", [10, 2], "INT32", data)], NUMERIC).startswith(
            "inputs['input-0'][9]['income']: 4.5 is not an INT32 value"
        )
    deeper = [*rows[:9], [[9], 9.5]]
    assert refused([Tensor("input-0", [10, 2], "FP64", deeper)], NUMERIC).startswith(
        "inputs['input-0'][9]['age']: [9] is not an FP64 value"
    )
    below = [*rows[:9], [9, -1.0]]
    bounded = Signature((NUMERIC.fields[0], Field("income", "float", min=0.0)))
    assert refused([Tensor("input-0", [10, 2], "FP64", below)], bounded) == (
        "inputs['input-0'][9]['income']: -1.0 is below min 0"
    )
