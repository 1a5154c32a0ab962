"""The one version a KServe pod serves, from ``/mnt/models``: no repository, no branch.

The predictor container of the manifest promotion writes (``engine.environments.manifest``)
runs ``mlops serve --model-dir /mnt/models`` with everything the pod cannot read from a
repository in its arguments, which come from the environment branch: the model file's
sha256 from the pin, and the serving spec (version, source commit, task, the dataset's
declared columns at the pin's source commit). The folder is KServe's download of the
store's ``<model>/<fingerprint>`` (``files/<sha256>/model.skops`` from an object store,
``model.skops`` from a folder copy); only a file hashing to the pinned sha256 is loaded,
then by the store's exact trusted types, as a laptop's ``mlops serve`` does. Nothing
else in the bucket is read, so the bucket is not trusted: the branch is. The branch is
not followed either: a new pin is a new manifest, and KServe rolls a new pod.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from engine.errors import UserError
from engine.serving.inputs import Field, Signature, typed
from engine.serving.pinned import PinnedVersion

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MODEL_FILE = "model.skops"


def spec_signature(spec: dict[str, Any], feature_names: list[str] | None) -> Signature:
    """The input signature from a serving spec, as :func:`engine.serving.inputs.signature`
    builds it from the dataset: the fitted order typed by the declared columns."""
    declared = {
        c[0]: Field(c[0], c[1], bool(c[2]), None if c[3] is None else tuple(c[3]), *c[4:])
        for c in spec["columns"]
    }
    return typed(declared, (spec.get("target"), spec.get("id_column")), feature_names)


def pod_version(
    folder: Path, env_name: str, model: str, fingerprint: str, sha256: str, pinned: str
) -> PinnedVersion:
    """The version in ``folder``, verified against ``sha256`` and described by ``pinned``."""
    from engine.store import load_verified

    sha256 = sha256.lower()
    if not _SHA256.match(sha256):
        raise UserError(f"--sha256 {sha256!r} is not a sha256 (64 hexadecimal characters)")
    spec = _spec(pinned)
    candidates = [folder / "files" / sha256 / MODEL_FILE, folder / MODEL_FILE]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise UserError(
            f"no {MODEL_FILE} in {folder} (looked for {candidates[0]} and {candidates[1]}): "
            "the InferenceService's storageUri must name the store's "
            f"{model}/{fingerprint} folder"
        )
    label = f"{model}@{spec['version']}"
    estimator = load_verified(path, sha256, label)
    names = getattr(estimator, "feature_names_in_", None)
    classes: tuple[Any, ...] = ()
    if spec["task"] == "classification" and hasattr(estimator, "classes_"):
        classes = tuple(c.item() if hasattr(c, "item") else c for c in estimator.classes_)
    return PinnedVersion(
        model=model,
        environment=env_name,
        version=spec["version"],
        fingerprint=fingerprint,
        source_commit=spec["source_commit"],
        sha256=sha256,
        task=spec["task"],
        estimator=estimator,
        signature=spec_signature(spec, list(names) if names is not None else None),
        id_column=spec.get("id_column"),
        classes=classes,
    )


def _spec(pinned: str) -> dict[str, Any]:
    fix = "pass the --pinned value of the manifest promotion wrote (deploy/kserve/)"
    try:
        spec = json.loads(pinned)
    except ValueError as exc:
        raise UserError(f"--pinned is not JSON ({exc}): {fix}") from None
    keys = ("version", "source_commit", "task", "columns")
    if not isinstance(spec, dict) or any(k not in spec for k in keys):
        raise UserError(f"--pinned must be a JSON object with {', '.join(keys)}: {fix}")
    columns = spec["columns"]
    if not isinstance(columns, list) or not all(
        isinstance(c, list)
        and len(c) in (4, 6)
        and isinstance(c[0], str)
        and all(
            b is None or (isinstance(b, int | float) and not isinstance(b, bool)) for b in c[4:]
        )
        for c in columns
    ):
        raise UserError(
            f"--pinned columns must be [name, type, nullable, values] or [name, type, "
            f"nullable, values, min, max] lists: {fix}"
        )
    return spec


__all__ = ["pod_version", "spec_signature"]
