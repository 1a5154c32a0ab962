"""Shared fixtures: real git repositories with a bare origin, and the CLI as a subprocess.

``repo`` gives a fresh repository holding this project's own example definitions,
committed on ``main`` and pushed to a bare ``origin``; ``mlops(...)`` runs the real
command in it, with the environment a user would have, in a process of its own forked
by :mod:`tests.forkserver` (which imported the third-party libraries once;
``MLOPS_TEST_EXEC=1`` exec's the console script instead).

A repository that takes several ``mlops`` runs to prepare (trained, promoted) is built
once per worker or module and copied per test with :func:`copy_prepared`
(``iris_staged``, ``two_staged_template``): the commands that build it are the real ones,
and the tests still run theirs in a repository of their own.
"""

from __future__ import annotations

import csv
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

from tests import forkserver

PROJECT = Path(__file__).resolve().parents[1]
MLOPS = Path(sys.executable).parent / "mlops"


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd``; return its stdout."""
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def unseal_pin(repo: Path, model: str, env: str = "staging") -> None:
    """Push ``model``'s pin on ``env/<env>`` without the model file's sha256, as engines
    before pins recorded it wrote them; ``repo`` is back on main after."""
    path = f"mlops/deployments/{model}.yaml"
    git(repo, "switch", "-q", "-C", f"env/{env}", f"origin/env/{env}")
    text = (repo / path).read_text()
    kept = [line for line in text.splitlines(True) if "sha256" not in line]
    (repo / path).write_text("".join(kept))
    git(repo, "commit", "-q", "-am", "A pin written by an older engine")
    git(repo, "push", "-q", "origin", f"env/{env}")
    git(repo, "switch", "-q", "main")


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    """``rows`` as a CSV file with a header (the first row's keys), folders made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


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


def _ignore_dvc_tmp(folder: str, names: list[str]) -> list[str]:
    """DVC's state (hashes by inode) stays behind: the copy's files have other inodes."""
    return ["tmp"] if Path(folder).name == ".dvc" and "tmp" in names else []


def copy_prepared(template: Path, dest: Path) -> None:
    """Copy everything a fixture prepared in ``template`` (a repository, its bare origin, a
    DVC remote, its store under ``.mlops``) into the folder ``dest``.

    Building a trained, promoted repository runs ``mlops`` several times; a test that
    changes one takes a copy instead (``shutil.copytree``, seconds fewer per test). The
    copies' ``origin`` remotes are re-pointed into ``dest``; a DVC remote must be given by
    a relative path (``mlops init --remote ../NAME``) so that the copy uses its own.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for entry in sorted(template.iterdir()):
        if entry.is_dir():
            shutil.copytree(entry, dest / entry.name, symlinks=True, ignore=_ignore_dvc_tmp)
        else:
            shutil.copy2(entry, dest / entry.name)
    for entry in sorted(dest.iterdir()):
        if (entry / ".git").is_dir():
            url = subprocess.run(
                ["git", "config", "--get", "remote.origin.url"],
                cwd=entry, capture_output=True, text=True,
            ).stdout.strip()  # fmt: skip
            if url.startswith(f"{template}/"):
                git(entry, "remote", "set-url", "origin", str(dest / url[len(f"{template}/") :]))
            assert not (entry / ".git" / "worktrees").exists(), "prune worktrees first"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with the example definitions committed and pushed to origin."""
    return init_repo(tmp_path / "repo")


def build_with_mlops(folder: Path, *commands: tuple[str, ...]) -> Path:
    """``folder/repo`` (the examples, pushed to ``folder/repo-origin.git``) after running
    each of ``commands`` with the real ``mlops``; returns ``folder``."""
    repo = init_repo(folder / "repo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    for args in commands:
        done = forkserver.run(args, cwd=repo, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
    return folder


@pytest.fixture(scope="session")
def iris_staged_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once per worker: ``repo`` (the examples) with iris-logreg trained on main and
    promoted to staging by the real commands, and ``repo-origin.git``. Never changed:
    tests take a copy (``iris_staged``)."""
    return build_with_mlops(
        tmp_path_factory.mktemp("iris-staged"),
        ("train", "iris-logreg"),
        ("promote", "iris-logreg", "--to", "staging"),
    )


@pytest.fixture(scope="session")
def two_staged_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once per worker: ``repo`` with iris-logreg (a classifier) and diabetes-ridge
    (a regression) trained and promoted to staging, and its origin. Tests copy it."""
    return build_with_mlops(
        tmp_path_factory.mktemp("two-staged"),
        ("train", "iris-logreg", "diabetes-ridge"),
        ("promote", "iris-logreg", "--to", "staging"),
        ("promote", "diabetes-ridge", "--to", "staging"),
    )


@pytest.fixture
def iris_staged(iris_staged_template: Path, tmp_path: Path) -> Path:
    """A copy of ``iris_staged_template`` in ``tmp_path``: ``repo`` (returned) and its origin."""
    copy_prepared(iris_staged_template, tmp_path)
    return tmp_path / "repo"


Runner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def mlops() -> Runner:
    """Run the ``mlops`` command: ``mlops("validate", cwd=repo)``."""

    def run(
        *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        full = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
        full.update(env or {})
        return forkserver.run(args, cwd=cwd, env=full, timeout=timeout)

    return run


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules with ``slow`` tests first, each kept together.

    ``pytest -n 2`` runs with ``--dist loadfile`` (pyproject.toml): a module's tests go to
    one worker, so a module-scoped fixture is built once, and the modules are handed out
    in this order: the long ones start first, the thousand quick tests come last and fill
    whichever worker is free, so both finish together.
    """
    slow = {getattr(item, "module", None) for item in items if item.get_closest_marker("slow")}
    order = {id(item): n for n, item in enumerate(items)}
    items.sort(key=lambda item: (getattr(item, "module", None) not in slow, order[id(item)]))
