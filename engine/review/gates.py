"""Gates: the bounds a model definition sets on its metrics, checked against a version.

``evaluate_gates`` checks floors (``min``), ceilings (``max``) and ``max_drop`` against
each baseline (the base version, what an environment runs). A missing or NaN metric
makes a bound "not comparable", never a pass. The review shows the results; a promotion
recomputes them in the privileged job. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from engine.definitions.names import lower_is_better

GateStatus = Literal["pass", "fail", "not comparable", "skipped"]
Metrics = Mapping[str, "float | None"]

TOLERANCE = 1e-9  # float noise: 0.95 - 0.94 must not exceed a max_drop of 0.01


class Gate(Protocol):
    """The bounds of one gate: a :class:`engine.definitions.formats.Gate`, or
    :class:`Bounds` made from a model definition's dump."""

    @property
    def min(self) -> float | None: ...

    @property
    def max(self) -> float | None: ...

    @property
    def max_drop(self) -> float | str | None: ...


class Bounds:
    """A gate's bounds as plain values (those of a validated definition's dump)."""

    __slots__ = ("max", "max_drop", "min")

    def __init__(
        self,
        min: float | None = None,
        max: float | None = None,
        max_drop: float | str | None = None,
    ) -> None:
        self.min, self.max, self.max_drop = min, max, max_drop


@dataclass(frozen=True)
class GateResult:
    """One bound of one gate, checked against the head version (and one baseline)."""

    metric: str
    check: Literal["min", "max", "max_drop"]
    status: GateStatus
    limit: str
    """The bound as written: ``≥ 0.9``, ``≤ 0.3``, ``drop ≤ 2%``."""
    value: float | None = None
    against: str | None = None
    reference: float | None = None
    threshold: float | None = None
    """The bound on the head value after applying ``max_drop`` to the reference."""
    message: str = ""


def defined(value: float | None) -> bool:
    """Whether a metric value is a number (not missing, not NaN)."""
    return value is not None and not math.isnan(value)


def evaluate_gates(
    gates: Mapping[str, Gate],
    head: Metrics,
    baselines: Mapping[str, Metrics | None],
    paired_heads: Mapping[str, Metrics] | None = None,
    unavailable: Mapping[str, str] | None = None,
) -> tuple[GateResult, ...]:
    """Check every gate bound on the head metrics; ``max_drop`` against each baseline.

    A baseline that is ``None`` (no base version, nothing deployed) or lacks the metric
    skips ``max_drop``; a head value that is missing or NaN makes the bound not comparable.
    ``paired_heads`` are the head's metrics on a baseline's own rows, when these differ
    from the head's test set; ``max_drop`` against that baseline reads them.
    ``unavailable`` names baselines that run a version the review could not read (not in
    the store, not reproduced), with why: ``max_drop`` against them is not comparable,
    never skipped as if nothing ran there.
    """
    out: list[GateResult] = []
    for metric, gate in gates.items():
        value = head.get(metric)
        for check, bound in (("min", gate.min), ("max", gate.max)):
            if bound is not None:
                out.append(_bound(metric, check, bound, value))  # type: ignore[arg-type]
        if gate.max_drop is not None:
            for label, ref in baselines.items():
                mine = (paired_heads or {}).get(label, head).get(metric)
                result = _drop(metric, gate.max_drop, mine, label, ref)
                if ref is None and label in (unavailable or {}):
                    why = (unavailable or {})[label]
                    result = replace(result, status="not comparable", message=why)
                out.append(result)
    return tuple(out)


def _bound(
    metric: str, check: Literal["min", "max"], bound: float, value: float | None
) -> GateResult:
    limit = f"{'≥' if check == 'min' else '≤'} {bound:g}"
    if not defined(value):
        message = _undefined_on_head(metric, value)
        return GateResult(
            metric, check, "not comparable", limit, value, threshold=bound, message=message
        )
    assert value is not None
    slack = TOLERANCE * max(1.0, abs(bound))
    ok = value >= bound - slack if check == "min" else value <= bound + slack
    return GateResult(metric, check, "pass" if ok else "fail", limit, value, threshold=bound)


def _drop(
    metric: str, max_drop: float | str, value: float | None, label: str, ref: Metrics | None
) -> GateResult:
    limit = f"drop ≤ {max_drop if isinstance(max_drop, str) else f'{max_drop:g}'}"
    base = GateResult(metric, "max_drop", "skipped", limit, value, against=label)
    reference = ref.get(metric) if ref is not None else None
    if ref is None:
        return replace(base, message=f"no {label} version to compare with")
    if not defined(reference):
        return replace(base, reference=reference, message=f"{metric} is undefined on {label}")
    if not defined(value):
        return replace(
            base,
            status="not comparable",
            reference=reference,
            message=_undefined_on_head(metric, value),
        )
    assert reference is not None and value is not None
    if isinstance(max_drop, str):
        allowed = abs(reference) * float(max_drop.rstrip("%")) / 100
    else:
        allowed = float(max_drop)
    lower = lower_is_better(metric)
    threshold = reference + allowed if lower else reference - allowed
    slack = TOLERANCE * max(1.0, abs(reference))
    ok = value <= threshold + slack if lower else value >= threshold - slack
    return replace(base, status="pass" if ok else "fail", reference=reference, threshold=threshold)


def _undefined_on_head(metric: str, value: float | None) -> str:
    return f"{metric} is {'missing' if value is None else 'NaN'} on head"


__all__ = [
    "TOLERANCE",
    "Bounds",
    "Gate",
    "GateResult",
    "GateStatus",
    "Metrics",
    "defined",
    "evaluate_gates",
]
