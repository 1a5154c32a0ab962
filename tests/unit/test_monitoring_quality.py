"""Data quality findings against the dataset schema and the reference, from plain values."""

from __future__ import annotations

import numpy as np

from engine.definitions.formats import Column, Schema
from engine.monitoring.columns import Side
from engine.monitoring.drift import Counts
from engine.monitoring.quality import check_quality

NAN = float("nan")


def side(**columns: object) -> Side:
    types, values = {}, {}
    rows = 0
    for name, column in columns.items():
        if isinstance(column, Counts):
            types[name], values[name] = "string", column
            rows = column.total + column.nulls
        else:
            array = np.asarray(column, dtype=float)
            types[name], values[name] = "float", array
            rows = array.size
    return Side(rows, types, values)


REFERENCE = side(age=[20.0, 30, 40, 50], plan=Counts(("basic", "pro"), (3, 1)))
SCHEMA = Schema(columns={"age": Column(type="float", min=18, max=99)})


def checks(current: Side, schema: Schema = SCHEMA) -> list[tuple[str, str, str]]:
    return [(f.column, f.check, f.severity) for f in check_quality(REFERENCE, current, schema)]


def test_clean_data_has_no_findings() -> None:
    assert checks(side(age=[25.0, 35, 45, 55], plan=Counts(("pro", "basic"), (2, 2)))) == []


def test_missing_extra_all_null_and_unseen_columns_are_found() -> None:
    current = side(age=[NAN] * 4, extra=[1.0, 2, 3, 4])
    assert checks(current) == [
        ("age", "all-null", "error"),
        ("plan", "missing-column", "error"),
        ("extra", "extra-column", "warning"),
    ]
    unseen = side(age=[25.0, 35, 45, 55], plan=Counts(("basic", "gold"), (3, 1)))
    (finding,) = check_quality(REFERENCE, unseen, SCHEMA)
    assert finding.check == "unseen-category" and "'gold'" in finding.message
    assert finding.severity == "warning"  # trained-on categories; declared ones are errors


def test_out_of_range_uses_the_declared_bounds_then_the_trained_range() -> None:
    (declared,) = check_quality(
        REFERENCE, side(age=[10.0, 30, 120, 40], plan=Counts(("pro",), (4,))), SCHEMA
    )
    assert declared.check == "out-of-range" and declared.severity == "error"
    assert "2 values outside the declared range [18, 99] (1 below, 1 above)" in declared.message
    (trained,) = check_quality(
        REFERENCE, side(age=[10.0, 30, 45, 40], plan=Counts(("pro",), (4,))), Schema()
    )
    assert "trained-on range [20, 50]" in trained.message and trained.severity == "warning"


def test_type_changes_nulls_and_a_single_row() -> None:
    changed = Side(4, {"age": "string", "plan": "string"},
                   {"age": Counts(("old",), (4,)), "plan": Counts(("pro",), (4,))})  # fmt: skip
    assert checks(changed) == [("age", "type-changed", "error")]
    nulls = side(age=[25.0, NAN, 45, 55], plan=Counts(("pro",), (4,)))
    assert checks(nulls) == [("age", "nulls", "warning")]
    one = side(age=[25.0], plan=Counts(("pro",), (1,)))
    assert checks(one) == [("", "rows", "warning")]
    assert checks(Side(0, {}, {})) == [("", "rows", "error")]
