"""Review a change: plan → make sure both sides are trained → compare → report.

This is the I/O half of ``mlops diff`` (and of the pull-request event): it reads the
plan from git, trains what is missing at the base and at the head (cache hits cost
nothing), loads each version's stored predictions, re-scores the base on the head's test
rows when the data changed, reads what each environment branch pins, and hands plain
values to the pure :mod:`engine.review.compare` and :mod:`engine.review.report`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import Problem, UserError
from engine.review.report import MAX_CHARS, size

if TYPE_CHECKING:
    from engine.data.profile import DataProfile
    from engine.definitions.formats import Project
    from engine.definitions.loading import Definitions
    from engine.environments.pins import Pin
    from engine.review.compare import DefinitionChange, Missing, ModelComparison, Reproduced
    from engine.review.evaluation import Evaluation
    from engine.review.gates import Bounds
    from engine.review.report import Marker
    from engine.store import Store
    from engine.training.plan import Plan, Reason
    from engine.training.train import Outcome

HISTORY = 10


@dataclass
class Review:
    """The outcome of a review: the report and the facts behind it."""

    markdown: str
    verdict: str
    comparisons: list[ModelComparison] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    failures: list[Outcome] = field(default_factory=list)
    full_markdown: str = ""
    """The report uncut (``markdown`` may be cut to a comment's limit): the job summary."""

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
                    "reference": c.reference,
                    "verdict": c.verdict,
                    "base_version": c.base_version,
                    "head_version": c.head_version,
                    "gates": [dataclasses.asdict(g) for g in c.gates],
                    "metrics": [dataclasses.asdict(d) for d in c.vs_base.metrics],
                    # pinned versions the store lacked: retrained here, or why they weren't
                    "reproduced": [dataclasses.asdict(r) for r in c.reproduced],
                    "not_in_store": {
                        v.label: {"version": v.version, "reason": v.note}
                        for v in (c.vs_base, *c.environments)
                        if v.missing
                    },
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
    limit: int | None = MAX_CHARS,
) -> Review:
    """Compare the head's versions with the base's and with each environment's pins.

    ``settings`` (the default branch's project file, in privileged jobs) overrides the
    head's for the store, the environments and the estimator allow-list. ``limit`` caps
    the report's length (a GitHub comment's); None never cuts it (a local run).

    A version an environment runs that the store lacks is retrained at its source commit
    and must reproduce (as ``mlops deploy`` does); the report says so and how long it
    took, or, when that fails, why, and the model is not comparable against it.
    """
    from engine import gitrepo
    from engine.training import planning

    if head is not None and not (gitrepo.is_full_sha(base) and gitrepo.is_full_sha(head)):
        # one git process names both commits, for the check below and the plan alike (a
        # name that is no commit stays a name: the plan explains it); an event's SHAs are
        # each checked as they are listed
        found = gitrepo.commits(root, [base, head])
        base, head = found[base] or base, found[head] or head
    if head is not None and not vs and not models:
        same = planning.unchanged(root, base, head)
        if same is not None:  # the same definitions, known clean: nothing to plan or say
            return _quiet(same, marker, summary_url, limit)
    from engine import gitbranches

    plan = planning.compute_plan(root, base, head)
    head_defs, _ = planning.read_definitions(root, plan.head_commit)
    base_defs, _ = planning.read_definitions(root, plan.base_commit)
    store_url, branches = _project_facts(settings, head_defs)
    envs = _environments(branches, vs)
    names = [] if vs else _selected(plan, models, head_defs.models, base_defs.models)
    if not vs and not names:
        envs = {}  # nothing changed: no environment to fetch or read (a no-op PR stays cheap)
    if envs and "origin" in gitbranches.remotes(root):
        # compare with what runs now, not a stale copy
        gitbranches.refresh_branches(root, "origin", list(envs.values()))
    pins = _read_pins(root, envs)
    # With --vs ENV, head is compared with what ENV runs: that version is the reference
    # and the base revision plays no part (it may well be head itself).
    reference = vs[0] if vs else "base"
    if vs:
        names = _differing(plan, models, head_defs.models, {e: pins[e] for e in vs})
    # a change that moves no model trains, stores and compares nothing (nor imports them)
    done = _Trained()
    if names:
        done = _train_and_compare(
            root, plan, names, head_defs, base_defs, store_url, settings, pins, vs, head
        )
    comparisons = done.comparisons
    failures = [o for o in (*done.head, *done.base) if o.status == "failed"]
    problems = sorted({*plan.problems, *(p for m in plan.models for p in m.problems)})

    def rendered(cap: int | None) -> str:
        return _render(
            plan.base_commit,
            comparisons,
            problems,
            _training_problems(head_defs, [o for o in done.head if o.status == "failed"]),
            marker,
            summary_url,
            _head_label(root, plan),
            reference,
            also=tuple(vs[1:]),
            limit=cap,
        )

    # the whole report for the job summary, which the cut one points to
    full = rendered(None)
    markdown = full if limit is None or size(full) <= limit else rendered(limit)
    verdict = "pass"
    if comparisons:
        from engine.review.compare import overall

        verdict = overall(comparisons)
    return Review(markdown, verdict, comparisons, problems, failures, full)


def _quiet(
    commits: tuple[str, str], marker: Marker | None, summary_url: str | None, limit: int | None
) -> Review:
    """The review of two commits that hold the same definitions, known to have no problem.

    The report :func:`review` would write for them (no model moved, nothing to say), made
    without loading a definition.
    """
    base, head = commits
    full = _render(base, [], [], [], marker, summary_url, _label(head), limit=None)
    markdown = (
        full
        if limit is None or size(full) <= limit
        else _render(base, [], [], [], marker, summary_url, _label(head), limit=limit)
    )
    return Review(markdown, "pass", full_markdown=full)


@dataclass(frozen=True)
class _Trained:
    """What the review trained at head and at base, and the comparisons it made."""

    head: Sequence[Outcome] = ()
    base: Sequence[Outcome] = ()
    comparisons: list[ModelComparison] = field(default_factory=list)


def _train_and_compare(
    root: Path,
    plan: Plan,
    names: Sequence[str],
    head_defs: Definitions,
    base_defs: Definitions,
    store_url: str,
    settings: Project | None,
    pins: Mapping[str, Mapping[str, Pin]],
    vs: Sequence[str],
    head: str | None,
) -> _Trained:
    """Train ``names`` at head and at base (cache hits cost nothing), then compare each."""
    from engine.store import Store
    from engine.training import jobs

    head_models = [n for n in names if n in head_defs.models]
    head_run = jobs.train(root, head_models, rev=plan.head_commit, settings=settings)
    base_names = [] if vs else [n for n in names if n in base_defs.models]
    base_run = jobs.train(root, base_names, rev=plan.base_commit, settings=settings)
    store = Store.of_project(store_url, root)
    versions = _Versions(root, store, plan.head_commit, head_defs, settings, pins)
    reference = vs[0] if vs else "base"
    if vs:
        changes = _changes_since_pins(root, head, names, pins[reference])
    else:
        changes = {m.name: _changes(m.reasons) for m in plan.models if m.name in names}
    comparisons = []
    for name in names:
        compared = _compare(
            versions,
            name,
            head_run.outcomes,
            base_run.outcomes,
            pins,
            changes.get(name, ()),
            reference,
        )
        if compared is not None:
            comparisons.append(compared)
    return _Trained(head_run.outcomes, base_run.outcomes, comparisons)


def _read_pins(root: Path, envs: Mapping[str, str]) -> dict[str, dict[str, Pin]]:
    """What each of ``envs`` (name: branch) pins (nothing read, nor its reader imported,
    for none)."""
    if not envs:
        return {}
    from engine import gitrepo
    from engine.environments.refs import pin_refs

    # which branches exist, for every environment in one git call
    refs = gitrepo.commits(root, [r for branch in envs.values() for r in pin_refs(branch)])
    if not any(refs.values()):
        return {env: {} for env in envs}  # nothing promoted yet: no pin format to import
    from engine.environments.pins import read_pins

    return {env: read_pins(root, branch, refs) or {} for env, branch in envs.items()}


def _project_facts(settings: Project | None, defs: Definitions) -> tuple[str, dict[str, str]]:
    """The store's URL and each environment's branch: from ``settings``, else from the
    head's project file as plain data (its spec is built only to retrain a version)."""
    if settings is not None:
        return settings.store.url, {n: e.branch for n, e in settings.environments.items()}
    dump = defs.settings_dump
    return dump["store"]["url"], {n: e["branch"] for n, e in dump["environments"].items()}


def _environments(branches: Mapping[str, str], vs: Sequence[str]) -> dict[str, str]:
    """The environments to compare with (name: branch): those named in ``vs``, else all."""
    unknown = [e for e in vs if e not in branches]
    if unknown:
        raise UserError(
            f"unknown environment(s) {', '.join(unknown)}: mlops/project.yaml "
            f"defines {', '.join(branches) or 'none'}"
        )
    return {e: branches[e] for e in (vs or branches)}


def _selected(
    plan: Plan, models: Sequence[str], head: Mapping[str, Any], base: Mapping[str, Any]
) -> list[str]:
    """The models to review: those asked for, else those the change affects."""
    if models:
        unknown = [m for m in models if m not in head and m not in base]
        if unknown:
            raise UserError(
                f"unknown model(s): {', '.join(unknown)}; the models are: "
                f"{', '.join(sorted({*head, *base})) or 'none'}"
            )
        return list(models)
    return [m.name for m in plan.models if m.status in ("changed", "new", "removed")]


def _differing(
    plan: Plan,
    models: Sequence[str],
    head: Mapping[str, Any],
    pins: Mapping[str, Mapping[str, Pin]],
) -> list[str]:
    """The models to review against environments: those asked for, else every model
    defined at head whose version differs from what one of the environments runs."""
    if models:
        return _selected(plan, models, head, {})
    at_head = {m.name: m.head_fingerprint for m in plan.models if m.head_fingerprint}
    return [
        name
        for name in head
        if name in at_head
        and any(
            pinned[name].fingerprint != at_head[name] for pinned in pins.values() if name in pinned
        )
    ]


def _compare(
    versions: _Versions,
    name: str,
    head_outcomes: Sequence[Outcome],
    base_outcomes: Sequence[Outcome],
    pins: Mapping[str, Mapping[str, Pin]],
    changes: Sequence[DefinitionChange] = (),
    reference: str = "base",
) -> ModelComparison | None:
    """One model's head against its base and each environment; None if neither side exists.

    With ``reference`` an environment, the version it runs takes the base's place.
    """
    from engine.review.compare import Missing, compare_model

    # the definition's facts as plain data (remembered by blob): its spec is not built
    spec = versions.defs.models[name].dump if name in versions.defs.models else None
    primary = spec["primary_metric"] if spec else ""
    head_ev = versions.of_outcome(name, head_outcomes, primary)
    if head_ev is None and spec is not None:
        return None  # the head failed (listed with the failures)
    missing: dict[str, Missing] = {}

    def pinned(env: str) -> Evaluation | None:
        """What ``env`` runs, reproduced when the store lacks it (only to compare a head)."""
        pin = pins[env].get(name)
        if pin is None:
            return None
        if head_ev is None:
            return versions.stored(name, pin.fingerprint, primary)
        found = versions.pinned(name, pin, primary)
        if isinstance(found, Missing):
            missing[env] = found
            return None
        return found

    if reference == "base":
        base_ev = versions.of_outcome(name, base_outcomes, primary)
    else:
        base_ev = pinned(reference)
        pins = {env: p for env, p in pins.items() if env != reference}
    if head_ev is None and base_ev is None:
        return None  # nothing to compare
    base_pair = None
    if head_ev is not None and base_ev is not None:
        base_pair = versions.paired(name, head_ev, base_ev)
        base_ev = base_pair.reference
    environments: dict[str, Evaluation | None] = {}
    heads: dict[str, Evaluation] = {}
    for env in pins:
        env_ev = pinned(env)
        if env_ev is not None and head_ev is not None:
            env_pair = versions.paired(name, head_ev, env_ev)
            env_ev = env_pair.reference
            if env_pair.head is not None:
                heads[env] = env_pair.head
        environments[env] = env_ev
    if base_pair is not None and base_pair.head is not None:
        heads[reference] = base_pair.head
    return compare_model(
        head_ev,
        base_ev,
        metrics=_metrics(spec),
        primary_metric=spec["primary_metric"] if spec else None,
        gates=_gates(spec),
        environments=environments,
        heads=heads,
        rescored=base_pair is not None and base_pair.rescored,
        fair=base_pair is None or base_pair.fair,
        reason=base_pair.reason if base_pair is not None else "",
        changes=changes,
        reference=reference,
        id_column=_id_column(versions.defs, spec),
        missing=missing,
        reproduced=versions.reproduced(name),
    )


def _changes_since_pins(
    root: Path, head: str | None, names: Sequence[str], pinned: Mapping[str, Pin]
) -> dict[str, tuple[DefinitionChange, ...]]:
    """What moved each model's version since the commit its pinned version came from.

    With ``--vs ENV`` the base revision plays no part: the definitions that make head's
    version differ from ENV's are those changed since the pin's source commit. A source
    commit this clone lacks leaves the model without the list (the parameters still show).
    """
    from engine.training.planning import compute_plan

    out: dict[str, tuple[DefinitionChange, ...]] = {}
    plans: dict[str, Plan | None] = {}
    for name in names:
        pin = pinned.get(name)
        if pin is None:
            continue
        if pin.source_commit not in plans:
            try:
                plans[pin.source_commit] = compute_plan(root, pin.source_commit, head)
            except UserError:
                plans[pin.source_commit] = None
        since = plans[pin.source_commit]
        planned = next((m for m in since.models if m.name == name), None) if since else None
        if planned is not None:
            out[name] = _changes(planned.reasons)
    return out


def _id_column(defs: Definitions, spec: Mapping[str, Any] | None) -> str | None:
    dataset = defs.datasets.get(spec["dataset"]) if spec else None
    return dataset.dump["id_column"] if dataset else None


def _changes(reasons: Sequence[Reason]) -> tuple[DefinitionChange, ...]:
    """The plan's reasons as the report shows them: the file, then what moved in it."""
    from engine.review.compare import DefinitionChange

    return tuple(
        DefinitionChange(r.path, dataclasses.replace(r, path="").render()) for r in reasons
    )


def _training_problems(defs: Definitions, failed: Sequence[Outcome]) -> list[Problem]:
    """Failed trainings as problems located at the model's file."""
    return [
        Problem(
            defs.models[o.model].path if o.model in defs.models else "mlops/models",
            0,
            0,
            f"{o.model}: {o.reason}",
            rule="training",
        )
        for o in failed
    ]


def _render(
    base_commit: str | None,
    comparisons: list[ModelComparison],
    problems: list[Problem],
    training_failures: list[Problem],
    marker: Marker | None,
    summary_url: str | None,
    head_label: str,
    reference: str = "base",
    *,
    also: tuple[str, ...] = (),
    limit: int | None = MAX_CHARS,
) -> str:
    from engine.review.report import ReportInput, render

    return render(
        ReportInput(
            comparisons=comparisons,
            marker=marker,
            validation=[p for p in problems if p.rule != "data"],
            data_checks=[p for p in problems if p.rule == "data"],
            training_failures=training_failures,
            base_label=_label(base_commit),
            head_label=head_label,
            reference=reference,
            also=also,
            summary_url=summary_url,
            limit=limit,
        )
    )


def _label(sha: str | None) -> str:
    return sha[:7] if sha else ""


def _head_label(root: Path, plan: Plan) -> str:
    """The head's commit; for the working tree too when it holds that commit unchanged."""
    from engine import gitrepo

    if plan.head_commit:
        return _label(plan.head_commit)
    if gitrepo.is_clean(root):
        return _label(gitrepo.head_commit(root))
    return "working tree"


def _metrics(spec: Mapping[str, Any] | None) -> list[str] | None:
    """The metrics a model's versions record, from its dump."""
    if spec is None:
        return None
    from engine.definitions.references import recorded_metrics

    return recorded_metrics(spec["metrics"], spec["cv"])


def _gates(spec: Mapping[str, Any] | None) -> dict[str, Bounds] | None:
    """A model's gates, from its dump."""
    if spec is None:
        return None
    from engine.review.gates import Bounds

    return {metric: Bounds(**bounds) for metric, bounds in spec["gates"].items()}


# --- stored versions as evaluations -----------------------------------------------------


def on_same_rows(
    root: Path, store: Store, rev: str, model: str, fingerprint: str, other: str
) -> tuple[dict[str, float | None], dict[str, float | None]] | None:
    """``other``'s metrics and ``fingerprint``'s on the same test rows, as a review pairs them.

    ``other`` (what an environment runs) is rescored on ``fingerprint``'s test rows at
    ``rev`` when its own test set differs (the data grew, the split changed), on the rows
    it never trained on, and ``fingerprint``'s metrics are then those on these rows. A
    promotion's ``max_drop`` reads these figures, so it says what the review said; when
    the rows cannot be paired (the old version cannot score the new data), each keeps its
    recorded figures, as in the review. None when either version is not in the store.
    """
    from engine.training import planning

    defs, _ = planning.read_definitions(root, rev)
    versions = _Versions(root, store, rev, defs, None, {})
    head = versions.stored(model, fingerprint)
    reference = versions.stored(model, other)
    if head is None or reference is None:
        return None
    pair = versions.paired(model, head, reference)
    return dict(pair.reference.metrics), dict((pair.head or head).metrics)


@dataclass(frozen=True)
class _Versions:
    """Reads stored versions as evaluations, and rescores them on the head's test rows."""

    root: Path
    store: Store
    head_rev: str | None
    defs: Definitions
    """The head's definitions: the dataset a rescoring reads."""
    settings: Project | None
    """The settings a pinned version is retrained with (the store, the allow-list); None:
    the head's project file (built only when a version is retrained)."""
    live: Mapping[str, Mapping[str, Pin]]
    """What each environment compared with pins: the metrics a retrained version must meet."""
    attempts: dict[tuple[str, str], float | str] = field(default_factory=dict)
    """Pinned versions retrained here: seconds taken, or why it failed, by (model, fingerprint)."""

    def pinned(self, name: str, pin: Pin, primary: str) -> Evaluation | Missing:
        """The version ``pin`` names; when the store lacks it, retrained at its source
        commit as ``mlops deploy`` does (same fingerprint, the pinned metrics reproduced)."""
        from engine.review.compare import Missing

        key = (name, pin.fingerprint)
        if key not in self.attempts and not self.store.has(name, pin.fingerprint):
            self.attempts[key] = self._reproduce(name, pin)
        why = self.attempts.get(key)
        found = None if isinstance(why, str) else self.stored(name, pin.fingerprint, primary)
        if found is None:
            reason = why if isinstance(why, str) else "it is not in the store"
            return Missing(pin.version, reason, dict(pin.metrics))
        return found

    def _reproduce(self, name: str, pin: Pin) -> float | str:
        import time

        from engine.environments.operations import ensure_stored

        started = time.perf_counter()
        try:
            ensure_stored(
                self.root,
                self.store,
                name,
                pin.fingerprint,
                pin.source_commit,
                self.settings or self.defs.settings,
                self.live,
            )
        except UserError as exc:
            return str(exc)
        return time.perf_counter() - started

    def reproduced(self, name: str) -> tuple[Reproduced, ...]:
        """The versions of ``name`` this review retrained, with the environments running them."""
        from engine.review.compare import Reproduced

        out = []
        for (model, fingerprint), seconds in self.attempts.items():
            if model != name or isinstance(seconds, str):
                continue
            running = [e for e, pins in self.live.items() if _pins_fp(pins, name, fingerprint)]
            pin = next(p[name] for e, p in self.live.items() if e in running)
            out.append(Reproduced(tuple(running), pin.version, pin.source_commit, seconds))
        return tuple(out)

    def of_outcome(self, name: str, outcomes: Sequence[Outcome], primary: str) -> Evaluation | None:
        """The evaluation of ``name``'s trained (or stored) version among ``outcomes``."""
        outcome = next((o for o in outcomes if o.model == name), None)
        if outcome is None or outcome.status == "failed":
            return None
        return self.stored(name, outcome.fingerprint, primary)

    def stored(self, name: str, fingerprint: str, primary: str = "") -> Evaluation | None:
        """A stored version as an :class:`Evaluation` (predictions, profile, history)."""
        from engine.review.evaluation import Evaluation
        from engine.training.train import PROFILE_FILE

        store = self.store
        if not store.has(name, fingerprint):
            return None
        stored = store.get(name, fingerprint)
        record = stored.record
        from engine.review.prediction_cache import read_columns

        cache = self.root / ".mlops" / "cache"
        table = read_columns(stored.path("predictions.parquet"), _read_parquet, cache)
        classes = list(record.classes) or None
        proba = None
        if classes is not None:
            cols = [f"proba_{c}" for c in classes]
            if all(c in table for c in cols):
                import numpy as np

                proba = np.column_stack([table[c] for c in cols])
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
            data=_profile(stored.path(PROFILE_FILE), record.data_hash),
            history=history,
            sklearn_version=record.sklearn_version,
        )

    def paired(self, name: str, head: Evaluation, other: Evaluation) -> _Paired:
        """``other`` on the head's test rows: as stored when the rows match, else rescored.

        A rescored version is scored only on the head's test rows it did not train on
        (and the head on the same rows, when that leaves some out); when its training
        rows are unknown, the pairing says so and is not called fair.
        """
        from engine.review.pairing import NotPaired, aligned

        if not isinstance(aligned(other, head), NotPaired):
            return _Paired(other)
        try:
            return self.rescore(name, head, other)
        except UserError as exc:
            return _Paired(other, reason=str(exc))
        except Exception as exc:  # the old model can't score the new data (columns changed...)
            return _Paired(
                other,
                reason=f"{other.version} cannot score {head.version}'s test rows "
                f"({type(exc).__name__}: {exc})",
            )

    def rescore(self, name: str, head: Evaluation, other: Evaluation) -> _Paired:
        """``other``'s stored model, scored on the head's test rows it never trained on."""
        import numpy as np

        from engine.data import tables as data
        from engine.training.train import model_inputs

        spec = self.defs.models[name].spec
        dataset = self.defs.datasets[spec.dataset].spec
        stored = self.store.get(name, self.store.resolve(name, other.version))
        model = self.store.load_model(name, stored.record.fingerprint)
        frame = data.to_frame(data.load_table(dataset, self.root, self.head_rev))
        if dataset.id_column:
            frame = frame.set_index(dataset.id_column, drop=False)
        ids = np.asarray(head.row_ids)
        rows = frame.loc[ids.tolist()]
        seen, unknown = _trained_on(stored, rows, dataset.id_column)
        keep = np.ones(len(rows), dtype=bool) if seen is None else ~seen
        if not keep.any():
            raise UserError(f"{other.version} trained on every one of {head.version}'s test rows")
        rows = rows[keep]
        inputs = rows[model_inputs(dataset, [str(c) for c in rows.columns])]
        y_pred = np.asarray(model.predict(inputs))
        proba = (
            model.predict_proba(inputs)
            if spec.task == "classification" and hasattr(model, "predict_proba")
            else None
        )
        classes = list(model.classes_) if proba is not None else None
        y_true = np.asarray(rows[dataset.target])
        rescored = _scored(other, ids[keep], y_true, y_pred, proba, classes)
        left_out = int((~keep).sum())
        why = f"the test rows changed, so {other.version} was scored again on "
        if unknown:
            why += f"{head.version}'s test set, but {unknown}"
        elif left_out:
            why += (
                f"the {int(keep.sum())} of {head.version}'s {len(keep)} test rows it never "
                f"trained on ({left_out} it trained on are left out)"
            )
        else:
            why += f"{head.version}'s test set, none of which it trained on"
        same_rows = None if keep.all() else _restricted(head, keep)
        return _Paired(rescored, same_rows, rescored=True, reason=why, fair=not unknown)


def _pins_fp(pins: Mapping[str, Pin], name: str, fingerprint: str) -> bool:
    return name in pins and pins[name].fingerprint == fingerprint


@dataclass(frozen=True)
class _Paired:
    """A reference version made comparable with the head, and how."""

    reference: Evaluation
    head: Evaluation | None = None
    """The head on the reference's rows, when these are fewer than the head's test rows."""
    rescored: bool = False
    reason: str = ""
    fair: bool = True
    """False when the reference may have trained on some of the rows it is scored on."""


def _trained_on(stored: Any, rows: Any, id_column: str | None) -> tuple[Any, str]:
    """Which of ``rows`` the stored version trained on, or None and why that is unknown."""
    import numpy as np

    from engine.data.identity import identities, row_key
    from engine.store import ROWS_FILE, load_rows

    record = stored.record
    if record.rows is None or ROWS_FILE not in record.files:
        return None, (
            f"{record.version} was trained before the engine recorded training rows, so "
            "some of these rows may be rows it trained on"
        )
    key = row_key([str(c) for c in rows.columns], id_column)
    if (record.rows.key, tuple(record.rows.columns)) != (key.kind, key.columns):
        what = "its id column changed" if key.kind == "id" else "the columns changed"
        return None, (
            f"{what}, so the rows {record.version} trained on cannot be told apart from "
            "the others: some of these rows may be rows it trained on"
        )
    identity, test = load_rows(stored.path(ROWS_FILE))
    mine = identities(key, {c: rows[c].to_numpy() for c in key.columns}, len(rows))
    return np.isin(mine, identity[~test]), ""


def _scored(
    ev: Evaluation, row_ids: Any, y_true: Any, y_pred: Any, proba: Any, classes: Any
) -> Evaluation:
    """``ev`` with new predictions, its test metrics computed on them."""
    from engine.training import evaluate

    names = [n for n in ev.metrics if not n.startswith("cv_")]
    metrics = evaluate.compute(names, y_true, y_pred, proba, classes)
    return dataclasses.replace(
        ev,
        metrics={**ev.metrics, **metrics},
        row_ids=row_ids,
        y_true=y_true,
        y_pred=y_pred,
        proba=proba,
        classes=classes,
    )


def _restricted(ev: Evaluation, keep: Any) -> Evaluation:
    """``ev`` on the rows of its test set that ``keep`` selects, its metrics recomputed."""
    import numpy as np

    proba = None if ev.proba is None else np.asarray(ev.proba)[keep]
    return _scored(
        ev,
        np.asarray(ev.row_ids)[keep],
        np.asarray(ev.y_true)[keep],
        np.asarray(ev.y_pred)[keep],
        proba,
        list(ev.classes) if ev.classes is not None else None,
    )


def _profile(path: Path, data_hash: str) -> DataProfile | None:
    """The stored data profile; None when absent or unreadable (the report then shows none)."""
    from engine.data.profile import DataProfile

    if not path.is_file():
        return None
    try:
        profile = DataProfile.from_dict(json.loads(path.read_text()))
    except (ValueError, TypeError, KeyError):
        return None  # a profile this engine can't read
    return dataclasses.replace(profile, content_hash=data_hash)


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
