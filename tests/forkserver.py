"""The ``mlops`` command in a fresh process without paying its libraries' import each time.

Most end-to-end tests run ``mlops`` dozens of times; each run used to start an
interpreter and import scikit-learn, DVC, pyarrow, skops and pydantic again (3-5 CPU
seconds, most of a run). Here one *server* process per pytest worker imports those
third-party libraries once — no engine module, so nothing of the engine's own state (the
audit log's run id, caches, the collector policy) is decided before a run — and forks
a child per command. The child is a process of its own, as ``subprocess.run`` gives:
its own working folder, environment (exactly the one the test passes), ``argv``, standard
input (``/dev/null``), output and error files (read back as ``stdout``/``stderr``), exit
status (from ``sys.exit`` or ``os._exit``) and interpreter teardown (atexit handlers
run); it runs the console script's entry point, ``engine.cli:main``.

What differs from exec'ing the console script: the libraries above are imported before
the command starts (so a test about what a command imports, or how fast it starts, must
exec it: those use ``sys.executable`` directly), and all children share the server's
hash seed. ``MLOPS_TEST_EXEC=1`` runs every command by exec'ing the console script, as
does a command whose environment changes a variable the interpreter reads as it starts
(``PYTHON*``: a path, the hash seed).

Protocol (a Unix socket; the server is single-threaded, so forking is safe): the client
sends one JSON line ``{"argv", "cwd", "env"}`` with three file descriptors (stdin,
stdout, stderr) attached; a helper child answers ``{"pid"}`` once the command runs, then
``{"status"}`` (as ``os.waitpid`` gives it) when it ends.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import locale
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

MLOPS = Path(sys.executable).parent / "mlops"
# Imported once by the server; each is imported by some command (never an engine module).
LIBRARIES = (
    "click",
    "yaml",
    "numpy",
    "pydantic",
    "pydantic.main",
    "pydantic.fields",
    "pydantic.json_schema",
    "pydantic.functional_validators",
    "pydantic.types",
    "logging.handlers",
    "multiprocessing",
    "narwhals",
    "pandas",
    "pyarrow",
    "pyarrow.csv",
    "pyarrow.parquet",
    "scipy.stats",
    "sklearn.base",
    "sklearn.linear_model",
    "sklearn.ensemble",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "sklearn.metrics",
    "sklearn.model_selection",
    "sklearn.datasets",
    "skops.io",
    "dvc.repo",
    "dvc.api",
    "git",
    "github3",
    "requests",
    "jsonschema",
)


# -- the server ---------------------------------------------------------------------------


def _serve(path: str) -> None:
    """Fork a command per request on the Unix socket ``path``, until the worker is gone."""
    import importlib
    import select

    for name in LIBRARIES:
        importlib.import_module(name)
    import gc

    gc.collect()
    gc.freeze()  # the children's collections leave the shared pages alone
    parent = os.getppid()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    signal.signal(signal.SIGTERM, _stop)
    print("ready", flush=True)
    while os.getppid() == parent:
        _reap(os.WNOHANG)  # the helpers (reaped here, their CPU time counts as ours)
        if not select.select([listener], [], [], 1.0)[0]:
            continue
        conn, _ = listener.accept()
        if os.fork() == 0:  # the helper: starts one command and reports how it ended
            listener.close()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            _helper(conn)  # returns only in the command's process
            return
        conn.close()
    _stop()


def _reap(flags: int) -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, flags)[0]:
            pass


def _stop(*_: object) -> None:
    _reap(0)
    os._exit(0)


def _helper(conn: socket.socket) -> None:
    message, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
    while not message.endswith(b"\n"):
        chunk = conn.recv(1 << 16)
        assert chunk, "the request ended early"
        message += chunk
    request = json.loads(message)
    pid = os.fork()
    if pid == 0:  # the command
        conn.close()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = [str(MLOPS), *request["argv"]]
        sys.path[0] = str(MLOPS.parent)  # as for the console script: its folder, not ours
        import numpy

        numpy.random.seed()  # a fresh interpreter seeds numpy's global generator anew
        return  # to _main, which runs the command at the top of the interpreter
    for fd in fds:
        os.close(fd)
    conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    _, status = os.waitpid(pid, 0)
    conn.sendall(json.dumps({"status": status}).encode() + b"\n")
    conn.close()
    os._exit(0)


def _main() -> None:
    _serve(sys.argv[1])
    # Here only in a command's process: run it as the console script does.
    from engine.cli import main

    sys.exit(main())


# -- the client -----------------------------------------------------------------------------


class _Server:
    """The server process for this pytest worker (started on first use, killed at exit)."""

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="mlops-fork-")
        self.path = os.path.join(self.folder, "socket")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
        self.startup = _startup(env)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.forkserver", self.path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            env=env,
            cwd=Path(__file__).resolve().parents[1],
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line == b"ready\n", f"the fork server did not start: {line!r}"
        atexit.register(self.close)

    def close(self) -> None:
        self.process.terminate()  # it waits for its helpers, then exits
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
            os.rmdir(self.folder)


def _startup(env: dict[str, str]) -> dict[str, str]:
    """The variables the interpreter reads as it starts (``PYTHONPATH``, ``PYTHONHASHSEED``,
    ...): a forked child would keep the server's, so a command given others is exec'd."""
    return {k: v for k, v in env.items() if k.startswith("PYTHON")}


_server: _Server | None = None
_lock = threading.Lock()


def _get() -> _Server:
    global _server
    with _lock:
        if _server is None or _server.process.poll() is not None:
            _server = _Server()
        return _server


def _text(data: bytes) -> str:
    """As ``subprocess.run(text=True)`` decodes: locale encoding, universal newlines."""
    decoded = data.decode(locale.getpreferredencoding(False))
    return decoded.replace("\r\n", "\n").replace("\r", "\n")


def run(
    args: list[str] | tuple[str, ...],
    *,
    cwd: Path | str,
    env: dict[str, str] | None = None,
    timeout: float | None = 300,
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run([MLOPS, *args], cwd=, env=, capture_output=True, text=True,
    timeout=)``, the command forked by the server (see the module doc)."""
    command = [str(MLOPS), *args]
    env = dict(os.environ if env is None else env)
    server = None if os.environ.get("MLOPS_TEST_EXEC") == "1" else _get()
    if server is None or _startup(env) != server.startup:
        return subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )
    with (
        open(os.devnull, "rb") as stdin,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn,
    ):
        conn.connect(server.path)
        request = json.dumps({"argv": list(args), "cwd": str(cwd), "env": env}).encode()
        socket.send_fds(conn, [request + b"\n"], [stdin.fileno(), out.fileno(), err.fileno()])
        replies = conn.makefile("rb")
        pid = json.loads(replies.readline())["pid"]
        conn.settimeout(timeout)
        started = time.monotonic()
        try:
            line = replies.readline()
        except TimeoutError:
            line = b""
        if not line:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            raise subprocess.TimeoutExpired(command, time.monotonic() - started)
        status = json.loads(line)["status"]
        out.seek(0)
        err.seek(0)
        stdout, stderr = _text(out.read()), _text(err.read())
    return subprocess.CompletedProcess(command, os.waitstatus_to_exitcode(status), stdout, stderr)


if __name__ == "__main__":
    _main()
