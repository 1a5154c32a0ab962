"""The rows of a prediction request, checked against the pinned version's dataset schema.

A request names its rows in one of the shapes KServe's protocols allow:

- V1 ``{"instances": [...]}``: each instance a list in the model's column order, or an
  object keyed by column name;
- V2 ``inputs``: one tensor of shape ``[n, k]`` in column order (what KServe's own
  samples send), or one tensor per column, named by the column.

Whatever the shape, every value is checked against the column's declared type, whether
it may be missing, and its allowed values, and the result is one list per column, in the
model's order, ready for a DataFrame. Any problem is an :class:`InputError` whose message
names the row and the column, so a client can fix its request; the server turns it into
a 400. Pure: plain values in, plain values out (tested with plain values and hypothesis).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Signature:
    """The input columns of a model, in the order it was trained on."""

    fields: tuple[Field, ...]

    @property
    def names(self) -> list[str]:
        """The column names, in order."""
        return [f.name for f in self.fields]


def signature(dataset: Dataset, feature_names: Sequence[str] | None = None) -> Signature:
    """The model's inputs: ``feature_names`` (the fitted order) typed by the dataset schema.

    Without ``feature_names`` the schema's own columns are used, minus the target and id.
    """
    declared = {
        name: Field(name, c.type, c.nullable, None if c.values is None else tuple(c.values))
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
    columns: Columns = {f.name: [] for f in sig.fields}
    for i, row in enumerate(rows):
        _add_row(columns, row, sig, f"instances[{i}]")
    return columns


def _add_row(columns: Columns, row: Any, sig: Signature, where: str) -> None:
    if isinstance(row, Mapping):
        extra = [k for k in row if k not in columns]
        if extra:
            raise InputError(f"{where}: unknown column {extra[0]!r}; the model takes {sig.names}")
        for field in sig.fields:
            if field.name not in row:
                raise InputError(f"{where}: column {field.name!r} is missing")
            columns[field.name].append(check_value(row[field.name], field, where))
    elif isinstance(row, list):
        if len(row) != len(sig.fields):
            raise InputError(
                f"{where}: {len(row)} values, but the model takes {len(sig.fields)} "
                f"columns in this order: {sig.names}"
            )
        for field, value in zip(sig.fields, row, strict=True):
            columns[field.name].append(check_value(value, field, where))
    else:
        raise InputError(f"{where}: a row must be a list in column order or an object")


def check_value(value: Any, field: Field, where: str) -> Any:
    """``value`` as the column's type (ints widen to floats); else InputError naming it."""
    # the common case first: a finite number where a number is due, no allowed values
    if (
        type(value) is float
        and field.type == "float"
        and field.values is None
        and math.isfinite(value)
    ):
        return value
    place = f"{where}[{field.name!r}]"
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    if missing:
        if not field.nullable:
            raise InputError(f"{place}: a value is required (the schema forbids missing values)")
        return math.nan if field.type == "float" else None
    kind = field.type
    if kind is None:
        if not isinstance(value, str | int | float | bool):
            raise InputError(f"{place}: expected a number, string or boolean, got {_show(value)}")
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
            raise InputError(f"{place}: {_show(value)} is outside the 64-bit integer range")
    else:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok:
            try:
                value = float(value)
            except OverflowError:  # an int beyond a double: V2's parser keeps big ints
                raise InputError(f"{place}: {_show(value)} is too large for a number") from None
            if not math.isfinite(value):
                raise InputError(f"{place}: {value} is not a finite number")
    if not ok:
        raise InputError(f"{place}: expected {_TYPE_WORDS[kind]}, got {_show(value)}")
    if field.values is not None and value not in field.values:
        raise InputError(f"{place}: {value!r} is not one of {list(field.values)}")
    return value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class Tensor:
    """A V2 request input, as plain values."""

    name: str
    shape: Sequence[int]
    datatype: str
    data: Any


def from_tensors(tensors: Sequence[Tensor], sig: Signature) -> Columns:
    """The columns of V2 ``inputs``: one ``[n, k]`` tensor in column order, or one per column."""
    if not tensors:
        raise InputError('"inputs" is empty: send one tensor [n, columns] or one per column')
    names = set(sig.names)
    if len(tensors) == 1 and tensors[0].name not in names:
        tensor = tensors[0]
        flat = _flat(tensor)
        width = len(sig.fields)
        shape = list(tensor.shape)
        if len(shape) != 2 or shape[1] != width or shape[0] < 1:
            raise InputError(
                f"inputs[{tensor.name!r}]: shape {shape}, but the model takes [n, {width}] "
                f"with the columns in this order: {sig.names}"
            )
        rows = [flat[i : i + width] for i in range(0, len(flat), width)]
        return from_instances({"instances": rows}, sig)
    by_name: dict[str, Tensor] = {}
    for tensor in tensors:
        if tensor.name not in names:
            raise InputError(f"inputs: unknown column {tensor.name!r}; the model takes {sig.names}")
        if tensor.name in by_name:
            raise InputError(f"inputs: column {tensor.name!r} is sent twice; send one tensor each")
        by_name[tensor.name] = tensor
    columns: Columns = {}
    length: int | None = None
    for field in sig.fields:
        if field.name not in by_name:
            raise InputError(f"inputs: column {field.name!r} is missing")
        data = _flat(by_name[field.name])
        if length is None:
            length = len(data)
            if not length:
                raise InputError(f"inputs[{field.name!r}]: empty; send at least one row")
        elif len(data) != length:
            raise InputError(
                f"inputs[{field.name!r}]: {len(data)} values, but other columns have {length}"
            )
        columns[field.name] = [
            check_value(v, field, f"inputs[{field.name!r}][{i}]") for i, v in enumerate(data)
        ]
    return columns


def _flat(tensor: Tensor) -> list[Any]:
    """The tensor's data flattened, checked against its declared shape."""
    shape = list(tensor.shape)
    if any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in shape):
        raise InputError(f"inputs[{tensor.name!r}]: shape {shape} is not a list of sizes")
    flat: list[Any] = []
    stack = [tensor.data]
    while stack:
        item = stack.pop()
        if isinstance(item, list | tuple):
            stack.extend(reversed(item))
        else:
            flat.append(item)
    expected = math.prod(shape)
    if len(flat) != expected:
        raise InputError(
            f"inputs[{tensor.name!r}]: {len(flat)} values do not fill the shape {shape}"
        )
    return flat


__all__ = [
    "Columns",
    "Field",
    "InputError",
    "Signature",
    "Tensor",
    "check_value",
    "from_instances",
    "from_tensors",
    "signature",
    "typed",
]
