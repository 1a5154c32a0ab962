"""Prediction logs: the engine's records and KServe's CloudEvents, and what goes wrong."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from engine.errors import UserError
from engine.monitoring.health import health
from engine.monitoring.logs import Prediction, parse_since, read_logs
from engine.serving.logs import PredictionLogger, log_line

FIXTURES = Path(__file__).parents[1] / "data" / "monitoring"
FEATURES = ["a", "b", "c", "d"]


def rows_as_columns(
    predictions: Iterable[Prediction], features: Sequence[str]
) -> dict[str, list[Any]]:
    """Every instance's inputs as columns; list instances are read in ``features`` order
    (the plain reading, kept here as the oracle the engine's ColumnsBuilder is checked
    against).

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


def _write(path: Path, lines: list[object]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def test_kserve_cloudevents_are_paired_by_id_in_v1_v2_and_base64() -> None:
    logs = read_logs([FIXTURES / "kserve-cloudevents.jsonl"])
    by_id = {p.request_id: p for p in logs.predictions}
    first = by_id["0009174a-24a8-4603-b098-09c8799950e9"]
    assert first.rows == ([6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6])
    assert first.outputs == (1, 1) and first.model == "iris-logreg" and first.ok
    assert first.latency_ms == pytest.approx(12.247, abs=0.01)
    assert by_id["5c6f27c0-56b3-4a0b-a4a4-4f3e2a3c6a11"].outputs == (0,)
    assert by_id["a1b2c3d4-0000-4000-8000-000000000003"].rows == ([6.3, 3.3, 6.0, 2.5],)
    assert not by_id["unanswered-1"].ok  # a request with no response failed
    messages = [p.render() for p in logs.problems]
    assert len(messages) == 2
    assert any(":9:" in m and "not JSON" in m for m in messages)  # the truncated last line
    assert any(":8:" in m and "orphan-9" in m for m in messages)
    stats = health(logs.predictions)
    assert stats.requests == 4 and stats.errors == 1 and stats.instances == 5


def test_engine_records_with_names_tensors_status_and_since(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "serve.jsonl",
        [
            {"time": "2026-11-30T10:00:00Z", "request_id": "r1", "model": "m", "version": "v",
             "inputs": [{"a": 1, "b": 2.5, "c": "x", "d": True}], "outputs": [1],
             "latency_ms": 3.0, "status": 200},
            {"time": "2026-11-30T11:00:00Z", "request_id": "r2", "model": "m",
             "inputs": {"inputs": [{"name": "a", "shape": [2], "datatype": "FP64",
                                    "data": [1.0, 2.0]},
                                   {"name": "b", "shape": [2], "datatype": "FP64",
                                    "data": [3.0, 4.0]}]},
             "outputs": {"predictions": [0, 1], "probabilities": [[0.9, 0.1], [0.2, 0.8]]},
             "latency_ms": 5.0, "status": 200},
            {"time": "2026-11-30T12:00:00Z", "request_id": "r3", "inputs": [[1, 2, 3, 4]],
             "outputs": None, "latency_ms": 50.0, "status": 500},
            "",
            "[1, 2]",
            {"request_id": "r4"},
        ],
    )  # fmt: skip
    logs = read_logs([tmp_path])
    assert [p.request_id for p in logs.predictions] == ["r1", "r2", "r3"]
    assert logs.predictions[1].probabilities == ((0.9, 0.1), (0.2, 0.8))
    assert [p.ok for p in logs.predictions] == [True, True, False]
    assert [(p.line, "not a JSON object" in p.message) for p in logs.problems] == [
        (5, True),
        (6, False),
    ]
    assert "no inputs" in logs.problems[1].message
    columns = rows_as_columns(logs.predictions, FEATURES)
    assert columns["a"] == [1, 1.0, 2.0, 1] and columns["c"] == ["x", None, None, 3]
    stats = health(logs.predictions)
    assert stats.error_rate == pytest.approx(1 / 3) and stats.rate_per_second == 3 / 7200
    assert stats.p50_ms == 5.0
    since = read_logs([path], since=parse_since("2026-11-30T10:30:00Z", 0))
    assert [p.request_id for p in since.predictions] == ["r2", "r3"]
    assert parse_since("2h", 10_000.0) == 10_000.0 - 7200


def test_bad_since_and_missing_paths_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--since 'yesterday'"):
        parse_since("yesterday", 0)
    with pytest.raises(UserError, match="no such file or folder"):
        read_logs([tmp_path / "nowhere"])


def test_the_serving_layers_columns_are_rows(tmp_path: Path) -> None:
    """``mlops serve`` logs ``inputs`` as ``{column: [values]}``: one row per position."""
    _write(
        tmp_path / "predictions-1.jsonl",
        [
            {"time": "2026-11-30T10:00:00Z", "request_id": "r1", "model": "m", "version": "v",
             "inputs": {"a": [1, 2], "b": [2.5, 3.5], "c": ["x", "y"], "d": [True, False]},
             "outputs": {"predictions": [0, 1]}, "latency_ms": 3.0, "status": 200},
            {"time": "2026-11-30T10:00:01Z", "request_id": "r2", "model": "m", "version": "v",
             "inputs": {"a": [1, 2], "b": [2.5]}, "outputs": [0], "status": 200},
        ],
    )  # fmt: skip
    logs = read_logs([tmp_path])
    assert [p.request_id for p in logs.predictions] == ["r1"]
    columns = rows_as_columns(logs.predictions, FEATURES)
    assert columns["a"] == [1, 2] and columns["c"] == ["x", "y"]
    assert "different lengths" in logs.problems[0].message


def _served(folder: Path, requests: list[tuple[str, str, float]]) -> Path:
    """Log lines written as ``mlops serve`` writes them: (request id, time, petal width)."""
    logger = PredictionLogger(folder)
    for request_id, time, width in requests:
        logger.write(
            log_line(
                request_id=request_id, model="iris-logreg", version="422b02ba9019",
                inputs={"a": [width], "b": [1.0], "c": ["x"], "d": [True]},
                outputs={"predictions": [int(width > 1)]}, latency_ms=1.23456, status=200,
                endpoint="/v1/models/iris-logreg:predict", source="http://127.0.0.1:8080/",
                time=time,
            )
        )  # fmt: skip
    logger.close()
    (path,) = folder.glob("predictions-*.jsonl")
    return path


def test_a_record_shipped_twice_counts_once(tmp_path: Path) -> None:
    """At-least-once shipping: a retried upload repeats lines byte for byte; each request
    counts once. A client that reuses its request id sends distinct requests: both count.
    A shipper that re-encodes a record is not recognised (comparing fields cost half again
    of the reader's CPU): docs/monitoring.md says to ship lines as they are."""
    served = _served(
        tmp_path / "logs",
        [
            ("r1", "2026-12-01T05:00:00.000001+00:00", 1.4),
            ("r2", "2026-12-01T05:00:01.000001+00:00", 0.2),
            ("r2", "2026-12-01T05:00:02.000001+00:00", 0.2),  # the id reused, a new request
            ("r3", "2026-12-01T05:00:02.000001+00:00", 0.2),  # the same moment, another id
        ],
    )
    lines = served.read_text().splitlines()
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    # a retried upload: the first two lines again, in a second file
    (shipped / "upload-1.jsonl").write_text("\n".join(lines) + "\n")
    (shipped / "upload-2.jsonl").write_text("\n".join(lines[:2]) + "\n")
    (shipped / "upload-3.jsonl").write_text(f"  {lines[3]}  \n")  # blanks around it
    logs = read_logs([shipped])
    assert [p.request_id for p in logs.predictions] == ["r1", "r2", "r2", "r3"]
    assert logs.duplicates == 3 and not logs.problems
    where = [p.render() for p in logs.duplicate_lines]
    assert where[0].startswith(f"{shipped / 'upload-2.jsonl'}:1:1: warning: dropped")
    assert "a duplicate of request 'r2'" in where[1]
    assert f"{shipped / 'upload-3.jsonl'}:1:" in where[2]
    stats = health(logs.predictions)
    assert stats.requests == 4 and stats.instances == 4
    assert rows_as_columns(logs.predictions, FEATURES)["a"] == [1.4, 0.2, 0.2, 0.2]


def test_a_record_that_differs_in_any_field_monitoring_reads_is_kept(tmp_path: Path) -> None:
    base = {"time": "2026-11-30T10:00:00.000001Z", "request_id": "r1", "model": "m",
            "version": "v", "inputs": [{"a": 1}], "outputs": [0], "latency_ms": 3.0,
            "status": 200}  # fmt: skip
    changes = [{"inputs": [{"a": 2}]}, {"outputs": [1]}, {"latency_ms": 3.001},
               {"status": 500}, {"version": "w"}, {"model": "n"},
               {"time": "2026-11-30T10:00:00.000002Z"}]  # fmt: skip
    path = _write(tmp_path / "a.jsonl", [base, *({**base, **c} for c in changes), base])
    logs = read_logs([path])
    assert len(logs.predictions) == 1 + len(changes) and logs.duplicates == 1


def test_many_duplicates_are_counted_and_the_first_few_located(tmp_path: Path) -> None:
    record = {"time": 1.0, "request_id": "r", "inputs": [[1, 2, 3, 4]], "outputs": [0]}
    logs = read_logs([_write(tmp_path / "a.jsonl", [record] * 25)])
    assert len(logs.predictions) == 1 and logs.duplicates == 24
    assert [p.line for p in logs.duplicate_lines] == list(range(2, 12))
    assert not logs.seen  # the digests are freed once the files are read


def test_a_cloudevent_shipped_twice_is_counted_once(tmp_path: Path) -> None:
    events = (FIXTURES / "kserve-cloudevents.jsonl").read_text().splitlines()
    copy = _write(tmp_path / "events.jsonl", [*events[:2], events[1], events[0], *events[2:]])
    logs = read_logs([copy])
    assert logs.duplicates == 2 and len(logs.predictions) == 4
    assert [p.line for p in logs.duplicate_lines] == [3, 4]
    assert health(logs.predictions).requests == 4


def test_rotated_log_files_are_read_too(tmp_path: Path) -> None:
    """The server's rotating handler names its backups predictions-<pid>.jsonl.1, .2...:
    monitoring picked files by their last suffix and never read them."""
    record = {"time": "2026-11-30T10:00:00.000001Z", "request_id": "r1", "model": "m",
              "version": "v", "inputs": [{"a": 1}], "outputs": [0], "latency_ms": 3.0,
              "status": 200}  # fmt: skip
    folder = tmp_path / "logs"
    folder.mkdir()
    for i, name in enumerate(["predictions-7.jsonl", "predictions-7.jsonl.1", "p.jsonl.12"]):
        _write(folder / name, [{**record, "request_id": f"r{i}"}])
    _write(folder / "notes.txt.1", [record])  # not a log
    logs = read_logs([folder])
    assert sorted(p.request_id for p in logs.predictions) == ["r0", "r1", "r2"]


def test_rows_become_columns_in_time_linear_in_the_rows() -> None:
    """A month of logs is hundreds of thousands of rows: ``setdefault(key, [None] * count)``
    built a list as long as every row before it for each value (quadratic: 500,000 logged
    requests took 450 s of CPU in ``mlops monitor``)."""
    import time

    from engine.monitoring.compact import ColumnsBuilder

    def seconds(n: int) -> float:
        rows = tuple({"a": i, "b": 1.0, "c": "x", "d": True} for i in range(n))
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            builder = ColumnsBuilder(FEATURES)  # what a monitored window gathers its rows in
            builder.add(rows)
            columns = builder.finish()
            best = min(best, time.perf_counter() - started)
        assert len(columns["a"]) == n
        return best

    # linear: 4 times the rows, about 4 times the time; quadratic was about 16 times
    assert seconds(40_000) < 9 * seconds(10_000)


def test_a_column_first_seen_late_is_missing_before_and_after() -> None:
    from engine.monitoring.compact import ColumnsBuilder

    rows = ({"a": 1}, {"a": 2, "z": "new"}, {"a": 3})
    builder = ColumnsBuilder(["a"])
    builder.add(rows)
    columns = builder.finish().to_pydict()
    assert columns == {"a": [1, 2, 3], "z": [None, "new", None]}


def test_a_request_of_100000_rows_as_the_server_logs_it_is_read(tmp_path: Path) -> None:
    """A 2.5 MB request (under ``mlops serve``'s 8 MB body limit) of 100,000 rows is one
    8.6 MB log line with its outputs and probabilities: the 4 MiB line cap skipped it, so
    batch clients were invisible to monitoring (``no predictions``)."""
    n = 100_000
    logger = PredictionLogger(tmp_path / "logs")
    logger.write(log_line(
        request_id="big", model="m", version="v",
        inputs={name: [1.2345678901234567] * n for name in FEATURES},
        outputs={"predictions": [0] * n, "probabilities": [[0.123456789012345, 0.87654321]] * n},
        latency_ms=1500.0, status=200, endpoint="/v1/models/m:predict", source="http://x/",
    ))  # fmt: skip
    logger.close()
    logs = read_logs([tmp_path / "logs"])
    assert not logs.problems, [p.render() for p in logs.problems]
    (big,) = logs.predictions
    assert len(big.rows) == n and len(big.outputs) == n


def test_a_time_in_epoch_milliseconds_is_read_as_such(tmp_path: Path) -> None:
    """Log shippers and JavaScript clients write epoch milliseconds (or micro-, nano-):
    read as seconds, a request of 2025 was in the year 57900, inside every ``--since``
    window and one of its own in live performance's daily windows."""
    stamps = [1_764_460_800, 1_764_460_800_000, 1_764_460_800_000_000, 1_764_460_800_000_000_000]
    path = _write(
        tmp_path / "serve.jsonl",
        [{"time": t, "request_id": f"r{i}", "inputs": [[1, 2, 3, 4]], "outputs": [0]}
         for i, t in enumerate(stamps)],
    )  # fmt: skip
    logs = read_logs([path])
    assert [p.time for p in logs.predictions] == [1_764_460_800.0] * 4
