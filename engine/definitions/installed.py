"""The versions of installed distributions, read without parsing their metadata.

``importlib.metadata.version`` parses a distribution's whole ``METADATA`` file with the
e-mail parser: tens of milliseconds for one that carries a long README (pydantic's), paid
by every command that keys a cache on a version. Installers name the metadata folder
``{name}-{version}.dist-info`` (both normalized, as the wheel format requires), so the
version is in a directory listing; ``importlib.metadata`` answers only when no such
folder is on ``sys.path`` (an egg, a zip).

For cache keys, where all that matters is that the same installation gives the same
answer. A model's fingerprint keeps reading scikit-learn's version from its metadata
(:func:`engine.training.planning.sklearn_version`), and may remember that answer under
:func:`state`: a digest of everything an installation changes when it could change it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sys

_SUFFIX = ".dist-info"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


@functools.cache
def _listed(folder: str) -> dict[str, tuple[str, str]]:
    """Normalized distribution name to its version and ``.dist-info`` folder's name, for
    the folders in ``folder``."""
    try:
        names = sorted(os.listdir(folder or "."))
    except OSError:
        return {}
    found: dict[str, tuple[str, str]] = {}
    for name in names:
        if name.endswith(_SUFFIX):
            dist, sep, version = name[: -len(_SUFFIX)].partition("-")
            if sep and version:
                found.setdefault(_normal(dist), (version, name))
    return found


@functools.cache
def version(dist: str) -> str:
    """The installed version of distribution ``dist``, as the first ``sys.path`` entry has it.

    Raises ``importlib.metadata.PackageNotFoundError`` when it is not installed.
    """
    wanted = _normal(dist)
    for folder in sys.path:
        found = _listed(folder).get(wanted)
        if found is not None:
            return found[0]
    from importlib import metadata

    return metadata.version(dist)


def state(dist: str) -> str | None:
    """A digest that changes whenever ``importlib.metadata.version(dist)`` could: the
    ``sys.path`` entries up to the one holding ``dist``'s ``.dist-info`` folder, each with
    its inode and modification time (installing, upgrading or removing a distribution adds,
    renames or removes a folder in one of them; one in an earlier entry would shadow it),
    and the inode, size and modification time of that folder's ``METADATA`` file.

    None when no ``.dist-info`` folder on ``sys.path`` names ``dist`` (an egg, a zip): then
    there is nothing to watch, and the answer is read each time.
    """
    wanted = _normal(dist)
    digest = hashlib.sha256()
    for folder in sys.path:
        try:
            info = os.stat(folder or ".")
            seen = f"{info.st_dev}:{info.st_ino}:{info.st_mtime_ns}"
        except OSError:
            seen = "missing"
        digest.update(f"{folder}\0{seen}\n".encode("utf-8", "surrogateescape"))
        found = _listed(folder).get(wanted)
        if found is not None:
            break
    else:
        return None
    metadata_file = os.path.join(folder or ".", found[1], "METADATA")
    try:
        info = os.stat(metadata_file)
    except OSError:
        return None
    digest.update(f"{metadata_file}\0{info.st_ino}:{info.st_size}:{info.st_mtime_ns}".encode())
    return digest.hexdigest()


__all__ = ["state", "version"]
