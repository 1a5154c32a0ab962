"""The record of a stored model version (its ``meta.json``), as plain checked values.

Every command that reads the store reads records: a review reads the two versions it
compares and the history of each. They are plain read-only classes rather than pydantic
models, because importing pydantic and building the models cost more than the rest of
such a review's reading (a warm ``mlops diff`` imports no pydantic at all).

The schema is still pydantic's: :func:`engine.training.record_schema.schema` builds the
pydantic twin of these classes on first need, and it decides everything this module does
not decide exactly:

- a record in the form the engine writes it (every value of exactly its JSON type, a
  64-hex fingerprint, a UTC timestamp, finite metrics) is checked and built here;
- anything else goes to the twin: the lax forms pydantic converts (an ``int`` where a
  ``float`` is declared, a NaN metric that becomes ``None``), and every malformed record,
  which fails with pydantic's own ``ValidationError`` and message (a ``ValueError``).

So a record reads the same, and a bad one fails the same, as when the classes were the
pydantic models (``tests/unit/test_records.py`` compares both on real and fuzzed
records). ``meta.json`` is written by the twin too (:meth:`VersionRecord.to_json`): its
JSON encoder is the one the records were always written with. Pure: no I/O.
"""

from __future__ import annotations

import functools
import math
import re
import types
import typing
from datetime import datetime
from typing import Any, Literal, Self, dataclass_transform

from engine.plain import MISSING, Plain, fields_of
from engine.training import record_schema
from engine.training.record_schema import RECORD_FORMAT, SHORT, Label, schema

_NO: Any = object()  # "not in the exact form": the twin decides


@dataclass_transform(kw_only_default=True, frozen_default=True)
class _Record(Plain):
    """A record: its fields are its annotations, checked once from keywords, read-only.

    A field's class attribute is its default (a list or dict default is copied for each
    value); one without is required. Unknown keywords are ignored, as a newer engine's
    fields are.
    """

    def __init__(self, **values: Any) -> None:
        fields = _exact(type(self), values)
        if fields is None:
            fields = _by_twin(type(self), values)
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    @classmethod
    def parse(cls, raw: Any) -> Self:
        """The record a JSON value holds; pydantic's ``ValidationError`` when it holds none."""
        fields = _exact(cls, raw) if type(raw) is dict else None
        if fields is None:
            fields = _by_twin(cls, raw)
        made: Self = _made(cls, fields)
        return made

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes``, checked like a new record."""
        return type(self)(**{**vars(self), **changes})

    def as_dict(self) -> dict[str, Any]:
        """The fields as plain values (nested records as dicts)."""
        return {name: _dicts(value) for name, value in vars(self).items()}


class Candidate(_Record):
    """One hyper-parameter candidate of a search, with its cross-validated score."""

    params: dict[str, Any]
    mean_score: float | None = None
    std_score: float | None = None


class SearchRecord(_Record):
    """A hyper-parameter search: every candidate tried and the one kept."""

    scoring: str = ""
    candidates: list[Candidate] = []  # copied for each value
    best: Candidate


class RowsRecord(_Record):
    """Which rows a version trained on: the key of their identities, and how many.

    The identities themselves (64-bit hashes, one per row, with its side) are in the
    version's ``rows.parquet``; see :mod:`engine.training.split`.
    """

    key: Literal["id", "content"]
    columns: list[str]
    """The id column, or every column whose content the identity hashes."""
    train: int = 0
    test: int = 0


class VersionRecord(_Record):
    """Everything known about one stored model version (its ``meta.json``)."""

    format: int = RECORD_FORMAT
    model: str
    fingerprint: str
    created: str
    """When it was trained: ISO 8601, UTC."""
    commit: str = ""
    author: str = ""
    task: str
    dataset: str
    data_hash: str = ""
    params: dict[str, Any] = {}  # copied for each value
    features: dict[str, Any] = {}
    metrics: dict[str, float | None] = {}
    cv: dict[str, Any] | None = None
    search: SearchRecord | None = None
    classes: list[Label] = []
    engine_version: str = ""
    sklearn_version: str = ""
    python_version: str = ""
    training_seconds: float = 0.0
    rows_train: int = 0
    rows_test: int = 0
    rows: RowsRecord | None = None
    """The rows trained on (None: trained before rows were recorded)."""
    files: dict[str, str] = {}
    """File name to sha256, filled in by the store."""

    @property
    def version(self) -> str:
        """The user-facing version id: the fingerprint's first 12 characters."""
        return self.fingerprint[:SHORT]

    @property
    def label(self) -> str:
        """``model@version``, the way people name a version."""
        return f"{self.model}@{self.version}"

    def to_json(self) -> str:
        """The record as the text of ``meta.json`` (written by the pydantic twin)."""
        twin = schema()["VersionRecord"].model_validate(self.as_dict())
        return twin.model_dump_json(indent=2) + "\n"


RECORDS: dict[str, type[_Record]] = {
    cls.__name__: cls for cls in (Candidate, SearchRecord, RowsRecord, VersionRecord)
}

# --- the exact form ----------------------------------------------------------------------

_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


def _is_fingerprint(value: str) -> bool:
    return _FINGERPRINT.fullmatch(value) is not None


def _is_utc(value: str) -> bool:
    try:
        return datetime.fromisoformat(value).utcoffset() is not None
    except ValueError:
        return False


_CONSTRAINTS: dict[tuple[type[_Record], str], typing.Callable[[str], bool]] = {
    (VersionRecord, "fingerprint"): _is_fingerprint,
    (VersionRecord, "created"): _is_utc,
}
"""Fields whose value must also pass a test (the twin's pattern and validator)."""

_Check = typing.Callable[[Any], Any]
"""A value as its type's exact form, or ``_NO``."""
_PLANS: dict[type[_Record], tuple[tuple[str, _Check, Any], ...]] = {}


def _plan(cls: type[_Record]) -> tuple[tuple[str, _Check, Any], ...]:
    """Each field of ``cls``: its name, the check of its exact form, its default."""
    if cls not in _PLANS:
        plan = []
        for name, tp, default in fields_of(cls):
            check, test = _check(tp), _CONSTRAINTS.get((cls, name))
            if test is not None:
                check = _also(check, test)
            plan.append((name, check, default))
        _PLANS[cls] = tuple(plan)
    return _PLANS[cls]


def _exact(cls: type[_Record], values: dict[str, Any]) -> dict[str, Any] | None:
    """The fields of ``cls`` from ``values`` when every value is in the exact form, else
    None (the twin decides)."""
    fields: dict[str, Any] = {}
    for name, check, default in _plan(cls):
        value = values.get(name, MISSING)
        if value is MISSING:
            if default is MISSING:
                return None
            fields[name] = default.copy() if isinstance(default, list | dict) else default
            continue
        value = check(value)
        if value is _NO:
            return None
        fields[name] = value
    return fields


def _also(check: _Check, test: typing.Callable[[Any], bool]) -> _Check:
    return lambda value: _NO if (found := check(value)) is _NO or not test(found) else found


def _check(tp: Any) -> _Check:
    """The check of type ``tp``'s exact form: the value as it is (containers copied, nested
    records built), or ``_NO``."""
    if tp is str or tp is int or tp is bool:
        return lambda value: value if type(value) is tp else _NO
    if tp is float:
        return lambda value: value if type(value) is float and math.isfinite(value) else _NO
    if tp is Any:
        return lambda value: value
    if isinstance(tp, type) and issubclass(tp, _Record):
        return functools.partial(_nested, tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        nullable = len(inner) < len(args)
        if len(inner) == 1:
            one = _check(inner[0])
            return lambda value: None if value is None and nullable else one(value)
        # a union of scalars (a class label): pydantic keeps an exact match as it is
        checks = {a: _check(a) for a in inner}
        return lambda value: (
            None
            if value is None and nullable
            else checks[type(value)](value)
            if type(value) in checks
            else _NO
        )
    if origin is Literal:
        return lambda value: value if type(value) is str and value in args else _NO
    if origin is list:
        item = _check(args[0])
        return functools.partial(_list, item)
    if origin is dict and args[0] is str:
        if args[1] is Any:
            return _dict_of_any
        return functools.partial(_dict, _check(args[1]))
    raise TypeError(f"no exact form for {tp!r}")


def _nested(cls: type[_Record], value: Any) -> Any:
    if type(value) is cls:
        return value  # checked when it was made
    fields = _exact(cls, value) if type(value) is dict else None
    return _NO if fields is None else _made(cls, fields)


def _list(item: _Check, value: Any) -> Any:
    if type(value) is not list:
        return _NO
    items = [item(v) for v in value]
    return _NO if any(v is _NO for v in items) else items


def _dict_of_any(value: Any) -> Any:
    if type(value) is not dict or any(type(k) is not str for k in value):
        return _NO
    return dict(value)


def _dict(entry: _Check, value: Any) -> Any:
    if type(value) is not dict or any(type(k) is not str for k in value):
        return _NO
    entries = {k: entry(v) for k, v in value.items()}
    return _NO if any(v is _NO for v in entries.values()) else entries


def _made(cls: type[_Record], fields: dict[str, Any]) -> Any:
    record = object.__new__(cls)
    for name, value in fields.items():
        object.__setattr__(record, name, value)
    return record


# --- the twin ------------------------------------------------------------------------------


def _by_twin(cls: type[_Record], values: Any) -> dict[str, Any]:
    """The fields of ``cls`` as the pydantic twin validates ``values`` (or its error)."""
    checked = schema()[cls.__name__].model_validate(_dicts(values))
    return {name: _plain(getattr(checked, name)) for name, _, _ in fields_of(cls)}


def _dicts(value: Any) -> Any:
    """``value`` with every record in it as a dict (what the twin reads)."""
    if isinstance(value, _Record):
        return value.as_dict()
    if type(value) is dict:
        return {k: _dicts(v) for k, v in value.items()}
    if type(value) is list:
        return [_dicts(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    """``value`` from the twin with every pydantic model in it as its plain record."""
    cls = RECORDS.get(type(value).__name__)
    if cls is not None and type(value).__module__ == record_schema.__name__:
        return _made(cls, {name: _plain(getattr(value, name)) for name, _, _ in fields_of(cls)})
    if type(value) is list:
        return [_plain(v) for v in value]
    return value


__all__ = [
    "RECORD_FORMAT",
    "Candidate",
    "Label",
    "RowsRecord",
    "SearchRecord",
    "VersionRecord",
    "schema",
]
