"""A new version of a dataset: labelled rows appended to its DVC-tracked CSV, in a checkout.

Retraining on drift (:mod:`engine.monitoring.retrain`) proposes the monitored rows as
training data. :func:`append_rows` writes that new version in a separate checkout (a git
worktree of the default branch, never the user's own):

1. the current content, fetched *by the hash* the checkout's pointer records (as
   training reads it: :func:`engine.data.content.pinned_file`), never a working file;
2. the new rows appended in the file's own column order, after checking they have every
   column of the file (:func:`training_rows` says what rows qualify: labelled ones), and
   only once: a row the data has already (:func:`unseen`) is left out, so a batch
   monitored again after its rows were merged adds nothing twice;
3. the whole new file read and checked against the dataset definition, so a version that
   would fail ``mlops validate`` is never proposed;
4. ``dvc add`` in the checkout (its cache is the main checkout's, so nothing is copied
   twice) and the content pushed to the DVC remote of the main checkout's configuration,
   so the pull request's pointer names bytes every clone can fetch.

Only CSV files grow this way; a Parquet dataset or a scikit-learn loader is refused with
the reason.
"""

from __future__ import annotations

import contextlib
import csv
import io
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from engine.data import content, pointers
from engine.errors import DataError

if TYPE_CHECKING:
    import pyarrow as pa

    from engine.definitions.formats import Dataset


@dataclass(frozen=True)
class Appended:
    """What :func:`append_rows` wrote: the pointer file, the content hash, the row counts
    (``known``: labelled rows left out because the data has them already)."""

    path: str
    pointer: str
    md5: str
    before: int
    added: int
    known: int = 0


def file_of(dataset: Dataset) -> str:
    """The dataset's CSV path, or a DataError saying why its rows can't be appended to."""
    path = dataset.source.path
    if path is None:
        raise DataError(
            f"dataset {dataset.name} comes from scikit-learn's {dataset.source.sklearn}: rows can "
            "only be added to a DVC-tracked CSV file (source: {path: data/NAME.csv})"
        )
    if PurePosixPath(path).suffix.lower() != ".csv":
        raise DataError(
            f"dataset {dataset.name} is {path}: rows can only be appended to a CSV file for now"
        )
    return path


def training_rows(table: pa.Table, labels: list[Any] | None, dataset: Dataset) -> pa.Table:
    """The labelled rows of ``table``, with the target column set from ``labels``.

    Unlabelled rows are not training data: a row without a label is dropped, and no label
    at all is a DataError that says how to provide them (the target column of a batch, or
    a labels file keyed by request id for logs).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if labels is None or all(v is None for v in labels):
        raise DataError(
            f"the current data has no labels, and unlabelled rows are not training data: give "
            f"the batch a {dataset.target!r} column, or the logs a labels file "
            "(`monitoring: {logs: DIR, labels: FILE}`)"
        )
    if dataset.target in table.column_names:
        table = table.drop_columns([dataset.target])
    table = table.append_column(dataset.target, pa.array(labels))
    return table.filter(pc.is_valid(table.column(dataset.target)))


def append_rows(tree: Path, root: Path, dataset: Dataset, rows: pa.Table) -> Appended:
    """Append ``rows`` to the dataset's CSV in the checkout ``tree``, ``dvc add`` it and push
    the content through ``root``'s DVC remote. Raises DataError naming what to fix."""
    path = file_of(dataset)
    pointer_file = tree / f"{path}.dvc"
    if not pointer_file.is_file():
        raise DataError(f"{path}.dvc is not on the default branch: `dvc add {path}` and commit it")
    pointer = pointers.parse(pointer_file.read_bytes(), f"{path}.dvc")
    base = content.pinned_file(root, pointer, "the default branch").read_bytes()
    header = next(csv.reader(io.StringIO(base.split(b"\n", 1)[0].decode("utf-8-sig"))))
    missing = [c for c in header if c not in rows.column_names]
    if missing:
        raise DataError(
            f"the current data lacks column(s) {', '.join(missing)} of {path}: the rows added "
            "must carry every column of the dataset file"
        )
    new = base if base.endswith(b"\n") or not base else base + b"\n"
    target = tree / path
    target.parent.mkdir(parents=True, exist_ok=True)
    rows = rows.select(header)
    target.write_bytes(new + _csv_rows(rows))
    table = _read(target, dataset, path)
    before = table.num_rows - rows.num_rows
    fresh = unseen(table, before, dataset, header)
    if not fresh.any():
        raise DataError(
            f"all {rows.num_rows} labelled row(s) of the current data are in {path} already: "
            "there is nothing new to train on"
        )
    if not fresh.all():  # rewritten without the rows the data has, then read again
        rows = rows.filter(fresh)
        target.write_bytes(new + _csv_rows(rows))
        table = _read(target, dataset, path)
    _check(table, dataset, path, rows.num_rows)
    md5 = _add_and_push(tree, root, target, path)
    return Appended(
        path, f"{path}.dvc", md5, before, rows.num_rows, int(fresh.size - rows.num_rows)
    )


def unseen(table: pa.Table, before: int, dataset: Dataset, columns: list[str]) -> Any:
    """Which of the rows after the first ``before`` (the data) are new.

    Rows are told apart by their identity (:mod:`engine.data.identity`). With an id
    column, a row whose id the data has, or an earlier new row has, is not new. Without
    one, equal rows may be real repeated observations: of ``k`` equal new rows, those
    beyond the copies the data holds already are new (a batch appended once and
    monitored again adds nothing; a row seen twice where the data has it once adds one).
    """
    import numpy as np

    from engine.data.identity import identities, row_key

    key = row_key(columns, dataset.id_column)
    values = {c: table.column(c).to_numpy(zero_copy_only=False) for c in key.columns}
    identity = identities(key, values, table.num_rows)
    old, new = np.sort(identity[:before]), identity[before:]
    held = np.searchsorted(old, new, side="right") - np.searchsorted(old, new, side="left")
    order = np.argsort(new, kind="stable")
    ranked = new[order]
    rank = np.empty(len(new), dtype=np.intp)  # how many equal new rows come before
    rank[order] = np.arange(len(new)) - np.searchsorted(ranked, ranked, side="left")
    if key.kind == "id":
        return (held == 0) & (rank == 0)
    return rank >= held


def _csv_rows(rows: pa.Table) -> bytes:
    """The rows as CSV lines without a header, quoting only where CSV needs it."""
    from pyarrow import csv as arrow_csv

    out = io.BytesIO()
    options = arrow_csv.WriteOptions(include_header=False, quoting_style="needed")
    arrow_csv.write_csv(rows, out, write_options=options)
    return out.getvalue()


def _read(target: Path, dataset: Dataset, path: str) -> pa.Table:
    from engine.data.tables import read_csv

    return read_csv(target, dataset, name=f"{path} with the new rows")


def _check(table: pa.Table, dataset: Dataset, path: str, added: int) -> None:
    """Check the new file as ``mlops validate`` would."""
    from engine.data.checks import check_table

    findings = check_table(dataset, table)
    if findings:
        shown = "; ".join(f.message for f in findings[:5])
        raise DataError(
            f"{path} with the {added} new row(s) would not pass its definition "
            f"(mlops/datasets/{dataset.name}.yaml): {shown}"
        )


def _add_and_push(tree: Path, root: Path, target: Path, path: str) -> str:
    """``dvc add`` in ``tree`` into ``root``'s cache; push the content to ``root``'s remote."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo
    from dvc_data.hashfile.hash_info import HashInfo

    try:
        with Repo(str(root)) as main:
            cache_dir = main.cache.local_cache_dir
            has_remote = bool(main.config["core"].get("remote"))
        checkout = Repo(str(tree), config={"cache": {"dir": cache_dir}})
        with checkout, _quiet(checkout):
            checkout.add([str(target)])
        pointer = pointers.parse((tree / f"{path}.dvc").read_bytes(), f"{path}.dvc")
        if not has_remote:
            raise DataError(
                "the repository has no default DVC remote, so the new data could not be "
                "shared: `dvc remote add --default NAME URL` and commit .dvc/config"
            )
        with Repo(str(root)) as main:
            result = main.cloud.push([HashInfo(pointer.hash_name, pointer.md5)])
    except DvcException as exc:
        raise DataError(f"could not add the new version of {path} with DVC: {exc}") from None
    if result.failed:
        raise DataError(f"could not push the new version of {path} to the DVC remote")
    return pointer.md5


@contextlib.contextmanager
def _quiet(repo: Any) -> Any:
    """DVC's git hint after ``add`` ("To track the changes with git, run: ...") is not ours
    to say: the engine commits the pointer itself. DVC logs it through the handler that
    ``import dvc`` gave the stdout of that moment, which no redirect reaches, so DVC's own
    switch for it (its SCM context's ``quiet``) turns it off; whatever DVC writes to the
    current stdout meanwhile goes to a buffer."""
    repo.scm_context.quiet = True
    with contextlib.redirect_stdout(io.StringIO()):
        yield


__all__ = ["Appended", "append_rows", "file_of", "training_rows", "unseen"]
