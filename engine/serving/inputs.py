"""The rows of a prediction request, checked against the pinned version's dataset schema.

A request names its rows in one of the shapes KServe's protocols allow:

- V1 ``{"instances": [...]}``: each instance a list in the model's column order, or an
  object keyed by column name (here);
- V2 ``inputs``: one tensor of shape ``[n, k]`` in column order (what KServe's own
  samples send), or one tensor per column, named by the column; their datatypes and
  shapes are checked in :mod:`engine.serving.tensors`, which hands the columns here.

Whatever the shape, every value is checked against the column's declared type, whether
it may be missing, its allowed values and its bounds (``min``/``max``; a missing value
is judged by ``nullable`` alone), and the result is one list per column, in the model's
order, ready for a DataFrame. Any problem is an :class:`InputError` whose message names
the row and the column, so a client can fix its request; the server turns it into a
400. The checks run column by column, in C loops where the column is what it should be
(``set(map(type, ...))``, ``math.fsum``, ``min``/``max``), and value by value only to
convert or to find the value at fault. Pure: plain values in, plain values out (tested
with plain values and hypothesis).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as attribute
from typing import Any

from engine.definitions.formats import Dataset

Columns = dict[str, list[Any]]
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

_TYPE_WORDS = {
    "int": "an integer",
    "float": "a number",
    "string": "a string",
    "bool": "true or false",
}


class InputError(ValueError):
    """A request the schema refuses; ``str()`` names the field and what is wrong."""


@dataclass(frozen=True)
class Field:
    """One input column: its declared type (None when the schema does not declare it)."""

    name: str
    type: str | None = None
    nullable: bool = True
    values: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    rule: tuple[bool, bool, float, float] = attribute(init=False, repr=False, compare=False)
    """(a plain float column, bounded, low, high): what the check asks of every value."""

    def __post_init__(self) -> None:
        # what the value-by-value check asks of every value, worked out once
        bounded = self.type in ("int", "float") and (self.min is not None or self.max is not None)
        low = -math.inf if self.min is None else self.min
        high = math.inf if self.max is None else self.max
        plain = self.type == "float" and self.values is None
        object.__setattr__(self, "rule", (plain, bounded, low, high))


@dataclass(frozen=True)
class Signature:
    """The input columns of a model, in the order it was trained on."""

    fields: tuple[Field, ...]
    ordered: tuple[str, ...] = attribute(init=False, repr=False, compare=False)
    """The column names, in order (asked for on every request: worked out once)."""
    keys: frozenset[str] = attribute(init=False, repr=False, compare=False)
    """The column names, as a set."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "ordered", tuple(f.name for f in self.fields))
        object.__setattr__(self, "keys", frozenset(self.ordered))

    @property
    def names(self) -> list[str]:
        """The column names, in order."""
        return list(self.ordered)


def signature(dataset: Dataset, feature_names: Sequence[str] | None = None) -> Signature:
    """The model's inputs: ``feature_names`` (the fitted order) typed by the dataset schema.

    Without ``feature_names`` the schema's own columns are used, minus the target and id.
    """
    declared = {
        name: Field(
            name, c.type, c.nullable, None if c.values is None else tuple(c.values), c.min, c.max
        )
        for name, c in dataset.schema_.columns.items()
    }
    return typed(declared, (dataset.target, dataset.id_column), feature_names)


def typed(
    declared: Mapping[str, Field], skip: Sequence[Any], feature_names: Sequence[str] | None
) -> Signature:
    """``feature_names`` typed by ``declared`` (an undeclared name takes any value); without
    them, the declared fields minus ``skip`` (the target and the id column)."""
    if feature_names is None:
        return Signature(tuple(f for name, f in declared.items() if name not in skip))
    return Signature(tuple(declared.get(name, Field(name)) for name in feature_names))


def from_instances(body: Any, sig: Signature) -> Columns:
    """The columns of a V1 body ``{"instances": [row, ...]}``; rows are lists or objects."""
    if not isinstance(body, Mapping):
        raise InputError('the body must be a JSON object with "instances": a list of rows')
    if "instances" not in body:
        raise InputError('"instances" is missing: send {"instances": [row, ...]}')
    rows = body["instances"]
    if not isinstance(rows, list):
        raise InputError('"instances" must be a list of rows')
    if not rows:
        raise InputError('"instances" is empty: send at least one row')
    return from_rows(rows, sig, "instances")


def from_rows(rows: list[Any], sig: Signature, prefix: str) -> Columns:
    """The checked columns of ``rows`` (lists in column order, or objects keyed by column);
    errors name ``prefix[i]`` and the column."""
    names = sig.names
    width = len(names)
    place: Place = lambda i, name: f"{prefix}[{i}][{name!r}]"  # noqa: E731
    table: list[Sequence[Any]] | None = None
    if all(type(row) is list and len(row) == width for row in rows):  # the common shapes
        table = rows
    elif width > 1 and all(type(row) is dict and row.keys() == sig.keys for row in rows):
        table = list(map(operator.itemgetter(*names), rows))
    if table is None:  # anything else, row by row, to say which row is wrong and how
        raw: Columns = {name: [] for name in names}
        for i, row in enumerate(rows):
            _add_row(raw, row, sig, f"{prefix}[{i}]")
        return check_columns(raw, sig, place)
    if len(table) < _FEW:
        return _few_rows(table, sig, place)
    return check_columns(
        dict(zip(names, map(list, zip(*table, strict=True)), strict=True)), sig, place
    )


def _few_rows(rows: list[Sequence[Any]], sig: Signature, place: Place) -> Columns:
    """A row or a few, checked as they come: for one row, transposing it into columns
    and a call per column would cost more than the checks."""
    out: Columns = {field.name: [] for field in sig.fields}
    for i, row in enumerate(rows):
        for field, value in zip(sig.fields, row, strict=True):
            plain, _, low, high = field.rule
            # a finite float within the bounds where a float is due needs no call
            if not (
                plain and type(value) is float and value - value == 0.0 and low <= value <= high
            ):
                value = _one(value, field, i, place)
            out[field.name].append(value)
    return out


def _add_row(columns: Columns, row: Any, sig: Signature, where: str) -> None:
    if isinstance(row, Mapping):
        extra = [k for k in row if k not in columns]
        if extra:
            raise InputError(
                f"{where}: unknown column {_show(extra[0])}; the model takes {sig.names}"
            )
        for field in sig.fields:
            if field.name not in row:
                raise InputError(f"{where}: column {field.name!r} is missing")
            columns[field.name].append(row[field.name])
    elif isinstance(row, list):
        if len(row) != len(sig.fields):
            raise InputError(
                f"{where}: {len(row)} values, but the model takes {len(sig.fields)} "
                f"columns in this order: {sig.names}"
            )
        for field, value in zip(sig.fields, row, strict=True):
            columns[field.name].append(value)
    else:
        raise InputError(f"{where}: a row must be a list in column order or an object")


Place = Callable[[int, str], str]
"""``(row, column) -> where``: how an error names a value of the request."""


def check_columns(raw: Columns, sig: Signature, place: Place) -> Columns:
    """Each column of ``raw`` checked against its field (type, missing values, allowed
    values, bounds) and converted (ints widen to floats, whole floats fit an int column,
    a missing float is NaN); the first value at fault is an InputError at ``place``."""
    if sig.fields and len(raw[sig.fields[0].name]) < _FEW:
        return _few(raw, sig, place)
    return {field.name: _column(raw[field.name], field, place) for field in sig.fields}


def _few(raw: Columns, sig: Signature, place: Place) -> Columns:
    """:func:`_each` of every column, inlined for a request of a row or a few: the calls
    would cost more than the checks."""
    out: Columns = {}
    for field in sig.fields:
        name = field.name
        values = raw[name]
        plain, _, low, high = field.rule
        if plain:  # finite floats within the bounds are what they should be
            for v in values:
                if not (type(v) is float and v - v == 0.0 and low <= v <= high):
                    break
            else:
                out[name] = values
                continue
        out[name] = _each(values, field, place)
    return out


_ONE_KIND = {"float": float, "int": int, "string": str, "bool": bool}
_FEW = 8
"""Below this many rows, value by value costs less than the whole-column passes."""


def _column(values: list[Any], field: Field, place: Place) -> list[Any]:
    """The column checked; whole-column tests (C loops: ``set(map(type))``, ``fsum``,
    ``min``/``max``) clear the common case, and anything else is checked value by value."""
    kind = field.type
    kinds = set(map(type, values))
    if kind == "float" and int in kinds and kinds <= {int, float}:
        try:
            values = list(map(float, values))  # ints widen to floats
        except OverflowError:
            return _each(values, field, place)
        kinds = {float}
    if kinds != {_ONE_KIND.get(kind or "")}:
        return _each(values, field, place)
    if kind == "float":
        try:
            finite = math.isfinite(math.fsum(values))  # NaN or an infinity makes it not
        except OverflowError:
            finite = False
        if not finite:
            return _each(values, field, place)
    elif kind == "int" and (min(values) < _INT64_MIN or max(values) > _INT64_MAX):
        return _each(values, field, place)
    if field.values is not None and not frozenset(field.values).issuperset(values):
        return _each(values, field, place)
    _check_bounds(values, field, place)
    return values


def _each(values: list[Any], field: Field, place: Place) -> list[Any]:
    """The column checked value by value (few rows, or a column the fast path refused)."""
    plain, _, low, high = field.rule
    out = []
    for i, value in enumerate(values):
        # a finite float within the bounds where a float is due needs no call
        if not (plain and type(value) is float and value - value == 0.0 and low <= value <= high):
            value = _one(value, field, i, place)
        out.append(value)
    return out


def _one(value: Any, field: Field, row: int, place: Place) -> Any:
    """One value checked (type, missing, allowed values, bounds) and converted."""
    try:
        value = _value(value, field)
    except _Refused as exc:
        raise InputError(f"{place(row, field.name)}: {exc}") from None
    _, bounded, low, high = field.rule
    # a missing value (None, NaN) is not out of bounds: nullable has judged it
    if bounded and value is not None and value == value and not low <= value <= high:
        side = f"below min {_bound(low)}" if value < low else f"above max {_bound(high)}"
        raise InputError(f"{place(row, field.name)}: {value!r} is {side}")
    return value


def _check_bounds(values: list[Any], field: Field, place: Place) -> None:
    """The dataset schema's ``min``/``max``; a missing value (None, NaN) is not judged here,
    the column's ``nullable`` has judged it."""
    low, high = field.min, field.max
    if (low is None and high is None) or field.type not in ("int", "float"):
        return
    try:
        # a NaN first in the list makes min (max) NaN, anywhere else it is skipped
        least, most = min(values), max(values)
        if (
            least == least
            and most == most
            and (low is None or least >= low)
            and (high is None or most <= high)
        ):
            return
    except TypeError:  # None (a missing int) among the values
        pass
    for i, value in enumerate(values):
        if value is None or value != value:
            continue
        if low is not None and value < low:
            raise InputError(f"{place(i, field.name)}: {value!r} is below min {_bound(low)}")
        if high is not None and value > high:
            raise InputError(f"{place(i, field.name)}: {value!r} is above max {_bound(high)}")


def _bound(value: float) -> str:
    return f"{value:.6g}"


class _Refused(ValueError):
    """Why one value is refused, without where it is (the caller adds that)."""


def check_value(value: Any, field: Field, where: str) -> Any:
    """``value`` as the column's type (ints widen to floats); else InputError naming it.

    Bounds are a column's affair (:func:`check_columns`), not checked here.
    """
    try:
        return _value(value, field)
    except _Refused as exc:
        raise InputError(f"{where}[{field.name!r}]: {exc}") from None


def _value(value: Any, field: Field) -> Any:
    # the common case first: a finite number where a number is due, no allowed values
    if (
        type(value) is float
        and field.type == "float"
        and field.values is None
        and math.isfinite(value)
    ):
        return value
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    if missing:
        if not field.nullable:
            raise _Refused("a value is required (the schema forbids missing values)")
        return math.nan if field.type == "float" else None
    kind = field.type
    if kind is None:
        if not isinstance(value, str | int | float | bool):
            raise _Refused(f"expected a number, string or boolean, got {_show(value)}")
        return value
    if kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "string":
        ok = isinstance(value, str)
    elif kind == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok and not _INT64_MIN <= value <= _INT64_MAX:
            raise _Refused(f"{_show(value)} is outside the 64-bit integer range")
    else:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok:
            try:
                value = float(value)
            except OverflowError:  # an int beyond a double: V2's parser keeps big ints
                raise _Refused(f"{_show(value)} is too large for a number") from None
            if not math.isfinite(value):
                raise _Refused(f"{value} is not a finite number")
    if not ok:
        raise _Refused(f"expected {_TYPE_WORDS[kind]}, got {_show(value)}")
    if field.values is not None and value not in field.values:
        raise _Refused(f"{_show(value)} is not one of {list(field.values)}")
    return value


def show(value: Any) -> str:
    """A value as an error message shows it: its repr, cut at 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_show = show


__all__ = [
    "Columns",
    "Field",
    "InputError",
    "Place",
    "Signature",
    "check_columns",
    "check_value",
    "from_instances",
    "from_rows",
    "show",
    "signature",
    "typed",
]
