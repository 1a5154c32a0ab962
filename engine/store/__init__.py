"""The model store: content-addressed model versions in a local folder or a DVC remote.

A version lives at ``<store>/<model>/<fingerprint>/`` and holds::

    model.skops          the fitted pipeline, saved with skops (never pickle)
    metrics.json         flat {"accuracy": 0.95, ...}: `dvc metrics show` reads it
    predictions.parquet  test-set predictions: row_id, y_true, y_pred, proba_<class>...
    rows.parquet         every row's identity and side of the split: the rows trained on
    card.md              the model card (engine.training.runs.model_card)
    train.log            the training log
    meta.json            the VersionRecord, with the sha256 of every other file

``meta.json`` is the commit marker: a folder without it is not a version. Writers stage
every file first and publish at once, so a version appears whole or not at all:

- **local folder** (the default, ``.mlops/store``): files are staged in
  ``<store>/.staging/<id>/`` and published with one atomic ``rename``; when two processes
  publish the same fingerprint, the rename of the loser fails and its copy is discarded.
  This path is plain ``os`` calls: ``has()`` and ``get_record()`` import neither dvc nor
  skops, sklearn or pandas, so a fully cached ``mlops train`` stays fast.
- **any other URL** (``s3://``, ``gs://``, ``azure://``, ``ssh://``, ``remote://<name>/...``
  for a remote of the repository's DVC config) goes through DVC's filesystem layer. Object
  stores have no atomic rename, so files are uploaded under content-addressed names
  (``files/<sha256>/<name>``) and ``meta.json`` last; concurrent writers never overwrite
  each other's files and whichever ``meta.json`` lands last names a complete version. Reads
  download into a local cache. The scheme's DVC plugin (``dvc-s3``, ``dvc-gs``, ...) must
  be installed; without it ``Store.open`` says which package to install.

Reads verify every file against its recorded checksum, and ``load_model`` lets skops
construct only the exact types the engine's own pipelines need
(``engine/store/trusted_types.py``); anything else is refused before a single object is
built. The checksums in ``meta.json`` sit beside the files, so whoever can rewrite a
model can reseal it: code that serves a *pinned* version calls ``load_verified`` (or
``Store.load_pinned``) with the sha256 recorded in the environment branch's pin.

This package is the engine's one seam to dvc and skops: ``backends`` moves bytes (local
folder or ``dvc.fs``), ``artifacts`` writes and reads the model and the predictions, and
this module holds the rules. The record itself lives in ``engine.training.records`` (plain
checked values: reading one imports no pydantic), its pure views (model card, runs table)
in ``engine.training.runs``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from engine.definitions.names import NAME_PATTERN
from engine.errors import StoreError
from engine.store.artifacts import (
    load_bytes,
    load_rows,
    load_skops,
    load_verified,
    read_verified,
    save_model,
    save_predictions,
    save_rows,
    untrusted,
    version_skew,
)
from engine.store.backends import (
    FINGERPRINT,
    META_FILE,
    LocalBackend,
    RemoteBackend,
    StorageBackend,
    open_remote,
    scheme_of,
    sha256_file,
)
from engine.training.runs import RECORD_FORMAT, VersionRecord, model_card

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CARD_FILE",
    "LOG_FILE",
    "META_FILE",
    "METRICS_FILE",
    "MODEL_FILE",
    "PREDICTIONS_FILE",
    "ROWS_FILE",
    "Store",
    "StoredVersion",
    "VersionRecord",
    "Writer",
    "load_bytes",
    "load_rows",
    "load_skops",
    "load_verified",
    "read_verified",
    "save_model",
    "save_predictions",
    "save_rows",
    "untrusted",
    "version_skew",
]

MODEL_FILE = "model.skops"
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.parquet"
ROWS_FILE = "rows.parquet"
CARD_FILE = "card.md"
LOG_FILE = "train.log"
_OWNED = frozenset({META_FILE, METRICS_FILE})  # written by the store from the record

_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
BackendName = Literal["auto", "local", "dvc"]


@dataclass(frozen=True)
class StoredVersion:
    """A verified version: its record and a local folder holding its files."""

    record: VersionRecord
    dir: Path
    published: bool = False
    """True when this very call published it (it was not in the store before)."""

    def path(self, name: str) -> Path:
        """The local path of one of the version's files."""
        if name not in self.record.files:
            raise StoreError(f"{self.record.label} has no file {name!r}")
        return self.dir / name

    @property
    def model_path(self) -> Path:
        """The saved model (``model.skops``); load it with ``Store.load_model``."""
        return self.path(MODEL_FILE)

    def metrics(self) -> dict[str, float | None]:
        """The test-set metrics."""
        return dict(self.record.metrics)

    def predictions(self) -> pd.DataFrame:
        """The test-set predictions: row_id, y_true, y_pred and proba_<class> columns."""
        import pandas as pd

        return pd.read_parquet(self.path(PREDICTIONS_FILE))

    def card(self) -> str:
        """The model card (markdown)."""
        return self.path(CARD_FILE).read_text(encoding="utf-8")

    def log(self) -> str:
        """The training log."""
        return self.path(LOG_FILE).read_text(encoding="utf-8")


class Writer:
    """A staging folder for one version; ``publish`` makes it visible atomically.

    Write files into ``path`` under their store names (``MODEL_FILE``, ``LOG_FILE``...);
    the store writes ``metrics.json``, ``meta.json`` and, unless given, ``card.md``.
    """

    def __init__(self, store: Store, model: str, fingerprint: str, path: Path):
        self.store = store
        self.model = model
        self.fingerprint = fingerprint
        self.path = path
        self.result: StoredVersion | None = None
        self.sums: dict[str, str] = {}
        """The sha256 of every file this writer published, as staged (set by ``publish``)."""

    def publish(self, record: VersionRecord) -> StoredVersion:
        """Seal the staged files with ``record`` and publish them as one version."""
        if (record.model, record.fingerprint) != (self.model, self.fingerprint):
            raise StoreError(
                f"record {record.label} does not belong in the writer of "
                f"{self.model}@{self.fingerprint[:12]}"
            )
        if self.result is not None:
            raise StoreError(f"{record.label} was already published by this writer")
        if not (self.path / MODEL_FILE).is_file():
            raise StoreError(f"{record.label} has no {MODEL_FILE}: save the model first")
        _write(self.path / METRICS_FILE, _metrics_json(record.metrics))
        if not (self.path / CARD_FILE).exists():
            _write(self.path / CARD_FILE, model_card(record).encode())
        names = _staged_names(self.path)
        for name in names:
            _fsync(self.path / name)  # durable before meta.json can point at them
        sums = {name: sha256_file(self.path / name) for name in names}
        sealed = record.replace(files=sums, format=RECORD_FORMAT)
        _write(self.path / META_FILE, sealed.to_json().encode(), sync=True)
        won = self.store.backend.publish(self.model, self.fingerprint, self.path, sums)
        self.sums = sums
        if won and isinstance(self.store.backend, LocalBackend):
            # these very files, hashed above, renamed into place: reading and hashing them
            # again (a model of 12 MB) would check nothing more
            folder = self.store.backend.materialize(sealed)
            stored = self.store.get_record(self.model, self.fingerprint)
            self.result = StoredVersion(stored, folder, published=True)
        else:  # another writer's version, or one uploaded: checked as any read is
            self.result = self.store.get(self.model, self.fingerprint, published=won)
        return self.result


class Store:
    """A model store; ``Store.open`` picks the local or the DVC backend from the URL."""

    def __init__(self, backend: StorageBackend, url: str):
        self.backend = backend
        self.url = url

    @classmethod
    def open(
        cls, url: str, root: Path, *, backend: BackendName = "auto", cache: Path | None = None
    ) -> Store:
        """Open the store at ``url`` (project.yaml ``store.url``), relative to the repo root.

        ``backend="dvc"`` forces a local folder through DVC's filesystem layer (tests use it
        to exercise the remote path); ``cache`` is where remote versions are downloaded
        (default ``<root>/.mlops/cache/store``).
        """
        scheme = scheme_of(url)
        if scheme in ("", "file"):
            path = _local_path(url, root)
            if backend != "dvc":
                return cls(LocalBackend(path), url)
            target = str(path)
        elif backend == "local":
            raise StoreError(f"store.url {url!r} is not a local folder")
        else:
            target = url
        cache = cache or root / ".mlops" / "cache" / "store"
        fs, base = open_remote(target, root)
        return cls(RemoteBackend(fs, base, cache, url), url)

    @classmethod
    def of_project(cls, configured: str, root: Path) -> Store:
        """The project's store: ``store.url`` (``configured``), unless the job's
        ``MLOPS_STORE`` names another (:mod:`engine.store.location`)."""
        from engine.store.location import store_url

        return cls.open(store_url(configured), root)

    # --- reading ------------------------------------------------------------------------

    def has(self, model: str, fingerprint: str) -> bool:
        """Whether the store holds this version (its ``meta.json`` exists)."""
        _check_key(model, fingerprint)
        return self.backend.has_meta(model, fingerprint)

    def get_record(self, model: str, fingerprint: str) -> VersionRecord:
        """The record of a version, read from ``meta.json`` alone (files not checked)."""
        _check_key(model, fingerprint)
        data = self.backend.read_meta(model, fingerprint)
        if data is None:
            raise StoreError(
                f"{model}@{fingerprint[:12]} is not in the store {self.url}: "
                f"train it with `mlops train {model}`"
            )
        return _parse_record(data, model, fingerprint)

    def get(self, model: str, fingerprint: str, *, published: bool = False) -> StoredVersion:
        """A version with every file downloaded if need be and checked against its sha256."""
        record = self.get_record(model, fingerprint)
        folder = self.backend.materialize(record)
        for name, expected in sorted(record.files.items()):
            _verify(folder / name, expected, name, record)
        return StoredVersion(record, folder, published)

    def versions(self, model: str | None = None) -> list[VersionRecord]:
        """Every version (of ``model``, or of all models), newest first."""
        if model is not None:
            _check_key(model, "0" * 64)
        models = [model] if model is not None else self.backend.list_models()
        found = []
        for name in models:
            for fingerprint in self.backend.list_fingerprints(name):
                data = self.backend.read_meta(name, fingerprint)
                if data is not None:
                    found.append(_parse_record(data, name, fingerprint))
        return sorted(found, key=lambda r: (r.created, r.fingerprint), reverse=True)

    def resolve(self, model: str, ref: str) -> str:
        """The full fingerprint of ``model@ref``, where ``ref`` is a version id or prefix."""
        _check_key(model, "0" * 64)
        ref = ref.lower()
        if not re.fullmatch(r"[0-9a-f]{4,64}", ref):
            raise StoreError(f"{ref!r} is not a version id (4 to 64 hexadecimal characters)")
        matches = [
            fp
            for fp in self.backend.list_fingerprints(model)
            if fp.startswith(ref) and self.backend.has_meta(model, fp)
        ]
        if not matches:
            raise StoreError(f"no version {ref} of {model} in the store {self.url}")
        if len(matches) > 1:
            shown = ", ".join(fp[:12] for fp in matches)
            raise StoreError(f"{model}@{ref} is ambiguous ({shown}): give more characters")
        return matches[0]

    def load_model(self, model: str, fingerprint: str, *, allow: Iterable[str] = ()) -> Any:
        """The fitted model, after checksum and exact-type checks (``allow``: extra type names).

        The checksum is the one in the version's own ``meta.json``: enough to catch damage,
        not an attacker. To load a pinned version, use :meth:`load_pinned`.
        """
        version = self.get(model, fingerprint)
        return load_skops(version.model_path, version.record.label, allow=allow)

    def load_pinned(
        self, model: str, fingerprint: str, sha256: str, *, allow: Iterable[str] = ()
    ) -> Any:
        """The fitted model, only if its ``model.skops`` hashes to ``sha256`` (from the pin)."""
        version = self.get(model, fingerprint)
        return load_verified(version.model_path, sha256, version.record.label, allow=allow)

    # --- writing ------------------------------------------------------------------------

    @contextlib.contextmanager
    def writer(self, model: str, fingerprint: str) -> Iterator[Writer]:
        """Stage one version; call ``publish`` inside the block, or nothing is stored."""
        _check_key(model, fingerprint)
        self.backend.clean_staging()
        staging = self.backend.new_staging()
        try:
            yield Writer(self, model, fingerprint, staging)
        finally:
            # After a publish the staging folder is gone (renamed or uploaded); after an
            # error or a lost race it is garbage.
            shutil.rmtree(staging, ignore_errors=True)

    def put(self, record: VersionRecord, files: Mapping[str, Path | bytes]) -> StoredVersion:
        """Store one version from files (name to path or bytes); returns what is stored."""
        with self.writer(record.model, record.fingerprint) as writer:
            for name, source in files.items():
                if name in _OWNED:
                    raise StoreError(f"{name} is written by the store from the record")
                if not _FILE_NAME.match(name):
                    raise StoreError(f"{name!r} is not a simple file name")
                if isinstance(source, bytes):
                    _write(writer.path / name, source)
                else:
                    shutil.copyfile(source, writer.path / name)
            return writer.publish(record)

    def copy_from(self, source: Store, model: str, fingerprint: str) -> StoredVersion:
        """Store ``source``'s version ``model@fingerprint`` here, as the same record.

        Every file is checked against the sha256 its ``meta.json`` records before anything
        is written (``get``), and the copy is sealed and published like a training's.
        """
        version = source.get(model, fingerprint)
        files = {n: version.dir / n for n in version.record.files if n not in _OWNED}
        return self.put(version.record, files)

    def delete(self, model: str, fingerprint: str) -> bool:
        """Remove a version (it disappears at once); False when it was not there."""
        _check_key(model, fingerprint)
        return self.backend.delete(model, fingerprint)

    def clean_staging(self, older_than: float = 24 * 3600) -> int:
        """Remove staging leftovers of dead writers, or older than ``older_than`` seconds."""
        return self.backend.clean_staging(older_than)


# --- helpers ----------------------------------------------------------------------------


def _local_path(url: str, root: Path) -> Path:
    if url.startswith("file://"):
        from urllib.parse import unquote, urlparse

        url = unquote(urlparse(url).path)
    path = Path(url).expanduser()
    return path if path.is_absolute() else root / path


def _check_key(model: str, fingerprint: str) -> None:
    # Both become path components: refuse anything that could climb out of the store.
    if not re.match(NAME_PATTERN, model) or model.startswith("."):
        raise StoreError(f"{model!r} is not a model name")
    if not FINGERPRINT.match(fingerprint):
        raise StoreError(f"{fingerprint!r} is not a fingerprint (64 hexadecimal characters)")


def _parse_record(data: bytes, model: str, fingerprint: str) -> VersionRecord:
    where = f"meta.json of {model}@{fingerprint[:12]}"
    try:
        raw = json.loads(data)
        if isinstance(raw, dict) and int(raw.get("format", 1)) > RECORD_FORMAT:
            raise StoreError(f"{where} was written by a newer engine: upgrade mlops-engine")
        record = VersionRecord.parse(raw)  # pydantic's ValidationError is a ValueError
    except (ValueError, TypeError) as exc:
        raise StoreError(f"{where} is not valid ({exc}); delete the version to retrain") from exc
    if (record.model, record.fingerprint) != (model, fingerprint):
        raise StoreError(f"{where} describes {record.label}: the store was modified")
    return record


def _verify(path: Path, expected: str, name: str, record: VersionRecord) -> None:
    if not path.is_file():
        raise StoreError(f"{name} of {record.label} is missing: delete the version to retrain")
    if sha256_file(path) != expected:
        raise StoreError(
            f"{name} of {record.label} does not match its recorded checksum: the store "
            "was modified; delete the version to retrain"
        )


def _staged_names(folder: Path) -> list[str]:
    names = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name == META_FILE:
            continue
        if not entry.is_file(follow_symlinks=False) or not _FILE_NAME.match(entry.name):
            raise StoreError(f"{entry.name!r} can't be stored: only plain files, simple names")
        names.append(entry.name)
    return names


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _metrics_json(metrics: Mapping[str, float | None]) -> bytes:
    return (json.dumps(dict(metrics), indent=2, sort_keys=True) + "\n").encode()


def _write(path: Path, data: bytes, *, sync: bool = False) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        if sync:
            handle.flush()
            os.fsync(handle.fileno())
