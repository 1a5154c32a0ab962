"""One version's window of the prediction logs, gathered request by request (plain values)."""

from __future__ import annotations

import json
import math
import tracemalloc
from pathlib import Path

import pytest

from engine.monitoring.compact import ColumnsBuilder, table_of
from engine.monitoring.labels import LabelFile
from engine.monitoring.logs import Logs, Prediction, stream_logs
from engine.monitoring.window import Judged, Window
from tests.unit.test_monitoring_logs import rows_as_columns

FEATURES = ["a", "b"]
PIN = Judged("m", "v1", "f" * 12)


def _p(request_id: str, time: float | None, *rows: object, **fields: object) -> Prediction:
    outputs = fields.pop("outputs", tuple(0 for _ in rows))
    return Prediction(request_id=request_id, time=time, model="m", version="v1",
                      rows=rows, outputs=outputs, **fields)  # type: ignore[arg-type]  # fmt: skip


@pytest.mark.parametrize("chunk", [1, 2, 3, 1000])
def test_columns_built_in_chunks_are_typed_as_whole_lists(chunk: int) -> None:
    """A column is typed as ``pa.array`` types the whole list: ints then floats are floats,
    a column first seen late is missing before, and numbers mixed with text are text."""
    rows = [
        {"a": 1, "b": "x"},
        {"a": 2, "b": None},
        {"a": 2.5, "b": "y", "c": True},
        [4, 7],
        {"a": None, "b": 10**30},
    ]
    builder = ColumnsBuilder(FEATURES, chunk)
    builder.add(rows)
    expected = table_of(rows_as_columns([Prediction("r", rows=tuple(rows))], FEATURES))
    assert builder.finish().equals(expected)
    assert expected.column("a").to_pylist() == [1.0, 2.0, 2.5, 4.0, None]
    assert expected.column("b").to_pylist() == ["x", None, "y", "7", str(10**30)]
    assert expected.column("c").to_pylist() == [None, None, True, None, None]


def test_the_window_judges_its_version_in_time_order() -> None:
    """Requests come in file order (a second worker's file after the first's); the rows are
    judged oldest first, as the whole sorted logs were. Other versions' requests are counted
    in a note; refused ones count in health only; a misfit is skipped and named."""
    window = Window(PIN, FEATURES, since=100.0, chunk=2)
    for p in [
        _p("r3", 300.0, {"a": 3, "b": 30}, outputs=(1,), probabilities=((0.2, 0.8),)),
        _p("old", 50.0, {"a": 0, "b": 0}),  # before the window
        _p(
            "r1",
            100.0,
            {"a": 1, "b": 10},
            [2, 20],
            outputs=(0, 1),
            probabilities=((0.9, 0.1), (0.4, 0.6)),
        ),
        _p("none", None, {"a": 9, "b": 90}),  # no time: in the window, last
        Prediction("canary", 200.0, "m", "v2", rows=({"a": 5, "b": 5},), outputs=(0,)),
        Prediction("bad", 150.0, "m", "v1", ok=False, latency_ms=4.0),
        Prediction("other", 150.0, "n", "v1", rows=({"a": 7, "b": 7},), outputs=(0,)),
        _p("wide", 400.0, [1, 2, 3]),
        _p("wider", 120.0, [1, 2, 3, 4]),
    ]:
        window.add(p)
    live = window.finish()
    assert live.table.to_pydict() == {"a": [1, 2, 3, 9], "b": [10, 20, 30, 90]}
    assert live.predictions == [0, 1, 1, 0]
    assert list(live.confidence) == [0.8, 0.9, 0.6]  # a distribution: order is not kept
    assert live.health is not None
    assert (live.health.requests, live.health.errors, live.health.instances) == (7, 1, 7)
    assert live.notes == [
        "1 logged requests were answered by another version (v2): left out of drift and "
        "performance, which judge v1",
        "2 logged requests skipped: an instance is not a row of the model's 2 inputs "
        "(request wider and others)",
    ]


def test_a_request_without_outputs_leaves_no_prediction_sample() -> None:
    window = Window(PIN, FEATURES)
    window.add(_p("r1", 1.0, {"a": 1, "b": 1}))
    window.add(_p("r2", 2.0, {"a": 2, "b": 2}, outputs=()))
    window.add(_p("r3", 3.0, {"a": 3, "b": 3}))
    live = window.finish()
    assert live.table.num_rows == 3 and live.predictions == []


def test_late_labels_join_every_request_of_the_version_but_reused_ids() -> None:
    labels = LabelFile(
        ids=["old", "r1", "r1", "twice", "canary", "ghost", "r2"],
        positions=[0, 0, 1, 0, 0, 0, 0],
        values=[1, 0, 1, 1, 0, 1, None],
    )
    window = Window(PIN, FEATURES, since=100.0, labels=labels)
    for p in [
        _p("r2", 300.0, {"a": 2, "b": 2}),
        _p("r1", 200.0, {"a": 1, "b": 1}, {"a": 1, "b": 1}, outputs=(1, 1)),
        _p("old", 10.0, {"a": 0, "b": 0}, outputs=(0,)),
        _p("twice", 150.0, {"a": 5, "b": 5}),
        _p("twice", 160.0, {"a": 6, "b": 6}),
        Prediction("canary", 200.0, "m", "v2", rows=({"a": 5, "b": 5},), outputs=(0,)),
    ]:
        window.add(p)
    live = window.finish()
    assert live.table.column("a").to_pylist() == [5, 6, 1, 1, 2]
    assert live.labels == [None, None, 0, 1, None]
    assert live.scored == ([1, 0, 1], [0, 1, 1], [10.0, 200.0, 200.0])
    assert live.unknown_labels == ("twice", "ghost")  # the canary's label is known
    assert any("1 labelled rows of requests before the window" in n for n in live.notes)
    assert any("1 request ids appear more than once in the logs (first: twice)" in n
               for n in live.notes)  # fmt: skip


def test_memory_grows_with_the_window_not_with_the_lines_read(tmp_path: Path) -> None:
    """``mlops monitor --logs`` held every record read (about 1.3 GB at 1,000,000 lines):
    lines outside the window, or of another model, now cost their digest (to drop copies:
    8 to 16 bytes, and the array's growth) and nothing else."""
    record = {"model": "m", "version": "v1", "outputs": {"predictions": [0]}, "status": 200}

    def peak(lines: int) -> int:
        path = tmp_path / f"{lines}.jsonl"
        with path.open("w") as out:
            for i in range(lines):
                inputs = {"a": [i * 0.5], "b": [i * 0.25]}
                row = {**record, "request_id": f"r{i}", "time": i, "inputs": inputs}
                out.write(json.dumps(row) + "\n")
        window = Window(PIN, FEATURES, since=math.inf)  # every line before the window
        logs = Logs()
        tracemalloc.start()
        try:
            for prediction in stream_logs([path], logs):
                window.add(prediction)
            _, top = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert window.finish().table.num_rows == 0 and logs.lines == lines
        return top

    small, large = peak(2_000), peak(22_000)
    assert (large - small) / 20_000 < 120  # bytes per line read; a held record took ~650


def test_the_digests_of_lines_read_are_a_set() -> None:
    """Many lines (the array grows several times), each added once; copies are refused."""
    from engine.monitoring.digests import Digests

    seen = Digests()
    lines = [f'{{"request_id": "r{i}"}}'.encode() for i in range(5_000)]
    assert all(seen.add(line) for line in lines)
    assert not any(seen.add(line) for line in lines[::7])
    assert len(seen) == 5_000 and len(seen.slots) <= 4 * 5_000
    seen.clear()
    assert not seen and seen.add(lines[0])
