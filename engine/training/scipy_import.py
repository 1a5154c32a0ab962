"""Importing scipy for a training without rewriting hundreds of its docstrings.

scikit-learn imports ``scipy.stats`` (and with it ``scipy.optimize``, ``scipy.spatial``,
``scipy.special``...). In scipy 1.17, each of their public functions is decorated with
``scipy._lib._array_api.xp_capabilities``, which, at import, parses the function's
docstring with a numpydoc parser (``FunctionDoc``), appends a note (the "Array API
Standard Support" table) and renders the docstring again: a fifth of the CPU time of
importing what a training needs (0.3-0.5 s), for text only ``help()`` shows. The table of
capabilities the decorator records (``xp_capabilities_table``, what scipy's own tests
read) does not depend on it.

:func:`docs_left_alone` makes that decorator leave docstrings as they are while a block
runs, for the scipy versions in :data:`KNOWN` (whose decorator reads both names from its
module's globals when it runs): an import hook swaps ``FunctionDoc`` and the note's
builder in ``scipy._lib._array_api`` for :class:`_KeptDoc` and :func:`_no_note` as soon as
that module has executed, at the point of the import where it would be imported anyway
(so the order of ``sys.modules`` is unchanged: skops names objects by the first module
holding them). The block's end restores them; a function decorated later gets its note.
Only docstrings differ: a function decorated inside the block keeps its own docstring
(leading blank lines dropped, as the decorator's rendering does), without the note.
``tests/unit/test_scipy_import.py`` checks the capabilities table and the functions are
those of a plain import.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from engine.importhook import AfterExec

KNOWN = ("1.17.",)
"""scipy versions whose ``xp_capabilities`` decorator :func:`docs_left_alone` knows."""

_MODULE = "scipy._lib._array_api"


class _KeptDoc:
    """``FunctionDoc``'s part in ``xp_capabilities``: the docstring, as it is.

    The decorator appends the note to ``doc["Notes"]`` (here: a list nobody keeps), then
    sets ``str(doc)`` without its first line (the signature) and leading blank lines.
    """

    def __init__(self, func: Any, *args: Any, **kwargs: Any) -> None:
        self.doc = getattr(func, "__doc__", None) or ""

    def __getitem__(self, section: str) -> list[str]:
        return []

    def __str__(self) -> str:
        return "\n" + self.doc


def _no_note(*args: Any, **kwargs: Any) -> str:
    return ""


_SWAPS = {"FunctionDoc": _KeptDoc, "_make_capabilities_note": _no_note}


class _Swapped:
    """The names swapped in the module, to put back."""

    def __init__(self) -> None:
        self.originals: list[tuple[ModuleType, str, Any]] = []
        self.active = True

    def swap(self, module: ModuleType) -> bool:
        scipy = sys.modules.get("scipy")
        if not self.active:  # the module executed again after the block (a reload)
            return False
        if not str(getattr(scipy, "__version__", "")).startswith(KNOWN):
            return False
        if not all(callable(getattr(module, name, None)) for name in _SWAPS):
            return False
        for name, replacement in _SWAPS.items():
            self.originals.append((module, name, getattr(module, name)))
            setattr(module, name, replacement)
        return True

    def restore(self) -> None:
        self.active = False
        for module, name, original in reversed(self.originals):
            setattr(module, name, original)
        self.originals.clear()


@contextlib.contextmanager
def docs_left_alone() -> Iterator[None]:
    """While the block runs, scipy's ``xp_capabilities`` leaves docstrings as they are."""
    swapped = _Swapped()
    hook = None
    module = sys.modules.get(_MODULE)
    if module is None:
        hook = AfterExec(_MODULE, swapped.swap)
        sys.meta_path.insert(0, hook)
    else:
        swapped.swap(module)
    try:
        yield
    finally:
        if hook is not None:
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(hook)
        swapped.restore()


__all__ = ["KNOWN", "docs_left_alone"]
