"""The versions of installed distributions, read without parsing their metadata.

``importlib.metadata.version`` parses a distribution's whole ``METADATA`` file with the
e-mail parser: tens of milliseconds for one that carries a long README (pydantic's), paid
by every command that keys a cache on a version. Installers name the metadata folder
``{name}-{version}.dist-info`` (both normalized, as the wheel format requires), so the
version is in a directory listing; ``importlib.metadata`` answers only when no such
folder is on ``sys.path`` (an egg, a zip).

:func:`version` is for cache keys, where all that matters is that the same installation
gives the same answer. What a model's fingerprint records is the ``Version`` field of
scikit-learn's metadata (:func:`metadata_version`), read as ``importlib.metadata`` reads it
but without the e-mail parser.
"""

from __future__ import annotations

import functools
import os
import re
import sys

_SUFFIX = ".dist-info"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


@functools.cache
def _entries(folder: str) -> tuple[str, ...] | None:
    """The names in ``folder`` (sorted), once per process: ``()`` when there is no such
    folder, None when it is no plain folder (a zip archive, ...)."""
    try:
        return tuple(sorted(os.listdir(folder or ".")))
    except (FileNotFoundError, PermissionError):
        return ()  # nothing importlib.metadata can read either
    except OSError:
        return None


@functools.cache
def _listed(folder: str) -> dict[str, tuple[str, str]]:
    """Normalized distribution name to its version and ``.dist-info`` folder's name, for
    the folders in ``folder``."""
    found: dict[str, tuple[str, str]] = {}
    for name in _entries(folder) or ():
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


def metadata_version(dist: str) -> str:
    """``importlib.metadata.version(dist)``, without the e-mail parser (whose import alone
    costs a cold plan more than the rest of its start).

    Read from the ``Version`` field of ``dist``'s ``.dist-info`` folder in the first
    ``sys.path`` entry that has metadata for it, as ``importlib.metadata`` reads it (the
    fields end at the first line that is none; names are case-insensitive; the value
    keeps all but its leading blanks). Whenever the answer could be another one's
    (an egg, two folders for one distribution, a zip on the path, a finder of
    distributions beside the path's), ``importlib.metadata`` answers itself.
    """
    wanted = _normal(dist)
    if all(_only_the_path_finds(finder) for finder in sys.meta_path):
        for folder in sys.path:
            found = _plain(folder)
            if found is not None and wanted not in found:
                continue  # nothing of it here
            info = None if found is None else found[wanted]
            value = None if info is None else _version_field(os.path.join(folder or ".", info))
            if value is not None:
                return value
            break  # the first metadata found is not a plain one
    from importlib import metadata

    return metadata.version(dist)


def _only_the_path_finds(finder: object) -> bool:
    """Whether ``finder`` finds no distributions, or is the path finder (sys.path)."""
    import importlib.machinery

    return finder is importlib.machinery.PathFinder or not hasattr(finder, "find_distributions")


@functools.cache
def _plain(folder: str) -> dict[str, str | None] | None:
    """Normalized distribution name to its one ``.dist-info`` folder in ``folder`` (None:
    more than one, or an egg's metadata too); None when ``folder`` is no plain folder."""
    names = _entries(folder)
    if names is None or "EGG-INFO" in names:
        return None
    found: dict[str, str | None] = {}
    for name in names:
        if name.endswith(_SUFFIX):
            key, clear = _normal(name[: -len(_SUFFIX)].partition("-")[0]), True
        elif name.endswith((".egg-info", ".egg")):
            key, clear = _normal(name.rpartition(".")[0].partition("-")[0]), False
        else:
            continue
        found[key] = name if clear and key not in found else None
    return found


def _version_field(info: str) -> str | None:
    try:
        with open(os.path.join(info, "METADATA"), encoding="utf-8") as lines:
            for line in lines:
                if line[:1] in (" ", "\t"):
                    continue  # a field's continuation line
                name, colon, value = line.partition(":")
                if not colon:
                    return None  # the end of the fields
                if name.lower() == "version":
                    return value.lstrip(" \t").rstrip("\r\n")
    except (OSError, UnicodeDecodeError):
        return None
    return None


__all__ = ["metadata_version", "version"]
