"""Importing skops (``skops.io``) cheaply: once per training run, before any worker forks.

``import skops.io`` costs two things that do not depend on skops's own code:

- at import, skops builds its *default* trusted list by calling
  ``sklearn.utils.all_estimators()``, which imports all of scikit-learn (0.4 s). We never
  use that default (loading passes an explicit list checked against ours), so the scan
  is skipped during the import (``get_untrusted_types`` then reports estimator classes
  too, and our list has them);
- it names every scipy ufunc with ``skops.io._utils.whichmodule``, which, for an object
  without ``__module__``, asks every loaded module in import order for the name, first
  match wins: 230 ufuncs times ~1,800 modules in a process that has loaded the engine,
  pandas and scikit-learn, 0.8 s of CPU, more than the rest of the import. For the skops
  versions in :data:`FAST_WHICHMODULE`, an import hook replaces ``whichmodule`` as soon
  as ``skops.io._utils`` is executed (before skops's scan runs) with
  :func:`fast_whichmodule`, which during the import answers from an index of the
  modules' names (:class:`_Index`): same modules, same order, same answer
  (``tests/unit/test_skops_import.py`` compares it with skops's own on every ufunc and
  on objects of every kind), in a fifth of the time. After the import it is skops's own.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

from engine.importhook import AfterExec

FAST_WHICHMODULE = ("0.16.",)
"""skops versions whose ``whichmodule`` :func:`fast_whichmodule` reproduces exactly."""

_NO_DICT: dict[str, Any] = {}
_UTILS = "skops.io._utils"


def fast_whichmodule(original: Callable[[Any, str], str]) -> Callable[[Any, str], str]:
    """skops's ``whichmodule(obj, name)`` (``original``), answered from a :class:`_Index`
    while :func:`import_skops` runs skops's import-time scan; ``original`` otherwise.

    The answer is the first module in ``sys.modules`` order (``__main__``,
    ``__mp_main__`` and ``None`` entries skipped) whose attribute ``name`` is ``obj``;
    ``"__main__"`` if none is.
    """

    def whichmodule(obj: Any, name: str) -> str:
        module_name = getattr(obj, "__module__", None)
        if module_name is not None:
            return str(module_name)
        index = _scan.index
        if index is None or "." in name or name.startswith("__"):
            return original(obj, name)  # outside the scan, dotted or special names
        return index.first_module(obj, name)

    whichmodule.__doc__ = original.__doc__
    whichmodule.__wrapped__ = original  # type: ignore[attr-defined]
    return whichmodule


class _Index:
    """Which plain modules hold which names, for one state of ``sys.modules``.

    ``getattr(module, name)`` on a plain module (``types.ModuleType`` itself) is its
    ``__dict__`` entry, else its module-level ``__getattr__``; so for plain modules the
    answer is read from an inverted index of their ``__dict__`` keys (70,000 keys, built
    once), and ``getattr`` is called, in order, only on the modules before the first
    plain hit that could answer otherwise: module subclasses and modules with a
    ``__getattr__``. Rebuilt whenever ``sys.modules`` holds other modules than it did.
    """

    def __init__(self) -> None:
        self.snapshot: tuple[Any, ...] = ()
        self.names: list[str] = []
        self.modules: list[Any] = []
        self.holders: dict[str, list[int]] = {}
        self.asked: list[int] = []

    def refresh(self) -> None:
        modules = sys.modules.copy()
        snapshot = tuple(modules.values())
        if snapshot == self.snapshot:
            return
        self.snapshot, self.names, self.modules = snapshot, [], []
        self.holders, self.asked = {}, []
        for module_name, module in modules.items():
            if module_name in ("__main__", "__mp_main__") or module is None:
                continue
            position = len(self.names)
            self.names.append(module_name)
            self.modules.append(module)
            namespace = getattr(module, "__dict__", None)
            if type(module) is not ModuleType or not isinstance(namespace, dict):
                self.asked.append(position)
                continue
            if "__getattr__" in namespace:
                self.asked.append(position)
            for key in namespace:
                self.holders.setdefault(key, []).append(position)

    def first_module(self, obj: Any, name: str) -> str:
        self.refresh()
        first = len(self.names)
        for position in self.holders.get(name, ()):
            module = self.modules[position]
            if type(module) is ModuleType and module.__dict__.get(name, _NO_DICT) is obj:
                first = position
                break
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # as skops does
            for position in self.asked:
                if position >= first:
                    break
                try:
                    found = getattr(self.modules[position], name, None)
                except (AttributeError, ImportError):
                    continue
                if found is obj:
                    return self.names[position]
        return self.names[first] if first < len(self.names) else "__main__"


class _Scan(threading.local):
    index: _Index | None = None


_scan = _Scan()


def accelerate(utils: ModuleType) -> bool:
    """Replace ``utils.whichmodule`` (skops.io._utils) if this skops version is known."""
    skops = sys.modules.get("skops")
    version = str(getattr(skops, "__version__", ""))
    original = getattr(utils, "whichmodule", None)
    if not version.startswith(FAST_WHICHMODULE) or not callable(original):
        return False
    if not hasattr(original, "__wrapped__"):
        setattr(utils, "whichmodule", fast_whichmodule(original))  # noqa: B010
    return True


_lock = threading.Lock()


def skops_io() -> Any:
    """``skops.io``, imported once (:func:`import_skops`)."""
    return import_skops()


def import_skops() -> Any:
    """``skops.io``, imported without scanning every scikit-learn estimator, and with
    :func:`fast_whichmodule` installed before skops's import-time scan of the ufuncs.

    Thread-safe: a second caller waits for the first one's import to finish (a module
    in ``sys.modules`` may still be half-imported)."""
    global _imported
    if _imported is not None:
        return _imported
    with _lock:
        if _imported is None:
            _imported = _import()
    return _imported


_imported: Any = None


def _import() -> Any:
    if "skops.io" in sys.modules:  # imported by someone else: import waits for it to finish
        import skops.io

        return skops.io
    import sklearn.utils

    real = sklearn.utils.all_estimators
    hook = AfterExec(_UTILS, accelerate)
    sklearn.utils.all_estimators = lambda *args, **kwargs: []
    sys.meta_path.insert(0, hook)
    _scan.index = _Index()
    try:
        import skops.io as sio
    finally:
        _scan.index = None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(hook)
        sklearn.utils.all_estimators = real
    return sio


__all__ = [
    "FAST_WHICHMODULE",
    "accelerate",
    "fast_whichmodule",
    "import_skops",
    "skops_io",
]
