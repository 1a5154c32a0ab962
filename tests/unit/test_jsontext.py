"""``engine.jsontext.dumps`` writes what ``json.dumps(indent=2, default=str)`` writes."""

import json
from enum import StrEnum
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.jsontext import dumps

leaves = st.one_of(
    st.text(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=6), inner, max_size=4),
    ),
    max_leaves=30,
)


def expected(value):
    return json.dumps(value, indent=2, sort_keys=False, default=str)


@settings(max_examples=400, deadline=None)
@given(values)
def test_plain_data_as_json_dumps_writes_it(value):
    assert dumps(value) == expected(value)


class Colour(StrEnum):
    RED = "red"


@given(
    st.sampled_from(
        [
            {1: "a", "b": 2},
            {True: 1, None: 2, 1.5: 3},
            {"path": Path("a/b")},
            [Colour.RED, {"c": Colour.RED}],
            {"n": 10**400},
            {"s": "\ud800 é \x00 \u2028"},
            [[], {}, [[]], {"a": {}}],
        ]
    )
)
def test_anything_else_is_json_dumps_own(value):
    assert dumps(value) == expected(value)
