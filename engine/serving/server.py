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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
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


def build_models(
    pinned: list[Any], log_dir: Path | None, source: str, *, seed: int = 0
) -> list[Any]:
    """One model per pin, sharing one prediction logger: a :class:`PinnedModel`, a
    :class:`CanaryModel` splitting by the pin's canary percent (``seed``: reproducible),
    or a :class:`BlueGreenModel` with the live and the idle slot."""
    from engine.serving.canary import Split
    from engine.serving.logs import PredictionLogger
    from engine.serving.model import BlueGreenModel, CanaryModel, PinnedModel

    logger = PredictionLogger(log_dir) if log_dir is not None else None
    models: list[Any] = []
    for p in pinned:
        main = PinnedModel(p, logger, source=source)
        if p.canary is not None:
            canary = PinnedModel(p.canary, logger, source=source)
            models.append(CanaryModel(main, canary, Split(p.canary_percent, seed)))
        elif p.idle is not None:
            models.append(BlueGreenModel(main, PinnedModel(p.idle, logger, source=source)))
        else:
            models.append(main)
    return models


@dataclass(frozen=True)
class Follow:
    """How to follow the environment branch (plain values: each worker process gets a copy)."""

    root: Path
    env_name: str
    models: tuple[str, ...]
    slot: str | None
    log_dir: Path | None
    source: str
    interval: float
    seen: str | None = None
    """The branch's commit before the served pins were read."""

    def reloader(self, repository: Any, announce: Any = print) -> Any:
        """A :class:`~engine.serving.reload.Reloader` swapping models into ``repository``."""
        from engine.serving.reload import Reloader

        return Reloader(
            self.root,
            self.env_name,
            self.models,
            slot=self.slot,
            repository=repository,
            build=lambda new: build_models(new, self.log_dir, self.source),
            interval=self.interval,
            announce=announce,
            seen=self.seen,
        )


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
    reload_every: float = 0,
    slot: str | None = None,
) -> None:
    """Serve the versions pinned in ``env_name`` (all, or ``models``) until interrupted.

    ``reload_every`` > 0: poll the environment branch that often and serve new pins
    once loaded and verified (every worker follows it: see :mod:`engine.serving.reload`).
    ``slot``: serve that blue-green slot's version under each model's name.
    """
    from engine.serving.pinned import pinned_versions

    def load() -> tuple[list[Any], Follow | None]:
        follow = None
        if reload_every > 0:  # the branch's commit first: a move while loading is seen
            from engine.serving.reload import served_commit

            seen = served_commit(root, env_name)
            follow = Follow(
                root,
                env_name,
                tuple(models),
                slot,
                log_dir,
                f"http://{host}:{port}/",
                reload_every,
                seen,
            )
        return pinned_versions(root, env_name, models, slot=slot), follow

    _serve_bound(host, port, load, workers, log_dir, max_body_bytes, announce, started=root)


def serve_dir(
    folder: Path,
    env_name: str,
    model: str,
    *,
    fingerprint: str,
    sha256: str,
    pinned: str,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    log_dir: Path | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    announce: Any = print,
) -> None:
    """Serve the one version in ``folder`` (a KServe pod's ``/mnt/models``) until
    interrupted: verified and described by the arguments (:mod:`engine.serving.pod`)."""
    from engine.serving.pod import pod_version

    def load() -> tuple[list[Any], None]:
        return [pod_version(folder, env_name, model, fingerprint, sha256, pinned)], None

    _serve_bound(host, port, load, workers, log_dir, max_body_bytes, announce)


def _serve_bound(
    host: str,
    port: int,
    load: Callable[[], tuple[list[Any], Follow | None]],
    workers: int,
    log_dir: Path | None,
    max_body_bytes: int,
    announce: Any,
    started: Path | None = None,
) -> None:
    """Bind first (a port in use fails before seconds of loading), then ``load`` the
    versions and serve them until interrupted; ``started``: the repository whose audit
    log records each version served."""
    from engine.serving.pinned import version_skews

    sock = bind(host, port)
    try:
        pinned, follow = load()
        for line in version_skews(pinned):
            announce(line)
        served = build_models(pinned, log_dir, f"http://{host}:{port}/")
        if started is not None:
            _log_start(started, pinned)
        run_models(
            served,
            sock,
            host=host,
            workers=workers,
            max_body_bytes=max_body_bytes,
            announce=announce,
            follow=follow,
        )
    finally:
        sock.close()


def _log_start(root: Path, pinned: list[Any]) -> None:
    """One ``serve`` line per version the server loaded (outcome ``started``)."""
    from engine import audit

    for p in pinned:
        audit.record(
            root,
            "serve",
            model=p.model,
            version=p.version,
            environment=p.environment,
            commit=p.source_commit,
            outcome="started",
        )


def run_models(
    models: list[Any],
    sock: socket.socket,
    *,
    host: str,
    workers: int = 1,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    announce: Any = print,
    follow: Any = None,
) -> None:
    """Register ``models`` on a KServe ``ModelServer`` and answer on ``sock`` until stopped.

    ``follow``: a :class:`Follow`; each serving process starts its own branch reloader.
    """
    with _own_argv():
        from kserve import ModelServer

        from engine.serving.app import EngineRESTServer, MultiProcessServer
        from engine.serving.model import registrations

    port = sock.getsockname()[1]
    server = ModelServer(http_port=port, workers=workers, enable_grpc=False)
    for name, model in registrations(models).items():
        server.register_model(model, name)
    names = ", ".join(_described(m) for m in models)
    rest = EngineRESTServer(
        "kserve.model_server:app",
        server.dataplane,
        server.model_repository_extension,
        port,
        host=host,
        max_body_bytes=max_body_bytes,
        workers=workers,
        follow=follow,
    )
    announce(f"serving {names} on http://{host}:{port} (V1 /v1/models, V2 /v2/models, /metrics)")
    if workers > 1:
        asyncio.run(MultiProcessServer(rest, sock).start())
        return
    reloaders: list[Any] = []  # started once the server answers
    try:
        asyncio.run(rest.serve_on(sock, lambda: reloaders.append(rest.start_following(announce))))
    finally:
        for reloader in reloaders:
            if reloader is not None:
                reloader.stop()


def _described(model: Any) -> str:
    pinned = model.pinned
    if pinned.idle is not None:
        return (
            f"{model.name}@{pinned.version} ({pinned.slot}, live) + "
            f"{pinned.idle.version} ({pinned.idle.slot}, idle)"
        )
    if pinned.canary is None:
        return f"{model.name}@{pinned.version}"
    return (
        f"{model.name}@{pinned.version} ({100 - pinned.canary_percent}%) + "
        f"{pinned.canary.version} ({pinned.canary_percent}%, canary)"
    )


__all__ = [
    "DEFAULT_MAX_BODY",
    "Follow",
    "bind",
    "build_models",
    "run_models",
    "serve",
    "serve_dir",
]
