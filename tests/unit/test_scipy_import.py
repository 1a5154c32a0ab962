"""scipy imported for a training: the same functions and capabilities, docstrings as written.

``engine.training.scipy_import.docs_left_alone`` makes scipy's ``xp_capabilities``
decorator skip its docstring rewriting while the training libraries are imported. These
tests apply the real decorator inside and outside the block, and compare a fresh import
of ``scipy.stats`` under the block with a plain one (modules, order, capabilities table).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from scipy._lib import _array_api, _docscrape

from engine.training import scipy_import
from engine.training.scipy_import import docs_left_alone

NOTE = "Array API Standard Support"


def _decorated() -> object:
    def ranked(x: object) -> object:
        """
        Rank the values.

        Parameters
        ----------
        x : array_like
            The values.
        """
        return x

    return _array_api.xp_capabilities(cpu_only=True)(ranked)


def test_inside_the_block_a_function_keeps_its_docstring_and_its_capabilities() -> None:
    with docs_left_alone():
        quiet = _decorated()
    noted = _decorated()
    assert quiet.__doc__ is not None and NOTE not in quiet.__doc__
    assert quiet.__doc__.startswith("Rank the values.\n\n        Parameters")
    assert NOTE in str(noted.__doc__)
    table = _array_api.xp_capabilities_table
    assert table[quiet] == table[noted]


def test_the_block_puts_scipys_own_names_back() -> None:
    with docs_left_alone():
        assert _array_api.FunctionDoc is not _docscrape.FunctionDoc
    assert _array_api.FunctionDoc is _docscrape.FunctionDoc
    assert NOTE in str(_decorated().__doc__)


def test_an_unknown_scipy_version_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scipy_import, "KNOWN", ("0.0.",))
    with docs_left_alone():
        assert _array_api.FunctionDoc is _docscrape.FunctionDoc
        assert NOTE in str(_decorated().__doc__)


def test_the_locked_scipy_is_one_it_knows() -> None:
    """A new scipy in the lock: check its ``xp_capabilities`` still reads ``FunctionDoc``
    and ``_make_capabilities_note`` from the module when it runs, then add it to KNOWN."""
    import scipy

    assert scipy.__version__.startswith(scipy_import.KNOWN), scipy.__version__


FRESH = """
import json, sys
quiet = sys.argv[1] == "quiet"
from engine.training.scipy_import import docs_left_alone
if quiet:
    block = docs_left_alone()
    block.__enter__()
before = set(sys.modules)
import scipy.stats
from scipy._lib import _array_api, _docscrape
if quiet:
    block.__exit__(None, None, None)
table = {f"{getattr(f, '__module__', '?')}.{getattr(f, '__qualname__', f.__name__)}":
         repr(sorted(c.items())) for f, c in _array_api.xp_capabilities_table.items()}
noted = sum("Array API Standard Support" in (f.__doc__ or "")
            for f in _array_api.xp_capabilities_table)
print(json.dumps({"modules": [m for m in sys.modules if m not in before], "table": table,
                  "noted": noted, "restored": _array_api.FunctionDoc is _docscrape.FunctionDoc}))
"""


def _fresh(mode: str) -> dict[str, object]:
    # one hash seed for both: numpy's __all__ is built from sets, and scipy imports it with *
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        [sys.executable, "-c", FRESH, mode], capture_output=True, text=True, check=True, env=env
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_a_fresh_import_under_the_block_imports_the_same_modules_in_the_same_order() -> None:
    plain, quiet = _fresh("plain"), _fresh("quiet")
    assert quiet["modules"] == plain["modules"]  # skops names objects by this order
    assert quiet["table"] == plain["table"]
    assert len(plain["table"]) > 100  # type: ignore[arg-type]
    assert plain["noted"] and quiet["noted"] == 0
    assert quiet["restored"] and plain["restored"]
