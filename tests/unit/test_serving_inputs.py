"""The request checks of ``mlops serve``, with plain values (and hypothesis for the rest)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.definitions.formats import Dataset
from engine.environments.manifest import serving_spec
from engine.serving.inputs import (
    Field,
    InputError,
    Signature,
    Tensor,
    from_instances,
    from_tensors,
    signature,
)
from engine.serving.pod import spec_signature

SIG = Signature(
    (
        Field("age", "int", nullable=False),
        Field("income", "float", nullable=True),
        Field("plan", "string", nullable=False, values=("basic", "pro")),
        Field("active", "bool", nullable=False),
    )
)
ROW = [42, 1200.5, "pro", True]
OBJ = {"age": 42, "income": 1200.5, "plan": "pro", "active": True}


def refused(body, sig=SIG) -> str:
    with pytest.raises(InputError) as caught:
        from_instances(body, sig)
    return str(caught.value)


def test_rows_as_lists_or_objects_give_the_same_columns():
    expected = {"age": [42], "income": [1200.5], "plan": ["pro"], "active": [True]}
    assert from_instances({"instances": [ROW]}, SIG) == expected
    assert from_instances({"instances": [OBJ]}, SIG) == expected


def test_an_int_widens_to_a_float_column_and_an_integral_float_fits_an_int_column():
    columns = from_instances({"instances": [[42.0, 7, "basic", False]]}, SIG)
    assert columns["age"] == [42] and isinstance(columns["age"][0], int)
    assert columns["income"] == [7.0] and isinstance(columns["income"][0], float)


def test_a_missing_value_is_nan_where_allowed_and_refused_where_not():
    columns = from_instances({"instances": [[42, None, "pro", True]]}, SIG)
    assert math.isnan(columns["income"][0])
    message = refused({"instances": [ROW, [None, 1.0, "pro", True]]})
    assert message.startswith("instances[1]['age']") and "forbids missing" in message
    assert "instances[0]['age']" in refused({"instances": [{**OBJ, "age": math.nan}]})


@pytest.mark.parametrize(
    ("row", "names"),
    [
        ({k: v for k, v in OBJ.items() if k != "plan"}, ["'plan'", "missing"]),
        ({**OBJ, "zip": "10115"}, ["unknown column 'zip'"]),
        ([42, 1.0, "pro"], ["3 values", "4 columns", "'age'"]),
        ([42, 1.0, "pro", True, 5], ["5 values"]),
        ({**OBJ, "age": "42"}, ["['age']", "an integer", "'42'"]),
        ({**OBJ, "age": True}, ["['age']", "an integer"]),
        ({**OBJ, "income": "lots"}, ["['income']", "a number"]),
        ({**OBJ, "income": math.inf}, ["['income']", "not a finite number"]),
        ({**OBJ, "plan": "gold"}, ["['plan']", "'gold' is not one of"]),
        ({**OBJ, "active": 1}, ["['active']", "true or false"]),
        ({**OBJ, "plan": ["pro"]}, ["['plan']", "a string"]),
        ("42,1.0,pro,true", ["instances[0]", "a list in column order or an object"]),
    ],
)
def test_a_bad_row_is_refused_naming_the_field(row, names):
    message = refused({"instances": [row]})
    for part in names:
        assert part in message


@pytest.mark.parametrize(
    ("body", "part"),
    [
        ([ROW], "JSON object"),
        ({"rows": [ROW]}, '"instances" is missing'),
        ({"instances": ROW[0]}, "must be a list"),
        ({"instances": []}, "empty"),
    ],
)
def test_a_body_without_rows_is_refused(body, part):
    assert part in refused(body)


def test_the_signature_follows_the_fitted_order_typed_by_the_schema():
    dataset = Dataset.model_validate(
        {
            "name": "churn",
            "source": {"path": "data/churn.csv"},
            "target": "churned",
            "id_column": "customer",
            "schema": {
                "columns": {
                    "customer": {"type": "string"},
                    "plan": {"type": "string", "values": ["basic", "pro"]},
                    "age": {"type": "int", "nullable": True},
                    "churned": {"type": "int"},
                }
            },
        }
    )
    fitted = signature(dataset, ["age", "plan", "tenure"])
    assert fitted.fields == (
        Field("age", "int", True, None),
        Field("plan", "string", False, ("basic", "pro")),
        Field("tenure"),  # not in the schema: any scalar
    )
    assert signature(dataset).names == ["plan", "age"]  # schema order, no target or id


def test_the_spec_a_manifest_carries_gives_the_pod_the_same_signature():
    # A KServe pod has no repository: the columns come with the manifest (--pinned)
    dataset = Dataset.model_validate(
        {
            "name": "churn",
            "source": {"path": "data/churn.csv"},
            "target": "churned",
            "id_column": "customer",
            "schema": {
                "columns": {
                    "customer": {"type": "string"},
                    "plan": {"type": "string", "values": ["basic", "pro"]},
                    "age": {"type": "int", "nullable": True},
                    "churned": {"type": "int"},
                }
            },
        }
    )
    spec = json.loads(serving_spec("3e4507281234", "c" * 40, "classification", dataset))
    for names in (["age", "plan", "tenure"], None):
        assert spec_signature(spec, names) == signature(dataset, names)
    assert spec["id_column"] == "customer" and spec["task"] == "classification"


def test_v2_one_tensor_in_column_order_like_kserves_own_sample():
    tensor = Tensor("input-0", [2, 4], "FP32", [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]])
    sig = Signature(tuple(Field(n, "float", False) for n in "abcd"))
    columns = from_tensors([tensor], sig)
    assert columns == {"a": [6.8, 6.0], "b": [2.8, 3.4], "c": [4.8, 4.5], "d": [1.4, 1.6]}


def test_v2_one_tensor_per_column():
    tensors = [
        Tensor("age", [2], "INT64", [42, 43]),
        Tensor("income", [2, 1], "FP64", [[1.0], [2.0]]),
        Tensor("plan", [2], "BYTES", ["pro", "basic"]),
        Tensor("active", [2], "BOOL", [True, False]),
    ]
    assert from_tensors(tensors, SIG)["plan"] == ["pro", "basic"]


@pytest.mark.parametrize(
    ("tensors", "part"),
    [
        ([], "empty"),
        ([Tensor("x", [1, 3], "FP32", [1, 2, 3])], "shape [1, 3]"),
        ([Tensor("x", [2, 4], "FP32", [1, 2, 3])], "do not fill the shape"),
        ([Tensor("x", [-1, 4], "FP32", [])], "not a list of sizes"),
        ([Tensor("age", [1], "INT64", [1]), Tensor("zip", [1], "BYTES", ["1"])], "'zip'"),
        ([Tensor("age", [1], "INT64", [1])], "'income' is missing"),
        (
            [
                Tensor("age", [2], "INT64", [1, 2]),
                Tensor("income", [1], "FP64", [1.0]),
                Tensor("plan", [2], "BYTES", ["pro", "pro"]),
                Tensor("active", [2], "BOOL", [True, True]),
            ],
            "other columns have 2",
        ),
        (
            [
                Tensor("age", [1], "INT64", ["x"]),
                Tensor("income", [1], "FP64", [1.0]),
                Tensor("plan", [1], "BYTES", ["pro"]),
                Tensor("active", [1], "BOOL", [True]),
            ],
            "inputs['age'][0]['age']: expected an integer",
        ),
    ],
)
def test_v2_bad_tensors_are_refused_naming_the_input(tensors, part):
    with pytest.raises(InputError, match=None) as caught:
        from_tensors(tensors, SIG)
    assert part in str(caught.value)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(body=JSON | st.fixed_dictionaries({"instances": JSON}))
def test_any_json_body_either_gives_typed_columns_or_an_input_error(body):
    try:
        columns = from_instances(body, SIG)
    except InputError as exc:
        assert str(exc)
        return
    rows = len(columns["age"])
    assert rows >= 1 and all(len(values) == rows for values in columns.values())
    assert all(type(v) is int for v in columns["age"])
    assert all(v in ("basic", "pro") for v in columns["plan"])


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(-(10**6), 10**6),
            st.floats(allow_nan=False, allow_infinity=False) | st.none(),
            st.sampled_from(["basic", "pro"]),
            st.booleans(),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_every_valid_row_is_accepted_in_both_shapes(rows):
    as_lists = from_instances({"instances": [list(r) for r in rows]}, SIG)
    as_objects = from_instances({"instances": [dict(zip(SIG.names, r)) for r in rows]}, SIG)
    assert as_lists["age"] == as_objects["age"] == [r[0] for r in rows]
