"""The event path's deferred imports: github3 without PyJWT/cryptography until used."""

from __future__ import annotations

import os
import subprocess
import sys

CHECK = """
import sys, engine.forge.github
assert "cryptography" not in sys.modules and "jwt.algorithms" not in sys.modules
import github3.apps
token = github3.apps.jwt.encode({"sub": "x"}, "k" * 32, algorithm="HS256")
assert token.count(".") == 2 and "cryptography" in sys.modules
import jwt
assert jwt.decode(token, "k" * 32, algorithms=["HS256"]) == {"sub": "x"}
print("ok")
"""


def test_github3_loads_pyjwt_only_when_it_is_used():
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr


BACKGROUND = """
import sys
from engine.forge._lazy import import_in_background
thread = import_in_background("engine.forge.github")
from engine.forge.github import GitHubForge  # waits for the thread's import, or joins it
thread.join(10)
assert not thread.is_alive() and sys.modules["engine.forge.github"].GitHubForge is GitHubForge
assert "cryptography" not in sys.modules  # still deferred, on a thread too
broken = import_in_background("engine.no_such_module")
broken.join(10)
assert not broken.is_alive() and "engine.no_such_module" not in sys.modules
try:
    import engine.no_such_module  # noqa: F401
except ModuleNotFoundError as exc:
    print("ok", exc.name)
"""


def test_a_background_import_is_shared_and_its_failure_left_to_the_caller():
    done = subprocess.run([sys.executable, "-c", BACKGROUND], capture_output=True, text=True)
    assert done.stdout.strip() == "ok engine.no_such_module", done.stderr


# What github3/requests/urllib3 import and the engine's calls never use stays unloaded, yet
# answers as soon as something does use it (and requests' version check stays quiet).
UNUSED = """
import sys, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import engine.forge.github
assert not [w for w in caught if "doesn't match a supported version" in str(w.message)], caught
real = ["importlib.metadata._meta", "charset_normalizer.api", "idna.core",
        "dateutil.parser._parser"]
assert not [m for m in real if m in sys.modules], [m for m in real if m in sys.modules]
import requests, github3.models, idna
from importlib.metadata import version
assert version("requests") == requests.__version__ and "importlib.metadata._meta" in sys.modules
response = requests.models.Response()
response._content = "héllo wörld, ça va".encode("utf-8")
assert response.apparent_encoding and "charset_normalizer.api" in sys.modules
import charset_normalizer
assert charset_normalizer.__version__ == sys.modules["charset_normalizer"].__version__
when = github3.models.GitHubCore._strptime("2026-12-01T21:31:00Z")
assert (when.year, when.tzinfo is not None) == (2026, True)
assert idna.encode("bücher.example") == b"xn--bcher-kva.example"
print("ok")
"""


def test_what_the_github_client_imports_for_nothing_waits_until_used():
    done = subprocess.run([sys.executable, "-c", UNUSED], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr


# A deferred module answers `from module import name` for the names given, whether a plain
# module or a package, without loading it; anything else loads it, once, on any thread.
PACKAGE = {
    "deferred_pkg/__init__.py": "import builtins\nbuiltins.LOADED.append(__name__)\n"
    "__version__ = '1.2.3'\nfrom .helper import double\nCONSTANT = 42\n",
    "deferred_pkg/helper.py": "import builtins\nbuiltins.LOADED.append(__name__)\n"
    "def double(x):\n    return 2 * x\n",
    "deferred_pkg/extra.py": "import builtins\nbuiltins.LOADED.append(__name__)\nVALUE = 7\n",
    "deferred_mod.py": "import builtins\nbuiltins.LOADED.append(__name__)\n"
    "def triple(x):\n    return 3 * x\nOTHER = 'other'\n",
}
STAND_INS = """
import builtins, sys, threading
builtins.LOADED = []
from engine.forge._lazy import lazily
lazily("deferred_pkg", functions=["double"], values={"__version__": "1.2.3"})
lazily("deferred_mod", functions=["triple"])
lazily("no_such_module_anywhere")
assert "no_such_module_anywhere" not in sys.modules
from deferred_pkg import __version__, double
from deferred_mod import triple
import deferred_pkg.extra  # a submodule, through the stand-in's __path__
assert __version__ == "1.2.3" and deferred_pkg.extra.VALUE == 7
assert builtins.LOADED == ["deferred_pkg.extra"], builtins.LOADED
assert double(4) == 8 and triple(2) == 6  # calling them loads the modules
assert builtins.LOADED == ["deferred_pkg.extra", "deferred_pkg", "deferred_pkg.helper",
                           "deferred_mod"], builtins.LOADED
assert sys.modules["deferred_pkg"].CONSTANT == 42
assert type(sys.modules["deferred_mod"]).__name__ == "module"
assert sys.modules["deferred_pkg"].extra is sys.modules["deferred_pkg.extra"]
# many threads reading from one stand-in at once share one real module
builtins.LOADED = []
lazily("deferred_mod2", functions=[])
import deferred_mod2 as stand_in
seen, errors = [], []
def read():
    try:
        seen.append(stand_in.OTHER)
    except Exception as exc:
        errors.append(exc)
threads = [threading.Thread(target=read) for _ in range(16)]
for t in threads: t.start()
for t in threads: t.join()
assert not errors and seen == ["other"] * 16, errors
assert builtins.LOADED == ["deferred_mod2"], builtins.LOADED
print("ok")
"""


def test_a_stand_in_answers_from_imports_and_loads_the_module_once_when_used(tmp_path):
    for name, text in {**PACKAGE, "deferred_mod2.py": PACKAGE["deferred_mod.py"]}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.getcwd()])}
    done = subprocess.run(
        [sys.executable, "-c", STAND_INS], capture_output=True, text=True, env=env
    )
    assert done.stdout.strip() == "ok", done.stderr
