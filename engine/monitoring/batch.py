"""The current data as a table: a batch file, or a dataset at a git revision.

A batch's target column, when it has one, is its labels; the pinned version predicts the
batch (the artifact the environment pinned, byte for byte) for prediction drift and live
performance.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import UserError
from engine.monitoring.live import Live

if TYPE_CHECKING:
    import pyarrow as pa

    from engine.definitions.formats import Dataset
    from engine.environments.pins import Pin


def dataset_at(root: Path, spec: tuple[str, str]) -> pa.Table:
    """Dataset ``NAME`` as it is at git revision ``REV``: its definition there, and the bytes
    its DVC pointer there names, fetched by hash and verified (never the working file)."""
    from engine.data.tables import load_table
    from engine.errors import DataError, GitError
    from engine.training.planning import read_definitions

    name, rev = spec
    try:
        defs, _ = read_definitions(root, rev)
    except GitError as exc:
        raise UserError(f"--current-dataset {name}@{rev}: {exc}") from None
    if name not in defs.datasets:
        known = ", ".join(sorted(defs.datasets)) or "none"
        raise UserError(
            f"--current-dataset {name}@{rev}: no dataset {name!r} at {rev}; there: {known}"
        )
    try:
        return load_table(defs.datasets[name].spec, root, rev)
    except DataError as exc:
        raise UserError(f"--current-dataset {name}@{rev}: {exc}") from None


def read_batch(path: Path, dataset: Dataset) -> pa.Table:
    """``--current FILE``: CSV (read as the dataset's definition says) or Parquet."""
    import pyarrow as pa

    from engine.data.tables import read_csv

    if not path.is_file():
        raise UserError(f"--current {path}: no such file")
    if path.suffix.lower() == ".parquet":
        try:
            return read_parquet(path)
        except (pa.ArrowException, OSError) as exc:
            raise UserError(
                f"--current {path} can't be read as Parquet ({str(exc)[:200]})"
            ) from None
    if path.suffix.lower() == ".csv":
        return read_csv(path, dataset, name=str(path))
    raise UserError(f"--current {path}: give a .csv or .parquet file")


def read_parquet(path: Path) -> pa.Table:
    """Read Parquet without pre-buffering: Arrow's IO threads that pre-buffering starts can
    abort the process at exit ("terminate called without an active exception",
    apache/arrow#34314); seen once in this command's tests."""
    from pyarrow import parquet

    return parquet.read_table(path, pre_buffer=False)


def from_batch(
    store: Any, pin: Pin, table: pa.Table, dataset: Dataset, features: list[str]
) -> Live:
    """The batch's rows, its labels (the target column) and the version's predictions."""
    live = Live(table)
    if dataset.target in table.column_names:
        live.labels = table.column(dataset.target).to_pylist()
        live.times = [None] * table.num_rows
    missing = [f for f in features if f not in table.column_names]
    if missing:
        live.notes.append(
            "no prediction drift or live performance: the batch lacks inputs the version "
            f"needs ({', '.join(missing)})"
        )
    elif table.num_rows:
        _predict(store, pin, live, features)
    return live


def _predict(store: Any, pin: Pin, live: Live, features: list[str]) -> None:
    """Run the pinned version on the batch; a batch it cannot take gets no predictions."""
    import numpy as np

    try:
        if pin.sha256:  # the artifact the environment pinned, byte for byte
            model = store.load_pinned(pin.model, pin.fingerprint, pin.sha256)
        else:  # a pin of an older engine: the store's own checksum and the type list
            model = store.load_model(pin.model, pin.fingerprint)
        frame = live.table.select(features).to_pandas()
        live.predictions = list(model.predict(frame))
        if hasattr(model, "predict_proba"):
            live.confidence = np.max(model.predict_proba(frame), axis=1).tolist()
    except UserError:
        raise
    except Exception as exc:  # the data, not the engine: say so in the report
        live.predictions, live.confidence = [], []
        reason = f"{type(exc).__name__}: {str(exc)[:200]}"
        live.notes.append(f"the version could not predict this batch ({reason})")
