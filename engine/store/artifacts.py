"""The files of a version that need a library to write or read: the model and predictions.

The model is saved with skops, never pickle. Loading is where an attacker who can write
to the store would strike: skops builds whatever types a file's ``schema.json`` names,
and calls some of them (a "reduce" node calls its type with arguments), so a file naming
``numpy.save`` writes a file while loading. Hence two rules, both applied before skops
constructs anything, to the very bytes that are then loaded (read once, no second open):

- **exact types**: skops's ``get_untrusted_types`` lists what the file would build
  beyond skops's own defaults, and every name must be in
  :data:`engine.store.trusted_types.TRUSTED_TYPES` (the classes the engine's own
  pipelines need, generated and reviewed; see :mod:`engine.training.artifact_types`),
  or one of its few reviewed functions, or a name the caller adds. Anything else is a
  ``StoreError`` naming the type;
- **pinned bytes** (:func:`load_verified`): the file's sha256 must equal a hash kept
  *away from* the file, in the environment branch's pin (git), since the checksums in
  the version's own ``meta.json`` can be rewritten by whoever rewrites the model.

Predictions are Parquet: ``row_id, y_true, y_pred`` and one ``proba_<class>`` column per
class for classifiers, so that two versions can be compared row by row (paired
bootstrap). skops and pandas are imported inside the functions that use them.
"""

from __future__ import annotations

import contextlib
import hashlib
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from engine.errors import StoreError
from engine.store.skops_import import skops_io
from engine.store.trusted_types import REVIEWED_FUNCTIONS, TRUSTED_TYPES

_skops_io = skops_io  # the name the tests and tools import

COMPACT_SKOPS = ("0.16.",)
"""skops versions whose ``dump`` :func:`save_model` reproduces with compact JSON."""


def save_model(estimator: Any, path: Path) -> None:
    """Save a fitted estimator with skops (never pickle).

    skops writes its ``schema.json`` with ``json.dumps(state, indent=2)``: a third of the
    save's time and 40% of the file (a 200-tree forest: 0.32 s and 4.1 MB; compact, 0.17 s
    and 2.3 MB). For the skops versions in :data:`COMPACT_SKOPS`, this does what
    ``skops.io.dump`` does (``skops.io._persist._save``: the same ``get_state``, the same
    zip members) with compact separators; the JSON *value* is identical, so skops loads it
    as its own (``tests/unit/test_artifacts_compact.py`` checks both). Other versions use
    ``skops.io.dump`` unchanged.
    """
    sio = _skops_io()
    import skops

    if not skops.__version__.startswith(COMPACT_SKOPS):
        sio.dump(estimator, path)
        return
    import json
    from zipfile import ZIP_STORED, ZipFile

    from skops.io._persist import SaveContext, get_state

    with ZipFile(path, "w", compression=ZIP_STORED) as zip_file:
        context = SaveContext(zip_file=zip_file)
        state = get_state(estimator, context)
        context.clear_memo()
        state["protocol"] = context.protocol
        state["_skops_version"] = skops.__version__
        zip_file.writestr("schema.json", json.dumps(state, separators=(",", ":")))


def load_skops(path: Path, label: str, *, allow: Iterable[str] = ()) -> Any:
    """Load a skops file, refusing any type outside the exact trusted list.

    ``allow`` adds exact type names (``"xgboost.core.Booster"``), never prefixes.
    ``label`` names the file in messages (``cancer-rf@abc123``).
    """
    return load_bytes(_read(path, label), f"{label}: {path.name}", allow=allow)


def load_verified(
    path: Path, expected_sha256: str, label: str | None = None, *, allow: Iterable[str] = ()
) -> Any:
    """Load a model file only if its bytes hash to ``expected_sha256``, then by exact types.

    This is the one entry point for code that serves a pinned model: pass the sha256 from
    the environment branch's pin (``Pin.sha256``) or from the deploy manifest, never one
    read from beside the file. A mismatch is a ``StoreError`` naming both hashes.
    """
    where = label or path.name
    return load_bytes(read_verified(path, expected_sha256, where), where, allow=allow)


def read_verified(path: Path, expected_sha256: str, label: str) -> bytes:
    """The bytes of ``path``, read once, after checking they hash to ``expected_sha256``."""
    data = _read(path, label)
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256.lower():
        raise StoreError(
            f"refusing to load {label}: {path.name} has sha256 {actual}, but the pin "
            f"expects {expected_sha256}: it is not the artifact that was promoted. A "
            "retrained file has a new sha256 (skops files are not byte-reproducible): if "
            "the version was retrained (by `mlops deploy` after it went missing, or on "
            "purpose), promote it again to pin the new file (`mlops promote MODEL --to ENV "
            "--rev <the pin's source commit>`); if the store was modified, remove the "
            "version from the store, retrain it with `mlops deploy`, then promote it again"
        )
    return data


def load_bytes(data: bytes, label: str, *, allow: Iterable[str] = ()) -> Any:
    """Build the model in ``data`` (a skops file) if every type it needs is trusted.

    ``get_untrusted_types`` and ``loads`` each parse the file into skops's node tree; for
    the skops versions in :data:`COMPACT_SKOPS` the tree is parsed once, its unsafe set
    checked, then constructed (what ``loads`` does after its audit, which our check
    replaces: the same tree, the same names). Nothing is constructed before the check.
    The example cancer-rf loads in half the CPU time (0.26 s, not 0.5). Other versions
    use the public calls.
    """
    sio = _skops_io()
    import skops

    if skops.__version__.startswith(COMPACT_SKOPS):
        return _load_once(data, label, allow)
    try:
        needed = sio.get_untrusted_types(data=data)
    except Exception as exc:  # a damaged zip or schema: the library's error says which
        raise StoreError(f"{label} is not a readable skops file ({exc})") from exc
    _refuse_untrusted(needed, label, allow)
    try:
        with _version_skew_told_elsewhere():
            return sio.loads(data, trusted=needed)
    except Exception as exc:  # checked above, so this is damage or a skops/sklearn skew
        raise StoreError(f"{label} could not be loaded ({exc})") from exc


@contextlib.contextmanager
def _version_skew_told_elsewhere() -> Iterator[None]:
    """Silence scikit-learn's ``InconsistentVersionWarning`` while a model is built.

    A file written by another scikit-learn (every pin, after the team upgrades it) makes
    scikit-learn warn once per estimator of the pipeline, on stderr, with a link. The
    version's record says which scikit-learn trained it, and :func:`version_skew` turns
    that into one line per model where it is deployed or served.
    """
    from sklearn.exceptions import InconsistentVersionWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InconsistentVersionWarning)
        yield


def version_skew(trained_with: str, loaded_with: str) -> str | None:
    """What to say when a model trained by scikit-learn ``trained_with`` is loaded by
    ``loaded_with`` (``None`` when they are the same, or a record too old to say)."""
    if not trained_with or trained_with == loaded_with:
        return None
    return (
        f"trained with scikit-learn {trained_with}, loaded with {loaded_with}: scikit-learn "
        "does not promise that a model behaves the same across its versions"
    )


def _load_once(data: bytes, label: str, allow: Iterable[str]) -> Any:
    """One parse: ``skops.io._persist.get_untrusted_types`` and ``loads``, sharing the tree."""
    import io
    from zipfile import ZipFile

    from skops.io._audit import get_tree
    from skops.io._persist import read_schema

    try:
        with ZipFile(io.BytesIO(data), "r") as zip_file:
            schema, load_context = read_schema(zip_file)
            tree = get_tree(schema, load_context=load_context, trusted=None)
            needed = sorted(tree.get_unsafe_set())
            _refuse_untrusted(needed, label, allow)
            try:
                with _version_skew_told_elsewhere():
                    return tree.construct()
            except Exception as exc:  # checked, so damage or a skops/sklearn skew
                raise StoreError(f"{label} could not be loaded ({exc})") from exc
    except StoreError:
        raise
    except Exception as exc:  # a damaged zip or schema: the library's error says which
        raise StoreError(f"{label} is not a readable skops file ({exc})") from exc


def _refuse_untrusted(needed: Iterable[str], label: str, allow: Iterable[str]) -> None:
    refused = untrusted(needed, allow)
    if refused:
        raise StoreError(
            f"refusing to load {label}: it would build {', '.join(refused)}, which the "
            "engine's own models do not contain (only the exact types listed in "
            "engine/store/trusted_types.py are built). If nobody should have stored it, "
            "delete the version to retrain; if the engine trained it, the list lacks the "
            "type: regenerate it (python -m engine.training.artifact_types) and review"
        )


def untrusted(type_names: Iterable[str], allow: Iterable[str] = ()) -> list[str]:
    """The names in ``type_names`` that are neither trusted, reviewed, nor in ``allow`` (sorted)."""
    extra = set(allow)
    return sorted(
        {
            name
            for name in type_names
            if name not in TRUSTED_TYPES and name not in REVIEWED_FUNCTIONS and name not in extra
        }
    )


def _read(path: Path, label: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise StoreError(f"{label}: {path.name} could not be read ({exc.strerror})") from exc


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
