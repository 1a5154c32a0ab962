"""KServe ``InferenceService`` manifests for pinned versions (pure: values in, YAML out).

One ``serving.kserve.io/v1beta1`` ``InferenceService`` per pinned model: its predictor is
a custom container running ``mlops serve`` for that model only, so the cluster runs the
same server, protocols and input checks as a laptop. The version's store location is the
predictor's ``storageUris`` (KServe's storage initializer mounts it at ``/mnt/models``)
and ``STORAGE_URI``; labels and annotations carry the model, version, environment,
fingerprint, source commit and the model file's sha256, so ``kubectl get isvc -l`` finds
what runs where and a GitOps controller diff shows which version moved. With a log sink
configured, KServe's payload ``logger`` (mode ``all``) sends every request and response
as CloudEvents there, which :func:`engine.serving.logs.read_prediction_logs` reads.

Promotion writes these under ``deploy/kserve/<model>.yaml`` on the environment branch
(wired by the caller); tests validate each against KServe's own CRD schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

API_VERSION = "serving.kserve.io/v1beta1"
KIND = "InferenceService"
DEFAULT_IMAGE = "ghcr.io/mlops-engine/mlops:latest"
DEFAULT_RESOURCES: dict[str, dict[str, str]] = {
    "requests": {"cpu": "100m", "memory": "512Mi"},
    "limits": {"cpu": "1", "memory": "1Gi"},
}
MOUNT = "/mnt/models"
PORT = 8080
_LABEL = "mlops.dev"
_NUMBERISH = re.compile(r"^[0-9a-fA-F.eE+_-]+$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")


@dataclass(frozen=True)
class Serving:
    """How a model is served: image, resources, log sink (project settings, or defaults)."""

    image: str = DEFAULT_IMAGE
    resources: dict[str, dict[str, str]] = field(default_factory=lambda: DEFAULT_RESOURCES)
    namespace: str | None = None
    logger_url: str | None = None
    min_replicas: int | None = None


@dataclass(frozen=True)
class PinnedModel:
    """What the manifest says about one pinned version (plain values from the pin)."""

    model: str
    environment: str
    version: str
    fingerprint: str
    source_commit: str
    sha256: str = ""


def service_name(model: str) -> str:
    """A DNS-1035 label for the InferenceService: lowercase letters, digits and '-'."""
    name = re.sub(r"[^a-z0-9-]+", "-", model.lower()).strip("-")
    if not name or not name[0].isalpha():
        name = f"m-{name}".rstrip("-")
    return name[:45].rstrip("-")  # KServe appends -predictor-... to it


def storage_uri(store_url: str, model: str, fingerprint: str) -> str | None:
    """The version's location in a remote store; None for a local folder (no URI a pod reads)."""
    if not _SCHEME.match(store_url):
        return None
    return f"{store_url.rstrip('/')}/{model}/{fingerprint}"


def inference_service(
    pin: PinnedModel, store_url: str, serving: Serving, canary_percent: int | None = None
) -> dict[str, Any]:
    """The ``InferenceService`` for one pinned version, as a plain dict.

    ``canary_percent``: ``pin`` is a canary beside the version the cluster runs now, and
    KServe sends it that percent of the traffic (``canaryTrafficPercent``).
    """
    if canary_percent is not None and not 0 <= canary_percent <= 100:
        raise ValueError(f"canary traffic must be 0 to 100 percent, not {canary_percent}")
    uri = storage_uri(store_url, pin.model, pin.fingerprint)
    labels = {
        "app.kubernetes.io/name": service_name(pin.model),
        "app.kubernetes.io/managed-by": "mlops",
        f"{_LABEL}/model": pin.model,
        f"{_LABEL}/version": pin.version,
        f"{_LABEL}/environment": pin.environment,
    }
    annotations = {
        f"{_LABEL}/fingerprint": pin.fingerprint,
        f"{_LABEL}/source-commit": pin.source_commit,
    }
    if pin.sha256:
        annotations[f"{_LABEL}/sha256"] = pin.sha256
    if uri is None:
        annotations[f"{_LABEL}/store"] = store_url
    metadata: dict[str, Any] = {"name": service_name(pin.model)}
    if serving.namespace:
        metadata["namespace"] = serving.namespace
    metadata.update(labels=labels, annotations=annotations)
    container: dict[str, Any] = {
        "name": "kserve-container",
        "image": serving.image,
        "command": ["mlops"],
        "args": [
            "serve",
            "--env",
            pin.environment,
            "--model",
            pin.model,
            "--host",
            "0.0.0.0",  # noqa: S104  # inside the pod; the cluster routes to it
            "--port",
            str(PORT),
        ],
        "ports": [{"containerPort": PORT, "name": "http1", "protocol": "TCP"}],
        "resources": {kind: dict(values) for kind, values in serving.resources.items()},
        "readinessProbe": {"httpGet": {"path": "/v2/health/ready", "port": PORT}},
        "livenessProbe": {"httpGet": {"path": "/v2/health/live", "port": PORT}},
    }
    predictor: dict[str, Any] = {}
    if canary_percent is not None:
        predictor["canaryTrafficPercent"] = canary_percent
    if serving.min_replicas is not None:
        predictor["minReplicas"] = serving.min_replicas
    if uri is not None:
        container["env"] = [{"name": "STORAGE_URI", "value": uri}]
        predictor["storageUris"] = [{"uri": uri, "mountPath": MOUNT}]
    if serving.logger_url:
        predictor["logger"] = {"mode": "all", "url": serving.logger_url}
    predictor["containers"] = [container]
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata,
        "spec": {"predictor": predictor},
    }


def manifest_path(model: str) -> str:
    """Where an environment branch keeps a model's manifest."""
    return f"deploy/kserve/{model}.yaml"


def render(service: dict[str, Any]) -> str:
    """The manifest as YAML, with a header saying who wrote it."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        # Quote what a YAML 1.1 reader (Kubernetes) would take for a number: a version
        # id such as 3e4507281234 must stay a string label.
        style = "'" if _NUMBERISH.match(value) else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    meta = service["metadata"]
    labels = meta["labels"]
    header = (
        f"# Written by mlops for {labels[f'{_LABEL}/model']}@{labels[f'{_LABEL}/version']} "
        f"in {labels[f'{_LABEL}/environment']}. Do not edit: promote or roll back instead.\n"
    )
    return header + yaml.dump(service, Dumper=Dumper, sort_keys=False, allow_unicode=True)


__all__ = [
    "API_VERSION",
    "DEFAULT_IMAGE",
    "KIND",
    "PinnedModel",
    "Serving",
    "inference_service",
    "manifest_path",
    "render",
    "service_name",
    "storage_uri",
]
