"""Prediction logs: the engine's records and KServe's CloudEvents, and what goes wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.errors import UserError
from engine.monitoring.health import health
from engine.monitoring.logs import parse_since, read_logs, rows_as_columns

FIXTURES = Path(__file__).parents[1] / "data" / "monitoring"
FEATURES = ["a", "b", "c", "d"]


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


def test_an_instance_of_the_wrong_width_is_a_clear_error(tmp_path: Path) -> None:
    _write(tmp_path / "a.jsonl", [{"request_id": "r9", "inputs": [[1, 2]], "outputs": [0]}])
    with pytest.raises(UserError, match="r9: an instance of 2 values, but the model takes 4"):
        rows_as_columns(read_logs([tmp_path]).predictions, FEATURES)


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
