"""``engine.jsontext.dumps`` writes the text of ``json.dumps(value, indent=2, default=str)``."""

import json
import math
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.jsontext import dumps

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
)
keys = st.one_of(st.text(max_size=6), st.integers(-3, 3), st.booleans(), st.none(), st.floats())
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(keys, inner, max_size=4),
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_the_text_is_the_standard_librarys(value):
    assert dumps(value) == json.dumps(value, indent=2, default=str)


def test_what_only_the_standard_library_writes_is_left_to_it():
    class Text(str):
        pass

    for value in (
        {"when": date(2024, 1, 2)},
        [math.nan, math.inf],
        {1: "a", None: [True]},
        {"k": Text("v")},
        {"é\n": "\u2028"},
    ):
        assert dumps(value) == json.dumps(value, indent=2, default=str)
    looped: list[object] = []
    looped.append(looped)
    try:
        dumps(looped)
    except ValueError as exc:  # the standard library's own "Circular reference detected"
        assert "Circular" in str(exc)
    else:
        raise AssertionError("a cycle must fail as json.dumps fails")
