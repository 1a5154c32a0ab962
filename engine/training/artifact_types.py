"""Which types loading the engine's own models needs: the source of the store's trusted list.

skops builds only the types it is told to trust. The engine tells it an exact list,
:data:`engine.store.trusted_types.TRUSTED_TYPES`, and this module is where that list
comes from: it fits, for every class of the allow-list catalog (estimators and feature
transformers), a pipeline shaped the way :func:`engine.training.train.build_pipeline`
shapes them (a ``ColumnTransformer`` of feature chains, then the estimator), saves it
with skops and asks ``skops.io.get_untrusted_types`` what the file would build.

Two sweeps:

- ``quick`` (the drift test, ~15 s): each class once, with its default parameters
  (shrunk where a parameter only costs time: ``n_estimators``, ``max_iter``...);
- ``exhaustive`` (regenerating the list, minutes): also every string option of every
  parameter, one at a time, on binary and multi-class targets, because some fitted
  internals depend on them (``algorithm: ball_tree`` keeps a ``BallTree``).

Regenerate the committed list after upgrading scikit-learn, SciPy or skops with
``python -m engine.training.artifact_types --write`` and review the diff: every new name
must be a class from the library's own code, never a function (the generator refuses
to write a function that is not in :data:`engine.store.trusted_types.REVIEWED_FUNCTIONS`).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

QUICK_PARAMS = {"n_estimators": 3, "max_iter": 30, "max_iter_predict": 10, "n_restarts": 0}
"""Parameters that only cost time: shrunk so that every class fits in a fraction of a second."""
ROWS = 60


@dataclass(frozen=True)
class Case:
    """One pipeline to fit: a catalog class with some parameters, on a task."""

    path: str
    params: dict[str, Any]
    task: str  # classification | regression
    classes: int = 3
    quick: bool = True  # shrink the parameters that only cost time

    @property
    def label(self) -> str:
        """``sklearn.svm.SVC{'kernel': 'poly'}/3`` for messages."""
        shown = "".join(f" {k}={v!r}" for k, v in self.params.items())
        return f"{self.path}{shown} ({self.task}, {self.classes} classes)"


@dataclass
class Sweep:
    """What a sweep found: each type with the cases that needed it, and the cases that failed."""

    types: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    fitted: int = 0


def cases(exhaustive: bool = False) -> Iterator[Case]:
    """The pipelines a sweep fits, for every class of the catalog that can be built from YAML."""
    from engine.definitions.catalog import default_catalog

    catalog = default_catalog()
    for path, info in sorted(catalog.classes.items()):
        if info.required:  # meta-estimators take estimator objects: YAML cannot give them
            continue
        tasks = ["regression"] if info.kind == "regressor" else ["classification"]
        counts = (2, 3) if exhaustive and info.kind != "regressor" else (3,)
        variants: list[dict[str, Any]] = [{}]
        if exhaustive:
            for name, checks in sorted(info.params.items()):
                for check in checks:
                    if check.get("hidden"):
                        continue
                    variants += [
                        {name: o}
                        for o in check.get("options", ())
                        if isinstance(o, str) and o not in check.get("deprecated", ())
                    ]
        for params in variants:
            for task in tasks:
                for n in counts:
                    yield Case(path, params, task, n)


def sweep(exhaustive: bool = False) -> Sweep:
    """Fit, save and audit every case; a case that does not fit is recorded, not raised."""
    found = Sweep()
    data = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for case in cases(exhaustive):
            try:
                names = untrusted_types(fit(case, data))
            except Exception as exc:  # a parameter combination scikit-learn refuses
                found.failed[case.label] = f"{type(exc).__name__}: {exc}"[:200]
                continue
            found.fitted += 1
            for name in names:
                found.types.setdefault(name, []).append(case.label)
    return found


def fit(case: Case, data: tuple[Any, Any, Any] | None = None) -> Any:
    """The case's pipeline, built like training builds it, fitted on a small table."""
    from engine.definitions.catalog import default_catalog
    from engine.definitions.formats import FeatureSpec, Model
    from engine.training.train import build_pipeline

    frame, y_class, y_reg = data or _data()
    info = default_catalog().classes[case.path]
    quick = {k: v for k, v in QUICK_PARAMS.items() if k in info.params and case.quick}
    params = {**quick, **case.params}
    numeric, other = ["a", "b", "c"], ["k"]
    if info.kind == "transformer":
        on = other if "Encoder" in case.path else numeric
        rest = numeric if on == other else other
        transforms = [
            {"columns": on, "steps": [{"class": case.path, "params": params}]},
            {"columns": rest, "steps": [{"class": "sklearn.preprocessing.OneHotEncoder"}]},
        ]
        estimator = {"class": "sklearn.linear_model.LogisticRegression", "params": {}}
        task = "classification"
    else:
        transforms = []  # numeric columns only: a passthrough chain (one-hot columns are
        estimator = {"class": case.path, "params": params}  # collinear for some estimators)
        task = case.task
    features = FeatureSpec.model_validate(
        {
            "columns": [*numeric, *other] if transforms else numeric,
            "transforms": transforms,
            "remainder": "passthrough",
        }
    )
    metric = "accuracy" if task == "classification" else "rmse"
    model = Model.model_validate(
        {
            "name": "probe",
            "dataset": "probe",
            "task": task,
            "estimator": estimator,
            "metrics": [metric],
            "primary_metric": metric,
        }
    )
    y = y_reg if task == "regression" else y_class % case.classes
    try:
        return build_pipeline(model, features, list(frame.columns)).fit(frame, y)
    except Exception:
        if not quick:
            raise
    # A shrunk parameter can be out of range (more atoms than features): fit as given.
    return fit(Case(case.path, case.params, case.task, case.classes, quick=False), data)


def untrusted_types(fitted: Any) -> list[str]:
    """What ``skops.io.get_untrusted_types`` reports for ``fitted`` saved as the engine saves."""
    from engine.store.artifacts import _skops_io

    sio = _skops_io()
    result: list[str] = sio.get_untrusted_types(data=sio.dumps(fitted))
    return result


def is_class(name: str) -> bool:
    """Whether ``name`` (``module.Name``) imports to a class (not a function, not missing)."""
    module, _, attr = name.rpartition(".")
    try:
        return isinstance(getattr(importlib.import_module(module), attr), type)
    except (ImportError, AttributeError):
        return False


def render(types: list[str], functions: list[str]) -> str:
    """The text of ``engine/store/trusted_types.py`` for ``types`` (classes, sorted)."""
    from importlib.metadata import version

    versions = ", ".join(f"{p} {version(p)}" for p in ("scikit-learn", "scipy", "numpy", "skops"))
    lines = [
        '"""The exact types a stored model may contain: generated, reviewed, committed.',
        "",
        "Generated by ``python -m engine.training.artifact_types --write`` (see that module)",
        f"with {versions}.",
        "Do not edit by hand: regenerate, then review the diff. Every name is a class;",
        "``REVIEWED_FUNCTIONS`` lists the only functions, each with why.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "REVIEWED_FUNCTIONS: dict[str, str] = {",
        *(f'    "{name}": (\n        {json.dumps(_REASONS[name])}\n    ),' for name in functions),
        "}",
        '"""Functions a fitted pipeline of the catalog refers to (never called), and why."""',
        "",
        "TRUSTED_TYPES: frozenset[str] = frozenset(",
        "    {",
        *(f'        "{name}",' for name in types),
        "    }",
        ")",
        '"""All that ``skops.io.get_untrusted_types`` may report for the engine\'s models."""',
        "",
    ]
    return "\n".join(lines)


_REASONS = {
    "scipy._lib.array_api_compat.numpy._aliases.asarray": (
        "SplineTransformer's BSpline keeps it; a reference, not called at load; no I/O"
    ),
}


def _data() -> tuple[Any, Any, Any]:
    import numpy as np
    import pandas as pd

    rng = np.random.RandomState(0)
    frame = pd.DataFrame(
        {
            "a": rng.rand(ROWS),
            "b": rng.rand(ROWS) * 3,
            "c": rng.randint(0, 3, ROWS).astype(float),
            "k": rng.choice(["x", "y", "z"], ROWS),
        }
    )
    y_class = np.arange(ROWS) % 6  # reduced modulo the case's class count
    y_reg = frame["a"] * 2 + rng.rand(ROWS)
    return frame, y_class, y_reg


def main(argv: list[str] | None = None) -> int:
    """Print (or ``--write``) the trusted list from an exhaustive sweep."""
    parser = argparse.ArgumentParser(prog="python -m engine.training.artifact_types")
    parser.add_argument(
        "--write", action="store_true", help="rewrite engine/store/trusted_types.py"
    )
    parser.add_argument("--quick", action="store_true", help="default parameters only")
    args = parser.parse_args(argv)
    if args.write and args.quick:
        parser.error("--write needs the exhaustive sweep: a quick one would drop types")
    found = sweep(exhaustive=not args.quick)
    functions = sorted(n for n in found.types if not is_class(n))
    unreviewed = [n for n in functions if n not in _REASONS]
    for name in unreviewed:
        print(f"refusing {name}: not a class (needed by {found.types[name][0]})", file=sys.stderr)
    classes = sorted(n for n in found.types if n not in functions)
    print(f"{found.fitted} pipelines fitted, {len(found.failed)} refused by scikit-learn")
    print(f"{len(classes)} classes, {len(functions)} functions")
    if unreviewed:
        return 1
    if args.write:
        target = Path(__file__).resolve().parents[1] / "store" / "trusted_types.py"
        target.write_text(render(classes, functions), encoding="utf-8")
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
