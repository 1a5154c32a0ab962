"""Shared fixtures: real git repositories with a bare origin, and the CLI as a subprocess.

``repo`` gives a fresh repository holding this project's own example definitions,
committed on ``main`` and pushed to a bare ``origin``; ``mlops(...)`` runs the real
console command in it, with the environment a user would have.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(__file__).resolve().parents[1]
MLOPS = Path(sys.executable).parent / "mlops"


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd``; return its stdout."""
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def commit(cwd: Path, message: str) -> str:
    """Commit the whole working tree; return the new SHA."""
    git(cwd, "add", "-A")
    git(cwd, "commit", "-q", "-m", message)
    return git(cwd, "rev-parse", "HEAD")


def dvc(cwd: Path, *args: str) -> None:
    """Run the real ``dvc`` command in ``cwd`` (analytics off)."""
    subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        env={**os.environ, "DVC_NO_ANALYTICS": "1"},
    )


@contextmanager
def dvc_repo(root: Path) -> Iterator[Any]:
    """DVC's Python API on ``root`` (``with dvc_repo(root) as repo: repo.add(...)``).

    DVC 3's index code (``add``, ``checkout``: its outputs trie) reads pygtrie's deprecated
    ``_NoneStep.value``. That warning is DVC's to fix, so it is silenced here for DVC's
    modules only: ``pytest -W error::DeprecationWarning`` then shows only the others.
    """
    from dvc.repo import Repo

    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="_NoneStep.value", category=DeprecationWarning, module=r"dvc\."
        )
        with Repo(str(root)) as repo:
            yield repo


def init_repo(path: Path, *, examples: bool = True) -> Path:
    """A git repository at ``path`` with a bare origin (``path.parent/origin.git``)."""
    path.mkdir(parents=True, exist_ok=True)
    origin = path.parent / f"{path.name}-origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "ada@example.com")
    git(path, "config", "user.name", "Ada Lovelace")
    git(path, "config", "commit.gpgsign", "false")
    git(path, "remote", "add", "origin", str(origin))
    (path / ".gitignore").write_text(".mlops/\n")
    if examples:
        shutil.copytree(PROJECT / "mlops", path / "mlops")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "Add the example definitions")
    git(path, "push", "-q", "origin", "main")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with the example definitions committed and pushed to origin."""
    return init_repo(tmp_path / "repo")


Runner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def mlops() -> Runner:
    """Run the ``mlops`` command: ``mlops("validate", cwd=repo)``."""

    def run(
        *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        full = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
        full.update(env or {})
        return subprocess.run(
            [str(MLOPS), *args], cwd=cwd, env=full, capture_output=True, text=True, timeout=timeout
        )

    return run
