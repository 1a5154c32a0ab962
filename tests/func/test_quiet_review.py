"""A review of two commits that hold the same definitions: answered from the parse cache.

Issue 14: a pull request that changes no definition (a README, code elsewhere) gets the
report a full review would write, without loading a definition, once a plan found those
files clean (:func:`engine.training.planning.unchanged`). Real git repositories with the
project's example definitions; the parse cache on disk, as the workflows restore it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.definitions import parse_cache
from engine.errors import UserError
from engine.review.pipeline import review
from engine.training.planning import compute_plan, unchanged
from tests.conftest import commit, git


def _fresh_process() -> None:
    """Forget the in-process caches: the next read comes from the file on disk."""
    parse_cache._shared.clear()


def _readme_change(repo: Path) -> tuple[str, str]:
    base = git(repo, "rev-parse", "HEAD")
    (repo / "README.md").write_text("# Models\n")
    return base, commit(repo, "Add a README")


def test_the_same_clean_definitions_are_reviewed_from_the_cache(repo):
    base, head = _readme_change(repo)
    assert unchanged(repo, base, head) is None  # nothing known yet
    full = review(repo, base=base, head=head, summary_url="https://example.com/run/1")
    assert full.ok and not full.comparisons
    _fresh_process()
    assert unchanged(repo, base, head) == (base, head)
    quick = review(repo, base=base, head=head, summary_url="https://example.com/run/1")
    assert (quick.markdown, quick.full_markdown, quick.verdict, quick.ok) == (
        full.markdown,
        full.full_markdown,
        full.verdict,
        full.ok,
    )


def test_other_definitions_or_a_model_selection_take_the_full_path(repo):
    base = git(repo, "rev-parse", "HEAD")
    model = repo / "mlops/models/iris-logreg.yaml"
    model.write_text(model.read_text().replace("C: 1.0", "C: 0.5"))
    head = commit(repo, "Regularize iris-logreg")
    compute_plan(repo, base, head)  # the head planned clean: its files are known
    _fresh_process()
    assert unchanged(repo, base, head) is None  # but base holds other files
    assert unchanged(repo, head, head) == (head, head)
    # naming models asks for them to be checked: never answered from the cache
    with pytest.raises(UserError, match="unknown model"):
        review(repo, base=head, head=head, models=["no-such-model"])


def test_definitions_with_a_problem_are_never_answered_from_the_cache(repo):
    broken = repo / "mlops/models/iris-logreg.yaml"
    broken.write_text(broken.read_text().replace("dataset: iris", "dataset: irises"))
    commit(repo, "Point iris-logreg at a dataset that is not there")
    base, head = _readme_change(repo)
    first = review(repo, base=base, head=head)
    assert not first.ok and "irises" in first.markdown
    _fresh_process()
    assert unchanged(repo, base, head) is None
    again = review(repo, base=base, head=head)
    assert again.markdown == first.markdown and not again.ok


def test_a_working_tree_plan_knows_the_commit_that_holds_the_same_files(repo):
    """``mlops plan`` in the default branch's job plans the checkout (head = the working
    tree): the pull requests on that commit find its files known."""
    base = git(repo, "rev-parse", "HEAD")
    compute_plan(repo, base, None)
    _fresh_process()
    _, head = _readme_change(repo)
    assert unchanged(repo, base, head) == (base, head)
