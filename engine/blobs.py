"""git's object id of a file's bytes: how the engine names content it has seen. Pure."""

from __future__ import annotations

import hashlib


def blob_id(data: bytes) -> str:
    """git's object id of ``data`` as a blob (what ``git hash-object --no-filters`` prints)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


__all__ = ["blob_id"]
