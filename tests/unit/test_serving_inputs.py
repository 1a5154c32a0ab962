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
    from_instances,
    signature,
)
from engine.serving.pod import spec_signature
from engine.serving.tensors import Tensor, from_tensors

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
            "inputs['age'][0]: 'x' is not an INT64 value (a 64-bit integer)",
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


# --- the dataset schema's min and max, as training enforces them -------------------------

BOUNDED = Signature(
    (
        Field("age", "int", nullable=False, min=18, max=120),
        Field("income", "float", nullable=True, min=0.0),
        Field("plan", "string", nullable=False, values=("basic", "pro")),
    )
)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ([17, 1.0, "pro"], "instances[1]['age']: 17 is below min 18"),
        ([121, 1.0, "pro"], "instances[1]['age']: 121 is above max 120"),
        ([30, -0.5, "pro"], "instances[1]['income']: -0.5 is below min 0"),
        ([30, -1, "pro"], "instances[1]['income']: -1.0 is below min 0"),  # an int, widened
        (
            {"age": 30.0, "income": -2.5, "plan": "pro"},
            "instances[1]['income']: -2.5 is below min 0",
        ),
    ],
)
def test_a_value_outside_the_schemas_bounds_is_refused_like_one_outside_values(row, expected):
    assert refused({"instances": [[30, 1.0, "pro"], row]}, BOUNDED) == expected


def test_a_missing_value_is_not_out_of_bounds_the_nullable_flag_decides():
    nan_first = from_instances({"instances": [[30, None, "pro"], [40, 2.0, "pro"]]}, BOUNDED)
    assert math.isnan(nan_first["income"][0]) and nan_first["income"][1] == 2.0
    later = from_instances({"instances": [[30, 2.0, "pro"], [40, math.nan, "pro"]]}, BOUNDED)
    assert math.isnan(later["income"][1])
    # a NaN first hides nothing: the value below the bound behind it is found
    message = refused({"instances": [[30, None, "pro"], [40, -3.0, "pro"]]}, BOUNDED)
    assert message == "instances[1]['income']: -3.0 is below min 0"
    nullable_int = Signature((Field("n", "int", nullable=True, min=0),))
    assert from_instances({"instances": [[None], [5]]}, nullable_int) == {"n": [None, 5]}
    assert refused({"instances": [[None], [-5]]}, nullable_int).endswith("-5 is below min 0")
    required = refused({"instances": [[None, 1.0, "pro"]]}, BOUNDED)
    assert (
        required == "instances[0]['age']: a value is required (the schema forbids missing values)"
    )


def test_v2_bounds_name_the_tensor_and_row():
    tensors = [
        Tensor("age", [2], "INT64", [30, 150]),
        Tensor("income", [2], "FP64", [1.0, 2.0]),
        Tensor("plan", [2], "BYTES", ["pro", "basic"]),
    ]
    with pytest.raises(InputError, match=r"^inputs\['age'\]\[1\]: 150 is above max 120$"):
        from_tensors(tensors, BOUNDED)
    matrix = Tensor("input-0", [2, 3], "BYTES", [["30", "1", "pro"], ["40", "2", "pro"]])
    with pytest.raises(InputError, match="does not fit column 'age'"):
        from_tensors([matrix], BOUNDED)
    numbers = Signature(BOUNDED.fields[:2])
    below = Tensor("input-0", [2, 2], "FP32", [[30, 1.5], [40, -1.5]])
    with pytest.raises(InputError, match=r"^inputs\['input-0'\]\[1\]\['income'\]: -1.5 is below"):
        from_tensors([below], numbers)


def test_the_bounds_reach_a_pods_signature_and_an_older_spec_still_loads():
    dataset = Dataset.model_validate(
        {
            "name": "people",
            "source": {"path": "data/people.csv"},
            "target": "y",
            "schema": {
                "columns": {
                    "age": {"type": "int", "min": 18, "max": 120},
                    "plan": {"type": "string", "values": ["basic", "pro"]},
                    "y": {"type": "int"},
                }
            },
        }
    )
    spec = json.loads(serving_spec("3e4507281234", "c" * 40, "classification", dataset))
    assert spec["columns"][0] == ["age", "int", False, None, 18.0, 120.0]
    assert spec["columns"][1] == ["plan", "string", False, ["basic", "pro"]]  # as before
    assert spec_signature(spec, None) == signature(dataset)
    assert signature(dataset).fields[0] == Field("age", "int", False, None, 18.0, 120.0)
    spec["columns"][0] = spec["columns"][0][:4]  # written by an engine without bounds
    assert spec_signature(spec, None).fields[0] == Field("age", "int", False, None)


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.integers(-50, 50) | st.floats(-50, 50) | st.none() | st.just(math.nan),
        min_size=1,
        max_size=8,
    )
)
def test_every_value_accepted_is_within_the_bounds_and_a_refusal_names_one_outside(values):
    sig = Signature((Field("x", "float", nullable=True, min=-10.0, max=10.0),))
    try:
        got = from_instances({"instances": [[v] for v in values]}, sig)["x"]
    except InputError as exc:
        row = int(str(exc).split("[")[1].split("]")[0])
        assert not -10 <= values[row] <= 10
        assert all(v is None or v != v or -10 <= v <= 10 for v in values[:row])
        return
    assert all(v != v or -10 <= v <= 10 for v in got)
