"""Data checks: does a table look like its dataset definition says it must?

:func:`check_table` is pure: a :class:`~engine.definitions.formats.Dataset` and a ``pyarrow.Table``
in, a list of :class:`Finding` out. Each finding names the node of the definition it
concerns (``("schema", "columns", "age", "max")``), so the caller can point at the line of
the YAML that the data breaks (:func:`engine.data.tables.to_problems`). Every check is columnar
``pyarrow.compute`` work (null counts, min/max, set membership), so a million rows take
milliseconds per column and are never copied into pandas.

One root cause gives one finding: a column whose type is wrong is not also checked for
range or allowed values, and a missing column is reported once.

A finding never quotes a value from the data. Findings reach pull-request comments and
the replies of the privileged comment job, and the data may be private (or, before the
pointer rules of :mod:`engine.data.pointers`, not data at all but ``/etc/passwd``). So a
finding names the column, the rule and the rows: row numbers count the data's rows from 1
(the header is not a row). A finding about some rows of one column also carries them as
data (``column``, ``rows``, ``reason``), so the caller can point at the cells themselves:
``data/cars.csv:118:6`` (:mod:`engine.data.cells`).
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from engine.definitions.formats import Checks, Column, Dataset

MAX_SHOWN = 5
_INT_TEXT = r"^\s*[+-]?[0-9]+\s*$"
_FLOAT_TEXT = r"(?i)^\s*[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?|inf|infinity|nan)\s*$"
_BOOL_TEXT = r"(?i)^\s*(true|false|0|1)\s*$"


@dataclass(frozen=True)
class Finding:
    """One way the data disagrees with its definition, at a node of the definition file.

    ``loc`` is a document path such as ``("schema", "columns", "age", "max")``. A finding
    about cells of one column also has the ``column``, the first rows it concerns (numbered
    from 0, at most :data:`MAX_SHOWN`), how many ``more`` there are, and the ``reason`` in a
    few words that follow the column's name ("holds text where float is declared").
    """

    loc: tuple[str | int, ...]
    message: str
    column: str | None = None
    rows: tuple[int, ...] = ()
    more: int = 0
    reason: str = ""


def check_table(dataset: Dataset, table: pa.Table) -> list[Finding]:
    """Check a table against the dataset's schema, checks, target and id column."""
    columns, findings = _columns(table, dataset)
    missing = {name: _missing_count(col) for name, col in columns.items()}
    findings += _check_rows(dataset.checks, table.num_rows)
    findings += _check_roles(dataset, columns, missing)
    roles = {dataset.target, dataset.id_column}
    for name, declared in dataset.schema_.columns.items():
        if name not in columns:
            if name not in roles:  # a missing target or id column is already reported
                subject = f"column {name!r} is declared in the schema but"
                findings.append(
                    Finding(("schema", "columns", name), _absent(subject, name, [*columns]))
                )
            continue
        if declared.type == "date":
            findings += _check_dates(name, columns[name])
        findings += _check_column(name, declared, columns[name], missing[name])
    findings += _check_null_fraction(dataset.checks, missing, table.num_rows)
    return findings


def _columns(table: pa.Table, dataset: Dataset) -> tuple[dict[str, Any], list[Finding]]:
    import pyarrow as pa

    columns: dict[str, Any] = {}
    findings: list[Finding] = []
    for name, col in zip(table.column_names, table.columns, strict=True):
        if name in columns:
            loc = ("schema", "columns", name) if name in dataset.schema_.columns else ()
            findings.append(
                Finding(
                    loc,
                    f"column {_name(name)} appears more than once in the data: "
                    "rename or drop the copies",
                )
            )
            continue
        if pa.types.is_dictionary(col.type):  # pandas categoricals arrive dictionary-encoded
            col = col.cast(col.type.value_type)
        columns[name] = col
    return columns, findings


def _missing_count(col: Any) -> int:
    import pyarrow as pa
    import pyarrow.compute as pc

    count = col.null_count
    if pa.types.is_floating(col.type):  # NaN is how pandas and numpy spell "missing"
        count += _count(pc.is_nan(col))
    return int(count)


def _check_rows(checks: Checks, rows: int) -> list[Finding]:
    out = []
    if checks.min_rows is not None and rows < checks.min_rows:
        out.append(
            Finding(
                ("checks", "min_rows"),
                f"the data has {_n(rows, 'row')}, fewer than min_rows ({checks.min_rows})",
            )
        )
    if checks.max_rows is not None and rows > checks.max_rows:
        out.append(
            Finding(
                ("checks", "max_rows"),
                f"the data has {_n(rows, 'row')}, more than max_rows ({checks.max_rows})",
            )
        )
    return out


def _check_roles(
    dataset: Dataset, columns: dict[str, Any], missing: dict[str, int]
) -> list[Finding]:
    import pyarrow.compute as pc

    out = []
    declared = dataset.schema_.columns
    roles = [("target column", dataset.target, ("target",))]
    if dataset.id_column is not None:
        roles.append(("id column", dataset.id_column, ("id_column",)))
    for role, name, loc in roles:
        if name not in columns:
            out.append(Finding(loc, _absent(f"{role} {name!r}", name, list(columns))))
            continue
        # A declared column's nulls are the schema's business (nullable); don't say it twice.
        if missing[name] and name not in declared:
            out.append(
                Finding(
                    loc,
                    f"{role} {name!r} has {_n(missing[name], 'missing value')}: "
                    f"every row needs one",
                )
            )
    if dataset.id_column is not None and dataset.id_column in columns:
        column = columns[dataset.id_column]
        ids = column.drop_null()
        if pc.count_distinct(ids).as_py() < len(ids):
            counts = pc.value_counts(ids)
            dupes = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
            repeated = pc.is_in(column, value_set=dupes)
            message = (
                f"id column {dataset.id_column!r} has {_n(len(dupes), 'id')} on more than one "
                f"row ({_rows(repeated)}); ids must be unique"
            )
            out.append(
                _cells(("id_column",), message, dataset.id_column, repeated, "repeats an id")
            )
    return out


def _check_column(name: str, declared: Column, col: Any, missing: int) -> list[Finding]:
    import pyarrow.compute as pc

    loc = ("schema", "columns", name)
    wrong_type = _type_problem(name, declared.type, col)
    if wrong_type:
        return [dataclasses.replace(wrong_type, loc=(*loc, "type"))]
    out = []
    if missing and not declared.nullable:
        out.append(
            _cells(
                (*loc, "nullable"),
                f"column {name!r} has {_n(missing, 'missing value')} "
                "but is not nullable: fill them or declare nullable: true",
                name,
                pc.invert(_present(col)),
                "is missing a value but is not nullable",
            )
        )
    out += _check_range(name, declared, col)
    if declared.values is not None:
        out += _check_values(name, declared.values, col)
    return out


def _check_dates(name: str, col: Any) -> list[Finding]:
    """Every present value of a text column must be an ISO-8601 date (``YYYY-MM-DD``).

    The finding points at the first bad cell; the value itself is never quoted (see the
    module's docstring), the row and column say where to look.
    """
    from engine.data.dates import is_text, to_days

    if not is_text(col.type):
        return []  # typed columns are judged by _type_problem
    days = to_days(col)
    bad, count, first = days.bad, days.bad_count, days.first_bad
    if first is None:
        return []
    more = f"; {_n(count, 'row')} in all ({_rows(bad)})" if count > 1 else ""
    return [
        _cells(
            ("schema", "columns", name, "type"),
            f"{name}: row {first} is not a date: write ISO-8601 dates, such as 2024-05-31{more}",
            name,
            bad,
            "is not an ISO-8601 date (such as 2024-05-31)",
        )
    ]


def _type_problem(name: str, declared: str, col: Any) -> Finding | None:
    """Why ``col`` can't hold the ``declared`` type, or None when it can (``loc`` unset)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = col.type
    text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
    if pa.types.is_null(kind) or (declared in ("string", "date") and text):
        return None
    if declared == "date" and (pa.types.is_date(kind) or pa.types.is_timestamp(kind)):
        return None
    if declared == "float" and (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
        return None
    if declared == "int" and pa.types.is_integer(kind):
        return None
    if declared == "bool" and pa.types.is_boolean(kind):
        return None
    bad, what = None, ""
    if text and declared in ("int", "float", "bool"):
        pattern = {"int": _INT_TEXT, "float": _FLOAT_TEXT, "bool": _BOOL_TEXT}[declared]
        bad, what = pc.invert(pc.match_substring_regex(col, pattern)), "text"
    elif declared == "int" and pa.types.is_floating(kind):
        # Integral floats are an int column that met a missing value along the way.
        bad = pc.and_(pc.invert(pc.is_nan(col)), pc.not_equal(col, pc.floor(col)))
        what = "fractional numbers"
    elif declared == "bool" and pa.types.is_integer(kind):
        bad = pc.and_(_present(col), pc.invert(pc.is_in(col, value_set=pa.array([0, 1], kind))))
        what = "numbers other than 0 and 1"
    if bad is None:
        return Finding((), f"column {name!r} is declared {declared} but holds {kind} values")
    count = _count(bad)
    if not count:
        return None
    message = (
        f"column {name!r} is declared {declared} but has {_n(count, 'row')} with {what} "
        f"({_rows(bad)})"
    )
    return _cells((), message, name, bad, f"holds {_one[what]} where {declared} is declared")


def _check_range(name: str, declared: Column, col: Any) -> list[Finding]:
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        return []
    out = []
    loc = ("schema", "columns", name)
    for bound, limit, compare, side in (
        ("min", declared.min, pc.less, "below"),
        ("max", declared.max, pc.greater, "above"),
    ):
        if limit is None:
            continue
        outside = compare(col, limit)
        count = _count(outside)
        if count:
            out.append(
                _cells(
                    (*loc, bound),
                    f"column {name!r} has {_n(count, 'row')} {side} "
                    f"{bound} {_fmt(limit)} ({_rows(outside)})",
                    name,
                    outside,
                    f"is {side} {bound} {_fmt(limit)}",
                )
            )
    return out


def _check_values(name: str, allowed: list[Any], col: Any) -> list[Finding]:
    import pyarrow as pa
    import pyarrow.compute as pc

    value_set = pa.array(_castable(allowed, col.type), col.type)
    unexpected = pc.and_(_present(col), pc.invert(pc.is_in(col, value_set=value_set)))
    count = _count(unexpected)
    if not count:
        return []
    listed = ", ".join(_fmt(v) for v in allowed)
    return [
        _cells(
            ("schema", "columns", name, "values"),
            f"column {name!r} has {_n(count, 'row')} with values not in [{listed}] "
            f"({_rows(unexpected)})",
            name,
            unexpected,
            f"holds a value not in [{listed}]",
        )
    ]


def _castable(values: list[Any], kind: Any) -> list[Any]:
    """The allowed values that the column's type can hold; the others can never match."""
    import pyarrow as pa

    out = []
    for value in values:
        try:
            out.append(pa.scalar(value).cast(kind).as_py())
        except (pa.ArrowException, TypeError, ValueError):
            continue
    return out


def _check_null_fraction(checks: Checks, missing: dict[str, int], rows: int) -> list[Finding]:
    limit = checks.max_null_fraction
    if limit is None or not rows:
        return []
    over = sorted(
        (name for name, count in missing.items() if count / rows > limit),
        key=lambda name: -missing[name],  # stable: ties keep the table's column order
    )
    if not over:
        return []
    worst = over[0]
    message = (
        f"column {_name(worst)} is {_pct(missing[worst] / rows)} missing "
        f"({missing[worst]:,} of {rows:,} rows), above max_null_fraction {_fmt(limit)}"
    )
    if len(over) > 1:
        others = ", ".join(_name(n) for n in over[1 : 1 + MAX_SHOWN])
        more = f" and {len(over) - 1 - MAX_SHOWN} more" if len(over) - 1 > MAX_SHOWN else ""
        message += f"; so are {others}{more}"
    return [Finding(("checks", "max_null_fraction"), message)]


# --- wording ----------------------------------------------------------------------------


def _present(col: Any) -> Any:
    """A mask of the values that are there: neither null nor NaN."""
    import pyarrow as pa
    import pyarrow.compute as pc

    valid = pc.is_valid(col)
    if pa.types.is_floating(col.type):
        valid = pc.and_(valid, pc.invert(pc.is_nan(col)))
    return valid


def _count(mask: Any) -> int:
    import pyarrow.compute as pc

    return int(pc.sum(mask).as_py() or 0)


def _absent(subject: str, name: str, names: list[str]) -> str:
    hint = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if hint:
        return f"{subject} is missing from the data; did you mean {_name(hint[0])}?"
    listed = ", ".join(_name(n) for n in names[:8]) + (", ..." if len(names) > 8 else "")
    return f"{subject} is missing from the data (its columns: {listed or 'none'})"


def _name(column: str) -> str:
    """A column name read from the data's header, quoted and cut short."""
    return repr(column if len(column) <= 40 else column[:37] + "...")


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _pct(fraction: float) -> str:
    return f"{100 * fraction:.3g}%"


def _where(mask: Any) -> tuple[tuple[int, ...], int]:
    """The first rows (from 0) where ``mask`` is true, and how many more there are."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(mask, pa.ChunkedArray):
        mask = mask.combine_chunks()
    where = pc.indices_nonzero(pc.fill_null(mask, False))
    shown = tuple(where.slice(0, MAX_SHOWN).to_pylist())
    return shown, len(where) - len(shown)


def _rows(mask: Any) -> str:
    """The rows where ``mask`` is true, numbered from 1: ``rows 3, 8 and 12 more``."""
    shown, more = _where(mask)
    noun = "row" if len(shown) + more == 1 else "rows"
    listed = ", ".join(str(i + 1) for i in shown)
    return f"{noun} {listed}" + (f" and {more:,} more" if more else "")


def _cells(
    loc: tuple[str | int, ...], message: str, column: str, mask: Any, reason: str
) -> Finding:
    """A finding about the cells of ``column`` where ``mask`` is true."""
    rows, more = _where(mask)
    return Finding(loc, message, column, rows, more, reason)


_one = {
    "text": "text",
    "fractional numbers": "a fractional number",
    "numbers other than 0 and 1": "a number other than 0 and 1",
}


def _fmt(value: Any) -> str:
    """A value of the definition as a message shows it: YAML-like booleans, short numbers,
    quoted text. Never used for the data's own values (see the module docstring)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    return str(value)


__all__ = ["MAX_SHOWN", "Finding", "check_table"]
