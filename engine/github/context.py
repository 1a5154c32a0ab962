"""What every event handler gets (:class:`Context`) and gives back (:class:`Outcome`).

The dispatcher (:mod:`engine.github.workflow`) and the comment commands
(:mod:`engine.github.chatops`) both take a context, so it lives apart from either.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import UserError
from engine.github.actions import Runtime

if TYPE_CHECKING:
    from engine.forge import Forge


@dataclass
class Context:
    """What a handler gets: the repository, the Actions environment, where to report."""

    root: Path
    env: Mapping[str, str]
    runtime: Runtime
    bundle: Path | None = None
    forge_factory: Callable[[], Forge] | None = None

    @property
    def repository(self) -> str:
        """``owner/name`` of the repository the event is about."""
        return self.env.get("GITHUB_REPOSITORY", "")

    def prepare_forge(self) -> None:
        """Start importing the GitHub client (github3.py, requests) while other work runs.

        Call it where publishing is sure to come but not yet: the review that precedes it
        spends part of its time waiting on git, so the import (~0.1 s) costs little wall time.
        """
        if self.forge_factory is None and self.env.get("GITHUB_TOKEN"):
            from engine.forge._lazy import import_in_background

            import_in_background("engine.forge.github")

    def forge(self) -> Forge:
        """The forge to publish through (GitHub with a token, else the local outbox)."""
        if self.forge_factory is not None:
            return self.forge_factory()
        if self.env.get("GITHUB_TOKEN"):
            from engine.forge.github import GitHubForge

            return GitHubForge.from_env(self.env, bot_login=self.env.get("MLOPS_BOT_LOGIN"))
        if self.runtime.on_actions:
            raise UserError(
                "GITHUB_TOKEN is not set: this job publishes to GitHub, so pass "
                "`GITHUB_TOKEN: ${{ github.token }}` in its env and grant it "
                "`permissions: pull-requests: write` and `statuses: write`"
            )
        from engine.forge.local import LocalForge

        return LocalForge(self.root)

    @property
    def run_url(self) -> str | None:
        """The link to this run's page (where the job summary lives)."""
        server, run = self.env.get("GITHUB_SERVER_URL"), self.env.get("GITHUB_RUN_ID")
        if server and run and self.repository:
            return f"{server}/{self.repository}/actions/runs/{run}"
        return None


@dataclass
class Outcome:
    """What a handler did: a line for the log, outputs for the step, the exit code."""

    message: str
    exit_code: int = 0
    outputs: dict[str, Any] = field(default_factory=dict)


def push_credentials(ctx: Context) -> None:
    """Let git push with GITHUB_TOKEN (the checkout keeps no credentials)."""
    token, server = ctx.env.get("GITHUB_TOKEN"), ctx.env.get("GITHUB_SERVER_URL")
    if not token or not server or not server.startswith("https://"):
        return
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    os.environ.update(
        {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"http.{server}/.extraheader",
            "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}",
        }
    )
