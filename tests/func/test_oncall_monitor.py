"""An on-call review of ``mlops monitor --logs`` over the logs a server really writes.

Two things misled the person on call:

- a request ``mlops serve`` refused (a 400: its record has ``inputs: null`` and the error
  in ``outputs``) was listed as an unreadable log line and left out of service health, so
  a client failing on every request showed an error rate of 0%;
- the logs of a week span promotions: requests answered by the version before (or by a
  canary) were judged as the pinned version's, so the live performance of a version
  promoted to fix a bad one was the bad one's, and its issue stayed open for a week.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sklearn.datasets import load_iris

from engine.serving.logs import PredictionLogger, log_line

pytestmark = pytest.mark.slow
START = 1_764_460_800  # 2025-11-30 00:00 UTC


def _pinned(repo: Path) -> str:
    from engine.environments.pins import read_pins

    pins = read_pins(repo, "env/staging")
    assert pins is not None
    return pins["iris-logreg"].version


def _serve_log(folder: Path, version: str, *, old: str, refused: int) -> Path:
    """What a server wrote over two days: 75 requests by ``old`` (always wrong), then a
    promotion and 75 by ``version`` (always right), and ``refused`` 400s."""
    frame = load_iris(as_frame=True).frame.sample(frac=1.0, random_state=3)
    frame = frame.reset_index(drop=True)
    logger = PredictionLogger(folder)
    for i, row in enumerate(frame.drop(columns="target").to_dict("records")):
        truth = int(frame["target"][i])
        answered_by, predicted = (old, (truth + 1) % 3) if i < 75 else (version, truth)
        logger.write(log_line(
            request_id=f"req-{i}", model="iris-logreg", version=answered_by,
            inputs={k: [v] for k, v in row.items()}, outputs={"predictions": [predicted]},
            latency_ms=2.0, status=200, endpoint="/v1/models/iris-logreg:predict",
            source="http://test/", time=datetime.fromtimestamp(START + i * 600, UTC).isoformat(),
        ))  # fmt: skip
    for i in range(refused):
        logger.write(log_line(
            request_id=f"bad-{i}", model="iris-logreg", version=version, inputs=None,
            outputs={"error": "instances[0]['petal length (cm)']: expected a number, got 'x'"},
            latency_ms=1.0, status=400, endpoint="/v1/models/iris-logreg:predict",
            source="http://test/", time=datetime.fromtimestamp(START + i * 60, UTC).isoformat(),
        ))  # fmt: skip
    logger.close()
    labels = frame.assign(request_id=[f"req-{i}" for i in range(len(frame))])
    labels[["request_id", "target"]].to_csv(folder.parent / "labels.csv", index=False)
    return folder.parent / "labels.csv"


def test_refused_requests_count_as_errors_not_as_unreadable_lines(iris_staged, tmp_path):
    from engine.monitoring.monitor import Current, monitor

    version = _pinned(iris_staged)
    _serve_log(tmp_path / "logs", version, old=version, refused=10)
    (outcome,) = monitor(iris_staged, "staging", Current(logs=(tmp_path / "logs",)))
    assert not outcome.log_problems, [p.render() for p in outcome.log_problems]
    assert outcome.health is not None
    assert (outcome.health.requests, outcome.health.errors) == (160, 10)
    assert outcome.current_rows == 150  # a refused request has no inputs to monitor


def test_requests_answered_by_another_version_are_not_judged_as_the_pinned_ones(
    iris_staged, tmp_path
):
    from engine.monitoring.monitor import Current, monitor
    from engine.monitoring.report import markdown

    version = _pinned(iris_staged)
    labels = _serve_log(tmp_path / "logs", version, old="0123456789ab", refused=0)
    current = Current(logs=(tmp_path / "logs",), labels=labels)
    (outcome,) = monitor(iris_staged, "staging", current)
    assert outcome.current_rows == 75
    assert outcome.performance is not None and outcome.performance.overall.rows == 75
    assert not outcome.performance.dropped and outcome.status == "ok"
    assert outcome.health is not None and outcome.health.requests == 150  # the endpoint's
    text = markdown([outcome])
    assert "75 logged requests were answered by another version (0123456789ab)" in text
    assert not outcome.unknown_labels  # the old version's requests are known, not judged


def test_labels_that_arrive_after_the_window_still_judge_the_version(iris_staged, tmp_path):
    """Labels come days or weeks after the request (a chargeback, a churned customer). The
    scheduled monitor reads the logs of its ``since`` window (7 days), so the labels of the
    requests that could be judged were all listed as "no logged prediction has" and live
    performance was never computed: a decaying model raised no alarm."""
    from engine.monitoring.logs import parse_since
    from engine.monitoring.monitor import Current, monitor

    version = _pinned(iris_staged)
    frame = load_iris(as_frame=True).frame.sample(frac=1.0, random_state=4)
    frame = frame.reset_index(drop=True)
    now = START + 30 * 86400
    logger = PredictionLogger(tmp_path / "logs")
    for i, row in enumerate(frame.drop(columns="target").to_dict("records")):
        truth = int(frame["target"][i])
        old = i < 100  # 20 days ago, labelled since; the rest in the last day, not yet
        when = now - (20 * 86400 if old else 3600) + i * 60
        logger.write(log_line(
            request_id=f"req-{i}", model="iris-logreg", version=version,
            inputs={k: [v] for k, v in row.items()},
            outputs={"predictions": [(truth + 1) % 3 if old else truth]},
            latency_ms=2.0, status=200, endpoint="/v1/models/iris-logreg:predict",
            source="http://test/", time=datetime.fromtimestamp(when, UTC).isoformat(),
        ))  # fmt: skip
    logger.close()
    labels = frame.assign(request_id=[f"req-{i}" for i in range(len(frame))]).head(100)
    labels[["request_id", "target"]].to_csv(tmp_path / "labels.csv", index=False)
    current = Current(
        logs=(tmp_path / "logs",), labels=tmp_path / "labels.csv", since=parse_since("7d", now)
    )
    (outcome,) = monitor(iris_staged, "staging", current)
    assert outcome.current_rows == 50  # drift and health: the window's requests
    assert outcome.health is not None and outcome.health.requests == 50
    assert not outcome.unknown_labels
    assert outcome.performance is not None and outcome.performance.overall.rows == 100
    assert outcome.performance.dropped and outcome.status in ("concept-drift", "degraded")
