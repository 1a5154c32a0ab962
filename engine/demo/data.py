"""The rows the demo sends: one patient to query the served model, and a drifted batch.

Both come from scikit-learn's breast-cancer data, the dataset ``cancer-rf`` trains on, so
their columns are the model's inputs. The drifted batch inflates the size measurements,
as a new scanner calibrated differently would: the monitor must see the inputs move.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DRIFTED = ("mean radius", "mean perimeter", "mean area", "worst radius", "worst area")
FACTOR = 1.35
BATCH_ROWS = 200


def _frame() -> Any:
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(as_frame=True).frame


def one_row() -> dict[str, float]:
    """The first patient's measurements, keyed by column (no target)."""
    frame = _frame()
    row = frame.drop(columns=["target"]).iloc[0]
    return {str(k): float(v) for k, v in row.items()}


def v1_request(row: dict[str, float]) -> dict[str, Any]:
    """KServe V1: ``instances``, each an object keyed by column."""
    return {"instances": [row]}


def v2_request(row: dict[str, float]) -> dict[str, Any]:
    """Open Inference Protocol (V2): one FP64 tensor of shape [1, columns], in column order."""
    values = list(row.values())
    tensor = {"name": "input-0", "shape": [1, len(values)], "datatype": "FP64", "data": values}
    return {"inputs": [tensor]}


def write_drifted_batch(path: Path) -> Path:
    """A labelled CSV batch of :data:`BATCH_ROWS` rows with the size columns inflated."""
    frame = _frame().sample(n=BATCH_ROWS, random_state=11)
    for column in DRIFTED:
        frame[column] = frame[column] * FACTOR
    frame.to_csv(path, index=False)
    return path


__all__ = ["DRIFTED", "one_row", "v1_request", "v2_request", "write_drifted_batch"]
