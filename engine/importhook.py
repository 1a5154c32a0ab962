"""Run a function on a third-party module as soon as it has executed, during its import.

The engine mends two slow paths of its libraries this way (``engine.store.skops_import``,
``engine.training.scipy_import``): at the point of the import where the module would be
imported anyway, so the order of ``sys.modules`` is unchanged.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
from collections.abc import Callable
from types import ModuleType
from typing import Any


class AfterExec(importlib.abc.MetaPathFinder):
    """Finds module ``name`` as usual (put it first on ``sys.meta_path``); once the module
    has executed, calls ``then(module)``."""

    def __init__(self, name: str, then: Callable[[ModuleType], object]) -> None:
        self.name = name
        self.then = then

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        loader = getattr(spec, "loader", None)
        if spec is None or not hasattr(loader, "exec_module"):
            return spec
        execute = loader.exec_module  # type: ignore[union-attr]
        then = self.then

        def exec_module(module: ModuleType) -> None:
            execute(module)
            then(module)

        loader.exec_module = exec_module  # type: ignore[union-attr]
        return spec


__all__ = ["AfterExec"]
