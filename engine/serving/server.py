"""``mlops serve``: KServe's ``ModelServer`` with one :class:`PinnedModel` per pinned model.

The models are registered on a real ``kserve.ModelServer`` (its model repository and
data plane), and its REST server answers: V1, V2 (Open Inference Protocol) and
Prometheus ``/metrics``, exactly as in a cluster. Three things are the engine's own,
added to KServe's FastAPI application before it starts:

- the address: KServe listens on ``0.0.0.0``; here the socket is bound first on
  ``--host`` (loopback by default), so a port in use is a clear error, not a log line;
- a body limit (413 before a byte is parsed) and 400s, never 500s, for bodies KServe's
  decoder or FastAPI's validation refuse;
- an unknown model is a 404 that lists the models served.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from engine.errors import UserError

DEFAULT_MAX_BODY = 8 * 1024 * 1024


@contextlib.contextmanager
def _own_argv() -> Iterator[None]:
    # kserve.model_server parses sys.argv when imported; `mlops serve --workers 2 ...`
    # belongs to click, not to it.
    saved = sys.argv
    sys.argv = saved[:1]
    try:
        yield
    finally:
        sys.argv = saved


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; a UserError when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: a response written in two parts is not held back
    # by Nagle waiting for the client's delayed ACK (a 40 ms stall per request).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UserError(
                f"port {port} on {host} is already in use: stop what listens there, "
                "or pass another --port"
            ) from None
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def build_models(pinned: list[Any], log_dir: Path | None, source: str) -> list[Any]:
    """One :class:`PinnedModel` per pinned version, sharing one prediction logger."""
    from engine.serving.logs import PredictionLogger
    from engine.serving.model import PinnedModel

    logger = PredictionLogger(log_dir) if log_dir is not None else None
    return [PinnedModel(p, logger, source=source) for p in pinned]


def serve(
    root: Path,
    env_name: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    log_dir: Path | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    models: Sequence[str] = (),
    announce: Any = print,
) -> None:
    """Serve the versions pinned in ``env_name`` (all, or ``models``) until interrupted."""
    from engine.serving.pinned import pinned_versions

    sock = bind(host, port)  # first: a port in use fails before seconds of loading
    try:
        pinned = pinned_versions(root, env_name, models)
        served = build_models(pinned, log_dir, f"http://{host}:{port}/")
        run_models(
            served,
            sock,
            host=host,
            workers=workers,
            max_body_bytes=max_body_bytes,
            announce=announce,
        )
    finally:
        sock.close()


def run_models(
    models: list[Any],
    sock: socket.socket,
    *,
    host: str,
    workers: int = 1,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    announce: Any = print,
) -> None:
    """Register ``models`` on a KServe ``ModelServer`` and answer on ``sock`` until stopped."""
    with _own_argv():
        from kserve import ModelServer

        from engine.serving.app import EngineRESTServer, MultiProcessServer

    port = sock.getsockname()[1]
    server = ModelServer(http_port=port, workers=workers, enable_grpc=False)
    for model in models:
        server.register_model(model)
    names = ", ".join(f"{m.name}@{m.pinned.version}" for m in models)
    rest = EngineRESTServer(
        "kserve.model_server:app",
        server.dataplane,
        server.model_repository_extension,
        port,
        host=host,
        max_body_bytes=max_body_bytes,
        workers=workers,
    )
    announce(f"serving {names} on http://{host}:{port} (V1 /v1/models, V2 /v2/models, /metrics)")
    if workers > 1:
        asyncio.run(MultiProcessServer(rest, sock).start())
    else:
        asyncio.run(rest.serve_on(sock))


__all__ = ["DEFAULT_MAX_BODY", "bind", "build_models", "run_models", "serve"]
