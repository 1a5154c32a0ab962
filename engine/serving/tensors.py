"""V2 (Open Inference Protocol) ``inputs``: tensors checked against their own datatype and
shape, and against the columns the model was trained on, then handed to
:mod:`engine.serving.inputs` as columns.

A request sends one tensor of shape ``[n, k]`` in column order (KServe's own samples), or
one tensor per column named by the column, of shape ``[n]`` or ``[n, 1]``. The protocol
lets a server coerce an element to the tensor's datatype or refuse it; like KServe's
``InferInput.as_numpy`` the engine reads each element as the datatype says, but where
numpy would silently turn ``1.5`` into the INT64 ``1`` or ``2`` into the BOOL ``true``,
the engine refuses the request (400, an ``error`` naming the input, the row and the
value):

- the datatype must be one of the protocol's (BF16 and FP16 have no JSON form);
- it must fit the column: a number datatype (INT*, UINT*, FP*) for an ``int`` or
  ``float`` column (a whole FP value fits an int column, as ``59.0`` does in V1), BOOL
  for ``bool``, BYTES for ``string``;
- each element must be a value of the datatype: BOOL ``true``/``false``, INT*/UINT* a
  whole number in the type's range, FP* a number within the type's range, BYTES a string;
  ``null`` is a missing value, which the column's ``nullable`` decides;
- the data holds exactly the shape's number of elements, flat or nested as the shape is.

Pure, and column-wise (C loops over the flat data) like the rest of the checks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.serving.inputs import Columns, InputError, Signature, check_columns, from_rows, show

_MANY = 8
"""From this many rows, a nested ``[n, k]`` tensor is checked column by column."""

_INT_RANGES = {
    **{f"INT{b}": (-(2 ** (b - 1)), 2 ** (b - 1) - 1) for b in (8, 16, 32, 64)},
    **{f"UINT{b}": (0, 2**b - 1) for b in (8, 16, 32, 64)},
}
_FP_LIMITS = {"FP16": 65504.0, "FP32": 3.4028234663852886e38, "FP64": math.inf}
NUMBERS = frozenset({*_INT_RANGES, *_FP_LIMITS})
DATATYPES = frozenset({*NUMBERS, "BOOL", "BYTES"})
"""The protocol's datatypes that JSON can carry (BF16 cannot)."""
_FITS = {"int": NUMBERS, "float": NUMBERS, "bool": frozenset({"BOOL"}), "string": {"BYTES"}}
SENT_AS = {"int": "INT64", "float": "FP64", "bool": "BOOL", "string": "BYTES"}
"""The datatype model metadata advertises for a column of each declared type."""
_NONE = type(None)
_KINDS: dict[str, frozenset[type]] = {
    **{d: frozenset({int, float, _NONE}) for d in NUMBERS},
    "BOOL": frozenset({bool, _NONE}),
    "BYTES": frozenset({str, _NONE}),
}


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
        return _matrix(tensors[0], sig)
    by_name: dict[str, Tensor] = {}
    for tensor in tensors:
        if tensor.name not in names:
            raise InputError(
                f"inputs: unknown column {show(tensor.name)}; the model takes {sig.names}"
            )
        if tensor.name in by_name:
            raise InputError(
                f"inputs: column {show(tensor.name)} is sent twice; send one tensor each"
            )
        by_name[tensor.name] = tensor
    raw: Columns = {}
    length: int | None = None
    for field in sig.fields:
        if field.name not in by_name:
            raise InputError(f"inputs: column {field.name!r} is missing")
        tensor = by_name[field.name]
        at = f"inputs[{field.name!r}]"
        shape = list(tensor.shape)
        if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
            raise InputError(f"{at}: shape {shape}; a column's tensor has shape [n] or [n, 1]")
        data = _flat(tensor)
        _fits(tensor, [(field.name, field.type)])
        _of_datatype(data, tensor.datatype, f"{at}[{{}}]".format)
        if length is None:
            length = len(data)
            if not length:
                raise InputError(f"{at}: empty; send at least one row")
        elif len(data) != length:
            raise InputError(f"{at}: {len(data)} values, but other columns have {length}")
        raw[field.name] = data
    return check_columns(raw, sig, lambda i, name: f"inputs[{name!r}][{i}]")


def _matrix(tensor: Tensor, sig: Signature) -> Columns:
    """The columns of one ``[n, k]`` tensor in column order."""
    width = len(sig.fields)
    shape = list(tensor.shape)
    at = f"inputs[{show(tensor.name)}]"
    _shape_of_sizes(tensor)
    if len(shape) != 2 or shape[1] != width or shape[0] < 1:
        raise InputError(
            f"{at}: shape {shape}, but the model takes [n, {width}] "
            f"with the columns in this order: {sig.names}"
        )
    names = sig.names
    data = tensor.data
    if (
        shape[0] >= _MANY
        and type(data) is list
        and len(data) == shape[0]
        and all(type(row) is list and len(row) == width for row in data)
    ):
        # rows nested as the shape says, many of them: judged column by column, never
        # flattened (a value nested deeper is no value of the datatype)
        _fits(tensor, [(f.name, f.type) for f in sig.fields])
        raw = dict(zip(names, map(list, zip(*data, strict=True)), strict=True))
        for name in names:
            _of_datatype(raw[name], tensor.datatype, f"{at}[{{}}][{name!r}]".format)
        return check_columns(raw, sig, lambda i, name: f"{at}[{i}][{name!r}]")
    flat = _flat(tensor)
    _fits(tensor, [(f.name, f.type) for f in sig.fields])
    _of_datatype(flat, tensor.datatype, lambda i: f"{at}[{i // width}][{names[i % width]!r}]")
    rows = [flat[i : i + width] for i in range(0, len(flat), width)]
    return from_rows(rows, sig, at)


def _fits(tensor: Tensor, columns: list[tuple[str, str | None]]) -> None:
    """The datatype is one JSON can carry and fits every column the tensor holds."""
    datatype = tensor.datatype
    at = f"inputs[{show(tensor.name)}]"
    if datatype not in DATATYPES:
        if datatype in ("FP16", "BF16"):
            raise InputError(f"{at}: {datatype} data cannot be sent as JSON; send FP32 or FP64")
        raise InputError(
            f"{at}: datatype {show(datatype)} is not one of the protocol's: "
            f"{', '.join(sorted(DATATYPES))}"
        )
    for name, kind in columns:
        if kind is None or datatype in _FITS[kind]:
            continue
        fix = (
            f"send {SENT_AS[kind]}"
            if len(columns) == 1
            else f"send one tensor per column, named by the column ({SENT_AS[kind]} for {name!r})"
        )
        what = "a number datatype" if kind in ("int", "float") else SENT_AS[kind]
        raise InputError(
            f"{at}: datatype {datatype} does not fit column {name!r}, declared {kind}, "
            f"which takes {what}: {fix}"
        )


def _of_datatype(data: list[Any], datatype: str, place: Callable[[int], str]) -> None:
    """Every element a value of ``datatype`` (``None``: a missing value, judged later)."""
    kinds = set(map(type, data))
    allowed = _KINDS[datatype]
    if not kinds <= allowed:
        index = next(i for i, v in enumerate(data) if type(v) not in allowed)
        raise InputError(f"{place(index)}: {show(data[index])} is not {_word(datatype)}")
    if datatype in ("BOOL", "BYTES", "FP64") or not kinds & {int, float}:
        return  # (every number is an FP64 value: a JSON int beyond a double is the column's)
    numbers = data if _NONE not in kinds else [v for v in data if v is not None]
    limit = _FP_LIMITS.get(datatype, 0.0)
    low, high = _INT_RANGES.get(datatype, (-limit, limit))
    whole = datatype not in _INT_RANGES or float not in kinds
    if (whole or all(v.is_integer() for v in numbers if type(v) is float)) and (
        low <= min(numbers) and max(numbers) <= high
    ):
        return  # (a NaN first makes min NaN and leads below, anywhere else it is skipped)
    outside = next(
        (i for i, v in enumerate(data) if v is not None and not _fits_type(v, datatype)), None
    )
    if outside is None:  # NaN first (FP): every value fits
        return
    raise InputError(f"{place(outside)}: {show(data[outside])} is not {_word(datatype)}")


def _fits_type(value: int | float, datatype: str) -> bool:
    """Whether a number is a value of a number datatype: an INT* one a whole number in
    its range; an FP* one any float (NaN and infinities are the columns' affair) or a
    number within its range."""
    if datatype in _INT_RANGES:
        low, high = _INT_RANGES[datatype]
        whole = isinstance(value, int) or value.is_integer()
        return whole and low <= value <= high
    limit = _FP_LIMITS[datatype]
    return -limit <= value <= limit or (type(value) is float and not math.isfinite(value))


def _word(datatype: str) -> str:
    """What a value of ``datatype`` is, for an error message."""
    article = "a" if datatype.startswith("U") else "an"  # a UINT8, an INT8
    if datatype in ("INT64", "UINT64"):
        unsigned = "an unsigned" if datatype[0] == "U" else "a"
        return f"{article} {datatype} value ({unsigned} 64-bit integer)"
    if datatype in _INT_RANGES:
        low, high = _INT_RANGES[datatype]
        return f"{article} {datatype} value (an integer from {low} to {high})"
    if datatype == "FP64":
        return "an FP64 value (a number)"
    if datatype in _FP_LIMITS:
        return f"an {datatype} value (a number within ±{_FP_LIMITS[datatype]:.6g})"
    return {"BOOL": "a BOOL value (true or false)", "BYTES": "a BYTES value (a string)"}[datatype]


def _shape_of_sizes(tensor: Tensor) -> None:
    shape = list(tensor.shape)
    if any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in shape):
        raise InputError(f"inputs[{show(tensor.name)}]: shape {shape} is not a list of sizes")


def _flat(tensor: Tensor) -> list[Any]:
    """The tensor's elements in row-major order: its data flat, or nested exactly as the
    shape says (the two forms the protocol allows); else an InputError."""
    _shape_of_sizes(tensor)
    shape = list(tensor.shape)
    at = f"inputs[{show(tensor.name)}]"
    data = tensor.data
    if not isinstance(data, list):
        raise InputError(f"{at}: data must be a list of values")
    expected = math.prod(shape)
    if list not in set(map(type, data)):  # flat
        if len(data) != expected:
            raise InputError(f"{at}: {len(data)} values do not fill the shape {shape}")
        return data
    level = [data]
    for depth, size in enumerate(shape):
        if any(type(item) is not list or len(item) != size for item in level):
            raise InputError(
                f"{at}: the data is nested, but not as the shape {shape} says (at depth "
                f"{depth}, every list must hold {size}); send it flat ({expected} values) "
                "or nested exactly as the shape"
            )
        level = [value for item in level for value in item]
    if list in set(map(type, level)):
        raise InputError(f"{at}: the data is nested deeper than the shape {shape}")
    return level


__all__ = ["DATATYPES", "NUMBERS", "SENT_AS", "Tensor", "from_tensors"]
