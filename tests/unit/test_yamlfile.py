"""The located YAML loader: positions, and every way a file can be refused."""

import time

import pytest

from engine.definitions.yamlfile import MAX_BYTES, YamlProblem, parse


def refuse(data: bytes) -> str:
    with pytest.raises(YamlProblem) as info:
        parse(data, "mlops/models/m.yaml")
    return info.value.problem.render()


def test_values_and_positions_are_kept():
    doc = parse(b"name: a\nestimator:\n  params: {C: 1.5, tol: 1e-4}\nmetrics: [f1, r2]\n", "f")
    assert doc.value == {
        "name": "a",
        "estimator": {"params": {"C": 1.5, "tol": 1e-4}},
        "metrics": ["f1", "r2"],
    }
    assert doc.values[("estimator", "params", "C")] == (3, 15)
    assert doc.keys[("estimator", "params")] == (3, 3)
    assert doc.values[("metrics", 1)] == (4, 15)
    assert doc.where(("estimator", "params", "missing")) == (3, 11)


def test_exponent_numbers_are_numbers_but_quoted_ones_stay_strings():
    doc = parse(b"a: 1e-4\nb: '1e-4'\nc: 2.5E+3\n", "f")
    assert doc.value == {"a": 0.0001, "b": "1e-4", "c": 2500.0}


def test_malformed_yaml_is_located():
    assert refuse(b"name: a\ntask: [classification\n") == (
        "mlops/models/m.yaml:3:1: error: invalid YAML: did not find expected ',' or ']'"
    )


@pytest.mark.parametrize("data", [b"", b"\n\n", b"# nothing\n", b"---\n"])
def test_empty_files_are_refused(data):
    assert refuse(data) == (
        "mlops/models/m.yaml:1:1: error: file is empty: write a definition or delete the file"
    )


def test_non_utf8_is_located_at_the_bad_byte():
    assert refuse(b"name: a\ndescription: caf\xe9\n") == (
        "mlops/models/m.yaml:2:17: error: not valid UTF-8 (byte 0xe9): save the file as UTF-8"
    )


def test_oversized_files_are_refused_before_parsing():
    data = b"a: " + b"x" * MAX_BYTES
    started = time.perf_counter()
    message = refuse(data)
    assert time.perf_counter() - started < 0.05
    assert message.startswith("mlops/models/m.yaml:1:1: error: file is 1,048,579 bytes;")


def test_billion_laughs_is_refused_fast_at_the_first_alias():
    rows = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        rows.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    started = time.perf_counter()
    message = refuse("\n".join(rows).encode())
    assert time.perf_counter() - started < 0.5
    assert message == (
        "mlops/models/m.yaml:2:8: error: YAML aliases are not allowed in definitions: "
        "write the value out"
    )


def test_python_tags_are_refused_and_nothing_runs(tmp_path):
    target = tmp_path / "pwned"
    message = refuse(f'x: !!python/object/apply:os.system ["touch {target}"]\n'.encode())
    assert message == (
        "mlops/models/m.yaml:1:4: error: YAML tag "
        "'tag:yaml.org,2002:python/object/apply:os.system' is not allowed: "
        "use a plain value"
    )
    assert not target.exists()


def test_duplicate_keys_are_refused():
    assert refuse(b"name: a\nname: b\n") == (
        "mlops/models/m.yaml:2:1: error: duplicate key 'name': keep one"
    )


def test_more_than_one_document_is_refused():
    assert refuse(b"name: a\n---\nname: b\n").startswith(
        "mlops/models/m.yaml:3:1: error: more than one YAML document"
    )
