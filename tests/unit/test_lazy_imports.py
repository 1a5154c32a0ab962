"""The event path's deferred imports: github3 without PyJWT/cryptography until used."""

from __future__ import annotations

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
