"""How fast the comparison and the report are: run by hand, prints figures.

    .venv/bin/python benchmarks/bench_report.py

Goals (issue 4): render a report for 50 models in <= 0.2 s; a paired bootstrap of
100,000 test rows x 1,000 resamples in <= 1 s. Each figure is the best of a few runs
(the least disturbed by other processes), with the median beside it.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from engine.data.profile import ColumnProfile, DataProfile
from engine.definitions.formats import Gate
from engine.review.compare import ModelComparison, compare_model
from engine.review.evaluation import Evaluation
from engine.review.pairing import Paired, aligned
from engine.review.report import MAX_CHARS, Marker, ReportInput, render, size
from engine.review.significance import paired_bootstrap

ROWS = 100_000
RESAMPLES = 1_000
METRICS = ["accuracy", "f1", "roc_auc", "log_loss"]


def timed(func: Callable[[], object], runs: int) -> tuple[float, float]:
    """Best and median wall time of ``runs`` calls."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def line(label: str, best: float, median: float, goal: float | None = None) -> None:
    verdict = (
        "" if goal is None else f"  (goal <= {goal:g} s: {'ok' if best <= goal else 'MISSED'})"
    )
    print(f"  {label:<46} best {best:7.3f} s   median {median:7.3f} s{verdict}")


def classifier(
    version: str, y: np.ndarray, skill: float, seed: int, model: str = "m", **extra: Any
) -> Evaluation:
    """A binary classifier's evaluation whose margin grows with ``skill``."""
    from engine.training.evaluate import compute

    rng = np.random.default_rng(seed)
    margin = rng.normal(size=y.size) + skill * (2 * y - 1)
    p1 = 1 / (1 + np.exp(-margin))
    proba = np.column_stack([1 - p1, p1])
    pred = (p1 > 0.5).astype(int)
    scores = compute(METRICS, y, pred, proba, [0, 1])
    return Evaluation(
        model,
        version,
        "classification",
        scores,
        np.arange(y.size),
        y,
        pred,
        proba,
        [0, 1],
        **extra,
    )


def profile(shift: float) -> DataProfile:
    cols = tuple(
        ColumnProfile(f"feature {i}", "double", 0, 10 + shift * i / 30, 2, 0, 20) for i in range(28)
    )
    cols += (ColumnProfile("region", "string", 4, top=(("north", 300), ("south", 265))),)
    return DataProfile(569, 30, f"{int(shift * 1e6):032x}", cols)


def comparisons(n: int) -> list[ModelComparison]:
    y = np.random.default_rng(0).integers(0, 2, 143)
    out = []
    for i in range(n):
        name = f"model-{i:03d}"
        base = classifier(
            f"{i:06x}aaaaaa",
            y,
            1.5,
            2 * i,
            name,
            data=profile(0.0),
            params={"estimator": {"n_estimators": 100, "max_depth": 8}},
        )
        head = classifier(
            f"{i:06x}bbbbbb",
            y,
            1.6,
            2 * i + 1,
            name,
            data=profile(0.5),
            params={"estimator": {"n_estimators": 200, "max_depth": 8}},
            history=[(f"{i:06x}{j:06x}", 0.9 + j / 100) for j in range(9)],
        )
        out.append(
            compare_model(
                head,
                base,
                metrics=METRICS,
                primary_metric="f1",
                gates={"f1": Gate(min=0.8, max_drop=0.02), "roc_auc": Gate(min=0.9)},
                environments={"production": base, "staging": None},
            )
        )
    return out


def main() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            "import engine.review.compare, engine.review.report",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    heavy = [m for m in ("numpy", "scipy", "sklearn", "pandas") if f"| {m}\n" in out.stderr]
    print(
        "importing engine.review.compare and engine.review.report loads: "
        f"{heavy or 'no heavy library'}"
    )

    print(f"\npaired bootstrap, {ROWS:,} rows x {RESAMPLES:,} resamples")
    y = np.random.default_rng(1).integers(0, 2, ROWS)
    base, head = classifier("b" * 12, y, 1.0, 2), classifier("h" * 12, y, 1.1, 3)
    paired = aligned(base, head)
    assert isinstance(paired, Paired)
    for metrics in (["accuracy"], ["accuracy", "f1"], ["log_loss"], ["roc_auc"], METRICS):
        best, median = timed(partial(paired_bootstrap, paired, metrics), 3)
        line(", ".join(metrics), best, median, 1.0)
    t = np.random.default_rng(4).normal(size=ROWS)
    noisy = np.random.default_rng(5)
    regression = aligned(
        Evaluation(
            "r", "b" * 12, "regression", {}, np.arange(ROWS), t, t + noisy.normal(size=ROWS)
        ),
        Evaluation(
            "r", "h" * 12, "regression", {}, np.arange(ROWS), t, t + noisy.normal(size=ROWS)
        ),
    )
    assert isinstance(regression, Paired)
    best, median = timed(lambda: paired_bootstrap(regression, ["rmse", "mae", "r2"]), 3)
    line("rmse, mae, r2", best, median, 1.0)
    best, median = timed(lambda: aligned(base, head), 3)
    line("aligning the 100,000 rows by id", best, median)

    print("\ncomparing 50 models (143 test rows each, 1,000 resamples, two baselines)")
    start = time.perf_counter()
    fifty = comparisons(50)
    print(f"  {'compare_model x 50':<46} {time.perf_counter() - start:7.3f} s")

    print("\nrendering")
    text = render(ReportInput(fifty, Marker("acme/models", 1, "mlops")))
    best, median = timed(lambda: render(ReportInput(fifty, Marker("acme/models", 1, "mlops"))), 7)
    cut = "cut to fit" if "… cut;" in text else "nothing cut"
    line(f"50 models ({size(text):,} chars, {cut})", best, median, 0.2)
    many = fifty * 6
    text = render(ReportInput(many))
    best, median = timed(lambda: render(ReportInput(many)), 5)
    line(f"300 models ({size(text):,} of {MAX_CHARS:,} chars, cut to fit)", best, median)


if __name__ == "__main__":
    main()
