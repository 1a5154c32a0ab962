"""Version records as plain checked values read and fail exactly as their pydantic twin.

``engine.training.records`` builds a record itself only when every value is in the form
the engine writes; everything else is the twin's (pydantic's) to convert or refuse. These
tests hold the two to the same answers: on the records real training runs wrote
(``tests/fixtures/records``, the four examples, one with a hyper-parameter search) and
on thousands of records mutated from them.
"""

import copy
import json
import random
import typing
from pathlib import Path

import pytest
from pydantic import ValidationError

from engine.errors import StoreError
from engine.plain import MISSING, fields_of
from engine.training import records
from engine.training.records import (
    Candidate,
    RowsRecord,
    SearchRecord,
    VersionRecord,
    schema,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "records"
REAL = {path.stem: path.read_text() for path in sorted(FIXTURES.glob("*.json"))}


def typed(value):
    """``value`` with every scalar's type spelled out: 1, 1.0 and True differ."""
    if isinstance(value, dict):
        return ("dict", tuple((typed(k), typed(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", tuple(typed(v) for v in value))
    return (type(value).__name__, repr(value))


def outcome(build):
    """What ``build()`` answers: the value (typed), or the error's type and message."""
    try:
        return ("ok", typed(build()))
    except Exception as exc:  # the comparison is of whatever either side raises
        return ("error", type(exc).__name__, str(exc))


def ours(raw):
    return VersionRecord.parse(raw).as_dict()


def twins(raw):
    dumped = schema()["VersionRecord"].model_validate(raw).model_dump()
    dumped.pop("version")  # the computed field; a property of the plain record
    return dumped


def test_the_real_records_take_the_exact_path_and_write_back_byte_for_byte():
    assert set(REAL) == {"cancer-rf", "diabetes-ridge", "iris-logreg", "wine-knn"}
    for text in REAL.values():
        raw = json.loads(text)
        assert records._exact(VersionRecord, raw) is not None  # no pydantic needed
        record = VersionRecord.parse(raw)
        assert outcome(lambda raw=raw: ours(raw)) == outcome(lambda raw=raw: twins(raw))
        assert record.to_json() == text
    search = VersionRecord.parse(json.loads(REAL["wine-knn"])).search
    assert isinstance(search, SearchRecord) and isinstance(search.best, Candidate)
    assert len(search.candidates) > 1


# Values a record's fields may hold, in and out of their form: the lax forms pydantic
# converts ("3" for an int, 3 for a float, a NaN metric), wrong types, near misses.
POOL = [
    None, True, False, 0, 1, -1, 3, 2**70, 1.0, 0.5, 3.0, -0.0, float("nan"), float("inf"),
    "", "x", "3", " 3 ", "1.5", "true", "id", "content", "md5", "\ud800", "é",
    "a" * 64, "A" * 64, "a" * 63, "a" * 64 + "\n", "0123456789ab" + "f" * 52,
    "2025-01-02T03:04:05", "2025-01-02T03:04:05Z", "2025-01-02T03:04:05+00:00",
    "2025-01-02T03:04:05+02:00", "2025-01-02", "yesterday",
    [], [1], ["x"], [True, 1, 1.0, "x"], [None], [[1]], [{"a": 1}], [1.5, float("nan")],
    {}, {"a": 1}, {"a": None}, {"a": "x"}, {"a": 1.5}, {"a": float("nan")}, {"a": [1]},
    {"params": {}}, {"params": {"C": 1.0}, "mean_score": 0.9},
    {"scoring": "f1", "best": {"params": {}}}, {"best": {"params": {}}, "candidates": [{}]},
    {"key": "id", "columns": ["a"]}, {"key": "row", "columns": ["a"]}, {"key": "id"},
]  # fmt: skip


def place(raw, rng):
    """A random place in a JSON value, by a walk down from the top: (container, key)."""
    parent = raw
    while True:
        keys = list(parent) if isinstance(parent, dict) else list(range(len(parent)))
        key = rng.choice(keys)
        inner = parent[key]
        if not (isinstance(inner, dict | list) and inner) or rng.random() < 0.4:
            return parent, key
        parent = inner


def mutate(raw, rng):
    """``raw`` with one to three changes: a value replaced, a key dropped or added."""
    raw = json.loads(json.dumps(raw))  # NaN and lone surrogates survive the trip
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        parent, last = place(raw, rng)
        action = rng.random()
        if action < 0.75:
            parent[last] = copy.deepcopy(rng.choice(POOL))
        elif action < 0.9 and isinstance(parent, dict):
            del parent[last]
        elif isinstance(parent, dict):
            parent[rng.choice(("added_later", "version", "format", "x"))] = copy.deepcopy(
                rng.choice(POOL)
            )
    return raw


def fuzzed(count, seed=0):
    rng = random.Random(seed)
    bases = [json.loads(text) for text in REAL.values()]
    return [mutate(rng.choice(bases), rng) for _ in range(count)]


def test_fuzzed_records_read_and_fail_as_the_pydantic_twin_does():
    exact = refused = converted = 0
    for raw in fuzzed(3000):
        mine, theirs = outcome(lambda raw=raw: ours(raw)), outcome(lambda raw=raw: twins(raw))
        assert mine == theirs, raw
        if records._exact(VersionRecord, raw) is not None:
            exact += 1
        elif mine[0] == "error":
            refused += 1
            assert mine[1] == "ValidationError"
        else:
            converted += 1
    # each way was exercised: built here, converted by the twin, refused by the twin
    assert min(exact, refused, converted) > 50, (exact, refused, converted)


def test_fuzzed_records_are_written_as_the_twin_writes_them():
    model = schema()["VersionRecord"]
    for raw in fuzzed(600, seed=1):
        try:
            record = VersionRecord.parse(raw)
        except ValidationError:
            continue
        mine = outcome(record.to_json)
        assert mine == outcome(
            lambda raw=raw: model.model_validate(raw).model_dump_json(indent=2) + "\n"
        )


@pytest.mark.parametrize("raw", [[], "meta", None, 1, [{"model": "x"}]])
def test_a_record_that_is_no_object_fails_as_the_twin_does(raw):
    assert outcome(lambda: ours(raw)) == outcome(lambda: twins(raw))
    with pytest.raises(ValidationError, match="1 validation error for VersionRecord"):
        VersionRecord.parse(raw)


def test_keywords_build_what_parsing_builds_and_records_nest():
    raw = json.loads(REAL["wine-knn"])
    parsed = VersionRecord.parse(raw)
    nested = {
        **raw,
        "search": SearchRecord.parse(raw["search"]),
        "rows": RowsRecord.parse(raw["rows"]),
    }
    assert VersionRecord(**raw) == parsed == VersionRecord(**nested)
    # a lax value anywhere sends the whole record, nested records included, to the twin
    lax = VersionRecord(**{**nested, "training_seconds": 2, "classes": [0, 1, 2]})
    assert lax.training_seconds == 2.0 and type(lax.training_seconds) is float
    assert lax.search == parsed.search and isinstance(lax.search, SearchRecord)
    with pytest.raises(ValidationError, match=r"rows\.key"):
        VersionRecord(**{**raw, "rows": {"key": "row", "columns": []}, "training_seconds": 2})


def test_records_are_read_only_values_and_replace_checks():
    record = VersionRecord.parse(json.loads(REAL["cancer-rf"]))
    with pytest.raises(AttributeError, match="read-only"):
        record.model = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="read-only"):
        del record.files
    assert record.replace(files={}) != record and record.replace(files={}).files == {}
    assert record.replace(training_seconds=1).training_seconds == 1.0
    with pytest.raises(ValidationError, match="fingerprint"):
        record.replace(fingerprint="abc")
    assert "VersionRecord(format=1, model='cancer-rf'" in repr(record)


def test_a_default_list_or_dict_is_each_records_own():
    raw = {k: v for k, v in json.loads(REAL["cancer-rf"]).items() if k not in ("params", "classes")}
    first, second = VersionRecord.parse(raw), VersionRecord.parse(raw)
    first.params["C"] = 1.0
    first.classes.append(0)
    assert second.params == {} and second.classes == []


def shape(tp):
    """A field's declared type, with records named (the twin's classes are its own)."""
    if isinstance(tp, type):
        return tp.__name__
    args = typing.get_args(tp)
    if not args:
        return repr(tp)
    return (repr(typing.get_origin(tp)), tuple(shape(a) for a in args))


@pytest.mark.parametrize("name", ["Candidate", "SearchRecord", "RowsRecord", "VersionRecord"])
def test_the_plain_classes_declare_the_twins_fields(name):
    plain, twin = records.RECORDS[name], schema()[name]
    fields = fields_of(plain)
    assert [f[0] for f in fields] == list(twin.model_fields)
    for field, tp, default in fields:
        info = twin.model_fields[field]
        assert shape(tp) == shape(info.annotation), field
        if default is MISSING:
            assert info.is_required(), field
        else:
            assert info.get_default(call_default_factory=True) == default, field


def test_the_store_says_which_record_is_broken_with_the_twins_reason(tmp_path):
    from engine.store import Store

    raw = json.loads(REAL["cancer-rf"])
    model, fingerprint = raw["model"], raw["fingerprint"]
    folder = tmp_path / "store" / model / fingerprint
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps({**raw, "rows_test": "many"}))
    store = Store.open(str(tmp_path / "store"), tmp_path)
    with pytest.raises(StoreError) as caught:
        store.get_record(model, fingerprint)
    expected = str(outcome(lambda: twins({**raw, "rows_test": "many"}))[2])
    assert str(caught.value) == (
        f"meta.json of {model}@{fingerprint[:12]} is not valid ({expected}); "
        "delete the version to retrain"
    )


def test_records_survive_pickling_and_copying():
    """A training worker hands its outcome back through pickle."""
    import pickle

    record = VersionRecord.parse(json.loads(REAL["wine-knn"]))
    for again in (pickle.loads(pickle.dumps(record)), copy.deepcopy(record), copy.copy(record)):
        assert again == record and type(again.search) is SearchRecord
        with pytest.raises(AttributeError, match="read-only"):
            again.model = "x"  # type: ignore[misc]
