"""The files of a version that need a library to write or read: the model and predictions.

The model is saved with skops, never pickle. Loading is where an attacker who can write
to the store would strike, so ``load_skops`` first lists the types the file would build
(``skops.io.get_untrusted_types`` reads the schema without constructing anything) and
refuses the file unless every one lies under ``TRUSTED_PREFIXES`` (scikit-learn, NumPy,
SciPy) or a prefix the project allows, and outside the few corners of those packages
that compile, run or unpickle code (``_DENIED_PREFIXES``).

Predictions are Parquet: ``row_id, y_true, y_pred`` and one ``proba_<class>`` column per
class for classifiers, so that two versions can be compared row by row (paired
bootstrap). skops and pandas are imported inside the functions that use them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from engine.errors import StoreError

TRUSTED_PREFIXES = ("sklearn", "numpy", "scipy")
"""Top-level packages whose types a stored model may contain."""
_DENIED_PREFIXES = (
    # Inside the trusted packages, the parts that compile, run or unpickle things.
    "numpy.f2py",
    "numpy.distutils",
    "numpy.ctypeslib",
    "numpy.testing",
    "numpy.load",
    "numpy.lib.npyio",
    "numpy.lib._npyio_impl",
    "sklearn.utils._testing",
    "sklearn.externals",
)


def save_model(estimator: Any, path: Path) -> None:
    """Save a fitted estimator with skops (never pickle)."""
    sio = _skops_io()

    sio.dump(estimator, path)


def load_skops(path: Path, label: str, *, allow: Iterable[str] = ()) -> Any:
    """Load a skops file, refusing any type outside the trusted prefixes.

    ``allow`` adds module prefixes the project trusts (``"xgboost"`` trusts every type
    under ``xgboost.``). ``label`` names the file in messages (``cancer-rf@abc123``).
    """
    sio = _skops_io()

    try:
        needed = sio.get_untrusted_types(file=path)
    except Exception as exc:  # a damaged zip or schema: the library's error says which
        raise StoreError(f"{label}: {path.name} is not a readable skops file ({exc})") from exc
    prefixes = (*TRUSTED_PREFIXES, *allow)
    refused = sorted(t for t in needed if not is_trusted_type(t, prefixes))
    if refused:
        raise StoreError(
            f"refusing to load {label}: untrusted types {refused}; only types under "
            f"{', '.join(prefixes)} are loaded. If nobody should have stored these, "
            "delete the version to retrain"
        )
    try:
        return sio.load(path, trusted=needed)
    except Exception as exc:  # checked above, so this is damage or a skops/sklearn skew
        raise StoreError(f"{label}: {path.name} could not be loaded ({exc})") from exc


def _skops_io() -> Any:
    """``skops.io``, imported without scanning every scikit-learn estimator.

    At import, skops builds its *default* trusted list by calling
    ``sklearn.utils.all_estimators()``, which imports all of scikit-learn (0.4 s, a fifth
    of a small training run). We never use that default: loading passes an explicit list
    checked against our own prefixes. So the scan is skipped during the import only.
    """
    import sys

    if "skops.io" in sys.modules:
        return sys.modules["skops.io"]
    import sklearn.utils

    real = sklearn.utils.all_estimators
    sklearn.utils.all_estimators = lambda *args, **kwargs: []
    try:
        import skops.io as sio
    finally:
        sklearn.utils.all_estimators = real
    return sio


def is_trusted_type(type_name: str, prefixes: Iterable[str] = TRUSTED_PREFIXES) -> bool:
    """Whether skops may build ``type_name``: under a prefix, outside the denied corners."""

    def under(prefix: str) -> bool:
        return type_name == prefix or type_name.startswith(prefix + ".")

    return any(under(p) for p in prefixes) and not any(under(p) for p in _DENIED_PREFIXES)


def save_predictions(
    path: Path,
    row_ids: Iterable[Any],
    y_true: Iterable[Any],
    y_pred: Iterable[Any],
    proba: Any = None,
    classes: Iterable[Any] = (),
) -> None:
    """Write test-set predictions as Parquet: row_id, y_true, y_pred, proba_<class>..."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"row_id": list(row_ids), "y_true": list(y_true), "y_pred": list(y_pred)})
    if proba is not None:
        labels = list(classes)
        matrix = np.asarray(proba, dtype=float)
        if matrix.shape != (len(frame), len(labels)):
            raise ValueError(
                f"proba has shape {matrix.shape}, expected ({len(frame)}, {len(labels)})"
            )
        for i, label in enumerate(labels):
            frame[f"proba_{label}"] = matrix[:, i]
    frame.to_parquet(path, index=False)


def save_rows(path: Path, identity: Any, test_positions: Any) -> None:
    """Write every row's identity and side as Parquet: ``row`` (uint64), ``test`` (bool).

    The lineage of a version's split: which rows it trained on, so that a comparison
    never scores it on one of them (:mod:`engine.training.split`).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = np.asarray(identity, dtype=np.uint64)
    test = np.zeros(len(rows), dtype=bool)
    test[np.asarray(test_positions, dtype=np.intp)] = True
    pq.write_table(pa.table({"row": rows, "test": test}), path)


def load_rows(path: Path) -> tuple[Any, Any]:
    """The identities and sides written by :func:`save_rows`, as numpy arrays."""
    import numpy as np
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    rows = np.asarray(table.column("row").to_numpy(), dtype=np.uint64)
    test = np.asarray(table.column("test").to_pylist(), dtype=bool)
    return rows, test
