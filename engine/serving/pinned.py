"""The versions an environment pins, loaded from the store and verified, ready to predict.

For each pin on the environment branch, the stored version is fetched (retrained at the
pin's source commit and required to reproduce its metrics when the store lacks it, as
``deploy`` does), its model file is checked against the expected sha256 and loaded
through the store's trusted-type check, and the input signature is built from the
dataset schema *at the pin's source commit* (never the branch's tree). Serving and
batch scoring share this one path, so nothing ever predicts from an unverified artifact.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import StoreError, UserError
from engine.serving.inputs import Signature, signature

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from engine.environments.pins import Pin
    from engine.store import Store


@dataclass(frozen=True)
class PinnedVersion:
    """One pinned model, loaded: the estimator and what a request must look like."""

    model: str
    environment: str
    version: str
    fingerprint: str
    source_commit: str
    sha256: str
    task: str
    estimator: Any = field(repr=False)
    signature: Signature
    id_column: str | None = None
    classes: tuple[Any, ...] = ()

    @property
    def classifies(self) -> bool:
        """Whether the model gives class probabilities."""
        return self.task == "classification" and hasattr(self.estimator, "predict_proba")

    def frame(self, columns: Mapping[str, list[Any]]) -> pd.DataFrame:
        """Checked columns as a DataFrame in the model's column order."""
        import pandas as pd

        return pd.DataFrame(columns, columns=self.signature.names)

    def score(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """Predictions, and class probabilities for a classifier (None otherwise)."""
        import numpy as np

        predictions = np.asarray(self.estimator.predict(frame))
        proba = np.asarray(self.estimator.predict_proba(frame)) if self.classifies else None
        return predictions, proba


def pinned_versions(root: Path, env_name: str, models: Sequence[str] = ()) -> list[PinnedVersion]:
    """Every version pinned in ``env_name`` (or only ``models``), loaded and verified."""
    from engine.environments.operations import (
        ensure_stored,
        environment,
        live_versions,
        open_store,
        trusted_project,
    )
    from engine.training import planning

    project = trusted_project(root)
    environment(project, env_name)  # a clear error for an unknown name
    live = live_versions(root, project)
    pins = live.get(env_name, {})
    if not pins:
        raise UserError(f"nothing is pinned in {env_name} yet: promote a model first")
    unknown = [m for m in models if m not in pins]
    if unknown:
        raise UserError(
            f"{unknown[0]!r} is not pinned in {env_name}; pinned there: {', '.join(sorted(pins))}"
        )
    store = open_store(root, project)
    loaded = []
    for name in sorted(models or pins):
        pin = pins[name]
        ensure_stored(root, store, name, pin.fingerprint, pin.source_commit, project, live)
        record = store.get_record(name, pin.fingerprint)
        from engine.store import MODEL_FILE

        expected = getattr(pin, "sha256", None) or record.files.get(MODEL_FILE, "")
        estimator = _load_pinned(store, pin, expected)
        defs, _ = planning.read_definitions(root, pin.source_commit)
        if name not in defs.models or defs.models[name].spec.dataset not in defs.datasets:
            raise UserError(
                f"{name}@{pin.version}: its definition or dataset is not readable at the "
                f"pin's source commit {pin.source_commit[:12]}"
            )
        dataset = defs.datasets[defs.models[name].spec.dataset].spec
        names = getattr(estimator, "feature_names_in_", None)
        loaded.append(
            PinnedVersion(
                model=name,
                environment=env_name,
                version=pin.version,
                fingerprint=pin.fingerprint,
                source_commit=pin.source_commit,
                sha256=expected,
                task=record.task,
                estimator=estimator,
                signature=signature(dataset, list(names) if names is not None else None),
                id_column=dataset.id_column,
                classes=tuple(record.classes),
            )
        )
    return loaded


def _load_pinned(store: Store, pin: Pin, expected_sha256: str) -> Any:
    """The pinned model, only if its file's sha256 is ``expected_sha256``; else StoreError.

    The one place serving loads a model: the lead wires the pin's own ``sha256`` here.
    """
    from engine.store import load_skops
    from engine.store.backends import sha256_file

    version = store.get(pin.model, pin.fingerprint)  # every file against the record
    actual = sha256_file(version.model_path)
    if not expected_sha256 or not hmac.compare_digest(actual, expected_sha256):
        raise StoreError(
            f"refusing to serve {pin.model}@{pin.version}: its model file's sha256 is "
            f"{actual}, but the pin expects {expected_sha256 or '(none recorded)'}; "
            "the stored artifact is not the one that was promoted"
        )
    return load_skops(version.model_path, version.record.label)


__all__ = ["PinnedVersion", "pinned_versions"]
