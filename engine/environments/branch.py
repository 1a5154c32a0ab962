"""The git transaction of a promotion or rollback: one commit on an environment branch.

:class:`EnvironmentBranch` is the branch a change is written to. ``open`` fetches it
(when pushing to a configured remote) and finds where the next commit starts: the
branch, else the default branch it is created from. ``apply`` asks a ``ChangeFor``
function what to write given the pin live there now (None: nothing to do), commits it
in a temporary ``git worktree`` (so the user's checkout, index and edited files are
never touched) and publishes it: a fast-forward push, or a compare-and-swap of the local
ref without a remote. A push that loses a race is fetched and redone, with jittered
backoff, up to ``MAX_ATTEMPTS`` times; :class:`RaceLost` says nothing was written.

A promotion merges its source commit first (:func:`commit_change` with ``merge``); the
merge keeps the branch's own ``mlops/deployments/`` as it was, and refuses with
:class:`MergeConflict` when the branch has edits elsewhere. What to write (the pin, the
message) is decided by :mod:`engine.environments.promote`, from the pure rules in
:mod:`engine.environments.pins`.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from engine import gitbranches, gitrepo
from engine.definitions.formats import NAME_PATTERN
from engine.environments.pins import FOLDER, Pin, PromotionError, parse_pin, pin_path, render
from engine.errors import GitError

DEPLOY_FOLDER = "deploy/kserve"  # the manifests promotion writes beside the pins
OWNED = (FOLDER, DEPLOY_FOLDER)  # what only the environment branch writes

DEFAULT_IDENTITY = gitrepo.Author("mlops[bot]", "mlops-bot@users.noreply.github.com")
MAX_ATTEMPTS = 12  # ten promoters racing on one branch need up to ~8; see the concurrency test


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
    pin: Pin  # the pin live on the branch afterwards (the one removed, when ``retired``)
    retired: bool = False
    """The pin and its manifests were removed: the environment no longer serves the model."""


def engine_identity() -> gitrepo.Author:
    """The identity the engine commits as: ``MLOPS_GIT_NAME``/``MLOPS_GIT_EMAIL`` or the bot."""
    name = os.environ.get("MLOPS_GIT_NAME") or DEFAULT_IDENTITY.name
    email = os.environ.get("MLOPS_GIT_EMAIL") or DEFAULT_IDENTITY.email
    return gitrepo.Author(name, email)


@dataclass(frozen=True)
class Change:
    """What one commit writes: the pin, its message, and the commit to merge first."""

    pin: Pin
    message: str
    merge: str | None  # the commit to merge first, or None for a pin-only commit
    files: Mapping[str, str | None] = field(default_factory=dict)
    """Other files written (None: deleted) in the same commit (manifests under ``deploy/``)."""
    retire: bool = False
    """Delete the pin (``pin`` is the one removed) instead of writing it."""


ChangeFor = Callable[[Pin | None], Change | None]
"""The pin live now -> what to write (None: nothing to do)."""


class EnvironmentBranch:
    """An environment branch to commit to: on a remote (fetch, push) or local (compare-and-swap)."""

    def __init__(self, root: Path, branch: str, default: str, remote: str, push: bool) -> None:
        self.root, self.branch, self.default, self.remote_name = root, branch, default, remote
        # None: work on the local branch (push=False, or no such remote configured).
        self.remote = remote if push and remote in gitbranches.remotes(root) else None
        self.start_ref: str | None = None
        self.branch_exists = False

    @classmethod
    def open(
        cls, root: Path, branch: str, default: str, remote: str, push: bool
    ) -> EnvironmentBranch:
        """Fetch (when pushing to a configured remote) and find where the next commit starts."""
        root = Path(root)
        if not gitrepo.is_repo(root):
            raise GitError(f"{root} is not the top of a git repository: pass --repo")
        if not re.match(NAME_PATTERN, remote):
            raise PromotionError(f"{remote!r} is not a remote name")
        target = cls(root, branch, default, remote, push)
        if target.remote is None and (where := gitbranches.checked_out_branches(root).get(branch)):
            raise PromotionError(
                f"{branch} is checked out in {where}; switch that checkout to another branch "
                "(the engine never changes a checkout) and run again"
            )
        target.refresh()
        return target

    def refresh(self) -> None:
        """Fetch the branches (remote mode) and pick the ref the next commit starts from."""
        heads = f"refs/heads/{self.branch}"
        if self.remote is None:
            self.branch_exists = gitbranches.ref_sha(self.root, heads) is not None
            candidates = [heads] if self.branch_exists else []
            candidates += [f"refs/heads/{self.default}"]
            candidates += [f"refs/remotes/{self.remote_name}/{self.default}"]
        else:
            wanted = list(dict.fromkeys((self.branch, self.default)))
            found = gitbranches.fetch_branches(self.root, self.remote, wanted)
            self.branch_exists = self.branch in found
            tracking = f"refs/remotes/{self.remote}/"
            candidates = [tracking + name for name in (self.branch, self.default) if name in found]
            candidates.append(f"refs/heads/{self.default}")
        self.start_ref = next((r for r in candidates if gitbranches.ref_sha(self.root, r)), None)

    def require_commit(self, sha: str) -> None:
        """Refuse a source commit this repository does not have (fetching it once if possible)."""
        if self._has(sha):
            return
        if self.remote is not None:
            args = ("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", self.remote, sha)
            gitrepo.run_git(self.root, *args, check=False)
            if self._has(sha):
                return
        where = f" nor on {self.remote}" if self.remote else ""
        raise PromotionError(
            f"commit {sha} is not in {self.root}{where}: push it (`git push origin HEAD`) "
            "so the environment branch can merge it"
        )

    def _has(self, sha: str) -> bool:
        return gitbranches.ref_sha(self.root, sha) is not None

    def apply(
        self,
        model: str,
        change: ChangeFor,
        max_attempts: int,
        before_push: Callable[[], None] | None,
    ) -> PromotionResult:
        """Commit ``change`` on top of the branch and publish it, redoing it after a lost race."""
        path = pin_path(model)
        with ExitStack() as stack:
            tree: Path | None = None
            for attempt in range(1, max_attempts + 1):
                if attempt > 1:
                    # Exponential backoff with full jitter spreads racing promoters out.
                    time.sleep(secrets.randbelow(min(1000, 50 << (attempt - 2)) + 1) / 1000)
                    self.refresh()
                start = self._start()
                current = self._pin_at(start, path)
                todo = change(current)
                if todo is None:
                    assert current is not None  # a no-op needs a live pin
                    return self._result(current, None, None, attempt)
                if tree is None:
                    tree = stack.enter_context(gitbranches.temporary_worktree(self.root, start))
                else:
                    gitrepo.run_git(tree, "checkout", "--quiet", "--detach", "--force", start)
                new = commit_change(tree, start, todo, path)
                if before_push is not None:
                    before_push()
                if self._publish(new, start):
                    return self._result(todo.pin, new, current, attempt, retired=todo.retire)
        raise RaceLost(
            f"{self.branch} kept moving: {max_attempts} attempts lost the race to other pushes; "
            "nothing was written, run the command again"
        )

    def _start(self) -> str:
        sha = gitbranches.ref_sha(self.root, self.start_ref) if self.start_ref else None
        if sha is None:
            raise GitError(
                f"neither {self.branch} nor the default branch {self.default} exists in "
                f"{self.root}: commit and push the definitions first, or set "
                "`default_branch` in mlops/project.yaml to the branch they are on"
            )
        return sha

    def _pin_at(self, sha: str, path: str) -> Pin | None:
        (data,) = gitrepo.read_blobs(self.root, [f"{sha}:{path}"])
        return None if data is None else parse_pin(data, path)

    def _publish(self, new: str, start: str) -> bool:
        """Move the branch to ``new``: True on success, False when it moved under us."""
        if self.remote is None:
            old = start if self.branch_exists else None
            return gitbranches.move_branch(self.root, self.branch, new, old)
        try:
            if not gitbranches.push_branch(self.root, self.remote, new, self.branch):
                return False
        except gitbranches.WorkflowsRefused as exc:
            raise GitError(
                f"{exc}. The default branch's workflows changed (an engine upgrade changes "
                f"them) and a promotion merges {self.default} into {self.branch}: merge it "
                f"into {self.branch} by hand once (git checkout {self.branch} && git merge "
                f"{self.remote}/{self.default} && git push {self.remote} {self.branch}), "
                "then promote again (docs/upgrading.md)"
            ) from None
        self._follow(new)
        return True

    def _follow(self, new: str) -> None:
        # Fast-forward a local copy of the branch nobody has checked out, so that readers
        # preferring the local branch (read_pins, pin_history) see the promotion.
        local = gitbranches.ref_sha(self.root, f"refs/heads/{self.branch}")
        if local is None or self.branch in gitbranches.checked_out_branches(self.root):
            return
        ancestor = gitrepo.run_git(
            self.root, "merge-base", "--is-ancestor", local, new, check=False
        )
        if ancestor.returncode == 0:
            args = ("update-ref", "-m", "mlops: follow", f"refs/heads/{self.branch}", new, local)
            gitrepo.run_git(self.root, *args, check=False)

    def _result(
        self,
        pin: Pin,
        commit: str | None,
        previous: Pin | None,
        attempts: int,
        *,
        retired: bool = False,
    ) -> PromotionResult:
        return PromotionResult(
            environment=pin.environment,
            branch=self.branch,
            model=pin.model,
            version=pin.version,
            commit=commit,
            previous=previous,
            noop=commit is None,
            pushed=commit is not None and self.remote is not None,
            attempts=attempts,
            pin=pin,
            retired=retired,
        )


def commit_change(tree: Path, start: str, change: Change, path: str) -> str:
    """Merge (if asked), write (or delete) the pin and commit, in the worktree; return the
    new commit."""
    if change.merge is not None:
        _merge(tree, start, change.merge)
    written = []
    if change.retire:
        gitrepo.run_git(tree, "rm", "-q", "--", path)
    else:
        target = tree / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render(change.pin), encoding="utf-8")
        written.append(path)
    for extra, text in change.files.items():
        if text is None:  # a file this pin no longer has (a blue-green slot emptied)
            if _written_for(tree / extra, change.pin.model):
                gitrepo.run_git(tree, "rm", "-q", "--ignore-unmatch", "--", extra)
            continue
        (tree / extra).parent.mkdir(parents=True, exist_ok=True)
        (tree / extra).write_text(text, encoding="utf-8")
        written.append(extra)
    if written:
        gitrepo.run_git(tree, "add", "--", *written)
    args = ("commit", "--quiet", "--no-verify", "--cleanup=whitespace", "-F", "-")
    gitrepo.run_git(tree, *args, stdin=change.message, identity=engine_identity())
    return gitrepo.run_git(tree, "rev-parse", "HEAD").stdout.strip()


def _written_for(file: Path, model: str) -> bool:
    """Whether ``file`` is a manifest written for ``model``: ``<model>-blue.yaml`` is the
    path of a slot of ``model`` and also of the manifest of a model named ``<model>-blue``,
    which a promotion of ``model`` must leave alone (its controller would undeploy it)."""
    import yaml

    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    metadata = document.get("metadata") if isinstance(document, dict) else None
    if not isinstance(metadata, dict):
        return False
    for key in ("annotations", "labels"):  # the annotation holds a name its label had to cut
        names = metadata.get(key)
        if isinstance(names, dict) and "mlops.dev/model" in names:
            return bool(names["mlops.dev/model"] == model)
    return False


def _merge(tree: Path, start: str, source: str) -> None:
    args = ("merge", "--no-ff", "--no-commit", "--quiet", source)
    done = gitrepo.run_git(tree, *args, check=False, identity=engine_identity())
    conflicted: list[str] = []
    if done.returncode != 0:
        listing = gitrepo.run_git(tree, "diff", "--name-only", "-z", "--diff-filter=U").stdout
        conflicted = [name for name in listing.split("\0") if name]
        outside = [n for n in conflicted if not n.startswith(tuple(f"{o}/" for o in OWNED))]
        if outside:
            gitrepo.run_git(tree, "merge", "--abort", check=False)
            raise MergeConflict(
                f"merging {source[:12]} conflicts in {', '.join(outside)}: the environment branch "
                f"has its own edits there; an environment branch should only change {FOLDER}/, "
                "so revert those edits on it (a new commit) and promote again",
                outside,
            )
        if not conflicted:
            hint = done.stderr.strip() or done.stdout.strip()
            if "unrelated histories" in hint:
                hint += " (a shallow clone? fetch the full history: `fetch-depth: 0`)"
            raise GitError(f"could not merge {source} into the environment branch: {hint}")
    # The pins and manifests are the environment branch's own: whatever the merge brought
    # under mlops/deployments/ or deploy/kserve/ (the default branch should have none) is
    # put back as it was.
    for folder in OWNED:
        changed = gitrepo.run_git(
            tree, "diff", "--cached", "--name-only", start, "--", folder
        ).stdout
        if not (conflicted or changed.strip()):
            continue
        gitrepo.run_git(tree, "rm", "-r", "-q", "-f", "--ignore-unmatch", "--", folder)
        had = gitrepo.run_git(tree, "rev-parse", "--verify", "-q", f"{start}:{folder}", check=False)
        if had.returncode == 0:
            gitrepo.run_git(tree, "checkout", start, "--", folder)


__all__ = [
    "MAX_ATTEMPTS",
    "Change",
    "ChangeFor",
    "EnvironmentBranch",
    "MergeConflict",
    "PromotionResult",
    "RaceLost",
    "commit_change",
    "engine_identity",
]
