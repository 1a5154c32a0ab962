"""When and how long to retry a GitHub API request: the forge's one resilience policy.

:class:`Retrier` runs a request again on what is worth retrying and gives up, with a
:class:`~engine.forge.ForgeUnavailable` that says what failed, when the next wait would
overrun the operation's time budget:

- ``5xx`` answers, connection errors and timeouts: exponential backoff with jitter
  (``base_delay * 2**n``, capped at ``max_delay``, times a random 0.5-1.0) — but only for
  requests that are safe to send twice (GET/PUT/PATCH/DELETE, or a POST marked
  ``replayable``), or that certainly never reached the server;
- ``403``/``429`` rate limits: ``Retry-After`` if given, else until ``x-ratelimit-reset``
  when ``x-ratelimit-remaining`` is 0, else a minute (GitHub's documented rules). A 403
  that is not a rate limit is a permission problem and is returned at once.

One *operation* (a forge method, possibly several requests) shares one budget,
``RetryPolicy.total``; sockets never wait past it either. ``sleep`` and ``clock`` are
injected so tests check the waits without waiting. The clock is epoch seconds because
``x-ratelimit-reset`` is.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import requests
from urllib3.exceptions import NewConnectionError

from engine.forge import ForgeUnavailable

_LOG = logging.getLogger("engine.forge")
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: the time budget per operation, the request timeouts, the backoff."""

    total: float = 60.0
    timeout: float = 10.0
    connect_timeout: float = 4.0
    base_delay: float = 0.5
    max_delay: float = 16.0


Send = Callable[[tuple[float, float]], requests.Response]


class Retrier:
    """Retries requests under a per-operation time budget."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.policy = policy
        self.waits: list[float] = []
        self._sleep, self._clock = sleep, clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._deadline: float | None = None
        self._started = 0.0

    @contextlib.contextmanager
    def operation(self) -> Iterator[None]:
        """Share one time budget among the requests made inside (nesting joins the outer)."""
        if self._deadline is not None:
            yield
            return
        self._started = self._clock()
        self._deadline = self._started + self.policy.total
        try:
            yield
        finally:
            self._deadline = None

    def send(self, method: str, url: str, send: Send, *, replayable: bool) -> requests.Response:
        """Call ``send(timeout)`` until it gives an answer not worth retrying."""
        replayable = replayable or method.upper() in IDEMPOTENT
        what = f"{method.upper()} {_path(url)}"
        with self.operation():
            attempt = 0
            while True:
                attempt += 1
                try:
                    response = send(self._timeout())
                except TRANSIENT as exc:
                    if not (replayable or _not_sent(exc)):
                        raise  # GitHub may have acted on it: the caller re-reads first
                    self.pause(attempt, f"{what} failed ({type(exc).__name__})")
                    continue
                wait = rate_limit_wait(response, self._clock())
                if wait is not None:
                    self.pause(attempt, f"{what} was rate limited ({response.status_code})", wait)
                elif response.status_code >= 500 and replayable:
                    self.pause(attempt, f"{what} answered {response.status_code}")
                else:
                    return response

    def pause(self, attempt: int, why: str, wait: float | None = None) -> None:
        """Sleep before attempt ``attempt + 1``, or raise if that would overrun the budget."""
        if wait is None:
            step = min(self.policy.max_delay, self.policy.base_delay * 2 ** (attempt - 1))
            wait = step * self._rng.uniform(0.5, 1.0)  # jitter: retries don't march in step
        now = self._clock()
        deadline = self._deadline if self._deadline is not None else now
        if now + wait > deadline:
            raise ForgeUnavailable(
                f"the GitHub API is unavailable: {why}; gave up after {attempt} attempt(s) in "
                f"{now - self._started:.1f}s (the budget is {self.policy.total:g}s, the next "
                f"wait {wait:.1f}s). Re-run the job later: comments and statuses are updated "
                "in place, never duplicated"
            )
        _LOG.warning("%s; retrying in %.1fs", why, wait)
        self.waits.append(wait)
        self._sleep(wait)

    def _timeout(self) -> tuple[float, float]:
        # Never wait on a socket past the budget: the last attempt gets what is left.
        left = self._deadline - self._clock() if self._deadline is not None else 1e9
        read = max(0.05, min(self.policy.timeout, left))
        return (min(self.policy.connect_timeout, read), read)


def rate_limit_wait(response: requests.Response, now: float) -> float | None:
    """Seconds to wait if ``response`` is a rate limit (403/429), else ``None``.

    ``Retry-After`` first; else, when ``x-ratelimit-remaining`` is 0, until
    ``x-ratelimit-reset`` (epoch seconds, plus one for clock skew); else a minute.
    """
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    retry_after = headers.get("Retry-After")
    if retry_after:
        return _retry_after(retry_after, now)
    reset = headers.get("x-ratelimit-reset")
    if headers.get("x-ratelimit-remaining") == "0" and reset and reset.isdigit():
        return max(0.0, int(reset) - now) + 1.0
    if response.status_code == 429 or "rate limit" in response.text.lower():
        return 60.0
    return None  # a 403 that is not a rate limit: a permission problem


def _retry_after(value: str, now: float) -> float:
    if value.strip().isdigit():
        return float(value)
    try:  # the HTTP-date form
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return 60.0


def _not_sent(exc: Exception) -> bool:
    """Whether the request certainly never reached the server (so even a POST may be resent)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
