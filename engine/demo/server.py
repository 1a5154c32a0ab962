"""``mlops serve`` in a child process on a free loopback port, and a small HTTP client.

The demo serves through the real command (KServe's model server, exactly what ``mlops
serve`` runs), so what it shows is what a user gets. The server is a child process
because a server is stopped most reliably by a signal: :func:`serving` always terminates
it (and kills it if it lingers) and waits for it, so no process or port outlives the demo.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import UserError

READY_WITHIN = 60.0


@dataclass(frozen=True)
class Server:
    """A running ``mlops serve``: its base URL, port and process id."""

    url: str
    port: int
    pid: int


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: status, headers (lowercase names) and the parsed JSON body."""

    status: int
    headers: Mapping[str, str]
    body: Any


def free_port() -> int:
    """A loopback port nobody listens on right now (the kernel picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Process:
    """A started ``mlops serve`` child: :meth:`ready` waits for it, :meth:`stop` ends it."""

    server: Server
    process: subprocess.Popen[bytes]
    log: Path

    def ready(self) -> Server:
        """Wait (bounded) until it answers ``/v2/health/ready``; a UserError if it cannot."""
        deadline = time.monotonic() + READY_WITHIN
        while True:
            if self.process.poll() is not None:
                raise UserError(f"mlops serve stopped before it was ready:\n{_tail(self.log)}")
            with contextlib.suppress(OSError):
                if call(f"{self.server.url}/v2/health/ready").status == 200:
                    return self.server
            if time.monotonic() > deadline:
                raise UserError(
                    f"mlops serve was not ready in {READY_WITHIN:.0f}s:\n{_tail(self.log)}"
                )
            time.sleep(0.1)

    def stop(self) -> None:
        """Terminate it (kill it if it lingers) and wait, so its port is free again."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start(root: Path, env_name: str, log: Path, *, reload_every: float = 0) -> Process:
    """Start ``mlops serve --env ENV`` for ``root`` on a free port; its output goes to ``log``.

    ``reload_every`` > 0: the server follows the environment branch (new pins are served
    once loaded and verified). Call :meth:`Process.stop` when done (a ``with`` does).
    """
    import engine

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    # The child imports this very engine, wherever it was imported from.
    here = str(Path(engine.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    command = [sys.executable, "-m", "engine.cli", "--repo", str(root), "serve"]
    command += ["--env", env_name, "--port", str(port)]
    if reload_every > 0:
        command += ["--reload-every", str(reload_every)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    return Process(Server(f"http://127.0.0.1:{port}", port, process.pid), process, log)


@contextlib.contextmanager
def serving(root: Path, env_name: str, log: Path) -> Iterator[Server]:
    """``mlops serve --env ENV`` while the block runs, ready when it starts."""
    process = start(root, env_name, log)
    try:
        yield process.ready()
    finally:
        process.stop()


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:] if log.exists() else "(no output)"


def call(
    url: str,
    data: Any = None,
    headers: Mapping[str, str] | None = None,
    *,
    raw: bytes | None = None,
) -> Reply:
    """GET ``url`` (no data) or POST ``data`` as JSON (or ``raw`` bytes as they are); an
    HTTP error status is a Reply too."""
    body = raw if raw is not None else (None if data is None else json.dumps(data).encode())
    request = urllib.request.Request(  # noqa: S310  # a loopback URL this module built
        url,
        data=body,
        headers={"content-type": "application/json", **(headers or {})},
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            status, head, payload = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        status, head, payload = exc.code, dict(exc.headers), exc.read()
    try:
        parsed = json.loads(payload) if payload else None
    except ValueError:
        parsed = payload.decode(errors="replace")
    return Reply(status, {k.lower(): v for k, v in head.items()}, parsed)


def listening(port: int) -> bool:
    """Whether something accepts connections on loopback ``port``."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


__all__ = ["Process", "Reply", "Server", "call", "free_port", "listening", "serving", "start"]
