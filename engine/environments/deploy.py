"""``mlops deploy --env ENV``: materialize what an environment branch pins.

For each pin on the environment's branch, the exact stored version is fetched from the
store — or, when missing, retrained at the pin's source commit and required to
reproduce the pinned metrics — loaded once through the trusted-type check to prove it is
intact, and copied with a manifest into ``.mlops/deploy/<env>/``. A serving layer (or a
GitOps controller) picks that folder up; nothing here guesses at infrastructure.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import UserError

if TYPE_CHECKING:
    from engine.definitions.formats import Project

MANIFEST = "manifest.json"


@dataclass
class Deployed:
    """One model made ready in an environment, or why it could not be."""

    model: str
    version: str
    ok: bool
    note: str = ""


@dataclass
class Deployment:
    """What ``deploy`` did for one environment."""

    environment: str
    folder: Path
    models: list[Deployed] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every pinned model is ready."""
        return all(m.ok for m in self.models)

    def summary(self) -> str:
        """Lines for the terminal: one per model, then the folder."""
        if not self.models:
            return f"nothing is pinned in {self.environment} yet: promote a model first"
        lines = [
            f"{'ready' if m.ok else 'FAILED':>6}  {m.model}@{m.version}  {m.note}".rstrip()
            for m in self.models
        ]
        return "\n".join([*lines, f"deployed to {self.folder}"])


def environment_for_ref(project: Project, ref: str, requested: str = "") -> str:
    """The environment whose branch ``ref`` is; refuse a ``requested`` name that differs.

    A deploy job runs with that environment's secrets, so the name it deploys must come
    from the branch the run is on (which only a promotion or a maintainer moves), never
    from an input that anyone able to dispatch the workflow types in: ``staging``'s
    run must not deploy, or be granted the secrets of, ``production``.
    """
    branch = ref.removeprefix("refs/heads/")
    names = [name for name, env in project.environments.items() if env.branch == branch]
    if not ref.startswith("refs/heads/") or not names:
        branches = ", ".join(e.branch for e in project.environments.values()) or "none"
        raise UserError(
            f"{ref or 'no ref'} is not an environment branch (mlops/project.yaml names "
            f"{branches}): a deploy runs on the branch of the environment it deploys"
        )
    if requested and requested not in names:
        raise UserError(
            f"refusing to deploy {requested!r} from {branch}, the branch of "
            f"{' and '.join(names)}: the environment is the branch's, not an input's"
        )
    return requested or names[0]


def checked_environment(project: Project, env_name: str, env: dict[str, str]) -> str:
    """``env_name``, checked against the run's branch when running in GitHub Actions.

    Locally (no ``GITHUB_ACTIONS``) any environment may be deployed by whoever holds
    the credentials; in Actions the run's ``GITHUB_REF`` decides (see
    :func:`environment_for_ref`).
    """
    if env.get("GITHUB_ACTIONS") != "true":
        return env_name
    return environment_for_ref(project, env.get("GITHUB_REF", ""), env_name)


def deploy(root: Path, env_name: str) -> Deployment:
    """Make every version pinned in ``env_name`` ready to serve; see the module doc."""
    from engine.environments.operations import (
        ensure_stored,
        environment,
        live_versions,
        open_store,
        trusted_project,
    )

    project = trusted_project(root)
    environment(project, env_name)  # a clear error for an unknown name
    live = live_versions(root, project)
    store = open_store(root, project)
    folder = root / ".mlops" / "deploy" / env_name
    staging = folder.with_name(f".{env_name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    result = Deployment(env_name, folder)
    models: dict[str, Any] = {}
    for model, pin in sorted(live.get(env_name, {}).items()):
        try:
            notes = ensure_stored(
                root, store, model, pin.fingerprint, pin.source_commit, project, live
            )
            stored = store.get(model, pin.fingerprint)  # verifies every checksum
            store.load_model(model, pin.fingerprint)  # refuses untrusted types
        except UserError as exc:
            result.models.append(Deployed(model, pin.version, False, str(exc)))
            continue
        shutil.copyfile(stored.model_path, staging / f"{model}.skops")
        models[model] = {
            "version": pin.version,
            "fingerprint": pin.fingerprint,
            "file": f"{model}.skops",
            "source_commit": pin.source_commit,
            "metrics": pin.metrics,
            "record": json.loads(stored.record.to_json()),
        }
        result.models.append(Deployed(model, pin.version, True, " ".join(notes)))
    if not result.ok:
        shutil.rmtree(staging, ignore_errors=True)
        return result  # nothing half-deployed: the previous folder stays as it was
    manifest = {"environment": env_name, "models": models}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return result


__all__ = ["Deployed", "Deployment", "checked_environment", "deploy", "environment_for_ref"]
