"""Locate the catalog's findings about estimators and feature steps in their YAML files.

The catalog (:mod:`engine.definitions.catalog`) knows which classes are allowed and what their
parameters accept; this module walks the definitions and turns each of its issues into a
:class:`~engine.errors.Problem` at the offending node.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

from engine.definitions.catalog import Catalog, Issue
from engine.definitions.catalog_format import ClassInfo
from engine.definitions.formats import FeatureSpec, Model
from engine.definitions.loading import IMPORT_PATH_HINT, Definitions, Entry
from engine.definitions.yamlfile import Path
from engine.errors import Problem


def check_estimators(
    defs: Definitions, catalog: Catalog, allow: Sequence[str] | None = None
) -> list[Problem]:
    """Problems with every model's estimator, search space and feature steps.

    ``allow`` replaces the project's ``allow_estimators`` (a privileged job passes the
    default branch's).
    """
    extra = tuple(defs.settings.allow_estimators if allow is None else allow)
    out: list[Problem] = []
    # a model found clean before (same bytes, same catalog) is clean: its checks read
    # its own file only (classes beyond scikit-learn's are imported, so never remembered)
    memo = defs.memo if not extra and catalog.digest else None
    for entry in defs.models.values():
        key = f"estimators:{entry.blob}:{catalog.digest}" if entry.blob else None
        if memo is not None and key is not None and memo.recall(key):
            continue
        found = _model(entry, catalog, extra)
        if memo is not None and key is not None and not found:
            memo.remember(key, True)
        out += found
    for feature_set in defs.features.values():
        out += _steps(feature_set, (), feature_set.spec, catalog)
    return out


def _model(entry: Entry[Model], catalog: Catalog, extra: tuple[str, ...]) -> list[Problem]:
    model = entry.spec
    est = model.estimator
    issues = catalog.check_estimator(est.class_, est.params, model.task, extra)
    out = _locate(entry, ("estimator",), issues, has_params=bool(est.params))
    if model.search is not None and not any(i.key == ("class",) for i in issues):
        out += _search_space(entry, model.search.space, catalog, est.class_, extra)
    if isinstance(model.features, FeatureSpec):
        out += _steps(entry, ("features",), model.features, catalog)
    return out


def suggest_import_paths(problems: list[Problem], catalog: Catalog) -> list[Problem]:
    """Problems with a bare class name (``RandomForestClassifier``) get the path it means."""
    out = []
    for problem in problems:
        bare = re.search(r"'([A-Za-z_][A-Za-z0-9_]*)' is not an import path", problem.message)
        if problem.rule == "import-path" and bare:
            paths = sorted(p for p in catalog.classes if p.rsplit(".", 1)[-1] == bare.group(1))
            if paths:
                hint = f"did you mean {' or '.join(paths[:3])}?"
                problem = dataclasses.replace(
                    problem, message=problem.message.replace(IMPORT_PATH_HINT, hint)
                )
        out.append(problem)
    return out


def _search_space(
    entry: Entry[object],
    space: dict[str, list[Any]],
    catalog: Catalog,
    path: str,
    extra: tuple[str, ...],
) -> list[Problem]:
    """Each candidate value checked; an unknown parameter name is reported once, at its key."""
    info = catalog.lookup(path, extra)
    out: list[Problem] = []
    for name, values in space.items():
        if isinstance(info, ClassInfo) and name not in info.params and not info.open:
            issues = catalog.check_params(path, {name: values[0] if values else None}, extra)
            out += [_problem(entry, ("search", "space", name), i, key=True) for i in issues[:1]]
            continue
        for i, value in enumerate(values):
            for issue in catalog.check_params(path, {name: value}, extra):
                out.append(_problem(entry, ("search", "space", name, i), issue))
    return out


def _steps(entry: Entry[object], at: Path, spec: FeatureSpec, catalog: Catalog) -> list[Problem]:
    out: list[Problem] = []
    for t, transform in enumerate(spec.transforms):
        for s, step in enumerate(transform.steps):
            where = (*at, "transforms", t, "steps", s)
            issues = catalog.check_transformer(step.class_, step.params)
            out += _locate(entry, where, issues, has_params=bool(step.params))
    return out


def _locate(
    entry: Entry[object], at: Path, issues: list[Issue], *, has_params: bool
) -> list[Problem]:
    out = []
    for issue in issues:
        key: Path = issue.key
        if key == ("params",) and not has_params:
            key = ()
        out.append(_problem(entry, (*at, *key), issue))
    return out


def _problem(entry: Entry[object], loc: Path, issue: Issue, *, key: bool = False) -> Problem:
    line, col = entry.doc.where(loc, key=key)
    return Problem(entry.path, line, col, issue.message, severity=issue.severity, rule="estimator")
