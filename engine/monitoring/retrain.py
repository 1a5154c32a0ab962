"""Retraining on drift: a branch that adds the monitored rows to a model's training data.

When the scheduled monitor finds data drift in a model of an environment whose policy
says ``retrain_on_drift: true``, :func:`prepare` builds a branch off the default branch
whose one commit adds the current data's *labelled* rows to the model's dataset as a new
DVC-tracked version (:func:`engine.data.append.append_rows`: the CSV grows, ``dvc add``,
the content pushed to the DVC remote, the ``.dvc`` pointer committed). The pull request
that proposes it is opened by the workflow layer (:mod:`engine.github.retraining`); the
pull-request workflow then trains and reports as for any change, and people ``/promote``.

The commit is made in a temporary worktree, so the checkout the monitor runs in is never
touched. The branch is named by the new content's hash
(``mlops/retrain/ENV/MODEL-<md5[:12]>``): the same rows on the same data name the same
branch, and a branch that exists already (a run that pushed it and then failed to open
the pull request) is reused, never forced, if it holds this very change; one with other
changes is left alone and nothing is proposed (its name is predictable). :func:`prepare`
builds the commit, :func:`publish` pushes it: the workflow layer checks in between that
people did not decline these very rows already.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import UserError

if TYPE_CHECKING:
    from engine.data.append import Appended
    from engine.environments.pins import Pin
    from engine.monitoring.monitor import Current

PREFIX = "mlops/retrain"
REMOTE = "origin"


@dataclass(frozen=True)
class Prepared:
    """A commit with a new version of the data, and its branch: what the pull request
    proposes (:func:`publish` pushes it)."""

    model: str
    environment: str
    dataset: str
    branch: str
    base: str  # the default branch
    base_commit: str
    commit: str
    appended: Appended
    files: tuple[str, ...]  # what the commit changes
    remote: str | None  # where the branch goes (None: a local branch)
    reused: bool = False  # the branch was there already (same content): nothing was pushed


def marker(model: str, environment: str) -> str:
    """The hidden marker of the one open retraining pull request per (model, environment)."""
    return f"retrain:{model}:{environment}"


def prepare(root: Path, pin: Pin, current: Current, default_branch: str) -> Prepared:
    """Build the commit (its data pushed to the DVC remote, content-addressed); a UserError
    (DataError ...) says why it could not be."""
    from engine import gitbranches, gitrepo
    from engine.data.append import append_rows, file_of, training_rows
    from engine.environments.branch import engine_identity
    from engine.monitoring.monitor import labelled_current
    from engine.training.planning import read_definitions

    remote = REMOTE if REMOTE in gitbranches.remotes(root) else None
    base_commit = _base(root, remote, default_branch)
    defs, _ = read_definitions(root, base_commit)
    if pin.model not in defs.models:
        raise UserError(
            f"{pin.model} is not defined on {default_branch} any more: nothing to retrain"
        )
    dataset = defs.datasets[defs.models[pin.model].spec.dataset].spec
    path = file_of(dataset)
    table, labels = labelled_current(root, pin, current, dataset)
    rows = training_rows(table, labels, dataset)
    if rows.num_rows == 0:
        raise UserError("none of the current rows has a label: there is nothing to train on")
    with gitbranches.temporary_worktree(root, base_commit) as tree:
        appended = append_rows(tree, root, dataset, rows)
        added = [appended.pointer]
        ignore = str(Path(path).parent / ".gitignore")
        if (tree / ignore).is_file():
            added.append(ignore)
        gitrepo.run_git(tree, "add", "--", *added)
        message = (
            f"Add {appended.added} monitored row(s) to {dataset.name} "
            f"(data drift in {pin.model}, {pin.environment})\n\n"
            f"{path}: {appended.before} + {appended.added} rows, md5 {appended.md5}.\n"
            f"Proposed by `mlops monitor` (retrain_on_drift in {pin.environment})."
        )
        args = ("commit", "--quiet", "--no-verify", "--cleanup=whitespace", "-F", "-")
        gitrepo.run_git(tree, *args, stdin=message, identity=engine_identity())
        commit = gitrepo.run_git(tree, "rev-parse", "HEAD").stdout.strip()
    return Prepared(
        pin.model,
        pin.environment,
        dataset.name,
        f"{PREFIX}/{pin.environment}/{pin.model}-{appended.md5[:12]}",
        default_branch,
        base_commit,
        commit,
        appended,
        tuple(added),
        remote,
    )


def publish(root: Path, prepared: Prepared) -> Prepared:
    """Push the prepared commit to its branch, never forced; a branch there already must
    hold this very change (then nothing is pushed: ``reused``)."""
    from engine import gitbranches

    remote, branch, commit = prepared.remote, prepared.branch, prepared.commit
    if remote is not None:
        pushed = gitbranches.push_branch(root, remote, commit, branch)
    else:
        pushed = gitbranches.move_branch(root, branch, commit, None)
    if not pushed:
        commits = (prepared.base_commit, commit)
        _check_reused(root, remote, branch, commits, prepared.files, prepared.appended.pointer)
    return replace(prepared, reused=not pushed)


def _check_reused(
    root: Path,
    remote: str | None,
    branch: str,
    commits: tuple[str, str],
    ours: tuple[str, ...],
    pointer: str,
) -> None:
    """A branch already there is proposed only if it holds this very change.

    Its name is the new data's md5, which anyone who can read the monitored rows can
    compute: a branch pushed there with other changes must not get a pull request whose
    body says the pointer is the only file changed.
    """
    from engine import gitbranches, gitrepo

    base, commit = commits
    if remote is not None:
        gitbranches.fetch_branches(root, remote, [branch])
    ref = f"refs/remotes/{remote}/{branch}" if remote is not None else f"refs/heads/{branch}"
    tip = gitbranches.ref_sha(root, ref)
    extra: set[str] = set()
    if tip is not None:
        diff = gitrepo.run_git(root, "diff", "--name-only", f"{base}...{tip}").stdout
        extra = set(diff.splitlines()) - set(ours)
        theirs, wanted = gitrepo.read_blobs(root, [f"{tip}:{pointer}", f"{commit}:{pointer}"])
        if not extra and theirs == wanted:
            return
    raise UserError(
        f"branch {branch} exists with other changes than this proposal "
        f"({', '.join(sorted(extra)) or f'another {pointer}'}): delete it to let the "
        "monitor propose the new data"
    )


def _base(root: Path, remote: str | None, default_branch: str) -> str:
    """The default branch's newest commit: the remote's (fetched), else the local one."""
    from engine import gitbranches

    if remote is not None and gitbranches.fetch_branches(root, remote, [default_branch]):
        sha = gitbranches.ref_sha(root, f"refs/remotes/{remote}/{default_branch}")
    else:
        sha = gitbranches.ref_sha(root, f"refs/heads/{default_branch}")
    if sha is None:
        raise UserError(f"the default branch {default_branch} is not in {root}: fetch it")
    return sha


__all__ = ["PREFIX", "Prepared", "marker", "prepare"]
