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
from typing import Any

from engine.errors import UserError

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


__all__ = ["Deployed", "Deployment", "deploy"]
