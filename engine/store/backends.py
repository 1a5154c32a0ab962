"""Where a version's bytes live: a local folder, or any DVC remote through ``dvc.fs``.

``engine.store.Store`` holds the rules (keys, records, checksums); a backend only moves
bytes and publishes atomically. Two implementations:

- ``LocalBackend``: plain ``os`` calls, nothing heavy imported. Writers stage in
  ``<store>/.staging/<pid>.<token>@<host>/`` and publish with one ``rename`` onto
  ``<store>/<model>/<fingerprint>/``, which fails for the loser of a race.
- ``RemoteBackend``: a ``dvc_objects`` filesystem obtained from the URL exactly as
  ``dvc remote add`` URLs are read (``dvc.fs.parse_external_url``, with the repository's
  ``.dvc/config`` so ``remote://NAME/path`` and its credentials work). Object stores have
  no rename, so each file goes to ``<model>/<fp>/files/<sha256>/<name>`` and ``meta.json``
  last; reads go through a local cache folder, one per set of file checksums
  (``<cache>/<model>/<fp>/<files key>/``), so a cached folder only ever receives the
  bytes it already holds.

Staging leftovers of crashed writers are removed by ``clean_staging``: at once when the
writer's process is dead (same host), otherwise once they are older than a day.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from engine.definitions.names import NAME_PATTERN
from engine.errors import StoreError, UserError

if TYPE_CHECKING:
    from dvc_objects.fs.base import FileSystem

    from engine.training.runs import VersionRecord

META_FILE = "meta.json"
FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")
STAGING = ".staging"


class StorageBackend(Protocol):
    """Moves a version's bytes; ``Store`` holds the rules (keys, checksums, records)."""

    def has_meta(self, model: str, fingerprint: str) -> bool:
        """Whether the version's ``meta.json`` exists (the version is committed)."""
        ...

    def read_meta(self, model: str, fingerprint: str) -> bytes | None:
        """The bytes of ``meta.json``, or None when the version is absent."""
        ...

    def list_models(self) -> list[str]:
        """Names of the model folders."""
        ...

    def list_fingerprints(self, model: str) -> list[str]:
        """Fingerprint folders of one model, committed or not."""
        ...

    def materialize(self, record: VersionRecord) -> Path:
        """A local folder holding the version's files under their names (not verified)."""
        ...

    def new_staging(self) -> Path:
        """A fresh, empty local staging folder for one writer."""
        ...

    def publish(self, model: str, fp: str, staging: Path, files: Mapping[str, str]) -> bool:
        """Make the staged version visible; False when another writer's version is there."""
        ...

    def delete(self, model: str, fingerprint: str) -> bool:
        """Remove a version, ``meta.json`` first; whether it was committed."""
        ...

    def clean_staging(self, older_than: float = ...) -> int:
        """Remove staging folders of dead writers or older than ``older_than`` seconds."""
        ...


class LocalBackend:
    """A folder on this machine: plain ``os`` calls, publish by atomic rename."""

    def __init__(self, root: Path):
        self.root = root

    def _dir(self, model: str, fingerprint: str) -> Path:
        return self.root / model / fingerprint

    def has_meta(self, model: str, fingerprint: str) -> bool:
        return (self._dir(model, fingerprint) / META_FILE).is_file()

    def read_meta(self, model: str, fingerprint: str) -> bytes | None:
        try:
            return (self._dir(model, fingerprint) / META_FILE).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def list_models(self) -> list[str]:
        return [n for n in _subdirs(self.root) if re.match(NAME_PATTERN, n)]

    def list_fingerprints(self, model: str) -> list[str]:
        return [n for n in _subdirs(self.root / model) if FINGERPRINT.match(n)]

    def materialize(self, record: VersionRecord) -> Path:
        return self._dir(record.model, record.fingerprint)

    def new_staging(self) -> Path:
        path = self.root / STAGING / _staging_name()
        path.mkdir(parents=True)
        return path

    def publish(self, model: str, fp: str, staging: Path, files: Mapping[str, str]) -> bool:
        final = self._dir(model, fp)
        final.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            try:
                os.rename(staging, final)  # atomic: the version appears whole
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise StoreError(f"can't publish {model}@{fp[:12]}: {exc}") from exc
                if (final / META_FILE).is_file():
                    return False  # another writer won the race; ours is discarded
                self._discard(final)  # a folder without meta.json is no version: a leftover
                continue
            _fsync_dir(final.parent)
            return True
        raise StoreError(f"can't publish {model}@{fp[:12]}: {final} keeps reappearing")

    def delete(self, model: str, fingerprint: str) -> bool:
        existed = self.has_meta(model, fingerprint)
        self._discard(self._dir(model, fingerprint))
        return existed

    def _discard(self, path: Path) -> None:
        # Rename first so the folder vanishes at once, then delete at leisure.
        trash = self.root / STAGING / _staging_name()
        trash.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(path, trash)
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    def clean_staging(self, older_than: float = 24 * 3600) -> int:
        return _clean(self.root / STAGING, older_than)


class RemoteBackend:
    """A DVC remote: files under content-addressed names, ``meta.json`` uploaded last.

    Without an atomic rename, two writers racing on one fingerprint may both upload a
    ``meta.json``; the last one stays, and every file it names is there, because files
    are never overwritten with other content. ``publish`` reads ``meta.json`` back to say
    which writer's record stayed (both may see their own if they finish in lockstep).

    While they race, processes can hold different records of one fingerprint (the two
    writers' ``train.log`` and ``card.md`` differ). The local cache therefore keeps one
    folder per set of file checksums, not per fingerprint: a folder's files are only ever
    replaced, atomically, by identical bytes, so a verified copy stays verified while
    another process downloads another record of the same fingerprint.
    """

    def __init__(self, fs: FileSystem, base: str, cache: Path, url: str):
        self.fs = fs
        self.base = base
        self.cache = cache
        self.url = url

    def _path(self, *parts: str) -> str:
        return str(self.fs.join(self.base, *parts))

    def _blob(self, model: str, fp: str, name: str, sha: str) -> str:
        # Named by content, so two writers of one fingerprint never overwrite each other.
        return self._path(model, fp, "files", sha, name)

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except UserError:
            raise
        except Exception as exc:  # the seam: any library failure becomes a StoreError
            raise StoreError(f"store {self.url}: could not {doing}: {exc}") from exc

    def has_meta(self, model: str, fingerprint: str) -> bool:
        with self._errors("read"):
            return bool(self.fs.exists(self._path(model, fingerprint, META_FILE)))

    def read_meta(self, model: str, fingerprint: str) -> bytes | None:
        with self._errors("read"):
            try:
                return bytes(self.fs.cat_file(self._path(model, fingerprint, META_FILE)))
            except FileNotFoundError:
                return None

    def _ls(self, path: str) -> list[str]:
        with self._errors("list"):
            try:
                entries = self.fs.ls(path, detail=False)
            except FileNotFoundError:
                return []
        names = {self.fs.name(str(e).rstrip("/")) for e in entries}
        return sorted(n for n in names if n and n != self.fs.name(path))

    def list_models(self) -> list[str]:
        return [n for n in self._ls(self.base) if re.match(NAME_PATTERN, n)]

    def list_fingerprints(self, model: str) -> list[str]:
        return [n for n in self._ls(self._path(model)) if FINGERPRINT.match(n)]

    def _cached(self, model: str, fp: str, files: Mapping[str, str]) -> Path:
        # Keyed by the files' checksums: every file name in this folder has one content.
        return self.cache / model / fp / _files_key(files)

    def materialize(self, record: VersionRecord) -> Path:
        folder = self._cached(record.model, record.fingerprint, record.files)
        folder.mkdir(parents=True, exist_ok=True)
        for name, sha in sorted(record.files.items()):
            target = folder / name
            if target.is_file() and sha256_file(target) == sha:
                continue
            part = folder / f".{name}.{_staging_name()}.part"
            with self._errors(f"download {name} of {record.label}"):
                try:
                    self.fs.get_file(
                        self._blob(record.model, record.fingerprint, name, sha), str(part)
                    )
                except FileNotFoundError:
                    raise StoreError(
                        f"{name} of {record.label} is missing from the store {self.url}: "
                        "delete the version to retrain"
                    ) from None
            os.replace(part, target)
        return folder

    def new_staging(self) -> Path:
        path = self.cache / STAGING / _staging_name()
        path.mkdir(parents=True)
        return path

    def publish(self, model: str, fp: str, staging: Path, files: Mapping[str, str]) -> bool:
        meta = self._path(model, fp, META_FILE)
        ours = (staging / META_FILE).read_bytes()
        with self._errors(f"upload {model}@{fp[:12]}"):
            if self.fs.exists(meta):
                return False
            for name, sha in sorted(files.items()):
                blob = self._blob(model, fp, name, sha)
                local = staging / name
                # A crashed upload may have left a short blob under this name: redo it.
                if not self.fs.exists(blob) or self.fs.size(blob) != local.stat().st_size:
                    self.fs.put_file(str(local), blob)
            self.fs.put_file(str(staging / META_FILE), meta)  # last: it commits the version
            won = bytes(self.fs.cat_file(meta)) == ours
        cached = self._cached(model, fp, files)
        if won and not cached.exists():
            cached.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):  # only a cache: downloading again is fine
                (staging / META_FILE).unlink()  # the cache holds the record's files only
                os.rename(staging, cached)  # fails if a reader is filling it: same bytes
        return won

    def delete(self, model: str, fingerprint: str) -> bool:
        existed = self.has_meta(model, fingerprint)
        with self._errors(f"delete {model}@{fingerprint[:12]}"):
            if existed:
                self.fs.rm(self._path(model, fingerprint, META_FILE))
            if self.fs.exists(self._path(model, fingerprint)):
                self.fs.rm(self._path(model, fingerprint), recursive=True)
        shutil.rmtree(self.cache / model / fingerprint, ignore_errors=True)
        return existed

    def clean_staging(self, older_than: float = 24 * 3600) -> int:
        return _clean(self.cache / STAGING, older_than)


def open_remote(url: str, root: Path) -> tuple[FileSystem, str]:
    """A DVC filesystem and base path for ``url``, as ``dvc remote add`` would read it."""
    from dvc.config import Config
    from dvc.exceptions import DvcException
    from dvc.fs import parse_external_url

    scheme = scheme_of(url) or "local"
    try:
        dvc_dir = root / ".dvc"
        # The repository's DVC config resolves remote://NAME/... and its credentials.
        config = Config(dvc_dir=str(dvc_dir)) if dvc_dir.is_dir() else None
        fs, path = parse_external_url(url, config=config)
    except ImportError as exc:
        named = re.search(r"'(dvc-[A-Za-z0-9]+)'", str(exc))
        package = named.group(1) if named else f"dvc[{scheme}]"
        raise StoreError(
            f"store.url {url!r} needs DVC's {scheme} support, which is not installed: "
            f"pip install {package}"
        ) from exc
    except DvcException as exc:
        raise StoreError(
            f"store.url {url!r} in mlops/project.yaml is not a usable DVC remote: {exc}; "
            "use a local folder or a URL such as s3://, gs://, azure://, ssh://"
        ) from exc
    return fs, str(path)


def _subdirs(folder: Path) -> list[str]:
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))


def _files_key(files: Mapping[str, str]) -> str:
    # 16 hex digits of the sha256 of the name-to-checksum map: one cache folder per content.
    listing = "".join(f"{name}\0{sha}\n" for name, sha in sorted(files.items()))
    return hashlib.sha256(listing.encode()).hexdigest()[:16]


def _staging_name() -> str:
    import secrets
    import socket

    return f"{os.getpid()}.{secrets.token_hex(8)}@{socket.gethostname()}"


def _clean(folder: Path, older_than: float) -> int:
    import socket
    import time

    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return 0
    host, now, removed = socket.gethostname(), time.time(), 0
    for entry in entries:
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except FileNotFoundError:
            continue
        if age > older_than or _dead_writer(entry.name, host):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                Path(entry.path).unlink(missing_ok=True)
            removed += 1
    return removed


def _dead_writer(name: str, host: str) -> bool:
    # Staging folders are named <pid>.<token>@<host>: on this host, a dead pid means garbage.
    pid, _, rest = name.partition(".")
    if os.name != "posix" or not pid.isdigit() or rest.partition("@")[2] != host:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def scheme_of(url: str) -> str:
    """The lower-case URL scheme (``s3``, ``file``...), or "" for a plain path."""
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", url)
    return match.group(1).lower() if match else ""


def sha256_file(path: Path) -> str:
    """The sha256 hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
