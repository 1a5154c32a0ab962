"""``mlops card``: the stored card joined with where the version runs and who put it there."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_card_names_the_environment_and_who_promoted_the_version(repo, mlops):
    trained = mlops("train", "iris-logreg", cwd=repo)
    assert trained.returncode == 0, trained.stderr
    version = trained.stdout.split("iris-logreg@")[1][:12]
    before = mlops("card", "iris-logreg", cwd=repo)
    assert before.returncode == 0, before.stderr
    assert before.stdout.startswith(f"# iris-logreg@{version}\n")
    assert "Not live anywhere." in before.stdout
    assert "## Monitoring" in before.stdout

    promoted = mlops("promote", "iris-logreg", "--to", "staging", cwd=repo)
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    after = mlops("card", f"iris-logreg@{version[:6]}", cwd=repo)
    assert after.returncode == 0, after.stderr
    assert "Live in `staging`." in after.stdout
    assert "| `staging` | promote | @ada |" in after.stdout
    assert "| data hash | `" in after.stdout and "| data hash | `unknown`" not in after.stdout
    page = mlops("card", "iris-logreg", "--html", cwd=repo)
    assert page.stdout.startswith("<!doctype html>")
    assert "<td><code>staging</code></td>" in page.stdout


def test_card_of_an_untrained_model_says_how_to_get_one(repo, mlops):
    done = mlops("card", "iris-logreg", cwd=repo)
    assert done.returncode == 1
    assert "run `mlops train iris-logreg`" in done.stderr
    bad = mlops("card", "iris-logreg@zz", cwd=repo)
    assert bad.returncode == 1 and "not a version id" in bad.stderr


def test_card_of_a_misspelled_model_names_the_models(repo, mlops):
    """The outside review: `mlops card nope` said "no stored version ... run `mlops train
    nope`", a command that then fails too."""
    done = mlops("card", "iris-logrg", cwd=repo)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "unknown model 'iris-logrg' (did you mean 'iris-logreg'?)" in done.stderr
    assert "mlops train" not in done.stderr


def test_a_searched_models_card_gives_the_kept_candidates_std(repo, mlops):
    """Issue 11: the search summary said "± n/a" while its table had the std."""
    assert mlops("train", "wine-knn", cwd=repo).returncode == 0
    card = mlops("card", "wine-knn", cwd=repo).stdout
    summary = next(line for line in card.splitlines() if "; kept `" in line)
    assert "± n/a" not in summary
    kept = summary.split("kept `")[1].split("`")[0]
    row = next(line for line in card.splitlines() if line.startswith(f"| `{kept}` |"))
    mean, std = (cell.strip() for cell in row.split("|")[2:4])
    assert summary.endswith(f"({mean} ± {std}).")
