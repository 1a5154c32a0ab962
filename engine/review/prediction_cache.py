"""Stored predictions decoded once: later reviews read them without importing pyarrow.

A version's ``predictions.parquet`` never changes, and ``mlops diff`` reads two of them
on every run; pyarrow's import alone is most of a small diff's time. So the decoded
columns are kept as a NumPy ``.npz`` under ``.mlops/cache/`` keyed by the sha256 of the
Parquet bytes (a changed file is simply another key), and read back with
``allow_pickle=False``. As for the parse cache (:mod:`engine.definitions.parse_cache`),
a cache must never change a result, and a file under ``.mlops/cache/`` could come from a
pull request: each entry carries an HMAC-SHA256 (the same key, kept outside the
repository) of its key and content, and an entry without the right MAC, unreadable or
corrupt is ignored and the Parquet decoded again. Columns of text are kept as NumPy
strings and given back as the same Python strings; a column of anything else that is
not a plain number (nulls, mixed types) is not cached.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMAT = 1
_TEXT = "__text__"  # the names of the columns that were Python strings


def read_columns(
    path: Path, decode: Callable[[Path], dict[str, Any]], folder: Path | None
) -> dict[str, Any]:
    """``decode(path)``, from the cache in ``folder`` when an authentic entry is there."""
    if folder is None:
        return decode(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    entry = folder / f"predictions-f{FORMAT}-{digest}.npz"
    cached = _load(entry, digest)
    if cached is not None:
        return cached
    columns = decode(path)
    _save(entry, digest, columns)
    return columns


def _mac(digest: str, body: bytes) -> bytes:
    from engine.definitions.parse_cache import mac_key

    return hmac.new(mac_key(), digest.encode() + b"\n" + body, "sha256").hexdigest().encode()


def _load(entry: Path, digest: str) -> dict[str, Any] | None:
    import numpy as np

    try:
        mac, _, body = entry.read_bytes().partition(b"\n")
        if not hmac.compare_digest(mac, _mac(digest, body)):
            return None
        with np.load(io.BytesIO(body), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, KeyError, EOFError):
        return None
    text = set(arrays.pop(_TEXT, np.array([], dtype=str)).tolist())
    return {
        name: np.asarray(values.tolist(), dtype=object) if name in text else values
        for name, values in arrays.items()
    }


def _save(entry: Path, digest: str, columns: dict[str, Any]) -> None:
    """Write the entry; skipped when a column can't be kept exactly, or nothing is written."""
    import numpy as np

    arrays: dict[str, Any] = {}
    text: list[str] = []
    for name, values in columns.items():
        if values.dtype != object:
            arrays[name] = values
        elif all(type(v) is str for v in values):
            arrays[name] = np.asarray(values.tolist(), dtype=str)
            text.append(name)
        else:
            return
    if _TEXT in arrays:
        return
    buffer = io.BytesIO()
    arrays[_TEXT] = np.asarray(text, dtype=str)
    np.savez(buffer, **arrays)
    body = buffer.getvalue()
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_name(f".{entry.name}.{os.getpid()}.tmp")
        tmp.write_bytes(_mac(digest, body) + b"\n" + body)
        tmp.replace(entry)
    except OSError:
        pass  # a read-only checkout still works, just without the cache


__all__ = ["FORMAT", "read_columns"]
