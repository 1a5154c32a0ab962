"""``mlops validate`` end to end: the bad-input corpus, exact messages and locations."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def add_corpus(repo: Path) -> None:
    for kind in ("models", "datasets", "features"):
        for file in (CORPUS / kind).iterdir():
            shutil.copy(file, repo / "mlops" / kind / file.name)


def test_the_examples_validate(repo, mlops):
    result = mlops("validate", cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert "ok: 4 models, 4 datasets, 1 feature sets checked, no problems" in result.stderr


def test_the_corpus_gets_every_problem_located_at_once(repo, mlops, tmp_path):
    add_corpus(repo)
    pwned = Path("/tmp/pwned")
    pwned.unlink(missing_ok=True)
    result = mlops("validate", "--no-data", cwd=repo)
    assert result.returncode == 1
    expected = (CORPUS / "expected.txt").read_text()
    assert result.stdout == expected
    assert "Traceback" not in result.stderr
    assert not pwned.exists()  # neither the YAML tag nor the estimator ran anything


def test_annotations_under_github_actions(repo, mlops):
    add_corpus(repo)
    result = mlops(
        "validate",
        "--no-data",
        "mlops/models/os-system.yaml",
        cwd=repo,
        env={"GITHUB_ACTIONS": "true"},
    )
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "mlops/models/os-system.yaml:5:10: error: 'os.system' is not an allowed estimator: use a "
        "scikit-learn estimator such as sklearn.ensemble.RandomForestClassifier, or add it to "
        "allow_estimators in mlops/project.yaml",
        "::error file=mlops/models/os-system.yaml,line=5,col=10::'os.system' is not an allowed "
        "estimator: use a scikit-learn estimator such as sklearn.ensemble.RandomForestClassifier,"
        " or add it to allow_estimators in mlops/project.yaml",
    ]


def test_json_output_is_the_same_problems_as_data(repo, mlops):
    add_corpus(repo)
    result = mlops("validate", "--no-data", "--json", cwd=repo)
    data = json.loads(result.stdout)
    assert data["ok"] is False
    rendered = [
        f"{p['path']}:{p['line']}:{p['col']}: {p['severity']}: {p['message']}"
        for p in data["problems"]
    ]
    assert "\n".join(rendered) + "\n" == (CORPUS / "expected.txt").read_text()


@pytest.mark.parametrize(
    "content,message",
    [
        (b"name: m\n" + "é".encode("latin-1"), "not valid UTF-8"),
        (b"a: " + b"x" * (1024 * 1024 + 1), "definitions are limited to 1,048,576 bytes"),
    ],
)
def test_unreadable_files_are_refused_with_a_location(repo, mlops, content, message):
    (repo / "mlops" / "models" / "m.yaml").write_bytes(content)
    result = mlops("validate", "--no-data", cwd=repo)
    assert result.returncode == 1
    assert result.stdout.startswith("mlops/models/m.yaml:")
    assert message in result.stdout


def test_validate_at_a_revision_reads_git_objects(repo, mlops):
    (repo / "mlops" / "models" / "iris-logreg.yaml").write_text("broken: [\n")
    assert mlops("validate", "--no-data", cwd=repo).returncode == 1
    result = mlops("validate", "--no-data", "--rev", "HEAD", cwd=repo)
    assert result.returncode == 0, result.stdout


def test_bad_data_is_reported_at_the_dataset_file(repo, mlops):
    path = repo / "mlops" / "datasets" / "iris.yaml"
    path.write_text(path.read_text().replace("min_rows: 75", "min_rows: 1000"))
    result = mlops("validate", cwd=repo)
    assert result.returncode == 1
    assert "mlops/datasets/iris.yaml:" in result.stdout
    assert "1000" in result.stdout and "150" in result.stdout


def test_a_nullable_target_fails_validate_and_train_at_its_line(repo, mlops):
    """Issue 11: ``nullable: true`` on the target passed validate, then training failed
    with an unlocated ``Input y contains NaN``."""
    path = repo / "mlops" / "datasets" / "iris.yaml"
    path.write_text(
        path.read_text().replace("values: [0, 1, 2]}", "values: [0, 1, 2], nullable: true}")
    )
    where = "mlops/datasets/iris.yaml:12:"
    checked = mlops("validate", "--no-data", cwd=repo)
    assert checked.returncode == 1
    assert where in checked.stdout and "target 'target' cannot be nullable" in checked.stdout
    trained = mlops("train", "iris-logreg", cwd=repo)
    assert trained.returncode == 1 and "Traceback" not in trained.stderr
    output = trained.stdout + trained.stderr
    assert where in output and "cannot be nullable" in output and "NaN" not in output
    assert not (repo / ".mlops" / "store" / "iris-logreg").exists()


def test_a_path_that_names_nothing_is_refused_not_reported_clean(repo, mlops):
    """`mlops validate [PATH...]` checks the files named: a misspelt one is no "ok"."""
    typo = mlops("validate", "--no-data", "mlops/models/iris-logreg.yml", cwd=repo)
    assert typo.returncode == 1, typo.stdout + typo.stderr
    assert "error: mlops/models/iris-logreg.yml does not exist" in typo.stderr
    assert "Traceback" not in typo.stderr and typo.stdout == ""
    (repo / "mlops" / "models" / "new.yaml").write_text("name: new\n")  # not in HEAD
    at_head = mlops("validate", "--no-data", "--rev", "HEAD", "mlops/models/new.yaml", cwd=repo)
    assert at_head.returncode == 1
    assert "error: mlops/models/new.yaml does not exist at HEAD" in at_head.stderr
    for args in (("mlops/models/iris-logreg.yaml",), ("--rev", "HEAD", "mlops/models")):
        named = mlops("validate", "--no-data", *args, cwd=repo)
        assert named.returncode == 0, named.stdout + named.stderr
    inside = mlops("validate", "--no-data", "models/iris-logreg.yaml", cwd=repo / "mlops")
    assert inside.returncode == 0, inside.stdout + inside.stderr
