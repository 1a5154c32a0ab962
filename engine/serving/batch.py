"""``mlops predict``: score a CSV or Parquet file with a pinned version, chunk by chunk.

The input is read as a stream of Arrow record batches (``pyarrow.csv.open_csv`` with the
schema's column types, or ``ParquetFile.iter_batches``), each batch is checked against
the schema column by column (present, typed, no missing values where the schema
forbids them, finite, within ``min``/``max``, allowed values: what an online request
is checked for), scored, and appended to the output. Memory therefore
follows the chunk size, not the file. The output has the input's id column (or
``row``, the row number), ``prediction``, ``proba_<class>`` for classifiers, and
``version``. It is written next to its destination (or, for standard output, to a
temporary file) and renamed into place (copied out) at the end, so a failure leaves
nothing half-written. An error names the column and the first row at fault, counted
from 0 as the output's ``row``. Each chunk is one line in the prediction log,
naming the file and rows rather than copying them.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import UserError
from engine.serving.inputs import Field, Signature

# An int column is read as float64 and cast back once its values are seen to be whole:
# ``59.0`` is an int to validate, train and the server, so it is one here too.
_ARROW_TYPES = {"int": "float64", "float": "float64", "string": "string", "bool": "bool"}


@dataclass
class BatchResult:
    """What one ``predict`` run did."""

    model: str
    version: str
    rows: int
    chunks: int
    seconds: float
    output: Path | None

    def summary(self) -> str:
        """One line for the terminal."""
        where = f" to {self.output}" if self.output else ""
        return (
            f"scored {self.rows} rows with {self.model}@{self.version} in {self.chunks} "
            f"chunks ({self.seconds:.1f} s){where}"
        )


def predict_file(
    root: Path,
    model: str,
    env_name: str,
    input_path: Path,
    output_path: Path | None,
    *,
    chunk_rows: int = 65536,
    log_dir: Path | None = None,
    progress: bool = False,
) -> BatchResult:
    """Score ``input_path`` with the version ``model`` has in ``env_name`` (see module doc)."""
    from engine.serving.pinned import pinned_versions

    (pinned,) = pinned_versions(root, env_name, [model])
    return score_file(
        pinned, input_path, output_path, chunk_rows=chunk_rows, log_dir=log_dir, progress=progress
    )


def score_file(
    pinned: Any,
    input_path: Path,
    output_path: Path | None,
    *,
    chunk_rows: int = 65536,
    log_dir: Path | None = None,
    progress: bool = False,
) -> BatchResult:
    """Score a file with an already loaded :class:`PinnedVersion`."""
    from engine.serving.logs import PredictionLogger, log_line

    suffix = input_path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise UserError(f"{input_path}: give a .csv or .parquet file")
    if output_path is not None and output_path.exists() and output_path.samefile(input_path):
        raise UserError(f"{output_path}: is the input file; give --output another path")
    logger = PredictionLogger(log_dir) if log_dir is not None else None
    run = uuid.uuid4().hex[:12]
    started = time.perf_counter()
    rows = chunks = 0
    with _output(output_path) as (sink, final), _progress(input_path, progress) as advance:
        writer = None
        for batch in _batches(input_path, pinned.signature, chunk_rows):
            chunk_started = time.perf_counter()
            batch = check_batch(batch, pinned.signature, input_path, rows)
            table = _score(pinned, batch, rows)
            if writer is None:
                writer = _writer(sink, final, table.schema)
            writer.write_table(table)
            if logger is not None:
                logger.write(
                    log_line(
                        request_id=f"{run}-{chunks}",
                        model=pinned.model,
                        version=pinned.version,
                        inputs={"file": str(input_path), "rows": [rows, rows + batch.num_rows]},
                        outputs={"file": str(final or "-"), "rows": batch.num_rows},
                        latency_ms=(time.perf_counter() - chunk_started) * 1000,
                        status=200,
                        endpoint="batch",
                        source=f"file://{input_path.resolve()}",
                    )
                )
            rows += batch.num_rows
            chunks += 1
            advance(batch.num_rows)
        if writer is None:
            raise UserError(f"{input_path}: no rows to score")
        writer.close()
    return BatchResult(
        pinned.model, pinned.version, rows, chunks, time.perf_counter() - started, output_path
    )


def _batches(path: Path, sig: Signature, chunk_rows: int) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    try:
        if path.suffix.lower() == ".parquet":
            yield from pq.ParquetFile(path).iter_batches(batch_size=chunk_rows)
            return
        types = {f.name: pa.type_for_alias(_ARROW_TYPES[f.type]) for f in sig.fields if f.type}
        block = max(1 << 16, min(chunk_rows * 16 * max(len(sig.fields), 1), 1 << 26))
        # strings_can_be_null: an empty cell is missing, as training reads it (data/tables.py)
        convert = pcsv.ConvertOptions(column_types=types, strings_can_be_null=True)
        reader = pcsv.open_csv(
            path, read_options=pcsv.ReadOptions(block_size=block), convert_options=convert
        )
        for batch in reader:
            for start in range(0, batch.num_rows, chunk_rows):
                yield batch.slice(start, chunk_rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise UserError(
            f"{path}: cannot be read as {path.suffix[1:]}: {_named(exc, path)}"
        ) from None


def _named(exc: Exception, path: Path) -> str:
    """Arrow's message with ``CSV column #3`` replaced by the column's name."""
    import csv
    import re

    text = str(exc)
    found = re.search(r"CSV column #(\d+)", text)
    if not found:
        return text
    with contextlib.suppress(OSError, csv.Error, StopIteration):
        with path.open(newline="", encoding="utf-8", errors="replace") as handle:
            header = next(csv.reader(handle))
        index = int(found.group(1))
        if index < len(header):
            text = text.replace(found.group(0), f"column {header[index]!r}")
    return text


def check_batch(batch: Any, sig: Signature, path: Path, offset: int) -> Any:
    """The batch, every model column present, of its type (whole floats in an int column
    cast to int64), without forbidden missing values, values outside ``values``, numbers
    outside ``min``/``max`` or non-finite numbers (as an online request); else a UserError
    naming the column and the first row at fault (rows counted from 0, as the output's
    ``row``). A missing value is judged by ``nullable`` alone, never by the bounds."""
    import pyarrow as pa

    names = batch.schema.names
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UserError(f"{path}: the header names column {twice[0]!r} more than once")
    present = set(names)
    for field in sig.fields:
        if field.name not in present:
            raise UserError(
                f"{path}: column {field.name!r} is missing; the model takes {sig.names}"
            )
        column = batch.column(field.name)
        where = f"{path}: column {field.name!r}"
        kind = column.type
        ok = {
            None: True,
            "float": pa.types.is_floating(kind) or pa.types.is_integer(kind),
            "int": pa.types.is_integer(kind) or pa.types.is_floating(kind),
            "bool": pa.types.is_boolean(kind),
            "string": pa.types.is_string(kind) or pa.types.is_large_string(kind),
        }[field.type]
        if not ok:
            raise UserError(f"{where} holds {kind}, but the schema declares {field.type}")
        if field.type == "int" and pa.types.is_floating(kind):
            column = _whole(column, where, offset)
            batch = batch.set_column(names.index(field.name), field.name, column)
        _check_column(column, field, where, offset)
    return batch


def _check_column(column: Any, field: Field, where: str, offset: int) -> None:
    """One column's values against the field: missing, finite, in range, allowed."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if not field.nullable:
        missing = pc.is_null(column, nan_is_null=True)
        if pc.any(missing).as_py():
            row = offset + _first(missing)
            count, last = pc.sum(missing).as_py(), offset + len(column) - 1
            raise UserError(
                f"{where}, row {row}: missing values are forbidden by the schema "
                f"({count} in rows {offset}-{last})"
            )
    checks: list[tuple[Callable[[], Any], str]] = []  # each mask made only when its turn comes
    if field.type == "float" and pa.types.is_floating(kind):
        # an infinity is refused online too; NaN is a missing value, judged above
        checks.append((lambda: pc.is_inf(column), "is not a finite number"))
    if field.type == "int" and kind == pa.uint64():
        checks.append(
            (
                lambda: pc.greater(column, pa.scalar(2**63 - 1, kind)),
                "is outside the 64-bit integer range",
            )
        )
    if field.type in ("int", "float"):
        low, high = field.min, field.max
        if low is not None:
            checks.append((lambda: pc.less(column, low), f"is below min {low:.6g}"))
        if high is not None:
            checks.append((lambda: pc.greater(column, high), f"is above max {high:.6g}"))
    if field.values is not None:
        values = field.values

        def outside() -> Any:
            allowed = pa.array(list(values)).cast(kind, safe=False)
            # a missing value is no value: the nullable check above has judged it
            given = pc.invert(pc.is_null(column, nan_is_null=True))
            return pc.and_(pc.invert(pc.is_in(column, value_set=allowed)), given)

        checks.append((outside, f"is not one of {list(values)}"))
    for mask, what in checks:  # (null where the value is missing: not at fault)
        bad = mask()
        if pc.any(bad).as_py():
            index = _first(bad)
            raise UserError(f"{where}, row {offset + index}: {column[index].as_py()!r} {what}")


def _whole(column: Any, where: str, offset: int) -> Any:
    """A float column of whole numbers as int64; else a UserError naming the first row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    finite = pc.fill_null(pc.is_finite(column), True)
    whole = pc.fill_null(pc.equal(column, pc.floor(column)), True)
    in_range = pc.fill_null(
        pc.and_(pc.greater_equal(column, -(2.0**63)), pc.less(column, 2.0**63)), True
    )
    good = pc.and_(pc.and_(finite, whole), in_range)
    nan = pc.fill_null(pc.is_nan(column), False)
    bad = pc.and_(pc.invert(good), pc.invert(nan))
    if pc.any(bad).as_py():
        index = _first(bad)
        value = column[index].as_py()
        raise UserError(f"{where}, row {offset + index}: {value!r} is not an integer")
    # NaN (a missing value Parquet may hold as a float) becomes null, as a missing int
    return pc.cast(pc.if_else(nan, pa.scalar(None, pa.float64()), column), pa.int64())


def _first(mask: Any) -> int:
    """The index of the first true value of a boolean array."""
    import pyarrow.compute as pc

    return int(pc.index(mask, True).as_py())


def _score(pinned: Any, batch: Any, offset: int) -> Any:
    import numpy as np
    import pyarrow as pa

    frame = batch.select(pinned.signature.names).to_pandas()
    predictions, proba = pinned.score(frame)
    id_name = pinned.id_column if pinned.id_column in batch.schema.names else None
    ids = batch.column(id_name) if id_name else pa.array(np.arange(offset, offset + len(frame)))
    columns = {id_name or "row": ids, "prediction": pa.array(predictions)}
    if proba is not None:
        for i, label in enumerate(pinned.classes):
            columns[f"proba_{label}"] = pa.array(proba[:, i])
    columns["version"] = pa.array([pinned.version] * len(frame), pa.string())
    return pa.table(columns)


class _CsvWriter:
    def __init__(self, sink: Any, schema: Any):
        import pyarrow.csv as pcsv

        self._writer = pcsv.CSVWriter(sink, schema)

    def write_table(self, table: Any) -> None:
        self._writer.write_table(table)

    def close(self) -> None:
        self._writer.close()


def _writer(sink: Any, final: Path | None, schema: Any) -> Any:
    import pyarrow.parquet as pq

    if final is not None and final.suffix.lower() == ".parquet":
        return pq.ParquetWriter(sink, schema)
    return _CsvWriter(sink, schema)


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[tuple[Any, Path | None]]:
    """A sink to write to: stdout, or a file beside ``path`` renamed into place on success."""
    if path is None:
        # spooled to a temporary file first, so nothing reaches stdout unless all fits
        with tempfile.TemporaryFile() as spool:
            yield spool, None
            spool.seek(0)
            shutil.copyfileobj(spool, sys.stdout.buffer, 1 << 20)
        sys.stdout.flush()
        return
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise UserError(f"{path}: the output must end in .csv or .parquet")
    if not path.parent.is_dir():
        raise UserError(f"{path.parent} is not a folder")
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("wb") as sink:
            yield sink, path
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


@contextlib.contextmanager
def _progress(path: Path, show: bool) -> Iterator[Any]:
    """A callable advancing a rich progress bar (on a terminal), else one doing nothing."""
    if not show:
        yield lambda rows: None
        return
    from rich.progress import Progress

    total = None
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        total = pq.ParquetFile(path).metadata.num_rows
    with Progress(transient=True) as bar:
        task = bar.add_task(f"scoring {path.name}", total=total)
        yield lambda rows: bar.update(task, advance=rows)


__all__ = ["BatchResult", "check_batch", "predict_file", "score_file"]
