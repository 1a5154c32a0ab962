"""The Actions side of the stand-in's state: workflow dispatches and deployments.

Mixed into :class:`~engine.forge.standin.state.State`, which provides the ids, the clock and
ref resolution these rules need.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.forge.standin.records import (
    DEPLOYMENT_STATES,
    SHA,
    ApiError,
    Deployment,
    DeploymentStatus,
    DispatchRecord,
    found,
    invalid,
)


class Deployments:
    """Dispatches, deployments and their statuses, with GitHub's refusals."""

    dispatches: list[DispatchRecord]
    deployments: dict[int, Deployment]
    deployment_statuses: list[DeploymentStatus]

    def next_id(self) -> int:
        """A fresh id (the state's)."""
        raise NotImplementedError

    def now(self) -> str:
        """The current time as GitHub writes it (the state's clock)."""
        raise NotImplementedError

    def resolve(self, ref: str) -> str | None:
        """The sha ``ref`` names (the state's refs), or None."""
        raise NotImplementedError

    def has_workflow(self, sha: str, name: str) -> bool:
        """Whether the commit ``sha`` has ``.github/workflows/<name>`` (the state's git)."""
        raise NotImplementedError

    def dispatch(self, workflow: str, login: str, body: Mapping[str, Any]) -> DispatchRecord:
        """Accept a ``workflow_dispatch``; GitHub answers 422 for an unknown ref and 404 for
        a workflow file the repository does not have."""
        ref = str(body.get("ref") or "")
        sha = self.resolve(ref)
        if not ref or sha is None or SHA.match(ref):
            raise ApiError(422, f"No ref found for: {ref}")
        if not self.has_workflow(sha, workflow):
            raise ApiError(404, "Not Found")
        inputs = body.get("inputs") or {}
        if not isinstance(inputs, dict):
            raise invalid("Workflow", "inputs", "inputs must be an object")
        record = DispatchRecord(workflow, ref, dict(inputs), login)
        self.dispatches.append(record)
        return record

    def create_deployment(self, login: str, body: Mapping[str, Any]) -> Deployment:
        """Record a deployment of ``ref`` to ``environment``."""
        ref = str(body.get("ref") or "")
        sha = self.resolve(ref)
        if sha is None:
            raise ApiError(422, f"No ref found for: {ref}")
        deployment = Deployment(
            self.next_id(),
            ref,
            sha,
            str(body.get("environment") or "production"),
            body.get("description"),
            body.get("payload") or {},
            login,
            self.now(),
        )
        self.deployments[deployment.id] = deployment
        return deployment

    def add_deployment_status(
        self, deployment_id: int, login: str, body: Mapping[str, Any]
    ) -> DeploymentStatus:
        """Report a deployment's state."""
        deployment = found(self.deployments, deployment_id)
        state = body.get("state")
        if state not in DEPLOYMENT_STATES:
            raise invalid("DeploymentStatus", "state", f"state is not valid: {state!r}")
        status = DeploymentStatus(
            self.next_id(),
            deployment_id,
            state,
            str(body.get("description") or ""),
            deployment.environment,
            body.get("environment_url"),
            body.get("log_url") or body.get("target_url"),
            login,
            self.now(),
        )
        self.deployment_statuses.append(status)
        return status
