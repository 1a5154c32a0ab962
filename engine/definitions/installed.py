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


def metadata_version(dist: str) -> str:
    """``importlib.metadata.version(dist)``, read from the ``Version`` field of the first
    ``.dist-info`` folder on ``sys.path`` that names ``dist``, without the e-mail parser
    (whose import alone costs a cold plan more than the rest of its start).

    The field is the one ``importlib.metadata`` reads (the header block ends at the first
    blank line; names are case-insensitive); without a readable one it answers.
    """
    wanted = _normal(dist)
    for folder in sys.path:
        found = _listed(folder).get(wanted)
        if found is None:
            continue
        try:
            with open(os.path.join(folder or ".", found[1], "METADATA"), encoding="utf-8") as f:
                for line in f:
                    if line[:1] in (" ", "\t"):
                        continue  # a field's continuation line
                    name, colon, value = line.partition(":")
                    if not colon:
                        break  # the blank line after the fields (or no field at all)
                    if name.lower() == "version" and value.strip():
                        return value.strip()
        except (OSError, UnicodeDecodeError):
            pass
        break
    from importlib import metadata

    return metadata.version(dist)


__all__ = ["metadata_version", "version"]
