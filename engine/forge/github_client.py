"""The transport under the GitHub forge: one repository's REST calls, retries and errors.

:class:`RepoClient` is what :class:`~engine.forge.github.GitHubForge` is built on: a github3.py
client whose session (:class:`RetryingSession`) sends every request through one
:class:`~engine.forge.retry.Retrier` (backoff with jitter on 5xx, connection errors and
timeouts; ``Retry-After`` and ``x-ratelimit-reset`` on rate limits; a time budget per forge
method, then :class:`~engine.forge.ForgeUnavailable`). Requests that are safe to send twice
are replayed blindly: GET/PATCH/PUT/DELETE, and the POSTs whose repetition is harmless.
Creating something after an ambiguous failure (a 5xx or a timeout: GitHub may have done it)
goes through :meth:`RepoClient._create_once`, which re-reads before creating again.

GitHub's errors become :class:`~engine.forge.ForgeError` subclasses that name what the
caller asked for and the permission the workflow needs (:meth:`RepoClient._guard`).
"""

from __future__ import annotations

import contextlib
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import github3
import requests
from github3 import exceptions as gh_errors
from github3.session import GitHubSession
from github3.structs import GitHubIterator

from engine.forge import (
    GITHUB_ACTIONS_BOT,
    ForgeAuthError,
    ForgeError,
    ForgeNotFound,
    ForgeUnavailable,
)
from engine.forge.retry import TRANSIENT, Retrier, RetryPolicy

GITHUB_API_URL = "https://api.github.com"
# A create that failed this way may still have happened on GitHub's side.
_AMBIGUOUS = (gh_errors.ServerError, gh_errors.TransportError)
_REPO_NAME = re.compile(r"^[\w.-]+/[\w.-]+$")
T = TypeVar("T")


class RetryingSession(GitHubSession):  # type: ignore[misc]  # github3 ships no types
    """github3's session, every request of which goes through one :class:`Retrier`."""

    def __init__(self, retrier: Retrier) -> None:
        policy = retrier.policy
        super().__init__(
            default_connect_timeout=policy.connect_timeout, default_read_timeout=policy.timeout
        )
        self.retrier = retrier
        self.attempts = 0

    def request(
        self, method: str, url: str, *args: Any, replay_safe: bool = False, **kwargs: Any
    ) -> requests.Response:
        """Send with retries; ``replay_safe`` marks a POST that may be sent twice."""

        def send(timeout: tuple[float, float]) -> requests.Response:
            self.attempts += 1  # counted before sending: a timed-out request counts too
            response: requests.Response = super(RetryingSession, self).request(
                method, url, *args, **{**kwargs, "timeout": timeout}
            )
            return response

        return self.retrier.send(method, url, send, replayable=replay_safe)


class RepoClient:
    """github3.py for one repository, with the retry rules and GitHub's errors explained."""

    def __init__(
        self,
        repo_full_name: str,
        token: str,
        api_url: str = GITHUB_API_URL,
        bot_login: str | None = None,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        token_name: str = "GITHUB_TOKEN",  # noqa: S107 - the variable's name
    ) -> None:
        if not _REPO_NAME.match(repo_full_name or ""):
            raise ForgeError(f"GITHUB_REPOSITORY must look like owner/name, not {repo_full_name!r}")
        if not token:
            raise ForgeAuthError(
                f"{token_name} is empty: pass it to the step (`env: {token_name}: "
                "${{ secrets.GITHUB_TOKEN }}`) and grant the job `permissions: "
                "pull-requests: write, statuses: write`"
            )
        self.repo = repo_full_name
        self.api_url = (api_url or GITHUB_API_URL).rstrip("/")
        self._owner, self._name = repo_full_name.split("/")
        self._repo_url = f"{self.api_url}/repos/{repo_full_name}"
        self._token_name = token_name
        # An installation token (``ghs_``: GITHUB_TOKEN in Actions, or a GitHub App's) is
        # always refused ``GET /user`` (403), which then means the Actions bot: known
        # without asking, one API call less on every event.
        self._bot = bot_login or (GITHUB_ACTIONS_BOT if token.startswith("ghs_") else None)
        self._depth = 0  # nesting of _guard: only the outermost explains errors
        self._retry = Retrier(policy or RetryPolicy(), sleep=sleep, clock=clock, rng=rng)
        self._http = RetryingSession(self._retry)
        self._http.base_url = self.api_url  # every github3 call goes to api_url
        self._gh = github3.GitHub(token=token, session=self._http)

    @property
    def api_calls(self) -> int:
        """HTTP requests sent so far (each retry counts)."""
        return self._http.attempts

    @property
    def waits(self) -> list[float]:
        """Every wait between retries so far, in seconds."""
        return list(self._retry.waits)

    def identity(self) -> str:
        """The login the engine posts as: configured, else ``GET /user``, else the Actions bot."""
        if self._bot is None:
            with self._guard("read the token's identity", "contents: read"):
                response = self._http.request("GET", f"{self.api_url}/user")
                if response.status_code == 403:  # GITHUB_TOKEN and app tokens may not ask
                    self._bot = GITHUB_ACTIONS_BOT
                elif response.status_code >= 400:
                    raise gh_errors.error_for(response)
                else:
                    self._bot = str(response.json()["login"])
        return self._bot

    # -- plumbing ---------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        replay_safe: bool = False,
    ) -> requests.Response:
        """One request under the repository URL; raises github3's error for ≥ 400."""
        try:
            response = self._http.request(
                method,
                f"{self._repo_url}/{path}",
                json=json,
                params=params,
                replay_safe=replay_safe,
            )
        except TRANSIENT as exc:
            raise gh_errors.ConnectionError(exc) from exc
        if response.status_code >= 400:
            raise gh_errors.error_for(response)
        return response

    def _iter(
        self, path: str, cls: type[T], params: Mapping[str, str | None] | None = None
    ) -> GitHubIterator[T]:
        """All pages of a list under the repository URL (100 per page, via ``Link``)."""
        return GitHubIterator(-1, f"{self._repo_url}/{path}", cls, self._gh, dict(params or {}))

    def _create_once(self, create: Callable[[], T], find: Callable[[], T | None], what: str) -> T:
        """``create()``; after an ambiguous failure, re-read with ``find()`` before retrying."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return create()
            except _AMBIGUOUS as exc:
                self._retry.pause(attempt, f"creating the {what} failed ({describe(exc)})")
                found = find()
                if found is not None:
                    return found

    @contextlib.contextmanager
    def _guard(self, action: str, needs: str) -> Iterator[None]:
        """One time budget per operation; GitHub's errors become clear ForgeErrors.

        Only the outermost guard translates, so an error names what the caller asked for
        ("comment on pull request #7"), not the helper call that hit it.
        """
        self._depth += 1
        try:
            with self._retry.operation():
                yield
        except (gh_errors.GitHubError, gh_errors.TransportError) as exc:
            if self._depth > 1:
                raise
            raise self._explain(exc, action, needs) from exc
        finally:
            self._depth -= 1

    def _explain(
        self, exc: gh_errors.GitHubError | gh_errors.TransportError, action: str, needs: str
    ) -> ForgeError:
        message = describe(exc)
        if isinstance(exc, gh_errors.TransportError):
            return ForgeUnavailable(f"could not {action}: {message}")
        code = exc.code
        if code == 401:
            return ForgeAuthError(
                f"{self._token_name} was refused ({message}) when trying to {action}: pass a "
                f"valid token; the workflow needs `permissions: {needs}`"
            )
        if code == 403:
            return ForgeAuthError(
                f"{self._token_name} may not {action} ({message}): the "
                f"workflow needs `permissions: {needs}`"
            )
        if code == 404:
            return ForgeNotFound(
                f"could not {action}: not found ({message}) in {self.repo} at {self.api_url}; "
                f"check GITHUB_REPOSITORY and that the token can see it ({needs})"
            )
        if code is not None and code >= 500:
            return ForgeUnavailable(f"could not {action}: GitHub answered {message}")
        return ForgeError(f"GitHub refused to {action}: {message}")


def seg(value: str) -> str:
    """``value`` as one URL path segment: a login or file name can't reach another endpoint."""
    return quote(value, safe="[]")


def describe(exc: BaseException) -> str:
    if isinstance(exc, gh_errors.GitHubError) and exc.code is not None:
        text = f"{exc.code} {exc.msg}" if exc.msg else str(exc.code)
        details = [str(e.get("message") or e) for e in exc.errors if isinstance(e, dict)]
        return text + (f": {'; '.join(details)}" if details else "")
    if isinstance(exc, gh_errors.TransportError):
        return type(exc.exception).__name__
    return type(exc).__name__
