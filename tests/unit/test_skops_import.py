"""The skops import accelerator answers exactly what skops's own ``whichmodule`` does.

``engine.store.skops_import`` replaces ``skops.io._utils.whichmodule`` while skops's
import-time scan runs (its default trusted lists name every scipy and numpy ufunc).
These tests compare the replacement with skops's own function on every ufunc and on
objects found through module ``__getattr__`` hooks, module subclasses and nowhere, and
check that a fresh import with the accelerator builds the same default lists as skops
imported plainly.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest
import scipy.special

from engine.store import skops_import
from engine.store.skops_import import _Index, _scan, fast_whichmodule, import_skops

sio = import_skops()
from skops.io import _utils  # noqa: E402  (after the import the accelerator makes)

ORIGINAL = getattr(_utils.whichmodule, "__wrapped__", _utils.whichmodule)


def _answers(objects: list[object]) -> tuple[list[str], list[str]]:
    """(skops's answer, the accelerated answer) for each object, during a scan."""
    fast = fast_whichmodule(ORIGINAL)
    _scan.index = _Index()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = [ORIGINAL(o, o.__name__) for o in objects]  # type: ignore[attr-defined]
            ours = [fast(o, o.__name__) for o in objects]  # type: ignore[attr-defined]
    finally:
        _scan.index = None
    return theirs, ours


def test_every_ufunc_is_named_as_skops_names_it() -> None:
    ufuncs = [
        getattr(module, name)
        for module in (scipy.special, np)
        for name in dir(module)
        if isinstance(getattr(module, name), np.ufunc)
    ]
    assert len(ufuncs) > 200
    theirs, ours = _answers(ufuncs)
    assert ours == theirs
    assert any(name.startswith("scipy.special") for name in ours)


class _Nameless:
    """An object without ``__module__`` (as a ufunc has none), findable by its name."""

    __slots__ = ("__name__",)

    def __init__(self, name: str) -> None:
        self.__name__ = name

    def __getattribute__(self, attr: str) -> object:
        if attr == "__module__":
            raise AttributeError(attr)
        return object.__getattribute__(self, attr)


class _SubModule(types.ModuleType):
    pass


def test_hooks_subclasses_order_and_misses_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    hooked_obj, sub_obj, plain_obj, late_obj = (
        _Nameless(n) for n in ("zz_hooked", "zz_sub", "zz_plain", "zz_late")
    )
    nowhere = _Nameless("zz_nowhere")
    hooked = types.ModuleType("zz_hooked_mod")
    hooked.__getattr__ = lambda name: hooked_obj if name == "zz_hooked" else None  # type: ignore[method-assign]
    sub = _SubModule("zz_sub_mod")
    sub.zz_sub = sub_obj  # type: ignore[attr-defined]
    first, second = types.ModuleType("zz_first"), types.ModuleType("zz_second")
    first.zz_plain = "not it"  # type: ignore[attr-defined]  # same name, another object
    second.zz_plain = plain_obj  # type: ignore[attr-defined]
    third = types.ModuleType("zz_third")
    third.zz_plain = plain_obj  # type: ignore[attr-defined]  # a later holder loses
    for module in (hooked, sub, first, second, third):
        monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(sys.modules, "zz_none", None)  # type: ignore[arg-type]
    objects = [hooked_obj, sub_obj, plain_obj, nowhere]
    theirs, ours = _answers(objects)
    assert ours == theirs == ["zz_hooked_mod", "zz_sub_mod", "zz_second", "__main__"]
    # a module that appears after the index was built is seen: the index is rebuilt
    fast = fast_whichmodule(ORIGINAL)
    _scan.index = _Index()
    try:
        assert fast(late_obj, "zz_late") == "__main__"
        late = types.ModuleType("zz_late_mod")
        late.zz_late = late_obj  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "zz_late_mod", late)
        assert fast(late_obj, "zz_late") == ORIGINAL(late_obj, "zz_late") == "zz_late_mod"
    finally:
        _scan.index = None


def test_outside_the_import_it_is_skops_own() -> None:
    fast = fast_whichmodule(ORIGINAL)
    assert _scan.index is None
    assert fast(np.add, "add") == ORIGINAL(np.add, "add")
    assert fast(json.dumps, "dumps") == "json"  # __module__ answers first


def test_only_known_skops_versions_are_accelerated() -> None:
    utils = types.ModuleType("skops.io._utils")
    utils.whichmodule = ORIGINAL  # type: ignore[attr-defined]
    assert skops_import.accelerate(utils) is True
    assert utils.whichmodule is not ORIGINAL  # type: ignore[attr-defined]
    again = utils.whichmodule  # type: ignore[attr-defined]
    assert skops_import.accelerate(utils) is True
    assert utils.whichmodule is again  # type: ignore[attr-defined]  # not wrapped twice
    real = sys.modules["skops"].__version__
    try:
        sys.modules["skops"].__version__ = "9.0.0"
        other = types.ModuleType("skops.io._utils")
        other.whichmodule = ORIGINAL  # type: ignore[attr-defined]
        assert skops_import.accelerate(other) is False
        assert other.whichmodule is ORIGINAL  # type: ignore[attr-defined]
    finally:
        sys.modules["skops"].__version__ = real


DEFAULTS = """
import json, sys
{prelude}
from skops.io import _trusted_types as t, _utils
print(json.dumps([t.SCIPY_UFUNC_TYPE_NAMES, t.NUMPY_UFUNC_TYPE_NAMES,
                  hasattr(_utils.whichmodule, "__wrapped__")]))
"""


def test_a_fresh_import_builds_skops_default_lists() -> None:
    """In new processes that loaded the engine first: accelerated and plain agree."""
    loaded = "import engine.cli, engine.training.train as t; t.preload_libraries.__doc__\n"
    accelerated = loaded + "from engine.store.skops_import import import_skops; import_skops()"
    plain = loaded + "import skops.io"
    outputs = []
    for prelude in (accelerated, plain):
        done = subprocess.run(
            [sys.executable, "-c", DEFAULTS.format(prelude=prelude)],
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.append(json.loads(done.stdout))
    (scipy_fast, numpy_fast, wrapped), (scipy_plain, numpy_plain, not_wrapped) = outputs
    assert wrapped and not not_wrapped
    assert scipy_fast == scipy_plain and len(scipy_fast) > 100
    assert numpy_fast == numpy_plain
