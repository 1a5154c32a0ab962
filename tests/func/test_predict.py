"""``mlops predict``: a file scored in chunks with the pinned version, and refusals."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from sklearn.datasets import load_iris

from engine.serving.logs import read_prediction_logs
from tests.func.serving import free_port, mlops, staged, versions

__all__ = ["staged", "versions"]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def iris() -> pd.DataFrame:
    frame = load_iris(as_frame=True).frame
    return frame.drop(columns=["target"]).assign(target=frame["target"])


def test_a_csv_is_scored_with_the_id_prediction_probabilities_and_version(
    staged, versions, iris, tmp_path
):
    source, out = tmp_path / "flowers.csv", tmp_path / "scores.csv"
    iris.to_csv(source, index=False)
    done = mlops(
        "predict",
        "iris-logreg",
        "--env",
        "staging",
        "--input",
        str(source),
        "--output",
        str(out),
        cwd=staged,
    )
    assert done.returncode == 0, done.stderr
    scores = pd.read_csv(out)
    assert list(scores.columns) == ["row", "prediction", "proba_0", "proba_1", "proba_2", "version"]
    assert list(scores["row"]) == list(range(150))
    assert (scores["version"] == versions["iris-logreg"]).all()
    assert (scores["prediction"] == iris["target"]).mean() > 0.9
    assert scores[["proba_0", "proba_1", "proba_2"]].sum(axis=1).round(6).eq(1).all()
    assert "scored 150 rows" in done.stderr


def test_parquet_in_chunks_writes_parquet_and_logs_each_chunk(staged, iris, tmp_path):
    source, out, logs = tmp_path / "flowers.parquet", tmp_path / "s.parquet", tmp_path / "logs"
    iris.to_parquet(source)
    done = mlops(
        "predict",
        "iris-logreg",
        "--env",
        "staging",
        "--input",
        str(source),
        "--output",
        str(out),
        "--chunk-rows",
        "16",
        "--log-dir",
        str(logs),
        cwd=staged,
    )
    assert done.returncode == 0, done.stderr
    assert "in 10 chunks" in done.stderr and len(pd.read_parquet(out)) == 150
    chunks = read_prediction_logs(logs)
    assert len(chunks) == 10 and {c.endpoint for c in chunks} == {"batch"}
    assert chunks[-1].inputs == {"file": str(source), "rows": [144, 150]}


def test_without_output_the_scores_go_to_stdout(staged, iris, tmp_path):
    source = tmp_path / "few.csv"
    iris.head(3).to_csv(source, index=False)
    done = mlops("predict", "iris-logreg", "--env", "staging", "--input", str(source), cwd=staged)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith('"row","prediction"')
    assert len(done.stdout.splitlines()) == 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=["petal width (cm)"]), "column 'petal width (cm)' is missing"),
        (lambda f: f.assign(**{"sepal width (cm)": "wide"}), "column 'sepal width (cm)'"),
        (lambda f: f.assign(**{"sepal width (cm)": None}), "missing values"),
        (  # the dataset schema's bound (iris.yaml: min: 0), as training enforces it
            lambda f: f.assign(**{"petal width (cm)": f["petal width (cm)"] - 1.0}),
            "column 'petal width (cm)', row 0: -0.8 is below min 0",
        ),
    ],
)
def test_a_file_the_schema_refuses_is_an_error_and_nothing_is_written(
    staged, iris, tmp_path, change, message
):
    source, out = tmp_path / "bad.csv", tmp_path / "scores.csv"
    change(iris).to_csv(source, index=False)
    done = mlops(
        "predict",
        "iris-logreg",
        "--env",
        "staging",
        "--input",
        str(source),
        "--output",
        str(out),
        cwd=staged,
    )
    assert done.returncode == 1 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == [source]  # no output, no partial file


def test_an_output_that_is_the_input_is_refused_and_the_input_kept(staged, iris, tmp_path):
    source = tmp_path / "flowers.csv"
    iris.to_csv(source, index=False)
    before = source.read_bytes()
    same = str(tmp_path / "." / "flowers.csv")
    args = ("predict", "iris-logreg", "--env", "staging", "--input", str(source), "--output", same)
    done = mlops(*args, cwd=staged)
    assert done.returncode == 1
    assert "is the input file; give --output another path" in done.stderr
    assert "Traceback" not in done.stderr
    assert source.read_bytes() == before


def test_a_model_not_pinned_in_the_environment_is_refused(staged, iris, tmp_path):
    source = tmp_path / "f.csv"
    iris.to_csv(source, index=False)
    done = mlops("predict", "cancer-rf", "--env", "staging", "--input", str(source), cwd=staged)
    assert done.returncode == 1
    assert "'cancer-rf' is not pinned in staging" in done.stderr
    assert "diabetes-ridge, iris-logreg" in done.stderr


def test_a_tampered_artifact_is_never_served_nor_scored(iris_staged, tmp_path, iris):
    repo = iris_staged  # trained and promoted to staging
    (model_file,) = (repo / ".mlops/store/iris-logreg").glob("*/model.skops")
    data = bytearray(model_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model_file.write_bytes(bytes(data))
    source = tmp_path / "f.csv"
    iris.to_csv(source, index=False)
    scored = mlops(
        "predict",
        "iris-logreg",
        "--env",
        "staging",
        "--input",
        str(source),
        "--output",
        str(tmp_path / "o.csv"),
        cwd=repo,
    )
    served = mlops("serve", "--env", "staging", "--port", str(free_port()), cwd=repo)
    for done in (scored, served):
        assert done.returncode == 1 and "checksum" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "o.csv").exists()


def test_a_missing_version_is_retrained_and_must_reproduce_before_scoring(
    iris_staged, tmp_path, iris
):
    repo = iris_staged  # trained and promoted to staging
    shutil.rmtree(repo / ".mlops/store")
    source = tmp_path / "f.csv"
    iris.head(5).to_csv(source, index=False)
    done = mlops("predict", "iris-logreg", "--env", "staging", "--input", str(source), cwd=repo)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 6


def test_a_resealed_different_model_is_refused_by_the_pins_hash(iris_staged, tmp_path, iris):
    """A real model of a trusted type, meta.json resealed: only the pinned hash tells."""
    from sklearn.dummy import DummyClassifier

    from tests.func.test_deploy import reseal_with

    repo = iris_staged  # trained and promoted to staging
    x, y = iris.drop(columns=["target"]), iris["target"]
    pinned, swapped = reseal_with(repo, DummyClassifier(strategy="constant", constant=0).fit(x, y))
    source = tmp_path / "f.csv"
    iris.head(5).to_csv(source, index=False)
    scored = mlops("predict", "iris-logreg", "--env", "staging", "--input", str(source), cwd=repo)
    served = mlops("serve", "--env", "staging", "--port", str(free_port()), cwd=repo)
    for done in (scored, served):
        assert done.returncode == 1, done.stderr
        assert f"has sha256 {swapped}, but the pin expects {pinned}" in done.stderr
        assert "Traceback" not in done.stderr
