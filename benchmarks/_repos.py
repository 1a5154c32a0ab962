"""Throwaway git repositories for the benchmarks (a fixed identity, nothing else)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

IDENTITY = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def git(path: Path, *args: str) -> str:
    """Run git in ``path`` as the benchmark identity; return its stdout."""
    done = subprocess.run(
        ["git", *args],
        cwd=path,
        env={**os.environ, **IDENTITY},
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def git_repo(path: Path) -> Path:
    """A new git repository at ``path`` that ignores the store."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / ".gitignore").write_text(".mlops/\n")
    return path


def commit(path: Path) -> None:
    """Commit the whole working tree."""
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "bench")
