"""Blue-green pins: two named slots, one live, one idle and loaded; pure rules.

An environment with ``strategy: blue-green`` keeps two versions of a model ready: the
pin's own fields are the *live* slot (``slot: blue`` or ``green``), the one every request
goes to, and ``idle`` is the other slot, loaded and verified but answering nothing. Every
reader that asks "what runs here" (status, policy's ``requires``, deploy, monitoring)
keeps reading the pin's own fields.

Each step is one commit on the environment branch (see
:mod:`engine.environments.promote`), decided here from the pin live now:

- a promotion of a new version **stages** it: it is loaded into the idle slot (which
  may have held the previous version), and the live slot keeps every request;
- a promotion of the version in the idle slot **switches**: all traffic moves to that
  slot at once, and the version that was live stays loaded in the other slot (role
  ``previous``) so that a rollback is instant;
- a rollback with a ``previous`` version idle switches back to it; with a ``staged``
  version idle it **unstages** it (it never had traffic); a rollback to a version in
  neither slot loads it into the idle slot and switches to it, in the same commit.

The first version of a model in the environment goes live in ``blue`` at once: there is
nothing to switch from.
"""

from __future__ import annotations

from engine.environments.pins import (
    Pin,
    PromotionError,
    Slot,
    check_version,
    other_slot,
    promotion_message,
    stage_message,
    switch_message,
    unstage_message,
)

Step = tuple[Pin, str]
"""The pin to write and its commit message."""


def as_slot(side: Pin | Slot, slot: str, role: str) -> Slot:
    """``side`` (a pin's live fields, or an idle slot) as the content of ``slot``."""
    return Slot.model_validate(
        {
            "slot": slot,
            "role": role,
            "version": side.version,
            "fingerprint": side.fingerprint,
            "sha256": side.sha256,
            "source_commit": side.source_commit,
            "pr": side.pr,
            "promoted_by": side.promoted_by,
            "promoted_at": side.promoted_at,
            "metrics": dict(side.metrics),
        }
    )


def switched(current: Pin, to: Pin | Slot, *, actor: str, now: str, action: str) -> Pin:
    """``current`` after all traffic moved to ``to`` in the other slot; the live one stays warm."""
    live_slot = current.slot or "blue"
    return Pin(
        model=current.model,
        version=to.version,
        fingerprint=to.fingerprint,
        sha256=to.sha256,
        environment=current.environment,
        source_commit=to.source_commit,
        pr=to.pr,
        promoted_by=actor,
        promoted_at=now,
        metrics=dict(to.metrics),
        previous=current.fingerprint,
        action=action,
        slot=other_slot(live_slot),
        idle=as_slot(current, live_slot, "previous"),
    )


def promoted(current: Pin | None, fresh: Pin, actor: str) -> Step | None:
    """What a promotion of ``fresh`` (the pin a direct promotion would write) does here.

    None: nothing to do (the version is live already, with the same artifact).
    """
    if current is None:
        pin = fresh.model_copy(update={"slot": "blue"})
        return pin, promotion_message(pin, None, actor)
    if current.fingerprint == fresh.fingerprint:
        if current.sha256 == fresh.sha256:
            return None
        # An older pin without the artifact's hash: record it, nothing moves.
        pin = current.model_copy(update={"sha256": fresh.sha256, "slot": current.slot or "blue"})
        return pin, promotion_message(pin, current, actor)
    idle = current.idle
    if idle is not None and idle.fingerprint == fresh.fingerprint:
        # The hash this job verified, as a promotion of the live version records it: a job
        # whose store starts empty retrains the version, and skops files are not byte for
        # byte reproducible, so the staged hash may differ; it is the same version.
        to = idle.model_copy(update={"sha256": fresh.sha256})
        pin = switched(current, to, actor=actor, now=fresh.promoted_at, action="switch")
        return pin, switch_message(pin, actor)
    live_slot = current.slot or "blue"
    staged = as_slot(fresh, other_slot(live_slot), "staged")
    pin = current.model_copy(
        update={"slot": live_slot, "idle": staged, "canary": None, "action": "stage"}
    )
    return pin, stage_message(pin, actor)


def idle_answers(pin: Pin, to: str | None) -> bool:
    """Whether a rollback of ``pin`` (to ``to``, or the default) is decided by its idle slot."""
    if pin.idle is None:
        return False
    return to is None or pin.idle.fingerprint.startswith(check_version(to))


def rolled_back(
    current: Pin,
    chosen: Pin | None,
    *,
    to: str | None,
    actor: str,
    now: str,
    requested_in: int | None,
) -> Step | None:
    """What a rollback does to the blue-green pin ``current``; None when nothing moves.

    ``chosen``: the earlier pin to go back to, when the idle slot does not decide
    (:func:`idle_answers` is False); it is loaded into the idle slot and switched to.
    """
    if idle_answers(current, to):
        idle = current.idle
        assert idle is not None
        if idle.role == "previous":
            pin = switched(current, idle, actor=actor, now=now, action="rollback")
            return pin, switch_message(pin, actor, requested_in)
        if to is not None:
            raise PromotionError(
                f"{current.model}@{idle.version} is staged in {current.environment} and was "
                "never live there: promote it to switch to it, or roll back without a version "
                "to unstage it"
            )
        pin = current.model_copy(update={"idle": None, "action": "unstage"})
        return pin, unstage_message(pin, idle, actor, requested_in)
    if chosen is None:
        return None  # someone else's rollback moved the idle slot first; run it again
    if chosen.fingerprint == current.fingerprint:
        return None
    pin = switched(current, chosen, actor=actor, now=now, action="rollback")
    return pin, switch_message(pin, actor, requested_in)


def switch_target(current: Pin | None, env_name: str, strategy: str) -> tuple[Slot | None, str]:
    """The idle slot ``promote --switch`` promotes, or None and the reason it cannot."""
    if strategy != "blue-green":
        return None, (
            f"`{env_name}` deploys with strategy `{strategy}`, which has no slots to switch: "
            "set `strategy: blue-green` for it in mlops/project.yaml, or promote without "
            "`--switch`"
        )
    if current is None or current.idle is None:
        model = f"`{current.model}`" if current is not None else "the model"
        return None, (
            f"{model} has no version in the idle slot of `{env_name}` to switch to: promote "
            "one first (it is staged there), then switch"
        )
    return current.idle, ""


def not_the_idle_version(idle: Slot, fingerprint: str) -> str:
    """Why ``promote --switch`` refuses when the idle slot's source commit now makes another
    version (another scikit-learn, or a pin edited by hand)."""
    return (
        f"the idle `{idle.slot}` slot holds `{idle.version}`, but its source commit "
        f"`{idle.source_commit[:7]}` now gives version `{fingerprint[:12]}`: switching would "
        "stage that instead; promote the version you want (it is staged), then switch"
    )


def step_message(pin: Pin, env_name: str) -> str:
    """What a blue-green step did, in words (the reply to a command)."""
    idle, m = pin.idle, pin.model
    if pin.action == "stage" and idle is not None:
        return (
            f"Staged `{m}` `{idle.version}` in the idle `{idle.slot}` slot of `{env_name}` "
            f"(`{pin.version}` in `{pin.slot}` keeps every request; promote it again to "
            "switch)"
        )
    if pin.action == "unstage":
        return f"Unstaged the idle slot of `{m}` in `{env_name}`: `{pin.version}` keeps serving"
    verb = "Rolled back" if pin.action == "rollback" else "Switched"
    warm = f", `{idle.version}` stays loaded in `{idle.slot}`" if idle is not None else ""
    return f"{verb} `{m}` in `{env_name}` to `{pin.version}` in `{pin.slot}`{warm}"


__all__ = [
    "Step",
    "as_slot",
    "idle_answers",
    "not_the_idle_version",
    "promoted",
    "rolled_back",
    "step_message",
    "switch_target",
    "switched",
]
