"""``mlops demo``: one model's whole lifecycle on a throwaway local repository.

It builds a git repository with a bare ``origin`` in a temporary folder, copies this
project's example definitions into it, and walks through what a team does
(:mod:`engine.demo.lifecycle` has the steps): train on main; a change reviewed as a pull
request on the local forge; ``/promote`` to staging by comment; production refused, then
allowed once approved and merged; the production model served by ``mlops serve`` and
queried in both protocols; a canary; a drifted batch monitored; a rollback. Everything
runs on the embedded defaults (a local store, the local forge writing to
``.mlops/outbox/``), through the code the CLI and the GitHub workflows run.

Unless the repository is kept (``--keep DIR``), nothing is left behind: the folder is
deleted and every server started is stopped, whether the demo succeeds or fails.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.demo.lifecycle import STEPS, Run, Step, timed
from engine.errors import UserError

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "mlops"


@dataclass
class Demo:
    """What the demo did: its steps, where it ran, what it started, how long it took."""

    folder: Path
    repository: Path
    kept: bool
    steps: list[Step] = field(default_factory=list)
    servers: list[tuple[int, int]] = field(default_factory=list)
    """(pid, port) of every ``mlops serve`` started (all stopped by the end)."""
    seconds: float = 0.0

    def step(self, name: str) -> Step:
        """The step called ``name``."""
        return next(s for s in self.steps if s.name == name)


def run(
    say: Callable[[str], None],
    keep: Path | None = None,
    steps: Sequence[Callable[[Run], Step]] = STEPS,
) -> Demo:
    """Walk through the lifecycle, one line per step through ``say``; see the module doc.

    ``keep``: build the repository in this new folder and keep it. ``steps``: the steps to
    run (all by default; tests pass fewer).
    """
    from engine.forge.local import LocalForge

    started = time.perf_counter()
    folder = _folder(keep)
    demo = Demo(folder, folder / "repo", kept=keep is not None)
    try:
        root = make_repo(folder)
        forge = LocalForge(root, user="ada")
        forge.set_permission("grace", "maintain")  # the teammate who approves
        state = Run(root, folder, forge, servers=demo.servers)
        say(f"mlops demo: the life of a model, on a throwaway repository in {folder}")
        with state.stack:  # stops whatever a step left running, even on failure
            for number, step in enumerate(steps, 1):
                result = timed(step, state)
                demo.steps.append(result)
                say(f"[{number}/{len(steps)}] {result.name}: {result.line} ({result.seconds:.1f}s)")
                for detail in result.details:
                    for line in detail.splitlines():
                        if line.strip():
                            say(f"      {line}")
        demo.seconds = time.perf_counter() - started
        say(_closing(demo))
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return demo


def _folder(keep: Path | None) -> Path:
    if keep is None:
        return Path(tempfile.mkdtemp(prefix="mlops-demo-"))
    keep = keep.resolve()
    if keep.exists() and (not keep.is_dir() or any(keep.iterdir())):
        raise UserError(f"{keep} is not an empty folder: give --keep a new or empty folder")
    keep.mkdir(parents=True, exist_ok=True)
    return keep


def _closing(demo: Demo) -> str:
    done = f"{len(demo.steps)} steps in {demo.seconds:.1f}s."
    if not demo.kept:
        return f"{done} The repository is deleted; `mlops demo --keep DIR` keeps it to explore."
    root = demo.repository
    tries = [
        f"cd {root}",
        "mlops status                          # what runs where",
        "mlops history cancer-rf               # trainings, promotions, rollbacks",
        "git log --oneline origin/env/staging  # the audit log of staging",
        "ls .mlops/outbox/comments/pr-1        # what the pull request got",
        "mlops serve --env production          # serve it yourself (Ctrl-C stops it)",
        f"mlops monitor --env production --current {demo.folder / 'drifted-batch.csv'}",
    ]
    return "\n".join([f"{done} The repository is kept. Try:", *(f"  {t}" for t in tries)])


def make_repo(folder: Path) -> Path:
    """A repository with the examples committed on main and pushed to a bare origin.

    Staging deploys by canary, so the demo can show one.
    """
    from engine.gitrepo import run_git

    if not EXAMPLES.is_dir():
        raise UserError(
            f"the example definitions are missing ({EXAMPLES}): run the demo from "
            "a checkout of the mlops repository"
        )
    origin, root = folder / "origin.git", folder / "repo"
    run_git(folder, "init", "-q", "--bare", "-b", "main", str(origin))
    root.mkdir()
    run_git(root, "init", "-q", "-b", "main")
    run_git(root, "config", "user.name", "Ada Lovelace")
    run_git(root, "config", "user.email", "ada@example.com")
    run_git(root, "remote", "add", "origin", str(origin))
    shutil.copytree(EXAMPLES, root / "mlops", ignore=shutil.ignore_patterns("deployments"))
    project = root / "mlops" / "project.yaml"
    text = project.read_text(encoding="utf-8")
    canary = text.replace(
        "staging: {branch: env/staging}", "staging: {branch: env/staging, strategy: canary}"
    )
    if canary == text:
        raise UserError(f"{project}: the demo expects `staging: {{branch: env/staging}}` there")
    project.write_text(canary, encoding="utf-8")
    (root / ".gitignore").write_text(".mlops/\n")
    (root / "README.md").write_text("# A team's ML repository (mlops demo)\n")
    run_git(root, "add", "-A")
    run_git(root, "commit", "-q", "-m", "Add datasets, features and models")
    run_git(root, "push", "-q", "-u", "origin", "main")
    return root


__all__ = ["Demo", "Step", "make_repo", "run"]
