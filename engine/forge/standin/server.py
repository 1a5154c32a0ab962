"""A local stand-in of the GitHub REST API, for tests and for trying a setup offline.

It is a real HTTP server on loopback (standard library only), stateful, and answers with
JSON shaped like GitHub's (field names from github3.py's recorded responses), so github3.py
and ``mlops event`` talk to it unchanged. It serves one repository: its issues and pull
requests, comments with authors, commit statuses, reactions, refs, reviews, collaborator
permissions, workflow dispatches, deployments and team membership.

From a terminal::

    python -m engine.forge.standin --port 8765 --repo me/models --pull 1=<head sha>
    # then, in another shell:
    export GITHUB_API_URL=http://127.0.0.1:8765 GITHUB_REPOSITORY=me/models
    export GITHUB_TOKEN=ghs_standin    # answers as github-actions[bot]
    mlops event                        # comments and statuses land in the stand-in

``GET /repos/me/models/issues/1/comments`` (with ``Authorization: token ghs_standin``) then
shows what the engine posted. A ``/api/v3`` prefix (GitHub Enterprise's layout) works too.

From Python (tests)::

    with GitHubStandIn("octo/repo") as gh:
        gh.add_pull(7, head_sha="a" * 40, author="alice")
        gh.fail("POST", r"/issues/\\d+/comments", status=502, times=1)   # one 502
        gh.fail("GET", r"/pulls/7$", status=403, headers={"Retry-After": "2"})
        gh.fail("GET", r"/user$", delay=1.5, status=None)              # slow, then normal
        ...                                      # point GitHubForge at gh.url
        assert [c.body for c in gh.comments(7)] == [...]
        assert gh.calls("POST") == 1

Tokens map to identities: ``ghs_standin`` is ``github-actions[bot]``, an app token, so
``GET /user`` answers 403 as it does for ``GITHUB_TOKEN``; add more with ``add_token``. A
missing or unknown token gets GitHub's 401. Faults are rules consumed in the order they
were added: the first rule whose method and path regex match a request serves it (after
``delay`` seconds); ``commit=True`` applies the request first and then answers with the
fault, like a 502 from a proxy after GitHub did the work.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from engine.forge.standin.api import Api
from engine.forge.standin.faults import DEFAULT_TOKEN, Fault, LoggedRequest, Token, fault_reply
from engine.forge.standin.records import (
    ROLES,
    ApiError,
    Comment,
    DispatchRecord,
    Issue,
    Status,
)
from engine.forge.standin.routes import Call, Reply, error_reply
from engine.forge.standin.state import State


class GitHubStandIn:
    """A stateful GitHub REST API on ``127.0.0.1`` for one repository."""

    def __init__(
        self,
        repo: str = "octo-org/octo-repo",
        *,
        port: int = 0,
        default_branch: str = "main",
        tokens: Mapping[str, Token] | None = None,
        git_dir: Path | None = None,
    ) -> None:
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
            raise ValueError(f"repository must look like owner/name, not {repo!r}")
        self.state = State(repo, default_branch, git_dir=git_dir)
        self.tokens: dict[str, Token] = dict(
            tokens or {DEFAULT_TOKEN: Token("github-actions[bot]", app=True)}
        )
        self._port = port
        self._faults: list[Fault] = []
        self._log: list[LoggedRequest] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._url = ""  # kept after stop(): a late, delayed answer still renders its URLs
        self._thread: threading.Thread | None = None
        self.api = Api(self.state, lambda: self.url)

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The API root to put in ``GITHUB_API_URL``."""
        if not self._url:
            raise RuntimeError("the stand-in is not running: call start() first")
        return self._url

    @property
    def repo(self) -> str:
        """The repository's ``owner/name``."""
        return self.state.repo.full_name

    def start(self) -> GitHubStandIn:
        """Start serving in a background thread."""
        handler = type("Handler", (_Handler,), {"standin": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), handler)
        self._server.daemon_threads = True
        self._url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},  # how long stop() waits for the loop to notice
            name="github-standin",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> GitHubStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- seeding -----------------------------------------------------------------------

    def add_token(
        self, token: str, login: str, *, app: bool = False, read_only: bool = False
    ) -> None:
        """Accept ``token`` as ``login``; ``app`` tokens get 403 on ``GET /user``."""
        self.tokens[token] = Token(login, app, read_only)
        self.state.user(login)

    def add_pull(
        self,
        number: int | None = None,
        *,
        head_sha: str,
        author: str = "octocat",
        head_ref: str = "feature",
        base_ref: str | None = None,
        head_repo: str | None = "",
        title: str = "A change",
        body: str | None = None,
    ) -> int:
        """Open a pull request; ``head_repo="them/fork"`` for a fork, ``None`` if deleted."""
        with self._lock:
            return self.state.add_pull(
                author,
                title,
                head_sha,
                head_ref=head_ref,
                base_ref=base_ref,
                head_repo=head_repo,
                number=number,
                body=body,
            ).number

    def add_issue(
        self, title: str, body: str = "", *, author: str = "octocat", labels: tuple[str, ...] = ()
    ) -> int:
        """Open an issue; returns its number."""
        with self._lock:
            return self.state.create_issue(author, title, body, labels).number

    def add_comment(self, issue: int, body: str, *, author: str = "octocat") -> int:
        """Comment on an issue or pull request as ``author``; returns the comment id."""
        with self._lock:
            return self.state.add_comment(issue, author, body).id

    def set_permission(self, login: str, role: str) -> None:
        """Make ``login`` a collaborator with ``role`` (admin ... read, or none)."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        self.state.user(login)
        self.state.permissions[login.lower()] = role

    def add_status(
        self,
        sha: str,
        context: str,
        state: str = "success",
        *,
        creator: str = "github-actions[bot]",
    ) -> None:
        """Set a commit status now (as the engine's review would have)."""
        with self._lock:
            self.state.add_status(sha, creator, {"state": state, "context": context})

    def add_review(
        self, pr: int, login: str, state: str = "APPROVED", commit_id: str | None = None
    ) -> None:
        """Record a review of ``pr`` by ``login``."""
        with self._lock:
            self.state.add_review(pr, login, state, commit_id)

    def push(self, pr: int, sha: str, *, force: bool = False, pusher: str = "octocat") -> None:
        """Move ``pr``'s head to ``sha`` now, as a push (or a force push) by ``pusher``."""
        with self._lock:
            self.state.move_head(pr, sha, pusher, forced=force)

    def set_ref(self, name: str, sha: str) -> None:
        """Point a ref (``heads/env/production``, ``tags/v1``) at ``sha``."""
        self.state.refs[name.removeprefix("refs/")] = sha

    def add_team(self, org: str, team: str, members: list[str]) -> None:
        """Create team ``org/team`` with ``members``."""
        self.state.teams[(org.lower(), team.lower())] = list(members)
        for login in members:
            self.state.user(login)

    # -- faults and inspection -------------------------------------------------------

    def fail(
        self,
        method: str,
        path: str,
        status: int | None = 502,
        *,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        delay: float = 0.0,
        commit: bool = False,
    ) -> Fault:
        """Answer the next ``times`` matching requests with ``status`` (None: just delay)."""
        fault = Fault(method.upper(), path, status, dict(headers or {}), body, delay, times, commit)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._faults.clear()

    @property
    def requests(self) -> list[LoggedRequest]:
        """Every request answered so far, in order."""
        with self._lock:
            return list(self._log)

    def calls(self, method: str | None = None, path: str | None = None) -> int:
        """How many requests matched ``method`` and the path regex ``path``."""
        return sum(
            1
            for r in self.requests
            if (method is None or r.method == method.upper())
            and (path is None or re.search(path, r.path))
        )

    def comments(self, issue: int) -> list[Comment]:
        """The comments of an issue or pull request, oldest first."""
        with self._lock:
            return self.state.comments_of(issue)

    def statuses(self, sha: str) -> dict[str, Status]:
        """The latest status per context on ``sha``."""
        with self._lock:
            return {s.context: s for s in self.state.latest_statuses(sha)}

    def reactions(self, comment_id: int) -> list[str]:
        """The reactions to a comment, oldest first."""
        with self._lock:
            return [r.content for r in self.state.reactions_of(comment_id)]

    @property
    def dispatches(self) -> list[DispatchRecord]:
        """The workflow dispatches accepted so far."""
        with self._lock:
            return list(self.state.dispatches)

    def issues(self) -> list[Issue]:
        """Issues (not pull requests), oldest first."""
        with self._lock:
            return [i for i in self.state.issues.values() if not i.is_pull]

    # -- request handling ------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one HTTP request: status, headers, body."""
        parts = urlsplit(target)
        path = parts.path.removeprefix("/api/v3") or "/"
        query = dict(parse_qsl(parts.query))
        fault = self._take_fault(method, path)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)  # outside the lock: other requests keep flowing
        body = _parse_json(raw)
        token = _token(headers.get("Authorization", ""))
        identity = self.tokens.get(token) if token else None
        failing = fault if fault is not None and fault.status is not None else None
        with self._lock:
            if failing is None:
                reply = self._serve(method, path, query, body, token, identity)
            else:
                if failing.commit:  # GitHub did the work; the proxy in front of it failed
                    self._serve(method, path, query, body, token, identity)
                reply = fault_reply(failing)
            self._log.append(
                LoggedRequest(
                    method, path, query, reply.status, identity.login if identity else None, body
                )
            )
        return reply.status, self._headers(reply), _dump(reply)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    return fault
        return None

    def _serve(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        token: str | None,
        identity: Token | None,
    ) -> Reply:
        if identity is None:
            message = "Bad credentials" if token else "Requires authentication"
            return error_reply(ApiError(401, message))
        if identity.read_only and method != "GET":
            return error_reply(ApiError(403, "Resource not accessible by integration"))
        if path == "/user":  # GITHUB_TOKEN may not ask who it is; a person's token may
            if identity.app:
                return error_reply(ApiError(403, "Resource not accessible by integration"))
            return Reply(200, self.api.account_json(identity.login, own=True))
        return self.api.serve(Call(method, path, query, body, identity.login))

    def _headers(self, reply: Reply) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-GitHub-Media-Type": "github.v3; param=full; format=json",
            "X-GitHub-Request-Id": uuid.uuid4().hex[:20].upper(),
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": "4999",
            "X-RateLimit-Reset": str(int(time.time()) + 3600),
            "X-RateLimit-Resource": "core",
        }
        overridden = {key.lower() for key in reply.headers}  # HTTP headers ignore case
        headers = {k: v for k, v in headers.items() if k.lower() not in overridden}
        headers.update(reply.headers)
        return headers


class _Handler(BaseHTTPRequestHandler):
    """Adapts http.server to :meth:`GitHubStandIn.handle` (keep-alive, like GitHub)."""

    standin: GitHubStandIn
    protocol_version = "HTTP/1.1"
    # One buffered write per response, no Nagle: otherwise each call pays a 40 ms ACK delay.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server_version = "GitHub.com"

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, headers, body = self.standin.handle(
            self.command, self.path, dict(self.headers.items()), raw
        )
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to answer

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log; the request log is ``standin.requests``."""


def _token(authorization: str) -> str | None:
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() in ("token", "bearer") and value.strip() else None


def _parse_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def _dump(reply: Reply) -> bytes:
    if reply.status == 204 or reply.data is None:
        return b""
    if isinstance(reply.data, str):
        return reply.data.encode()
    return json.dumps(reply.data).encode()
