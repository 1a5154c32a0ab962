"""Promote, roll back and inspect what each environment runs: the orchestration.

The CLI (``mlops promote``...) and the comment commands (``/promote``...) both call these
functions, so a team without GitHub gets the same rules. Facts are gathered here from
git, the store and a forge; the decision is the pure :mod:`engine.environments.policy`; the git work
is :mod:`engine.environments.promote`. Policy is always read from the default branch's
``mlops/project.yaml`` — never from the change being promoted, which could rewrite it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import UserError, unknown_model

if TYPE_CHECKING:
    from engine.definitions.formats import Environment, Project
    from engine.definitions.loading import Definitions
    from engine.environments.pins import Pin
    from engine.environments.policy import Decision, PromotionFacts
    from engine.environments.promote import FilesFor, PromotionResult
    from engine.forge import Forge
    from engine.store import Store

    Live = Mapping[str, Mapping[str, Pin]]
    """``{environment: {model: pin}}``, as :func:`live_versions` reads it."""

REPRODUCE_TOLERANCE = 1e-6
DEPLOY_WORKFLOW = "deploy.yml"
"""This project's own deploy workflow; ``mlops init`` writes ``mlops-deploy.yml``."""
DEPLOY_WORKFLOWS = ("mlops-deploy.yml", DEPLOY_WORKFLOW)


@dataclass(frozen=True)
class Request:
    """Who asks to put which model where, from which commit."""

    model: str
    environment: str
    actor: str
    source: str = "HEAD"
    version: str | None = None
    pr: int | None = None
    pr_author: str | None = None
    head_sha_at_comment: str | None = None
    current_head_sha: str | None = None
    reviews: Sequence[tuple[str, str, str | None]] | None = ()
    """(login, state, commit) of the PR's reviews, oldest first; None if unreadable."""
    reviewer_permissions: Mapping[str, str | None] | None = None
    """Each reviewer's permission, keyed by lowercase login (None where unreadable)."""
    reviewer_teams: Mapping[str, frozenset[str]] | None = None
    """Each reviewer's teams among the allow lists' ``org/team`` entries; None if unread."""
    canary: int | None = None
    """Pin the version as a canary with this percent of the traffic (strategy: canary)."""
    comment_id: int | None = None
    """The pull-request comment that asked for it: recorded in the commit, so a re-run of
    that comment's job finds it done and changes nothing."""
    command: int = 1
    """Which of the comment's commands this is (1 for the first)."""
    switch: bool = False
    """Promote the version staged in the idle slot, whatever ``source`` is (blue-green)."""


@dataclass(frozen=True)
class Ensured:
    """A version made present in the store: notes for the user, and, when this call
    retrained it, the sha256 of the model file it wrote."""

    notes: list[str]
    retrained_sha256: str | None = None


@dataclass
class Promotion:
    """The decision and, when allowed, what the git side did."""

    decision: Decision
    fingerprint: str | None = None
    result: PromotionResult | None = None
    notes: list[str] = field(default_factory=list)

    def message(self) -> str:
        """What happened, for a terminal or a reply comment."""
        if self.result is None or not self.decision.allowed:
            return self.decision.message()
        r = self.result
        if r.retired:
            pushed = "pushed" if r.pushed else "committed locally"
            return "\n".join(
                [
                    f"Retired `{r.model}` from `{r.environment}` (it ran `{r.version}`): its pin "
                    f"and manifests are removed, {pushed} as `{(r.commit or '')[:12]}` on "
                    f"`{r.branch}`.",
                    *self.notes,
                ]
            )
        if r.noop:
            return f"`{r.model}` `{r.version}` is already live in `{r.environment}`; nothing to do."
        before = f" (was `{r.previous.version}`)" if r.previous else ""
        pushed = "pushed" if r.pushed else "committed locally"
        if r.pin.canary is not None and (r.previous is None or r.previous.canary != r.pin.canary):
            c = r.pin.canary
            did = (
                f"Canary `{r.model}` `{c.version}` in `{r.environment}` at {c.percent}% "
                f"beside `{r.version}`"
            )
            before = ""
        elif r.pin.slot is not None and r.pin.action in _BLUE_GREEN_STEPS:
            from engine.environments import bluegreen

            did, before = bluegreen.step_message(r.pin, r.environment), ""
        elif r.pin.action == "abort":
            did = (
                f"Aborted the canary of `{r.model}` in `{r.environment}`: `{r.version}` serves all"
            )
            before = ""
        elif r.pin.action == "rollback":
            did = f"Rolled back `{r.model}` in `{r.environment}` to `{r.version}`"
        else:
            did = f"Promoted `{r.model}` `{r.version}` to `{r.environment}`"
        lines = [
            f"{did}{before}: {pushed} as `{(r.commit or '')[:12]}` on `{r.branch}`.",
            *self.notes,
        ]
        return "\n".join(lines)


_BLUE_GREEN_STEPS = ("stage", "switch", "unstage", "rollback")

# --- trusted facts ----------------------------------------------------------------------


def trusted_definitions(root: Path) -> Definitions:
    """The definitions on the default branch (origin's copy first), else the working tree."""
    from engine import gitbranches, gitrepo
    from engine.training import planning

    defs, _ = planning.read_definitions(root)
    trusted = gitbranches.on_branch(
        defs.settings.default_branch,
        lambda ref: planning.read_definitions(root, gitrepo.resolve(root, ref))[0],
    )
    return defs if trusted is None else trusted


def trusted_project(root: Path) -> Project:
    """The project file of the default branch: the policy nobody's change can rewrite."""
    return trusted_definitions(root).settings


def environment(project: Project, name: str) -> Environment:
    """The named environment, or a UserError that lists the others."""
    if name in project.environments:
        return project.environments[name]
    hint = difflib.get_close_matches(name, list(project.environments), n=1)
    raise UserError(
        f"unknown environment {name!r}"
        + (f" (did you mean {hint[0]!r}?)" if hint else "")
        + f"; mlops/project.yaml defines "
        f"{', '.join(project.environments) or 'none'}"
    )


def open_store(root: Path, project: Project) -> Store:
    """The store ``project`` names (pass the trusted project: it decides where versions live)."""
    from engine.store import Store

    return Store.of_project(project.store.url, root)


def live_versions(root: Path, project: Project) -> dict[str, dict[str, Pin]]:
    """``{environment: {model: pin}}`` across every environment branch, fetched first.

    With a remote, its branches are the truth (a local copy may be stale), so they are
    fetched and read before any local branch of the same name.
    """
    from engine import gitbranches
    from engine.environments.promote import status

    branches = {name: env.branch for name, env in project.environments.items()}
    if "origin" in gitbranches.remotes(root):
        gitbranches.fetch_branches(root, "origin", list(branches.values()))
    return status(root, branches)


def local_actor(root: Path) -> str:
    """A login-like name for the local git user (``ada`` for ada@example.com)."""
    from engine import gitrepo

    for key in ("github.user", "user.email", "user.name"):
        done = gitrepo.run_git(root, "config", key, check=False)
        value = done.stdout.strip().split("@", 1)[0]
        name = re.sub(r"[^A-Za-z0-9-]+", "-", value).strip("-")
        if name:
            return name
    return "local"


# --- promote and roll back --------------------------------------------------------------


def promote_model(root: Path, request: Request, *, forge: Forge | None = None) -> Promotion:
    """Check the policy and, when it allows, pin the model's version in the environment."""
    from engine import audit

    with audit.action(
        root,
        "promote",
        model=request.model,
        environment=request.environment,
        actor=request.actor,
        commit=request.source,
    ) as entry:
        promotion = _promote_model(root, request, forge)
        _log_promotion(entry, promotion)
    return promotion


def _log_promotion(entry: Any, promotion: Promotion) -> None:
    entry.version = (promotion.fingerprint or "")[:12] or None
    decision = promotion.decision
    entry.outcome = "noop" if decision.noop else "ok" if decision.allowed else "refused"
    if promotion.result is not None:
        entry.commit = promotion.result.pin.source_commit or entry.commit


def _promote_model(root: Path, request: Request, forge: Forge | None) -> Promotion:
    from engine import gitbranches, gitrepo
    from engine.environments import bluegreen
    from engine.environments.policy import Decision, check_promotion
    from engine.environments.promote import promote
    from engine.training.runs import utc_now

    trusted = trusted_definitions(root)
    project = trusted.settings
    env = environment(project, request.environment)
    if request.canary is not None and env.strategy != "canary":
        return Promotion(Decision(False, [_no_canary(request.environment, env.strategy)]))
    live = live_versions(root, project)
    done = _done_by_comment(root, env.branch, request.model, request.comment_id, request.command)
    if done is not None:
        return _already_done(root, request.environment, env.branch, done, forge)
    idle = None
    if request.switch:
        current = live.get(request.environment, {}).get(request.model)
        idle, refusal = bluegreen.switch_target(current, request.environment, env.strategy)
        if idle is None:
            return Promotion(Decision(False, [refusal]))
        request = dataclasses.replace(request, source=idle.source_commit)
    source = gitrepo.resolve(root, request.source)
    fingerprint = _fingerprint_at(root, source, request.model)
    if idle is not None and fingerprint != idle.fingerprint:
        # A switch moves traffic only: anything else would stage another version instead.
        return Promotion(Decision(False, [bluegreen.not_the_idle_version(idle, fingerprint)]))
    if request.version and not fingerprint.startswith(request.version):
        why = _not_that_version(request, source, fingerprint)
        moved = _toolchain_moved(root, project, request, fingerprint)
        return Promotion(Decision(False, [why if moved is None else moved]))
    if env.from_default_branch:
        source = _merged_as(root, source, request.model, fingerprint, project.default_branch)
    store = open_store(root, project)
    facts = _promotion_facts(root, request, project, source, fingerprint, live)
    current = live.get(request.environment, {}).get(request.model)
    if current is not None and not _sealed(current, store):
        # The live pin lacks the artifact's hash (an older engine wrote it) or names
        # another artifact than the store's: promoting the version again re-pins it,
        # under the same rules as any promotion.
        facts = dataclasses.replace(facts, live={**facts.live, request.environment: None})

    def check(facts: PromotionFacts) -> Decision:
        return check_promotion(facts, request.environment, env, project.environments)

    # Every other rule first: a refused request trains nothing.
    decision = check(facts)
    if not decision.allowed or decision.noop:
        return Promotion(decision, fingerprint)
    ensured = ensure_stored(root, store, request.model, fingerprint, source, project, live)
    notes = list(ensured.notes)
    if current is not None and current.fingerprint != fingerprint:
        # As the review does: the live version, retrained at its pin's source commit when
        # the store lacks it (a job's store), is scored on this version's test rows.
        with contextlib.suppress(UserError):  # not reproduced: its pinned figures stand in
            notes += ensure_stored(
                root, store, request.model, current.fingerprint, current.source_commit,
                project, live,
            ).notes  # fmt: skip
    metrics = dict(store.get_record(request.model, fingerprint).metrics)
    gates = _gates_pass(
        root,
        trusted,
        store,
        source,
        request.model,
        fingerprint,
        metrics,
        current,
        request.environment,
    )
    decision = check(dataclasses.replace(facts, gates_passed=gates))
    if not decision.allowed:
        return Promotion(decision, fingerprint, notes=notes)
    sha256 = pinnable_sha256(store, request.model, fingerprint, ensured)
    result = promote(
        root,
        model=request.model,
        fingerprint=fingerprint,
        sha256=sha256,
        environment=request.environment,
        branch=env.branch,
        default_branch=project.default_branch,
        source_commit=source,
        actor=request.actor,
        pr=request.pr,
        metrics=metrics,
        now=utc_now(),
        push="origin" in gitbranches.remotes(root),
        files=manifests(root, project, request.environment),
        canary_percent=request.canary,
        blue_green=env.strategy == "blue-green",
        judged_against=current.fingerprint if current is not None else None,
        trailers=_comment_trailers(request.comment_id, request.command),
    )
    if forge is not None:
        notes += _deploy_note(root, forge, result, request.environment)
    return Promotion(decision, fingerprint, result, notes)


def _no_canary(env_name: str, strategy: str) -> str:
    return (
        f"`{env_name}` deploys with strategy `{strategy}`, which has no canary: set "
        f"`strategy: canary` for it in mlops/project.yaml, or promote without `--canary`"
    )


def _not_that_version(request: Request, source: str, fingerprint: str) -> str:
    found = f"`{request.model}` at `{source[:7]}` is version `{fingerprint[:12]}`, not "
    if request.pr is None:  # `mlops promote --version`: the terminal, not a pull request
        return (
            f"{found}`{request.version}`: pass the `--rev` whose version that is, or "
            f"`--version {fingerprint[:12]}` to promote this one"
        )
    return f"{found}`{request.version}`; promote the version the pull request has now"


def _toolchain_moved(
    root: Path, project: Project, request: Request, fingerprint: str
) -> str | None:
    """Why no revision gives the asked version any more, when the stored version says that
    another scikit-learn trained it (the team upgraded since): what to promote instead."""
    from engine.definitions.catalog_format import sklearn_version
    from engine.errors import StoreError

    if not request.version:
        return None
    store = open_store(root, project)
    try:
        record = store.get_record(request.model, store.resolve(request.model, request.version))
    except (StoreError, UserError):  # not stored, ambiguous: the plain refusal says enough
        return None
    now = sklearn_version()
    if not record.sklearn_version or record.sklearn_version == now:
        return None
    envs = project.environments
    first = next((n for n, e in envs.items() if not e.requires), request.environment)
    return (
        f"`{record.version}` was trained with scikit-learn {record.sklearn_version} and this "
        f"engine runs {now}: no revision makes that version any more (its definition now "
        f"makes `{fingerprint[:12]}`). What runs keeps running; to go on, take the new "
        f"version through the environments: `mlops promote {request.model} --to {first}` "
        "first (docs/upgrading.md)"
    )


def _promotion_facts(
    root: Path, request: Request, project: Project, source: str, fingerprint: str, live: Live
) -> PromotionFacts:
    from engine.environments.policy import PromotionFacts

    return PromotionFacts(
        model=request.model,
        version=fingerprint,
        head_sha_at_comment=request.head_sha_at_comment or source,
        current_head_sha=request.current_head_sha or source,
        live={
            name: (pins[request.model].fingerprint if request.model in pins else None)
            for name, pins in live.items()
        },
        approvals=request.reviews,
        pr_author=request.pr_author or request.actor,
        reviewer_permissions=request.reviewer_permissions,
        reviewer_teams=request.reviewer_teams,
        version_on_default_branch=_on_default_branch(root, source, project.default_branch),
        gates_passed=True,  # judged later, once the version's metrics are known
        via_comment=request.pr is not None,
    )


def rollback_model(
    root: Path,
    *,
    model: str,
    env_name: str,
    actor: str,
    to: str | None = None,
    pr: int | None = None,
    forge: Forge | None = None,
    comment_id: int | None = None,
    command: int = 1,
) -> Promotion:
    """Pin the previous version (or ``to``) again, as a new commit on the branch.

    ``comment_id`` and ``command``: the comment that asked for it and which of its commands
    this is (see :attr:`Request.comment_id`).
    """
    from engine import audit

    with audit.action(root, "rollback", model=model, environment=env_name, actor=actor) as entry:
        promotion = _rollback_model(
            root, model, env_name, actor, to, pr, forge, comment_id, command
        )
        _log_promotion(entry, promotion)
    return promotion


def _rollback_model(
    root: Path,
    model: str,
    env_name: str,
    actor: str,
    to: str | None,
    pr: int | None,
    forge: Forge | None,
    comment_id: int | None = None,
    command: int = 1,
) -> Promotion:
    from engine import gitbranches
    from engine.environments.policy import Decision
    from engine.environments.promote import rollback
    from engine.training.runs import utc_now

    project = trusted_project(root)
    env = environment(project, env_name)
    done = _done_or_pinned(root, env_name, env.branch, model, comment_id, command, "roll back")
    if done is not None:  # (a retired model is refused before a version is made ready)
        return _already_done(root, env_name, env.branch, done, forge)
    store = open_store(root, project)
    notes: list[str] = []

    def prepare(pin: Pin) -> Pin:
        # As for a promotion: a version the store lacks (a job's local store starts
        # empty) is retrained at its pin's source commit and must reproduce the metrics
        # the pin records; the restored pin then names the new file's hash.
        ensured = ensure_stored(
            root,
            store,
            model,
            pin.fingerprint,
            pin.source_commit,
            project,
            {env_name: {model: pin}},
        )
        notes.extend(ensured.notes)
        if ensured.retrained_sha256 is None:
            if pin.sha256 is not None:
                # the file the restored pin names, as every server will load it: a version
                # retrained since holds another file, which no server would serve
                store.load_pinned(model, pin.fingerprint, pin.sha256)
            return pin
        return pin.model_copy(
            update={"sha256": pinnable_sha256(store, model, pin.fingerprint, ensured)}
        )

    result = rollback(
        root,
        model=model,
        environment=env_name,
        branch=env.branch,
        to_fingerprint=to,
        actor=actor,
        pr=pr,
        now=utc_now(),
        push="origin" in gitbranches.remotes(root),
        prepare=prepare,
        artifact_sha256=lambda fp: pinnable_sha256(store, model, fp, Ensured([])),
        files=manifests(root, project, env_name),
        trailers=_comment_trailers(comment_id, command),
    )
    if forge is not None:
        notes += _deploy_note(root, forge, result, env_name)
    return Promotion(Decision(True), result.pin.fingerprint, result, notes)


def retire_model(
    root: Path,
    *,
    model: str,
    env_name: str,
    actor: str,
    pr: int | None = None,
    forge: Forge | None = None,
    comment_id: int | None = None,
    command: int = 1,
) -> Promotion:
    """Stop serving ``model`` in ``env_name``: remove its pin and manifests in one commit.

    The model must be pinned there; it need not be defined on the default branch any more
    (retiring a deleted model is the point). ``comment_id`` and ``command`` as for
    :func:`rollback_model`: a re-run of the comment's job finds it done.
    """
    from engine import audit

    with audit.action(root, "retire", model=model, environment=env_name, actor=actor) as entry:
        promotion = _retire_model(root, model, env_name, actor, pr, forge, comment_id, command)
        _log_promotion(entry, promotion)
    return promotion


def _retire_model(
    root: Path,
    model: str,
    env_name: str,
    actor: str,
    pr: int | None,
    forge: Forge | None,
    comment_id: int | None,
    command: int,
) -> Promotion:
    from engine import gitbranches
    from engine.environments import manifest
    from engine.environments.policy import Decision
    from engine.environments.promote import retire

    project = trusted_project(root)
    env = environment(project, env_name)
    done = _done_or_pinned(root, env_name, env.branch, model, comment_id, command, "retire")
    if done is not None:
        return _already_done(root, env_name, env.branch, done, forge)
    remote = "origin" in gitbranches.remotes(root)
    # Every manifest this model can have there; each is deleted only if written for it.
    files: dict[str, str | None] = {manifest.manifest_path(model): None}
    files |= {manifest.slot_path(model, slot): None for slot in manifest.SLOTS}
    result = retire(
        root,
        model=model,
        environment=env_name,
        branch=env.branch,
        actor=actor,
        pr=pr,
        push=remote,
        files=files,
        trailers=_comment_trailers(comment_id, command),
    )
    notes = _deploy_note(root, forge, result, env_name) if forge is not None else []
    return Promotion(Decision(True), result.pin.fingerprint, result, notes)


def pinned_models(root: Path, project: Project) -> set[str]:
    """Every model an environment pins or has retired (branches fetched first): what
    ``/rollback`` and ``/retire`` may name although the default branch no longer defines
    it (a retired one, so that a re-run of the ``/retire`` job finds it done)."""
    from engine.environments.promote import retired_models

    names = {model for pins in live_versions(root, project).values() for model in pins}
    for env in project.environments.values():
        names |= retired_models(root, env.branch)
    return names


def not_pinned(
    model: str, env_name: str, branch: str, pins: Mapping[str, Any], verb: str
) -> UserError:
    """``model`` is not pinned in ``env_name``: say which models are."""
    from engine.environments.pins import pin_path

    names = sorted(pins)
    close = difflib.get_close_matches(model, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listed = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
    there = f"the models pinned there are {listed}" if names else "nothing is pinned there"
    return UserError(
        f"{model!r} is not pinned in {env_name} (branch {branch}, "
        f"{pin_path(model)}), so there is nothing to {verb}{hint}; {there}"
    )


COMMENT_TRAILER = "Requested-by-comment"
"""The trailer naming the pull-request comment a promotion or rollback was made for."""


def _comment_trailers(comment_id: int | None, command: int) -> tuple[str, ...]:
    """``Requested-by-comment: <comment id>/<command>``: one comment may hold several."""
    if comment_id is None:
        return ()
    return (f"{COMMENT_TRAILER}: {int(comment_id)}/{int(command)}",)


def _done_or_pinned(
    root: Path,
    env_name: str,
    branch: str,
    model: str,
    comment_id: int | None,
    command: int,
    verb: str,
) -> str | None:
    """Before a rollback or a retirement: origin's ``branch`` fetched (when there is an
    origin), then the commit this comment's command already made (a re-run), else None
    once ``model`` is known to be pinned there (:func:`not_pinned` if it is not)."""
    from engine import gitbranches
    from engine.environments.promote import status

    if "origin" in gitbranches.remotes(root):
        gitbranches.fetch_branches(root, "origin", [branch])
    done = _done_by_comment(root, branch, model, comment_id, command)
    if done is None:
        pins = status(root, {env_name: branch})[env_name]
        if model not in pins:
            raise not_pinned(model, env_name, branch, pins, verb)
    return done


def _branch_ref(root: Path, branch: str) -> str:
    """Origin's copy of ``branch`` when there is an origin, else the local branch."""
    from engine import gitbranches

    remote = "origin" in gitbranches.remotes(root)
    return f"refs/remotes/origin/{branch}" if remote else f"refs/heads/{branch}"


def _done_by_comment(
    root: Path, branch: str, model: str, comment_id: int | None, command: int
) -> str | None:
    """The commit on ``branch`` (origin's copy, just fetched, when there is one) that
    command ``command`` of comment ``comment_id`` already made for ``model``, or None.

    GitHub's "Re-run jobs" runs a comment's job again with the same payload (and the
    engine's own errors advise it after a GitHub outage): a `/rollback` would roll back
    once more, a blue-green `/promote` that staged a version would switch to it.
    """
    from engine.environments.promote import done_by

    if comment_id is None:
        return None
    trailer = _comment_trailers(comment_id, command)[0]
    return done_by(root, _branch_ref(root, branch), model, trailer)


def _already_done(
    root: Path, env_name: str, branch: str, commit: str, forge: Forge | None
) -> Promotion:
    """Nothing more to pin; the deploy started again when ``commit`` is still the branch's
    tip: the first run may have stopped between its push and the deploy's dispatch (a
    push with GITHUB_TOKEN starts no workflow), and deploying a branch again converges."""
    from engine import gitbranches
    from engine.environments.policy import Decision

    notes = [
        f"This comment was already carried out as `{commit[:12]}` on `{branch}`; "
        "running its job again pins nothing more."
    ]
    if forge is not None and gitbranches.ref_sha(root, _branch_ref(root, branch)) == commit:
        notes += _dispatch(root, forge, commit, branch, env_name)
    return Promotion(Decision(True, notes, noop=True))


def manifests(root: Path, project: Project, env_name: str) -> FilesFor:
    """The manifest files a pin in ``env_name`` comes with (KServe ``InferenceService``)."""
    from engine.environments import manifest

    serving = manifest.settings(project.serving, project.environments[env_name].serving)

    def describe(model: str, side: Any) -> str:
        # What the pod cannot read from a repository: the definition and dataset at the
        # pin's source commit, as serving on a laptop reads them (git alone: a version the
        # store lacks, such as an idle slot's on a fresh runner, is described all the same).
        from engine.training import planning

        defs, _ = planning.read_definitions(root, side.source_commit)
        if model not in defs.models or defs.models[model].spec.dataset not in defs.datasets:
            raise UserError(
                f"{model}@{side.version}: its definition or dataset is not readable at the "
                f"pin's source commit {side.source_commit[:12]}"
            )
        spec = defs.models[model].spec
        dataset = defs.datasets[spec.dataset].spec
        return manifest.serving_spec(side.version, side.source_commit, spec.task, dataset)

    # The project's store, never a job's MLOPS_STORE: the manifest is what pods read.
    return lambda pin: manifest.files_for(pin, project.store.url, serving, describe)


def deploy_workflow(root: Path, commit: str | None) -> str:
    """The deploy workflow's file name on the environment branch's ``commit``.

    GitHub dispatches a workflow by its file name, and runs the file at the ref: a
    repository set up by ``mlops init`` has ``mlops-deploy.yml``, this project ``deploy.yml``.
    """
    from engine import gitrepo

    if commit is not None:
        names = [f"{commit}:.github/workflows/{name}" for name in DEPLOY_WORKFLOWS]
        for name, blob in zip(DEPLOY_WORKFLOWS, gitrepo.read_blobs(root, names), strict=True):
            if blob is not None:
                return name
    return DEPLOY_WORKFLOW


def _deploy_note(root: Path, forge: Forge, result: PromotionResult, env_name: str) -> list[str]:
    """Start the deploy workflow (a push with GITHUB_TOKEN starts none); say how it went.

    The local forge only records the dispatch: nothing runs a workflow on a laptop, so the
    note says which command deploys instead.
    """
    if result.noop:
        return []
    if forge.name == "local" and not result.pushed:
        return [f"No workflow runs here (no GitHub): `mlops deploy --env {env_name}` deploys it."]
    if not result.pushed or result.commit is None:
        return []
    return _dispatch(root, forge, result.commit, result.branch, env_name)


def _dispatch(root: Path, forge: Forge, commit: str, branch: str, env_name: str) -> list[str]:
    """Start the deploy workflow ``commit`` has on ``branch``; say how it went."""
    from engine.forge import ForgeError

    workflow = deploy_workflow(root, commit)
    if forge.name == "local":
        forge.dispatch_workflow(workflow, branch, {"environment": env_name})
        return [f"No workflow runs here (no GitHub): `mlops deploy --env {env_name}` deploys it."]
    try:
        forge.dispatch_workflow(workflow, branch, {"environment": env_name})
    except ForgeError as exc:
        return [
            f"⚠️ The pin is pushed, but `{workflow}` could not be started ({exc}); "
            f"run it by hand on `{branch}`."
        ]
    return [f"Dispatched `{workflow}` on `{branch}` to deploy it."]


def ensure_stored(
    root: Path,
    store: Store,
    model: str,
    fingerprint: str,
    source: str,
    project: Project,
    live: Live,
) -> Ensured:
    """Retrain a version missing from the store; its metrics must match those ``live`` pins."""
    from engine.training import jobs

    if store.has(model, fingerprint):
        return Ensured([])
    recorded = [
        pins[model].metrics
        for pins in live.values()
        if model in pins and pins[model].fingerprint == fingerprint
    ]
    outcome = jobs.train(root, [model], rev=source, settings=project).outcomes[0]
    if outcome.status == "failed":
        raise UserError(
            f"{model}@{fingerprint[:12]} is not in the store and retraining it "
            f"failed: {outcome.reason}"
        )
    if outcome.fingerprint != fingerprint:
        # the toolchain moved (scikit-learn, the training semantics) or the pin names a
        # version its source commit never made: what was trained is another version
        raise UserError(
            f"{model}@{fingerprint[:12]} is not in the store, and retraining it at its "
            f"source commit {source[:7]} gives version {outcome.version} instead (another "
            "scikit-learn or training semantics): fetch the version from the store it "
            "was promoted from, or promote the current version again"
        )
    for metrics in recorded:
        name = unreproduced(metrics, outcome.metrics)
        if name is not None:
            raise UserError(
                f"{model}@{fingerprint[:12]} was retrained but {name} came out "
                f"{outcome.metrics.get(name)} instead of the recorded {metrics[name]}: "
                "refusing to pin a version that does not reproduce"
            )
    if recorded:
        note = (
            f"`{fingerprint[:12]}` was missing from the store; it was retrained and its "
            "metrics reproduced."
        )
    else:  # no pin records its metrics: there was nothing to reproduce
        note = f"`{fingerprint[:12]}` was not in the store yet; it was trained now."
    return Ensured([note], outcome.model_sha256)


def pinned_hash(
    root: Path, store: Store, model: str, environment: str, side: Any, project: Project, live: Live
) -> tuple[str, Ensured]:
    """The sha256 the deployed or served file must have, and how the version got stored.

    ``side`` is a pin or its canary (version, fingerprint, source commit, sha256). A
    version missing from the store is retrained and must reproduce its pinned metrics; it
    is then checked against the hash of what it wrote (skops files are not
    byte-reproducible). A pin without a hash (an older engine wrote it) is refused when
    the store holds the version, since nothing outside the store could vouch for it.
    """
    if side.sha256 is None and store.has(model, side.fingerprint):
        raise UserError(
            f"the pin of {model}@{side.version} in {environment} records no artifact "
            "sha256 (an older engine wrote it), so the stored model cannot be checked "
            f"against it: pin the same version again to record it, `mlops rollback {model} "
            f"--env {environment} --to {side.version}` (or promote {model}@{side.version} "
            f"to {environment} again, where this engine still makes that version)"
        )
    ensured = ensure_stored(root, store, model, side.fingerprint, side.source_commit, project, live)
    expected = ensured.retrained_sha256 or side.sha256
    assert expected is not None  # a pin without one was refused unless retrained here
    return expected, ensured


def pinnable_sha256(store: Store, model: str, fingerprint: str, ensured: Ensured) -> str:
    """The sha256 to pin for a stored version, once its model loads by the exact type list.

    A version this process just retrained is pinned by the hash of the bytes it wrote;
    otherwise by the store's record, after the artifact is loaded (so a crafted file is
    refused here, before its hash could be pinned).
    """
    from engine.errors import StoreError
    from engine.store import MODEL_FILE

    sha256 = ensured.retrained_sha256 or store.get_record(model, fingerprint).files.get(MODEL_FILE)
    if sha256 is None:
        raise StoreError(f"{model}@{fingerprint[:12]} has no {MODEL_FILE} in the store")
    store.load_pinned(model, fingerprint, sha256)
    return sha256


def _sealed(pin: Pin, store: Store) -> bool:
    """Whether ``pin`` records the sha256 of the artifact the store holds (or nothing to check)."""
    from engine.store import MODEL_FILE

    if pin.sha256 is None:
        return False
    if not store.has(pin.model, pin.fingerprint):
        return True  # deploy retrains it from the pin's source commit
    return store.get_record(pin.model, pin.fingerprint).files.get(MODEL_FILE) == pin.sha256


def unreproduced(
    recorded: Mapping[str, float | None], again: Mapping[str, float | None]
) -> str | None:
    """The first recorded metric that ``again`` misses or changes beyond the tolerance."""
    for name, value in recorded.items():
        new = again.get(name)
        # Written so that a NaN on either side fails: it proves nothing.
        if value is not None and (new is None or not abs(new - value) <= REPRODUCE_TOLERANCE):
            return name
    return None


def _fingerprint_at(root: Path, sha: str, model: str) -> str:
    from engine.training.plan import plan
    from engine.training.planning import snapshot

    planned = next((m for m in plan(None, snapshot(root, sha)).models if m.name == model), None)
    if planned is None:
        raise UserError(
            f"model {model!r} is not defined at {sha[:7]}: add mlops/models/{model}.yaml "
            "there, or promote from a commit that has it"
        )
    if planned.problems or not planned.head_fingerprint:
        raise UserError(
            f"model {model!r} is invalid at {sha[:7]}: "
            + "; ".join(p.render() for p in planned.problems)
        )
    return planned.head_fingerprint


MERGED_LOOKBACK = 20
"""How many of the default branch's newest commits :func:`_merged_as` reads."""


def _merged_as(root: Path, source: str, model: str, fingerprint: str, branch: str) -> str:
    """The commit on ``branch`` that trains ``model``'s version ``fingerprint``, when
    ``source`` itself is not on it; else ``source``.

    "Squash and merge" and "Rebase and merge" put new commits on the default branch, never
    the pull request's head, so the head is not on it once merged; the version it trains
    is, when a commit there has the same fingerprint (everything that makes the version).
    The default branch's first-parent line since it forked from ``source`` is read, newest
    first, at most :data:`MERGED_LOOKBACK` commits: that commit becomes the source, so the
    pin's lineage names a commit of the default branch.
    """
    from engine import gitbranches, gitrepo

    if _on_default_branch(root, source, branch) is not False:
        return source

    def since_fork(ref: str) -> list[str]:
        fork = gitrepo.merge_base(root, source, ref)
        span = f"{fork}..{ref}"
        out = gitrepo.run_git(
            root, "rev-list", "--first-parent", f"--max-count={MERGED_LOOKBACK}", span
        ).stdout
        return out.split()

    for sha in gitbranches.on_branch(branch, since_fork) or []:
        try:
            if _fingerprint_at(root, sha, model) == fingerprint:
                return sha
        except UserError:
            continue  # the model is not defined, or not valid, there
    return source


def _on_default_branch(root: Path, sha: str, branch: str) -> bool | None:
    from engine import gitbranches, gitrepo

    return gitbranches.on_branch(branch, lambda ref: gitrepo.merge_base(root, sha, ref) == sha)


def _gates_pass(
    root: Path,
    trusted: Definitions,
    store: Store,
    source: str,
    model: str,
    fingerprint: str,
    metrics: Mapping[str, float | None],
    current: Pin | None,
    env_name: str,
) -> bool | None:
    """Whether the version passes its gates against what the environment runs now.

    The gates are the default branch's (``trusted``), so a change cannot loosen the gates
    it is judged by; a model new in the change has no such gates yet, and brings its own.
    ``max_drop`` compares the two versions on the same test rows, as the review does
    (:func:`engine.review.pipeline.on_same_rows`): after the data grew, the live version's
    recorded figures come from another test set, and comparing them with the new version's
    refused a version the review passed (or passed one the review failed).
    """
    from engine.review.gates import evaluate_gates
    from engine.training import planning

    defs = trusted if model in trusted.models else planning.read_definitions(root, source)[0]
    if model not in defs.models:
        return None
    baseline = dict(current.metrics) if current else None
    paired: dict[str, Mapping[str, float | None]] = {}
    if current is not None and current.fingerprint != fingerprint:
        from engine.review.pipeline import on_same_rows

        same = on_same_rows(root, store, source, model, fingerprint, current.fingerprint)
        if same is not None:
            baseline, paired[env_name] = same
    results = evaluate_gates(defs.models[model].spec.gates, metrics, {env_name: baseline}, paired)
    return all(r.status in ("pass", "skipped") for r in results)


# --- reading ----------------------------------------------------------------------------


def status_table(root: Path) -> str:
    """Markdown: for each environment and model, every version it serves (both blue-green
    slots, a canary beside its stable version) with traffic, metric, who, when, PR."""
    from engine.environments.status import status_markdown

    defs = trusted_definitions(root)
    project = defs.settings
    if not project.environments:
        return (
            "No environments are defined: add them under `environments:` in "
            "mlops/project.yaml (e.g. `staging: {branch: env/staging}`)."
        )
    primary = {name: model.spec.primary_metric for name, model in defs.models.items()}
    live = live_versions(root, project)
    # a model whose file is only invalid there is still defined: no note to retire it
    defined = set(defs.models) | defs.invalid
    return status_markdown(
        list(project.environments), live, primary, defined, project.default_branch
    )


def status_data(root: Path) -> list[dict[str, Any]]:
    """``mlops status --json``: every version each environment serves, as data."""
    from engine.environments.status import status_rows

    defs = trusted_definitions(root)
    project = defs.settings
    primary = {name: model.spec.primary_metric for name, model in defs.models.items()}
    return status_rows(list(project.environments), live_versions(root, project), primary)


def history(root: Path, model: str) -> list[dict[str, Any]]:
    """One timeline of ``model``, newest first: versions in the store, pins on the
    environment branches, and the engine's action log (``.mlops/logs/engine.jsonl``).

    Each event has exactly the keys of :data:`HISTORY_KEYS` (``mlops history --json``
    is stable). A logged train or promotion that the store or a branch already shows is
    not repeated; refused promotions, deploys, monitor runs and alerts come from the log.
    """
    from engine import audit
    from engine.environments.promote import pin_history, retirements

    defs = trusted_definitions(root)
    project = defs.settings
    events = [
        _event(r.created, "trained", r.version, "", r.author, r.commit, "ok", "store")
        for r in open_store(root, project).versions(model)
    ]
    for env_name, env in project.environments.items():
        events += [
            _event(e.when, e.pin.action, _moved(e.pin), env_name, e.actor, e.commit, "ok", "branch")
            for e in pin_history(root, env.branch, model)
        ]
        events += [
            _event(when, "retire", version, env_name, who, sha, "ok", "branch")
            for sha, when, who, version in retirements(root, env.branch, model)
        ]
    shown = {(e["event"], e["version"], e["environment"]) for e in events}
    for line in audit.read(root):
        if line.get("model") != model:
            continue
        action, version = str(line.get("action")), str(line.get("version") or "")
        env_name = str(line.get("environment") or "")
        if (action == "train" and ("trained", version, "") in shown) or (
            line.get("outcome") == "ok" and (action, version, env_name) in shown
        ):
            continue
        events.append(
            _event(
                str(line.get("time") or ""),
                action,
                version,
                env_name,
                str(line.get("actor") or ""),
                str(line.get("commit") or ""),
                str(line.get("outcome") or ""),
                "log",
            )
        )
    if not events and model not in defs.models:
        # a removed model keeps its history; a misspelled one has none to show
        raise unknown_model(model, defs.models)
    # Times have one-second resolution: within a second, a version is trained before it
    # is promoted, and promotions keep their branch order (already newest first).
    return sorted(
        events, key=lambda e: (_sort_time(e["when"]), e["event"] != "trained"), reverse=True
    )


def _moved(pin: Pin) -> str:
    """The version a pin change is about: the staged one for a blue-green stage."""
    return pin.idle.version if pin.action == "stage" and pin.idle is not None else pin.version


HISTORY_KEYS = ("when", "event", "version", "environment", "by", "commit", "outcome", "source")


def _event(
    when: str,
    event: str,
    version: str,
    env: str,
    by: str,
    commit: str,
    outcome: str,
    source: str,
) -> dict[str, Any]:
    values = (when, event, version[:12], env, by, commit[:12], outcome, source)
    return dict(zip(HISTORY_KEYS, values, strict=True))


def _sort_time(when: str) -> datetime:
    """A timestamp to sort by; an unreadable one sorts oldest."""
    try:
        stamp = datetime.fromisoformat(when)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
