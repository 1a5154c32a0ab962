"""Datasets: load them as Arrow tables, check them against their definition, summarize them.

A dataset definition (``mlops/datasets/<name>.yaml``) says where its rows come from: a
loader scikit-learn ships, or a CSV / Parquet file tracked by DVC (``data/x.csv`` in the
working tree, its pointer ``data/x.csv.dvc`` committed in git). This module is the
engine's one door to those rows:

- :func:`load_table` reads them as a ``pyarrow.Table``: from the working tree, or at a git
  revision by the hash its pointer records. The pointer must be the plain kind ``dvc add``
  writes (:mod:`engine.data.pointers`) and the bytes must have its md5
  (:mod:`engine.data.content`): stale files and crafted pointers are refused.
- :func:`check_table` compares a table with the declared schema and checks. It is pure and
  columnar (``pyarrow.compute``, no pandas) and returns :class:`Finding` values that name
  the node of the definition they concern; :func:`check_dataset` loads, checks and turns
  everything into located :class:`~engine.errors.Problem` values.
- :func:`engine.training.fingerprint.data_hash` names the data's content for
  fingerprints, read from the DVC pointer without downloading anything.
- :func:`engine.data.profile.summarize` gives the per-column figures reports show.

pyarrow, DVC and scikit-learn are imported inside the functions that use them, so importing
this module stays cheap. The column checks themselves live in :mod:`engine.data.checks`.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO

from engine.data import content, pointers
from engine.data.checks import Finding, check_table
from engine.definitions.formats import SKLEARN_LOADERS, Dataset
from engine.definitions.yamlfile import Located
from engine.errors import DataError, PointerError, Problem

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from engine.definitions.loading import Entry


# --- loading ----------------------------------------------------------------------------


def definition_path(dataset: Dataset) -> str:
    """The conventional file of a dataset definition, for messages."""
    return f"mlops/datasets/{dataset.name}.yaml"


def load_table(
    dataset: Dataset, root: Path | str, rev: str | None = None, *, definition: str | None = None
) -> pa.Table:
    """Load a dataset's rows, from the working tree (``rev=None``) or at a git revision.

    Either way the bytes read have the md5 the pointer records (:mod:`engine.data.content`).
    Raises :class:`DataError` naming the definition file, the data path and what to do, or
    a :class:`PointerError` located in a pointer that is not plain.
    """
    try:
        return _load(dataset, Path(root), rev)
    except PointerError:
        raise
    except DataError as exc:
        raise DataError(f"{definition or definition_path(dataset)}: {exc}") from None


def _load(dataset: Dataset, root: Path, rev: str | None) -> pa.Table:
    source = dataset.source
    if source.sklearn is not None:
        return _load_sklearn(source.sklearn, dataset.target)
    if source.path is None:  # pragma: no cover - the model validator forbids it
        raise DataError("the source names neither a loader nor a path")
    if rev is None:
        return _load_worktree(dataset, root, source.path)
    return _load_revision(dataset, root, source.path, rev)


def _load_sklearn(loader: str, target: str) -> pa.Table:
    import pyarrow as pa
    from sklearn import datasets

    if loader not in SKLEARN_LOADERS:  # the definition checks it; never getattr blindly
        raise DataError(f"{loader!r} is not one of {', '.join(SKLEARN_LOADERS)}")
    frame = getattr(datasets, loader)(as_frame=True).frame
    if target != "target":
        if target in frame.columns:
            raise DataError(
                f"target {target!r} is a feature column of {loader}: set target: target"
            )
        frame = frame.rename(columns={"target": target})
    return pa.Table.from_pandas(frame, preserve_index=False)


def _load_worktree(dataset: Dataset, root: Path, path: str) -> pa.Table:
    base = root.resolve()
    real = (base / path).resolve()
    # The definition refuses '..' and absolute paths; a symlink can still point anywhere.
    if not real.is_relative_to(base):
        raise DataError(
            f"{path} leads outside the repository through a symlink: data must live inside "
            f"it; replace the link with the file and run `dvc add {path}`"
        )
    pointer = base / f"{path}.dvc"
    if not real.is_file():
        if pointer.is_file():
            raise DataError(
                f"{path} is not in the working tree but its DVC pointer {path}.dvc is: "
                f"run `dvc pull {path}`"
            )
        raise DataError(
            f"{path} does not exist: add the file, run `dvc add {path}` and commit {path}.dvc"
        )
    if not pointer.is_file():
        raise DataError(
            f"{path} is not tracked by DVC ({path}.dvc is missing): run `dvc add {path}` and "
            f"commit {path}.dvc"
        )
    if not pointer.resolve().is_relative_to(base):
        raise DataError(
            f"{path}.dvc leads outside the repository through a symlink: replace the link "
            f"with the pointer `dvc add {path}` writes"
        )
    content.worktree_file(base, real, pointers.parse(pointer.read_bytes(), f"{path}.dvc"))
    return read_data(real, dataset, name=path)


def _load_revision(dataset: Dataset, root: Path, path: str, rev: str) -> pa.Table:
    """The content the pointer at ``rev`` names, read by hash: DVC never sees the revision."""
    from engine import gitrepo
    from engine.errors import GitError

    try:
        sha = gitrepo.resolve(root, rev)
        (raw,) = gitrepo.read_blobs(root, [f"{sha}:{path}.dvc"])
    except GitError as exc:
        raise DataError(f"cannot read {path} at revision {rev}: {exc}") from None
    if raw is None:
        raise DataError(
            f"{path}.dvc does not exist at revision {rev}: track the data with "
            f"`dvc add {path}` and commit {path}.dvc"
        )
    pointer = pointers.parse(raw, f"{path}.dvc")
    local = content.pinned_file(root, pointer, rev)
    return read_data(local, dataset, name=f"{path} at revision {rev}")


def read_data(source: Path | BinaryIO, dataset: Dataset, *, name: str = "") -> pa.Table:
    """Read a CSV or Parquet file (its format from the dataset's path) as the dataset declares."""
    path = dataset.source.path or ""
    if PurePosixPath(path).suffix.lower() == ".parquet":
        return read_parquet(source, dataset, name=name or path)
    return read_csv(source, dataset, name=name or path)


def read_csv(source: Path | BinaryIO, dataset: Dataset, *, name: str = "") -> pa.Table:
    """Read a CSV file, multi-threaded; columns declared ``string`` are never type-inferred."""
    import pyarrow as pa
    from pyarrow import csv

    # Inference would turn a string column of digits (zip codes, ids) into ints; dates stay
    # text so that every row's date can be checked (and located) by the data checks.
    strings = {
        c: pa.string()
        for c, col in dataset.schema_.columns.items()
        if col.type in ("string", "date")
    }
    convert = csv.ConvertOptions(column_types=strings, strings_can_be_null=True)
    read = csv.ReadOptions(use_threads=True)
    try:
        return csv.read_csv(_arrow_source(source), read_options=read, convert_options=convert)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(_unreadable(name or str(source), "CSV", exc, dataset)) from None


def read_parquet(source: Path | BinaryIO, dataset: Dataset, *, name: str = "") -> pa.Table:
    """Read a Parquet file; ``dataset`` only shapes the error message."""
    import pyarrow as pa
    from pyarrow import parquet

    try:
        return parquet.read_table(_arrow_source(source), memory_map=isinstance(source, Path))
    except (pa.ArrowException, OSError) as exc:
        raise DataError(_unreadable(name or str(source), "Parquet", exc, dataset)) from None


def _arrow_source(source: Path | BinaryIO) -> Any:
    return str(source) if isinstance(source, Path) else source


def _unreadable(name: str, kind: str, exc: Exception, dataset: Dataset) -> str:
    reason = _reason(exc)
    path = dataset.source.path or name
    return f"{name} can't be read as {kind} ({reason}): fix the file, then run `dvc add {path}`"


def _reason(exc: Exception) -> str:
    """Arrow's message without the data it quotes: messages reach pull-request comments.

    A CSV parse error ends with the offending row (``Expected 2 columns, got 3: <row>``)
    and a conversion error quotes the value; both are cut out.
    """
    text = " ".join(str(exc).split())
    text = _QUOTED_ROW.sub(r"\1", text)
    text = _QUOTED_VALUE.sub("'...'", text)
    return text if len(text) <= 200 else text[:197] + "..."


_QUOTED_ROW = re.compile(r"(columns, got \d+):.*")
_QUOTED_VALUE = re.compile(r"'[^']*'|\"[^\"]*\"?")


def to_frame(table: pa.Table) -> pd.DataFrame:
    """The table as a pandas DataFrame, for training."""
    return table.to_pandas()


# --- checks -----------------------------------------------------------------------------


def check_dataset(entry: Entry[Dataset], root: Path | str, rev: str | None = None) -> list[Problem]:
    """Load a dataset and check it; every load failure or finding becomes a located problem."""
    dataset = entry.spec
    try:
        table = _load(dataset, Path(root), rev)
    except PointerError as exc:
        return [exc.problem]
    except DataError as exc:
        where = ("source", "path") if dataset.source.path is not None else ("source", "sklearn")
        return [entry.doc.problem(where, str(exc), rule="data")]
    return to_problems(entry.doc, check_table(dataset, table), dataset.source.path)


def to_problems(doc: Located, findings: list[Finding], data: str | None = None) -> list[Problem]:
    """Locate findings in the definition they concern, or, for a finding about one cell of
    a CSV file (``data``: its path in the repository), at that cell's line and column."""
    out = []
    for f in findings:
        if f.cell is not None and data is not None and data.lower().endswith(".csv"):
            row, column = f.cell
            out.append(Problem(data, row + 1, column + 1, f.message, rule="data"))
        else:
            out.append(doc.problem(f.loc, f.message, rule="data"))
    return out


__all__ = [
    "Finding",
    "check_dataset",
    "check_table",
    "definition_path",
    "load_table",
    "read_csv",
    "read_data",
    "read_parquet",
    "to_frame",
    "to_problems",
]
