"""Deployment pins: what an environment branch runs, in ``mlops/deployments/<model>.yaml``.

An environment branch (``env/staging``...) owns only these files; the default branch
never contains ``mlops/deployments/``. A pin names the stored version (its fingerprint),
the sha256 of its ``model.skops`` (the hash deploy and serving verify the artifact
against: it lives in git, away from the store, where whoever could rewrite the model
could also rewrite the checksum beside it), and the lineage of the promotion. Pins
written before the hash was recorded have ``sha256: None``; deploy refuses them until
the version is promoted again (which records it). Everything else about a pinned
version (its definition, features, dataset) is read at the pin's ``source_commit``,
never from the environment branch's tree. Parsing and rendering are pure; reading a
branch is done by :func:`read_pins` through the git seam.

The second half is the pure part of a promotion (:mod:`engine.environments.promote` does the git):
:func:`check_request` refuses names that would become unsafe paths, refs or message
lines; :func:`promotion_message` and :func:`rollback_message` build commit messages from
checked values only; :func:`choose_rollback` picks the pin a rollback restores.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.definitions.names import NAME_PATTERN
from engine.definitions.yamlfile import YamlProblem, parse
from engine.environments.refs import pin_refs
from engine.errors import DefinitionError, UserError

FOLDER = "mlops/deployments"
ACTOR_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}(\[bot\])?$"  # a GitHub login, or an app's bot
_NAME = re.compile(NAME_PATTERN)
_ACTOR = re.compile(ACTOR_PATTERN)
_FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")  # SHA-1 or SHA-256 object names
_HEX = re.compile(r"^[0-9a-f]+$")
_VERSION_PREFIX = re.compile(r"^[0-9a-f]{4,64}$")
_BRANCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")


class PromotionError(UserError):
    """A promotion or rollback was refused; the message says what would make it pass."""


class Canary(BaseModel):
    """A new version running beside a pin's stable one, with a share of the traffic."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    version: str
    fingerprint: str = Field(pattern=r"^[0-9a-f]{64}$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    source_commit: str
    percent: int = Field(ge=1, le=99, description="Share of requests the canary answers.")
    pr: int | None = None
    promoted_by: str = ""
    promoted_at: str = ""
    metrics: dict[str, float | None] = Field(default_factory=dict)


SLOTS = ("blue", "green")
SlotName = Literal["blue", "green"]


class Slot(BaseModel):
    """The idle slot of a blue-green pin: a version loaded beside the live one, no traffic.

    ``role``: ``staged``, promoted into the idle slot and waiting for the switch (promote
    it again); ``previous``, the version a switch took traffic from, kept warm so a
    rollback is an instant switch back.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    slot: SlotName
    role: Literal["staged", "previous"]
    version: str
    fingerprint: str = Field(pattern=r"^[0-9a-f]{64}$")
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    source_commit: str
    pr: int | None = None
    promoted_by: str = ""
    promoted_at: str = ""
    metrics: dict[str, float | None] = Field(default_factory=dict)


def other_slot(slot: str | None) -> SlotName:
    """The slot that is not ``slot`` (a pin without one is live in blue)."""
    return "blue" if slot == "green" else "green"


class Pin(BaseModel):
    """One model pinned in one environment, with the lineage of how it got there."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    # What becomes a path, a store key or a git revision is checked here, where a pin is
    # read: an environment branch is data that someone could have edited by hand.
    model: str = Field(pattern=NAME_PATTERN)
    version: str = Field(description="The short version id (first 12 hex of the fingerprint).")
    fingerprint: str = Field(pattern=r"^[0-9a-f]{64}$")
    sha256: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{64}$",
        description="sha256 of the version's model.skops; None in pins of older engines.",
    )
    environment: str = Field(pattern=NAME_PATTERN)
    source_commit: str = Field(
        pattern=r"^[0-9a-f]{40}([0-9a-f]{24})?$",
        description="The commit the version was trained from (its full SHA).",
    )
    pr: int | None = None
    promoted_by: str = ""
    promoted_at: str = ""
    metrics: dict[str, float | None] = Field(default_factory=dict)
    previous: str | None = Field(None, description="The fingerprint pinned before this one.")
    action: str = "promote"
    canary: Canary | None = Field(
        None, description="A version beside this one with a share of traffic (None: none)."
    )
    slot: SlotName | None = Field(
        None, description="The blue-green slot this version is live in (None: not blue-green)."
    )
    idle: Slot | None = Field(
        None, description="The other blue-green slot's version, loaded without traffic."
    )


def pin_path(model: str) -> str:
    """The repository path of a model's pin file."""
    return f"{FOLDER}/{model}.yaml"


def render(pin: Pin) -> str:
    """The pin as YAML text (stable key order, readable in a diff)."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        # Quote hex ids: PyYAML would write 3e4507281234 bare, and the engine's YAML
        # reader (YAML 1.2 numbers) would then read a version back as a float.
        style = "'" if _HEX.match(value) else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    data = pin.model_dump(mode="json")
    header = f"# Pinned by mlops: {pin.model}@{pin.version} in {pin.environment}. Do not edit.\n"
    return header + yaml.dump(data, Dumper=Dumper, sort_keys=False, allow_unicode=True)


def parse_pin(data: bytes, path: str) -> Pin:
    """Parse a pin file; a broken one is a located error (someone edited the branch)."""
    try:
        doc = parse(data, path)
        return Pin.model_validate(doc.value)
    except YamlProblem as exc:
        raise DefinitionError(exc.problem.render()) from None
    except ValueError as exc:
        raise DefinitionError(
            f"{path}: not a valid pin ({exc}); restore it from the branch's history"
        ) from None


def read_pins(
    root: Path, branch: str, existing: Mapping[str, str | None] | None = None
) -> dict[str, Pin] | None:
    """Every pin on ``branch`` (``origin/<branch>``, else local); None if the branch is absent.

    ``existing`` (from :func:`engine.gitrepo.commits` of :func:`pin_refs`, for many
    branches in one git call) says which of the two refs exist; without it, each is asked.
    """
    from engine import gitrepo

    for ref in pin_refs(branch):
        # cheap: the explaining slow path of resolve is for user-named revisions
        if not (existing[ref] if existing is not None else gitrepo.commit_exists(root, ref)):
            continue
        try:
            files = gitrepo.read_tree(root, ref, prefixes=(f"{FOLDER}/",), suffixes=())
        except UserError:
            continue
        pins = {}
        for path, data in files.items():
            if path.endswith((".yaml", ".yml")):
                pin = parse_pin(data, f"{ref}:{path}")
                if path != pin_path(pin.model):  # one file per model, named after it
                    raise DefinitionError(
                        f"{ref}:{path}: pins model {pin.model!r}, whose pin is "
                        f"{pin_path(pin.model)}; restore it from the branch's history"
                    )
                pins[pin.model] = pin
        return pins
    return None


# --- Promotion requests and commit messages (pure) ------------------------------------------


def check_request(
    *,
    model: str,
    branch: str,
    environment: str = "x",
    actor: str = "x",
    pr: int | None = None,
    fingerprint: str | None = None,
    source_commit: str | None = None,
) -> None:
    """Refuse any value that is not a plain name, number or hex id (defence in depth).

    These values become file paths, ref names and commit-message lines; a newline in an
    actor would forge a trailer, a ``..`` in a model name would escape the folder.
    """
    if not _NAME.match(model):
        raise PromotionError(f"{model!r} is not a model name: letters, digits, '.', '_', '-'")
    if not _NAME.match(environment):
        raise PromotionError(f"{environment!r} is not an environment name")
    if not _ACTOR.match(actor):
        raise PromotionError(f"{actor!r} is not a user login (letters, digits and '-')")
    if pr is not None and (isinstance(pr, bool) or not isinstance(pr, int) or pr < 1):
        raise PromotionError(f"{pr!r} is not a pull request number")
    if fingerprint is not None and not _FINGERPRINT.match(fingerprint):
        raise PromotionError(f"{fingerprint!r} is not a fingerprint (64 lowercase hex digits)")
    if source_commit is not None and not _SHA.match(source_commit):
        raise PromotionError(f"{source_commit!r} is not a full commit SHA (40 hex digits)")
    check_branch(branch)


def check_branch(branch: str) -> None:
    """Refuse a branch name that git would read as an option or a range, or reject."""
    bad = ".." in branch or "//" in branch or branch.endswith((".lock", "/", "."))
    if bad or not _BRANCH.match(branch):
        raise PromotionError(f"{branch!r} is not a branch name the engine will write to")


def check_version(text: str) -> str:
    """A version id, fingerprint or prefix (4+ hex digits), lowercased; else PromotionError."""
    wanted = text.strip().lower()
    if not _VERSION_PREFIX.match(wanted):
        raise PromotionError(f"{text!r} is not a version: give 4 to 64 hex digits")
    return wanted


def promotion_message(pin: Pin, current: Pin | None, actor: str) -> str:
    """``Promote <model>@<version> to <environment>``, a body, and the trailers."""
    then = f"Replaces {current.version}." if current else "First version in this environment."
    if current is not None and current.fingerprint == pin.fingerprint:
        then = f"Records the artifact's sha256 {pin.sha256}."
    elif current is not None and current.canary is not None:
        if current.canary.fingerprint == pin.fingerprint:
            then = f"Completes the canary: replaces {current.version} for every request."
        else:
            then += f" Drops the canary {current.canary.version}."
    body = f"Pins fingerprint {pin.fingerprint},\ntrained from {pin.source_commit}. {then}"
    subject = f"Promote {pin.model}@{pin.version} to {pin.environment}"
    return _message(subject, body, pin, actor)


def rollback_message(pin: Pin, current: Pin, actor: str, requested_in: int | None) -> str:
    """``Roll back <model> in <environment> to <version>``, with ``Rolled-back-from:``."""
    subject = f"Roll back {pin.model} in {pin.environment} to {pin.version}"
    body = f"Pins fingerprint {pin.fingerprint} again,\nreplacing {current.fingerprint}."
    extra = [f"Rolled-back-from: {current.version}"]
    if requested_in is not None:
        extra.append(f"Requested-in: #{requested_in}")
    return _message(subject, body, pin, actor, extra)


def _message(subject: str, body: str, pin: Pin, actor: str, extra: Sequence[str] = ()) -> str:
    trailers = [
        f"Model: {pin.model}",
        f"Version: {pin.version}",
        f"Environment: {pin.environment}",
        f"Promoted-by: {actor}",
    ]
    if pin.pr is not None:
        trailers.append(f"Source-PR: #{pin.pr}")
    trailers.append(f"Source-Commit: {pin.source_commit}")
    if pin.sha256 is not None:
        trailers.append(f"Artifact-SHA256: {pin.sha256}")
    return f"{subject}\n\n{body}\n\n" + "\n".join([*trailers, *extra]) + "\n"


def canary_message(pin: Pin, actor: str) -> str:
    """``Canary <model>@<version> in <environment> at N%``, with ``Canary-*:`` trailers."""
    canary = pin.canary
    assert canary is not None
    subject = f"Canary {pin.model}@{canary.version} in {pin.environment} at {canary.percent}%"
    body = (
        f"Sends {canary.percent}% of requests to fingerprint {canary.fingerprint},\n"
        f"trained from {canary.source_commit}; {pin.version} keeps the rest."
    )
    extra = [
        f"Canary-Version: {canary.version}",
        f"Canary-Percent: {canary.percent}",
        f"Canary-SHA256: {canary.sha256}",
    ]
    return _message(subject, body, pin, actor, extra)


def abort_message(pin: Pin, aborted: Canary, actor: str, requested_in: int | None) -> str:
    """``Abort the canary of <model> in <environment>``: all traffic back to the stable pin."""
    subject = f"Abort the canary of {pin.model} in {pin.environment}"
    body = f"Drops {aborted.version} ({aborted.percent}%); {pin.version} answers every request."
    extra = [f"Aborted-canary: {aborted.version}"]
    if requested_in is not None:
        extra.append(f"Requested-in: #{requested_in}")
    return _message(subject, body, pin, actor, extra)


def stage_message(pin: Pin, actor: str) -> str:
    """``Stage <model>@<version> in the <slot> slot of <environment>``: loaded, no traffic."""
    idle = pin.idle
    assert idle is not None and pin.slot is not None
    subject = f"Stage {pin.model}@{idle.version} in the {idle.slot} slot of {pin.environment}"
    body = (
        f"Loads fingerprint {idle.fingerprint},\ntrained from {idle.source_commit}, into the "
        f"idle slot {idle.slot}; {pin.version} in {pin.slot} keeps every request.\n"
        "Promote it again to switch all traffic to it."
    )
    extra = [
        f"Slot: {pin.slot}",
        f"Staged-Slot: {idle.slot}",
        f"Staged-Version: {idle.version}",
    ]
    if idle.sha256 is not None:
        extra.append(f"Staged-SHA256: {idle.sha256}")
    return _message(subject, body, pin, actor, extra)


def switch_message(pin: Pin, actor: str, requested_in: int | None = None) -> str:
    """``Switch <model> in <environment> to <slot> (<version>)``: all traffic at once.

    Also the message of a blue-green rollback (``pin.action == "rollback"``), which is a
    switch back to the warm previous slot.
    """
    idle = pin.idle
    assert idle is not None and pin.slot is not None
    verb = "Roll back" if pin.action == "rollback" else "Switch"
    subject = f"{verb} {pin.model} in {pin.environment} to {pin.slot} ({pin.version})"
    body = (
        f"Sends every request to fingerprint {pin.fingerprint} in {pin.slot};\n"
        f"{idle.version} stays loaded in {idle.slot} for an instant rollback."
    )
    extra = [f"Slot: {pin.slot}", f"Switched-from: {idle.version} ({idle.slot})"]
    if pin.action == "rollback":
        extra.append(f"Rolled-back-from: {idle.version}")
    if requested_in is not None:
        extra.append(f"Requested-in: #{requested_in}")
    return _message(subject, body, pin, actor, extra)


def unstage_message(pin: Pin, dropped: Slot, actor: str, requested_in: int | None) -> str:
    """``Unstage <model>@<version> from <environment>``: the staged version never got traffic."""
    subject = f"Unstage {pin.model}@{dropped.version} from {pin.environment}"
    body = f"Empties the idle slot {dropped.slot}; {pin.version} in {pin.slot} keeps serving."
    extra = [f"Slot: {pin.slot}", f"Unstaged-version: {dropped.version}"]
    if requested_in is not None:
        extra.append(f"Requested-in: #{requested_in}")
    return _message(subject, body, pin, actor, extra)


def retire_message(pin: Pin, actor: str, requested_in: int | None) -> str:
    """``Retire <model> from <environment>``: the pin and its manifests are removed."""
    subject = f"Retire {pin.model} from {pin.environment}"
    body = (
        f"Removes the pin of {pin.version} (fingerprint {pin.fingerprint})\n"
        f"and its manifests: {pin.environment} no longer serves {pin.model}."
    )
    trailers = [
        f"Model: {pin.model}",
        f"Version: {pin.version}",
        f"Environment: {pin.environment}",
        f"Retired-by: {actor}",
    ]
    if requested_in is not None:
        trailers.append(f"Requested-in: #{requested_in}")
    return f"{subject}\n\n{body}\n\n" + "\n".join(trailers) + "\n"


def choose_rollback(history: Sequence[Pin], to: str | None, model: str, environment: str) -> Pin:
    """The pin a rollback restores, from the branch's pins newest first (``history[0]`` is live).

    ``to=None``: the version that ran before the live one came, skipping versions a
    rollback left (:func:`_ran_before`): a second rollback goes further back, never to
    the version the first one rolled back from. Otherwise ``to`` is a version id, a full
    fingerprint or a prefix of one (4+ hex digits) that was pinned here.
    """
    if not history:
        raise PromotionError(f"nothing to roll back: {model} was never pinned in {environment}")
    current = history[0]
    if to is None:
        earlier = _ran_before(history)
        if earlier is not None:
            return earlier
        if all(pin.fingerprint == current.fingerprint for pin in history):
            raise PromotionError(
                f"nothing to roll back to: {model}@{current.version} is the only version "
                f"ever pinned in {environment}"
            )
        raise PromotionError(
            f"nothing to roll back to: {model}@{current.version} is the first version "
            f"{environment} ran, and the versions after it were rolled back; name one "
            "to pin it again (`to VERSION`, `--to VERSION`)"
        )
    wanted = check_version(to)
    seen: dict[str, Pin] = {}
    for pin in history:
        seen.setdefault(pin.fingerprint, pin)  # the newest pin of each version
    matches = [pin for fp, pin in seen.items() if fp.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        known = ", ".join(pin.version for pin in seen.values())
        raise PromotionError(
            f"{wanted} was never pinned in {environment} for {model}; versions it had: {known}"
        )
    raise PromotionError(f"{wanted} is ambiguous for {model} in {environment}: give more digits")


def _ran_before(history: Sequence[Pin]) -> Pin | None:
    """The newest pin of the version that ran before the live one, or None.

    The branch's pins are replayed oldest first as a stack of versions: a promotion (or a
    blue-green switch) pushes its version, a rollback pops back to the version it restores
    (pushing it when it is not below). So v1, v2, v3, rollback (to v2), rollback gives v1:
    the second rollback never returns to v3, the version the first one rolled back from.
    """
    stack: list[str] = []
    for pin in reversed(history):
        if stack and stack[-1] == pin.fingerprint:
            continue  # the same version again (a canary, a staged slot, a re-pin)
        if pin.action == "rollback" and pin.fingerprint in stack:
            del stack[stack.index(pin.fingerprint) + 1 :]
        else:
            stack.append(pin.fingerprint)
    if len(stack) < 2:
        return None
    return next(pin for pin in history if pin.fingerprint == stack[-2])
