"""The quick reader (``yamlfast.read``) reads what PyYAML reads, or leaves the file to it.

Whatever ``read`` accepts must be a document the located PyYAML parse accepts with the
very same value (types included); whatever it refuses goes to PyYAML, so a refusal is
never wrong, only slower. These tests generate block documents and line soups out of
YAML's indicators, quotes, comments and odd characters and hold the two to that, and
check that the files definitions are really written as (the examples, the benchmark's
generated repository) take the quick path.
"""

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.definitions.yamlfast import Unusual, read
from engine.definitions.yamlfile import _plain_scalar, _ready, parse
from tests.unit.test_yaml_plain import TRICKY, canon

PATH = "mlops/models/m.yaml"
ROOT = Path(__file__).resolve().parents[2]


def quick(text: str):
    _ready()
    return read(text, _plain_scalar)


def agrees(text: str) -> bool:
    """Whether ``read`` took ``text`` (then PyYAML reads it to the same value)."""
    try:
        value = quick(text)
    except Unusual:
        return False
    assert canon(value) == canon(parse(text.encode(), PATH).value), text
    return True


# --- generated block documents -------------------------------------------------------

chars = st.sampled_from(
    list("abcxyz019 _.-/")
    + list("-?:,[]{}#&*!|>'\"%@`~<=+^$()\\")
    + ["é", "\xa0", "→", "\U0001d538"]
)
words = st.one_of(st.sampled_from(TRICKY), st.text(chars, min_size=1, max_size=8))
spaces = st.sampled_from(["", " ", "  "])


@st.composite
def scalars(draw, *, flow: bool = False) -> str:
    word = draw(words)
    style = draw(st.sampled_from(["plain", "plain", "single", "double"]))
    if style == "single":
        return "'" + word.replace("'", "''") + "'"
    if style == "double":
        return '"' + word.replace('"', "") + '"'
    return word


@st.composite
def flows(draw, depth: int = 0) -> str:
    items = []
    mapping = draw(st.booleans())
    for _ in range(draw(st.integers(0, 3))):
        inner = draw(flows(depth + 1)) if depth < 2 and draw(st.booleans()) else draw(scalars())
        if mapping:
            inner = draw(scalars()) + draw(st.sampled_from([": ", ":  ", " : ", ":"])) + inner
        items.append(inner)
    sep = draw(st.sampled_from([", ", ",", " , "]))
    body = sep.join(items)
    if draw(st.integers(0, 9)) == 0:
        body += ","
    left, right = draw(spaces), draw(spaces)
    return ("{" if mapping else "[") + left + body + right + ("}" if mapping else "]")


@st.composite
def values(draw) -> str:
    kind = draw(st.sampled_from(["scalar", "scalar", "flow", "empty"]))
    text = "" if kind == "empty" else draw(flows()) if kind == "flow" else draw(scalars())
    tail = draw(st.sampled_from(["", "", " ", " # note", "# x", "  #"]))
    return text + tail


@st.composite
def lines(draw) -> str:
    indent = " " * draw(st.sampled_from([0, 0, 2, 2, 4, 6, 1, 3]))
    shape = draw(st.sampled_from(["key", "key", "key", "entry", "entry-key", "comment", "blank"]))
    if shape == "comment":
        return indent + "# " + draw(words)
    if shape == "blank":
        return indent
    key = draw(scalars()) + draw(st.sampled_from([":", ":", " :", ":  "]))
    gap = draw(st.sampled_from([" ", " ", "", "  "]))
    if shape == "key":
        return indent + key + gap + draw(values())
    dash = draw(st.sampled_from(["- ", "- ", "-  ", "-"]))
    if shape == "entry":
        return indent + dash + draw(values())
    return indent + dash + key + gap + draw(values())


@settings(max_examples=300, deadline=None)
@given(st.lists(lines(), min_size=1, max_size=10), st.sampled_from(["\n", ""]))
def test_line_soup_reads_as_pyyaml_reads_it(body, end):
    agrees("\n".join(body) + end)


@st.composite
def trees(draw, depth: int = 0):
    """A block document's shape: ("map", [(key, tree)]), ("seq", [tree]) or a value's text."""
    kind = draw(st.sampled_from(["map", "seq", "value", "value"] if depth < 3 else ["value"]))
    if kind == "value":
        return draw(values())
    items = draw(st.lists(trees(depth + 1), min_size=1, max_size=4))
    if kind == "seq":
        return ("seq", items)
    return ("map", [(draw(scalars()), item) for item in items])


@st.composite
def blocks(draw) -> str:
    """A mapping written out as a block document, in the layouts people and tools use."""
    out: list[str] = []

    def write(tree, indent: int, lead: str) -> None:
        # ``lead``: the text that opens the first line ("key:" or "-"), at ``indent``
        if isinstance(tree, str):
            out.append(" " * indent + lead + draw(st.sampled_from([" ", " ", "  "])) + tree)
            return
        step = draw(st.sampled_from([2, 2, 4, 1, 3]))
        kind, items = tree
        if lead:
            out.append(" " * indent + lead + draw(st.sampled_from(["", "", " # c"])))
            inner = indent + step
            if kind == "seq" and lead.endswith(":") and draw(st.booleans()):
                inner = indent  # key:\n- a (the sequence beside its key)
        else:
            inner = indent
        for i, item in enumerate(items):
            if draw(st.integers(0, 7)) == 0:
                out.append(" " * draw(st.integers(0, 6)) + "# " + draw(words))
            if kind == "map":
                key, value = item
                write(value, inner, key + draw(st.sampled_from([":", ":", " :"])))
            elif isinstance(item, tuple) and item[0] == "map" and draw(st.booleans()):
                # - key: value, the mapping's next keys under the first
                gap = draw(st.sampled_from([1, 1, 2]))
                head, *others = item[1]
                write(head[1], inner + 1 + gap, head[0] + ":")
                first = out.pop()
                out.append(" " * inner + "-" + first[inner + 1 :])
                for key, value in others:
                    write(value, inner + 1 + gap, key + ":")
            else:
                write(item, inner, "-")

    root = draw(trees())
    if not (isinstance(root, tuple) and root[0] == "map"):
        root = ("map", [(draw(scalars()), root)])
    write(root, 0, "")
    return "\n".join(out) + "\n"


@settings(max_examples=300, deadline=None)
@given(blocks())
def test_block_documents_read_as_pyyaml_reads_them(text):
    agrees(text)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.one_of(words, st.integers(-3, 3)),
        st.recursive(
            st.one_of(words, st.integers(), st.floats(allow_nan=False), st.booleans(), st.none()),
            lambda inner: st.one_of(
                st.lists(inner, max_size=3), st.dictionaries(words, inner, max_size=3)
            ),
            max_leaves=12,
        ),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from([None, False]),
    st.sampled_from([None, "'", '"']),
)
def test_documents_as_pyyaml_writes_them(value, flow, style):
    text = yaml.safe_dump(
        value, default_flow_style=flow, default_style=style, allow_unicode=True, width=10**6
    )
    agrees(text)


# --- what the quick path leaves to PyYAML, and what it must take ---------------------


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\n  b: 2\n",  # a continuation line
        "a: b\n  c\n",  # a plain scalar over two lines
        "a: [1,\n  2]\n",  # a flow collection over two lines
        "a: |\n  x\n",  # a block scalar
        "a: 'x\n  y'\n",  # a quoted scalar over two lines
        'a: "x\\ty"\n',  # an escape
        "a: !!str 1\n",  # a tag
        "a: *x\n",  # an alias
        "? a\n: 1\n",  # a complex key
        "a: 1\na: 2\n",  # a duplicate key
        "a: {x: 1, x: 2}\n",
        "1: a\n'1': b\n",
        "a: 2024-01-01\n",  # a timestamp
        "<<: {a: 1}\n",  # a merge key
        "a:\tb\n",  # a tab
        "a: b\r\n",  # a carriage return
        "\ufeffa: 1\n",  # a byte-order mark
        "%YAML 1.1\n---\na: 1\n",
        "a: 1\n---\nb: 2\n",
        "  a: 1\n",  # an indented root
        "- a\n",  # not a mapping
        "a: b: c\n",
        "a: - b\n",
        "a: [b]c\n",
        "a: 'b'#c\n",
        "a:\n  - b\n  c: d\n",
        "a: {b:c}\n",
        "a: [b: c]\n",
        "a: [b, , c]\n",
        "a: [b,]\n",
        "a: {b: }\n",
        "k" * 1100 + ": v\n",
        "".join(f"{' ' * i}k{i}:\n" for i in range(60)),  # nested deeper than definitions go
        "".join(f"{'  ' * i}- \n" for i in range(60)),
        "# only a comment\n",
        "",
    ],
)
def test_left_to_pyyaml(text):
    with pytest.raises(Unusual):
        quick(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("a: 1\nb: -1\nc: 1e-4\nd: yes\ne: ~\nf:\n", {"a": 1, "b": -1, "c": 1e-4, "d": True}),
        ("a: x # note\nb: x#y\nc: 'it''s'\nd: \"#\"\n", {"a": "x", "b": "x#y", "c": "it's"}),
        (
            "a:\n- 1\n- b: 2\n  c: [3, {d: e f}]\nz: 0\n",
            {"a": [1, {"b": 2, "c": [3, {"d": "e f"}]}], "z": 0},
        ),
        ("1: a\nyes: b\n1e3: c\n", {"1": "a", "True": "b", "1000.0": "c"}),
        ("a: 0x1F\nb: 017\nc: 1:20\nd: .nan\ne: -.inf\n", {"a": 31, "b": 15, "c": 80}),
    ],
)
def test_taken_and_read_as_pyyaml_reads_it(text, value):
    assert agrees(text)
    got = quick(text)
    assert {k: got[k] for k in value} == value


def test_definitions_as_written_take_the_quick_path():
    """Every example definition but the one with a two-line flow list, and every kind
    of file the benchmark generates, is read without PyYAML's composer."""
    examples = sorted((ROOT / "mlops").rglob("*.yaml"))
    taken = [p.name for p in examples if agrees(p.read_text(encoding="utf-8"))]
    assert len(examples) >= 10
    assert sorted(set(p.name for p in examples) - set(taken)) == ["wine-knn.yaml"]

    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_plan

    generated = [bench_plan._model(i) for i in range(6)]
    generated += [bench_plan._dataset(1), bench_plan._features(2)]
    assert all(agrees(text) for text in generated)
