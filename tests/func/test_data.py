"""Loading datasets from real git + DVC repositories, at the working tree and at revisions.

Each test builds a repository in tmp_path with real ``git`` and DVC's Python API (``dvc
add``, ``dvc push`` to a local remote), so what is read at a revision is what DVC pins.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.data.tables import check_dataset, load_table
from engine.definitions.formats import Dataset
from engine.definitions.loading import load
from engine.errors import DataError
from engine.gitrepo import read_tree
from engine.training.fingerprint import data_hash
from tests.conftest import commit, dvc_repo, git

CHURN = Path(__file__).resolve().parent.parent / "data" / "churn.yaml"


def dvc_add(root: Path, path: str) -> None:

    with dvc_repo(root) as repo:
        repo.add(str(root / path))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    from dvc.repo import Repo

    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "test@example.com")
    git(root, "config", "user.name", "Test")
    with Repo.init(str(root)) as dvc, dvc.config.edit() as conf:
        conf["core"]["analytics"] = False
    (root / "data").mkdir()
    commit(root, "init")
    return root


def dataset(path: str = "data/x.csv", **fields: object) -> Dataset:
    return Dataset.model_validate({"name": "x", "source": {"path": path}, "target": "y"} | fields)


def pointer_to(data: bytes, name: str = "x.csv") -> bytes:
    """The pointer ``dvc add`` would write for ``data``."""
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    return f"outs:\n- md5: {md5}\n  size: {len(data)}\n  hash: md5\n  path: {name}\n".encode()


def write_and_add(root: Path, text: str, path: str = "data/x.csv") -> str:
    (root / path).write_text(text)
    dvc_add(root, path)
    return commit(root, f"data: {text.count(chr(10)) - 1} rows")


# --- revisions --------------------------------------------------------------------------


def test_a_revision_reads_the_content_its_pointer_pins(repo: Path) -> None:
    first = write_and_add(repo, "a,y\n1,0\n2,1\n")
    second = write_and_add(repo, "a,y\n7,1\n8,0\n9,1\n")
    ds = dataset()
    assert load_table(ds, repo, first).to_pydict() == {"a": [1, 2], "y": [0, 1]}
    assert load_table(ds, repo, second).column("a").to_pylist() == [7, 8, 9]
    assert load_table(ds, repo).column("a").to_pylist() == [7, 8, 9]

    # The same content is named the same way from git objects and from the working tree.
    def digest(rev: str | None) -> str:
        return data_hash(ds, read_tree(repo, rev), "1.9")

    assert digest(first) != digest(second)
    assert digest(second) == digest(None)


def test_a_revision_fetches_from_the_remote_when_the_cache_lacks_it(
    repo: Path, tmp_path: Path
) -> None:

    with dvc_repo(repo) as dvc, dvc.config.edit() as conf:
        conf["remote"]["store"] = {"url": str(tmp_path / "remote")}
        conf["core"]["remote"] = "store"
    first = write_and_add(repo, "a,y\n1,0\n")
    write_and_add(repo, "a,y\n2,1\n")
    with dvc_repo(repo) as dvc:
        dvc.push(all_commits=True)
    shutil.rmtree(repo / ".dvc" / "cache")
    assert load_table(dataset(), repo, first).column("a").to_pylist() == [1]


def test_a_revision_whose_data_is_nowhere_says_to_push(repo: Path) -> None:
    first = write_and_add(repo, "a,y\n1,0\n")
    shutil.rmtree(repo / ".dvc" / "cache")
    with pytest.raises(DataError) as err:
        load_table(dataset(), repo, first)
    assert str(err.value) == (
        f"mlops/datasets/x.yaml: the content of data/x.csv pinned at revision {first} is "
        "neither in the DVC cache nor in the DVC remote: run `dvc push` in the clone where it "
        "was added"
    )


def test_a_revision_without_the_pointer_says_to_dvc_add(repo: Path) -> None:
    (repo / "data" / "x.csv").write_text("a,y\n1,0\n")
    rev = commit(repo, "data in git, not in DVC")
    with pytest.raises(DataError) as err:
        load_table(dataset(), repo, rev)
    assert str(err.value) == (
        f"mlops/datasets/x.yaml: data/x.csv.dvc does not exist at revision {rev}: track the "
        "data with `dvc add data/x.csv` and commit data/x.csv.dvc"
    )


def test_an_unknown_revision_is_a_data_error(repo: Path) -> None:
    with pytest.raises(DataError, match=r"cannot read data/x\.csv at revision nope: .*'nope'"):
        load_table(dataset(), repo, "nope")


def test_parquet_at_a_revision(repo: Path) -> None:
    pq.write_table(pa.table({"a": [1.5, 2.5], "y": [0, 1]}), repo / "data" / "x.parquet")
    dvc_add(repo, "data/x.parquet")
    rev = commit(repo, "parquet")
    pq.write_table(pa.table({"a": [9.5], "y": [1]}), repo / "data" / "x.parquet")
    table = load_table(dataset("data/x.parquet"), repo, rev)
    assert table.to_pydict() == {"a": [1.5, 2.5], "y": [0, 1]}


def test_an_unreadable_file_at_a_revision_names_it(repo: Path) -> None:
    (repo / "data" / "x.parquet").write_bytes(b"not parquet at all")
    dvc_add(repo, "data/x.parquet")
    rev = commit(repo, "broken parquet")
    with pytest.raises(DataError) as err:
        load_table(dataset("data/x.parquet"), repo, rev)
    assert str(err.value).startswith(
        f"mlops/datasets/x.yaml: data/x.parquet at revision {rev} can't be read as Parquet ("
    )
    assert str(err.value).endswith("): fix the file, then run `dvc add data/x.parquet`")


# --- the working tree -------------------------------------------------------------------


def test_a_symlink_leaving_the_repository_is_refused(repo: Path, tmp_path: Path) -> None:
    secret = tmp_path / "outside.csv"
    secret.write_text("a,y\n1,0\n")
    (repo / "data" / "x.csv").symlink_to(secret)
    (repo / "data" / "x.csv.dvc").write_text("outs:\n- md5: 0\n  path: x.csv\n")
    (repo / "elsewhere").symlink_to(tmp_path, target_is_directory=True)
    expected = (
        "mlops/datasets/x.yaml: {path} leads outside the repository through a symlink: data "
        "must live inside it; replace the link with the file and run `dvc add {path}`"
    )
    for path in ("data/x.csv", "elsewhere/outside.csv"):
        with pytest.raises(DataError) as err:
            load_table(dataset(path), repo)
        assert str(err.value) == expected.format(path=path)


def test_a_pointer_symlinked_outside_the_repository_is_refused_unread(
    repo: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "config.yaml"
    secret.write_text("s3cr3t_token_name: 1\n")
    (repo / "data" / "x.csv").write_text("a,y\n1,0\n")
    (repo / "data" / "x.csv.dvc").symlink_to(secret)
    with pytest.raises(DataError) as err:
        load_table(dataset(), repo)
    # a linked pointer is never followed, wherever it leads (the same located error at a
    # revision and in the working tree)
    message = str(err.value)
    assert message.startswith("data/x.csv.dvc: data/x.csv.dvc is a symbolic link, which mlops")
    assert "s3cr3t" not in message and "run `dvc add data/x.csv`" in message


def test_a_symlink_within_the_repository_is_followed(repo: Path) -> None:
    (repo / "data" / "real.csv").write_text("a,y\n1,0\n")
    (repo / "data" / "x.csv").symlink_to("real.csv")
    (repo / "data" / "x.csv.dvc").write_bytes(pointer_to(b"a,y\n1,0\n"))
    assert load_table(dataset(), repo).column("a").to_pylist() == [1]


@pytest.mark.parametrize(
    ("files", "advice"),
    [
        (
            ["data/x.csv.dvc"],
            "data/x.csv is not in the working tree but its DVC pointer data/x.csv.dvc is: "
            "run `dvc pull data/x.csv`",
        ),
        (
            ["data/x.csv"],
            "data/x.csv is not tracked by DVC (data/x.csv.dvc is missing): run "
            "`dvc add data/x.csv` and commit data/x.csv.dvc",
        ),
        (
            [],
            "data/x.csv does not exist: add the file, run `dvc add data/x.csv` and commit "
            "data/x.csv.dvc",
        ),
    ],
)
def test_missing_data_says_what_to_run(repo: Path, files: list[str], advice: str) -> None:
    for name in files:
        (repo / name).write_text("a,y\n1,0\n")
    with pytest.raises(DataError) as err:
        load_table(dataset(), repo, definition="mlops/datasets/x.yml")
    assert str(err.value) == f"mlops/datasets/x.yml: {advice}"


def test_check_dataset_locates_findings_and_load_failures(repo: Path) -> None:
    entry = load({"mlops/datasets/churn.yaml": CHURN.read_bytes()}).datasets["churn"]
    (repo / "data" / "churn.csv").write_text(
        "customer_id,age,income,plan,churned\n1,34,100,pro,0\n"
    )
    problems = check_dataset(entry, repo)
    assert [p.render() for p in problems] == [
        "mlops/datasets/churn.yaml:3:16: error: data/churn.csv is not tracked by DVC "
        "(data/churn.csv.dvc is missing): run `dvc add data/churn.csv` and commit "
        "data/churn.csv.dvc"
    ]
    dvc_add(repo, "data/churn.csv")
    rev = commit(repo, "one row")
    expected = [
        "mlops/datasets/churn.yaml:13:20: error: the data has 1 row, fewer than min_rows (5)"
    ]
    assert [p.render() for p in check_dataset(entry, repo)] == expected
    assert [p.render() for p in check_dataset(entry, repo, rev)] == expected
    assert {p.rule for p in problems} == {"data"}


# --- scikit-learn -----------------------------------------------------------------------


def test_sklearn_sources_name_the_target_as_the_definition_says(tmp_path: Path) -> None:
    ds = Dataset.model_validate(
        {"name": "iris", "source": {"sklearn": "load_iris"}, "target": "species"}
    )
    table = load_table(ds, tmp_path)
    assert table.num_rows == 150
    assert table.column_names[-1] == "species"
    assert "target" not in table.column_names
    assert table.schema.field("species").type == pa.int64()


def test_sklearn_target_named_like_a_feature_is_refused(tmp_path: Path) -> None:
    ds = Dataset.model_validate(
        {"name": "diabetes", "source": {"sklearn": "load_diabetes"}, "target": "bmi"}
    )
    with pytest.raises(DataError) as err:
        load_table(ds, tmp_path)
    assert str(err.value) == (
        "mlops/datasets/diabetes.yaml: target 'bmi' is a feature column of load_diabetes: "
        "set target: target"
    )
