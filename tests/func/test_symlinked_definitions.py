"""A definition that is a symbolic link is reported where it is, never silently skipped.

Links are never followed (docs/security.md): nothing outside the repository is read, and
a commit and its checkout agree. A model file that is a link used to be left out without
a word, so `mlops validate` said ok and the model did not exist. Real git repositories
with the project's example definitions; the parse cache on disk.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine import gitrepo
from engine.definitions import parse_cache
from engine.training.planning import compute_plan, unchanged
from tests.conftest import commit, git

LINK_FIX = "definitions must be regular files in regular folders; replace the link with the"


def _link_model(repo: Path) -> None:
    """Move iris-logreg's file out of mlops/ and leave a relative link in its place."""
    shared = repo / "shared"
    shared.mkdir()
    (repo / "mlops/models/iris-logreg.yaml").rename(shared / "iris-logreg.yaml")
    os.symlink("../../shared/iris-logreg.yaml", repo / "mlops/models/iris-logreg.yaml")


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]


def test_a_linked_model_is_an_error_at_a_revision_and_in_the_working_tree(repo, mlops):
    assert mlops("validate", "--no-data", cwd=repo).returncode == 0  # the cache knows the file
    _link_model(repo)
    commit(repo, "Keep iris-logreg's definition elsewhere")
    assert git(repo, "ls-files", "-s", "mlops/models/iris-logreg.yaml").startswith("120000 ")
    for args in (("--rev", "HEAD"), ()):
        result = mlops("validate", "--no-data", *args, cwd=repo)
        assert result.returncode == 1, result.stdout + result.stderr
        assert _lines(result.stdout) == [
            "mlops/models/iris-logreg.yaml: error: mlops/models/iris-logreg.yaml is a symbolic "
            "link, which mlops never follows (this model definition is not loaded): "
            f"{LINK_FIX} file it points to (`git rm` the link, copy the target in its place, "
            "`git add` it)"
        ], args
        assert "Traceback" not in result.stderr


def test_a_linked_dataset_is_reported_once_not_as_an_unknown_dataset(repo, mlops):
    data = repo / "mlops/datasets/iris.yaml"
    (repo / "iris.yaml").write_bytes(data.read_bytes())
    data.unlink()
    os.symlink("../../iris.yaml", data)
    result = mlops("validate", "--no-data", cwd=repo)
    assert result.returncode == 1
    assert _lines(result.stdout) == [
        "mlops/datasets/iris.yaml: error: mlops/datasets/iris.yaml is a symbolic link, which "
        f"mlops never follows (this dataset definition is not loaded): {LINK_FIX} file it "
        "points to (`git rm` the link, copy the target in its place, `git add` it)"
    ]


def test_a_linked_folder_of_definitions_is_an_error(repo, mlops):
    (repo / "mlops/features").rename(repo / "features")
    os.symlink("../features", repo / "mlops/features")
    sha = commit(repo, "Share the feature sets")
    assert gitrepo.tree(repo, sha).links == ("mlops/features",)  # type: ignore[attr-defined]
    for args in (("--rev", sha), ()):
        result = mlops("validate", "--no-data", *args, cwd=repo)
        assert result.returncode == 1
        assert (
            "mlops/features: error: mlops/features is a symbolic link, which mlops never "
            f"follows (no definition in it is loaded): {LINK_FIX} folder it points to"
        ) in result.stdout, args


def test_links_elsewhere_are_not_definitions(repo, mlops):
    os.symlink("../README.md", repo / "mlops/notes.md")
    (repo / "docs").mkdir()
    os.symlink("../mlops", repo / "docs/definitions")
    commit(repo, "Link some notes")
    assert mlops("validate", "--no-data", "--rev", "HEAD", cwd=repo).returncode == 0
    assert mlops("validate", "--no-data", cwd=repo).returncode == 0


def test_a_review_of_the_same_blobs_plus_a_link_is_not_answered_from_the_cache(repo):
    base = git(repo, "rev-parse", "HEAD")
    assert not compute_plan(repo, base, base).problems  # base's files planned clean
    os.symlink("../../mlops/models/iris-logreg.yaml", repo / "mlops/models/iris-copy.yaml")
    head = commit(repo, "Add a second name for iris-logreg")
    parse_cache._shared.clear()  # a new process: the cache comes from disk
    assert unchanged(repo, base, head) is None  # the same regular files, but a new link
    plan = compute_plan(repo, base, head)
    (copy,) = [m for m in plan.models if m.name == "iris-copy"]
    assert copy.status == "invalid"
    assert [(p.path, p.rule) for p in copy.problems] == [("mlops/models/iris-copy.yaml", "symlink")]


def _linked_pointer(repo: Path) -> str:
    """iris read from data/iris.csv, whose DVC pointer is a link to a pointer kept in
    pointers/; the link is committed. Returns the message every command must give."""
    import hashlib

    from sklearn.datasets import load_iris

    data = repo / "data/iris.csv"
    data.parent.mkdir()
    load_iris(as_frame=True).frame.to_csv(data, index=False)
    md5 = hashlib.md5(data.read_bytes()).hexdigest()
    (repo / "pointers").mkdir()
    (repo / "pointers/iris.csv.dvc").write_text(
        f"outs:\n- md5: {md5}\n  size: {data.stat().st_size}\n  hash: md5\n  path: iris.csv\n"
    )
    os.symlink("../pointers/iris.csv.dvc", repo / "data/iris.csv.dvc")
    (repo / ".gitignore").write_text(".mlops/\n/data/iris.csv\n")
    definition = repo / "mlops/datasets/iris.yaml"
    definition.write_text(
        definition.read_text().replace("{sklearn: load_iris}", "{path: data/iris.csv}")
    )
    commit(repo, "Read iris from a file whose pointer is a link")
    assert git(repo, "ls-files", "-s", "data/iris.csv.dvc").startswith("120000 ")
    return (
        "data/iris.csv.dvc: error: data/iris.csv.dvc is a symbolic link, which mlops never "
        "follows (the content of data/iris.csv is not known): a DVC pointer must be a "
        "regular file; replace the link with the pointer it points to (`git rm` the link, "
        "copy the target in its place, `git add` it), or run `dvc add data/iris.csv` and "
        "commit data/iris.csv.dvc"
    )


def test_a_linked_dvc_pointer_is_the_same_located_error_at_a_revision_and_in_the_tree(repo, mlops):
    """It was followed in the working tree (validate said ok), read as its link text at a
    revision ("not a DVC pointer") and missing from a plan ("not tracked by DVC")."""
    expected = _linked_pointer(repo)
    for args in (("validate", "--rev", "HEAD"), ("validate",)):
        result = mlops(*args, cwd=repo)
        assert result.returncode == 1, result.stdout + result.stderr
        assert _lines(result.stdout) == [expected], args
        assert "Traceback" not in result.stderr
    planned = mlops("plan", "--base", "HEAD~1", "--head", "HEAD", cwd=repo)
    assert planned.returncode == 1
    assert f"    {expected}" in planned.stdout.splitlines(), planned.stdout
    trained = mlops("train", "iris-logreg", cwd=repo)  # the working tree's plan
    assert trained.returncode == 1 and expected in trained.stdout, trained.stdout
    # listed at a revision and in the working tree alike, never read
    for rev in ("HEAD", None):
        files = gitrepo.tree(repo, rev)
        assert "data/iris.csv.dvc" in files.links  # type: ignore[attr-defined]
        assert "data/iris.csv.dvc" not in files
