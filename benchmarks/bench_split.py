"""The stable per-row split against scikit-learn's positional ``train_test_split``.

The split hashes each row's identity (its id, or its content) instead of shuffling
positions, so it costs more; this measures how much, on the training benchmark's table
(12,000 rows x 21 columns, hashed by content) and on a million rows with an id column.

Run: ``.venv/bin/python benchmarks/bench_split.py``
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.definitions.formats import Dataset
from engine.training.train import _split


def best(fn, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(0)
    cases = {
        "12,000 rows x 21 columns, by content": (
            pd.DataFrame(rng.normal(size=(12_000, 20)), columns=[f"x{i}" for i in range(20)]),
            None,
        ),
        "1,000,000 rows, by id column": (
            pd.DataFrame({"id": np.arange(1_000_000), "x0": rng.normal(size=1_000_000)}),
            "id",
        ),
    }
    for label, (frame, id_column) in cases.items():
        frame["label"] = rng.integers(0, 3, len(frame))
        dataset = Dataset.model_validate(
            {"name": "b", "source": {"path": "d.csv"}, "target": "label", "id_column": id_column}
        )
        for stratify in (False, True):
            ours = best(lambda f=frame, d=dataset, s=stratify: _split(f, d, stratify=s))
            y = frame["label"] if stratify else None
            theirs = best(
                lambda f=frame, y=y: train_test_split(f, test_size=0.25, random_state=0, stratify=y)
            )
            kind = "stratified" if stratify else "plain"
            print(
                f"{label}, {kind}: stable split {ours * 1000:.1f} ms, "
                f"train_test_split {theirs * 1000:.1f} ms ({ours / theirs:.1f}x)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
