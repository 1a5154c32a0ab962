"""InferenceService manifests, validated against KServe's own CRD schema (v1beta1)."""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import jsonschema
import pytest
import yaml

from engine.serving.manifest import (
    PinnedModel,
    Serving,
    inference_service,
    manifest_path,
    render,
    service_name,
    storage_uri,
)

CRD = Path(__file__).parents[1] / "fixtures/kserve/serving.kserve.io_inferenceservices.crd.yaml"
PIN = PinnedModel(
    model="cancer-rf",
    environment="staging",
    version="3e4507281234",  # a hex id a YAML 1.1 reader would take for a float
    fingerprint="3e4507281234" + "a" * 52,
    source_commit="b" * 40,
    sha256="c" * 64,
)


@functools.cache
def validator() -> jsonschema.Draft7Validator:
    """The v1beta1 openAPIV3Schema, strict: an unknown field is an error, as the API server
    would prune it silently (a typo such as ``storageURI`` would never reach the pod)."""
    crd = yaml.load(CRD.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1beta1"]
    return jsonschema.Draft7Validator(_closed(version["schema"]["openAPIV3Schema"]))


def _closed(schema):
    if isinstance(schema, dict):
        schema = {k: _closed(v) for k, v in schema.items()}
        open_ended = "additionalProperties" in schema or schema.get(
            "x-kubernetes-preserve-unknown-fields"
        )
        if "properties" in schema and not open_ended:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_closed(v) for v in schema]
    return schema


def problems(document) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator().iter_errors(document)
    ]


SETTINGS = [
    ("s3://bucket/mlops", Serving()),
    (".mlops/store", Serving()),
    (
        "gs://models/store/",
        Serving(
            image="registry.example.com/mlops:1.2",
            resources={"requests": {"cpu": "2", "memory": "4Gi"}},
            namespace="ml",
            logger_url="http://broker.knative-eventing/default",
            min_replicas=0,
        ),
    ),
]


@pytest.mark.parametrize(("store", "serving"), SETTINGS)
def test_every_generated_manifest_is_valid_against_kserves_crd(store, serving):
    document = yaml.safe_load(render(inference_service(PIN, store, serving)))
    assert problems(document) == []
    assert document["apiVersion"] == "serving.kserve.io/v1beta1"
    assert document["kind"] == "InferenceService"


def test_the_strict_validator_catches_a_misspelt_field():
    document = inference_service(PIN, "s3://bucket/mlops", Serving())
    broken = copy.deepcopy(document)
    broken["spec"]["predictor"]["storageURI"] = "s3://x"
    assert any("storageURI" in p for p in problems(broken))
    wrong = copy.deepcopy(document)
    wrong["spec"]["predictor"]["logger"] = {"mode": "everything"}
    assert any("logger/mode" in p for p in problems(wrong))


def test_the_predictor_runs_mlops_serve_for_that_model_from_the_store():
    document = inference_service(PIN, "s3://bucket/mlops", Serving())
    predictor = document["spec"]["predictor"]
    (container,) = predictor["containers"]
    assert container["command"] == ["mlops"]
    args = container["args"]
    assert args[:7] == [
        *("serve", "--model-dir", "/mnt/models", "--env", "staging", "--model", "cancer-rf")
    ]
    assert args[args.index("--fingerprint") + 1] == PIN.fingerprint
    assert args[args.index("--sha256") + 1] == PIN.sha256  # the pin's hash, not the bucket's
    uri = f"s3://bucket/mlops/cancer-rf/{PIN.fingerprint}"
    assert predictor["storageUris"] == [{"uri": uri, "mountPath": "/mnt/models"}]
    assert {"name": "STORAGE_URI", "value": uri} in container["env"]
    assert "logger" not in predictor
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"


def test_labels_and_annotations_carry_the_lineage_and_stay_strings():
    document = yaml.safe_load(render(inference_service(PIN, "s3://b", Serving())))
    labels, notes = document["metadata"]["labels"], document["metadata"]["annotations"]
    assert labels["mlops.dev/version"] == "3e4507281234"  # still a string after YAML
    assert labels["mlops.dev/model"] == "cancer-rf"
    assert labels["mlops.dev/environment"] == "staging"
    assert notes["mlops.dev/fingerprint"] == PIN.fingerprint
    assert notes["mlops.dev/source-commit"] == PIN.source_commit
    assert notes["mlops.dev/sha256"] == PIN.sha256


def test_a_configured_sink_turns_on_kserves_payload_logger():
    serving = Serving(logger_url="http://sink.example/logs")
    predictor = inference_service(PIN, "s3://b", serving)["spec"]["predictor"]
    assert predictor["logger"] == {"mode": "all", "url": "http://sink.example/logs"}


def test_a_local_store_has_no_uri_a_pod_could_read():
    assert storage_uri(".mlops/store", "m", "f") is None
    document = inference_service(PIN, ".mlops/store", Serving())
    assert "storageUris" not in document["spec"]["predictor"]
    assert document["metadata"]["annotations"]["mlops.dev/store"] == ".mlops/store"


@pytest.mark.parametrize(
    ("model", "name"),
    [("cancer-rf", "cancer-rf"), ("Iris_LogReg.v2", "iris-logreg-v2"), ("2fast", "m-2fast")],
)
def test_service_names_are_dns_labels(model, name):
    assert service_name(model) == name


def test_the_manifest_lives_under_deploy_kserve():
    assert manifest_path("cancer-rf") == "deploy/kserve/cancer-rf.yaml"


def test_a_canary_sets_kserves_traffic_percent():
    document = inference_service(PIN, "s3://b", Serving(), canary_percent=10)
    assert document["spec"]["predictor"]["canaryTrafficPercent"] == 10
    assert problems(yaml.safe_load(render(document))) == []
    with pytest.raises(ValueError, match="0 to 100"):
        inference_service(PIN, "s3://b", Serving(), canary_percent=110)
