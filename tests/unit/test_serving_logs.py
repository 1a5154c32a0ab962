"""Prediction logs: the engine's lines and KServe's CloudEvents read the same way."""

from __future__ import annotations

import json
import os
import pickle

from engine.serving.logs import (
    REQUEST_TYPE,
    RESPONSE_TYPE,
    PredictionLogger,
    log_line,
    read_prediction_logs,
)


def line(request_id: str, **overrides) -> dict:
    record = log_line(
        request_id=request_id,
        model="iris-logreg",
        version="422b02ba9019",
        inputs={"petal width (cm)": [1.4]},
        outputs={"predictions": [1]},
        latency_ms=1.23456,
        status=200,
        endpoint="/v1/models/iris-logreg:predict",
        source="http://127.0.0.1:8080/",
        time="2026-12-01T05:00:00+00:00",
    )
    return {**record, **overrides}


def test_a_line_carries_the_engine_fields_and_kserves_cloudevent_attributes():
    record = line("r1")
    assert record["ce-id"] == "r1" and record["ce-type"] == RESPONSE_TYPE
    assert record["ce-specversion"] == "1.0" and record["inferenceservicename"] == "iris-logreg"
    for key in ("ce-source", "namespace", "endpoint", "component", "ce-time"):
        assert record[key]
    assert record["latency_ms"] == 1.235


def test_the_logger_writes_one_line_per_record_and_the_reader_gives_them_back(tmp_path):
    logger = PredictionLogger(tmp_path)
    logger.write(line("r1"))
    logger.write(line("r2", status=400, inputs=None, outputs={"error": "bad"}))
    logger.close()
    (file,) = tmp_path.iterdir()
    assert file.name == f"predictions-{os.getpid()}.jsonl"
    assert len(file.read_text().splitlines()) == 2
    first, second = read_prediction_logs(tmp_path)
    assert (first.request_id, first.model, first.version, first.status) == (
        "r1",
        "iris-logreg",
        "422b02ba9019",
        200,
    )
    assert first.inputs == {"petal width (cm)": [1.4]} and second.status == 400


def test_the_file_rotates_and_the_reader_reads_oldest_first(tmp_path):
    logger = PredictionLogger(tmp_path, max_bytes=2000, backups=3)
    for i in range(12):
        logger.write(line(f"r{i}"))
    logger.close()
    assert len(list(tmp_path.iterdir())) > 1  # rotated
    ids = [r.request_id for r in read_prediction_logs(tmp_path)]
    assert ids == sorted(ids, key=lambda s: int(s[1:]))  # in order, whatever survived
    assert ids[-1] == "r11"


def test_a_logger_sent_to_a_worker_process_opens_its_own_file(tmp_path):
    logger = PredictionLogger(tmp_path)
    logger.write(line("r1"))
    copy = pickle.loads(pickle.dumps(logger))
    assert copy._log is None and copy.folder == tmp_path
    logger.close()


def test_kserve_cloudevents_are_paired_by_id_into_one_prediction(tmp_path):
    structured_request = {
        "specversion": "1.0",
        "id": "e1",
        "type": REQUEST_TYPE,
        "source": "http://localhost:9081/",
        "inferenceservicename": "cancer-rf",
        "namespace": "models",
        "component": "predictor",
        "endpoint": "default",
        "time": "2026-12-01T05:00:00Z",
        "data": {"instances": [[1.0, 2.0]]},
    }
    binary_response = {
        "ce-id": "e1",
        "ce-type": RESPONSE_TYPE,
        "ce-source": "http://localhost:9081/",
        "ce-inferenceservicename": "cancer-rf",
        "data": json.dumps({"model_name": "cancer-rf", "model_version": "d7f9f0b975e0"}),
    }
    unanswered = {**structured_request, "id": "e2"}
    (tmp_path / "sink.jsonl").write_text(
        "\n".join(json.dumps(x) for x in (structured_request, unanswered, binary_response))
        + "\n{not json\n"
    )
    paired, lonely = read_prediction_logs(tmp_path / "sink.jsonl")
    assert paired.request_id == "e1" and paired.model == "cancer-rf"
    assert paired.version == "d7f9f0b975e0" and paired.inputs == {"instances": [[1.0, 2.0]]}
    assert paired.namespace == "models" and paired.endpoint == "default"
    assert lonely.request_id == "e2" and lonely.outputs is None


def test_a_log_folder_another_user_owns_is_refused(tmp_path):
    import pytest

    from engine.errors import UserError

    if os.geteuid() != 0:
        pytest.skip("giving a folder to another user takes root")
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o777)
    os.chown(folder, 65534, 65534)  # nobody
    with pytest.raises(UserError, match="belongs to another user"):
        PredictionLogger(folder)


def test_a_log_file_written_before_is_made_private(tmp_path):
    import stat

    folder = tmp_path / "logs"
    folder.mkdir(mode=0o700)
    path = folder / f"predictions-{os.getpid()}.jsonl"
    path.write_text("")
    path.chmod(0o644)
    logger = PredictionLogger(folder)
    logger.write(line("a"))
    logger.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["request_id"] == "a"


def test_a_rotated_log_file_is_private_too(tmp_path):
    import stat

    logger = PredictionLogger(tmp_path / "logs", max_bytes=200, backups=2)
    for i in range(5):
        logger.write(line(f"r{i}"))
    logger.close()
    files = sorted((tmp_path / "logs").iterdir())
    assert len(files) == 3
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
