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
