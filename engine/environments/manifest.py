"""KServe ``InferenceService`` manifests for pinned versions (pure: values in, YAML out).

One ``serving.kserve.io/v1beta1`` ``InferenceService`` per pinned model: its predictor is
a custom container running ``mlops serve --model-dir /mnt/models`` for that one version,
so the cluster runs the same server, protocols and input checks as a laptop. The version's
store location is the predictor's ``storageUris`` (KServe's storage initializer downloads
it to ``/mnt/models``) and ``STORAGE_URI``; the pod has no repository, so the arguments
carry what it would read there: the model file's sha256 from the pin (a file in the
bucket that hashes otherwise is refused) and the input columns and task at the pin's
source commit (:func:`serving_spec`). Labels and annotations carry the model, version,
environment, fingerprint, source commit and the model file's sha256, so ``kubectl get
isvc -l`` finds what runs where and a GitOps controller diff shows which version moved.
With a log sink configured, KServe's payload ``logger`` (mode ``all``) sends every
request and response as CloudEvents there, which
:func:`engine.serving.logs.read_prediction_logs` reads.

Promotion and rollback write these under ``deploy/kserve/<model>.yaml`` on the
environment branch, in the same commit as the pin (:func:`files_for`), with the settings
of the project file's ``serving:`` sections (:func:`settings`); tests validate each
against KServe's own CRD schema.

Blue-green (``strategy: blue-green``) gets two InferenceServices, ``<model>-blue`` and
``<model>-green``, each always running its slot's version, and a Kubernetes ``Service``
named after the model that selects the live slot's pods: KServe has no blue-green of its
own, and its canary keeps only the last ready revision, which a fresh cluster syncing the
branch would not have; two declared slots make the desired state complete in git, keep the
previous version warm, and let a switch (the Service's selector) move traffic at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.definitions.formats import Serving as ServingSettings
    from engine.environments.pins import Pin

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
DEPLOYMENT_MODE = "serving.kserve.io/deploymentMode"
POD_LABEL = "serving.kserve.io/inferenceservice"  # on every predictor pod KServe runs
SLOTS = ("blue", "green")
_NUMBERISH = re.compile(r"^[0-9a-fA-F.eE+_-]+$")
# What KServe's storage initializer downloads (kserve.storage.Storage): a store on DVC's
# own ``remote://NAME/...`` (what `mlops init` writes), ``azure://`` or ``ssh://`` is not
# among them, and a storageUri it cannot read keeps the pod from ever starting.
_POD_READABLE = re.compile(r"^(s3|gs|hdfs|webhdfs|https?|pvc|oci|hf)://", re.IGNORECASE)


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
    serving: str = ""
    """What the pod needs besides the model file (:func:`serving_spec`), as JSON."""


def service_name(model: str) -> str:
    """A DNS-1035 label for the InferenceService: lowercase letters, digits and '-'."""
    name = re.sub(r"[^a-z0-9-]+", "-", model.lower()).strip("-")
    if not name or not name[0].isalpha():
        name = f"m-{name}".rstrip("-")
    return name[:45].rstrip("-")  # KServe appends -predictor-... to it


def storage_uri(store_url: str, model: str, fingerprint: str) -> str | None:
    """The version's location in a remote store; None for a local folder, or a remote whose
    scheme KServe's storage initializer cannot read (no URI a pod reads)."""
    if not _POD_READABLE.match(store_url):
        return None
    return f"{store_url.rstrip('/')}/{model}/{fingerprint}"


def inference_service(
    pin: PinnedModel,
    store_url: str,
    serving: Serving,
    canary_percent: int | None = None,
    slot: str | None = None,
) -> dict[str, Any]:
    """The ``InferenceService`` for one pinned version, as a plain dict.

    ``canary_percent``: ``pin`` is a canary beside the version the cluster runs now, and
    KServe sends it that percent of the traffic (``canaryTrafficPercent``).
    ``slot``: the service is one blue-green slot (``<model>-<slot>``, its pods always
    running: KServe's ``RawDeployment`` mode never scales them to zero, so the slot stays
    warm), serving the slot's version alone. It names only that version, so a
    switch, which changes which slot is live, leaves it and its pods untouched.
    """
    if canary_percent is not None and not 0 <= canary_percent <= 100:
        raise ValueError(f"canary traffic must be 0 to 100 percent, not {canary_percent}")
    uri = storage_uri(store_url, pin.model, pin.fingerprint)
    name = slot_service_name(pin.model, slot) if slot else service_name(pin.model)
    labels = _labels(pin)
    annotations = _annotations(pin)
    if slot:
        labels[f"{_LABEL}/slot"] = slot
        annotations[DEPLOYMENT_MODE] = "RawDeployment"
    if uri is None:
        annotations[f"{_LABEL}/store"] = store_url
    metadata: dict[str, Any] = {"name": name}
    if serving.namespace:
        metadata["namespace"] = serving.namespace
    metadata.update(labels=labels, annotations=annotations)
    # The pod has no repository: it serves the one version at MOUNT, verified against
    # the hash and described by the spec the environment branch records here.
    args = ["serve", "--model-dir", MOUNT, "--env", pin.environment, "--model", pin.model]
    args += ["--fingerprint", pin.fingerprint, "--sha256", pin.sha256, "--pinned", pin.serving]
    container: dict[str, Any] = {
        "name": "kserve-container",
        "image": serving.image,
        "command": ["mlops"],
        "args": [
            *args,
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


def live_service(pin: PinnedModel, slot: str, serving: Serving) -> dict[str, Any]:
    """The Kubernetes ``Service`` named after the model that sends every request to ``slot``.

    It selects the predictor pods of the slot's InferenceService by the label KServe puts
    on them, so a blue-green switch is this selector changing: the pods of both slots
    keep running, and the endpoints move at once.
    """
    labels = {**_labels(pin), f"{_LABEL}/slot": slot}
    metadata: dict[str, Any] = {"name": service_name(pin.model)}
    if serving.namespace:
        metadata["namespace"] = serving.namespace
    metadata.update(labels=labels, annotations=_annotations(pin))
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {
            "selector": {POD_LABEL: slot_service_name(pin.model, slot)},
            "ports": [{"name": "http", "port": 80, "targetPort": PORT, "protocol": "TCP"}],
        },
    }


def label_value(text: str) -> str:
    """``text`` as a Kubernetes label value: at most 63 characters, starting and ending with
    a letter or digit. Model and environment names may be 64 long and end with ``.``, ``_``
    or ``-``; the API server refuses such a label, and the whole manifest with it."""
    return text[:63].strip("._-")


def _labels(pin: PinnedModel) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": service_name(pin.model),
        "app.kubernetes.io/managed-by": "mlops",
        f"{_LABEL}/model": label_value(pin.model),
        f"{_LABEL}/version": label_value(pin.version),
        f"{_LABEL}/environment": label_value(pin.environment),
    }


def _annotations(pin: PinnedModel) -> dict[str, str]:
    annotations = {
        f"{_LABEL}/fingerprint": pin.fingerprint,
        f"{_LABEL}/source-commit": pin.source_commit,
    }
    for key, name in (("model", pin.model), ("environment", pin.environment)):
        if label_value(name) != name:  # the label had to be cut: the exact name is here
            annotations[f"{_LABEL}/{key}"] = name
    if pin.sha256:
        annotations[f"{_LABEL}/sha256"] = pin.sha256
    return annotations


def slot_service_name(model: str, slot: str) -> str:
    """The InferenceService of one blue-green slot: ``<model>-blue``, ``<model>-green``."""
    return f"{service_name(model)[: 45 - len(slot) - 1].rstrip('-')}-{slot}"


def slot_path(model: str, slot: str) -> str:
    """Where an environment branch keeps the manifest of one blue-green slot."""
    return f"deploy/kserve/{model}-{slot}.yaml"


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
    names = {**meta["labels"], **meta.get("annotations", {})}  # an exact name over a cut one
    header = (
        f"# Written by mlops for {names[f'{_LABEL}/model']}@{names[f'{_LABEL}/version']} "
        f"in {names[f'{_LABEL}/environment']}. Do not edit: promote or roll back instead.\n"
    )
    return header + yaml.dump(service, Dumper=Dumper, sort_keys=False, allow_unicode=True)


def settings(project: ServingSettings, environment: ServingSettings | None) -> Serving:
    """The serving settings of one environment: its own over the project's, over the defaults."""
    merged = environment.over(project) if environment is not None else project
    defaults = Serving()
    resources = {str(kind): dict(v) for kind, v in (merged.resources or {}).items()}
    return Serving(
        image=merged.image or defaults.image,
        resources=resources or defaults.resources,
        namespace=merged.namespace,
        logger_url=merged.logger_url,
        min_replicas=merged.min_replicas,
    )


def serving_spec(
    version: str,
    source_commit: str,
    task: str,
    dataset: Any,
) -> str:
    """What ``mlops serve --model-dir`` needs besides the model file, as compact JSON:
    the version, its task, and the dataset's id, target and declared columns
    (name, type, nullable, allowed values, and min and max when either is declared) at
    the pin's source commit, in schema order."""
    import json

    columns = []
    for name, column in dataset.schema_.columns.items():
        values = None if column.values is None else list(column.values)
        bounds = [] if column.min is None and column.max is None else [column.min, column.max]
        columns.append([name, column.type, column.nullable, values, *bounds])
    spec = {
        "version": version,
        "source_commit": source_commit,
        "task": task,
        "id_column": dataset.id_column,
        "target": dataset.target,
        "columns": columns,
    }
    return json.dumps(spec, separators=(",", ":"), default=str)


Describe = Callable[[str, Any], str]
"""``(model, side) -> serving_spec(...)`` for one side of a pin."""


def files_for(
    pin: Pin, store_url: str, serving: Serving, describe: Describe | None = None
) -> dict[str, str | None]:
    """The manifests a pin comes with, ``{path: text}`` (None: a file to delete).

    A plain pin: ``deploy/kserve/<model>.yaml``, its InferenceService. With a canary it
    names the canary's version and ``canaryTrafficPercent``: KServe keeps the last ready
    revision (the stable version) for the rest of the traffic. A blue-green pin: one
    InferenceService per filled slot (``<model>-blue.yaml``, ``<model>-green.yaml``) and,
    at ``<model>.yaml``, the Service that routes to the live slot (:func:`live_service`).
    """
    files: dict[str, str | None] = {slot_path(pin.model, slot): None for slot in SLOTS}

    def _pinned(pin: Pin, side: Any) -> PinnedModel:
        return _side(pin, side, describe)

    if pin.slot is not None:
        live = _pinned(pin, pin)
        files[slot_path(pin.model, pin.slot)] = render(
            inference_service(live, store_url, serving, slot=pin.slot)
        )
        if pin.idle is not None:
            idle = _pinned(pin, pin.idle)
            files[slot_path(pin.model, pin.idle.slot)] = render(
                inference_service(idle, store_url, serving, slot=pin.idle.slot)
            )
        files[manifest_path(pin.model)] = render(live_service(live, pin.slot, serving))
        return files
    canary = pin.canary
    if canary is not None:
        service = inference_service(
            _pinned(pin, canary), store_url, serving, canary_percent=canary.percent
        )
    else:
        service = inference_service(_pinned(pin, pin), store_url, serving)
    files[manifest_path(pin.model)] = render(service)
    return files


def _side(pin: Pin, side: Any, describe: Describe | None) -> PinnedModel:
    """One side of a pin (itself, its canary, its idle slot) as the manifest sees it."""
    return PinnedModel(
        model=pin.model,
        environment=pin.environment,
        version=side.version,
        fingerprint=side.fingerprint,
        source_commit=side.source_commit,
        sha256=side.sha256 or "",
        serving=describe(pin.model, side) if describe is not None else "",
    )


__all__ = [
    "API_VERSION",
    "DEFAULT_IMAGE",
    "KIND",
    "PinnedModel",
    "Serving",
    "files_for",
    "inference_service",
    "label_value",
    "live_service",
    "manifest_path",
    "render",
    "service_name",
    "serving_spec",
    "settings",
    "slot_path",
    "slot_service_name",
    "storage_uri",
]
