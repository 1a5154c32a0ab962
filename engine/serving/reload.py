"""Follow the environment branch: when a promotion or rollback moves it, serve the new pins.

:class:`Reloader` is a daemon thread beside the server. Every ``interval`` seconds it
reads the tip of the environment branch (on origin with ``git ls-remote`` when the
repository has one, else the local branch). When the tip moved, it loads every
pinned version again through the one verified path (:func:`pinned_versions`: fetched,
sha256 against the pin, trusted types) and only then swaps the models in KServe's model
repository, one dict assignment per model. A request already running holds the old
model object and finishes on it; the next request finds the new one. A version the
server already holds (the warm slot of a blue-green switch or rollback, the canary a
promotion completes) is reused, not loaded again, so such a switch is served at once.
With ``--workers N`` every worker process runs its own reloader on its own models. A reload that
fails (a missing artifact, a hash mismatch) keeps the old models serving, says why (once
per branch commit), and is tried again at the next poll: a bad promotion never takes a
server down.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.errors import UserError


def branch_tip(root: Path, branch: str) -> str | None:
    """The commit the environment branch is at now (origin's copy first), or None.

    ``git ls-remote`` reads origin without writing a ref, so polling never holds a lock
    a promotion running in the same repository would wait for; the fetch happens only
    once the tip moved (:func:`pinned_versions` reads the branches fetched).
    """
    from engine import gitbranches, gitrepo

    if "origin" in gitbranches.remotes(root):
        listed = gitrepo.run_git(root, "ls-remote", "origin", f"refs/heads/{branch}", check=False)
        if listed.returncode == 0 and listed.stdout.strip():
            return listed.stdout.split()[0]
    return gitbranches.ref_sha(root, f"refs/heads/{branch}")


def served_commit(root: Path, env_name: str) -> str | None:
    """The environment branch's commit as this repository knows it, read *before* the pins
    are: a promotion landing while they load then differs from it, and is the first reload
    (at worst a reload that finds the same versions, which are reused, not loaded)."""
    from engine import gitbranches
    from engine.environments.operations import environment, trusted_project

    branch = environment(trusted_project(root), env_name).branch
    for ref in (f"refs/remotes/origin/{branch}", f"refs/heads/{branch}"):
        sha = gitbranches.ref_sha(root, ref)
        if sha is not None:
            return sha
    return None


class Reloader(threading.Thread):
    """Poll the branch; load the new pins fully, then swap them into ``repository``."""

    def __init__(
        self,
        root: Path,
        env_name: str,
        models: Sequence[str],
        *,
        slot: str | None = None,
        repository: Any,
        build: Callable[[list[Any]], list[Any]],
        interval: float,
        announce: Callable[[str], Any],
        seen: str | None = None,
    ) -> None:
        """``seen``: the branch commit from before the served pins were read (served_commit)."""
        super().__init__(name="mlops-reload", daemon=True)
        self.root, self.env_name, self.models = root, env_name, tuple(models)
        self.slot = slot
        self.repository, self.build = repository, build
        self.interval, self.announce = interval, announce
        self.branch = ""
        self.seen = seen
        self.refused: str | None = None
        """The branch commit whose pins were last refused (announced once)."""
        self.loaded: dict[tuple[str, str, str], Any] = {}
        self.stopped = threading.Event()

    def run(self) -> None:
        """Poll every ``interval``; the first wait keeps the settling off the start-up path."""
        if self.stopped.wait(self.interval):
            return
        try:
            self.settle()
        except UserError as exc:
            self.announce(f"not following the environment branch: {exc}")
            return
        self.poll()
        while not self.stopped.wait(self.interval):
            self.poll()

    def settle(self) -> None:
        """The branch, and the versions already in memory (off the start-up path)."""
        from engine.environments.operations import environment, trusted_project

        self.branch = environment(trusted_project(self.root), self.env_name).branch
        self.loaded = loaded_in(self.repository)

    def stop(self) -> None:
        """End the loop (the thread is a daemon: it also ends with the process)."""
        self.stopped.set()

    def poll(self) -> bool:
        """Reload if the branch moved; True when new models were swapped in."""
        from engine.serving.pinned import pinned_versions, version_skews

        try:
            tip = branch_tip(self.root, self.branch)
            if tip is None or tip == self.seen:
                return False
            loaded = dict(self.loaded)
            pinned = pinned_versions(
                self.root, self.env_name, self.models, slot=self.slot, loaded=loaded
            )
            new = self.build(pinned)
            fresh = len(set(loaded) - set(self.loaded))
        except UserError as exc:  # StoreError, GitError...: keep serving the old pins
            if self.refused != tip:  # tried again at every poll, said once per commit
                self.refused = tip
                self.announce(
                    f"{self.branch} moved, but its pins cannot be served ({exc}); "
                    "still serving the previous versions"
                )
            return False
        from engine.serving.model import registrations

        named = registrations(new)
        for name, model in named.items():  # each a single dict assignment: old or new
            self.repository.update(model, name)
        for name in set(self.repository.get_models()) - set(named):
            self.repository.get_models().pop(name, None)  # a slot emptied by an unstage
        self.loaded = loaded_in(self.repository)  # only what is served stays in memory
        self.seen = tip
        names = ", ".join(f"{m.name}@{m.pinned.version}" for m in new)
        self.announce(
            f"{self.branch} moved to {tip[:12]}: now serving {names} "
            f"(loaded {fresh}, the rest already in memory)"
        )
        for line in version_skews(pinned):  # as at start: the loader kept scikit-learn quiet
            self.announce(line)
        return True


def loaded_in(repository: Any) -> dict[tuple[str, str, str], Any]:
    """The verified versions a model repository serves, by (model, fingerprint, sha256)."""
    found: dict[tuple[str, str, str], Any] = {}
    for model in repository.get_models().values():
        for side in getattr(model, "sides", (model,)):
            p = replace(side.pinned, canary=None, idle=None, slot=None, canary_percent=0)
            found[(p.model, p.fingerprint, p.sha256)] = p
    return found


__all__ = ["Reloader", "branch_tip", "loaded_in", "served_commit"]
