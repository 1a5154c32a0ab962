"""Defer a module's import until one of its attributes is used.

github3.py and requests import, at import time, modules that the engine's calls never use:
PyJWT with cryptography (GitHub App authentication), ``dateutil.parser`` (for the dates
of github3's objects; the engine reads what it needs from the JSON), ``charset_normalizer``
(for a response that names no charset; GitHub's always do) and, through urllib3's HTTP/2
module, ``importlib.metadata`` (for opting in to HTTP/2). Together that is about a quarter
of importing the GitHub client, paid on every event that publishes.

:func:`lazily` puts a stand-in module under the name; the first attribute read from it
imports the real module (which then replaces the stand-in in ``sys.modules`` and on its
parent package) and answers from it, so a caller that does use it sees no difference, only
when the import happens. Names that an ``from module import name`` statement takes at
import time can be answered without the import: a function that imports the module when
called (``functions``), or a plain value (``values``, e.g. a version string read from the
installed distribution). Anything else taken that way simply imports the real module:
a library that starts using more of a deferred module costs time, never correctness.
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
from collections.abc import Callable, Iterable, Mapping
from typing import Any

_swap = threading.Lock()
"""Held while a stand-in takes itself out of ``sys.modules`` (never during an import)."""


class _Deferred(types.ModuleType):
    """Imports the real module on the first attribute it does not have itself."""

    def __getattr__(self, attr: str) -> Any:
        if attr == "__path__":  # a package's stand-in has it: this is a plain module's
            raise AttributeError(attr)
        return getattr(_real(self), attr)


def _real(stand_in: _Deferred) -> types.ModuleType:
    """The real module behind ``stand_in``, imported now if need be.

    The import itself runs outside any lock of ours: the import system's own per-module
    lock makes a second thread wait for the first one's import and share its module.
    """
    name = stand_in.__name__
    with _swap:
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]
    real = importlib.import_module(name)
    for attr, value in list(vars(stand_in).items()):
        # a submodule imported through the stand-in's __path__ was set on the stand-in
        if isinstance(value, types.ModuleType) and value.__name__ == f"{name}.{attr}":
            vars(real).setdefault(attr, value)
    return real


def lazily(
    name: str, *, functions: Iterable[str] = (), values: Mapping[str, Any] | None = None
) -> None:
    """Register ``name`` as deferred unless it is imported already or not installed.

    ``functions``: names that answer, without the import, as functions that import the
    module when called. ``values``: names answered as these values (they must be what the
    real module holds).
    """
    if name in sys.modules:
        return
    try:
        spec = importlib.util.find_spec(name)  # a submodule's parent is imported here
    except (ImportError, ValueError):
        return
    if spec is None:
        return
    stand_in = _Deferred(name)
    stand_in.__spec__ = spec
    if spec.submodule_search_locations is not None:
        # ``from package import name`` looks for ``__path__`` first: a package's stand-in
        # answers it, so that neither that nor a submodule's import needs the package
        stand_in.__path__ = list(spec.submodule_search_locations)
    for function in functions:
        setattr(stand_in, function, _forward(stand_in, function))
    for key, value in (values or {}).items():
        setattr(stand_in, key, value)
    sys.modules[name] = stand_in
    parent, _, child = name.rpartition(".")
    if parent and not hasattr(sys.modules[parent], child):
        # ``import a.b`` then ``a.b.f()`` reads b from a: the import of the real module
        # replaces it there as in sys.modules
        setattr(sys.modules[parent], child, stand_in)


def _forward(stand_in: _Deferred, function: str) -> Callable[..., Any]:
    def forward(*args: Any, **kwargs: Any) -> Any:
        return getattr(_real(stand_in), function)(*args, **kwargs)

    forward.__name__ = forward.__qualname__ = function
    forward.__module__ = stand_in.__name__
    return forward


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
