"""Prediction logs: the serving layer's JSON lines and KServe payload-logger CloudEvents.

The files: ``*.jsonl`` / ``*.json`` / ``*.log`` / ``*.ndjson`` and their rotated backups
(``*.jsonl.1``...), read line by line; the shapes of a line (the engine's record, KServe's
CloudEvents) are :mod:`engine.monitoring.records`.

A line that is not JSON, or not one of these shapes, is a located :class:`Problem`
(file:line) in the result, never an exception: one corrupt line does not hide the rest.

Log shipping is at-least-once (Fluent Bit, Vector, a retried upload), so the same record
may be read twice: an engine record whose line is byte for byte one read before (leading
and trailing blanks aside) is dropped and counted. A keyed 8-byte digest of each line is
kept (:mod:`engine.monitoring.digests`, 8 to 16 bytes a line): hashing the bytes costs
next to nothing, where comparing records field by field (so that a
shipper's re-encoding would match too) added half again to the reader's CPU; a shipper that
re-encodes records or adds fields to them should be configured to ship lines as they are.
The request id alone is not enough (a client may reuse ``x-request-id``). A CloudEvent half
equal to one read before with the same id is counted the same way (the last one of an id
wins, as before).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

from engine.errors import Problem, UserError
from engine.monitoring.digests import Digests
from engine.monitoring.records import (
    REQUEST_TYPE,
    Prediction,
    in_window,
    is_cloudevent,
    paired,
    prediction_of,
    span_seconds,
    time_of,
)

__all__ = [
    "MAX_LINE",
    "Logs",
    "Prediction",
    "parse_since",
    "read_logs",
    "stream_logs",
]

SUFFIXES = (".jsonl", ".json", ".log", ".ndjson")
MAX_LINE = 64 << 20
"""Longest line read (64 MiB); a longer one is reported, not parsed. ``mlops serve`` logs a
request whole, outputs and probabilities included: a request under its default 8 MB body
limit writes a line of up to about 30 MB (4 MiB refused a 2.5 MB request of 100,000 rows)."""
SHOWN_DUPLICATES = 10
"""Duplicate lines located in the result (all are counted)."""


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
    seen: Digests = field(default_factory=Digests, repr=False)
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
        p for p in stream_logs(paths, logs, max_line=max_line) if in_window(p.time, since)
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
        name = str(path)
        with path.open("rb") as handle:
            for number, raw, size in _lines(handle, max_line):
                if not raw.strip():
                    continue
                logs.lines += 1
                where = (name, number)  # a Problem only when one is found
                record, problem = _record(raw, where, size, max_line)
                if problem is not None:
                    logs.problems.append(problem)
                elif is_cloudevent(record):
                    _half(record, Problem(*where), halves, logs)
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
    raw: bytes, where: tuple[str, int], size: int, max_line: int
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


def _bad(where: tuple[str, int] | Problem, message: str) -> Problem:
    at = where if isinstance(where, Problem) else Problem(*where)
    return replace(at, message=f"skipped: {message}", severity="warning", rule="log-line")


def _add(
    logs: Logs, record: Mapping[str, Any], where: tuple[str, int], raw: bytes
) -> Prediction | None:
    if record.get("endpoint") == "batch":
        # a chunk `mlops predict` scored, which it logs as {"file": ..., "rows": [a, b]} in
        # the same folder as the server's requests: not rows of inputs to monitor
        return None
    try:
        prediction = prediction_of(record)
    except (ValueError, TypeError, KeyError) as exc:
        logs.problems.append(_bad(where, str(exc)))
        return None
    if not logs.seen.add(raw.strip()):
        logs.duplicate(Problem(*where), f"request {prediction.request_id!r}")
        return None
    return prediction


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
        return paired(request_id, request, pair["response"][0] if "response" in pair else None)
    except (ValueError, TypeError, KeyError) as exc:
        logs.problems.append(_bad(where, str(exc)))
        return None


def parse_since(text: str, now: float) -> float:
    """``--since``: an ISO 8601 time, or a span back from now such as 30m, 24h, 7d."""
    span = span_seconds(text)
    if span is not None:
        return now - span
    try:
        value = time_of(text)
    except ValueError:
        value = None
    if value is None:
        raise UserError(f"--since {text!r}: give an ISO 8601 time or a span such as 24h or 7d")
    return value
