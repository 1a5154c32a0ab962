"""``mlops init`` as a newcomer meets it: a new repository, a teammate's clone, a rerun."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import commit, dvc, git

pytestmark = pytest.mark.slow


def _new_repo(path):
    git(path.parent, "init", "-q", "-b", "main", str(path))
    git(path, "config", "user.email", "ada@example.com")
    git(path, "config", "user.name", "Ada Lovelace")
    git(path, "config", "commit.gpgsign", "false")
    return path


def test_init_train_push_and_a_teammates_clone_sees_the_same_versions(tmp_path, mlops):
    repo = _new_repo(tmp_path / "repo")
    done = mlops("init", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "wrote .github/workflows/mlops-main.yml" in done.stdout
    assert f"dvc remote add --default storage {tmp_path / 'repo-dvc-remote'}" in done.stdout
    assert "dvc remote modify storage url s3://" in done.stdout
    assert (repo / "data/example.csv.dvc").is_file()
    assert mlops("validate", cwd=repo).returncode == 0
    trained = mlops("train", cwd=repo)
    assert trained.returncode == 0, trained.stderr
    version = trained.stdout.split("churn-logreg@")[1][:12]
    assert not (repo / ".mlops/store").exists()  # the store is on the DVC remote
    dvc(repo, "push", "-q")
    commit(repo, "Start mlops")
    origin = str(tmp_path / "o.git")
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", origin], check=True)
    git(repo, "push", "-q", origin, "main")

    mate = tmp_path / "mate"
    git(tmp_path, "clone", "-q", origin, str(mate))
    assert not (mate / "data/example.csv").exists()
    dvc(mate, "pull", "-q")
    assert (mate / "data/example.csv").read_bytes() == (repo / "data/example.csv").read_bytes()
    runs = mlops("runs", "--json", cwd=mate)
    assert runs.returncode == 0, runs.stderr
    assert version in runs.stdout
    assert mlops("validate", cwd=mate).returncode == 0
    again = mlops("init", cwd=mate)  # idempotent: nothing to write, nothing changed
    assert again.returncode == 0, again.stderr
    assert "wrote" not in again.stdout and "ran dvc" not in again.stdout
    assert git(mate, "status", "--porcelain") == ""


def test_init_keeps_a_users_file_unless_forced(tmp_path, mlops):
    repo = _new_repo(tmp_path / "repo")
    mine = "# my own project file\nstore: {url: s3://bucket/models}\n"
    (repo / "mlops").mkdir()
    (repo / "mlops/project.yaml").write_text(mine)
    done = mlops("init", "--remote", str(tmp_path / "elsewhere"), cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "kept mlops/project.yaml (it differs; --force replaces it)" in done.stdout
    assert (repo / "mlops/project.yaml").read_text() == mine
    assert (tmp_path / "elsewhere").is_dir()
    forced = mlops("init", "--force", cwd=repo)
    assert "wrote mlops/project.yaml" in forced.stdout
    assert "remote://storage/" in (repo / "mlops/project.yaml").read_text()


def test_init_outside_a_git_repository_says_what_to_do(tmp_path, mlops):
    done = mlops("--repo", str(tmp_path), "init", cwd=tmp_path)
    assert done.returncode == 1
    assert "not inside a git repository" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "mlops").exists()
