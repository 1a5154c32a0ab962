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
        "model": "iris-logreg",
        "version": "0",
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
