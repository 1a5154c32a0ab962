"""The git seam: read definition files at a revision, resolve revisions, find authors.

This is the only module that imports gitpython. Everything above it sees plain values:
``{repository path: bytes}`` for files, hex SHAs for commits, and
:class:`~engine.errors.GitError` (a ``UserError``) for anything the user can fix, such as
a revision that a shallow clone has not fetched.

Files are read straight from git objects, never by checking a revision out: one
``git ls-tree -r`` lists the tree with each file's blob id, and one ``git cat-file
--batch`` reads the wanted blobs (:class:`Tree` reads only those asked for: a plan needs
few, since the parse cache knows the others by id). That works in a CI
clone made with ``fetch-depth: 1`` as long as the other commit was fetched too
(``git fetch --depth 1 origin <sha>``), and reads a few hundred files in milliseconds.

    >>> files = read_tree(Path("."), "origin/main")      # doctest: +SKIP
    >>> files["mlops/models/cancer-rf.yaml"][:20]        # doctest: +SKIP
    b'# yaml-language-ser'
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import (
    Callable,
    Generator,
    ItemsView,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
    ValuesView,
)
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.blobs import blob_id
from engine.errors import GitError, UserError

if TYPE_CHECKING:
    import git

WORKFLOWS = ".github/workflows/"
DEFAULT_PREFIXES = ("mlops/", WORKFLOWS)
"""The definitions, and the workflows (which pin the scikit-learn every version records)."""
DEFAULT_SUFFIXES = (".dvc",)
# Folders never worth walking for definitions or pointers: environments, caches, VCS data.
_SKIP_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__"})
_SKIP_PATHS = frozenset({".dvc/cache", ".dvc/tmp"})
_BLOB_MODES = (b"100644", b"100755")  # symlinks (120000) and submodules (160000) are skipped
_LINK_MODE = b"120000"  # ... but a symlink is listed in ``links``, so that it can be reported


@dataclass(frozen=True)
class Author:
    """Who wrote a commit."""

    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


def find_root(start: Path) -> Path:
    """The repository root: the nearest folder at or above ``start`` with ``.git`` or ``mlops/``."""
    start = start.resolve()
    if not start.is_dir():
        raise UserError(f"{start} is not a folder: pass --repo with the repository's root")
    for folder in (start, *start.parents):
        if (folder / ".git").exists() or (folder / "mlops").is_dir():
            return folder
    raise UserError(
        f"{start} is not inside a git repository: run mlops from your repository or pass --repo"
    )


def is_repo(root: Path) -> bool:
    """Whether ``root`` is the top folder of a git repository (one ``git rev-parse``)."""
    if not Path(root).is_dir():
        return False
    done = run_git(Path(root), "rev-parse", "--show-toplevel", check=False)
    top = done.stdout.strip()
    return done.returncode == 0 and bool(top) and Path(top).resolve() == Path(root).resolve()


def head_commit(root: Path) -> str:
    """The full SHA of the commit checked out at ``root``."""
    return resolve(root, "HEAD")


def is_clean(root: Path) -> bool:
    """Whether the working tree holds exactly the checked-out commit (no edit, no new file)."""
    done = run_git(root, "status", "--porcelain", "--untracked-files=normal", check=False)
    return done.returncode == 0 and not done.stdout.strip()


_COMMITS: set[tuple[str, str]] = set()
"""(repository, full SHA) of the commits this process has seen exist: a commit never
changes, so verifying it again (one ``git`` process each) is waste."""


def _seen(root: Path, sha: str) -> bool:
    return bool(_FULL_SHA.match(sha)) and (os.path.realpath(root), sha) in _COMMITS


def _saw(root: Path, sha: str) -> str:
    if _FULL_SHA.match(sha):
        _COMMITS.add((os.path.realpath(root), sha))
    return sha


def resolve(root: Path, rev: str) -> str:
    """The full SHA of the commit that ``rev`` (a branch, tag, SHA or expression) names."""
    if _seen(root, rev):
        return rev
    sha = resolve_quietly(root, rev)
    if sha is not None:
        return sha
    with _open(root) as repo:  # the slow path explains what is missing and how to fetch it
        return _resolve(repo, rev)


def commits(root: Path, revs: Sequence[str]) -> dict[str, str | None]:
    """The full SHA of the commit each of ``revs`` names, or None: one ``git`` process.

    ``git cat-file --batch-check`` reads every ``<rev>^{commit}`` as ``git rev-parse
    --verify`` would and answers ``missing`` for a name that is no commit, so this is
    :func:`commit_exists` (and :func:`resolve`'s fast path) for many names at once.
    """
    out: dict[str, str | None] = {}
    ask = []
    for rev in dict.fromkeys(revs):
        if _seen(root, rev):
            out[rev] = rev
        elif " " in rev or "\t" in rev:  # one line is one name: ask rev-parse alone
            out[rev] = resolve_quietly(root, rev)
        elif rev and not rev.startswith("-") and not any(c in rev for c in "\0\n\r"):
            ask.append(rev)
    if ask and Path(root).is_dir():
        args = ("cat-file", "--batch-check=%(objectname) %(objecttype)")
        done = run_git(
            Path(root), *args, stdin="".join(f"{r}^{{commit}}\n" for r in ask), check=False
        )
        lines = done.stdout.splitlines() if done.returncode == 0 else []
        for rev, line in zip(ask, lines + [""] * (len(ask) - len(lines)), strict=True):
            sha, _, kind = line.partition(" ")
            out[rev] = _saw(root, sha) if kind == "commit" and sha else None
    return {rev: out.get(rev) for rev in revs}


def commit_exists(root: Path, rev: str) -> bool:
    """Whether ``rev`` names a commit here: one ``git rev-parse``, no GitPython import."""
    return _seen(root, rev) or resolve_quietly(root, rev) is not None


def resolve_quietly(root: Path, rev: str) -> str | None:
    """The full SHA of the commit ``rev`` names, or None: one ``git rev-parse``."""
    safe = rev and not rev.startswith("-") and not any(c in rev for c in "\0\n\r")
    if not safe or not Path(root).is_dir():
        return None
    done = run_git(Path(root), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    sha = done.stdout.strip()
    return _saw(root, sha) if done.returncode == 0 and sha else None


def author_of(root: Path, sha: str) -> Author:
    """The author of commit ``sha`` (as recorded: no mailmap), without importing GitPython."""
    if _FULL_SHA.match(sha) and Path(root).is_dir():
        done = run_git(Path(root), "show", "-s", "--format=%an%x00%ae", sha, check=False)
        name, sep, email = done.stdout.rstrip("\n").partition("\0")
        if done.returncode == 0 and sep:
            return Author(name, email)
    with _open(root) as repo:  # the slow path explains a missing commit
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
    return dict(tree(root, rev, prefixes, suffixes).items())


def tree(
    root: Path,
    rev: str | None,
    prefixes: Sequence[str] = DEFAULT_PREFIXES,
    suffixes: Sequence[str] = DEFAULT_SUFFIXES,
) -> Mapping[str, bytes]:
    """:func:`read_tree`, but at a revision a :class:`Tree` that reads each blob when asked.

    A plan needs the bytes of few files at the base revision: the parse cache knows the
    others by their blob id, which the listing gives for free. Symbolic links are never
    read nor followed; the mapping's ``links`` names those under ``prefixes`` (a link to
    a folder included) or ending with ``suffixes``, so that a definition or a DVC pointer
    that is a link is reported, not lost.
    """
    if rev is None:
        return _read_worktree(Path(root), tuple(prefixes), tuple(suffixes))
    if _FULL_SHA.match(rev):  # a commit never changes: one listing per process is enough
        return _commit_tree(Path(root).resolve(), rev, tuple(prefixes), tuple(suffixes))
    return Tree(Path(root), *_list_rev(Path(root), rev, tuple(prefixes), tuple(suffixes)))


class Tree(Mapping[str, bytes]):
    """The files of one revision: path to content, each blob read from git on first use.

    ``ids`` holds every path's blob id (from ``git ls-tree``); :meth:`fetch` reads many
    blobs in one ``git cat-file --batch``. Iterating ``items()`` or ``values()`` reads
    all the blobs at once.
    """

    def __init__(self, root: Path, ids: dict[str, str], links: Sequence[str] = ()) -> None:
        self.root = root
        self.ids = ids
        self.links = tuple(links)
        """Paths under the prefixes that are symbolic links (skipped, never read)."""
        self._data: dict[str, bytes] = {}

    def __getitem__(self, path: str) -> bytes:
        if path not in self._data:
            if path not in self.ids:
                raise KeyError(path)
            self.fetch([path])
        return self._data[path]

    def __contains__(self, path: object) -> bool:
        return path in self.ids

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def fetch(
        self, paths: Iterable[str], each: Callable[[str, bytes], object] | None = None
    ) -> None:
        """Read the blobs of ``paths`` not read yet, in one git call.

        ``each(path, data)`` is called for every blob as soon as it is read, while git
        goes on reading the next ones.
        """
        wanted = [p for p in paths if p not in self._data and p in self.ids]
        if not wanted:
            return
        blobs = stream_blobs(self.root, [self.ids[p] for p in wanted])
        try:
            for path, blob in zip(wanted, blobs, strict=True):
                if blob is None:  # an object the clone lacks: say which file, not a KeyError
                    raise GitError(
                        f"git object {self.ids[path]} of {path} is missing from the "
                        f"repository at {self.root}: fetch the revision again "
                        "(`git fetch origin`)"
                    )
                self._data[path] = blob
                if each is not None:
                    each(path, blob)
        finally:
            blobs.close()  # git stopped at once if this stopped early

    def items(self) -> ItemsView[str, bytes]:
        self.fetch(self.ids)
        return {path: self._data[path] for path in self.ids}.items()

    def values(self) -> ValuesView[bytes]:
        return {path: blob for path, blob in self.items()}.values()


_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")


_TREES: dict[tuple[Path, str, tuple[str, ...], tuple[str, ...]], Tree] = {}
"""The listings of commits this process read (a commit never changes), by repository,
SHA and filter."""


def _commit_tree(
    root: Path, sha: str, prefixes: tuple[str, ...], suffixes: tuple[str, ...]
) -> Tree:
    key = (root, sha, prefixes, suffixes)
    if key not in _TREES:
        if len(_TREES) >= 64:  # a long-lived process (the tests) keeps the newest
            del _TREES[next(iter(_TREES))]
        _TREES[key] = Tree(root, *_list_rev(root, sha, prefixes, suffixes))
    return _TREES[key]


def is_full_sha(text: str) -> bool:
    """Whether ``text`` is a full (40 hex digits, lower case) SHA."""
    return bool(_FULL_SHA.match(text))


def commit_tree(
    root: Path,
    sha: str,
    prefixes: Sequence[str] = DEFAULT_PREFIXES,
    suffixes: Sequence[str] = DEFAULT_SUFFIXES,
) -> Tree | None:
    """:func:`tree` of commit ``sha`` (a full SHA), or None when there is no such commit.

    One ``git ls-tree`` that checks the commit as it lists it (``<sha>^{commit}``), where
    :func:`tree` of a commit not seen yet first asks ``git`` whether it is one.
    """
    root = Path(root).resolve()
    key = (root, sha, tuple(prefixes), tuple(suffixes))
    if key in _TREES or _seen(root, sha):
        return _commit_tree(*key)
    if not _FULL_SHA.match(sha) or not root.is_dir():
        return None
    args = ("ls-tree", "-r", "-z", "--full-tree", f"{sha}^{{commit}}")
    listing = subprocess.run(
        _git_command(args), cwd=root, env=_git_env(None), capture_output=True, check=False
    )
    if listing.returncode != 0:
        return None  # not a commit here: the callers' slow paths explain why
    # (not remembered as a commit: the id of a tag that points to one lists that commit too)
    _TREES[key] = Tree(root, *_list_blobs(listing.stdout, key[2], key[3]))
    return _TREES[key]


def _list_rev(
    root: Path, rev: str, prefixes: tuple[str, ...], suffixes: tuple[str, ...]
) -> tuple[dict[str, str], list[str]]:
    # Plain git: ls-tree lists every path with its blob id (the blobs are read on demand).
    sha = resolve(root, rev)
    args = ("ls-tree", "-r", "-z", "--full-tree", sha)
    listing = subprocess.run(
        _git_command(args), cwd=root, env=_git_env(None), capture_output=True, check=False
    )
    if listing.returncode != 0:
        raise command_failed(Path(root), args, listing.stderr.decode("utf-8", "replace"))
    return _list_blobs(listing.stdout, prefixes, suffixes)


def _open(root: Path) -> git.Repo:
    import git
    from git.exc import InvalidGitRepositoryError, NoSuchPathError

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
    from git.exc import GitCommandError

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
    listing: bytes, prefixes: tuple[str, ...], suffixes: tuple[str, ...]
) -> tuple[dict[str, str], list[str]]:
    """The wanted files' blob ids, and the symbolic links under ``prefixes`` or ending
    with ``suffixes``."""
    # -z: paths come verbatim (no quoting of unusual characters); --full-tree: from the root.
    out: dict[str, str] = {}
    links: list[str] = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        mode, kind, hexsha = meta.split(b" ")
        if kind != b"blob" or mode not in _BLOB_MODES:
            if mode == _LINK_MODE:
                path = raw_path.decode("utf-8", "surrogateescape")
                # a link to a folder of them too; a linked pointer (*.dvc) is reported too
                if f"{path}/".startswith(prefixes) or path.endswith(suffixes):
                    links.append(path)
            continue
        path = raw_path.decode("utf-8", "surrogateescape")
        if path.startswith(prefixes) or path.endswith(suffixes):
            out[path] = hexsha.decode("ascii")
    return out, links


class Files(dict[str, bytes]):
    """The files of the working tree (path to content), and the links skipped among them."""

    links: tuple[str, ...] = ()


def _read_worktree(
    root: Path, prefixes: tuple[str, ...], suffixes: tuple[str, ...]
) -> Files | Tree:
    """The files on disk under ``prefixes`` or ending in ``suffixes``, and the links among them.

    The walk decides which files there are. git says which of them are the commit checked
    out's, unchanged (``git status``, by its index's file stats, as ``git commit -a``
    trusts it): those are read from git's objects when asked for, under that commit's blob
    ids (a plan or a validation of a checkout reads few, since the parse cache knows the
    others by id), and only the others from disk. Every file is read from disk when git
    cannot vouch that a file it calls unchanged holds the commit's bytes: no repository
    here (a folder inside one, no commit yet), attributes that convert files on checkout
    (``.gitattributes``: filters, line endings, ``ident``; ``core.autocrlf``), or index
    flags that make git look away (assume-unchanged, skip-worktree, ``core.ignoreStat``).
    """
    if not root.is_dir():
        raise GitError(f"{root} is not a folder: pass --repo with the repository's root")
    git = _GitView.start(root, prefixes, suffixes)
    paths: list[str] = []
    links: list[str] = []
    converted = False  # a .gitattributes file may convert what a checkout writes
    try:
        for path, link in _walk(root, ""):
            if path == ".gitattributes" or path.endswith("/.gitattributes"):
                converted = True
            if link:
                if f"{path}/".startswith(prefixes) or path.endswith(suffixes):
                    links.append(path)
            elif path.startswith(prefixes) or path.endswith(suffixes):
                paths.append(path)
    except BaseException:
        if git is not None:
            git.stop()
        raise
    paths.sort()
    links.sort()
    committed = git.committed() if git is not None and not converted else None
    if git is not None:
        git.stop()
    base = os.fspath(root)
    head_ids, changed = committed or ({}, set())
    ids: dict[str, str] = {}
    read: dict[str, bytes] = {}
    for path in paths:
        blob = head_ids.get(path)
        if blob is None or path in changed:  # new, ignored or edited: its bytes on disk
            try:
                read[path] = _read_file(os.path.join(base, path))
            except FileNotFoundError:  # gone since the walk (an editor's swap file)
                continue
            blob = blob_id(read[path])
        ids[path] = blob
    if committed is None:
        out = Files(read)
        out.links = tuple(links)
        return out
    tree = Tree(root, ids, links)
    tree._data.update(read)
    return tree


class _GitView:
    """What git says of the working tree against the commit checked out: three ``git``
    processes started together, while the caller walks the folders."""

    def __init__(
        self,
        root: Path,
        filters: tuple[tuple[str, ...], tuple[str, ...]],
        procs: Sequence[subprocess.Popen[bytes]],
    ) -> None:
        self.root, self.filters = root, filters
        self.status, self.flags, self.config = procs

    @classmethod
    def start(
        cls, root: Path, prefixes: tuple[str, ...], suffixes: tuple[str, ...]
    ) -> _GitView | None:
        """None outside a repository's top folder (``--repo`` names it), or with a
        repository-wide attributes file, or without git."""
        git_dir = os.path.join(root, ".git")
        if not os.path.isdir(git_dir) or os.path.exists(
            os.path.join(git_dir, "info", "attributes")
        ):
            return None  # (a linked worktree's .git is a file: read from disk)
        xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
        if os.path.exists(os.path.join(xdg, "git", "attributes")):
            return None
        specs = [f":(top,literal){prefix}" for prefix in prefixes]
        specs += [f":(top,glob)**/*{suffix}" for suffix in suffixes]
        if any(c in suffix for suffix in suffixes for c in "*?[]\\"):
            specs = []  # a suffix with glob characters: every tracked file
        # git never looks above root for a repository (an empty .git folder there)
        env = {**_git_env(None), "GIT_CEILING_DIRECTORIES": os.fspath(root.resolve().parent)}
        commands = (
            # porcelain v2: a stable format, with the commit compared against (--branch);
            # no untracked or ignored files (the walk finds them); the index is not written
            (
                *("--no-optional-locks", "-c", "core.fsmonitor=false", "status"),
                *("--porcelain=v2", "-z", "--branch", "--no-ahead-behind"),
                *("--untracked-files=no", "--no-renames", "--ignore-submodules=none", "--", *specs),
            ),
            ("ls-files", "-v", "-z", "--", *specs),  # the index's flags, by path
            ("config", "-z", "--get-regexp", r"^core\.(autocrlf|attributesfile|ignorestat)$"),
        )
        procs: list[subprocess.Popen[bytes]] = []
        try:
            for args in commands:
                procs.append(
                    subprocess.Popen(
                        _git_command(args),
                        cwd=root,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL,
                    )
                )
        except OSError:  # no git: every file is read from disk
            for proc in procs:
                proc.kill()
                proc.wait()
            return None
        return cls(root, (prefixes, suffixes), procs)

    def stop(self) -> None:
        """End the three processes (those still running killed) and close their pipes."""
        for proc in (self.status, self.flags, self.config):
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()

    def committed(self) -> tuple[dict[str, str], set[str]] | None:
        """The blob ids of the commit checked out (under the prefixes and suffixes) and
        the paths to read from disk anyway; None when git cannot vouch for the others."""
        config, _ = self.config.communicate()
        if self.config.returncode not in (0, 1):  # (1: none of these keys is set)
            return None
        for record in config.split(b"\0"):
            _, _, value = record.partition(b"\n")
            if record and value.strip().lower() not in (b"false", b"no", b"off", b"0"):
                return None  # autocrlf, an attributes file, or stats git ignores
        flags, _ = self.flags.communicate()
        status, _ = self.status.communicate()
        if self.flags.returncode != 0 or self.status.returncode != 0:
            return None
        changed: set[str] = set()
        for record in flags.split(b"\0"):
            if record and record[:2] != b"H ":  # assume-unchanged (lower case), skip-worktree
                changed.add(record[2:].decode("utf-8", "surrogateescape"))
        head = _changed(status, changed)
        if head is None:
            return None
        _saw(self.root, head)
        return _commit_tree(self.root.resolve(), head, *self.filters).ids, changed


def _changed(status: bytes, changed: set[str]) -> str | None:
    """The commit ``git status`` compared against (porcelain v2), the paths it reports
    added to ``changed``; None if there is no commit or a line this does not know."""
    records = iter(status.split(b"\0"))
    head: str | None = None
    for record in records:
        if not record:
            continue
        kind = record[:2]
        if record.startswith(b"# branch.oid "):
            head = record[13:].decode("ascii", "replace")
        elif kind == b"1 ":  # 1 XY sub mH mI mW hH hI path
            changed.add(record.split(b" ", 8)[8].decode("utf-8", "surrogateescape"))
        elif kind == b"u ":  # u XY sub m1 m2 m3 mW h1 h2 h3 path
            changed.add(record.split(b" ", 10)[10].decode("utf-8", "surrogateescape"))
        elif kind == b"2 ":  # (renames are off) 2 XY ... score path, then the old path
            changed.add(record.split(b" ", 9)[9].decode("utf-8", "surrogateescape"))
            changed.add(next(records, b"").decode("utf-8", "surrogateescape"))
        elif not record.startswith(b"# "):
            return None
    return head if head is not None and _FULL_SHA.match(head) else None  # "(initial)"


def _read_file(path: str) -> bytes:
    # os.read, not open() or Path.read_bytes: thousands of small files, and the buffered
    # file object (or a path object) per file cost a third of the read
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _walk(root: Path, rel: str) -> Iterator[tuple[str, bool]]:
    # Symlinks are not followed, as in read_tree at a revision (git stores them as link
    # text): the working tree and a commit then agree, and nothing outside the repository
    # is read. They are given as (path, True), so that the caller can report them.
    # A folder that DVC tracks (``images/`` beside ``images.dvc``) holds data, which git
    # ignores: not walked (a dataset of a million images would cost seconds every plan).
    with os.scandir(root / rel if rel else root) as it:
        entries = list(it)
    names = {entry.name for entry in entries}
    for entry in entries:
        path = f"{rel}/{entry.name}" if rel else entry.name
        if entry.is_symlink():
            yield path, True
        elif entry.is_dir():
            if entry.name in _SKIP_DIRS or path in _SKIP_PATHS:
                continue
            if f"{entry.name}.dvc" in names:
                continue
            yield from _walk(root, path)
        elif entry.is_file():
            yield path, False


__all__ = [
    "WORKFLOWS",
    "Author",
    "Files",
    "Tree",
    "author_of",
    "commit_exists",
    "commit_tree",
    "head_commit",
    "is_full_sha",
    "is_repo",
    "read_tree",
    "resolve",
    "tree",
]


# --- Writing: git as a subprocess, for the commands that change refs -----------------------
# gitpython adds nothing to merge, commit, push and worktree but a layer to debug; these run
# the real ``git`` with an environment fit for a bot: no hooks (the user's pre-commit or
# pre-push hooks are theirs, not the engine's), no credential prompts (a CI job would hang),
# C-locale messages (so callers can read them), no signing, no auto-gc, no LFS downloads.

_HERMETIC = (
    ("core.hooksPath", os.devnull),
    ("commit.gpgSign", "false"),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    ("advice.detachedHead", "false"),
)
# Variables that would point git at another repository, index or object store.
_REDIRECTS = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
    }
)


def run_git(
    cwd: Path,
    *args: str,
    stdin: str | None = None,
    check: bool = True,
    identity: Author | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``git args`` in ``cwd`` hermetically; a failure raises GitError unless ``check=False``.

    ``identity`` sets both author and committer (the engine commits as itself).
    """
    done = subprocess.run(
        _git_command(args),
        cwd=cwd,
        env=_git_env(identity),
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        check=False,
    )
    if check and done.returncode != 0:
        raise command_failed(cwd, args, done.stderr or done.stdout)
    return done


def read_blobs(root: Path, names: Sequence[str]) -> list[bytes | None]:
    """The content of each ``<rev>:<path>`` in ``names`` (None where absent), in one git call."""
    return list(stream_blobs(root, names))


def stream_blobs(root: Path, names: Sequence[str]) -> Generator[bytes | None, None, None]:
    """:func:`read_blobs`, each blob given as soon as git has written it.

    The caller works on one blob (parses it) while git reads the next ones: on two cores
    the two overlap. git is fed the names from a thread, so neither side waits for the
    other's pipe to drain.
    """
    if not names:
        return
    if any("\n" in name for name in names):
        raise GitError("an object name holds a line break")
    # --buffer: git writes its output in blocks, not one flush per object
    args = ("cat-file", "--batch", "--buffer")
    proc = subprocess.Popen(
        _git_command(args),
        cwd=root,
        env=_git_env(None),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    errors: list[bytes] = []
    feeder = threading.Thread(
        target=_feed,
        args=(proc, "".join(f"{name}\n" for name in names).encode(), errors),
        daemon=True,
    )
    feeder.start()
    finished = truncated = False
    try:
        reader = _Chunks(proc.stdout.fileno())
        for _ in names:
            header = reader.line().split(b" ")
            if len(header) != 3 or header[1] != b"blob":  # "<name> missing", a tree, ambiguous
                if len(header) == 3:
                    reader.take(int(header[2]) + 1)
                yield None
                continue
            yield reader.take(int(header[2]) + 1)[:-1]
        finished = True
    except _Truncated:
        truncated = True  # git stopped early: its exit status and message say why, below
    finally:
        if not finished and not truncated:
            proc.kill()  # the caller stopped reading (an error, or it had enough)
        proc.stdout.close()
        code = proc.wait()
        feeder.join()
    if code != 0 or truncated:
        raise command_failed(root, args, b"".join(errors).decode("utf-8", "replace"))


def _feed(proc: subprocess.Popen[bytes], request: bytes, errors: list[bytes]) -> None:
    """Write the names to git, then collect what it says on stderr."""
    assert proc.stdin is not None and proc.stderr is not None
    try:
        proc.stdin.write(request)
        proc.stdin.close()
    except OSError:
        pass  # git exited early; its status tells
    errors.append(proc.stderr.read())
    proc.stderr.close()


class _Truncated(Exception):
    """git's output ended before the objects asked for."""


class _Chunks:
    """A pipe read in large chunks, handed out as lines and counted bytes."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buf, self.pos = fd, bytearray(), 0

    def _more(self) -> None:
        if self.pos > 1 << 20:  # drop what was handed out, now and then
            del self.buf[: self.pos]
            self.pos = 0
        chunk = os.read(self.fd, 1 << 18)
        if not chunk:
            raise _Truncated
        self.buf += chunk

    def line(self) -> bytes:
        while (end := self.buf.find(b"\n", self.pos)) < 0:
            self._more()
        out = bytes(self.buf[self.pos : end])
        self.pos = end + 1
        return out

    def take(self, size: int) -> bytes:
        while len(self.buf) - self.pos < size:
            self._more()
        out = bytes(self.buf[self.pos : self.pos + size])
        self.pos += size
        return out


def _git_command(args: Sequence[str]) -> list[str]:
    return ["git", *[item for key, value in _HERMETIC for item in ("-c", f"{key}={value}")], *args]


def _git_env(identity: Author | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _REDIRECTS}
    env.update(LC_ALL="C", GIT_TERMINAL_PROMPT="0", GCM_INTERACTIVE="never")
    env["GIT_LFS_SKIP_SMUDGE"] = "1"
    if identity is not None:
        for role in ("AUTHOR", "COMMITTER"):
            env[f"GIT_{role}_NAME"] = identity.name
            env[f"GIT_{role}_EMAIL"] = identity.email
    return env


def command_failed(cwd: Path, args: Sequence[str], output: str) -> GitError:
    """A failed git command as a GitError: the command, where, and its last lines."""
    detail = output.strip().splitlines()
    return GitError(f"`git {args[0]}` failed in {cwd}: {' / '.join(detail[-3:]) or 'no output'}")


__all__ += [
    "command_failed",
    "read_blobs",
    "run_git",
    "stream_blobs",
]
