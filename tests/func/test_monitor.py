"""``mlops monitor`` end to end: a real repository, a trained and promoted version, batches
and prediction logs built from the iris data, and the bad inputs a monitor meets."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
from sklearn.datasets import load_iris

from tests.conftest import PROJECT, copy_prepared

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).parents[1] / "data" / "monitoring"
PETAL = "petal length (cm)"


@pytest.fixture(scope="module")
def deployed(iris_staged_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """iris-logreg trained on main and promoted to staging (shared: tests only read it)."""
    folder = tmp_path_factory.mktemp("monitor")
    copy_prepared(iris_staged_template, folder)
    return folder / "repo"


def iris() -> pd.DataFrame:
    return load_iris(as_frame=True).frame


def run(mlops, repo: Path, *args: str):
    result = mlops("monitor", "iris-logreg", "--env", "staging", *args, cwd=repo)
    assert "Traceback" not in result.stderr, result.stderr
    return result


SCHEMA = json.loads((PROJECT / "schemas" / "monitor-report.schema.json").read_text())


def report(mlops, repo: Path, *args: str) -> dict:
    """The JSON report of one model, checked against the published schema."""
    result = run(mlops, repo, *args, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    jsonschema.validate(data, SCHEMA)
    (model,) = data["models"]
    return model


def features(model: dict) -> dict[str, dict]:
    return {f["name"]: f for f in model["data"]["features"]}


def test_a_batch_like_the_training_data_does_not_drift(deployed, mlops, tmp_path):
    iris().to_csv(tmp_path / "same.csv", index=False)
    model = report(mlops, deployed, "--current", str(tmp_path / "same.csv"))
    assert model["status"] == "ok" and not model["data"]["drifted"]
    assert "training sample stored with iris-logreg@" in model["reference"]
    assert {f["method"] for f in model["data"]["features"]} == {"ks"}
    assert model["predictions"]["features"][0]["name"] in ("prediction", "confidence")
    # the version got all of its 36 test rows right: a few errors in 150 live rows are
    # within what 36 rows can tell, so no drop (and no concept drift) is claimed
    assert model["performance"]["overall"]["rows"] == 150 and not model["concept_drift"]


def test_a_shifted_feature_is_flagged_alone_and_charted(deployed, mlops, tmp_path):
    batch = iris().drop(columns="target")
    batch[PETAL] += 1.5
    batch.to_parquet(tmp_path / "shift.parquet")
    result = run(mlops, deployed, "--current", str(tmp_path / "shift.parquet"))
    assert result.returncode == 0
    text = result.stdout
    assert "1 of 4 features drifted" in text and "```mermaid" in text
    table = [line for line in text.splitlines() if line.startswith("| `")]
    assert table[0].startswith(f"| `{PETAL}`") and "**yes**" in table[0]
    assert all("**yes**" not in line for line in table[1:4])
    assert "Live performance" not in text  # no target column: no labels
    assert run(mlops, deployed, "--current", str(tmp_path / "shift.parquet"),
               "--fail-on-drift").returncode == 0  # one of four is not the dataset  # fmt: skip


def test_labels_flipped_in_one_region_of_a_batch_is_concept_drift(deployed, mlops, tmp_path):
    batch = iris()
    batch.loc[batch[PETAL] > 4.5, "target"] = 0  # the world changed for large flowers
    batch.to_csv(tmp_path / "flip.csv", index=False)
    model = report(mlops, deployed, "--current", str(tmp_path / "flip.csv"))
    assert model["status"] == "concept-drift" and model["concept_drift"]
    assert not [f for f in model["data"]["features"] if f["drifted"]]
    assert model["performance"]["overall"]["dropped"]
    flagged = run(mlops, deployed, "--current", str(tmp_path / "flip.csv"), "--fail-on-drift")
    assert flagged.returncode == 1 and "concept drift" in flagged.stdout


def _log_lines(frame: pd.DataFrame, start: float) -> list[str]:
    inputs = frame.drop(columns="target")
    lines = []
    for i, (row, target) in enumerate(zip(inputs.to_dict("records"), frame["target"])):
        lines.append(json.dumps({
            "time": start + i * 600, "request_id": f"req-{i}", "model": "iris-logreg",
            "inputs": [row], "outputs": [int(target)],
            "latency_ms": 2.0 + (i % 10), "status": 200, "ce_id": f"req-{i}",
            "ce_type": "org.kubeflow.serving.inference.response",
        }))  # fmt: skip
    return lines


def test_logs_with_labels_give_health_and_live_performance(deployed, mlops, tmp_path):
    frame = iris().sample(frac=1.0, random_state=1).reset_index(drop=True)
    logs = tmp_path / "logs"
    logs.mkdir()
    lines = _log_lines(frame, 1_764_460_800.0)  # 2025-11-30 00:00 UTC, 150 x 10 minutes
    lines.insert(5, "{not json")
    (logs / "serve.jsonl").write_text("\n".join(lines) + "\n")
    labels = frame.assign(request_id=[f"req-{i}" for i in range(len(frame))])
    labels.loc[labels[PETAL] > 4.5, "target"] = 0
    labels = pd.concat([labels, pd.DataFrame({"request_id": ["ghost-1"], "target": [1]})])
    labels[["request_id", "target"]].to_csv(tmp_path / "labels.csv", index=False)
    model = report(mlops, deployed, "--logs", str(logs), "--labels", str(tmp_path / "labels.csv"))
    assert model["health"]["requests"] == 150 and model["health"]["errors"] == 0
    assert model["health"]["p99_ms"] == pytest.approx(11.0, abs=0.1)
    assert model["health"]["rate_per_second"] == pytest.approx(150 / (149 * 600))
    assert model["unknown_labels"] == ["ghost-1"]
    assert len(model["log_problems"]) == 1 and "serve.jsonl:6:" in model["log_problems"][0]
    assert len(model["performance"]["windows"]) == 2  # a day and a bit of requests
    assert model["status"] == "concept-drift"


def test_logs_shipped_twice_count_each_request_once(deployed, mlops, tmp_path):
    """At-least-once log shipping: the server's file, and a retried upload of its first 40
    lines. Each request counts once in health, drift and the labels' join (on the old
    code 190 requests, and the 40 ids looked reused so their labels were refused)."""
    from datetime import UTC, datetime

    from engine.environments.pins import read_pins
    from engine.serving.logs import PredictionLogger, log_line

    version = (read_pins(deployed, "env/staging") or {})["iris-logreg"].version
    frame = iris().sample(frac=1.0, random_state=2).reset_index(drop=True)
    served = tmp_path / "served"
    logger = PredictionLogger(served)
    for i, row in enumerate(frame.drop(columns="target").to_dict("records")):
        logger.write(log_line(
            request_id=f"req-{i}", model="iris-logreg", version=version,
            inputs={k: [v] for k, v in row.items()},
            outputs={"predictions": [int(frame["target"][i])]}, latency_ms=2.0 + i % 10,
            status=200, endpoint="/v1/models/iris-logreg:predict", source="http://test/",
            time=datetime.fromtimestamp(1_764_460_800 + i * 600, UTC).isoformat(),
        ))  # fmt: skip
    logger.close()
    (server_file,) = served.iterdir()
    lines = server_file.read_text().splitlines(keepends=True)
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    shutil.copy(server_file, shipped / "node-1.jsonl")
    (shipped / "node-1.retry.jsonl").write_text("".join(lines[:40]))
    frame.assign(request_id=[f"req-{i}" for i in range(len(frame))])[
        ["request_id", "target"]
    ].to_csv(tmp_path / "labels.csv", index=False)
    args = ("--logs", str(shipped), "--labels", str(tmp_path / "labels.csv"))
    model = report(mlops, deployed, *args)
    assert model["health"]["requests"] == 150 and model["current_rows"] == 150
    assert model["log_duplicates"] == 40 and len(model["log_duplicate_lines"]) == 10
    assert "node-1.retry.jsonl:1:1: warning: dropped" in model["log_duplicate_lines"][0]
    assert model["performance"]["overall"]["rows"] == 150 and not model["notes"]
    assert not model["log_problems"]
    text = run(mlops, deployed, *args).stdout
    assert "40 duplicate log record(s) dropped" in text and "- … 30 more" in text


def test_kserve_payload_logger_events_are_monitored(deployed, mlops, tmp_path):
    html = tmp_path / "report.html"
    result = run(mlops, deployed, "--logs", str(FIXTURES / "kserve-cloudevents.jsonl"),
                 "--html", str(html))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "### Service health" in result.stdout and "| 4 | 5 |" in result.stdout
    assert "2 log line(s) skipped" in result.stdout
    page = html.read_text()
    assert page.startswith("<!doctype html>") and page.count("<svg") >= 2
    assert "<section class='model' data-status=" in page and "<rect" in page
    assert not html.with_name("report.html.partial").exists()


BAD_BATCHES = {
    "missing": (
        lambda f: f.drop(columns=[PETAL]),
        [f"`{PETAL}` missing-column", f"the batch lacks inputs the version needs ({PETAL})"],
    ),
    "extra": (lambda f: f.assign(colour="red"), ["`colour` extra-column"]),
    "type": (
        lambda f: f.assign(**{PETAL: "long"}),
        [f"`{PETAL}` type-changed", "the version could not predict this batch (ValueError"],
    ),
    "all-null": (lambda f: f.assign(**{PETAL: float("nan")}), [f"`{PETAL}` all-null"]),
    "range": (lambda f: f.assign(**{PETAL: -f[PETAL]}), [f"`{PETAL}` out-of-range"]),
    "one row": (lambda f: f.head(1), ["one row only"]),
}


def test_bad_batches_are_findings_in_the_report(deployed, tmp_path):
    # in-process: the same code the command runs, without six interpreter start-ups
    from engine.monitoring.monitor import Current, monitor
    from engine.monitoring.report import markdown

    for name, (change, expected) in BAD_BATCHES.items():
        path = tmp_path / f"{name}.csv"
        change(iris()).to_csv(path, index=False)
        text = markdown(monitor(deployed, "staging", Current(batch=path), ["iris-logreg"]))
        assert all(e in text for e in expected), (name, text)


def test_bad_inputs_are_located_errors(deployed, mlops, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "serve.jsonl").write_text("")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "serve.jsonl").write_text("{oops\n[]\n")
    (tmp_path / "labels.csv").write_text("id,target\nreq-1,0\n")
    (tmp_path / "batch.txt").write_text("a,b\n")
    cases = [
        (("--logs", str(empty)), "no predictions in"),
        (("--since", "24h", "--logs", str(empty)), "point --logs at the serving logs"),
        (("--logs", str(corrupt)), "serve.jsonl:1:1: warning: skipped: not JSON"),
        (("--logs", str(FIXTURES), "--labels", str(tmp_path / "labels.csv")),
         "needs a request_id column"),
        (("--current", str(tmp_path / "batch.txt")), "give a .csv or .parquet file"),
        (("--current", str(tmp_path / "nothing.csv")), "no such file"),
        (("--since", "last tuesday", "--logs", str(empty)), "--since 'last tuesday'"),
        (("--since", "2100-01-01T00:00:00Z", "--logs", str(FIXTURES)),
         "request(s) read, all before 2100-01-01T00:00:00+00:00: widen --since (or `since:` "
         "under `monitoring:` in mlops/project.yaml)"),
    ]  # fmt: skip
    for args, message in cases:
        result = run(mlops, deployed, *args)
        assert result.returncode == 1 and message in result.stderr, (args, result.stderr)
    for args in ((), ("--logs", str(empty), "--current", str(tmp_path / "batch.txt"))):
        usage = run(mlops, deployed, *args)  # DESIGN.md section 5: usage is exit 2
        assert usage.returncode == 2 and "give one of --current FILE" in usage.stderr, args
    other = mlops("monitor", "--env", "production", "--logs", str(empty), cwd=deployed)
    assert other.returncode == 1 and "nothing is deployed in production" in other.stderr
    unknown = mlops("monitor", "--env", "qa", "--logs", str(empty), cwd=deployed)
    assert unknown.returncode == 1 and "unknown environment 'qa'" in unknown.stderr


def test_the_html_report_escapes_a_crafted_column_name(deployed, mlops, tmp_path):
    attack = "<script>alert(1)</script>"
    iris().assign(**{attack: 1.0}).to_csv(tmp_path / "x.csv", index=False)
    html = tmp_path / "x.html"
    assert (
        run(mlops, deployed, "--current", str(tmp_path / "x.csv"), "--html", str(html)).returncode
        == 0
    )
    page = html.read_text()
    assert attack not in page and "&lt;script&gt;" in page
    assert "default-src 'none'" in page


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_the_html_report_renders_its_charts_in_chromium(deployed, mlops, tmp_path):
    batch = iris()
    batch[PETAL] += 1.5
    batch.to_csv(tmp_path / "shift.csv", index=False)
    html = tmp_path / "shift.html"
    assert (
        run(
            mlops, deployed, "--current", str(tmp_path / "shift.csv"), "--html", str(html)
        ).returncode
        == 0
    )
    dom = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
         "--v=0", "--dump-dom", html.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert dom.returncode == 0, dom.stderr
    assert dom.stdout.count("<svg") >= 4 and "<rect" in dom.stdout and "<polyline" in dom.stdout
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console


def test_a_version_without_a_stored_sample_falls_back_to_its_dataset(deployed):
    from engine.environments.pins import read_pins
    from engine.monitoring.monitor import _reference
    from engine.store import Store
    from engine.training.planning import read_definitions
    from engine.training.train import REFERENCE_FILE

    pin = read_pins(deployed, "env/staging")["iris-logreg"]
    defs, _ = read_definitions(deployed, pin.source_commit)
    stored = Store.open(defs.settings.store.url, deployed).get(pin.model, pin.fingerprint)
    assert REFERENCE_FILE in stored.record.files
    files = {k: v for k, v in stored.record.files.items() if k != REFERENCE_FILE}
    older = type(stored)(stored.record.replace(files=files), stored.dir)
    table, described = _reference(deployed, older, defs.datasets["iris"].spec, pin)
    assert table.num_rows == 150 and PETAL in table.column_names
    assert described.startswith(f"dataset iris at {pin.source_commit[:12]}")


def test_a_batch_that_is_not_parquet_is_a_clear_error(deployed, mlops, tmp_path):
    (tmp_path / "fake.parquet").write_bytes(b"PAR1 not really")
    result = run(mlops, deployed, "--current", str(tmp_path / "fake.parquet"))
    assert result.returncode == 1 and "can't be read as Parquet" in result.stderr


def test_two_workers_rotated_logs_stream_past_once(deployed, mlops, tmp_path):
    """The logs are read once, file by file (a worker's backup, then its live file, then the
    other worker's, each holding every other request), never held whole: the window takes
    its requests from every file, a label joins a request before the window, another
    model's line is passed over and a refused request counts in health alone."""
    from engine.serving.logs import log_line

    frame = iris().sample(frac=1.0, random_state=5).reset_index(drop=True)
    logs = tmp_path / "logs"
    logs.mkdir()
    files = {n: [] for n in ("p-1.jsonl.1", "p-1.jsonl", "p-2.jsonl")}
    start = 1_764_460_800  # 2025-11-30 00:00 UTC, one request an hour
    for i, row in enumerate(frame.drop(columns="target").to_dict("records")):
        name = "p-2.jsonl" if i % 2 else ("p-1.jsonl.1" if i < 75 else "p-1.jsonl")
        stamp = pd.Timestamp(start + i * 3600, unit="s", tz="UTC").isoformat()
        files[name].append(log_line(
            request_id=f"q{i}", model="iris-logreg", version="",
            inputs={k: [v] for k, v in row.items()}, outputs={"predictions": [0]},
            latency_ms=float(i), status=200, endpoint="/", source="http://test/", time=stamp,
        ))  # fmt: skip
    files["p-2.jsonl"].insert(3, {**files["p-2.jsonl"][0], "model": "other", "request_id": "x"})
    refused = {**files["p-1.jsonl"][-1], "request_id": "no", "inputs": None, "status": 400}
    files["p-1.jsonl"].append(refused)
    for name, records in files.items():
        (logs / name).write_text("".join(json.dumps(r) + "\n" for r in records))
    (tmp_path / "labels.csv").write_text("request_id,label\nq0,0\nq140,0\n")
    since = pd.Timestamp(start + 100 * 3600, unit="s", tz="UTC").isoformat()
    model = report(
        mlops, deployed, "--logs", str(logs), "--labels", str(tmp_path / "labels.csv"),
        "--since", since,
    )  # fmt: skip
    assert model["current_rows"] == 50  # q100 ... q149
    health = model["health"]
    assert (health["requests"], health["errors"], health["instances"]) == (51, 1, 50)
    assert health["p50_ms"] == 125.0  # latencies 100 ... 149, and the refused one's 148
    assert model["performance"]["overall"]["rows"] == 2
    assert any("1 labelled rows of requests before the window" in n for n in model["notes"])
    assert not model["unknown_labels"] and not model["log_problems"]
