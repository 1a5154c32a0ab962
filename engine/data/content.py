"""The bytes a DVC pointer names, verified: the only way data files reach the engine.

A fingerprint names a dataset by the md5 in its pointer (:mod:`engine.data.pointers`), so
the bytes the engine trains on, checks and compares must be the bytes with that md5:

- :func:`worktree_file` checks the file in the working tree against the working tree's
  pointer. After ``git switch`` the file still holds the other branch's content until
  ``dvc checkout``; training on it would store stale rows under the new pointer's hash,
  so it is refused. Hashing a large file takes seconds, so each result is kept in
  ``.mlops/cache/md5.json`` keyed by the file's size, mtime and inode (as DVC keys its own
  state database): an unchanged file is hashed once.
- :func:`pinned_file` fetches the content a revision's pointer names *by hash*: from the
  DVC cache, else from the remote configured in the working tree's ``.dvc/config``. The
  revision's own DVC config and stages are never read, because a pull request writes
  them: in the jobs that hold a write token the working tree is the default branch, so a
  PR can neither point DVC at an import source (``/etc/passwd``, an ``http://`` URL) nor
  redirect the remote. What was fetched is verified against the md5 all the same.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from engine.data.pointers import Pointer
from engine.errors import DataError

CACHE_FILE = Path(".mlops") / "cache" / "md5.json"
MAX_ENTRIES = 512  # the oldest entries go first: they cost one hash each if needed again
_CHUNK = 1024 * 1024


def worktree_file(root: Path, real: Path, pointer: Pointer) -> None:
    """Refuse ``real`` (the working-tree file ``pointer`` tracks) unless its md5 matches."""
    _not_a_folder(pointer)
    if not _matches(real, pointer, root):
        raise DataError(f"{pointer.out} does not match {pointer.file} (run dvc checkout)")


def pinned_file(root: Path, pointer: Pointer, rev: str) -> Path:
    """The local file holding the content ``pointer`` names (fetched if need be), verified."""
    from dvc.exceptions import DvcException

    _not_a_folder(pointer)
    try:
        path = _cached(root, pointer)
    except DvcException as exc:
        raise DataError(f"cannot read {pointer.out} at revision {rev}: {exc}") from None
    if path is None:
        raise DataError(
            f"the content of {pointer.out} pinned at revision {rev} is neither in the DVC cache "
            "nor in the DVC remote: run `dvc push` in the clone where it was added"
        )
    if not _matches(path, pointer, root):
        raise DataError(
            f"the content of {pointer.out} pinned at revision {rev} does not have the md5 "
            f"{pointer.file} records: the DVC cache or remote holds a damaged copy; run "
            "`dvc push` again from a clone with a good one"
        )
    return path


def _matches(path: Path, pointer: Pointer, root: Path) -> bool:
    # A size that differs settles it without reading the file (DVC 2's text hashes excepted:
    # they are of the text with CRLF read as LF, so its size may differ from the file's).
    if pointer.size is not None and not pointer.legacy and path.stat().st_size != pointer.size:
        return False
    return md5_of(path, pointer.hash_name, root) == pointer.md5


def _not_a_folder(pointer: Pointer) -> None:
    if pointer.md5.endswith(".dir"):
        raise DataError(
            f"{pointer.file} tracks a folder: a dataset's path must be a file tracked on its "
            f"own; run `dvc add` on the file"
        )


def _cached(root: Path, pointer: Pointer) -> Path | None:
    """The DVC cache file for ``pointer``, pulled from the working tree's remote if missing."""
    from dvc.repo import Repo
    from dvc_data.hashfile.hash_info import HashInfo

    # No rev: DVC reads the working tree's config, never the revision's.
    with Repo(str(root)) as repo:
        cache = repo.cache.legacy if pointer.legacy else repo.cache.local
        path = Path(cache.oid_to_path(pointer.md5))
        if not path.is_file() and _has_remote(repo):
            repo.cloud.pull([HashInfo(pointer.hash_name, pointer.md5)])
        return path if path.is_file() else None


def _has_remote(repo: Any) -> bool:
    return bool(repo.config["core"].get("remote"))


# --- md5, with a cache keyed by the file's stat -----------------------------------------


def md5_of(path: Path, hash_name: str, root: Path) -> str:
    """The md5 of ``path`` (``md5-dos2unix`` as DVC 2 computed it), hashed once per change."""
    stat = path.stat()
    key = str(path.resolve())
    stamp = [stat.st_size, stat.st_mtime_ns, stat.st_ino, hash_name]
    store = root / CACHE_FILE
    known = _read(store)
    entry = known.get(key)
    if isinstance(entry, list) and entry[:4] == stamp and isinstance(entry[4], str):
        return entry[4]
    digest = _hash(path, hash_name)
    known.pop(key, None)  # re-insert: the newest entries stay
    known[key] = [*stamp, digest]
    _write(store, dict(list(known.items())[-MAX_ENTRIES:]))
    return digest


def _hash(path: Path, hash_name: str) -> str:
    if hash_name != "md5":
        from dvc_data.hashfile.hash import file_md5

        return str(file_md5(str(path), name=hash_name))
    import hashlib

    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fobj:
        while chunk := fobj.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _read(store: Path) -> dict[str, Any]:
    try:
        data = json.loads(store.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(store: Path, known: dict[str, Any]) -> None:
    """Replace the cache file atomically; a cache that can't be written is only slower."""
    with contextlib.suppress(OSError):
        store.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=store.parent, prefix=".md5-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(known, out)
            os.replace(tmp, store)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


__all__ = ["CACHE_FILE", "md5_of", "pinned_file", "worktree_file"]
