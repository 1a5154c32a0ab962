"""One pinned version as a ``kserve.Model``: checked rows in, predictions out, one log line.

KServe's data plane decodes a V1 body into a dict and a V2 body into an ``InferRequest``;
:meth:`PinnedModel.predict` checks either against the schema (:mod:`engine.serving.inputs`),
scores a DataFrame in the model's column order, and answers in the same protocol with the
version that answered: V1 as ``model_version`` in the body and the ``x-model-version``
header, V2 as the response's ``model_version``. Classifiers add ``probabilities`` (V2: an
output of that name, ``[n, classes]``). A request the schema refuses is kserve's
``InvalidInput`` (400, naming the field) and is logged with its status like any other.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import numpy as np
from kserve import InferOutput, InferRequest, InferResponse, Model
from kserve.errors import InvalidInput

from engine.serving.canary import Split
from engine.serving.inputs import Columns, InputError, from_instances
from engine.serving.logs import PredictionLogger, log_line
from engine.serving.pinned import PinnedVersion
from engine.serving.tensors import SENT_AS, Tensor, from_tensors

VERSION_HEADER = "x-model-version"
_DATATYPES = {"i": "INT64", "u": "UINT64", "f": "FP64", "b": "BOOL"}


class PinnedModel(Model):  # type: ignore[misc]  # kserve ships no type hints
    """A pinned version served by KServe; ``checks``/``logger`` off only for benchmarks."""

    def __init__(
        self,
        pinned: PinnedVersion,
        logger: PredictionLogger | None,
        *,
        checks: bool = True,
        namespace: str = "local",
        source: str = "http://localhost/",
    ):
        super().__init__(pinned.model, return_response_headers=True)
        self.pinned = pinned
        self.logger = logger
        self.checks = checks
        self.namespace = namespace
        self.source = source
        self.ready = True

    def load(self) -> bool:
        """Loaded already: the version was verified before the server started."""
        self.ready = True
        return True

    @property
    def versions(self) -> tuple[str, ...]:
        """The version ids (and fingerprints) this model answers as."""
        return (self.pinned.version, self.pinned.fingerprint)

    def get_input_types(self) -> list[dict[str, Any]]:
        """V2 metadata: one column per input (a ``[n, k]`` tensor in this order works too)."""
        return [
            {"name": f.name, "datatype": SENT_AS.get(f.type or "", "BYTES"), "shape": [-1]}
            for f in self.pinned.signature.fields
        ]

    @property
    def version_ids(self) -> list[str]:
        """V2 metadata's ``versions``: the version id this model answers with."""
        return [self.pinned.version]

    def get_output_types(self) -> list[dict[str, Any]]:
        """V2 metadata: ``predictions`` (typed as infer answers), ``probabilities`` for a
        classifier."""
        outputs = [
            {"name": "predictions", "datatype": _predictions_type(self.pinned), "shape": [-1]}
        ]
        if self.pinned.classifies:
            k = len(self.pinned.classes)
            outputs.append({"name": "probabilities", "datatype": "FP64", "shape": [-1, k]})
        return outputs

    def predict(
        self,
        payload: Any,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> dict[str, Any] | InferResponse:
        """Check, score, log and answer one request (see the module doc)."""
        started = time.perf_counter()
        headers = headers or {}
        v2 = isinstance(payload, InferRequest)
        request_id = (payload.id if v2 else None) or headers.get("x-request-id") or _new_id()
        endpoint = f"/v2/models/{self.name}/infer" if v2 else f"/v1/models/{self.name}:predict"
        if response_headers is not None:
            response_headers[VERSION_HEADER] = self.pinned.version
        try:
            columns = self._columns(payload, v2)
            predictions, proba = self.pinned.score(self.pinned.frame(columns))
        except InputError as exc:
            self._log(request_id, endpoint, None, {"error": str(exc)}, started, 400)
            raise InvalidInput(str(exc)) from None
        except (ValueError, TypeError) as exc:  # the estimator refused the values
            message = f"the model could not score these rows: {exc}"
            self._log(request_id, endpoint, None, {"error": message}, started, 400)
            raise InvalidInput(message) from None
        outputs: dict[str, Any] = {"predictions": predictions.tolist()}
        if proba is not None:
            outputs["probabilities"] = proba.tolist()
        self._log(request_id, endpoint, columns, outputs, started, 200)
        if v2:
            return self._v2_response(request_id, predictions, proba)
        answer = {**outputs, "model_name": self.name, "model_version": self.pinned.version}
        if proba is not None:
            answer["classes"] = list(self.pinned.classes)
        return answer

    def _columns(self, payload: Any, v2: bool) -> Columns:
        sig = self.pinned.signature
        if v2:
            tensors = [Tensor(t.name, t.shape, t.datatype, _plain(t.data)) for t in payload.inputs]
            return from_tensors(tensors, sig) if self.checks else _unchecked_v2(tensors, sig.names)
        if isinstance(payload, bytes | str):  # a JSON body sent without its content type
            try:
                payload = json.loads(payload)
            except ValueError:
                raise InputError('the body is not JSON: send {"instances": [...]}') from None
        if not self.checks:
            rows = payload["instances"]
            return {n: [row[i] for row in rows] for i, n in enumerate(sig.names)}
        return from_instances(payload, sig)

    def _v2_response(
        self, request_id: str, predictions: np.ndarray, proba: np.ndarray | None
    ) -> InferResponse:
        kind = _DATATYPES.get(predictions.dtype.kind, "BYTES")
        data = predictions.tolist() if kind != "BYTES" else [str(p) for p in predictions]
        outputs = [InferOutput("predictions", [len(data)], kind, data)]
        if proba is not None:
            outputs.append(
                InferOutput("probabilities", list(proba.shape), "FP64", proba.ravel().tolist())
            )
        return InferResponse(
            response_id=request_id,
            model_name=self.name,
            model_version=self.pinned.version,
            infer_outputs=outputs,
            parameters={"classes": json.dumps(list(self.pinned.classes))}
            if proba is not None
            else None,
        )

    def _log(
        self,
        request_id: str,
        endpoint: str,
        inputs: Columns | None,
        outputs: dict[str, Any],
        started: float,
        status: int,
    ) -> None:
        if self.logger is None:
            return
        latency = (time.perf_counter() - started) * 1000
        record = log_line(
            request_id=request_id,
            model=self.name,
            version=self.pinned.version,
            inputs=inputs,
            outputs=outputs,
            latency_ms=latency,
            status=status,
            endpoint=endpoint,
            source=self.source,
            namespace=self.namespace,
        )
        self.logger.write(record)


class _TwoVersions(Model):  # type: ignore[misc]  # kserve ships no type hints
    """Two loaded versions of one model under its name; :meth:`choose` picks per request.

    A request that names a version (the ``x-model-version`` header, or the V2 versioned
    path) gets that version. Each answer and log line says which version answered.
    """

    def __init__(self, main: PinnedModel, other: PinnedModel):
        super().__init__(main.name, return_response_headers=True)
        if other.name != main.name:
            raise ValueError(f"a version of {main.name} cannot be {other.name}")
        self.sides = (main, other)
        self.pinned = main.pinned
        self.ready = True

    def load(self) -> bool:
        """Loaded already, both versions."""
        self.ready = True
        return True

    @property
    def versions(self) -> tuple[str, ...]:
        """Both versions' ids and fingerprints."""
        return (*self.sides[0].versions, *self.sides[1].versions)

    @property
    def version_ids(self) -> list[str]:
        """Both version ids (the main one first)."""
        return [side.pinned.version for side in self.sides]

    def get_input_types(self) -> list[dict[str, Any]]:
        """The main version's inputs (the other takes the same columns)."""
        return self.sides[0].get_input_types()

    def get_output_types(self) -> list[dict[str, Any]]:
        """The main version's outputs."""
        return self.sides[0].get_output_types()

    def asked(self, headers: dict[str, str]) -> PinnedModel | None:
        """The version the request names, if it names one of the two."""
        wanted = headers.get(VERSION_HEADER)
        return next((side for side in self.sides if wanted and wanted in side.versions), None)

    def choose(self, headers: dict[str, str]) -> PinnedModel:
        """The version that answers a request with these headers."""
        raise NotImplementedError

    def predict(
        self,
        payload: Any,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> dict[str, Any] | InferResponse:
        """Answer with the chosen version."""
        headers = headers or {}
        return self.choose(headers).predict(payload, headers, response_headers)


class CanaryModel(_TwoVersions):
    """A stable and a canary version under one name, split by a seeded :class:`Split`.

    A request that names neither version goes where the split sends it (keyed by its
    ``x-request-id`` when it has one).
    """

    def __init__(self, stable: PinnedModel, canary: PinnedModel, split: Split):
        super().__init__(stable, canary)
        self.stable, self.canary, self.split = stable, canary, split

    def choose(self, headers: dict[str, str]) -> PinnedModel:
        """The named version, else the split's choice."""
        asked = self.asked(headers)
        if asked is not None:
            return asked
        return self.canary if self.split.to_canary(headers.get("x-request-id")) else self.stable


class BlueGreenModel(_TwoVersions):
    """The live blue-green slot under the model's name, the idle one loaded beside it.

    Every request goes to the live slot unless it names the idle slot's version; each
    slot is also served alone as ``<model>-<slot>`` (:attr:`slots`), the name of its
    InferenceService in a cluster, so a smoke test of the idle slot looks the same here.
    """

    def __init__(self, live: PinnedModel, idle: PinnedModel):
        super().__init__(live, idle)
        self.live, self.idle = live, idle

    @property
    def slots(self) -> dict[str, PinnedModel]:
        """``{slot: model}`` for both slots."""
        return {str(side.pinned.slot): side for side in self.sides}

    def choose(self, headers: dict[str, str]) -> PinnedModel:
        """The named version, else the live slot."""
        return self.asked(headers) or self.live


def registrations(models: list[Any]) -> dict[str, Any]:
    """``{name: model}`` to register: each model, and each blue-green slot as ``<model>-<slot>``."""
    named: dict[str, Any] = {}
    for model in models:
        named[model.name] = model
        slots = getattr(model, "slots", None)
        if slots is None and model.pinned.slot is not None:
            slots = {model.pinned.slot: model}
        for slot, side in (slots or {}).items():
            named.setdefault(f"{model.name}-{slot}", side)
    return named


def _predictions_type(pinned: PinnedVersion) -> str:
    """The V2 datatype infer answers ``predictions`` with (see :meth:`_v2_response`): the
    classes' type for a classifier (INT64, BYTES for strings...), FP64 for a regression."""
    classes = getattr(pinned.estimator, "classes_", None)
    if pinned.task != "classification" or classes is None:
        return "FP64"
    return _DATATYPES.get(np.asarray(classes).dtype.kind, "BYTES")


def _plain(data: Any) -> Any:
    """A tensor's data as plain values; BYTES elements as text (the schema says string)."""
    data = data.tolist() if hasattr(data, "tolist") else data
    if isinstance(data, list):
        return [_plain(item) for item in data]
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="replace")
    return data


def _unchecked_v2(tensors: list[Tensor], names: list[str]) -> Columns:
    rows = tensors[0].data
    return {n: [row[i] for row in rows] for i, n in enumerate(names)}


def _new_id() -> str:
    return uuid.uuid4().hex


__all__ = ["VERSION_HEADER", "BlueGreenModel", "CanaryModel", "PinnedModel", "registrations"]
