"""Review a change: plan → make sure both sides are trained → compare → report.

This is the I/O half of ``mlops diff`` (and of the pull-request event): it reads the
plan from git, trains what is missing at the base and at the head (cache hits cost
nothing), loads each version's stored predictions, re-scores the base on the head's test
rows when the data changed, reads what each environment branch pins, and hands plain
values to the pure :mod:`engine.compare` and :mod:`engine.report`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import Problem, UserError

if TYPE_CHECKING:
    from engine.compare import Evaluation, ModelComparison
    from engine.definitions import Model, Project
    from engine.plan import Plan
    from engine.report import Marker
    from engine.store import Store
    from engine.train import Outcome

HISTORY = 10


@dataclass
class Review:
    """The outcome of a review: the report and the facts behind it."""

    markdown: str
    verdict: str
    comparisons: list[ModelComparison] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    failures: list[Outcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the change passes: no problem, no failed training, no failed gate."""
        return not self.problems and not self.failures and self.verdict != "fail"

    def as_dict(self) -> dict[str, Any]:
        """Plain data for ``--json`` and the report bundle."""

        return {
            "ok": self.ok,
            "verdict": self.verdict,
            "models": [
                {
                    "model": c.model,
                    "status": c.status,
                    "verdict": c.verdict,
                    "base_version": c.base_version,
                    "head_version": c.head_version,
                    "gates": [dataclasses.asdict(g) for g in c.gates],
                    "metrics": [dataclasses.asdict(d) for d in c.vs_base.metrics],
                }
                for c in self.comparisons
            ],
            "problems": [p.as_dict() for p in self.problems],
            "failures": [o.as_dict() for o in self.failures],
        }


def review(
    root: Path,
    *,
    base: str,
    head: str | None = None,
    vs: Sequence[str] = (),
    models: Sequence[str] = (),
    marker: Marker | None = None,
    summary_url: str | None = None,
    settings: Project | None = None,
) -> Review:
    """Compare the head's versions with the base's and with each environment's pins.

    ``settings`` (the default branch's project file, in privileged jobs) overrides the
    head's for the store, the environments and the estimator allow-list.
    """
    from engine import api
    from engine.compare import compare_model, overall
    from engine.pins import read_pins
    from engine.planning import compute_plan
    from engine.report import ReportInput, render
    from engine.store import Store

    plan = compute_plan(root, base, head)
    head_defs, _ = api.read_definitions(root, plan.head_commit)
    base_defs, _ = api.read_definitions(root, plan.base_commit)
    names = _selected(plan, models, head_defs.models, base_defs.models)
    project = settings or head_defs.settings
    unknown_envs = [e for e in vs if e not in project.environments]
    if unknown_envs:
        raise UserError(
            f"unknown environment(s) {', '.join(unknown_envs)}: mlops/project.yaml "
            f"defines {', '.join(project.environments) or 'none'}"
        )
    envs = {e: project.environments[e] for e in (vs or project.environments)}
    head_run = api.train(
        root, [n for n in names if n in head_defs.models], rev=plan.head_commit, settings=settings
    )
    base_run = api.train(
        root, [n for n in names if n in base_defs.models], rev=plan.base_commit, settings=settings
    )
    store = Store.open(project.store.url, root)
    pins = {env: read_pins(root, spec.branch) or {} for env, spec in envs.items()}
    comparisons = []
    for name in names:
        head_out = next((o for o in head_run.outcomes if o.model == name), None)
        base_out = next((o for o in base_run.outcomes if o.model == name), None)
        spec = head_defs.models[name].spec if name in head_defs.models else None
        primary = spec.primary_metric if spec else ""
        head_ev = _evaluation(store, name, head_out, primary)
        base_ev = _evaluation(store, name, base_out, primary)
        if head_ev is None and base_ev is None:
            continue
        rescored, reason = False, ""
        if head_ev is not None and base_ev is not None:
            base_ev, rescored, reason = _paired(
                root, store, plan.head_commit, head_ev, base_ev, head_defs, name
            )
        environments: dict[str, Evaluation | None] = {}
        for env, pinned in pins.items():
            pin = pinned.get(name)
            env_ev = _stored_evaluation(store, name, pin.fingerprint, primary) if pin else None
            if env_ev is not None and head_ev is not None:
                env_ev, _, _ = _paired(
                    root, store, plan.head_commit, head_ev, env_ev, head_defs, name
                )
            environments[env] = env_ev
        comparisons.append(
            compare_model(
                head_ev,
                base_ev,
                metrics=_metrics(spec),
                primary_metric=spec.primary_metric if spec else None,
                gates=spec.gates if spec else None,
                environments=environments,
                rescored=rescored,
                reason=reason,
            )
        )
    failures = [o for o in (*head_run.outcomes, *base_run.outcomes) if o.status == "failed"]
    failed_problems = [
        Problem(
            head_defs.models[o.model].path if o.model in head_defs.models else "mlops/models",
            0,
            0,
            f"{o.model}: {o.reason}",
            rule="training",
        )
        for o in head_run.failed
    ]
    problems = sorted({*plan.problems, *(p for m in plan.models for p in m.problems)})
    markdown = render(
        ReportInput(
            comparisons=comparisons,
            marker=marker,
            validation=[p for p in problems if p.rule != "data"],
            data_checks=[p for p in problems if p.rule == "data"],
            training_failures=failed_problems,
            base_label=_label(plan.base_commit),
            head_label=_label(plan.head_commit) if plan.head_commit else "working tree",
            summary_url=summary_url,
        )
    )
    verdict = overall(comparisons) if comparisons else "pass"
    return Review(markdown, verdict, comparisons, problems, failures)


def _label(sha: str | None) -> str:
    return sha[:7] if sha else ""


def _selected(plan: Plan, models: Sequence[str], head: Any, base: Any) -> list[str]:
    if models:
        unknown = [m for m in models if m not in head and m not in base]
        if unknown:
            raise UserError(f"unknown model(s): {', '.join(unknown)}")
        return list(models)
    return [m.name for m in plan.models if m.status in ("changed", "new", "removed")]


def _metrics(spec: Model | None) -> list[str] | None:
    if spec is None:
        return None
    from engine.references import metric_names

    return metric_names(spec)


def _evaluation(
    store: Store, name: str, outcome: Outcome | None, primary: str
) -> Evaluation | None:
    if outcome is None or outcome.status == "failed":
        return None
    return _stored_evaluation(store, name, outcome.fingerprint, primary)


def _stored_evaluation(
    store: Store, name: str, fingerprint: str, primary: str = ""
) -> Evaluation | None:
    """A stored version as an :class:`Evaluation` (predictions, profile, history)."""
    from engine.compare import DataProfile, Evaluation
    from engine.train import PROFILE_FILE

    if not store.has(name, fingerprint):
        return None
    stored = store.get(name, fingerprint)
    record = stored.record
    table = _read_parquet(stored.path("predictions.parquet"))
    classes = list(record.classes) or None
    proba = None
    if classes is not None:
        cols = [f"proba_{c}" for c in classes]
        if all(c in table for c in cols):
            import numpy as np

            proba = np.column_stack([table[c] for c in cols])
    profile_path = stored.path(PROFILE_FILE)
    data = None
    if profile_path.is_file():
        try:
            profile = DataProfile.from_dict(json.loads(profile_path.read_text()))
            data = dataclasses.replace(profile, content_hash=record.data_hash)
        except (ValueError, TypeError, KeyError):
            data = None  # a profile this engine can't read: the report shows no data section
    # Earlier versions, oldest first; the comparison appends this one.
    others = [r for r in store.versions(name) if r.fingerprint != fingerprint][: HISTORY - 1]
    history = [(r.version, r.metrics.get(primary)) for r in reversed(others)]
    return Evaluation(
        model=name,
        version=record.version,
        task=record.task,  # type: ignore[arg-type]
        metrics=dict(record.metrics),
        row_ids=table["row_id"],
        y_true=table["y_true"],
        y_pred=table["y_pred"],
        proba=proba,
        classes=classes,
        params=dict(record.params),
        data=data,
        history=history,
    )


def _read_parquet(path: Path) -> dict[str, Any]:
    """Columns as numpy arrays, without pandas (whose import alone costs 0.2 s)."""
    import pyarrow.parquet as pq

    table = pq.ParquetFile(path).read(use_pandas_metadata=False)
    return {name: _numpy(table.column(name).combine_chunks()) for name in table.column_names}


_ARROW_FLOATS = {"halffloat": "float16", "float": "float32", "double": "float64"}


def _numpy(column: Any) -> Any:
    import numpy as np
    import pyarrow as pa

    numeric = pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
    if numeric and column.null_count == 0:
        # Arrow's to_numpy imports pandas; the values buffer already is the array we need.
        name = str(column.type)
        dtype = np.dtype(_ARROW_FLOATS.get(name, name))
        values = np.frombuffer(column.buffers()[1], dtype=dtype)
        return values[column.offset : column.offset + len(column)]
    return np.asarray(column.to_pylist(), dtype=object)


def _paired(
    root: Path,
    store: Store,
    head_rev: str | None,
    head: Evaluation,
    other: Evaluation,
    defs: Any,
    name: str,
) -> tuple[Evaluation, bool, str]:
    """``other`` scored on the head's test rows: as stored when the rows match, else rescored."""
    from engine.significance import NotPaired, aligned

    if not isinstance(aligned(other, head), NotPaired):
        return other, False, ""
    try:
        return (
            _rescore(root, store, head_rev, head, other, defs, name),
            True,
            (
                f"the test rows changed, so {other.version} was scored again on "
                f"{head.version}'s test set"
            ),
        )
    except UserError as exc:
        return other, False, f"not comparable: {exc}"
    except Exception as exc:  # the old model can't score the new data (columns changed...)
        return (
            other,
            False,
            f"not comparable: the base model cannot score the head's test "
            f"rows ({type(exc).__name__}: {exc})",
        )


def _rescore(
    root: Path,
    store: Store,
    head_rev: str | None,
    head: Evaluation,
    other: Evaluation,
    defs: Any,
    name: str,
) -> Evaluation:

    import numpy as np

    from engine import data, evaluate

    spec = defs.models[name].spec
    dataset = defs.datasets[spec.dataset].spec
    fingerprint = store.resolve(name, other.version)
    model = store.load_model(name, fingerprint)
    frame = data.to_frame(data.load_table(dataset, root, head_rev))
    if dataset.id_column:
        frame = frame.set_index(dataset.id_column, drop=False)
    rows = frame.loc[np.asarray(head.row_ids).tolist()]
    inputs = rows.drop(columns=[c for c in (dataset.target, dataset.id_column) if c])
    y_true = np.asarray(rows[dataset.target])
    y_pred = model.predict(inputs)
    proba = (
        model.predict_proba(inputs)
        if spec.task == "classification" and hasattr(model, "predict_proba")
        else None
    )
    classes = list(model.classes_) if proba is not None else None
    metrics = evaluate.compute(list(other.metrics), y_true, np.asarray(y_pred), proba, classes)
    return dataclasses.replace(
        other,
        metrics=metrics,
        row_ids=head.row_ids,
        y_true=y_true,
        y_pred=np.asarray(y_pred),
        proba=proba,
        classes=classes,
    )
