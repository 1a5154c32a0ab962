"""The versions an environment pins, loaded from the store and verified, ready to predict.

For each pin on the environment branch, the stored version is fetched (retrained at the
pin's source commit and required to reproduce its metrics when the store lacks it, as
``deploy`` does), its model file is checked against the expected sha256 and loaded
through the store's trusted-type check, and the input signature is built from the
dataset schema *at the pin's source commit* (never the branch's tree). Serving and
batch scoring share this one path, so nothing ever predicts from an unverified artifact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import UserError
from engine.serving.forest import forest_proba, sequential_forest
from engine.serving.inputs import Signature, signature

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from engine.definitions.formats import Project
    from engine.environments.operations import Live
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
    canary: PinnedVersion | None = None
    """A canary pinned beside this version, loaded and verified the same way."""
    canary_percent: int = 0
    slot: str | None = None
    """The blue-green slot this version is in (None: the environment has no slots)."""
    idle: PinnedVersion | None = None
    """The idle blue-green slot's version, loaded and verified, answering nothing by default."""
    trained_with: str = ""
    """The scikit-learn version that trained it (its record; empty in older records)."""

    @property
    def classifies(self) -> bool:
        """Whether the model gives class probabilities."""
        return self.task == "classification" and hasattr(self.estimator, "predict_proba")

    def frame(self, columns: Mapping[str, list[Any]]) -> pd.DataFrame:
        """Checked columns as a DataFrame in the model's column order.

        Columns of Python floats only (what the checks make of a numeric schema's values)
        become one float64 block at once, ten times faster on one row than pandas's
        column-by-column inference, which gives the same frame (same dtypes, same values).
        """
        import numpy as np
        import pandas as pd

        names = self.signature.names
        lists = [columns[n] for n in names]
        if lists and lists[0] and all(type(v) is float for values in lists for v in values):
            block = np.array(lists, dtype=np.float64).T
            return pd.DataFrame(block, columns=names, copy=False)
        return pd.DataFrame(columns, columns=names)

    def score(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """Predictions, and class probabilities for a classifier (None otherwise).

        For a forest classifier, whose ``predict`` *is* the class of highest mean
        probability (:func:`predicts_from_proba`), the trees are walked once, not twice:
        the same predictions, in half the time; scored one after the other, they are
        summed here without joblib's per-tree dispatch (:mod:`engine.serving.forest`:
        the same bits, several times faster on a few rows).
        """
        import numpy as np

        if not self.classifies:
            return np.asarray(self.estimator.predict(frame)), None
        if self.from_proba and self.trees is not None:
            proba = forest_proba(*self.trees, frame)
        else:
            proba = np.asarray(self.estimator.predict_proba(frame))
        if self.from_proba:
            return self.estimator.classes_.take(np.argmax(proba, axis=1), axis=0), proba
        return np.asarray(self.estimator.predict(frame)), proba

    @cached_property
    def from_proba(self) -> bool:
        """Whether predictions are taken from the probabilities (see :meth:`score`)."""
        return predicts_from_proba(self.estimator)

    @cached_property
    def trees(self) -> tuple[tuple[Any, ...], Any] | None:
        """The forest whose trees :meth:`score` sums itself (:mod:`engine.serving.forest`)."""
        return sequential_forest(self.estimator) if self.from_proba else None


def predicts_from_proba(estimator: Any) -> bool:
    """Whether ``estimator.predict(X)`` is, in scikit-learn's own code,
    ``classes_.take(argmax(predict_proba(X), axis=1))``: a random forest or extra-trees
    classifier with one output, alone or as the last step of a plain ``Pipeline`` (whose
    ``predict`` and ``predict_proba`` apply the same transforms, then the last step's).
    Exact types only: a subclass may score differently.
    """
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
    from sklearn.pipeline import Pipeline

    final = estimator.steps[-1][1] if type(estimator) is Pipeline else estimator
    return (
        type(final) in (RandomForestClassifier, ExtraTreesClassifier)
        and getattr(final, "n_outputs_", None) == 1
    )


Loaded = dict[tuple[str, str, str], "PinnedVersion"]
"""Versions loaded before, by (model, fingerprint, sha256): a reload reuses them."""


def pinned_versions(
    root: Path,
    env_name: str,
    models: Sequence[str] = (),
    *,
    slot: str | None = None,
    loaded: Loaded | None = None,
) -> list[PinnedVersion]:
    """Every version pinned in ``env_name`` (or only ``models``), loaded and verified.

    A blue-green pin comes with its idle slot loaded too (warm), or, with ``slot``, as
    that slot's version alone. ``loaded``: versions verified earlier by this process,
    reused when a pin names the same fingerprint and sha256 (a switch reloads nothing).
    """
    from engine.environments.operations import (
        environment,
        live_versions,
        open_store,
        trusted_project,
    )

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
    cache = loaded if loaded is not None else {}

    def load(pin: Pin, side: Any, slot_name: str | None) -> PinnedVersion:
        key = (pin.model, side.fingerprint, side.sha256 or "")
        if side.sha256 is None or key not in cache:
            cache[key] = _load_version(root, store, pin, side, project, live)
        return replace(cache[key], slot=slot_name)

    chosen = []
    for name in sorted(models or pins):
        pin = pins[name]
        if slot is not None:
            chosen.append(load(pin, _slot_side(pin, slot), slot))
            continue
        version = load(pin, pin, pin.slot)
        if pin.canary is not None:
            version = replace(
                version,
                canary=load(pin, pin.canary, None),
                canary_percent=pin.canary.percent,
            )
        if pin.idle is not None:
            version = replace(version, idle=load(pin, pin.idle, pin.idle.slot))
        chosen.append(version)
    return chosen


def _slot_side(pin: Pin, slot: str) -> Any:
    """The side of ``pin`` in blue-green ``slot`` (the live one or the idle one)."""
    if pin.slot is None:
        raise UserError(
            f"{pin.model} in {pin.environment} has no blue-green slots (its environment's "
            "strategy is not blue-green): serve it without --slot"
        )
    if pin.slot == slot:
        return pin
    if pin.idle is not None and pin.idle.slot == slot:
        return pin.idle
    raise UserError(
        f"the {slot} slot of {pin.model} in {pin.environment} is empty: {pin.version} is "
        f"live in {pin.slot}; promote a version to load it there"
    )


def _load_version(
    root: Path, store: Store, pin: Pin, side: Any, project: Project, live: Live
) -> PinnedVersion:
    """One side of a pin (the pin itself, or its canary), fetched, verified and loaded."""
    from engine.environments.operations import pinned_hash
    from engine.training import planning

    name = pin.model
    expected, _ = pinned_hash(root, store, pin.model, pin.environment, side, project, live)
    record = store.get_record(name, side.fingerprint)
    estimator = store.load_pinned(name, side.fingerprint, expected)
    defs, _ = planning.read_definitions(root, side.source_commit)
    if name not in defs.models or defs.models[name].spec.dataset not in defs.datasets:
        raise UserError(
            f"{name}@{side.version}: its definition or dataset is not readable at the "
            f"pin's source commit {side.source_commit[:12]}"
        )
    dataset = defs.datasets[defs.models[name].spec.dataset].spec
    names = getattr(estimator, "feature_names_in_", None)
    return PinnedVersion(
        model=name,
        environment=pin.environment,
        version=side.version,
        fingerprint=side.fingerprint,
        source_commit=side.source_commit,
        sha256=expected,
        task=record.task,
        estimator=estimator,
        signature=signature(dataset, list(names) if names is not None else None),
        id_column=dataset.id_column,
        classes=tuple(record.classes),
        trained_with=record.sklearn_version,
    )


def version_skews(pinned: Sequence[PinnedVersion]) -> list[str]:
    """One line per loaded version (canaries and idle slots too) that another
    scikit-learn trained, for the server to print before it answers."""
    from engine.definitions.catalog_format import sklearn_version
    from engine.store import version_skew

    loaded = sklearn_version()
    lines = []
    for main in pinned:
        for side in (main, main.canary, main.idle):
            skew = None if side is None else version_skew(side.trained_with, loaded)
            if side is not None and skew is not None:
                lines.append(
                    f"{side.model}@{side.version} in {side.environment} was {skew}; "
                    f"`mlops train {side.model}` and promote the new version to move it"
                )
    return lines


__all__ = ["Loaded", "PinnedVersion", "pinned_versions", "predicts_from_proba"]
