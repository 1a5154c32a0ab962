"""The git seam: read definition files at a revision, resolve revisions, find authors.

This is the only module that imports gitpython. Everything above it sees plain values:
``{repository path: bytes}`` for files, hex SHAs for commits, and
:class:`~engine.errors.GitError` (a ``UserError``) for anything the user can fix, such as
a revision that a shallow clone has not fetched.

Files are read straight from git objects, never by checking a revision out: one
``git ls-tree -r`` lists the tree, and gitpython's object database streams the wanted
blobs through a single long-lived ``git cat-file --batch`` process. That works in a CI
clone made with ``fetch-depth: 1`` as long as the other commit was fetched too
(``git fetch --depth 1 origin <sha>``), and reads a few hundred files in milliseconds.

    >>> files = read_tree(Path("."), "origin/main")      # doctest: +SKIP
    >>> files["mlops/models/cancer-rf.yaml"][:20]        # doctest: +SKIP
    b'# yaml-language-ser'
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import git
from git.exc import GitCommandError, InvalidGitRepositoryError, NoSuchPathError

from engine.errors import GitError

DEFAULT_PREFIXES = ("mlops/",)
DEFAULT_SUFFIXES = (".dvc",)
# Folders never worth walking for definitions or pointers: environments, caches, VCS data.
_SKIP_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__"})
_SKIP_PATHS = frozenset({".dvc/cache", ".dvc/tmp"})
_BLOB_MODES = (b"100644", b"100755")  # symlinks (120000) and submodules (160000) are skipped


@dataclass(frozen=True)
class Author:
    """Who wrote a commit."""

    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


def is_repo(root: Path) -> bool:
    """Whether ``root`` is the top folder of a git repository."""
    try:
        repo = git.Repo(root)
    except (InvalidGitRepositoryError, NoSuchPathError):
        return False
    with repo:
        top = repo.working_tree_dir
        return top is not None and Path(top).resolve() == Path(root).resolve()


def head_commit(root: Path) -> str:
    """The full SHA of the commit checked out at ``root``."""
    return resolve(root, "HEAD")


def resolve(root: Path, rev: str) -> str:
    """The full SHA of the commit that ``rev`` (a branch, tag, SHA or expression) names."""
    with _open(root) as repo:
        return _resolve(repo, rev)


def author_of(root: Path, sha: str) -> Author:
    """The author of commit ``sha``."""
    with _open(root) as repo:
        commit = repo.commit(_resolve(repo, sha))
        return Author(commit.author.name or "", commit.author.email or "")


def merge_base(root: Path, a: str, b: str) -> str:
    """The best common ancestor of revisions ``a`` and ``b``."""
    with _open(root) as repo:
        left, right = _resolve(repo, a), _resolve(repo, b)
        bases = repo.merge_base(left, right)
        if not bases:
            raise GitError(f"{a} and {b} share no history: pass --base REV explicitly")
        return str(bases[0].hexsha)


def read_tree(
    root: Path,
    rev: str | None,
    prefixes: Sequence[str] = DEFAULT_PREFIXES,
    suffixes: Sequence[str] = DEFAULT_SUFFIXES,
) -> dict[str, bytes]:
    """Every file under ``prefixes`` plus every file ending in ``suffixes``, at ``rev``.

    Keys are repository paths with ``/`` separators. With ``rev=None`` the files come
    from the working tree (uncommitted edits included), otherwise from git's objects.
    """
    if rev is None:
        return _read_worktree(Path(root), tuple(prefixes), tuple(suffixes))
    with _open(root) as repo:
        sha = _resolve(repo, rev)
        wanted = _list_blobs(repo, sha, tuple(prefixes), tuple(suffixes))
        # Each read is one round trip to the same cat-file --batch process.
        return {path: repo.odb.stream(binsha).read() for path, binsha in wanted}


def _open(root: Path) -> git.Repo:
    try:
        return git.Repo(root)
    except NoSuchPathError:
        raise GitError(f"{root} does not exist: pass --repo with the repository's root") from None
    except InvalidGitRepositoryError:
        raise GitError(
            f"{root} is not a git repository: run `git init` there, or pass --repo "
            "with the repository's root"
        ) from None


def _resolve(repo: git.Repo, rev: str) -> str:
    # A leading dash would be read as an option (git before 2.30 has no --end-of-options).
    if not rev or rev.startswith("-") or any(c in rev for c in "\0\n\r"):
        raise GitError(f"{rev!r} is not a revision: name a branch, tag or commit SHA")
    try:
        return str(repo.git.rev_parse("--verify", "--quiet", f"{rev}^{{commit}}")).strip()
    except GitCommandError:
        pass
    if any(c in rev for c in "~^@:"):  # an expression: the history it walks may be missing
        hint = "fetch more history with `git fetch --deepen 50 origin`"
    else:
        hint = f"fetch it with `git fetch origin {rev}`"
    try:
        shallow = repo.git.rev_parse("--is-shallow-repository").strip() == "true"
    except GitCommandError:
        shallow = False
    if shallow and "git fetch origin" in hint:
        hint += f" (this clone is shallow: `git fetch --depth 1 origin {rev}` is enough)"
    if rev == "HEAD":
        raise GitError(f"{repo.working_tree_dir} has no commits yet: commit the definitions first")
    raise GitError(
        f"revision {rev!r} is not in the repository at {repo.working_tree_dir}: "
        f"{hint}, or check the name"
    )


def _list_blobs(
    repo: git.Repo, sha: str, prefixes: tuple[str, ...], suffixes: tuple[str, ...]
) -> list[tuple[str, bytes]]:
    # -z: paths come verbatim (no quoting of unusual characters); --full-tree: from the root.
    listing = repo.git.ls_tree("-r", "-z", "--full-tree", sha, stdout_as_string=False)
    out: list[tuple[str, bytes]] = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        mode, kind, hexsha = meta.split(b" ")
        if kind != b"blob" or mode not in _BLOB_MODES:
            continue
        path = raw_path.decode("utf-8", "surrogateescape")
        if path.startswith(prefixes) or path.endswith(suffixes):
            out.append((path, bytes.fromhex(hexsha.decode("ascii"))))
    return out


def _read_worktree(
    root: Path, prefixes: tuple[str, ...], suffixes: tuple[str, ...]
) -> dict[str, bytes]:
    if not root.is_dir():
        raise GitError(f"{root} is not a folder: pass --repo with the repository's root")
    files: dict[str, bytes] = {}
    for path in _walk(root, ""):
        if path.startswith(prefixes) or path.endswith(suffixes):
            files[path] = (root / path).read_bytes()
    return dict(sorted(files.items()))


def _walk(root: Path, rel: str) -> Iterator[str]:
    # Symlinks are skipped, as in read_tree at a revision (git stores them as link text):
    # the working tree and a commit then agree, and nothing outside the repository is read.
    with os.scandir(root / rel if rel else root) as it:
        for entry in it:
            path = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_symlink():
                continue
            if entry.is_dir():
                if entry.name not in _SKIP_DIRS and path not in _SKIP_PATHS:
                    yield from _walk(root, path)
            elif entry.is_file():
                yield path


__all__ = ["Author", "author_of", "head_commit", "is_repo", "read_tree", "resolve"]
