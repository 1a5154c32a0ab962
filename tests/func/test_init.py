"""``mlops init`` as a newcomer meets it: a new repository, a teammate's clone, a rerun."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import commit, dvc, git
from tests.func.test_event import WEBHOOKS
from tests.func.test_workflows import run_step

WORKFLOW_NAMES = ("comment", "deploy", "main", "publish", "pull-request")

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
    assert "ran dvc remote add --default storage ../repo-dvc-remote" in done.stdout
    assert f"The remote is a local folder ({tmp_path / 'repo-dvc-remote'})" in done.stdout
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


def test_the_local_remote_is_written_relative_so_a_clone_elsewhere_pushes_and_pulls(
    tmp_path, mlops
):
    """A teammate or a CI runner has the repository, and the remote beside it, at another
    path: .dvc/config names the remote relative to itself (as `dvc remote add ../x`
    writes it), so the clone reads and writes the remote beside it, not the folder that
    was beside the first checkout."""
    first = tmp_path / "laptop"
    first.mkdir()
    repo = _new_repo(first / "repo")
    assert mlops("init", cwd=repo).returncode == 0
    config = (repo / ".dvc/config").read_text()
    assert "url = ../../repo-dvc-remote" in config and str(tmp_path) not in config
    dvc(repo, "push", "-q")
    commit(repo, "Start mlops")
    origin = str(tmp_path / "o.git")
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", origin], check=True)
    git(repo, "push", "-q", origin, "main")
    # the runner: another folder, with the remote restored beside its checkout; the
    # first machine's folders are gone
    runner = tmp_path / "runner"
    runner.mkdir()
    (first / "repo-dvc-remote").rename(runner / "repo-dvc-remote")
    first.rename(tmp_path / "gone")
    clone = runner / "repo"
    git(runner, "clone", "-q", origin, str(clone))
    dvc(clone, "pull", "-q")
    assert (clone / "data/example.csv").read_bytes() == (
        tmp_path / "gone/repo/data/example.csv"
    ).read_bytes()
    trained = mlops("train", cwd=clone)
    assert trained.returncode == 0, trained.stderr
    version = trained.stdout.split("churn-logreg@")[1][:12]
    stored = runner / "repo-dvc-remote" / "mlops-store" / "churn-logreg"
    assert [p.name[:12] for p in stored.iterdir()] == [version]
    with (clone / "data/example.csv").open("a") as data:  # new data, pushed from the clone
        data.write((clone / "data/example.csv").read_text().splitlines()[-1] + "\n")
    dvc(clone, "add", "-q", "data/example.csv")
    dvc(clone, "push", "-q")
    md5 = yaml.safe_load((clone / "data/example.csv.dvc").read_text())["outs"][0]["md5"]
    assert (runner / "repo-dvc-remote" / "files" / "md5" / md5[:2] / md5[2:]).is_file()
    assert not (tmp_path / "laptop").exists()


def test_a_relative_remote_is_read_from_where_init_runs(tmp_path, mlops):
    repo = _new_repo(tmp_path / "repo")
    done = mlops("--repo", str(repo), "init", "--remote", "shared/remote", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "shared/remote").is_dir() and not (repo / "shared").exists()
    assert "url = ../../shared/remote" in (repo / ".dvc/config").read_text()


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


# --- the generated workflows' steps, run as the runner runs them ------------------------


def _step_env(doc: dict[str, Any], job: str, step: dict[str, Any], model: str) -> dict[str, str]:
    """The environment the runner gives ``step``: workflow, job and step ``env:``, resolved."""
    values = {"${{ matrix.model }}": model, "${{ github.token }}": ""}
    env: dict[str, str] = {}
    for scope in (doc, doc["jobs"][job], step):
        for key, value in (scope.get("env") or {}).items():
            text = str(value)
            for expression, resolved in values.items():
                text = text.replace(expression, resolved)
            assert "${{" not in text, f"{key}: {text} is not an expression this test resolves"
            env[key] = text
    return env


def _job_steps(doc: dict[str, Any], job: str) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in doc["jobs"][job]["steps"] if "name" in s}


def _versions(folder: Path) -> list[str]:
    return sorted(p.parent.name[:12] for p in folder.glob("*/*/meta.json"))


def test_an_init_repositorys_workflows_hand_on_the_versions_they_upload(tmp_path, mlops):
    """`mlops init` puts the store on the DVC remote; the generated workflows' train jobs
    must still fill the folder they cache and upload (`if-no-files-found: error`), the
    pull request's jobs must write nothing to the project's store (they hold no
    credentials), and main's register job must bring the trained versions into it."""
    repo = _new_repo(tmp_path / "repo")
    assert mlops("init", cwd=repo).returncode == 0
    commit(repo, "Start mlops")
    remote_store = tmp_path / "repo-dvc-remote" / "mlops-store"
    workflows = repo / ".github" / "workflows"
    model = "churn-logreg"

    for name in ("mlops-pull-request.yml", "mlops-main.yml"):
        doc = yaml.safe_load((workflows / name).read_text())
        steps = _job_steps(doc, "train")
        upload = next(s for s in steps.values() if "upload-artifact" in s.get("uses", ""))
        assert upload["with"]["if-no-files-found"] == "error"
        train = steps["train"]
        done, _ = run_step(train["run"], repo, _step_env(doc, "train", train, model))
        assert done.returncode == 0, f"{name}: {done.stdout}{done.stderr}"
        handed = repo / upload["with"]["path"]
        assert _versions(handed), f"{name}: the train job left nothing in {handed} to upload"
        assert _versions(remote_store) == [], f"{name}: a CI train job wrote the project's store"

    # main's register job: the versions the train jobs uploaded (downloaded into
    # .mlops/store) reach the project's store, copied and checked, not trained again.
    doc = yaml.safe_load((workflows / "mlops-main.yml").read_text())
    steps = _job_steps(doc, "register")
    assert steps["collect the trained versions"]["with"]["path"] == ".mlops/store"
    register = steps["register the versions now on main"]
    head = git(repo, "rev-parse", "HEAD")
    event = tmp_path / "push.json"
    data = json.loads((WEBHOOKS / "push.json").read_text())
    data.update(ref="refs/heads/main", after=head, deleted=False, created=False)
    event.write_text(json.dumps(data))
    env = {
        **_step_env(doc, "register", register, model),
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_EVENT_PATH": str(event),
    }
    done, _ = run_step(register["run"], repo, env)
    assert done.returncode == 0, done.stdout + done.stderr
    handed = _versions(repo / ".mlops/store")
    assert _versions(remote_store) == handed
    assert "copied from .mlops/store" in done.stdout + done.stderr
    assert "1 trained" not in done.stdout + done.stderr
    # and what landed there is whole: every file checked against its sha256
    runs = mlops("runs", "--json", cwd=repo)
    assert runs.returncode == 0 and handed[0] in runs.stdout, runs.stderr


# --- init again on a repository that has been in use: the engine upgrade ---------------


def test_init_again_on_a_set_up_repository_updates_the_engines_files_never_the_users(
    tmp_path, mlops
):
    """Months later the team has its own definitions (the example ones deleted), an edited
    workflow and its own project file, all committed; a new engine is installed and init
    runs again. It must not bring back the example dataset, model and data, and
    ``--force`` (the way to take the new workflows) replaces the engine's files only: the
    workflows and the schemas, never the project file or a definition."""
    repo = _new_repo(tmp_path / "repo")
    assert mlops("init", "--engine", "mlops-engine==1.0.0", cwd=repo).returncode == 0
    commit(repo, "Start mlops")
    examples = [
        "mlops/datasets/customers.yaml",
        "mlops/features/customer-features.yaml",
        "mlops/models/churn-logreg.yaml",
        "data/example.csv",
        "data/example.csv.dvc",
    ]
    for path in examples:
        (repo / path).unlink()
    project = (repo / "mlops/project.yaml").read_text().replace("approvals: 1", "approvals: 2")
    (repo / "mlops/project.yaml").write_text(project)
    main_yml = repo / ".github/workflows/mlops-main.yml"
    edited = main_yml.read_text().replace('"mlops-engine==1.0.0"', '"mlops-engine==1.0.0" dvc-s3')
    main_yml.write_text(edited)
    commit(repo, "Our own models; dvc-s3 for the store")

    again = mlops("init", "--engine", "mlops-engine==1.1.0", cwd=repo)
    assert again.returncode == 0, again.stderr
    assert not any((repo / path).exists() for path in examples), again.stdout
    assert "dvc add" not in again.stdout
    assert (
        "kept .github/workflows/mlops-main.yml (it differs from this engine's: "
        "`mlops init --force` replaces it, then `git diff` shows what changed)"
    ) in again.stdout
    assert git(repo, "status", "--porcelain") == ""

    forced = mlops("init", "--force", "--engine", "mlops-engine==1.1.0", cwd=repo)
    assert forced.returncode == 0, forced.stderr
    assert "wrote .github/workflows/mlops-main.yml" in forced.stdout
    assert '"mlops-engine==1.1.0"' in main_yml.read_text()
    assert (repo / "mlops/project.yaml").read_text() == project
    assert not any((repo / path).exists() for path in examples)
    changed = sorted(line.split() for line in git(repo, "status", "--porcelain").splitlines())
    assert changed == [["M", f".github/workflows/mlops-{n}.yml"] for n in sorted(WORKFLOW_NAMES)]
    assert "merge main into each environment branch" in forced.stdout


def test_init_on_a_repository_with_its_own_definitions_sets_up_dvc_but_adds_no_examples(
    tmp_path, mlops
):
    """A team that wrote its mlops/ by hand and committed it runs init for the first time:
    it gets the workflows, the schemas and DVC (no remote yet: the default one), and no
    example definitions or data. Run again with a remote of its own by another name,
    init adds no second default remote."""
    repo = _new_repo(tmp_path / "repo")
    (repo / "mlops/models").mkdir(parents=True)
    project = "store: {url: .mlops/store}\nenvironments: {}\n"
    (repo / "mlops/project.yaml").write_text(project)
    commit(repo, "Our own definitions")
    done = mlops("init", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "ran dvc init" in done.stdout and "ran dvc remote add --default storage" in done.stdout
    assert (repo / ".github/workflows/mlops-main.yml").is_file()
    assert not (repo / "mlops/models/churn-logreg.yaml").exists()
    assert not (repo / "data/example.csv").exists()
    assert (repo / "mlops/project.yaml").read_text() == project

    other = _new_repo(tmp_path / "other")
    (other / "mlops").mkdir()
    (other / "mlops/project.yaml").write_text(project)
    dvc(other, "init", "-q")
    dvc(other, "remote", "add", "--default", "s3store", str(tmp_path / "bucket"))
    commit(other, "Our own definitions and DVC remote")
    again = mlops("init", cwd=other)
    assert again.returncode == 0, again.stderr
    assert "ran dvc" not in again.stdout
    assert "storage" not in (other / ".dvc/config").read_text()
