"""The versions of installed distributions, read without parsing their metadata.

``importlib.metadata.version`` parses a distribution's whole ``METADATA`` file with the
e-mail parser: tens of milliseconds for one that carries a long README (pydantic's), paid
by every command that keys a cache on a version. Installers name the metadata folder
``{name}-{version}.dist-info`` (both normalized, as the wheel format requires), so the
version is in a directory listing; ``importlib.metadata`` answers only when no such
folder is on ``sys.path`` (an egg, a zip).

For cache keys, where all that matters is that the same installation gives the same
answer. A model's fingerprint keeps reading scikit-learn's version from its metadata
(:func:`engine.training.planning.sklearn_version`).
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
def _listed(folder: str) -> dict[str, str]:
    """Normalized distribution name to version, for the ``.dist-info`` folders in ``folder``."""
    try:
        names = sorted(os.listdir(folder or "."))
    except OSError:
        return {}
    found: dict[str, str] = {}
    for name in names:
        if name.endswith(_SUFFIX):
            dist, sep, version = name[: -len(_SUFFIX)].partition("-")
            if sep and version:
                found.setdefault(_normal(dist), version)
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
            return found
    from importlib import metadata

    return metadata.version(dist)


__all__ = ["version"]
