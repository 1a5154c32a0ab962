"""Promotion and rollback: pinning a model version on an environment branch, in git.

An environment (``staging``) is a branch (``env/staging``) that pins one version per model
in ``mlops/deployments/<model>.yaml`` (see :mod:`engine.environments.pins`). Its history is
the audit log, so every change is one new commit, pushed without force:

- :func:`promote` merges the commit the version was trained from into the branch
  (creating the branch from the default branch if it is missing) and writes the pin,
  both in one commit, ``Promote <model>@<version> to <environment>``, whose trailers
  (``Model:``, ``Version:``, ``Environment:``, ``Promoted-by:``, ``Source-PR:``,
  ``Source-Commit:``, ``Artifact-SHA256:``, and ``Requested-by-comment:`` for a pull
  request comment's command, so a re-run of its job finds it done) machines can read
  back with ``git interpret-trailers --parse``. The pin records the sha256 of the version's
  ``model.skops``, which deploy and serving verify the artifact against.
- :func:`rollback` writes an earlier pin again, ``Roll back <model> in <environment> to
  <version>``: a pin-only commit, never a rewrite.
- :func:`retire` removes the pin and its manifests, ``Retire <model> from <environment>``:
  the environment stops serving a model (one deleted on the default branch, say).
- :func:`pin_history` and :func:`status` read the branches back.

The git transaction (a temporary worktree, fetch, merge, commit, a fast-forward push
redone after a lost race, or a local compare-and-swap) is
:mod:`engine.environments.branch`; this module decides what each change writes.

Every name that becomes a path, a ref or a commit message is checked against a strict
pattern first; messages are built from those values only, never from free text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from engine import gitbranches, gitrepo
from engine.environments import bluegreen
from engine.environments.branch import (
    MAX_ATTEMPTS,
    Change,
    ChangeFor,
    EnvironmentBranch,
    MergeConflict,
    PromotionResult,
    RaceLost,
    engine_identity,
)
from engine.environments.pins import (
    Canary,
    Pin,
    PromotionError,
    abort_message,
    canary_message,
    check_branch,
    check_request,
    check_version,
    choose_rollback,
    parse_pin,
    pin_path,
    promotion_message,
    read_pins,
    retire_message,
    rollback_message,
)
from engine.errors import DefinitionError
from engine.training.fingerprint import short

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class _Unjudged:
    """The type of :data:`UNJUDGED`: the caller made no decision the pin could outdate."""


UNJUDGED = _Unjudged()


class LiveMoved(PromotionError):
    """The model's pin moved after the promotion was decided; nothing was written."""


FilesFor = Callable[[Pin], Mapping[str, str | None]]
"""The pin about to be written -> other files for the same commit ({path: text, or None
to delete the file})."""


@dataclass(frozen=True)
class PinEvent:
    """One change of a model's pin on an environment branch."""

    commit: str
    pin: Pin
    when: str  # committer date, ISO 8601
    actor: str  # who asked for it (the pin's promoted_by), not the engine's commit identity
    subject: str


def promote(
    root: Path,
    *,
    model: str,
    fingerprint: str,
    sha256: str,
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
    files: FilesFor | None = None,
    canary_percent: int | None = None,
    blue_green: bool = False,
    judged_against: str | _Unjudged | None = UNJUDGED,
    trailers: Sequence[str] = (),
) -> PromotionResult:
    """Merge ``source_commit`` into ``branch`` and pin ``fingerprint`` there, in one commit.

    ``sha256`` is the hash of the version's ``model.skops`` (checked by the caller, which
    loaded it): the pin records it. Promoting the live version again is a no-op unless
    its pin lacks that hash (an older pin) or names another one; then the pin is rewritten.
    ``before_push`` runs before each push (tests use it to lose a race on purpose).
    ``files(pin)`` names other files the same commit writes (the model's manifest).

    ``canary_percent``: pin the version as a canary beside the live one with that share
    of the traffic (1 to 99; the same version again changes the share). A promotion
    without it while a canary runs replaces the pin: promoting the canary's version
    completes the canary.

    ``blue_green``: the environment keeps two slots (:mod:`engine.environments.bluegreen`):
    a new version is staged in the idle slot, the staged version switches.

    ``judged_against``: the fingerprint the model's pin had (None: no pin) when the caller
    decided on this promotion (its gates, against what runs there). When the pin moved
    since — another promotion or rollback of the model landed while this one trained or
    raced — the decision is stale: :class:`LiveMoved`, nothing written. A race with a
    change to another model's pin is redone as ever.

    ``trailers`` (``Key: value`` lines) end the commit's message: the comment that asked
    for it (:func:`done_by` finds it again, so a re-run of that comment's job is a no-op).
    """
    if not _SHA256.match(sha256):
        raise PromotionError(f"{sha256!r} is not a sha256 (64 lowercase hex digits)")
    if canary_percent is not None and (
        isinstance(canary_percent, bool)
        or not isinstance(canary_percent, int)
        or not 1 <= canary_percent <= 99
    ):
        raise PromotionError(
            f"a canary gets 1 to 99 percent of the traffic, not {canary_percent!r} "
            "(promote without --canary to send it everything)"
        )
    check_request(
        model=model,
        environment=environment,
        branch=branch,
        actor=actor,
        pr=pr,
        fingerprint=fingerprint,
        source_commit=source_commit,
    )
    check_branch(default_branch)
    target = EnvironmentBranch.open(root, branch, default_branch, remote, push)
    target.require_commit(source_commit)

    def change(current: Pin | None) -> Change | None:
        extra: Mapping[str, str | None]
        _check_judged(current, judged_against, model, environment, fingerprint)
        if canary_percent is not None:
            pin = _canary_pin(current, canary_percent)
            if pin is None:
                return None
            extra = files(pin) if files else {}
            return Change(pin, canary_message(pin, actor), source_commit, extra)
        if (
            not blue_green
            and current is not None
            and (current.fingerprint, current.sha256) == (fingerprint, sha256)
        ):
            return None
        pin = Pin(
            model=model,
            version=short(fingerprint),
            fingerprint=fingerprint,
            sha256=sha256,
            environment=environment,
            source_commit=source_commit,
            pr=pr,
            promoted_by=actor,
            promoted_at=now,
            metrics=metrics,
            previous=(
                current.previous
                if current and current.fingerprint == fingerprint
                else (current.fingerprint if current else None)
            ),
        )
        if blue_green:
            step = bluegreen.promoted(current, pin, actor)
            if step is None:
                return None
            pin, message = step
            # Staging brings the source commit's definitions; a switch moves traffic only.
            merge = None if pin.action == "switch" else source_commit
            return Change(pin, message, merge, files(pin) if files else {})
        extra = files(pin) if files else {}
        return Change(pin, promotion_message(pin, current, actor), source_commit, extra)

    def _canary_pin(current: Pin | None, percent: int) -> Pin | None:
        if current is None:
            raise PromotionError(
                f"{model} has no version live in {environment} for a canary to run beside: "
                "promote one without --canary first"
            )
        if current.fingerprint == fingerprint:
            raise PromotionError(
                f"{model}@{short(fingerprint)} is already the stable version in {environment}; "
                "a canary is another version"
            )
        live = current.canary
        if live is not None and (live.fingerprint, live.sha256, live.percent) == (
            fingerprint,
            sha256,
            percent,
        ):
            return None
        canary = Canary(
            version=short(fingerprint),
            fingerprint=fingerprint,
            sha256=sha256,
            source_commit=source_commit,
            percent=percent,
            pr=pr,
            promoted_by=actor,
            promoted_at=now,
            metrics=metrics,
        )
        return current.model_copy(update={"canary": canary})

    return target.apply(model, _with_trailers(change, trailers), max_attempts, before_push)


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
    artifact_sha256: Callable[[str], str] | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    before_push: Callable[[], None] | None = None,
    files: FilesFor | None = None,
    prepare: Callable[[Pin], Pin] | None = None,
    trailers: Sequence[str] = (),
) -> PromotionResult:
    """Pin an earlier version again: the previous one, or ``to_fingerprint`` (a full id or prefix).

    While a canary runs, a rollback without ``to_fingerprint`` aborts it instead: the
    stable version answers every request again (one commit, ``Abort the canary...``).

    The version must have been pinned in this environment before; ``fingerprint_exists``
    (the store's lookup) refuses one whose model is gone. ``pr`` is where it was asked.
    The restored pin keeps the artifact sha256 it was promoted with; a pin older than
    that record gets ``artifact_sha256(fingerprint)`` (the caller's checked lookup).
    Rolling back to the live version itself is a no-op, unless its pin records no sha256
    (an older engine wrote it): it is then pinned again with the hash, which is how such a
    pin is made deployable once no revision makes its version any more.
    ``prepare`` gets the chosen pin unless it is already the live one, and returns the pin
    to restore: the caller makes the version deployable there (retrains it into the store,
    as a promotion does, and records the new file's hash), or raises. ``trailers`` end the
    commit's message, as for :func:`promote`.
    """
    check_request(model=model, environment=environment, branch=branch, actor=actor, pr=pr)
    if to_fingerprint is not None:
        check_version(to_fingerprint)  # before any fetch
    # The default branch is never read: a rollback needs the environment branch to exist.
    target = EnvironmentBranch.open(root, branch, branch, remote, push)
    if target.start_ref is None or not target.branch_exists:
        raise PromotionError(f"nothing to roll back: {branch} does not exist yet")
    history = [event.pin for event in _history(root, target.start_ref, model)]
    if history and history[0].canary is not None and to_fingerprint is None:
        abort = _with_trailers(_abort(actor, pr, now, files), trailers)
        return target.apply(model, abort, max_attempts, before_push)

    def ready(pin: Pin) -> Pin:
        # in the store (or reproduced by ``prepare`` unless it is the live one), hash known
        pin = _checked(pin, model, fingerprint_exists, None)
        if prepare is not None and not (history and history[0].fingerprint == pin.fingerprint):
            pin = prepare(pin)
        checked: Pin = _checked(pin, model, None, artifact_sha256)
        return checked

    if history and history[0].slot is not None:
        head = history[0]
        earlier: Pin | None = None
        if not bluegreen.idle_answers(head, to_fingerprint):
            earlier = ready(choose_rollback(history, to_fingerprint, model, environment))
        elif head.idle is not None and head.idle.role == "previous":
            _checked(head.idle, model, fingerprint_exists, None)
        switch = _switch_back(earlier, to_fingerprint, actor, now, pr, files)
        return target.apply(model, _with_trailers(switch, trailers), max_attempts, before_push)
    chosen = ready(choose_rollback(history, to_fingerprint, model, environment))

    def change(current: Pin | None) -> Change | None:
        if current is None:
            raise PromotionError(f"nothing to roll back: {model} is not pinned in {environment}")
        if current.fingerprint == chosen.fingerprint and current.sha256 is not None:
            return None  # (a live pin without a hash, an older engine's, is sealed anew)
        pin = chosen.model_copy(
            update={
                "environment": environment,
                "promoted_by": actor,
                "promoted_at": now,
                "previous": current.fingerprint,
                "action": "rollback",
                "canary": None,
                "slot": None,
                "idle": None,
            }
        )
        extra = files(pin) if files else {}
        return Change(pin, rollback_message(pin, current, actor, pr), None, extra)

    return target.apply(model, _with_trailers(change, trailers), max_attempts, before_push)


def retire(
    root: Path,
    *,
    model: str,
    environment: str,
    branch: str,
    actor: str,
    pr: int | None,
    remote: str = "origin",
    push: bool = True,
    max_attempts: int = MAX_ATTEMPTS,
    before_push: Callable[[], None] | None = None,
    files: Mapping[str, str | None] | None = None,
    trailers: Sequence[str] = (),
) -> PromotionResult:
    """Remove ``model``'s pin from ``branch``, and the ``files`` mapped to None (its
    manifests, each deleted only when written for this model), in one new commit.

    Nothing else of the branch changes; a lost race is fetched and redone as for
    :func:`promote`. The result's ``pin`` is the pin removed, ``retired`` is True.
    """
    check_request(model=model, environment=environment, branch=branch, actor=actor, pr=pr)
    target = EnvironmentBranch.open(root, branch, branch, remote, push)
    if target.start_ref is None or not target.branch_exists:
        raise PromotionError(f"nothing to retire: {branch} does not exist yet")

    def change(current: Pin | None) -> Change | None:
        if current is None:
            raise PromotionError(f"nothing to retire: {model} is not pinned in {environment}")
        message = retire_message(current, actor, pr)
        return Change(current, message, None, dict(files or {}), retire=True)

    return target.apply(model, _with_trailers(change, trailers), max_attempts, before_push)


def retired_models(root: Path, branch: str) -> set[str]:
    """The models whose pin a commit of ``branch``'s own line deleted (retired there)."""
    from engine.environments.pins import FOLDER
    from engine.environments.refs import pin_refs

    for ref in pin_refs(branch):
        if not gitrepo.commit_exists(root, ref):
            continue
        log = gitrepo.run_git(
            root, "log", "--first-parent", "--diff-filter=D", "--format=", "--name-only",
            ref, "--", f"{FOLDER}/",
        ).stdout  # fmt: skip
        paths = (Path(line) for line in log.splitlines())
        return {p.stem for p in paths if p.suffix == ".yaml" and p.parent.as_posix() == FOLDER}
    return set()


def _with_trailers(change: ChangeFor, trailers: Sequence[str]) -> ChangeFor:
    """``change`` with ``trailers`` added to the trailer block that ends its message."""
    if not trailers:
        return change

    def with_them(current: Pin | None) -> Change | None:
        todo = change(current)
        if todo is None:
            return None
        message = todo.message.rstrip("\n") + "\n" + "\n".join(trailers) + "\n"
        return replace(todo, message=message)

    return with_them


def done_by(root: Path, ref: str, model: str, trailer: str) -> str | None:
    """The newest commit of ``ref``'s own line that changed ``model``'s pin and whose
    message has the line ``trailer``, or None (also when ``ref`` does not exist)."""
    if gitbranches.ref_sha(root, ref) is None:
        return None
    log = gitrepo.run_git(
        root, "log", "--first-parent", "--format=%H%x1f%B%x1e", ref, "--", pin_path(model)
    )
    for entry in log.stdout.split("\x1e"):
        sha, _, message = entry.strip("\n").partition("\x1f")
        if sha and trailer in message.splitlines():
            return sha
    return None


def _check_judged(
    current: Pin | None,
    judged: str | _Unjudged | None,
    model: str,
    environment: str,
    fingerprint: str,
) -> None:
    """Refuse when the pin the decision was judged against is no longer the live one."""
    if isinstance(judged, _Unjudged):
        return
    now = current.fingerprint if current is not None else None
    if now in (judged, fingerprint):  # unchanged, or already ours (a no-op)
        return
    was = short(judged) if judged else "nothing"
    by = f" by {current.promoted_by}" if current is not None and current.promoted_by else ""
    raise LiveMoved(
        f"{model} in {environment} changed from {was} to "
        f"{short(now) if now else 'nothing'}{by} while this promotion was being decided, so "
        "its gates were judged against a version that no longer runs there; nothing was "
        "written: run the command again to judge it against what runs now"
    )


def _checked(
    side: Any,
    model: str,
    fingerprint_exists: Callable[[str], bool] | None,
    artifact_sha256: Callable[[str], str] | None,
) -> Any:
    """``side`` (a pin or an idle slot) once its version is known to be in the store."""
    if fingerprint_exists is not None and not fingerprint_exists(side.fingerprint):
        raise PromotionError(
            f"{model}@{side.version} is no "
            "longer in the store, so it cannot be deployed; promote a version that is "
            "(or retrain this one by promoting it from its PR)"
        )
    if side.sha256 is None and artifact_sha256 is not None:
        side = side.model_copy(update={"sha256": artifact_sha256(side.fingerprint)})
    return side


def _switch_back(
    chosen: Pin | None,
    to: str | None,
    actor: str,
    now: str,
    pr: int | None,
    files: FilesFor | None,
) -> ChangeFor:
    """The change of a blue-green rollback (:func:`engine.environments.bluegreen.rolled_back`)."""

    def change(current: Pin | None) -> Change | None:
        if current is None:
            raise PromotionError("nothing to roll back: the model is not pinned any more")
        step = bluegreen.rolled_back(current, chosen, to=to, actor=actor, now=now, requested_in=pr)
        if step is None:
            return None
        pin, message = step
        return Change(pin, message, None, files(pin) if files else {})

    return change


def _abort(actor: str, pr: int | None, now: str, files: FilesFor | None) -> ChangeFor:
    """The change that drops a live canary: the stable version gets every request again."""

    def change(current: Pin | None) -> Change | None:
        if current is None:
            raise PromotionError("nothing to abort: the model is not pinned any more")
        if current.canary is None:
            return None  # someone else ended it first
        pin = current.model_copy(
            update={"canary": None, "promoted_by": actor, "promoted_at": now, "action": "abort"}
        )
        extra = files(pin) if files else {}
        return Change(pin, abort_message(pin, current.canary, actor, pr), None, extra)

    return change


def pin_history(root: Path, branch: str, model: str, remote: str = "origin") -> list[PinEvent]:
    """Every pin ``model`` had on ``branch`` (local, else ``<remote>/<branch>``), newest first."""
    check_request(model=model, branch=branch)
    for ref in (f"refs/heads/{branch}", f"refs/remotes/{remote}/{branch}"):
        if gitbranches.ref_sha(root, ref) is not None:
            return _history(root, ref, model)
    return []


def retirements(
    root: Path, branch: str, model: str, remote: str = "origin"
) -> list[tuple[str, str, str, str]]:
    """Each commit of ``branch``'s own line that removed ``model``'s pin (local branch,
    else ``<remote>/<branch>``), newest first: (commit, when, who, version). A pin deleted
    by hand has no trailers: who and version are then empty."""
    check_request(model=model, branch=branch)
    for ref in (f"refs/heads/{branch}", f"refs/remotes/{remote}/{branch}"):
        if gitbranches.ref_sha(root, ref) is not None:
            fields = "%H%x1f%cI" + "".join(
                f"%x1f%(trailers:key={key},valueonly,separator=%x2C)"
                for key in ("Retired-by", "Version")
            )
            log = gitrepo.run_git(
                root, "log", "--first-parent", "--diff-filter=D", f"--format={fields}",
                ref, "--", pin_path(model),
            ).stdout  # fmt: skip
            rows = (line.split("\x1f", 3) for line in log.splitlines() if line)
            return [(sha, when, who, version) for sha, when, who, version in rows]
    return []


def status(root: Path, environments: dict[str, str]) -> dict[str, dict[str, Pin]]:
    """``{environment: {model: pin}}`` for ``{environment: branch}``; no branch, no pins."""
    return {env: read_pins(root, branch) or {} for env, branch in environments.items()}


def _history(root: Path, ref: str, model: str) -> list[PinEvent]:
    path = pin_path(model)
    # --first-parent: the branch's own line of commits, each compared with the one before.
    log = gitrepo.run_git(
        root, "log", "--first-parent", "--format=%H%x1f%cI%x1f%s", ref, "--", path
    )
    rows = [line.split("\x1f", 2) for line in log.stdout.splitlines() if line]
    blobs = gitrepo.read_blobs(root, [f"{sha}:{path}" for sha, _, _ in rows])
    events = []
    for (sha, when, subject), data in zip(rows, blobs, strict=True):
        if data is None:  # the pin was deleted in this commit
            continue
        try:
            pin = parse_pin(data, path)
        except DefinitionError:  # a hand edit broke this revision; the others still count
            continue
        # A stage leaves the live version's lineage as it was: its actor is the idle slot's.
        staged = pin.idle if pin.action == "stage" else None
        actor = staged.promoted_by if staged is not None else pin.promoted_by
        events.append(PinEvent(sha, pin, when, actor, subject))
    return events


__all__ = [
    "UNJUDGED",
    "FilesFor",
    "LiveMoved",
    "MergeConflict",
    "PinEvent",
    "PromotionError",
    "PromotionResult",
    "RaceLost",
    "done_by",
    "engine_identity",
    "pin_history",
    "promote",
    "rollback",
    "status",
]
