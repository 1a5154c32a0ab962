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
        return _load(dataset, Path(root), rev)[0]
    except PointerError:
        raise
    except DataError as exc:
        raise DataError(f"{definition or definition_path(dataset)}: {exc}") from None


def _load(dataset: Dataset, root: Path, rev: str | None) -> tuple[pa.Table, Path | None]:
    """The table, and the local file it was read from (None for a scikit-learn loader)."""
    source = dataset.source
    if source.sklearn is not None:
        return _load_sklearn(source.sklearn, dataset.target), None
    if source.path is None:  # pragma: no cover - the model validator forbids it
        raise DataError("the source names neither a loader nor a path")
    if rev is None:
        local = _worktree_file(root, source.path)
    else:
        local = _revision_file(root, source.path, rev)
    name = source.path if rev is None else f"{source.path} at revision {rev}"
    return read_data(local, dataset, name=name), local


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


def _worktree_file(root: Path, path: str) -> Path:
    """The working-tree file at ``path``, once its md5 matches its DVC pointer."""
    base = root.resolve()
    real = (base / path).resolve()
    # The definition refuses '..' and absolute paths; a symlink can still point anywhere.
    if not real.is_relative_to(base):
        raise DataError(
            f"{path} leads outside the repository through a symlink: data must live inside "
            f"it; replace the link with the file and run `dvc add {path}`"
        )
    pointer = base / f"{path}.dvc"
    if pointer.is_symlink():  # never followed, as at a revision (git stores the link)
        raise pointers.linked(f"{path}.dvc")
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
    return real


def _revision_file(root: Path, path: str, rev: str) -> Path:
    """The content the pointer at ``rev`` names, read by hash: DVC never sees the revision."""
    from engine import gitrepo
    from engine.errors import GitError

    try:
        sha = gitrepo.resolve(root, rev)
        if f"{path}.dvc" in getattr(gitrepo.tree(root, sha), "links", ()):
            raise pointers.linked(f"{path}.dvc")  # git would hand over the link's text
        (raw,) = gitrepo.read_blobs(root, [f"{sha}:{path}.dvc"])
    except GitError as exc:
        raise DataError(f"cannot read {path} at revision {rev}: {exc}") from None
    if raw is None:
        raise DataError(
            f"{path}.dvc does not exist at revision {rev}: track the data with "
            f"`dvc add {path}` and commit {path}.dvc"
        )
    pointer = pointers.parse(raw, f"{path}.dvc")
    return content.pinned_file(root, pointer, rev)


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
    """Load a dataset and check it; every load failure or finding becomes a located problem.

    A finding about cells of a CSV file points at the first of them in the file itself
    (``data/cars.csv:118:6``); the others at the definition's line they break.
    """
    dataset = entry.spec
    try:
        table, local = _load(dataset, Path(root), rev)
    except PointerError as exc:
        return [exc.problem]
    except DataError as exc:
        where = ("source", "path") if dataset.source.path is not None else ("source", "sklearn")
        return [entry.doc.problem(where, str(exc), rule="data")]
    data = _csv_file(dataset, local)
    return to_problems(entry.doc, check_table(dataset, table), data)


def checked_table(
    dataset: Dataset, root: Path | str, rev: str | None = None, *, definition: str
) -> pa.Table:
    """The dataset's table, once it passes its checks; else a DataError listing them.

    Findings about cells of a CSV file name the file, line and column of the first.
    """
    try:
        table, local = _load(dataset, Path(root), rev)
    except PointerError:
        raise
    except DataError as exc:
        raise DataError(f"{definition}: {exc}") from None
    findings = check_table(dataset, table)
    if not findings:
        return table
    data = _csv_file(dataset, local)
    shown = [
        problem.render().replace(": error: ", ": ", 1) if problem.line else problem.message
        for problem in to_problems(None, findings, data)
    ]
    raise DataError(
        f"dataset {dataset.name!r} ({definition}) fails its checks: "
        + "; ".join(shown)
        + f"; fix the data or the checks in {definition}"
    )


DataFile = tuple[Path, str]
"""A local CSV file and the path to show for it (``data/cars.csv``)."""


def _csv_file(dataset: Dataset, local: Path | None) -> DataFile | None:
    path = dataset.source.path
    if local is None or path is None or PurePosixPath(path).suffix.lower() == ".parquet":
        return None
    return local, path


def to_problems(
    doc: Located | None, findings: list[Finding], data: DataFile | None = None
) -> list[Problem]:
    """Locate findings: in the CSV ``data`` when they concern its cells, else in ``doc``.

    Without a ``doc`` (training, which has no located definition), a finding that is not
    about cells is an unlocated problem.
    """
    problems = []
    for finding in findings:
        cell = _in_file(doc, finding, data) if data is not None else None
        if cell is not None:
            problems.append(cell)
        elif doc is not None:
            problems.append(doc.problem(finding.loc, finding.message, rule="data"))
        else:
            problems.append(Problem("", message=finding.message, rule="data"))
    return problems


def _in_file(doc: Located | None, finding: Finding, data: DataFile) -> Problem | None:
    """The finding at its first cell in the CSV file, or None when it is not about cells."""
    from engine.data.cells import cell_positions

    if finding.column is None or not finding.rows:
        return None
    local, shown = data
    found = cell_positions(local, finding.rows, finding.column)
    if finding.rows[0] not in found:
        return None
    line, col = found[finding.rows[0]]
    others = [str(found[r][0]) for r in finding.rows[1:] if r in found]
    more = finding.more + len(finding.rows) - 1 - len(others)
    message = f"column {finding.column!r} {finding.reason}"
    if others:
        noun = "line" if len(others) + more == 1 else "lines"
        message += f", here and on {noun} {', '.join(others)}" + (
            f" and {more:,} more" if more else ""
        )
    elif more:
        message += f", here and on {more:,} more line{'s' if more > 1 else ''}"
    if doc is not None:
        declared = doc.problem(finding.loc, "")
        message += f" ({declared.path}:{declared.line})" if declared.line else ""
    return Problem(shown, line, col, message, rule="data")


__all__ = [
    "Finding",
    "check_dataset",
    "check_table",
    "checked_table",
    "definition_path",
    "load_table",
    "read_csv",
    "read_data",
    "read_parquet",
    "to_frame",
    "to_problems",
]
