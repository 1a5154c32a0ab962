"""Compare two evaluated versions of a model: metric diffs, significance, gates.

A reviewer asks of every pull request: did this change make the model better, worse, or
did nothing measurable happen? This module answers for one model at a time, as plain
data that ``engine.review.report`` renders. Nothing here does I/O.

Read it top down. In: an ``Evaluation`` per version (stored metrics, test predictions,
params, a ``DataProfile``). Out: a ``ModelComparison``, built by ``compare_model`` from:

- ``versus``: head against one reference (the base, or what an environment runs), a
  ``Versus`` of ``MetricDiff``s. ``diff_metrics`` is direction-aware
  (``lower_is_better``). When both versions predicted the *same* test rows,
  ``engine.review.significance`` resamples them together, so the 95% interval is of the
  *difference*; an interval that spans zero is "no significant change", never a win or
  a loss. Unpaired, the verdict follows the sign of the delta, and a model whose base
  can't be paired is "not comparable".
- :func:`engine.review.gates.evaluate_gates`: floors, ceilings and ``max_drop`` against
  each baseline; ``model_verdict`` and ``overall`` fold them into pass / fail / not
  comparable.
- ``diff_params``, ``confusion`` and :func:`engine.review.shift.data_shift`: what else a
  reviewer wants to see.

numpy is imported inside the functions that use it; importing this module is cheap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from engine.data.profile import ColumnProfile, DataProfile
from engine.definitions.names import Task, lower_is_better
from engine.review.evaluation import Evaluation
from engine.review.gates import TOLERANCE, GateResult, Metrics, defined, evaluate_gates
from engine.review.pairing import Paired, aligned
from engine.review.shift import ColumnShift, data_shift
from engine.review.significance import Interval, McNemar, mcnemar, paired_bootstrap

if TYPE_CHECKING:
    from engine.review.gates import Gate

Verdict = Literal[
    "better", "worse", "no significant change", "new", "removed", "n/a", "informational"
]
ModelVerdict = Literal["pass", "fail", "not comparable", "removed"]


# --- inputs -------------------------------------------------------------------------------


# --- results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricDiff:
    """One metric, base against head."""

    metric: str
    base: float | None
    head: float | None
    delta: float | None
    delta_pct: float | None
    verdict: Verdict
    interval: Interval | None = None
    lower_is_better: bool = False


@dataclass(frozen=True)
class ParamChange:
    """One parameter that differs between base and head (dotted name for nested ones)."""

    name: str
    status: Literal["added", "removed", "modified"]
    base: Any = None
    head: Any = None


@dataclass(frozen=True)
class DefinitionChange:
    """One thing in the definitions that moved the version: a field of a file, as planned."""

    path: str
    """The file (empty for the toolchain: scikit-learn, training semantics)."""
    what: str
    """The field and its old → new value, e.g. ``transforms.0.columns ["a", "b"] → ["a"]``."""


@dataclass(frozen=True)
class Missing:
    """A version a reference runs that is not in the store and could not be reproduced."""

    version: str
    reason: str
    """Why it could not be read: what retraining it at its source commit said."""
    metrics: Mapping[str, float | None]
    """The figures recorded when it was promoted, on its own test set."""


@dataclass(frozen=True)
class Reproduced:
    """A version an environment runs that was missing from the store, retrained at its
    source commit with its recorded metrics reproduced (what ``mlops deploy`` does)."""

    environments: tuple[str, ...]
    version: str
    source_commit: str
    seconds: float


@dataclass(frozen=True)
class Confusion:
    """A confusion matrix: rows are true labels, columns predicted labels."""

    labels: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Versus:
    """The head version against one reference: the base, or what an environment runs."""

    label: str
    version: str | None
    metrics: tuple[MetricDiff, ...] = ()
    paired_rows: int = 0
    note: str = ""
    """Why the comparison is not paired; empty when it is."""
    mcnemar: McNemar | None = None
    identical: bool = False
    """Head is the reference version itself: nothing to compare, nothing changed."""
    missing: bool = False
    """The reference runs ``version``, but it is not in the store and was not reproduced:
    the figures are those recorded at promotion, and ``note`` says why."""

    @property
    def paired(self) -> bool:
        """Whether both versions were scored on the same test rows (or are one version)."""
        return self.paired_rows > 0 or self.identical


@dataclass(frozen=True)
class ModelComparison:
    """Everything the report shows about one model."""

    model: str
    task: Task
    status: Literal["new", "removed", "changed", "unchanged"]
    base_version: str | None
    head_version: str | None
    primary_metric: str | None
    vs_base: Versus
    verdict: ModelVerdict
    gates: tuple[GateResult, ...] = ()
    environments: tuple[Versus, ...] = ()
    params: tuple[ParamChange, ...] = ()
    confusion: Confusion | None = None
    base_confusion: Confusion | None = None
    base_data: DataProfile | None = None
    head_data: DataProfile | None = None
    shift: tuple[ColumnShift, ...] = ()
    history: tuple[tuple[str, float | None], ...] = ()
    rescored: bool = False
    """The base version was scored again on head's test set (the data changed)."""
    fair: bool = True
    """False when the rescored base may have trained on some of the rows it is scored on."""
    reason: str = ""
    """How the reference was made comparable with head when their test rows differ (which
    rows it was scored on again), or why it could not be."""
    changes: tuple[DefinitionChange, ...] = ()
    """What in the definitions changed the version (the plan's reasons)."""
    reference: str = "base"
    """What head is compared with: "base", or the environment whose version stands in for it."""
    reproduced: tuple[Reproduced, ...] = ()
    """Versions the environments run that this review had to retrain first."""
    trained_with: tuple[str, str] | None = None
    """The scikit-learn versions that trained the reference's and head's versions, when both
    are known and differ: why two versions of an unchanged definition differ."""


# --- metric diffs -------------------------------------------------------------------------


def diff_metrics(
    base: Metrics | None,
    head: Metrics | None,
    metrics: Sequence[str] | None = None,
    *,
    intervals: Mapping[str, Interval] | None = None,
) -> tuple[MetricDiff, ...]:
    """Per metric: base, head, delta, delta %, and a direction-aware verdict.

    With an interval for a metric, the verdict follows it (spanning zero: no significant
    change); without one it follows the sign of the delta.
    """
    names = list(metrics) if metrics is not None else _union(base, head)
    intervals = intervals or {}
    return tuple(_diff(name, base, head, intervals.get(name)) for name in names)


def _union(*sides: Metrics | None) -> list[str]:
    names: dict[str, None] = {}
    for side in sides:
        names.update(dict.fromkeys(side or {}))
    return list(names)


def _diff(name: str, base: Metrics | None, head: Metrics | None, ci: Interval | None) -> MetricDiff:
    lower = lower_is_better(name)
    b = base.get(name) if base else None
    h = head.get(name) if head else None
    delta = h - b if defined(b) and defined(h) else None  # type: ignore[operator]
    pct = delta / abs(b) * 100 if delta is not None and b else None
    verdict: Verdict
    if base is None or name not in base:
        verdict = "new" if head is not None and name in head else "n/a"
    elif head is None or name not in head:
        verdict = "removed"
    elif delta is None:
        verdict = "n/a"
    elif ci is None and (name.startswith("cv_") or name.endswith("_std")):
        # cross-validation figures come without a paired interval: a difference in them is
        # shown, but calling it better or worse would be a verdict on noise
        verdict = "informational"
    else:
        verdict = _direction(delta, ci, lower, scale=max(1.0, abs(b or 0.0)))
    return MetricDiff(name, b, h, delta, pct, verdict, ci, lower)


def _direction(delta: float, ci: Interval | None, lower: bool, scale: float) -> Verdict:
    if ci is not None:
        if ci.spans_zero:
            return "no significant change"
        up = ci.low > 0
    elif abs(delta) <= TOLERANCE * scale:
        return "no significant change"
    else:
        up = delta > 0
    return "better" if up != lower else "worse"


# --- gates --------------------------------------------------------------------------------


def model_verdict(gates: Sequence[GateResult], vs_base: Versus | None) -> ModelVerdict:
    """Fail on any failed gate; not comparable on an unchecked gate or unpaired base."""
    if any(g.status == "fail" for g in gates):
        return "fail"
    if any(g.status == "not comparable" for g in gates):
        return "not comparable"
    if vs_base is not None and vs_base.version is not None and not vs_base.paired:
        return "not comparable"
    return "pass"


def overall(comparisons: Sequence[ModelComparison]) -> Literal["pass", "fail", "not comparable"]:
    """The verdict of a whole change: the worst of its models' verdicts."""
    verdicts = {c.verdict for c in comparisons}
    if "fail" in verdicts:
        return "fail"
    return "not comparable" if "not comparable" in verdicts else "pass"


# --- params, confusion, data --------------------------------------------------------------


def diff_params(base: Mapping[str, Any], head: Mapping[str, Any]) -> tuple[ParamChange, ...]:
    """Parameters added, removed or modified, nested keys dotted (like ``dvc params diff``)."""
    old, new = _flatten(base), _flatten(head)
    out = []
    for name in sorted(old.keys() | new.keys()):
        if name not in old:
            out.append(ParamChange(name, "added", head=new[name]))
        elif name not in new:
            out.append(ParamChange(name, "removed", base=old[name]))
        elif old[name] != new[name] or type(old[name]) is not type(new[name]):
            out.append(ParamChange(name, "modified", old[name], new[name]))
    return tuple(out)


def _flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def confusion(evaluation: Evaluation) -> Confusion | None:
    """The confusion matrix of a classifier's test predictions, or None."""
    import numpy as np

    y, p = np.asarray(evaluation.y_true), np.asarray(evaluation.y_pred)
    if evaluation.task != "classification" or y.size == 0 or y.shape != p.shape:
        return None
    uniq, inverse = np.unique(np.concatenate([y, p]), return_inverse=True)
    names = [str(v) for v in uniq]
    # the model's class order first (sklearn's sorted classes), then any stray label
    labels = [str(c) for c in evaluation.classes or []]
    labels += [s for s in names if s not in labels]
    position = {s: i for i, s in enumerate(labels)}
    codes = np.asarray([position[s] for s in names])[inverse.ravel()]
    k = len(labels)
    counts = np.bincount(codes[: y.size] * k + codes[y.size :], minlength=k * k).reshape(k, k)
    return Confusion(tuple(labels), tuple(tuple(int(c) for c in row) for row in counts))


# --- one model ----------------------------------------------------------------------------


def versus(
    label: str,
    ref: Evaluation | None,
    head: Evaluation | None,
    metrics: Sequence[str] | None = None,
    *,
    resamples: int = 1000,
    seed: int = 0,
    missing: Missing | None = None,
) -> Versus:
    """The head version against one reference version, paired when the rows match.

    ``missing`` (with ``ref`` None): the reference runs a version that could not be read;
    its recorded figures are shown beside head's, without a verdict.
    """
    ref_m, head_m = (ref.metrics if ref else None), (head.metrics if head else None)
    names = list(metrics) if metrics is not None else _union(ref_m, head_m)
    if ref is None and missing is not None:
        recorded = diff_metrics(missing.metrics, head_m, names)
        # figures from another test set, unpaired: shown, but no verdict on them
        shown = tuple(
            replace(d, verdict="n/a" if d.base is None else "informational") for d in recorded
        )
        return Versus(label, missing.version, shown, 0, missing.reason, missing=True)
    if ref is None or head is None:
        note = f"no {label} version" if ref is None else "no head version"
        return Versus(
            label, ref.version if ref else None, diff_metrics(ref_m, head_m, names), 0, note
        )
    if ref.version == head.version:
        # the same version (an environment already runs head): nothing to resample
        return Versus(label, ref.version, diff_metrics(ref_m, head_m, names), identical=True)
    pairing = aligned(ref, head)
    if not isinstance(pairing, Paired):
        return Versus(label, ref.version, diff_metrics(ref_m, head_m, names), 0, pairing.reason)
    both = [n for n in names if defined(ref.metrics.get(n)) and defined(head.metrics.get(n))]
    intervals = paired_bootstrap(pairing, both, resamples=resamples, seed=seed)
    test = _mcnemar_of(pairing) if head.task == "classification" and "accuracy" in both else None
    diffs = diff_metrics(ref_m, head_m, names, intervals=intervals)
    return Versus(label, ref.version, diffs, pairing.rows, "", test)


def _mcnemar_of(paired: Paired) -> McNemar:
    base_right = paired.base_pred == paired.y_true
    head_right = paired.head_pred == paired.y_true
    return mcnemar(int((base_right & ~head_right).sum()), int((head_right & ~base_right).sum()))


def compare_model(
    head: Evaluation | None,
    base: Evaluation | None,
    *,
    metrics: Sequence[str] | None = None,
    primary_metric: str | None = None,
    gates: Mapping[str, Gate] | None = None,
    environments: Mapping[str, Evaluation | None] | None = None,
    heads: Mapping[str, Evaluation] | None = None,
    rescored: bool = False,
    fair: bool = True,
    reason: str = "",
    changes: Sequence[DefinitionChange] = (),
    reference: str = "base",
    id_column: str | None = None,
    missing: Mapping[str, Missing] | None = None,
    reproduced: Sequence[Reproduced] = (),
    resamples: int = 1000,
    seed: int = 0,
) -> ModelComparison:
    """Compare head with base (and each environment's version) for one model.

    ``metrics`` are the definition's metrics; ones found on only one side are added.
    Pass ``rescored=True`` when ``base`` was scored again on head's test set, and
    ``fair=False`` when it may have trained on some of those rows. ``heads`` holds, by
    reference ("base" or an environment), the head scored on fewer rows: those the
    reference was scored on because it never trained on them. Its Δ, intervals and
    ``max_drop`` gate then compare like with like.

    ``id_column`` (the dataset's) gets no data-shift row. ``reference`` names what
    ``base`` is: the base revision's version ("base"), or the version an environment
    runs (``mlops diff --vs ENV``), which then stands in for it.

    ``missing`` holds, by reference, a version it runs that could not be read (``base``
    or the environment's evaluation is then None): it is not comparable, never "new" or
    "nothing deployed". ``reproduced`` lists the versions retrained to be compared.
    """
    some = head or base
    if some is None:
        raise ValueError("compare_model needs a head or a base evaluation")
    environments = environments or {}
    missing = missing or {}
    found = _union(base.metrics if base else None, head.metrics if head else None)
    names = list(dict.fromkeys([*(metrics or []), *found]))
    primary = primary_metric or (names[0] if names else None)
    heads = heads or {}

    def against(name: str, ev: Evaluation | None) -> Versus:
        return versus(
            name, ev, heads.get(name, head), names,
            resamples=resamples, seed=seed, missing=missing.get(name),
        )  # fmt: skip

    vs_base = against(reference, base)
    envs = tuple(against(env, ev) for env, ev in environments.items())
    results: tuple[GateResult, ...] = ()
    verdict: ModelVerdict = "removed"
    if head is not None:
        baselines = {reference: base.metrics if base else None}
        baselines |= {env: ev.metrics if ev else None for env, ev in environments.items()}
        paired_heads = {label: ev.metrics for label, ev in heads.items()}
        unavailable = {label: _unread(label, m) for label, m in missing.items()}
        results = evaluate_gates(gates or {}, head.metrics, baselines, paired_heads, unavailable)
        verdict = model_verdict(results, vs_base)
    status = _status(base, head)
    if status == "new" and reference in missing:
        status = "changed"  # a version runs there; it only could not be read
    return ModelComparison(
        model=some.model,
        task=some.task,
        status=status,
        base_version=base.version if base else vs_base.version,
        head_version=head.version if head else None,
        primary_metric=primary,
        vs_base=vs_base,
        verdict=verdict,
        gates=results,
        environments=envs,
        # a reference that could not be read has unknown params, not none
        params=()
        if reference in missing
        else diff_params(base.params if base else {}, head.params if head else {}),
        # on the rows the table's figures come from, so its counts and Δs agree with them
        confusion=confusion(heads.get(reference, head)) if head else None,
        base_confusion=confusion(base) if base else None,
        base_data=base.data if base else None,
        head_data=head.data if head else None,
        shift=(
            data_shift(base.data, head.data, skip=[id_column] if id_column else [])
            if base and head and base.data and head.data
            else ()
        ),
        history=_history(head, primary),
        rescored=rescored,
        fair=fair,
        reason=reason,
        changes=tuple(changes),
        reference=reference,
        reproduced=tuple(reproduced),
        trained_with=_trained_with(base, head),
    )


def _trained_with(base: Evaluation | None, head: Evaluation | None) -> tuple[str, str] | None:
    if base is None or head is None or not base.sklearn_version or not head.sklearn_version:
        return None
    if base.sklearn_version == head.sklearn_version:
        return None
    return base.sklearn_version, head.sklearn_version


def _unread(label: str, missing: Missing) -> str:
    return f"{label} runs {missing.version}, which is not in the store"


def _status(
    base: Evaluation | None, head: Evaluation | None
) -> Literal["new", "removed", "changed", "unchanged"]:
    if base is None:
        return "new"
    if head is None:
        return "removed"
    return "unchanged" if base.version == head.version else "changed"


def _history(head: Evaluation | None, primary: str | None) -> tuple[tuple[str, float | None], ...]:
    if head is None:
        return ()
    points = [(v, x) for v, x in head.history]
    if primary is not None and (not points or points[-1][0] != head.version):
        points.append((head.version, head.metrics.get(primary)))
    return tuple(points)


__all__ = [
    "ColumnProfile",
    "ColumnShift",
    "Confusion",
    "DataProfile",
    "DefinitionChange",
    "Evaluation",
    "GateResult",
    "Interval",
    "McNemar",
    "MetricDiff",
    "Missing",
    "ModelComparison",
    "Paired",
    "ParamChange",
    "Reproduced",
    "Versus",
    "aligned",
    "compare_model",
    "confusion",
    "data_shift",
    "diff_metrics",
    "diff_params",
    "mcnemar",
    "model_verdict",
    "overall",
    "paired_bootstrap",
    "versus",
]
