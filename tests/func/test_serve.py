"""``mlops serve`` end to end: train, promote, serve over loopback, query V1 and V2.

One repository for the module: iris-logreg (a classifier) and diabetes-ridge (a
regression) trained on main and promoted to staging, then served by the real command as
a subprocess. KServe's own sample requests and its Open Inference Protocol description
(``tests/fixtures/kserve``) are the reference; schemathesis generates requests from it.
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path

import pytest
import yaml

from engine.serving.logs import read_prediction_logs
from tests.func.serving import call, free_port, mlops, served, staged, versions

__all__ = ["staged", "versions"]  # module fixtures shared with test_predict

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).parents[1] / "fixtures/kserve"
IRIS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


@pytest.fixture(scope="module")
def server(staged):
    with served(staged, "--env", "staging", "--max-body-bytes", "65536") as url:
        yield url


def sample(name: str):
    return json.loads((FIXTURES / "samples" / name).read_text())


def test_v1_answers_kserves_own_sample_with_the_version(server, versions):
    assert call(f"{server}/v1/models").body == {"models": ["diabetes-ridge", "iris-logreg"]}
    assert call(f"{server}/v1/models/iris-logreg").body == {"name": "iris-logreg", "ready": True}
    reply = call(f"{server}/v1/models/iris-logreg:predict", sample("v1-iris-input.json"))
    assert reply.status == 200, reply.body
    assert reply.body["predictions"] == [1, 1]
    assert reply.headers["x-model-version"] == versions["iris-logreg"]
    assert reply.body["model_version"] == versions["iris-logreg"]
    assert reply.body["classes"] == [0, 1, 2]
    assert all(math.isclose(sum(p), 1.0) for p in reply.body["probabilities"])


def test_a_library_deprecation_is_not_printed_on_every_request(server, staged):
    # scikit-learn resets the warning filters inside each Parallel call (the iris pipeline's
    # ColumnTransformer), which made Python print KServe's ORJSONResponse deprecation again
    # on every request: 500 bytes of stderr per prediction
    for _ in range(4):
        reply = call(f"{server}/v1/models/iris-logreg:predict", sample("v1-iris-input.json"))
        assert reply.status == 200, reply.body
    log = staged.parent / f"serve-{server.rsplit(':', 1)[1]}.log"
    assert log.read_text().count("ORJSONResponse is deprecated") <= 1


def test_v1_rows_may_be_objects_keyed_by_column(server):
    rows = sample("v1-iris-input.json")["instances"]
    keyed = {"instances": [dict(zip(IRIS, row)) for row in rows]}
    reply = call(f"{server}/v1/models/iris-logreg:predict", keyed)
    assert reply.status == 200 and reply.body["predictions"] == [1, 1]


def test_v2_answers_kserves_own_sample_with_probabilities(server, versions):
    assert call(f"{server}/v2/health/live").status == 200
    assert call(f"{server}/v2/health/ready").status == 200
    meta = call(f"{server}/v2/models/iris-logreg").body
    assert [i["name"] for i in meta["inputs"]] == IRIS
    request = {"id": "req-7", **sample("v2-iris-input.json")}
    reply = call(f"{server}/v2/models/iris-logreg/infer", request)
    assert reply.status == 200, reply.body
    assert reply.body["model_version"] == versions["iris-logreg"] and reply.body["id"] == "req-7"
    outputs = {o["name"]: o for o in reply.body["outputs"]}
    assert outputs["predictions"]["data"] == [1, 1]
    assert outputs["probabilities"]["shape"] == [2, 3]


def test_v2_asks_for_a_version_by_its_id(server, versions):
    version = versions["iris-logreg"]
    url = f"{server}/v2/models/iris-logreg/versions"
    assert call(f"{url}/{version}/infer", sample("v2-iris-input.json")).status == 200
    assert call(f"{url}/{version}/ready").status == 200
    other = call(f"{url}/000000000000/infer", sample("v2-iris-input.json"))
    assert other.status == 404 and version in other.body["error"]


def test_a_regression_answers_without_probabilities(server):
    row = [0.03, 0.05, 0.06, 0.02, -0.04, -0.03, -0.04, 0.0, 0.02, -0.02]
    reply = call(f"{server}/v1/models/diabetes-ridge:predict", {"instances": [row]})
    assert reply.status == 200, reply.body
    assert isinstance(reply.body["predictions"][0], float)
    assert "probabilities" not in reply.body


@pytest.mark.parametrize(
    ("body", "part"),
    [
        ({"instances": [{"sepal length (cm)": 5.0}]}, "'sepal width (cm)' is missing"),
        ({"instances": [[5.0, 3.0, 1.0, 0.2, 9.9]]}, "5 values"),
        ({"instances": [dict(zip(IRIS, [5, 3, 1, 0.2]), colour=1)]}, "unknown column 'colour'"),
        ({"instances": [[5.0, "wide", 1.0, 0.2]]}, "['sepal width (cm)']: expected a number"),
        ({"instances": [[5.0, None, 1.0, 0.2]]}, "['sepal width (cm)']: a value is required"),
        (  # the dataset schema's bound (iris.yaml: min: 0), as training enforces it
            {"instances": [[5.0, 3.0, 1.0, 0.2], [5.0, -3.0, 1.0, 0.2]]},
            "instances[1]['sepal width (cm)']: -3.0 is below min 0",
        ),
        ({"instances": []}, "empty"),
        ({"inputs": [[5.0, 3.0, 1.0, 0.2]]}, '"instances" is missing'),
    ],
)
def test_v1_bad_rows_are_400_naming_the_field(server, body, part):
    reply = call(f"{server}/v1/models/iris-logreg:predict", body)
    assert reply.status == 400 and part in reply.body["error"], reply.body


@pytest.mark.parametrize(
    ("tensor", "part"),
    [
        (
            {"name": "input-0", "shape": [1, 4], "datatype": "INT64", "data": [5, 3, 1.5, 0]},
            "inputs['input-0'][0]['petal length (cm)']: 1.5 is not an INT64 value",
        ),
        (
            {"name": "input-0", "shape": [1, 4], "datatype": "BYTES", "data": ["5", "3", "1", "0"]},
            "datatype BYTES does not fit column 'sepal length (cm)', declared float",
        ),
        (
            {
                "name": "input-0",
                "shape": [2, 4],
                "datatype": "FP32",
                "data": [[5, 3, 1], [0, 6, 3, 4, 1]],
            },
            "nested, but not as the shape [2, 4] says",
        ),
        (
            {"name": "input-0", "shape": [1, 4], "datatype": "FP32", "data": [5.0, 3.0, -1.0, 0.2]},
            "inputs['input-0'][0]['petal length (cm)']: -1.0 is below min 0",
        ),
    ],
)
def test_v2_a_tensor_its_datatype_shape_or_the_schema_refuses_is_a_400(server, tensor, part):
    reply = call(f"{server}/v2/models/iris-logreg/infer", {"inputs": [tensor]})
    assert reply.status == 400 and part in reply.body["error"], reply.body


def test_malformed_json_nan_and_a_huge_body_are_refused_not_crashed(server):
    url = f"{server}/v1/models/iris-logreg:predict"
    assert call(url, raw=b'{"instances": [[5.0, 3.0').status == 400
    assert call(url, raw=b'{"instances": [[NaN, 3.0, 1.0, 0.2]]}').status == 400
    v2 = call(f"{server}/v2/models/iris-logreg/infer", raw=b'{"inputs": "x"}')
    assert v2.status == 400 and "inputs" in v2.body["error"]
    big = json.dumps({"instances": [[5.0, 3.0, 1.0, 0.2]] * 5000}).encode()
    reply = call(url, raw=big)
    assert reply.status == 413 and "65536" in reply.body["error"]


def test_an_unknown_model_is_a_404_listing_the_models(server):
    for reply in (
        call(f"{server}/v1/models/cancer-rf:predict", {"instances": [[1.0]]}),
        call(f"{server}/v2/models/cancer-rf/infer", sample("v2-iris-input.json")),
        call(f"{server}/v2/models/cancer-rf"),
    ):
        assert reply.status == 404
        assert reply.body["models"] == ["diabetes-ridge", "iris-logreg"], reply.body


def test_prometheus_metrics_count_the_predictions(server):
    call(f"{server}/v1/models/iris-logreg:predict", sample("v1-iris-input.json"))
    text = call(f"{server}/metrics").body
    assert 'request_predict_seconds_count{model_name="iris-logreg"}' in text


def test_every_prediction_is_one_log_line_with_kserves_fields(server, staged, versions):
    url = f"{server}/v1/models/iris-logreg:predict"
    call(url, sample("v1-iris-input.json"), headers={"x-request-id": "trace-1"})
    call(url, {"instances": [[5.0, "x", 1.0, 0.2]]}, headers={"x-request-id": "trace-2"})
    logs = {r.request_id: r for r in read_prediction_logs(staged / ".mlops/logs")}
    good, bad = logs["trace-1"], logs["trace-2"]
    assert (good.model, good.version, good.status) == ("iris-logreg", versions["iris-logreg"], 200)
    assert good.inputs["petal width (cm)"] == [1.4, 1.6] and good.outputs["predictions"] == [1, 1]
    assert good.endpoint == "/v1/models/iris-logreg:predict" and good.latency_ms > 0
    assert bad.status == 400 and "sepal width" in bad.outputs["error"]
    raw = (staged / ".mlops/logs").glob("predictions-*.jsonl")
    line = json.loads(next(iter(raw)).read_text().splitlines()[0])
    for key in ("ce-id", "ce-type", "ce-source", "inferenceservicename", "namespace", "endpoint"):
        assert key in line


def test_the_server_start_is_one_log_line_per_version(server, staged, versions):
    lines = (staged / ".mlops/logs/engine.jsonl").read_text().splitlines()
    started = [json.loads(x) for x in lines if '"action": "serve"' in x]
    assert {(x["model"], x["version"], x["outcome"]) for x in started} == {
        (m, v, "started") for m, v in versions.items()
    }
    # the prediction-log reader of mlops monitor leaves the engine's own log alone
    assert all(r.model in versions for r in read_prediction_logs(staged / ".mlops/logs"))


def test_schemathesis_finds_no_server_error_from_kserves_description(server, versions):
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from hypothesis.errors import Unsatisfiable

    # The description writes path parameters as ${NAME}; OpenAPI's form is {NAME}.
    text = (FIXTURES / "rest_predict_v2.yaml").read_text().replace("${", "{")
    schema = schemathesis.openapi.from_dict(yaml.safe_load(text))
    real = {"MODEL_NAME": "iris-logreg", "MODEL_VERSION": versions["iris-logreg"]}
    failures: list[str] = []
    calls = []

    def fuzz(strategy):
        @settings(
            max_examples=15,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy, use_real=st.booleans())
        def check(case, use_real):
            if use_real and case.path_parameters:  # reach the model, not only the 404
                case.path_parameters = {**case.path_parameters, **real}
            response = case.call(base_url=server, timeout=10)
            calls.append(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

        check()

    for result in schema.get_all_operations():
        operation = result.ok()
        fuzz(operation.as_strategy())
        # Requests that break the description; a plain string path has nothing to break.
        with contextlib.suppress(Unsatisfiable):
            fuzz(operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE))
    assert failures == []
    assert len(calls) > 50 and 200 in calls and 400 in calls and 404 in calls


def test_a_port_in_use_is_a_clear_error(server, staged):
    port = server.rsplit(":", 1)[1]
    done = mlops("serve", "--env", "staging", "--port", port, cwd=staged, timeout=120)
    assert done.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_environment_with_nothing_pinned_is_refused(staged):
    done = mlops("serve", "--env", "production", "--port", str(free_port()), cwd=staged)
    assert done.returncode == 1 and "nothing is pinned in production" in done.stderr


def test_several_workers_share_the_port_each_with_the_engines_checks(staged, tmp_path):
    logs = tmp_path / "logs"
    args = (
        "--env",
        "staging",
        "--workers",
        "2",
        "--max-body-bytes",
        "1024",
        "--log-dir",
        str(logs),
    )
    with served(staged, *args, ready_within=240) as url:  # two spawned workers import all
        for _ in range(4):
            reply = call(f"{url}/v1/models/iris-logreg:predict", sample("v1-iris-input.json"))
            assert reply.status == 200 and reply.body["predictions"] == [1, 1]
        too_big = {"instances": [[5.0, 3.0, 1.0, 0.2]] * 100}
        assert call(f"{url}/v1/models/iris-logreg:predict", too_big).status == 413
        assert call(f"{url}/v1/models/nope:predict", too_big).status == 413
        assert call(f"{url}/v2/models/nope").body["models"] == ["diabetes-ridge", "iris-logreg"]
    assert len(read_prediction_logs(logs)) == 4  # a 413 never reaches the model
