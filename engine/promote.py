"""Promotion and rollback: pinning a model version on an environment branch, in git.

An environment (``staging``) is a branch (``env/staging``) that pins one version per model
in ``mlops/deployments/<model>.yaml`` (see :mod:`engine.pins`). Its history is the audit
log, so every change is one new commit, pushed without force:

- :func:`promote` merges the commit the version was trained from into the branch
  (creating the branch from the default branch if it is missing) and writes the pin,
  both in one commit, ``Promote <model>@<version> to <environment>``, whose trailers
  (``Model:``, ``Version:``, ``Environment:``, ``Promoted-by:``, ``Source-PR:``,
  ``Source-Commit:``) machines can read back with ``git interpret-trailers --parse``.
- :func:`rollback` writes an earlier pin again, ``Roll back <model> in <environment> to
  <version>``: a pin-only commit, never a rewrite.
- :func:`pin_history` and :func:`status` read the branches back.

The work happens in a temporary ``git worktree``, so the user's checkout (current
branch, index, edited files) is never touched. With a remote, the branch is fetched
first and the commit pushed as a fast-forward; a push that loses a race (someone else
pushed in between) is fetched and redone, a bounded number of times. Without one (or
with ``push=False``), the local branch ref is moved by compare-and-swap instead.

Every name that becomes a path, a ref or a commit message is checked against a strict
pattern first; messages are built from those values only, never from free text.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine import gitrepo
from engine.definitions import NAME_PATTERN
from engine.errors import DefinitionError, GitError, UserError
from engine.fingerprint import short
from engine.pins import Pin, parse_pin, pin_path, read_pins, render

ACTOR_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}(\[bot\])?$"
DEFAULT_IDENTITY = gitrepo.Author("mlops[bot]", "mlops-bot@users.noreply.github.com")
MAX_ATTEMPTS = 10  # enough for ten promoters racing on one branch; see the concurrency test
_NAME = re.compile(NAME_PATTERN)
_ACTOR = re.compile(ACTOR_PATTERN)
_FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_VERSION_PREFIX = re.compile(r"^[0-9a-f]{4,64}$")
_BRANCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
# What `git push --porcelain` says when the remote moved under us: fetch and redo.
_RACE = ("fetch first", "non-fast-forward", "stale info", "failed to update ref", "cannot lock")


class PromotionError(UserError):
    """A promotion or rollback was refused; the message says what would make it pass."""


class MergeConflict(PromotionError):
    """The source commit conflicts with files edited on the environment branch."""

    def __init__(self, message: str, files: list[str]) -> None:
        super().__init__(message)
        self.files = files


class RaceLost(PromotionError):
    """Every push lost to a concurrent one; nothing was written."""


@dataclass(frozen=True)
class PromotionResult:
    """What a promotion or rollback did. ``commit`` is None for a no-op."""

    environment: str
    branch: str
    model: str
    version: str
    commit: str | None
    previous: Pin | None
    noop: bool
    pushed: bool
    attempts: int
    pin: Pin  # the pin live on the branch afterwards


@dataclass(frozen=True)
class PinEvent:
    """One change of a model's pin on an environment branch."""

    commit: str
    pin: Pin
    when: str  # committer date, ISO 8601
    actor: str  # who asked for it (the pin's promoted_by), not the engine's commit identity
    subject: str


def engine_identity() -> gitrepo.Author:
    """The identity the engine commits as: ``MLOPS_GIT_NAME``/``MLOPS_GIT_EMAIL`` or the bot."""
    name = os.environ.get("MLOPS_GIT_NAME") or DEFAULT_IDENTITY.name
    email = os.environ.get("MLOPS_GIT_EMAIL") or DEFAULT_IDENTITY.email
    return gitrepo.Author(name, email)


def promote(
    root: Path,
    *,
    model: str,
    fingerprint: str,
    environment: str,
    branch: str,
    default_branch: str,
    source_commit: str,
    actor: str,
    pr: int | None,
    metrics: dict[str, float | None],
    now: str,
    remote: str = "origin",
    push: bool = True,
    max_attempts: int = MAX_ATTEMPTS,
    before_push: Callable[[], None] | None = None,
) -> PromotionResult:
    """Merge ``source_commit`` into ``branch`` and pin ``fingerprint`` there, in one commit.

    ``before_push`` runs before each push (tests use it to lose a race on purpose).
    """
    _check(model=model, environment=environment, branch=branch, actor=actor, pr=pr)
    _check_branch(default_branch)
    if not _FINGERPRINT.match(fingerprint):
        raise PromotionError(f"{fingerprint!r} is not a fingerprint (64 lowercase hex digits)")
    if not _SHA.match(source_commit):
        raise PromotionError(f"{source_commit!r} is not a full commit SHA (40 hex digits)")
    target = _Target.open(root, branch, default_branch, remote, push)
    target.require_commit(source_commit)

    def change(current: Pin | None) -> _Change | None:
        if current is not None and current.fingerprint == fingerprint:
            return None
        pin = Pin(
            model=model,
            version=short(fingerprint),
            fingerprint=fingerprint,
            environment=environment,
            source_commit=source_commit,
            pr=pr,
            promoted_by=actor,
            promoted_at=now,
            metrics=metrics,
            previous=current.fingerprint if current else None,
        )
        then = f"Replaces {current.version}." if current else "First version in this environment."
        body = f"Pins fingerprint {fingerprint},\ntrained from {source_commit}. {then}"
        subject = f"Promote {model}@{pin.version} to {environment}"
        return _Change(pin, _message(subject, body, pin, actor), merge=source_commit)

    return target.apply(model, change, max_attempts, before_push)


def rollback(
    root: Path,
    *,
    model: str,
    environment: str,
    branch: str,
    to_fingerprint: str | None,
    actor: str,
    pr: int | None,
    now: str,
    remote: str = "origin",
    push: bool = True,
    fingerprint_exists: Callable[[str], bool] | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    before_push: Callable[[], None] | None = None,
) -> PromotionResult:
    """Pin an earlier version again: the previous one, or ``to_fingerprint`` (a full id or prefix).

    The version must have been pinned in this environment before; ``fingerprint_exists``
    (the store's lookup) refuses one whose model is gone. ``pr`` is where it was asked.
    """
    _check(model=model, environment=environment, branch=branch, actor=actor, pr=pr)
    wanted = to_fingerprint.strip().lower() if to_fingerprint is not None else None
    if wanted is not None and not _VERSION_PREFIX.match(wanted):
        raise PromotionError(f"{to_fingerprint!r} is not a version: give 4 to 64 hex digits")
    # The default branch is never read: a rollback needs the environment branch to exist.
    target = _Target.open(root, branch, branch, remote, push)
    if target.start_ref is None or not target.branch_exists:
        raise PromotionError(f"nothing to roll back: {branch} does not exist yet")
    history = [event.pin for event in _history(root, target.start_ref, model)]
    if not history:
        raise PromotionError(f"nothing to roll back: {model} was never pinned in {environment}")
    chosen = _choose(history, wanted, model, environment)
    if fingerprint_exists is not None and not fingerprint_exists(chosen.fingerprint):
        raise PromotionError(
            f"{model}@{chosen.version} is no longer in the store, so it cannot be deployed; "
            "promote a version that is (or retrain this one by promoting it from its PR)"
        )

    def change(current: Pin | None) -> _Change | None:
        if current is None:
            raise PromotionError(f"nothing to roll back: {model} is not pinned in {environment}")
        if current.fingerprint == chosen.fingerprint:
            return None
        pin = chosen.model_copy(
            update={
                "environment": environment,
                "promoted_by": actor,
                "promoted_at": now,
                "previous": current.fingerprint,
                "action": "rollback",
            }
        )
        subject = f"Roll back {model} in {environment} to {pin.version}"
        body = f"Pins fingerprint {pin.fingerprint} again,\nreplacing {current.fingerprint}."
        extra = [f"Rolled-back-from: {current.version}"]
        if pr is not None:
            extra.append(f"Requested-in: #{pr}")
        return _Change(pin, _message(subject, body, pin, actor, extra), merge=None)

    return target.apply(model, change, max_attempts, before_push)


def pin_history(root: Path, branch: str, model: str) -> list[PinEvent]:
    """Every pin ``model`` had on ``branch`` (local, else ``origin/<branch>``), newest first."""
    _check(model=model, branch=branch)
    for ref in (f"refs/heads/{branch}", f"refs/remotes/origin/{branch}"):
        if gitrepo.ref_sha(root, ref) is not None:
            return _history(root, ref, model)
    return []


def status(root: Path, environments: dict[str, str]) -> dict[str, dict[str, Pin]]:
    """``{environment: {model: pin}}`` for ``{environment: branch}``; a missing branch pins nothing."""
    return {env: read_pins(root, branch) or {} for env, branch in environments.items()}


# --- Checks and messages (pure) ------------------------------------------------------------


def _check(
    *,
    model: str,
    branch: str,
    environment: str = "x",
    actor: str = "x",
    pr: int | None = None,
) -> None:
    if not _NAME.match(model):
        raise PromotionError(f"{model!r} is not a model name: letters, digits, '.', '_', '-'")
    if not _NAME.match(environment):
        raise PromotionError(f"{environment!r} is not an environment name")
    if not _ACTOR.match(actor):
        raise PromotionError(f"{actor!r} is not a user login (letters, digits and '-')")
    if pr is not None and (isinstance(pr, bool) or not isinstance(pr, int) or pr < 1):
        raise PromotionError(f"{pr!r} is not a pull request number")
    _check_branch(branch)


def _check_branch(branch: str) -> None:
    bad = ".." in branch or "//" in branch or branch.endswith((".lock", "/", "."))
    if bad or not _BRANCH.match(branch):
        raise PromotionError(f"{branch!r} is not a branch name the engine will write to")


def _message(subject: str, body: str, pin: Pin, actor: str, extra: list[str] = ()) -> str:  # type: ignore[assignment]
    trailers = [
        f"Model: {pin.model}",
        f"Version: {pin.version}",
        f"Environment: {pin.environment}",
        f"Promoted-by: {actor}",
    ]
    if pin.pr is not None:
        trailers.append(f"Source-PR: #{pin.pr}")
    trailers.append(f"Source-Commit: {pin.source_commit}")
    return f"{subject}\n\n{body}\n\n" + "\n".join([*trailers, *extra]) + "\n"


def _choose(history: list[Pin], wanted: str | None, model: str, environment: str) -> Pin:
    current = history[0]
    if wanted is None:
        for pin in history[1:]:
            if pin.fingerprint != current.fingerprint:
                return pin
        raise PromotionError(
            f"nothing to roll back to: {model}@{current.version} is the only version "
            f"ever pinned in {environment}"
        )
    seen: dict[str, Pin] = {}
    for pin in history:
        seen.setdefault(pin.fingerprint, pin)  # newest pin of each version: its latest lineage
    matches = [pin for fp, pin in seen.items() if fp.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(pin.version for pin in seen.values())
    if not matches:
        raise PromotionError(
            f"{wanted} was never pinned in {environment} for {model}; versions it had: {known}"
        )
    raise PromotionError(f"{wanted} is ambiguous for {model} in {environment}: give more digits")
