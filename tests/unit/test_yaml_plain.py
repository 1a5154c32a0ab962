"""The plain parse (``parse_value``) gives the located parse's value, or its very problem.

``parse_value`` builds common files straight from the C composer's nodes and hands
everything else to ``parse``; these tests hold the two to the same answer on generated
documents (every scalar spelling YAML 1.1 reads specially, every style PyYAML writes)
and on generated near-YAML text that exercises the refusals.
"""

import math

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.definitions.yamlfile import YamlProblem, parse, parse_value

PATH = "mlops/models/m.yaml"

# Plain scalars YAML 1.1 resolves to something other than a string, or nearly does.
TRICKY = [
    "yes",
    "No",
    "ON",
    "off",
    "y",
    "n",
    "true",
    "False",
    "~",
    "null",
    "Null",
    "NULL",
    "",
    "0",
    "-0",
    "+1",
    "017",
    "0o17",
    "0x1F",
    "0b101",
    "1_000",
    "1:20",
    "-1:20:30.5",
    "190:20:30",
    "1e3",
    "1E-4",
    "+2.5e+3",
    ".5e2",
    "1.",
    ".5",
    "1.0",
    "-.inf",
    ".Inf",
    ".NaN",
    "1_0.5",
    "2024-01-01",
    "2024-01-01 10:00:00",
    "2001-12-14t21:59:43.10-05:00",
    "=",
    "<<",
    "0.1.2",
    "1e",
    "e3",
    "x1",
    "12abc",
    "'q'",
    "a b",
    "a: b",
    "- x",
    "#x",
    "é",
    "\t",
]


def outcome(data: bytes, parser) -> tuple:
    """What a parser makes of ``data``: its value with every type spelled out, or its error."""
    try:
        return ("ok", canon(parser(data, PATH).value))
    except YamlProblem as exc:
        return ("refused", exc.problem.render(), exc.problem.rule)


def canon(value):
    """``value`` with types kept apart (1, 1.0 and True differ; NaN equals NaN)."""
    if isinstance(value, dict):
        return ("dict", tuple((type(k).__name__, k, canon(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", tuple(canon(v) for v in value))
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, repr(value))


def same(data: bytes) -> tuple:
    expected = outcome(data, parse)
    assert outcome(data, parse_value) == expected
    return expected


scalars = st.one_of(
    st.sampled_from(TRICKY),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
)
keys = st.one_of(st.sampled_from(TRICKY), st.text(max_size=8), st.integers(-5, 5), st.booleans())
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(keys, inner, min_size=1, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(
    documents,
    st.sampled_from([None, False, True]),
    st.sampled_from([None, "'", '"']),
    st.booleans(),
)
def test_documents_as_pyyaml_writes_them(value, flow, style, sort):
    data = yaml.safe_dump(
        value, default_flow_style=flow, default_style=style, sort_keys=sort, allow_unicode=True
    ).encode()
    same(data)


pieces = st.sampled_from(
    [
        "name",
        "a",
        "b",
        "x1",
        "1e-4",
        "yes",
        "~",
        "<<",
        "?",
        "&a ",
        "*a",
        "!!str ",
        "!!int ",
        "!!set ",
        "!!binary ",
        "!!python/name:os.system ",
        "!custom ",
        "'q'",
        '"d"',
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        ": ",
        "- ",
        "-",
        "---",
        "...",
        "#",
        " # c",
        "%YAML 1.1",
        "|",
        ">",
        "\t",
        " ",
        "  ",
        "\n",
        "\n",
        "\n  ",
        "\n- ",
        "\r\n",
        "\ufeff",
        "é",
        "\x85",
        "\u2028",
        "2024-01-01",
        "1:20",
        "0x1F",
        ".nan",
        "null",
        "true",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(pieces, min_size=1, max_size=30))
def test_near_yaml_text_is_read_or_refused_alike(parts):
    same("".join(parts).encode())


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_any_bytes_are_read_or_refused_alike(data):
    same(data)


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b"name: a\nname: b\n", "duplicate-key"),
        (b"a: {x: 1, x: 2}\n", "duplicate-key"),
        (b"1: a\n'1': b\n", "duplicate-key"),
        (b"1e3: a\n1000.0: b\n", "duplicate-key"),
        (b"a: &x [1]\nb: *x\n", "alias"),
        (b"a: !!set {x: null}\n", "tag"),
        (b"a: 2024-01-01\n", "tag"),
        (b"<<: {a: 1}\n", "syntax"),
        (b"? [a]\n: 1\n", "syntax"),
        (b"a: 1\n---\nb: 2\n", "syntax"),
        (b"a: [1\n", "syntax"),
        (b"# only\n\n", "empty"),
        (b"~\n", "empty"),
        (b"a: caf\xe9\n", "encoding"),
        (b"a: !!int x\n", "tag"),
        (b"a: !!int\n", "tag"),
        (b"a: !!bool maybe\n", "tag"),
        (b"a: !!float ''\n", "tag"),
    ],
)
def test_every_refusal_is_the_located_one(data, rule):
    assert same(data)[2] == rule


@pytest.mark.parametrize(
    "data",
    [
        b"# a licence header\nname: a\n",
        "\ufeffname: a\n".encode(),
        b"a: 1\n---\n",
        b"%YAML 1.1\n---\na: 1\n...\n",
        b"a: !!seq {x: 1}\n",
        b"a: !!str 1\nb: !!float '2'\n",
        b"tol: 1e-4\nq: '1e-4'\n1e3: k\n",
        b"a: [yes, No, ~, 0x1F, 1:20, .nan]\n",
    ],
)
def test_unusual_but_accepted_files_have_the_located_value(data):
    assert same(data)[0] == "ok"


def test_positions_come_back_when_a_problem_needs_one():
    data = b"name: a\nestimator:\n  params: {C: 1.5, tol: 1e-4}\nmetrics: [f1, r2]\n"
    plain, located = parse_value(data, PATH), parse(data, PATH)
    assert not plain.located
    for loc, key in [
        (("estimator", "params", "C"), False),
        (("estimator", "params"), True),
        (("metrics", 1), False),
        (("estimator", "params", "missing"), False),
    ]:
        assert plain.where(loc, key=key) == located.where(loc, key=key)
    assert plain.located
