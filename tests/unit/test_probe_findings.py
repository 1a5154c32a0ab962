"""An outside review's findings on serving, prediction logs and monitoring, as plain values.

Each test reproduces one finding. The ones marked ``xfail(strict=True)`` are defects still
open (in ``engine/serving/``, which another change owns): they fail today and the mark
makes the suite say so the day they are fixed.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import tracemalloc
from pathlib import Path

import pytest
import yaml

from engine import audit
from engine.errors import UserError
from engine.monitoring.compact import table_of as _table
from engine.monitoring.logs import read_logs
from engine.serving.inputs import Field, InputError, Signature, check_value
from engine.serving.logs import PredictionLogger
from engine.serving.manifest import PinnedModel, Serving, inference_service, render
from engine.serving.tensors import Tensor, from_tensors

CAP = 4 << 20
"""A cap smaller than the default (64 MiB), so the test writes 32 MiB, not 512."""

SIG = Signature((Field("age", "int", nullable=False), Field("income", "float", nullable=False)))


def test_an_integer_too_large_for_a_float_column_is_a_400_not_a_500() -> None:
    with pytest.raises(InputError, match="income"):
        check_value(10**400, Field("income", "float"), "inputs['x'][0]")


def test_an_integer_outside_int64_is_refused() -> None:
    with pytest.raises(InputError, match="age"):
        check_value(2**63, Field("age", "int"), "instances[0]")
    with pytest.raises(InputError, match="age"):
        check_value(1e300, Field("age", "int"), "instances[0]")


def test_two_v2_tensors_for_one_column_are_refused() -> None:
    tensors = [
        Tensor("age", [1], "INT64", [59]),
        Tensor("age", [1], "INT64", [80]),
        Tensor("income", [1], "FP64", [1.0]),
    ]
    with pytest.raises(InputError, match="age"):
        from_tensors(tensors, SIG)


def test_a_logged_value_arrow_cannot_type_does_not_crash_monitoring() -> None:
    """A client sent 123456789012345678901234567890 for an int column; the server answered
    and logged it, and ``mlops monitor --logs`` then died with OverflowError (fixed in
    engine/monitoring/monitor.py ``_table``: such a column is read as text, a type change)."""
    table = _table({"age": [42, 123456789012345678901234567890], "income": [1.0, 2.0]})
    assert table.column("age").to_pylist() == ["42", "123456789012345678901234567890"]
    assert table.column("income").to_pylist() == [1.0, 2.0]


def test_a_log_line_over_the_cap_is_never_read_whole(tmp_path: Path) -> None:
    """The 4 MiB line cap was checked after the whole line was in memory (``for raw in
    handle``), so a 2 GB line without a newline took 2 GB; fixed in
    engine/monitoring/logs.py ``read_logs`` (bounded ``readline``)."""
    log = tmp_path / "predictions-1.jsonl"
    good = {"request_id": "r1", "model": "m", "inputs": {"a": [1]}, "outputs": {"predictions": [0]}}
    with log.open("w") as out:
        out.write(json.dumps(good) + "\n")
        out.write('{"x": "' + "a" * (8 * CAP) + '"}\n')
        out.write(json.dumps({**good, "request_id": "r2"}) + "\n")
    tracemalloc.start()
    try:
        logs = read_logs([log], max_line=CAP)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * CAP, f"peak {peak:,} bytes for a {8 * CAP:,}-byte line"
    assert [p.request_id for p in logs.predictions] == ["r1", "r2"]
    assert [(p.line, "longer than" in p.message) for p in logs.problems] == [(2, True)]
    assert logs.lines == 3


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_engine_log_creates_the_shared_log_folder_private(tmp_path: Path) -> None:
    """``mlops train`` writes ``.mlops/logs/engine.jsonl`` first; the folder it made was
    0755, and serving's ``mkdir(mode=0o700, exist_ok=True)`` left it so: prediction logs
    (request inputs, maybe personal data) were readable by every local user. Fixed in
    engine/audit.py ``write``."""
    old = os.umask(0o022)
    try:
        audit.write(tmp_path, audit.Entry(time=audit.now(), run_id="r", action="train"))
    finally:
        os.umask(old)
    assert _mode(tmp_path / ".mlops" / "logs") == 0o700


def test_prediction_logs_are_private_even_in_a_folder_made_before(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir(mode=0o755)
    old = os.umask(0o022)
    try:
        logger = PredictionLogger(folder)
        logger.write({"inputs": {"email": ["ada@example.com"]}})
        logger.close()
    finally:
        os.umask(old)
    (written,) = folder.glob("predictions-*.jsonl")
    assert _mode(written) & 0o077 == 0 or _mode(folder) & 0o077 == 0


def test_the_float_of_a_logged_value_is_finite() -> None:
    """Guard for the first test: the reproduction value really overflows a float."""
    with pytest.raises(OverflowError):
        float(10**400)
    assert math.isfinite(float(10**300))


_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@pytest.mark.parametrize(
    ("model", "environment"),
    [("churn-", "staging"), ("m" * 64, "staging"), ("churn_", "prod."), ("a.b", "e" * 64)],
)
def test_every_label_is_a_valid_kubernetes_label_value(model: str, environment: str) -> None:
    """Names the definitions allow (``^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$``) but a label value
    does not (over 63 characters, or ending in ``.``, ``_``, ``-``) made the API server
    refuse the whole InferenceService. Fixed in engine/environments/manifest.py: the label
    is cut to a valid value and the exact name kept in an annotation."""
    pin = PinnedModel(model, environment, "3e4507281234", "f" * 64, "c" * 40, "d" * 64)
    document = yaml.safe_load(render(inference_service(pin, "s3://bucket/mlops", Serving())))
    labels, notes = document["metadata"]["labels"], document["metadata"]["annotations"]
    for key, value in labels.items():
        assert len(value) <= 63 and _LABEL_VALUE.match(value), (key, value)
    assert notes.get("mlops.dev/model", labels["mlops.dev/model"]) == model
    assert notes.get("mlops.dev/environment", labels["mlops.dev/environment"]) == environment
    assert render(inference_service(pin, "s3://b", Serving())).startswith(
        f"# Written by mlops for {model}@3e4507281234 in {environment}."
    )


@pytest.mark.parametrize(
    "store", ["remote://storage/mlops-store", "ssh://host/models", "azure://container/models"]
)
def test_a_store_kserve_cannot_download_gets_no_storage_uri(store: str) -> None:
    """`mlops init` writes ``store: {url: remote://storage/mlops-store}``; the manifest put
    ``remote://storage/...`` in ``storageUris``, which KServe's storage initializer cannot
    read (its init container fails, the pod never starts). Fixed in
    engine/environments/manifest.py ``storage_uri``: only schemes KServe reads."""
    pin = PinnedModel("churn", "staging", "3e4507281234", "f" * 64, "c" * 40, "d" * 64)
    document = inference_service(pin, store, Serving())
    assert "storageUris" not in document["spec"]["predictor"]
    assert document["metadata"]["annotations"]["mlops.dev/store"] == store
    assert inference_service(pin, "s3://b/m", Serving())["spec"]["predictor"]["storageUris"]


def test_the_chunks_mlops_predict_logs_are_not_read_as_requests(tmp_path: Path) -> None:
    """``mlops predict`` logs each chunk to ``.mlops/logs/`` (the server's folder, the one
    ``mlops monitor --logs .mlops/logs`` reads) as ``{"file": ..., "rows": [a, b]}``;
    monitoring read each as a row with extra columns ``file`` and ``rows`` and every model
    input missing. Fixed in engine/monitoring/logs.py ``_add``."""
    from engine.serving.logs import log_line

    def record(request_id: str, inputs: dict, endpoint: str) -> dict:
        return log_line(
            request_id=request_id, model="m", version="v", inputs=inputs,
            outputs={"predictions": [0]}, latency_ms=1.0, status=200, endpoint=endpoint,
            source="http://127.0.0.1:8080/",
        )  # fmt: skip

    log = tmp_path / "predictions-1.jsonl"
    lines = [
        record("r1", {"a": [1]}, "/v1/models/m:predict"),
        record("run-0", {"file": "/data/x.csv", "rows": [0, 65536]}, "batch"),
    ]
    log.write_text("".join(json.dumps(x) + "\n" for x in lines))
    logs = read_logs([log])
    assert [p.request_id for p in logs.predictions] == ["r1"]
    assert logs.problems == []


def test_a_planted_symlink_in_the_log_folder_is_not_followed(tmp_path: Path) -> None:
    folder, victim = tmp_path / "logs", tmp_path / "victim.txt"
    folder.mkdir(mode=0o700)
    victim.write_text("untouched\n")
    (folder / f"predictions-{os.getpid()}.jsonl").symlink_to(victim)
    logger = PredictionLogger(folder)
    try:
        logger.write({"inputs": {"email": ["ada@example.com"]}})
    except (OSError, UserError):
        pass  # refusing to write is a fine answer too
    finally:
        logger.close()
    assert victim.read_text() == "untouched\n"
