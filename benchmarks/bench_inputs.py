"""The request checks of ``mlops serve`` (:mod:`engine.serving.inputs`, ``tensors``) against
the work they guard, measured in the same run.

On breast cancer's 30 columns, declared as the example project declares them (``float``,
``min: 0``), for one row and for 1,000 rows, V1 rows and a V2 ``[n, 30]`` FP64 tensor:

- the checks (type, missing values, bounds; V2 also datatype and shape), CPU time per call;
- the unchecked transposition a server without checks does (``checks=False``): the floor;
- the example model's own work on the same rows (cancer-rf's random forest, 300 trees,
  ``predict_proba`` on a DataFrame): the reference; goal for one row (what a server
  answers most): the checks cost <= 1% of it. For 1,000 rows the share is printed with
  no goal: the checks are column-wise C loops, but Python still touches every value
  (measured under load: V1 and V2 about 5x the bare transposition, about 11% of the
  forest's work; the value-by-value checks before took about twice as long).

CPU time (``time.process_time``), best of alternating rounds, so other work on the machine
inflates both sides alike. Run: ``.venv/bin/python benchmarks/bench_inputs.py``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROUNDS = 5
GOAL = 0.01
"""One row, what ``mlops serve`` answers most: the checks cost at most 1% of the model."""


def cpu_per_call(call: Callable[[], object], budget: float = 0.2) -> float:
    """CPU seconds per call: repeated until ``budget`` CPU seconds have passed."""
    n = 1
    while True:
        start = time.process_time()
        for _ in range(n):
            call()
        spent = time.process_time() - start
        if spent >= budget:
            return spent / n
        n *= 2


def calls_for(
    rows: list[list[float]], names: list[str], sig: Any, model: Any
) -> dict[str, Callable[[], object]]:
    """The four calls measured on ``rows``."""
    import pandas as pd

    from engine.serving.inputs import from_instances
    from engine.serving.tensors import Tensor, from_tensors

    frame = pd.DataFrame(rows, columns=names)
    body = {"instances": rows}
    tensor = [Tensor("input-0", [len(rows), len(names)], "FP64", rows)]
    return {
        "V1 checks": lambda: from_instances(body, sig),
        "V2 checks": lambda: from_tensors(tensor, sig),
        "unchecked": lambda: {c: [r[i] for r in rows] for i, c in enumerate(names)},
        "model": lambda: model.predict_proba(frame),
    }


def measure(calls: dict[str, Callable[[], object]]) -> dict[str, float]:
    """The best CPU time per call of each, over alternating rounds."""
    best = {name: float("inf") for name in calls}
    for _ in range(ROUNDS):  # each round measures every call once
        for name, call in calls.items():
            best[name] = min(best[name], cpu_per_call(call))
    return best


def main() -> int:
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    from engine.serving.inputs import Field, Signature

    data = load_breast_cancer(as_frame=True)
    names = [str(n) for n in data.data.columns]
    sig = Signature(tuple(Field(n, "float", False, None, 0.0) for n in names))
    model = RandomForestClassifier(n_estimators=300, max_depth=8, random_state=0)
    model.fit(data.data, data.target)
    print(f"{len(names)} columns, float with min 0; cancer-rf's forest as the reference")
    worst = 0.0
    for n in (1, 1000):
        picked = data.data.iloc[[i % len(data.data) for i in range(n)]]
        rows = [[float(v) for v in row] for row in picked.values]
        best = measure(calls_for(rows, names, sig, model))
        print(f"{n} row(s):")
        for name, seconds in best.items():
            print(f"  {name:10s} {seconds * 1e6:12.1f} us CPU per call")
        for name in ("V1 checks", "V2 checks"):
            share = best[name] / best["model"]
            if n == 1:
                worst = max(worst, share)
            goal = f" (goal <= {GOAL:.0%})" if n == 1 else ""
            floor = best[name] / best["unchecked"]
            print(f"  -> {name}: {share:.2%} of the model's work{goal}, {floor:.1f}x the floor")
    return 0 if worst <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
