"""The shapes of a logged request: the engine's record and KServe's CloudEvents, as a
:class:`Prediction` (pure: a decoded JSON object in, a value or a ValueError out).

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

:mod:`engine.monitoring.logs` reads the files and lines.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

REQUEST_TYPE = "org.kubeflow.serving.inference.request"
RESPONSE_TYPE = "org.kubeflow.serving.inference.response"
_PROBA_NAMES = ("probabilities", "predict_proba", "proba", "probability")


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


def is_cloudevent(record: Mapping[str, Any]) -> bool:
    """A KServe payload logger's event (a request or a response half)."""
    return "specversion" in record and str(record.get("type", "")).startswith(
        "org.kubeflow.serving.inference."
    )


def prediction_of(record: Mapping[str, Any]) -> Prediction:
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
            time=time_of(_first(record, "time", "ce_time", "ce-time", "timestamp")),
            model=_text(_first(record, "model", "ce_inferenceservicename", "inferenceservicename")),
            version=_text(record.get("version")),
            latency_ms=_number(_first(record, "latency_ms", "latency")),
            ok=False,
        )
    rows = _rows(record["inputs"])
    outputs, proba = _outputs(record.get("outputs"))
    return Prediction(
        request_id=str(request_id),
        time=time_of(_first(record, "time", "ce_time", "ce-time", "timestamp")),
        model=_text(_first(record, "model", "ce_inferenceservicename", "inferenceservicename")),
        version=_text(record.get("version")),
        rows=rows,
        outputs=outputs,
        probabilities=proba,
        latency_ms=_number(_first(record, "latency_ms", "latency")),
        ok=_ok(status, bool(outputs)),
    )


def paired(
    request_id: str, request: Mapping[str, Any], response: Mapping[str, Any] | None
) -> Prediction:
    """A KServe request event and its response event (None: unanswered, a failure)."""
    data = _data(request)
    rows = _rows(data)
    outputs: tuple[Any, ...] = ()
    proba = None
    latency, ok = None, False
    if response is not None:
        outputs, proba = _outputs(_data(response))
        start, end = time_of(request.get("time")), time_of(response.get("time"))
        latency = (end - start) * 1000 if start is not None and end is not None else None
        ok = bool(outputs)
    return Prediction(
        request_id=request_id,
        time=time_of(request.get("time")),
        model=_text(request.get("inferenceservicename")),
        version=_text(request.get("modelid") or request.get("version")),
        rows=rows,
        outputs=outputs,
        probabilities=proba,
        latency_ms=latency,
        ok=ok,
    )


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


def time_of(value: Any) -> float | None:
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


SPAN_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def span_seconds(text: str) -> int | None:
    """A span such as ``30m``, ``24h`` or ``7d`` in seconds; None when ``text`` is none."""
    if text[-1:] in SPAN_UNITS and text[:-1].isdigit():
        return int(text[:-1]) * SPAN_UNITS[text[-1]]
    return None


def in_window(time: float | None, since: float | None) -> bool:
    """Whether a request logged at ``time`` is in the window from ``since`` on (a request
    without a time is; with no ``since``, every one is)."""
    return since is None or time is None or time >= since
