"""``mlops deploy --env ENV``: materialize what an environment branch pins.

For each pin on the environment's branch, the exact stored version is fetched from the
store — or, when missing, retrained at the pin's source commit and required to
reproduce the pinned metrics — and its ``model.skops`` is read once, checked against
the sha256 *in the pin* (git, not the store: the checksum in the version's own
``meta.json`` can be resealed by whoever swaps the model), loaded by the exact trusted
type list, and those same bytes are written with a manifest into
``.mlops/deploy/<env>/``. A serving layer (or a GitOps controller) picks that folder up,
and loads each file with ``engine.store.load_verified(path, entry["sha256"])``. The folder
is written aside and put in place only when every model is ready; the last one is set
aside until then, so a failed or interrupted deploy leaves it whole.

Two cases do not compare with the pin's hash:

- a version this run retrained is deployed by the hash of the bytes it just wrote
  (skops files are not byte-reproducible); the manifest says ``retrained: true`` and
  keeps the pinned hash beside it;
- a pin written by an older engine has no hash: deploy refuses it (this job holds the
  environment's secrets, so it does not fall back on the store's own record) and says
  to promote the version again, which records the hash.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import UserError

if TYPE_CHECKING:
    from engine.definitions.formats import Project
    from engine.environments.operations import Live
    from engine.environments.pins import Pin
    from engine.forge import DeploymentState, Forge
    from engine.store import Store

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
        if not self.ok:  # all or nothing: say so rather than "deployed"
            return "\n".join([*lines, f"nothing deployed: {self.folder} is left as it was"])
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
    """Make every version pinned in ``env_name`` ready to serve; see the module doc.

    One log line per model; when one fails, the others are ``not deployed`` (all or none).
    """
    import time

    from engine import audit

    started = time.perf_counter()
    try:
        result = _deploy(root, env_name)
    except BaseException as exc:
        outcome = "refused" if isinstance(exc, UserError) else "error"
        audit.record(root, "deploy", environment=env_name, outcome=outcome)
        raise
    seconds = time.perf_counter() - started
    for m in result.models:
        outcome = "ok" if result.ok else "failed" if not m.ok else "not deployed"
        audit.record(
            root,
            "deploy",
            model=m.model,
            version=m.version,
            environment=env_name,
            outcome=outcome,
            duration=seconds,
        )
    return result


def _deploy(root: Path, env_name: str) -> Deployment:
    from engine.environments.operations import environment, trusted_project

    project = trusted_project(root)
    environment(project, env_name)  # a clear error for an unknown name
    folder = root / ".mlops" / "deploy" / env_name
    with _one_at_a_time(folder):
        return _deploy_locked(root, env_name, project, folder)


@contextlib.contextmanager
def _one_at_a_time(folder: Path) -> Iterator[None]:
    """Hold the environment's deploy lock: a second ``mlops deploy`` of the same environment
    on this machine (a cron job and a person) waits instead of deleting the first one's
    files half-way (it failed with "unexpected error: FileNotFoundError")."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.with_name(f".{folder.name}.lock"), "a") as lock:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock, as before
            yield
            return
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _deploy_locked(root: Path, env_name: str, project: Project, folder: Path) -> Deployment:
    from engine.environments.operations import live_versions, open_store

    previous = folder.with_name(f".{env_name}.previous")
    if previous.is_dir() and not folder.exists():
        previous.rename(folder)  # a deploy stopped between its two renames: put it back
    live = live_versions(root, project)
    store = open_store(root, project)
    staging = folder.with_name(f".{env_name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    result = Deployment(env_name, folder)
    models: dict[str, Any] = {}
    for model, pin in sorted(live.get(env_name, {}).items()):
        try:
            entry = _deploy_one(root, store, pin, project, live, staging)
        except UserError as exc:
            result.models.append(Deployed(model, pin.version, False, str(exc)))
            continue
        models[model] = entry
        result.models.append(Deployed(model, pin.version, True, " ".join(entry.pop("notes"))))
    if not result.ok:
        shutil.rmtree(staging, ignore_errors=True)
        return result  # nothing half-deployed: the previous folder stays as it was
    manifest = {"environment": env_name, "models": models}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
    # the last deployment is set aside, not deleted, until the new one is in its place:
    # a deploy that stops in between leaves it whole (the next deploy puts it back)
    shutil.rmtree(previous, ignore_errors=True)
    if folder.exists():
        folder.rename(previous)
    staging.rename(folder)
    shutil.rmtree(previous, ignore_errors=True)
    return result


def recorded_deploy(
    root: Path, env_name: str, forge: Forge | None, *, log_url: str | None = None
) -> tuple[Deployment, list[str]]:
    """:func:`deploy`, recorded as a GitHub Deployment of the environment branch.

    The deployment (ref: the environment branch; payload: each pinned model's version,
    fingerprint and sha256) is created ``in_progress`` before the work and ends
    ``success`` or ``failure``, so the repository's Environments page shows what runs
    where and since when. Recording is a report, not a gate: when the forge refuses
    (no ``deployments: write``), or there is none (``None``: no token), the deploy still
    happens and a note says so.
    """
    if forge is None:
        return deploy(root, env_name), ["the deployment was not recorded: no forge to record it"]
    from engine.environments.operations import environment, live_versions, trusted_project
    from engine.forge import ForgeError

    project = trusted_project(root)
    branch = environment(project, env_name).branch
    pins = live_versions(root, project).get(env_name, {})
    payload = {
        "models": {
            model: {"version": p.version, "fingerprint": p.fingerprint, "sha256": p.sha256}
            for model, p in sorted(pins.items())
        }
    }
    what = ", ".join(f"{m}@{p.version}" for m, p in sorted(pins.items())) or "nothing pinned"
    notes: list[str] = []
    ref = None
    try:
        ref = forge.create_deployment(branch, env_name, f"mlops: {what}", payload)
        forge.set_deployment_status(ref.id, "in_progress", f"deploying {what}", log_url=log_url)
    except ForgeError as exc:
        notes.append(f"the deployment could not be recorded on the forge: {exc}")
    result = deploy(root, env_name)
    if ref is not None:
        state: DeploymentState = "success" if result.ok else "failure"
        failed = [f"{m.model}@{m.version}" for m in result.models if not m.ok]
        text = f"ready: {what}" if result.ok else f"failed: {', '.join(failed) or what}"
        try:
            forge.set_deployment_status(ref.id, state, text, log_url=log_url)
        except ForgeError as exc:
            notes.append(f"the deployment's status could not be recorded: {exc}")
    return result, notes


def _deploy_one(
    root: Path, store: Store, pin: Pin, project: Project, live: Live, staging: Path
) -> dict[str, Any]:
    """Verify one pinned version and write its model into ``staging``; its manifest entry.

    A version beside the pin is deployed with it, the same way: a canary (its share of
    the traffic) or a blue-green pin's idle slot (loaded, ready for the switch or an
    instant rollback), as ``<model>.canary.skops`` or ``<model>.<slot>.skops`` under
    ``canary`` or ``idle`` in the entry.
    """
    entry = _deploy_side(root, store, pin, pin, f"{pin.model}.skops", project, live, staging)
    if pin.slot is not None:
        entry["slot"] = pin.slot
    if pin.canary is not None:
        name = f"{pin.model}.canary.skops"
        side = _deploy_side(root, store, pin, pin.canary, name, project, live, staging)
        entry["canary"] = {**side, "percent": pin.canary.percent}
    if pin.idle is not None:
        name = f"{pin.model}.{pin.idle.slot}.skops"
        side = _deploy_side(root, store, pin, pin.idle, name, project, live, staging)
        entry["idle"] = {**side, "slot": pin.idle.slot, "role": pin.idle.role}
    for extra in ("canary", "idle"):
        if extra in entry:
            entry["notes"] += entry[extra].pop("notes")
    return entry


def _deploy_side(
    root: Path,
    store: Store,
    pin: Pin,
    side: Any,
    name: str,
    project: Project,
    live: Live,
    staging: Path,
) -> dict[str, Any]:
    """One version of a pin (itself, its canary or idle slot), verified and written."""
    from engine.definitions.catalog_format import sklearn_version
    from engine.environments.operations import pinned_hash
    from engine.store import load_bytes, read_verified, version_skew

    expected, ensured = pinned_hash(root, store, pin.model, pin.environment, side, project, live)
    stored = store.get(pin.model, side.fingerprint)  # every file against meta.json: damage
    label = f"{stored.record.label} in {pin.environment}"
    data = read_verified(stored.model_path, expected, label)  # the pin's hash: tampering
    load_bytes(data, label)  # the exact trusted types, on the very bytes deployed
    (staging / name).write_bytes(data)
    notes = list(ensured.notes)
    skew = version_skew(stored.record.sklearn_version, sklearn_version())
    if skew is not None:
        notes.append(
            f"It was {skew}; it is served as pinned. To move it to this scikit-learn, train "
            f"its version here and pin that: `mlops train {pin.model}`, then "
            f"`mlops promote {pin.model} --to {pin.environment}`."
        )
    if ensured.retrained_sha256 is not None and ensured.retrained_sha256 != side.sha256:
        notes.append(
            f"Its new file (sha256 {expected[:12]}) is not the pinned one "
            f"({(side.sha256 or 'none')[:12]}): `mlops serve --env {pin.environment}` and the "
            "KServe manifest load only the pinned file and will refuse it, so pin it: "
            f"`mlops promote {pin.model} --to {pin.environment} --rev {side.source_commit[:12]}`."
        )
    return {
        "version": side.version,
        "fingerprint": side.fingerprint,
        "file": name,
        "sha256": expected,
        "pinned_sha256": side.sha256,
        "retrained": ensured.retrained_sha256 is not None,
        "source_commit": side.source_commit,
        "metrics": side.metrics,
        "record": json.loads(stored.record.to_json()),
        "notes": notes,
    }


__all__ = ["Deployed", "Deployment", "checked_environment", "deploy", "environment_for_ref"]
