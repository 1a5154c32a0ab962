"""Prediction logs: one JSON line per prediction, readable next to KServe's payload logs.

Every online request and every batch chunk is one line in a rotating file under the
log folder (``.mlops/logs/`` by default), ``predictions-<pid>.jsonl``: one file per
process, so server workers and a batch job never rotate a file under each other. A line
holds the engine's fields (``time``, ``request_id``, ``model``, ``version``, ``inputs``,
``outputs``, ``latency_ms``, ``status``) and the attributes KServe's payload logger puts
on its CloudEvents (``ce-id``, ``ce-type``, ``ce-source``, ``ce-specversion``,
``ce-time``, ``inferenceservicename``, ``namespace``, ``component``, ``endpoint``). KServe
sends a request event and a response event with the same id; a line here is the pair in
one record, typed as the response.

:func:`read_prediction_logs` reads either: the engine's lines, or CloudEvents as a sink
stores them (structured JSON with ``id``/``type``/``data``, or binary-mode attributes
``ce-id``/``ce-type`` with the body under ``data``), joining a request and its response by
id. Monitoring uses it, so what a cluster's logger collected and what ``mlops serve``
wrote read the same way.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import logging.handlers
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.errors import UserError

REQUEST_TYPE = "org.kubeflow.serving.inference.request"
RESPONSE_TYPE = "org.kubeflow.serving.inference.response"
DEFAULT_FOLDER = ".mlops/logs"
MAX_BYTES = 64 * 1024 * 1024
BACKUPS = 5


@dataclass(frozen=True)
class PredictionLog:
    """One prediction as monitoring sees it, whichever logger wrote it."""

    request_id: str
    model: str
    version: str = ""
    time: str = ""
    inputs: Any = None
    outputs: Any = None
    latency_ms: float | None = None
    status: int | None = None
    endpoint: str = ""
    namespace: str = ""
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def utc_now() -> str:
    """The current time, ISO 8601 in UTC with microseconds."""
    return datetime.now(UTC).isoformat()


def log_line(
    *,
    request_id: str,
    model: str,
    version: str,
    inputs: Any,
    outputs: Any,
    latency_ms: float,
    status: int,
    endpoint: str,
    source: str,
    namespace: str = "local",
    time: str | None = None,
) -> dict[str, Any]:
    """The record of one prediction: the engine's fields and KServe's CloudEvent ones."""
    stamp = time or utc_now()
    return {
        "time": stamp,
        "request_id": request_id,
        "model": model,
        "version": version,
        "inputs": inputs,
        "outputs": outputs,
        "latency_ms": round(latency_ms, 3),
        "status": status,
        "ce-id": request_id,
        "ce-specversion": "1.0",
        "ce-type": RESPONSE_TYPE,
        "ce-source": source,
        "ce-time": stamp,
        "inferenceservicename": model,
        "namespace": namespace,
        "component": "predictor",
        "endpoint": endpoint,
    }


class PredictionLogger:
    """Appends prediction records to ``<folder>/predictions-<pid>.jsonl``, rotating it.

    The file is opened on first use in the process that writes, so a logger built before
    a server forks its workers gives each worker its own file.
    """

    def __init__(self, folder: Path, *, max_bytes: int = MAX_BYTES, backups: int = BACKUPS):
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.backups = backups
        self._pid: int | None = None
        self._log: logging.Logger | None = None
        private_folder(self.folder)  # refused at start-up rather than on the first request

    def write(self, record: Mapping[str, Any]) -> None:
        """Append one record as a JSON line (flushed, so a reader sees it at once)."""
        self._logger().info(json.dumps(record, default=_plain, separators=(",", ":")))

    def _logger(self) -> logging.Logger:
        if self._log is None or self._pid != os.getpid():
            private_folder(self.folder)
            path = self.folder / f"predictions-{os.getpid()}.jsonl"
            try:
                handler = _PrivateRotatingFile(
                    path, maxBytes=self.max_bytes, backupCount=self.backups, encoding="utf-8"
                )
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    raise
                raise UserError(
                    f"{path} is a symbolic link: prediction logs are not written through one "
                    "(someone else may have planted it); remove it or choose another --log-dir"
                ) from None
            handler.setFormatter(logging.Formatter("%(message)s"))
            log = logging.Logger(f"mlops.predictions.{os.getpid()}")  # not in the global tree
            log.addHandler(handler)
            log.propagate = False
            self._log, self._pid = log, os.getpid()
        return self._log

    def close(self) -> None:
        """Close the file (the next write opens it again)."""
        if self._log is not None:
            for handler in self._log.handlers:
                handler.close()
        self._log = None

    def __getstate__(self) -> dict[str, Any]:
        # A server with several workers sends its models to child processes: the open
        # file stays behind and each child opens its own.
        return {**self.__dict__, "_log": None, "_pid": None}


class _PrivateRotatingFile(logging.handlers.RotatingFileHandler):
    """A rotating file opened 0600 and never through a symbolic link (``O_NOFOLLOW``)."""

    def _open(self) -> Any:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self.baseFilename, flags, 0o600)
        try:
            if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:  # written before by an older mlops
                os.fchmod(fd, 0o600)
            return open(fd, "a", encoding=self.encoding, errors=self.errors)
        except BaseException:
            os.close(fd)
            raise


def private_folder(folder: Path) -> None:
    """Make ``folder`` (0700), or make an existing one of this user private; refuse another's.

    Prediction logs hold request inputs, which may be personal data: the folder is
    readable by this user only, and a folder another user owns (a shared ``/tmp/...``)
    is refused, since its owner could read the logs or plant links in it.
    """
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = folder.stat()
    if info.st_uid != os.geteuid():
        raise UserError(
            f"{folder} belongs to another user (uid {info.st_uid}): prediction logs hold "
            "request inputs, so they are written only in a folder of your own; choose "
            "another --log-dir"
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(folder, 0o700)


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def read_prediction_logs(path: Path) -> list[PredictionLog]:
    """Every prediction in a log file or folder (rotated files included), oldest first.

    Reads the engine's lines and KServe CloudEvents alike (see the module doc); a line
    that is not JSON, or not a prediction (a half-written last line), is skipped.
    """
    records: list[PredictionLog] = []
    pending: dict[str, dict[str, Any]] = {}
    for item in _json_lines(Path(path)):
        if "model" in item and "request_id" in item and "inputs" in item:
            records.append(_engine_record(item))
            continue
        event = _cloudevent(item)
        if event is None:
            continue
        kind, key = event["type"], event["id"]
        if kind == REQUEST_TYPE:
            pending[key] = event
        elif kind == RESPONSE_TYPE:
            records.append(_kserve_record(pending.pop(key, None), event))
    records.extend(_kserve_record(request, None) for request in pending.values())
    return records


def _json_lines(path: Path) -> Iterator[dict[str, Any]]:
    if path.is_dir():
        # predictions-1.jsonl.2 is older than predictions-1.jsonl.1, older than the live file
        def age(p: Path) -> tuple[str, int]:
            stem, _, number = p.name.partition(".jsonl")
            return stem, -int(number[1:] or 0) if number[1:].isdigit() else 0

        files = sorted((p for p in path.iterdir() if ".jsonl" in p.name), key=age)
    else:
        files = [path]
    for file in files:
        with file.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                try:
                    item = json.loads(line)
                except ValueError:
                    continue
                if isinstance(item, dict):
                    yield item


def _engine_record(item: Mapping[str, Any]) -> PredictionLog:
    status = item.get("status")
    latency = item.get("latency_ms")
    return PredictionLog(
        request_id=str(item["request_id"]),
        model=str(item["model"]),
        version=str(item.get("version") or ""),
        time=str(item.get("time") or ""),
        inputs=item.get("inputs"),
        outputs=item.get("outputs"),
        latency_ms=float(latency) if isinstance(latency, int | float) else None,
        status=status if isinstance(status, int) else None,
        endpoint=str(item.get("endpoint") or ""),
        namespace=str(item.get("namespace") or ""),
        source=str(item.get("ce-source") or ""),
    )


def _cloudevent(item: Mapping[str, Any]) -> dict[str, Any] | None:
    """A CloudEvent's attributes and data, from structured or binary-mode JSON."""
    if "specversion" in item and "type" in item and "id" in item:
        attrs = {k: v for k, v in item.items() if k not in ("data", "data_base64")}
        data = item.get("data")
    elif "ce-type" in item and "ce-id" in item:
        attrs = {k.removeprefix("ce-"): v for k, v in item.items() if k not in ("data", "body")}
        data = item.get("data", item.get("body"))
    else:
        return None
    if isinstance(data, str):
        with contextlib.suppress(ValueError):
            data = json.loads(data)
    return {**attrs, "id": str(attrs["id"]), "type": str(attrs["type"]), "data": data}


def _kserve_record(
    request: Mapping[str, Any] | None, response: Mapping[str, Any] | None
) -> PredictionLog:
    first = request or response or {}
    body = response.get("data") if response else None
    model = first.get("inferenceservicename") or ""
    version = ""
    if isinstance(body, Mapping):
        model = body.get("model_name") or model
        version = str(body.get("model_version") or "")
    return PredictionLog(
        request_id=str(first.get("id", "")),
        model=str(model),
        version=version,
        time=str(first.get("time") or ""),
        inputs=request.get("data") if request else None,
        outputs=body,
        endpoint=str(first.get("endpoint") or ""),
        namespace=str(first.get("namespace") or ""),
        source=str(first.get("source") or ""),
        extra={"component": first.get("component")} if first.get("component") else {},
    )


__all__ = [
    "DEFAULT_FOLDER",
    "REQUEST_TYPE",
    "RESPONSE_TYPE",
    "PredictionLog",
    "PredictionLogger",
    "log_line",
    "private_folder",
    "read_prediction_logs",
    "utc_now",
]
