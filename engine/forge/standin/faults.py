"""Faults and bookkeeping of the GitHub stand-in: tokens, injected failures, the request log.

A :class:`Fault` is a rule the stand-in consumes in the order rules were added: the first
whose method and path regex match a request serves it (after ``delay`` seconds); with
``commit=True`` the request is applied first and then answered with the fault, like a 502
from a proxy after GitHub did the work.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.forge.standin.routes import DOCS_URL, Reply

DEFAULT_TOKEN = "ghs_standin"  # noqa: S105 - the stand-in's public test token
DEFAULT_MESSAGES = {
    403: "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
    "again.",
    429: "API rate limit exceeded for installation.",
}


@dataclass(frozen=True)
class Token:
    """Who a token authenticates as; app tokens get 403 on ``GET /user``."""

    login: str
    app: bool = False
    read_only: bool = False


@dataclass
class Fault:
    """An injected answer for requests matching ``method`` and the path regex ``path``."""

    method: str
    path: str
    status: int | None = 502
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    times: int = 1
    commit: bool = False

    def matches(self, method: str, path: str) -> bool:
        """Whether this rule still applies to ``method path``."""
        return (
            self.times > 0
            and self.method in (method, "*")
            and re.search(self.path, path) is not None
        )


@dataclass(frozen=True)
class LoggedRequest:
    """One request the stand-in answered (``status`` is what it sent back)."""

    method: str
    path: str
    query: Mapping[str, str]
    status: int
    login: str | None
    body: Any


def fault_reply(fault: Fault) -> Reply:
    status = fault.status or 500
    body = fault.body
    if body is None:
        message = DEFAULT_MESSAGES.get(status, "Server Error" if status >= 500 else "Error")
        body = {"message": message, "documentation_url": DOCS_URL, "status": str(status)}
    return Reply(status, body, dict(fault.headers))
