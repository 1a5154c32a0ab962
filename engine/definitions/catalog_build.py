"""Building the catalog: what the installed scikit-learn offers, as plain JSON-able data.

This is the only part of the allow-list that imports scikit-learn; ``engine.definitions.catalog``
calls ``build`` once per installed version (the result is cached), and ``inspect_extra``
for each class a project adds in ``allow_estimators``. ``build`` walks
``sklearn.utils.all_estimators`` for classifiers and regressors, keeps each under its
public import path, adds the fixed transformer list, and serializes every parameter's
constraints (``_parameter_constraints``) into the tagged JSON that
``engine.definitions.param_constraints`` reads back.
"""

from __future__ import annotations

import importlib
import numbers
from typing import Any

from engine.definitions.catalog_format import (
    FORMAT,
    PROJECT_FILE,
    TRANSFORMERS,
    ClassInfo,
    Kind,
    sklearn_version,
)
from engine.definitions.param_constraints import JSON_SCALARS, Constraint

_FLAGS = {
    "boolean": "boolean",
    "verbose": "verbose",
    "random_state": "random_state",
    "array-like": "array_like",
    "sparse matrix": "sparse_matrix",
    "cv_object": "cv_object",
    "nan": "nan",
}


def build() -> dict[str, Any]:
    """The catalog of the installed scikit-learn (see ``catalog.build_catalog``)."""
    from sklearn.utils import all_estimators

    classes: dict[str, Any] = {}
    kind: Kind
    for kind in ("classifier", "regressor"):
        for _, cls in all_estimators(type_filter=kind):
            public = public_path(cls)
            if public:  # a class only reachable through a private module is not offered
                classes[public] = describe_class(cls, kind)
    for path in TRANSFORMERS:
        try:
            classes[path] = describe_class(_load(path), "transformer")
        except AttributeError:
            continue  # not in this scikit-learn version
    return {
        "format": FORMAT,
        "sklearn": sklearn_version(),
        "classes": dict(sorted(classes.items())),
    }


def public_path(cls: type) -> str | None:
    """``sklearn.<public module>.<Name>`` that gives back ``cls``, or None if only private."""
    import sys

    parts = cls.__module__.split(".")
    for end in range(len(parts), 1, -1):
        if any(p.startswith("_") for p in parts[:end]):
            continue
        module = sys.modules.get(".".join(parts[:end]))
        if module is not None and getattr(module, cls.__name__, None) is cls:
            return f"{module.__name__}.{cls.__name__}"
    return None


def describe_class(cls: type, kind: Kind) -> dict[str, Any]:
    """One catalog entry: kind, constructor parameters with constraints, required, open."""
    import inspect

    signature = inspect.signature(cls.__init__)  # type: ignore[misc]
    every = list(signature.parameters.values())[1:]  # without self
    named = [p for p in every if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    declared = getattr(cls, "_parameter_constraints", None) or {}
    params = {}
    for p in named:
        given = declared.get(p.name, "no_validation")
        params[p.name] = (
            [serialize(c) for c in given] if given != "no_validation" else [{"any": True}]
        )
    entry = {
        "kind": kind,
        "params": params,
        "required": [p.name for p in named if p.default is p.empty],
        "open": any(p.kind == p.VAR_KEYWORD for p in every),
    }
    notice = deprecation_notice(cls)
    return {**entry, "deprecated": notice} if notice else entry


def deprecation_notice(cls: type) -> str | None:
    """scikit-learn's message when the class is deprecated (its ``__new__`` warns), or None."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            new: Any = cls.__new__
            new(cls)  # no __init__: nothing is built, only the warning is raised
        except Exception:
            return None
    notices = [str(w.message) for w in caught if issubclass(w.category, FutureWarning)]
    return notices[0] if notices else None


def kind_of(cls: type) -> Kind:
    """Classifier or regressor, from scikit-learn's tags on a default instance."""
    from sklearn.base import is_classifier, is_regressor

    try:
        instance = cls()  # scikit-learn's convention: constructors only store parameters
        if is_classifier(instance):
            return "classifier"
        return "regressor" if is_regressor(instance) else "unknown"
    except Exception:  # no default constructor, or no tags: don't guess
        kind = getattr(cls, "_estimator_type", None)
        return kind if kind in ("classifier", "regressor") else "unknown"


def serialize(constraint: Any) -> Constraint:
    """One scikit-learn constraint as JSON; ``{"any": true}`` when it has no JSON form."""
    from numbers import Integral, Real

    from sklearn.utils import _param_validation as pv

    if isinstance(constraint, pv.Hidden):
        return {**serialize(constraint.constraint), "hidden": True}
    if constraint is None:
        return {"none": True}
    if isinstance(constraint, str):
        return {_FLAGS[constraint]: True} if constraint in _FLAGS else {"any": True}
    if constraint is callable:
        return {"callable": True}
    if isinstance(constraint, pv.Interval):
        kinds = {Integral: "int", Real: "real", pv.RealNotInt: "real_not_int"}
        return {
            "interval": {
                "type": kinds[constraint.type],
                "left": _number(constraint.left),
                "right": _number(constraint.right),
                "closed": constraint.closed,
            }
        }
    if isinstance(constraint, pv.Options):
        if not all(isinstance(o, JSON_SCALARS) for o in constraint.options):
            return {"instance_of": type_path(constraint.type)}  # e.g. numpy dtypes
        return {
            "options": sorted(constraint.options, key=repr),
            "deprecated": sorted(constraint.deprecated, key=repr),
        }
    if isinstance(constraint, pv.MissingValues):
        return {"missing_values": "numeric" if constraint.numeric_only else "any"}
    if isinstance(constraint, pv.HasMethods):
        return {"has_methods": list(constraint.methods)}
    if isinstance(constraint, type):
        return {"instance_of": type_path(constraint)}
    return {"any": True}


def type_path(cls: type) -> str:
    """``module.QualifiedName`` of a type, the key of ``instance_of``."""
    return f"{cls.__module__}.{cls.__qualname__}"


def _number(value: Any) -> int | float | None:
    # Bounds may be numpy scalars, which JSON can't hold.
    if value is None:
        return None
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def inspect_extra(path: str) -> ClassInfo | str:
    """Import a project-allowed class and describe it, or say why it can't be used."""
    where = f"(listed in allow_estimators in {PROJECT_FILE})"
    try:
        cls = _load(path)
    except Exception as exc:  # a third-party import can fail in any way
        return (
            f"{path!r} {where} can't be imported: {type(exc).__name__}: {exc}; install its "
            "package where mlops runs, or remove it from allow_estimators"
        )
    if not isinstance(cls, type) or not callable(getattr(cls, "fit", None)):
        return f"{path!r} {where} is not an estimator class (a class with a fit method)"
    try:
        return ClassInfo.from_data(path, describe_class(cls, kind_of(cls)))
    except (TypeError, ValueError) as exc:  # e.g. a constructor without a signature
        return f"{path!r} {where} can't be inspected: {exc}"


def _load(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)
