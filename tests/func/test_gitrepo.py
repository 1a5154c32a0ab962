"""The git seam against real repositories: reading trees, revisions, shallow clones."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from engine.errors import GitError
from engine.gitrepo import (
    Author,
    Tree,
    author_of,
    commit_exists,
    commit_tree,
    commits,
    head_commit,
    is_repo,
    read_blobs,
    read_tree,
    resolve,
    stream_blobs,
    tree,
)

ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Ada Lovelace",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "CI",
    "GIT_COMMITTER_EMAIL": "ci@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(root: Path, *args: str) -> str:
    """Run git in ``root`` with a fixed identity and no user configuration."""
    done = subprocess.run(
        ["git", *args], cwd=root, env=ENV, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def commit(root: Path, files: dict[str, str | None], message: str = "change") -> str:
    """Write (or, for None, delete) ``files``, commit them all, return the new SHA."""
    for path, text in files.items():
        target = root / path
        if text is None:
            target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    return root


FIRST = {
    "README.md": "# readme\n",
    "mlops/project.yaml": "store: {url: .mlops/store}\n",
    "mlops/models/a.yaml": "name: a\n",
    "data/churn.csv": "x,y\n1,2\n",
    "data/churn.csv.dvc": "outs:\n- md5: 1\n  path: churn.csv\n",
    "deep/er/images.dvc": "outs:\n- md5: 2\n  path: images\n",
    "src/train.py": "print('hi')\n",
}
WANTED = {"mlops/project.yaml", "mlops/models/a.yaml", "data/churn.csv.dvc", "deep/er/images.dvc"}


def test_read_tree_at_a_revision_reads_definitions_and_pointers_only(repo):
    sha = commit(repo, FIRST)
    files = read_tree(repo, sha)
    assert set(files) == WANTED
    assert files["mlops/models/a.yaml"] == b"name: a\n"
    assert read_tree(repo, "main") == files == read_tree(repo, "HEAD")


def test_read_tree_reads_the_revision_not_the_working_tree(repo):
    first = commit(repo, FIRST)
    commit(repo, {"mlops/models/a.yaml": "name: a\ndataset: x\n", "mlops/models/b.yaml": "b\n"})
    (repo / "mlops/models/a.yaml").write_text("uncommitted\n")
    old = read_tree(repo, first)
    assert old["mlops/models/a.yaml"] == b"name: a\n" and "mlops/models/b.yaml" not in old
    assert read_tree(repo, "HEAD")["mlops/models/a.yaml"] == b"name: a\ndataset: x\n"
    assert read_tree(repo, None)["mlops/models/a.yaml"] == b"uncommitted\n"


def test_read_tree_of_the_working_tree_matches_the_commit_and_skips_tool_folders(repo):
    sha = commit(repo, FIRST)
    assert read_tree(repo, None) == read_tree(repo, sha)
    for junk in (".venv/lib/x.dvc", ".dvc/cache/files/md5/ab.dvc", "node_modules/m.dvc"):
        (repo / junk).parent.mkdir(parents=True, exist_ok=True)
        (repo / junk).write_text("junk\n")
    (repo / "mlops/models/new.yaml").write_text("untracked\n")
    files = read_tree(repo, None)
    assert set(files) == WANTED | {"mlops/models/new.yaml"}


def test_a_folder_dvc_tracks_is_data_and_not_walked(repo):
    # `dvc add deep/er/images` wrote images.dvc and git-ignores images/: whatever lies in
    # it (a million pictures, even a file ending in .dvc) is data, not a pointer
    sha = commit(repo, FIRST)
    images = repo / "deep/er/images"
    for i in range(3):
        (images / f"c{i}").mkdir(parents=True)
        (images / f"c{i}" / "0.jpg").write_bytes(b"jpg")
    (images / "c0" / "odd.dvc").write_text("outs:\n- md5: 3\n  path: x\n")
    (repo / "deep/er/other").mkdir()
    (repo / "deep/er/other/plain.dvc").write_text("outs:\n- md5: 4\n  path: y\n")
    files = read_tree(repo, None)
    assert set(files) == WANTED | {"deep/er/other/plain.dvc"}
    assert {p: v for p, v in files.items() if p in WANTED} == read_tree(repo, sha)


def test_symlinks_are_skipped_at_a_revision_and_in_the_working_tree(repo, tmp_path):
    secret = tmp_path / "secret.yaml"
    secret.write_text("outside\n")
    (repo / "mlops").mkdir()
    (repo / "mlops/link.yaml").symlink_to(secret)
    sha = commit(repo, FIRST)
    assert "mlops/link.yaml" not in read_tree(repo, sha)
    assert "mlops/link.yaml" not in read_tree(repo, None)
    # ... but listed, so that a definition that is a link can be reported
    assert tree(repo, sha).links == tree(repo, None).links == ("mlops/link.yaml",)  # type: ignore[attr-defined]


def test_the_working_tree_is_read_from_disk_only_where_git_finds_it_changed(
    repo, tmp_path, monkeypatch
):
    # the engine's git sees no user or system configuration (an autocrlf there would
    # rightly send every file to the disk)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("XDG_CONFIG_HOME", os.fspath(tmp_path / "xdg"))
    sha = commit(repo, {**FIRST, "mlops/models/b.yaml": "name: b\n", "mlops/models/c.yaml": "c\n"})
    clean = tree(repo, None)
    # a checkout as CI has it: every file is the commit's, read from git when asked for
    assert isinstance(clean, Tree) and clean._data == {}
    assert clean.ids == commit_tree(repo, sha).ids
    assert dict(clean.items()) == read_tree(repo, sha)

    (repo / "mlops/models/a.yaml").write_text("name: z\n")  # same size, same second
    (repo / "mlops/models/b.yaml").write_text("name: b\ndataset: d\n")
    git(repo, "add", "mlops/models/b.yaml")  # staged: the commit still differs
    (repo / "mlops/models/c.yaml").unlink()  # deleted
    (repo / "mlops/models/new.yaml").write_text("untracked\n")
    (repo / ".gitignore").write_text("mlops/models/local.yaml\n")
    (repo / "mlops/models/local.yaml").write_text("ignored, still on disk\n")
    (repo / "deep/er/images.dvc").unlink()
    (repo / "deep/er/images.dvc").symlink_to(tmp_path)  # now a link: never read
    (repo / "data/churn.csv.dvc").chmod(0o755)  # only its mode changes
    files = tree(repo, None)
    # read from disk: what git finds changed, and what it does not track
    assert isinstance(files, Tree) and set(files._data) == {
        "mlops/models/a.yaml",
        "mlops/models/b.yaml",
        "mlops/models/new.yaml",
        "mlops/models/local.yaml",
        "data/churn.csv.dvc",
    }
    assert dict(files.items()) == {
        "mlops/project.yaml": b"store: {url: .mlops/store}\n",
        "mlops/models/a.yaml": b"name: z\n",
        "mlops/models/b.yaml": b"name: b\ndataset: d\n",
        "mlops/models/new.yaml": b"untracked\n",
        "mlops/models/local.yaml": b"ignored, still on disk\n",
        "data/churn.csv.dvc": b"outs:\n- md5: 1\n  path: churn.csv\n",
    }
    assert files.links == ("deep/er/images.dvc",)  # type: ignore[attr-defined]
    # a folder inside the repository: git's paths are not the walk's, so all from disk
    (repo / "sub/mlops").mkdir(parents=True)
    (repo / "sub/mlops/project.yaml").write_text("store: {url: s}\n")
    assert read_tree(repo / "sub", None) == {"mlops/project.yaml": b"store: {url: s}\n"}


def test_a_sparse_checkout_has_only_the_files_on_disk(repo):
    commit(repo, FIRST)
    git(repo, "update-index", "--skip-worktree", "mlops/models/a.yaml")
    (repo / "mlops/models/a.yaml").unlink()  # what a sparse checkout leaves
    assert set(read_tree(repo, None)) == WANTED - {"mlops/models/a.yaml"}


def test_files_git_is_told_not_to_check_are_read_from_disk(repo):
    commit(repo, {**FIRST, "mlops/models/b.yaml": "name: b\n"})
    git(repo, "update-index", "--skip-worktree", "mlops/models/a.yaml")  # a local override
    git(repo, "update-index", "--assume-unchanged", "mlops/models/b.yaml")
    (repo / "mlops/models/a.yaml").write_text("name: a\nlocal: true\n")
    (repo / "mlops/models/b.yaml").write_text("name: b\nlocal: true\n")
    files = read_tree(repo, None)
    assert files["mlops/models/a.yaml"] == b"name: a\nlocal: true\n"
    assert files["mlops/models/b.yaml"] == b"name: b\nlocal: true\n"


@pytest.mark.parametrize(
    "setup",
    [
        # a filter (git-crypt, sops, LFS) stores other bytes than the checkout holds
        {".gitattributes": "*.yaml filter=upper\n"},
        {"mlops/.gitattributes": "*.yaml ident\n"},
        {"config": ("core.autocrlf", "true")},
    ],
)
def test_what_a_checkout_converts_is_read_from_disk(repo, setup):
    commit(repo, FIRST)
    for name, text in setup.items():
        if name == "config":
            git(repo, "config", *text)
        else:
            (repo / name).write_text(text)
    git(repo, "config", "filter.upper.clean", "tr a-z A-Z")
    (repo / "mlops/models/a.yaml").write_text("name: a\r\n")  # what the checkout wrote
    files = tree(repo, None)
    assert not isinstance(files, Tree)  # every file from disk, as it is there
    assert files["mlops/models/a.yaml"] == b"name: a\r\n"


def test_a_folder_with_an_empty_git_folder_is_not_its_parents_repository(repo):
    commit(repo, {**FIRST, "sub/mlops/project.yaml": "store: {url: outer}\n"})
    (repo / "sub/.git").mkdir()  # not a repository: git would look above it
    (repo / "sub/mlops/project.yaml").write_text("store: {url: inner}\n")
    assert read_tree(repo / "sub", None) == {"mlops/project.yaml": b"store: {url: inner}\n"}


def test_read_tree_with_other_prefixes_and_suffixes(repo):
    sha = commit(repo, FIRST)
    files = read_tree(repo, sha, prefixes=("src/",), suffixes=(".md",))
    assert set(files) == {"src/train.py", "README.md"}
    assert read_tree(repo, None, prefixes=("src/",), suffixes=(".md",)) == files


def test_unusual_file_names_are_read_verbatim(repo):
    sha = commit(repo, {"mlops/models/ünï cödé.yaml": "name: x\n", "d/a b.csv.dvc": "p\n"})
    assert set(read_tree(repo, sha)) == {"mlops/models/ünï cödé.yaml", "d/a b.csv.dvc"}


def test_an_unknown_revision_says_how_to_fetch_it(repo):
    commit(repo, FIRST)
    with pytest.raises(GitError) as err:
        read_tree(repo, "feature/nope")
    assert "'feature/nope'" in str(err.value)
    assert "git fetch origin feature/nope" in str(err.value)
    with pytest.raises(GitError, match="is not a revision"):
        resolve(repo, "--output=/tmp/x")


def test_resolve_gives_full_shas_for_names_tags_and_abbreviations(repo):
    sha = commit(repo, FIRST)
    git(repo, "tag", "v1")
    commit(repo, {"README.md": "two\n"})
    assert resolve(repo, "v1") == resolve(repo, sha[:8]) == resolve(repo, "HEAD~1") == sha
    assert head_commit(repo) == git(repo, "rev-parse", "HEAD") != sha


def test_a_commit_seen_once_is_not_verified_again_and_only_in_its_repository(
    repo, tmp_path, monkeypatch
):
    sha = commit(repo, FIRST)
    assert resolve(repo, "main") == sha  # seen: a commit never changes
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q", "-b", "main")
    assert not commit_exists(other, sha)  # another repository: not taken from memory
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))  # no git process can start now
    assert resolve(repo, sha) == sha and commit_exists(repo, sha)


def test_commits_answers_many_names_in_one_process_as_rev_parse_would(repo, monkeypatch):
    first = commit(repo, FIRST)
    git(repo, "tag", "v1")
    git(repo, "tag", "-a", "-m", "annotated", "v1a")  # peeled to its commit
    second = commit(repo, {"README.md": "two\n"}, "the second change")
    blob = git(repo, "rev-parse", "HEAD:README.md")
    names = [
        "main", "v1", "v1a", first[:8], "HEAD~1", "HEAD@{0}", "nothing/here", blob,
        "HEAD:README.md", "--all", "", "main", "HEAD^{/second change}",
    ]  # fmt: skip
    calls: list[tuple[str, ...]] = []
    real = subprocess.run

    def counted(args, *rest, **kwargs):
        if args and args[0] == "git":
            calls.append(tuple(args))
        return real(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "run", counted)
    found = commits(repo, names)
    monkeypatch.setattr(subprocess, "run", real)
    # one rev-parse for the name with a space (a line is one name), one cat-file for the rest
    assert [c[-1] for c in calls] == [
        "HEAD^{/second change}^{commit}",
        "--batch-check=%(objectname) %(objecttype)",
    ]
    for name in names:
        if name in ("--all", ""):
            assert found[name] is None
            continue
        done = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}"],
            cwd=repo, env=ENV, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert found[name] == (done.stdout.strip() or None), name
    assert (
        found["main"] == found["HEAD^{/second change}"] == second
        and found["v1a"] == first
        and found["nothing/here"] is None
    )
    assert commits(repo, []) == {}


def test_author_of_a_commit(repo):
    sha = commit(repo, FIRST)
    author = author_of(repo, sha)
    assert author == Author("Ada Lovelace", "ada@example.com")
    assert str(author) == "Ada Lovelace <ada@example.com>"


def test_a_repository_without_commits(repo):
    assert is_repo(repo)
    with pytest.raises(GitError, match="no commits yet"):
        head_commit(repo)


def test_not_a_repository(tmp_path, repo):
    commit(repo, FIRST)
    assert not is_repo(tmp_path)
    assert not is_repo(repo / "mlops")  # inside one, but not its top
    assert not is_repo(tmp_path / "missing")
    with pytest.raises(GitError, match="not a git repository"):
        read_tree(tmp_path, "HEAD")
    with pytest.raises(GitError, match="does not exist"):
        resolve(tmp_path / "missing", "HEAD")


def test_a_shallow_clone_reads_the_base_once_it_is_fetched(repo, tmp_path):
    base = commit(repo, FIRST)
    head = commit(repo, {"mlops/models/a.yaml": "name: a\nv: 2\n"})
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(repo, "push", "-q", str(origin), "main")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{origin}", str(clone))
    assert read_tree(clone, head)["mlops/models/a.yaml"] == b"name: a\nv: 2\n"
    with pytest.raises(GitError) as err:
        read_tree(clone, base)
    assert f"git fetch --depth 1 origin {base}" in str(err.value)
    git(clone, "fetch", "-q", "--depth", "1", "origin", base)
    assert read_tree(clone, base)["mlops/models/a.yaml"] == b"name: a\n"


def test_a_tree_reads_each_blob_when_asked_and_agrees_with_read_tree(repo):
    root, sha = repo, commit(repo, {**FIRST, "mlops/models/empty.yaml": ""})
    listed = tree(root, sha)
    assert isinstance(listed, Tree)
    lazy = Tree(root, dict(listed.ids))  # a fresh one: a commit's listing is shared
    whole = read_tree(root, sha)
    assert set(lazy) == set(whole) and len(lazy) == len(whole)
    some = next(iter(lazy))
    assert some in lazy and "nope.yaml" not in lazy
    assert lazy[some] == whole[some] and set(lazy._data) == {some}
    assert dict(lazy.items()) == whole and list(lazy.values()) == list(whole.values())
    assert lazy.ids[some] == git(root, "rev-parse", f"{sha}:{some}")
    with pytest.raises(KeyError):
        lazy["nope.yaml"]
    assert Tree(root, dict(listed.ids))["mlops/models/empty.yaml"] == b""
    assert tree(root, None) == read_tree(root, None)  # the working tree: plain bytes


def test_a_tree_names_the_file_whose_object_is_missing(repo):
    commit(repo, FIRST)
    path = "mlops/models/a.yaml"
    broken = Tree(repo, {path: "0" * 40})
    with pytest.raises(GitError, match=f"{'0' * 40} of {path} is missing"):
        broken[path]


def test_commit_tree_lists_a_commit_in_one_process_and_refuses_what_is_none(repo, monkeypatch):
    """Issue 14: an event's two SHAs are each checked as they are listed (one ``git
    ls-tree <sha>^{commit}``), not verified by a process of their own first."""
    sha = commit(repo, FIRST)
    git(repo, "tag", "-a", "-m", "annotated", "v1a")
    tag = git(repo, "rev-parse", "v1a")
    blob = git(repo, "rev-parse", "HEAD:README.md")
    root_tree = git(repo, "rev-parse", "HEAD^{tree}")
    calls: list[tuple[str, ...]] = []
    real = subprocess.run

    def counted(args, *rest, **kwargs):
        calls.append(tuple(args))
        return real(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "run", counted)
    listed = commit_tree(repo, sha)
    assert listed is not None and len(calls) == 1 and calls[0][-1] == f"{sha}^{{commit}}"
    assert commit_tree(repo, sha) is listed and len(calls) == 1  # a commit never changes
    monkeypatch.setattr(subprocess, "run", real)
    assert isinstance(listed, Tree) and dict(listed.items()) == read_tree(repo, sha)
    for nothing in (blob, root_tree, "f" * 40, "main", sha[:8]):
        assert commit_tree(repo, nothing) is None, nothing
    # an annotated tag's id lists its commit, and is not taken for a commit's id
    peeled = commit_tree(repo, tag)
    assert peeled is not None and peeled.ids == listed.ids
    assert commits(repo, [tag]) == {tag: sha}


def test_blobs_stream_in_order_whatever_their_size_and_stop_cleanly(repo):
    big = "x" * (3 << 20)  # past the reader's chunk and its compaction point
    sha = commit(repo, {**FIRST, "mlops/big.yaml": big, "mlops/models/empty.yaml": ""})
    names = [f"{sha}:mlops/models/a.yaml", f"{sha}:nope", f"{sha}:mlops/big.yaml"]
    names += [f"{sha}:mlops/models/empty.yaml", f"{sha}:mlops", f"{sha}:README.md"]
    streamed = list(stream_blobs(repo, names))
    assert streamed == [b"name: a\n", None, big.encode(), b"", None, b"# readme\n"]
    assert streamed == read_blobs(repo, names)
    blobs = stream_blobs(repo, names * 200)
    assert next(blobs) == b"name: a\n"
    blobs.close()  # git is stopped, not left writing into a full pipe
    with pytest.raises(GitError, match="cat-file"):
        list(stream_blobs(repo.parent, names))  # not a repository
    seen: list[tuple[str, bytes]] = []
    lazy = Tree(repo, dict(tree(repo, sha).ids))
    lazy.fetch(["mlops/models/a.yaml", "README.md"], lambda p, d: seen.append((p, d)))
    assert seen == [("mlops/models/a.yaml", b"name: a\n")]  # README.md is not listed


def test_branches_are_refreshed_in_one_fetch_whichever_the_remote_lacks(repo, tmp_path):
    from engine.gitbranches import refresh_branches

    commit(repo, FIRST)
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "origin", "main:env/staging")
    refresh_branches(repo, "origin", ["env/staging", "env/production"])  # production: none
    refs = git(repo, "for-each-ref", "--format=%(refname)", "refs/remotes/")
    assert refs.split() == ["refs/remotes/origin/env/staging"]
    moved = commit(repo, {"README.md": "# moved\n"})
    git(repo, "push", "-q", "origin", "main:env/staging")
    refresh_branches(repo, "origin", ["env/production", "env/staging"])
    assert git(repo, "rev-parse", "origin/env/staging") == moved
    # the pattern also matches env/staging-old/x, which a stale ref blocks: the one fetch
    # fails, and the branches asked for are fetched by name
    git(repo, "update-ref", "refs/remotes/origin/env/staging-old", moved)
    git(repo, "push", "-q", "origin", "main:env/staging-old/x")
    again = commit(repo, {"README.md": "# again\n"})
    git(repo, "push", "-q", "origin", "main:env/staging")
    refresh_branches(repo, "origin", ["env/staging"])
    assert git(repo, "rev-parse", "origin/env/staging") == again
