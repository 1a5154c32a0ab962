"""The engine's additions to KServe's REST server: address, body limit, 4xx not 500.

:class:`EngineRESTServer` is KServe's ``RESTServer`` (same FastAPI app, same V1/V2
endpoints, same ``/metrics``) with the listening address chosen by the caller, a
:class:`BodyLimit` middleware (a body over the limit is a 413, one that is not JSON a
415) and exception handlers that answer what a client got wrong
with a 4xx naming the problem (logged as one WARNING line, not KServe's ERROR and
traceback). :class:`MultiProcessServer` runs it in ``--workers``
processes on the socket the engine bound; each process follows the environment branch with
its own reloader (a spawned process has its own copy of the models). Imported only when
serving (kserve is optional).
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import warnings
from collections.abc import Awaitable, Callable, MutableMapping
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import FastAPIDeprecationWarning, RequestValidationError
from fastapi.responses import JSONResponse
from kserve.errors import InvalidInput, ModelNotFound
from kserve.logging import logger as kserve_logger
from kserve.protocol.rest.multiprocess.server import RESTServerMultiProcess, RESTServerProcess
from kserve.protocol.rest.server import RESTServer
from kserve.protocol.rest.v2_datamodels import InferenceRequest
from kserve.protocol.rest.v2_endpoints import V2Endpoints
from starlette.datastructures import Headers

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# What KServe's decoders raise for a body they cannot read: the client's mistake.
_CLIENT_ERRORS = (ValueError, TypeError, KeyError, IndexError, UnicodeDecodeError)
# The content types KServe's data plane decodes as JSON (kserve.protocol.dataplane).
_JSON_TYPES = frozenset(
    {
        b"application/json",
        b"application/cloudevents+json",
        b"application/ld+json",
        b"application/octet-stream",
    }
)
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
_NOT_JSON = (
    '{"error": "send the request body as JSON with the header content-type: application/json"}'
)


class VersionNotServed(LookupError):
    """A V2 request named a version this server does not serve."""

    def __init__(self, model: str, asked: str, served: str):
        super().__init__(
            f"{model} version {asked!r} is not served here; the version served is {served}"
        )


class BodyLimit:
    """Answer 413 to a request body over ``limit`` bytes, declared or streamed."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if scope.get("method") in _WITH_BODY and not _json_type(headers.get(b"content-type")):
            await _answer(send, HTTPStatus.UNSUPPORTED_MEDIA_TYPE, _NOT_JSON)
            return
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(send)
            return
        messages: list[Message] = []
        size = 0
        while True:  # read the body now, so an undeclared one is bounded too
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.limit:
                await self._refuse(send)
                return
            if message["type"] != "http.request" or not message.get("more_body"):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = f'{{"error": "the request body is over the limit of {self.limit} bytes"}}'
        await _answer(send, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, body)


def _json_type(value: bytes | None) -> bool:
    """Whether a request's content type is one KServe reads as JSON (or it has none).

    A browser sends a cross-site POST without asking the server first only with
    ``text/plain``, a form or multipart content type; refusing those keeps a web page from
    writing rows into the prediction logs of a server on this machine.
    """
    if value is None:
        return True
    media = value.split(b";", 1)[0].strip().lower()
    return media in _JSON_TYPES


async def _answer(send: Send, status: int, body: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})


class EngineRESTServer(RESTServer):  # type: ignore[misc]  # kserve ships no type hints
    """KServe's REST server on a chosen host, with the engine's limits and answers."""

    def __init__(
        self, *args: Any, host: str, max_body_bytes: int, follow: Any = None, **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self.config.host = host
        self.max_body_bytes = max_body_bytes
        self.follow = follow

    def start_following(self, announce: Callable[[str], Any]) -> Any:
        """Start the branch reloader of this process on its own model registry (or None)."""
        if self.follow is None:
            return None
        reloader = self.follow.reloader(self.dataplane.model_registry, announce)
        reloader.start()
        return reloader

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        """A ``--workers`` process: follow the branch in it too, then serve (KServe's run)."""
        self.start_following(_to_stderr)
        super().run(sockets)

    def create_application(self) -> None:
        """KServe's application, then the body limit and the 4xx handlers.

        FastAPI's deprecation of ``ORJSONResponse`` (what KServe answers V1 with: KServe's
        code, nothing a user of the engine can change) is not printed: scikit-learn resets
        the warning filters inside every ``Parallel`` call (a ``ColumnTransformer``'s
        ``transform``), which makes Python forget it showed a warning ("default" and, in
        C, "once" alike), so the same 500 bytes went to stderr on every request.
        """
        warnings.filterwarnings(
            "ignore", "ORJSONResponse is deprecated", category=FastAPIDeprecationWarning
        )
        super().create_application()
        from kserve.model_server import app

        self._engine_additions(app)

    def _engine_additions(self, app: FastAPI) -> None:
        registry = self.dataplane.model_registry

        async def not_found(_: Request, exc: Exception) -> JSONResponse:
            served = sorted(registry.get_models())
            message = f"{exc}; the models served here: {', '.join(served) or 'none'}"
            return JSONResponse({"error": message, "models": served}, HTTPStatus.NOT_FOUND)

        async def invalid(_: Request, exc: Exception) -> JSONResponse:
            errors = exc.errors() if isinstance(exc, RequestValidationError) else []
            where = [".".join(str(p) for p in e.get("loc", ())) for e in errors[:3]]
            details = "; ".join(
                f"{w}: {e.get('msg', '')}" for w, e in zip(where, errors, strict=False)
            )
            return JSONResponse(
                {"error": f"the request does not match the protocol: {details}"},
                HTTPStatus.BAD_REQUEST,
            )

        async def refused(request: Request, exc: Exception) -> JSONResponse:
            message = str(exc)
            if message.startswith("Unrecognized request format"):  # KServe's JSON decoder
                message += (
                    ": send one JSON document (NaN and Infinity are not JSON: send null "
                    "for a missing value)"
                )
            # KServe logs every 400 at ERROR with its traceback: the client's mistake, one line
            kserve_logger.warning("400 %s %s: %s", request.method, request.url.path, _clip(message))
            return JSONResponse({"error": message}, HTTPStatus.BAD_REQUEST)

        async def unexpected(_: Request, exc: Exception) -> JSONResponse:
            if isinstance(exc, _CLIENT_ERRORS):
                return JSONResponse(
                    {"error": f"the request could not be read: {exc}"}, HTTPStatus.BAD_REQUEST
                )
            return JSONResponse(
                {"error": f"internal error: {type(exc).__name__}"},
                HTTPStatus.INTERNAL_SERVER_ERROR,
            )

        self._versioned_routes(app)
        app.add_exception_handler(InvalidInput, refused)
        app.add_exception_handler(ModelNotFound, not_found)
        app.add_exception_handler(RequestValidationError, invalid)
        app.add_exception_handler(Exception, unexpected)
        app.add_middleware(BodyLimit, limit=self.max_body_bytes)

    def _versioned_routes(self, app: FastAPI) -> None:
        """``/v2/models/<name>/versions/<version>/...`` for the version served (KServe: 501),
        and model metadata that lists the version(s) served (KServe: ``versions`` null).

        The protocol lets a client ask for a version; the one pinned (its id or full
        fingerprint) answers, any other is a 404 naming the version served.
        """
        v2 = V2Endpoints(self.dataplane, self.model_repository_extension)
        registry = self.dataplane.model_registry

        def check(model_name: str, model_version: str) -> None:
            model = registry.get_model(model_name)
            if model is None:
                raise ModelNotFound(model_name)
            served = getattr(model, "versions", None)
            if served is not None and model_version not in served:
                raise VersionNotServed(model_name, model_version, served[0])

        async def metadata(model_name: str, model_version: str | None = None) -> Any:
            if model_version is not None:
                check(model_name, model_version)
            answer = await v2.model_metadata(model_name)
            served = getattr(registry.get_model(model_name), "version_ids", None)
            return answer.model_copy(update={"versions": served}) if served else answer

        async def ready(model_name: str, model_version: str) -> Any:
            check(model_name, model_version)
            return await v2.model_ready(model_name)

        async def infer(
            raw_request: Request,
            raw_response: Response,
            model_name: str,
            model_version: str,
            request_body: InferenceRequest | bytes,
        ) -> Any:
            check(model_name, model_version)
            # The model reads the version asked for from its headers (a canary has two).
            raw_request.scope["headers"] = [
                *[(k, v) for k, v in raw_request.scope["headers"] if k != b"x-model-version"],
                (b"x-model-version", model_version.encode()),
            ]
            raw_request._headers = Headers(scope=raw_request.scope)
            return await v2.infer(raw_request, raw_response, model_name, request_body)

        async def version_not_served(_: Request, exc: Exception) -> JSONResponse:
            return JSONResponse({"error": str(exc)}, HTTPStatus.NOT_FOUND)

        prefix = "/v2/models/{model_name}/versions/{model_version}"
        router = APIRouter()
        router.add_api_route(prefix, metadata, methods=["GET"], response_model=None)
        router.add_api_route(
            "/v2/models/{model_name}", metadata, methods=["GET"], response_model=None
        )
        router.add_api_route(f"{prefix}/ready", ready, methods=["GET"], response_model=None)
        router.add_api_route(f"{prefix}/infer", infer, methods=["POST"], response_model=None)
        before = len(app.router.routes)
        app.include_router(router)
        ours = app.router.routes[before:]
        del app.router.routes[before:]
        app.router.routes[0:0] = ours  # ahead of KServe's routes for the same paths
        app.add_exception_handler(VersionNotServed, version_not_served)

    async def serve_on(self, sock: socket.socket, started: Callable[[], Any] | None = None) -> None:
        """Build the application and answer on ``sock`` until a signal stops it.

        ``started`` is called once the server answers (the branch reloader starts then,
        so its first reads never compete with a slow start-up).
        """
        self.create_application()
        waiting = None
        if started is not None:
            waiting = asyncio.get_running_loop().create_task(self._once_started(started))
        try:
            await self._server.serve(sockets=[sock])
        finally:
            if waiting is not None:
                waiting.cancel()

    async def _once_started(self, started: Callable[[], Any]) -> None:
        while not self._server.started:
            await asyncio.sleep(0.05)
        try:
            started()
        except Exception as exc:  # the server answers on; say why the branch is not followed
            _to_stderr(f"error: could not start following the branch: {exc}")


class MultiProcessServer(RESTServerMultiProcess):  # type: ignore[misc]
    """KServe's multi-process REST server on the engine's socket and server."""

    def __init__(self, rest: EngineRESTServer, sock: socket.socket):
        # Not super().__init__: it would build a RESTServer of its own on 0.0.0.0.
        self.log_config_file = None
        self._rest_server = rest
        self._processes: list[Any] = []
        self.should_exit = asyncio.Event()
        self._sock = sock

    async def start(self) -> None:
        """Start the workers, keep them alive, stop them all on SIGINT or SIGTERM."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.should_exit.set)
        sockets = [self._sock]
        self.init_processes(sockets)
        while not self.should_exit.is_set():
            await asyncio.sleep(0.5)
            await self.keep_subprocess_alive(sockets)
        await self.terminate_all()

    async def keep_subprocess_alive(self, sockets: list[socket.socket]) -> None:
        """Restart a worker that exited.

        KServe's version also restarts one that misses a 5 s ping, but a spawned worker
        answers pings only once it has imported everything, which takes longer than that
        on a busy machine: it would kill and restart its workers forever.
        """
        if self.should_exit.is_set():
            return
        for i, process in enumerate(self._processes):
            if process._process.exitcode is None:  # running, or still starting
                continue
            fresh = RESTServerProcess(sockets, self._rest_server.run)
            fresh.start()
            self._processes[i] = fresh


def _clip(message: str, limit: int = 300) -> str:
    """A message as the server's log shows it: one line, at most ``limit`` characters."""
    line = " ".join(message.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


__all__ = ["BodyLimit", "EngineRESTServer", "MultiProcessServer"]
