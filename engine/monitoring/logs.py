"""Prediction logs: the serving layer's JSON lines and KServe payload-logger CloudEvents.

Two shapes are read, line by line, from ``*.jsonl`` / ``*.json`` / ``*.log`` files and their
rotated backups (``*.jsonl.1``...):

- the engine's own record, one line per request::

    {"time": "2026-12-01T05:00:00Z", "request_id": "r1", "model": "churn",
     "version": "3e45...", "inputs": [{"age": 41, ...}], "outputs": [1],
     "latency_ms": 3.2, "status": 200, "ce_id": "r1", "ce_type": "..."}

  ``inputs`` may also be columns (``{"age": [41, 37], ...}``, what ``mlops serve``
  writes); ``inputs`` / ``outputs`` a V1 body (``{"instances": ...}``,
  ``{"predictions": ...}``) or V2 (Open Inference) tensors (``{"inputs": [...]}``).

- KServe's payload logger: a structured CloudEvent per request and per response
  (``type`` ``org.kubeflow.serving.inference.request`` / ``.response``, same ``id``,
  the body in ``data``); the two halves are joined by id, latency is their time gap.

A line that is not JSON, or not one of these shapes, is a located :class:`Problem`
(file:line) in the result, never an exception: one corrupt line does not hide the rest.

Log shipping is at-least-once (Fluent Bit, Vector, a retried upload), so the same record
may be read twice: an engine record whose line is byte for byte one read before (leading
and trailing blanks aside) is dropped and counted. A 16-byte digest of each line is kept:
hashing the bytes costs next to nothing, where comparing records field by field (so that a
shipper's re-encoding would match too) added half again to the reader's CPU; a shipper that
re-encodes records or adds fields to them should be configured to ship lines as they are.
The request id alone is not enough (a client may reuse ``x-request-id``). A CloudEvent half
equal to one read before with the same id is counted the same way (the last one of an id
wins, as before).
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from engine.errors import Problem, UserError

REQUEST_TYPE = "org.kubeflow.serving.inference.request"
RESPONSE_TYPE = "org.kubeflow.serving.inference.response"
SUFFIXES = (".jsonl", ".json", ".log", ".ndjson")
MAX_LINE = 64 << 20
"""Longest line read (64 MiB); a longer one is reported, not parsed. ``mlops serve`` logs a
request whole, outputs and probabilities included: a request under its default 8 MB body
limit writes a line of up to about 30 MB (4 MiB refused a 2.5 MB request of 100,000 rows)."""
_PROBA_NAMES = ("probabilities", "predict_proba", "proba", "probability")
SHOWN_DUPLICATES = 10
"""Duplicate lines located in the result (all are counted)."""


@dataclass(frozen=True, slots=True)
class Prediction:
    """One request: its inputs (rows), outputs (one per row) and how it went.

    Monitoring holds one at a time (:func:`stream_logs`); :func:`read_logs` holds them
    all: slots, and the names every record repeats (model, version, column names) shared
    as one string each, keep one at about a kilobyte."""

    request_id: str
    time: float | None = None
    """Seconds since the epoch (UTC)."""
    model: str | None = None
    version: str | None = None
    rows: tuple[Any, ...] = ()
    """One entry per instance: a mapping of column to value, or a list in input order."""
    outputs: tuple[Any, ...] = ()
    probabilities: tuple[tuple[float, ...], ...] | None = None
    latency_ms: float | None = None
    ok: bool = True


@dataclass
class Logs:
    """Every prediction read (:func:`read_logs` only), and every line that could not be
    read (located)."""

    predictions: list[Prediction] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    lines: int = 0
    duplicates: int = 0
    """Records dropped as copies of one read before (at-least-once log shipping)."""
    duplicate_lines: list[Problem] = field(default_factory=list)
    """The first :data:`SHOWN_DUPLICATES` of them, located."""
    seen: set[bytes] = field(default_factory=set, repr=False)
    """A digest of every engine record's line read, to drop copies (emptied once read)."""

    def duplicate(self, where: Problem, of: str) -> None:
        """Count a dropped copy, locating the first few."""
        self.duplicates += 1
        if len(self.duplicate_lines) < SHOWN_DUPLICATES:
            message = f"dropped: a duplicate of {of} read before"
            self.duplicate_lines.append(
                replace(where, message=message, severity="warning", rule="log-duplicate")
            )


def read_logs(
    paths: Sequence[Path], *, since: float | None = None, max_line: int = MAX_LINE
) -> Logs:
    """Read every log file under ``paths`` (files or folders), oldest predictions first;
    a line over ``max_line`` bytes is reported, never held whole. Every prediction is held:
    monitoring reads :func:`stream_logs` instead."""
    logs = Logs()
    logs.predictions = [
        p
        for p in stream_logs(paths, logs, max_line=max_line)
        if since is None or p.time is None or p.time >= since
    ]
    logs.predictions.sort(key=lambda p: (p.time is None, p.time or 0.0))
    return logs


def stream_logs(
    paths: Sequence[Path], logs: Logs, *, max_line: int = MAX_LINE
) -> Iterator[Prediction]:
    """Each prediction of the log files under ``paths`` as its line is read (files in name
    order: a rotated file before the one it was rotated from only when named so), then
    KServe's request/response pairs, which are joined by id once every line is read.

    Nothing is kept but the pairs' halves and one digest per engine record (to drop
    copies): ``logs`` gets the counts, the unreadable lines and the dropped copies. The
    predictions come in file order, not time order."""
    halves: dict[str, dict[str, tuple[Mapping[str, Any], Problem]]] = {}
    for path in _files(paths):
        with path.open("rb") as handle:
            for number, raw, size in _lines(handle, max_line):
                if not raw.strip():
                    continue
                logs.lines += 1
                where = Problem(str(path), number)
                record, problem = _record(raw, where, size, max_line)
                if problem is not None:
                    logs.problems.append(problem)
                elif _is_cloudevent(record):
                    _half(record, where, halves, logs)
                elif (prediction := _add(logs, record, where, raw)) is not None:
                    yield prediction
    logs.seen.clear()
    for request_id, pair in halves.items():
        if (prediction := _pair(request_id, pair, logs)) is not None:
            yield prediction


def _files(paths: Sequence[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            # engine.jsonl is the engine's own action log (engine/audit.py), which shares
            # .mlops/logs/ with the serving layer's prediction logs
            found += sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and _is_log(p.name) and p.name != "engine.jsonl"
            )
        elif path.is_file():
            found.append(path)
        else:
            raise UserError(f"{path}: no such file or folder of prediction logs")
    return found


def _is_log(name: str) -> bool:
    """A log file's name, or a rotated one's (``predictions-7.jsonl.2``, as the server's
    rotating handler names its backups)."""
    stem, dot, number = name.rpartition(".")
    if dot and number.isdigit():
        name = stem
    return any(name.endswith(suffix) for suffix in SUFFIXES)


def _lines(handle: BinaryIO, max_line: int) -> Iterator[tuple[int, bytes, int]]:
    """Each line's number, bytes and size; a line over the cap is never held whole (a 2 GB
    line without a newline costs the cap, not 2 GB): its first bytes come with its size."""
    number = 0
    while raw := handle.readline(max_line + 1):
        number += 1
        size = len(raw)
        if size > max_line and not raw.endswith(b"\n"):
            while rest := handle.readline(1 << 20):
                size += len(rest)
                if rest.endswith(b"\n"):
                    break
        yield number, raw, size


def _record(
    raw: bytes, where: Problem, size: int, max_line: int
) -> tuple[Mapping[str, Any], Problem | None]:
    if size > max_line:
        return {}, _bad(
            where,
            f"a line of {size:,} bytes, longer than {max_line:,} (a request of that many "
            "rows is not monitored: send fewer rows per request)",
        )
    try:
        record = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return {}, _bad(where, f"not JSON ({exc})")
    if not isinstance(record, dict):
        return {}, _bad(where, "not a JSON object")
    return record, None


def _bad(where: Problem, message: str) -> Problem:
    return replace(where, message=f"skipped: {message}", severity="warning", rule="log-line")


def _is_cloudevent(record: Mapping[str, Any]) -> bool:
    return "specversion" in record and str(record.get("type", "")).startswith(
        "org.kubeflow.serving.inference."
    )


def _add(logs: Logs, record: Mapping[str, Any], where: Problem, raw: bytes) -> Prediction | None:
    if record.get("endpoint") == "batch":
        # a chunk `mlops predict` scored, which it logs as {"file": ..., "rows": [a, b]} in
        # the same folder as the server's requests: not rows of inputs to monitor
        return None
    try:
        prediction = _prediction(record)
    except (ValueError, TypeError, KeyError) as exc:
        logs.problems.append(_bad(where, str(exc)))
        return None
    key = hashlib.blake2b(raw.strip(), digest_size=16).digest()
    if key in logs.seen:
        logs.duplicate(where, f"request {prediction.request_id!r}")
        return None
    logs.seen.add(key)
    return prediction


def _prediction(record: Mapping[str, Any]) -> Prediction:
    """The engine's record (flat, with CloudEvent fields beside it)."""
    request_id = _first(record, "request_id", "id", "ce_id", "ce-id")
    if request_id is None:
        raise ValueError("no request id (request_id)")
    if "inputs" not in record:
        raise ValueError("no inputs")
    status = record.get("status")
    if record["inputs"] is None and not _ok(status, False):
        # a request the server refused (``mlops serve`` logs a 400 with ``inputs: null``
        # and the error as outputs): no rows to monitor, but an error of the service
        return Prediction(
            request_id=str(request_id),
            time=_time(_first(record, "time", "ce_time", "ce-time", "timestamp")),
            model=_text(_first(record, "model", "ce_inferenceservicename", "inferenceservicename")),
            version=_text(record.get("version")),
            latency_ms=_number(_first(record, "latency_ms", "latency")),
            ok=False,
        )
    rows = _rows(record["inputs"])
    outputs, proba = _outputs(record.get("outputs"))
    return Prediction(
        request_id=str(request_id),
        time=_time(_first(record, "time", "ce_time", "ce-time", "timestamp")),
        model=_text(_first(record, "model", "ce_inferenceservicename", "inferenceservicename")),
        version=_text(record.get("version")),
        rows=rows,
        outputs=outputs,
        probabilities=proba,
        latency_ms=_number(_first(record, "latency_ms", "latency")),
        ok=_ok(status, bool(outputs)),
    )


def _half(
    record: Mapping[str, Any],
    where: Problem,
    halves: dict[str, dict[str, tuple[Mapping[str, Any], Problem]]],
    logs: Logs,
) -> None:
    if "id" not in record:
        logs.problems.append(_bad(where, "a CloudEvent without an id"))
        return
    side = "request" if record["type"] == REQUEST_TYPE else "response"
    pair = halves.setdefault(str(record["id"]), {})
    if side in pair and pair[side][0] == record:
        logs.duplicate(where, f"{side} event {record['id']!r}")
        return  # the first copy keeps its place (and its line number)
    pair[side] = (record, where)


def _pair(
    request_id: str, pair: Mapping[str, tuple[Mapping[str, Any], Problem]], logs: Logs
) -> Prediction | None:
    if "request" not in pair:
        logs.problems.append(
            _bad(pair["response"][1], f"a response without its request {request_id!r}")
        )
        return None
    request, where = pair["request"]
    try:
        data = _data(request)
        rows = _rows(data)
        outputs: tuple[Any, ...] = ()
        proba = None
        latency, ok, answered = None, False, "response" in pair
        if answered:
            response = pair["response"][0]
            outputs, proba = _outputs(_data(response))
            start, end = _time(request.get("time")), _time(response.get("time"))
            latency = (end - start) * 1000 if start is not None and end is not None else None
            ok = bool(outputs)
        return Prediction(
            request_id=request_id,
            time=_time(request.get("time")),
            model=_text(request.get("inferenceservicename")),
            version=_text(request.get("modelid") or request.get("version")),
            rows=rows,
            outputs=outputs,
            probabilities=proba,
            latency_ms=latency,
            ok=ok,
        )
    except (ValueError, TypeError, KeyError) as exc:
        logs.problems.append(_bad(where, str(exc)))
        return None


def _data(event: Mapping[str, Any]) -> Any:
    if "data" in event:
        data = event["data"]
        return json.loads(data) if isinstance(data, str | bytes) else data
    if "data_base64" in event:
        import base64

        return json.loads(base64.b64decode(event["data_base64"], validate=True))
    raise ValueError("a CloudEvent without data")


def _rows(inputs: Any) -> tuple[Any, ...]:
    """Instances from a list, a V1 body or V2 tensors."""
    if isinstance(inputs, Mapping):
        if "instances" in inputs:
            return _rows(inputs["instances"])
        if "inputs" in inputs:
            return _tensor_rows(inputs["inputs"])
        if inputs and all(isinstance(v, list) for v in inputs.values()):
            return _column_rows(inputs)  # what `mlops serve` logs: {column: [values]}
        return (dict(inputs),)  # one instance as a mapping
    if isinstance(inputs, list):
        if inputs and all(isinstance(t, Mapping) and "datatype" in t for t in inputs):
            return _tensor_rows(inputs)
        return tuple(inputs)
    raise ValueError("inputs are neither a list of instances nor a V1/V2 request body")


def _column_rows(columns: Mapping[str, list[Any]]) -> tuple[Any, ...]:
    """Columns of equal length (the serving layer's record) as one mapping per row."""
    if len({len(v) for v in columns.values()}) != 1:
        raise ValueError("input columns of different lengths")
    names = [sys.intern(str(name)) for name in columns]  # shared by every record's rows
    return tuple(dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True))


def _tensor_rows(tensors: Any) -> tuple[Any, ...]:
    """V2 tensors: one [n, k] tensor is n rows in input order; named [n] tensors are columns."""
    if not isinstance(tensors, list) or not tensors:
        raise ValueError("V2 inputs must be a non-empty list of tensors")
    if len(tensors) == 1:
        tensor = tensors[0]
        shape, data = list(tensor.get("shape", [])), _flat(tensor.get("data"))
        width = math.prod(shape[1:]) if len(shape) > 1 else 1
        if len(data) != math.prod(shape) or width == 0:
            raise ValueError(f"V2 tensor {tensor.get('name')!r}: data does not fit shape {shape}")
        if len(shape) == 1:
            return tuple({str(tensor["name"]): v} for v in data)
        return tuple(data[i : i + width] for i in range(0, len(data), width))
    columns = {str(t["name"]): _flat(t.get("data")) for t in tensors}
    sizes = {len(v) for v in columns.values()}
    if len(sizes) != 1:
        raise ValueError("V2 input tensors of different lengths")
    return tuple(
        dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)
    )


def _flat(data: Any) -> list[Any]:
    if not isinstance(data, list):
        raise ValueError("V2 tensor data must be a list")
    out: list[Any] = []
    for item in data:
        out.extend(_flat(item) if isinstance(item, list) else [item])
    return out


def _outputs(outputs: Any) -> tuple[tuple[Any, ...], tuple[tuple[float, ...], ...] | None]:
    """Predictions, and class probabilities when the response has them."""
    if outputs is None:
        return (), None
    proba = None
    if isinstance(outputs, Mapping):
        if "outputs" in outputs:
            return _tensor_outputs(outputs["outputs"])
        for name in _PROBA_NAMES:
            if name in outputs:
                proba = tuple(tuple(float(x) for x in row) for row in outputs[name])
        outputs = outputs.get("predictions", [])
    if isinstance(outputs, list) and outputs and all(isinstance(t, Mapping) for t in outputs):
        return _tensor_outputs(outputs)
    if not isinstance(outputs, list):
        raise ValueError("outputs are neither a list nor a V1/V2 response body")
    if proba is None and outputs and all(isinstance(o, list) for o in outputs):
        return (), tuple(tuple(float(x) for x in row) for row in outputs)  # predict_proba
    return tuple(outputs), proba


def _tensor_outputs(tensors: Any) -> tuple[tuple[Any, ...], tuple[tuple[float, ...], ...] | None]:
    predictions: tuple[Any, ...] = ()
    proba = None
    for tensor in tensors:
        data, shape = _flat(tensor.get("data")), list(tensor.get("shape", []))
        if str(tensor.get("name", "")) in _PROBA_NAMES and len(shape) == 2:
            width = shape[1]
            proba = tuple(
                tuple(float(x) for x in data[i : i + width]) for i in range(0, len(data), width)
            )
        else:
            predictions = tuple(data)
    return predictions, proba


def _first(record: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if record.get(key) is not None:
            return record[key]
    return None


def _text(value: Any) -> str | None:
    """A name every record repeats (model, version): one shared string per distinct name."""
    return None if value is None else sys.intern(str(value))


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"latency {value!r} is not a number of milliseconds")
    return float(value)


def _ok(status: Any, answered: bool) -> bool:
    if status is None:
        return answered
    if isinstance(status, int) and not isinstance(status, bool):
        return status < 400
    return str(status).lower() in ("ok", "success", "succeeded", "200")


def _time(value: Any) -> float | None:
    """Seconds since the epoch from an ISO 8601 time (UTC if no zone) or a number (seconds,
    or milli-, micro- or nanoseconds: any number past the year 5000 in seconds)."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        # epoch seconds, or milli-, micro- or nanoseconds as shippers and JavaScript write
        # them (1764460800000 is 2025-11-30 in milliseconds, the year 57900 in seconds)
        seconds = float(value)
        for scale in (1e9, 1e6, 1e3):
            if abs(seconds) >= 1e11 * scale / 1e3:
                return seconds / scale
        return seconds
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"time {value!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_since(text: str, now: float) -> float:
    """``--since``: an ISO 8601 time, or a span back from now such as 30m, 24h, 7d."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text[-1:] in units and text[:-1].isdigit():
        return now - int(text[:-1]) * units[text[-1]]
    try:
        value = _time(text)
    except ValueError:
        value = None
    if value is None:
        raise UserError(f"--since {text!r}: give an ISO 8601 time or a span such as 24h or 7d")
    return value


def rows_as_columns(
    predictions: Iterable[Prediction], features: Sequence[str]
) -> dict[str, list[Any]]:
    """Every instance's inputs as columns; list instances are read in ``features`` order.

    A mapping instance keeps its own keys, so a column the model does not know shows up
    (and is reported as extra) and a missing one is missing.
    """
    columns: dict[str, list[Any]] = {}
    count = 0
    for prediction in predictions:
        for row in prediction.rows:
            if isinstance(row, Mapping):
                items = list(row.items())
            elif isinstance(row, list):
                if len(row) != len(features):
                    raise UserError(
                        f"request {prediction.request_id}: an instance of {len(row)} values, "
                        f"but the model takes {len(features)} inputs ({', '.join(features)})"
                    )
                items = list(zip(features, row, strict=True))
            else:
                raise UserError(f"request {prediction.request_id}: an instance is not a row")
            for key, value in items:
                name = str(key)
                values = columns.get(name)
                if values is None:  # a column first seen now: missing in the rows before
                    values = columns[name] = [None] * count
                values.append(value)
            count += 1
            for values in columns.values():
                if len(values) < count:
                    values.append(None)
    return columns
