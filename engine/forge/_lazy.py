"""Defer a module's import until one of its attributes is used.

github3.py imports PyJWT, and with it cryptography, at import time for GitHub App
authentication, which the engine never uses: about 40% of ``import github3`` (60+ ms), paid
on every event that publishes. :func:`lazily` puts a stand-in module under the name; the
first attribute read from it imports the real module (which then replaces the stand-in in
``sys.modules``) and answers from it, so a caller that does use it sees no difference.
(``importlib.util.LazyLoader`` is not enough: on Python 3.11 an ``import`` statement reads
the module's ``__spec__`` and so loads it at once.)

:func:`import_in_background` goes the other way for a module that will surely be needed but
not yet: it imports it on a daemon thread, overlapping work that waits on subprocesses or
files (the review's git calls), so the import is done, or nearly, when it is needed.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import threading
import types
from typing import Any


class _Deferred(types.ModuleType):
    """Imports the real module on the first attribute it does not have itself."""

    def __getattr__(self, attr: str) -> Any:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        real = importlib.import_module(self.__name__)
        return getattr(real, attr)


def lazily(name: str) -> None:
    """Register ``name`` as deferred unless it is imported already or not installed."""
    if name in sys.modules or importlib.util.find_spec(name) is None:
        return
    sys.modules[name] = _Deferred(name)


def import_in_background(name: str) -> threading.Thread:
    """Start importing ``name`` on a daemon thread; a later ``import name`` gets the result.

    The import system's per-module locks make this safe: an ``import`` on another thread
    meanwhile waits for this one to finish and then shares the module. A failure here is
    dropped: the caller's own ``import`` then fails again, where it can be reported.
    """

    def run() -> None:
        with contextlib.suppress(Exception):  # the caller's own import reports it
            importlib.import_module(name)

    thread = threading.Thread(target=run, name=f"import {name}", daemon=True)
    thread.start()
    return thread


__all__ = ["import_in_background", "lazily"]
