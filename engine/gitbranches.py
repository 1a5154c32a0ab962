"""The git seam that moves branches: temporary worktrees, fetch, push and ref updates.

Environment branches are written by concurrent jobs (two promotions at once, a deploy
beside a rollback), so every operation here is atomic or compare-and-swap and says
whether it lost a race (``push_branch`` and ``move_branch`` return False when the
branch moved first) instead of forcing; git's transient lock errors are retried after a
short random pause. Reading trees and blobs is :mod:`engine.gitrepo`'s job.
"""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from engine.errors import GitError, UserError
from engine.gitrepo import command_failed, run_git

T = TypeVar("T")

__all__ = [
    "checked_out_branches",
    "fetch_branches",
    "move_branch",
    "on_branch",
    "push_branch",
    "ref_sha",
    "refresh_branches",
    "remotes",
    "temporary_worktree",
]


@contextmanager
def temporary_worktree(root: Path, rev: str) -> Iterator[Path]:
    """A detached checkout of ``rev`` in a temporary folder, removed afterwards.

    The checkout at ``root`` (its branch, index and working files) is never touched;
    the new worktree shares ``root``'s objects and refs, so commits made there are
    visible at ``root`` at once.
    """
    parent = Path(tempfile.mkdtemp(prefix="mlops-worktree-"))
    path = parent / "checkout"
    admin: Path | None = None
    try:
        for attempt in _attempts():
            path = parent / f"checkout-{secrets.token_hex(4)}"
            done = run_git(
                root, "worktree", "add", "--quiet", "--detach", str(path), rev, check=False
            )
            if done.returncode == 0:
                break
            if attempt == _TRIES:
                raise command_failed(root, ("worktree",), done.stderr)
        admin = Path(run_git(path, "rev-parse", "--absolute-git-dir").stdout.strip())
        yield path
    finally:
        for _ in _attempts():
            gone = run_git(root, "worktree", "remove", "--force", str(path), check=False)
            if gone.returncode == 0 or not path.exists():
                break
        shutil.rmtree(parent, ignore_errors=True)
        if admin is not None and admin.exists():
            # Only our own entry: `git worktree prune` could take a concurrent add's half-made one.
            shutil.rmtree(admin, ignore_errors=True)


# `git worktree` commands read every worktree's admin folder, and fail while a concurrent
# `worktree add` is half way through writing one: such failures are retried after a pause.
_TRIES = 6


def _attempts() -> Iterator[int]:
    for attempt in range(1, _TRIES + 1):
        if attempt > 1:
            time.sleep((10 + secrets.randbelow(40)) / 1000)
        yield attempt


def checked_out_branches(root: Path) -> dict[str, str]:
    """``{branch: worktree path}`` for each branch that a worktree of ``root`` has checked out."""
    for attempt in _attempts():
        done = run_git(root, "worktree", "list", "--porcelain", check=attempt == _TRIES)
        if done.returncode == 0:
            break
    out: dict[str, str] = {}
    path = ""
    for line in done.stdout.splitlines():
        if line.startswith("worktree "):
            path = line.removeprefix("worktree ")
        elif line.startswith("branch refs/heads/"):
            out[line.removeprefix("branch refs/heads/")] = path
    return out


def fetch_branches(root: Path, remote: str, branches: Sequence[str]) -> set[str]:
    """Fetch ``branches`` into ``refs/remotes/<remote>/``; return those the remote has."""
    wanted = list(branches)
    error = ""
    for _ in range(8):
        if not wanted:
            return set()
        specs = [f"+refs/heads/{b}:refs/remotes/{remote}/{b}" for b in wanted]
        args = ("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", remote, *specs)
        done = run_git(root, *args, check=False)
        if done.returncode == 0:
            return set(wanted)
        error = done.stderr.strip()
        missing = re.findall(r"couldn't find remote ref refs/heads/(\S+)", error)
        if missing:  # a branch not created yet: fetch the others
            wanted = [b for b in wanted if b not in missing]
        elif any(sign in error for sign in _BUSY):
            # Another fetch holds the ref, or another process here is adding a worktree
            # (fetch checks every worktree's HEAD): wait our turn.
            time.sleep((20 + secrets.randbelow(60)) / 1000)
        else:
            break
    raise GitError(f"could not fetch {', '.join(wanted)} from {remote}: {error}")


def refresh_branches(root: Path, remote: str, branches: Sequence[str]) -> None:
    """Bring ``refs/remotes/<remote>/`` up to date for ``branches``, in one fetch.

    For reading what the branches hold (a review, a status): which of them the remote
    has is read from the refs afterwards. :func:`fetch_branches` fetches each one by
    its exact name, and git stops at the first name the remote lacks, so before a first
    promotion every environment costs a fetch (a round trip to the remote) of its own.
    Here each name is a pattern (``refs/heads/env/staging*``), which matches nothing
    rather than failing when the branch does not exist; it also brings along a branch
    whose name merely starts with it (``env/staging-old``) into its usual
    remote-tracking ref, as a plain ``git fetch`` would. When the one fetch fails (a
    busy ref, a name that clashes with a stale ref), :func:`fetch_branches` does it.
    """
    if not branches:
        return
    specs = [f"+refs/heads/{b}*:refs/remotes/{remote}/{b}*" for b in branches]
    args = ("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", remote, *specs)
    if run_git(root, *args, check=False).returncode != 0:
        fetch_branches(root, remote, branches)


_WORKFLOWS = "to create or update workflow"
"""What GitHub says when a token without the workflows permission pushes a workflow change."""


class WorkflowsRefused(GitError):
    """The remote refused a push because it changes ``.github/workflows/`` (GitHub, for a
    token without the workflows permission, such as GITHUB_TOKEN): the caller knows why
    the push carried them and what to do."""


def push_branch(root: Path, remote: str, sha: str, branch: str) -> bool:
    """Push ``sha`` to ``branch`` on ``remote``, never forced: False if the branch moved first.

    A refusal of workflow changes raises :class:`WorkflowsRefused`; any other refusal (a
    protected branch, a hook, no access) GitError.
    """
    args = ("push", "--porcelain", remote, f"{sha}:refs/heads/{branch}")
    done = run_git(root, *args, check=False)
    if done.returncode == 0:
        return True
    refused = [line for line in done.stdout.splitlines() if line.startswith("!")]
    if not refused:
        raise GitError(f"could not push to {remote}: {done.stderr.strip()}")
    if any(sign in line for line in refused for sign in _MOVED):
        return False
    if _WORKFLOWS in done.stdout or _WORKFLOWS in done.stderr:
        raise WorkflowsRefused(
            f"{remote} refused the push to {branch}: it changes .github/workflows/, which a "
            "push with GITHUB_TOKEN may not do (refusing to allow ... to create or update "
            "workflow)"
        )
    raise GitError(
        f"{remote} refused the push to {branch}: {refused[0].split(chr(9))[-1]}; if the "
        "branch is protected, allow the engine's identity to push to it"
    )


def move_branch(root: Path, branch: str, new: str, old: str | None) -> bool:
    """Move the local ``branch`` from ``old`` (None: create it) to ``new``; False if it moved."""
    ref = f"refs/heads/{branch}"
    done = run_git(root, "update-ref", "-m", "mlops: promotion", ref, new, old or "", check=False)
    if done.returncode == 0:
        return True
    if ref_sha(root, ref) != old:
        return False
    raise GitError(f"could not move {branch} to {new} in {root}: {done.stderr.strip()}")


# What git says when another process in the same repository holds something: retry.
_BUSY = ("cannot lock", ".lock", "bad object", "did not send all necessary objects")
# What `git push --porcelain` says when the remote branch moved since our fetch.
_MOVED = ("fetch first", "non-fast-forward", "stale info", "failed to update ref", "cannot lock")


def on_branch(branch: str, use: Callable[[str], T]) -> T | None:
    """``use(ref)`` on origin's copy of ``branch``, else on the local one; None if neither works.

    A clone's local branch may be stale or absent (Actions checks out one commit), so
    origin's copy comes first. ``use`` signals a missing ref with a UserError.
    """
    for ref in (f"origin/{branch}", branch):
        try:
            return use(ref)
        except UserError:
            continue
    return None


def ref_sha(root: Path, ref: str) -> str | None:
    """The commit a full ref name (``refs/heads/main``) points at, or None if it does not exist."""
    if not ref or ref.startswith("-"):
        return None
    done = run_git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def remotes(root: Path) -> list[str]:
    """The names of the remotes configured at ``root``."""
    return run_git(root, "remote").stdout.split()
