"""Cross-reference checks: definitions that are each valid but do not fit together.

Pure: takes loaded :class:`~engine.definitions.loading.Definitions`, returns located problems. A
reference to a definition whose own file failed to load is not reported again, so one
typo yields one error, not a cascade.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from engine.definitions.loading import Definitions, Entry
from engine.definitions.names import BINARY_ONLY_METRICS, METRICS_BY_TASK
from engine.errors import Problem

if TYPE_CHECKING:
    from engine.definitions.formats import Dataset, FeatureSpec, Model


def check_references(defs: Definitions) -> list[Problem]:
    """Every cross-reference problem among ``defs``, unsorted.

    A model whose file, dataset and feature set were found clean together before (the
    same blobs, remembered in ``defs.memo``) is not checked again: its problems depend
    on those three files only.
    """
    problems: list[Problem] = []
    memo = defs.memo
    clean: set[tuple[int, int]] = set()  # (feature set, dataset) pairs found clean
    for entry in defs.models.values():
        key = _clean_key(entry, defs) if memo is not None else None
        if key is not None and memo is not None and memo.recall(key):
            continue
        found = _model(entry, defs, clean)
        if key is not None and memo is not None and not found:
            memo.remember(key, True)
        problems += found
    for dataset in defs.datasets.values():
        problems += _once(defs, dataset, _dataset)
    if defs.project is not None:
        problems += _once(defs, defs.project, lambda _: _environments(defs))
    return problems


def _once(defs: Definitions, entry: Entry[Any], check: Any) -> list[Problem]:
    """``check(entry)``, skipped when the same blob was found clean before: a dataset's
    checks and the project file's read that one file only."""
    memo = defs.memo
    key = f"references:{entry.kind}:{entry.blob}" if memo is not None and entry.blob else None
    if memo is not None and key is not None and memo.recall(key):
        return []
    found: list[Problem] = check(entry)
    if memo is not None and key is not None and not found:
        memo.remember(key, True)
    return found


def _clean_key(entry: Entry[Model], defs: Definitions) -> str | None:
    """The memo key of a model's reference checks, when they depend on three blobs only.

    That is when its dataset and its named feature set (if any) are loaded: every check
    of :func:`_model` then reads the model, that dataset and that feature set and nothing
    else (a missing one would make the message depend on the other names).
    """
    value = entry.doc.value
    dataset = defs.datasets.get(value.get("dataset"))
    ref = value.get("features")
    features = defs.features.get(ref) if isinstance(ref, str) else None
    if dataset is None or (isinstance(ref, str) and features is None) or entry.blob is None:
        return None
    if dataset.blob is None or (features is not None and features.blob is None):
        return None
    return f"references:{entry.blob}:{dataset.blob}:{features.blob if features else '-'}"


def metric_names(model: Model) -> list[str]:
    """The metrics a model's versions record: the listed ones, plus ``cv_<m>`` with ``cv``."""
    return recorded_metrics(model.metrics, model.cv)


def recorded_metrics(metrics: Sequence[str], cv: int | None) -> list[str]:
    """:func:`metric_names` of a model with these ``metrics`` and ``cv`` (e.g. its dump's)."""
    names = list(metrics)
    if cv:
        names += [f"cv_{m}" for m in metrics]
    return names


def _hint(name: str, choices: Iterable[str]) -> str:
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _model(entry: Entry[Model], defs: Definitions, clean: set[tuple[int, int]]) -> list[Problem]:
    model, doc = entry.spec, entry.doc
    out: list[Problem] = []
    dataset = defs.datasets.get(model.dataset)
    if dataset is None and model.dataset not in defs.invalid:
        out.append(
            doc.problem(
                ("dataset",),
                f"unknown dataset {model.dataset!r}"
                f"{_hint(model.dataset, defs.datasets)}: add "
                f"mlops/datasets/{model.dataset}.yaml or fix the name",
                rule="reference",
            )
        )
    if isinstance(model.features, str):
        fs = defs.features.get(model.features)
        if fs is None and model.features not in defs.invalid:
            out.append(
                doc.problem(
                    ("features",),
                    f"unknown feature set {model.features!r}"
                    f"{_hint(model.features, defs.features)}: add "
                    f"mlops/features/{model.features}.yaml or fix the name",
                    rule="reference",
                )
            )
        elif fs is not None and dataset is not None and (id(fs), id(dataset)) not in clean:
            # the same feature set on the same dataset for many models: checked until clean
            found = _feature_columns(
                fs.spec,
                fs,
                dataset.spec,
                (),
                f" (used by model {model.name!r} on dataset {dataset.spec.name!r})",
            )
            if not found:
                clean.add((id(fs), id(dataset)))
            out += found
    elif model.features is not None and dataset is not None:  # an inline feature spec
        out += _feature_columns(model.features, entry, dataset.spec, ("features",), "")

    allowed = METRICS_BY_TASK[model.task]
    for i, metric in enumerate(model.metrics):
        if metric not in allowed:
            out.append(
                doc.problem(
                    ("metrics", i),
                    f"metric {metric!r} is not a "
                    f"{model.task} metric{_hint(metric, allowed)}; choose from "
                    f"{', '.join(allowed)}",
                    rule="metric",
                )
            )
        elif metric in BINARY_ONLY_METRICS and dataset is not None:
            classes = _declared_classes(dataset.spec)
            if classes is not None and len(classes) > 2:
                out.append(
                    doc.problem(
                        ("metrics", i),
                        f"metric {metric!r} needs a binary "
                        f"target but {dataset.spec.name!r} has {len(classes)} "
                        f"classes: use {metric}_macro",
                        rule="metric",
                    )
                )
    computed = metric_names(model)
    if model.primary_metric not in model.metrics:
        out.append(
            doc.problem(
                ("primary_metric",),
                f"primary_metric {model.primary_metric!r} "
                "is not among metrics: add it to metrics"
                f"{_hint(model.primary_metric, model.metrics)}",
                rule="metric",
            )
        )
    for gate in model.gates:
        if gate not in computed:
            out.append(
                doc.problem(
                    ("gates", gate),
                    f"gate on {gate!r}, which is not computed"
                    f"{_hint(gate, computed)}: add it to metrics or remove the "
                    "gate",
                    key=True,
                    rule="metric",
                )
            )
    if model.search is not None and model.search.method == "grid":
        combos = 1
        for values in model.search.space.values():
            combos *= max(len(values), 1)
        if combos > 1000:
            out.append(
                doc.problem(
                    ("search", "space"),
                    f"grid of {combos:,} candidates: keep it under 1,000 or use method: random",
                    rule="search",
                )
            )
    return out


def _declared_classes(dataset: Dataset) -> list[object] | None:
    column = dataset.schema_.columns.get(dataset.target)
    return None if column is None or column.values is None else list(column.values)


def _feature_columns(
    spec: FeatureSpec, entry: Entry[object], dataset: Dataset, at: tuple[str, ...], used_by: str
) -> list[Problem]:
    declared = dataset.schema_.columns
    out: list[Problem] = []

    def check(loc: tuple[str | int, ...], column: str) -> None:
        if column == dataset.target:
            out.append(
                entry.doc.problem(
                    loc,
                    f"column {column!r} is the target of "
                    f"{dataset.name!r}: a feature must not leak the "
                    f"target{used_by}",
                    rule="reference",
                )
            )
        elif column in declared and declared[column].type == "date":
            out.append(
                entry.doc.problem(
                    loc,
                    f"column {column!r} of {dataset.name!r} is a date, which is not a "
                    "model input: derive numbers from it in the data (a month, a day of "
                    f"the week) and use those{used_by}",
                    rule="reference",
                )
            )
        elif column == dataset.id_column:
            out.append(
                entry.doc.problem(
                    loc,
                    f"column {column!r} is the id column of {dataset.name!r}, which names "
                    "rows and is not a model input: remove it from the features (copy it "
                    f"into a column of its own if its values carry information){used_by}",
                    rule="reference",
                )
            )
        elif declared and column not in declared:
            out.append(
                entry.doc.problem(
                    loc,
                    f"column {column!r} is not in the schema of "
                    f"dataset {dataset.name!r}{_hint(column, declared)}"
                    f"{used_by}",
                    rule="reference",
                )
            )

    for i, column in enumerate(spec.columns or []):
        check((*at, "columns", i), column)
    for t, transform in enumerate(spec.transforms):
        for i, column in enumerate(transform.columns):
            check((*at, "transforms", t, "columns", i), column)
            if spec.columns is not None and column not in spec.columns:
                out.append(
                    entry.doc.problem(
                        (*at, "transforms", t, "columns", i),
                        f"column {column!r} is transformed but is not "
                        "among the feature set's columns",
                        rule="reference",
                    )
                )
    return out


def _dataset(entry: Entry[Dataset]) -> list[Problem]:
    ds, out = entry.spec, []
    columns = ds.schema_.columns
    if columns and ds.target not in columns:
        out.append(
            entry.doc.problem(
                ("target",),
                f"target {ds.target!r} is not declared in "
                f"schema.columns{_hint(ds.target, columns)}",
                rule="reference",
            )
        )
    if ds.target in columns and columns[ds.target].nullable:
        # A row without a label can be neither fitted nor scored. Dropping such rows
        # silently would train on less data than the dataset says it has; rows awaiting
        # a label belong in another file until they have one.
        out.append(
            entry.doc.problem(
                ("schema", "columns", ds.target, "nullable"),
                f"target {ds.target!r} cannot be nullable: every row needs a label to "
                "train and score on; remove nullable: true and keep unlabeled rows "
                "out of this dataset",
                rule="reference",
            )
        )
    if ds.id_column is not None and columns and ds.id_column not in columns:
        out.append(
            entry.doc.problem(
                ("id_column",),
                f"id_column {ds.id_column!r} is not declared in schema.columns",
                rule="reference",
            )
        )
    return out


def _environments(defs: Definitions) -> list[Problem]:
    if defs.project is None:
        return []
    doc, envs = defs.project.doc, defs.project.spec.environments
    out: list[Problem] = []
    branches: dict[str, str] = {}
    for name, env in envs.items():
        for i, req in enumerate(env.requires):
            if req not in envs:
                out.append(
                    doc.problem(
                        ("environments", name, "requires", i),
                        f"environment {name!r} requires unknown environment "
                        f"{req!r}{_hint(req, envs)}",
                        rule="reference",
                    )
                )
        if env.branch in branches:
            out.append(
                doc.problem(
                    ("environments", name, "branch"),
                    f"branch {env.branch!r} "
                    f"is already used by environment {branches[env.branch]!r}",
                    rule="reference",
                )
            )
        branches.setdefault(env.branch, name)
        if env.branch == defs.project.spec.default_branch:
            out.append(
                doc.problem(
                    ("environments", name, "branch"),
                    "an environment branch must not be the default branch: use e.g. env/" + name,
                    rule="reference",
                )
            )
    cycle = _cycle({n: [r for r in e.requires if r in envs] for n, e in envs.items()})
    if cycle:
        out.append(
            doc.problem(
                ("environments", cycle[0], "requires"),
                "environments require each other in a cycle: " + " → ".join(cycle),
                rule="reference",
            )
        )
    return out


def _cycle(graph: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None
