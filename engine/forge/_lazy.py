"""Defer a module's import until one of its attributes is used.

github3.py imports PyJWT, and with it cryptography, at import time for GitHub App
authentication, which the engine never uses: about 40% of ``import github3`` (60+ ms), paid
on every event that publishes. :func:`lazily` puts a stand-in module under the name; the
first attribute read from it imports the real module (which then replaces the stand-in in
``sys.modules``) and answers from it, so a caller that does use it sees no difference.
(``importlib.util.LazyLoader`` is not enough: on Python 3.11 an ``import`` statement reads
the module's ``__spec__`` and so loads it at once.)
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
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


__all__ = ["lazily"]
