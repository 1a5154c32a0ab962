"""An outside review of ``mlops monitor --logs``: prediction logs are untrusted data.

One request that a client sent and a log holds (an instance of the wrong width, kept by
KServe's payload logger; an integer beyond 64 bits, answered by ``mlops serve``) stopped
the monitoring of every model: ``UserError`` from ``rows_as_columns`` and an
``OverflowError`` from pyarrow. Fixed in ``engine/monitoring/monitor.py``: the first is
skipped with a note, the second read as text.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

ROW = [5.1, 3.5, 1.4, 0.2]


def _record(request_id: str, instance: list) -> dict:
    return {
        "time": "2026-12-01T15:43:59+00:00",
        "request_id": request_id,
        "model": "iris-logreg",  # no version: KServe's payload logger names none
        "inputs": {"instances": [instance]},
        "outputs": {"predictions": [0]},
        "status": 200,
    }


def test_one_odd_logged_request_is_skipped_and_said_not_fatal(iris_staged, mlops, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    records = [_record(f"r{i}", ROW) for i in range(40)]
    records += [_record("narrow", [5.1, 3.5]), _record("huge", [10**30, 3.5, 1.4, 0.2])]
    (logs / "predictions-1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    done = mlops("monitor", "iris-logreg", "--env", "staging", "--logs", str(logs), cwd=iris_staged)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 logged requests skipped" in done.stdout and "request narrow" in done.stdout
    assert "| 42 | 42 |" in done.stdout  # service health counts every logged request


def test_a_request_id_sent_twice_gets_no_label(iris_staged, mlops, tmp_path):
    """Request ids are the client's (``x-request-id``). Someone who knows another client's
    id sends it again with other inputs: the labels file's label for it was joined with
    the later request's inputs (the last one won), which ``retrain_on_drift`` then
    proposes as training rows. Fixed in engine/monitoring/monitor.py ``_from_logs``."""
    logs, labels = tmp_path / "logs", tmp_path / "labels.csv"
    logs.mkdir()
    records = [_record(f"r{i}", ROW) for i in range(40)]
    records += [_record("order-7", ROW), _record("order-7", [7.7, 2.6, 6.9, 2.3])]
    (logs / "predictions-1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    labels.write_text(
        "request_id,label\n" + "".join(f"r{i},0\n" for i in range(40)) + "order-7,0\n"
    )
    done = mlops(
        "monitor", "iris-logreg", "--env", "staging", "--logs", str(logs),
        "--labels", str(labels), cwd=iris_staged,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 request ids appear more than once in the logs (first: order-7)" in done.stdout
