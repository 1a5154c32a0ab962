"""The third outside review: a newcomer adopting the engine on their own repository, and
an attacker against the privileged jobs. Each test reproduces one finding end to end
(real git repositories with a bare origin, the GitHub stand-in over HTTP)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.forge.standin.server import GitHubStandIn
from tests.conftest import commit, dvc, git
from tests.func.serving import mlops as run

WEBHOOKS = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "webhooks"
REPO = "octo/models"
PR = 4

pytestmark = pytest.mark.slow


def _comment(tmp: Path, gh: GitHubStandIn, body: str, login: str) -> tuple[Path, int]:
    comment_id = gh.add_comment(PR, body, author=login)
    data = json.loads((WEBHOOKS / "issue_comment.created.json").read_text())
    data["repository"].update({"full_name": REPO, "default_branch": "main", "private": False})
    data["issue"]["number"] = PR
    data["issue"]["pull_request"] = {"url": f"https://api.github.com/repos/{REPO}/pulls/{PR}"}
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    data["comment"].update({"id": comment_id, "body": body, "created_at": now})
    data["comment"]["user"].update({"login": login, "type": "User"})
    data["sender"].update({"login": login, "type": "User"})
    path = tmp / "comment.json"
    path.write_text(json.dumps(data))
    return path, comment_id


def _run_comment(mlops, repo: Path, tmp: Path, gh: GitHubStandIn, body: str, login: str = "ada"):
    event, comment_id = _comment(tmp, gh, body, login)
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "issue_comment",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": gh.url,
        "GITHUB_TOKEN": "ghs_standin",
    }
    return mlops("event", cwd=repo, env=env), comment_id


def _bot_replies(gh: GitHubStandIn) -> list[str]:
    return [c.body for c in gh.comments(PR) if c.user == "github-actions[bot]"]


@pytest.mark.parametrize(
    ("command", "block"),
    [("/status", "| Environment |"), ("/help", "### Commands")],
)
def test_a_reply_that_is_a_table_or_a_heading_starts_on_its_own_line(
    repo, mlops, tmp_path, command, block
):
    """Found: ``@ada | Environment | ...`` is a header row with one cell more than its
    delimiter row, so GitHub drew no table; ``@ada ### Commands`` showed its hashes."""
    head = git(repo, "rev-parse", "HEAD")
    with GitHubStandIn(REPO, git_dir=repo.parent / f"{repo.name}-origin.git") as gh:
        gh.add_pull(PR, head_sha=head, author="grace")
        gh.set_permission("ada", "write")
        result, _ = _run_comment(mlops, repo, tmp_path, gh, command)
        assert result.returncode == 0, result.stderr
        (reply,) = _bot_replies(gh)
    lines = reply.splitlines()
    assert "@ada" in lines  # the mention alone on its line ...
    assert any(line.startswith(block) for line in lines)  # ... the block at a line start
    assert not any(line.startswith("@ada ") for line in lines)


LOANS_DATASET = """\
name: loans
source: {path: data/loans.csv}
target: defaulted
id_column: loan_id
schema:
  columns:
    loan_id: {type: string}
    applied_on: {type: date}
    age: {type: int, min: 18}
    employment: {type: string, values: [salaried, retired], nullable: true}
    score: {type: float, nullable: true}
    defaulted: {type: int, values: [0, 1]}
checks: {min_rows: 100, max_null_fraction: 0.5}
"""
LOANS_MODEL = """\
name: loans-logreg
dataset: loans
features:
  transforms:
    - columns: [age, score]
      steps:
        - {class: sklearn.impute.SimpleImputer, params: {strategy: median}}
        - {class: sklearn.preprocessing.StandardScaler}
    - columns: [employment]
      steps:
        - {class: sklearn.impute.SimpleImputer, params: {strategy: constant, fill_value: none}}
        - {class: sklearn.preprocessing.OneHotEncoder, params: {handle_unknown: ignore}}
task: classification
estimator: {class: sklearn.linear_model.LogisticRegression}
metrics: [accuracy, roc_auc]
primary_metric: roc_auc
"""


def _loans_csv(rows: int = 400) -> str:
    """Ids as text, a date, a nullable categorical missing in a third of the rows."""
    rng = random.Random(5)
    lines = ["loan_id,applied_on,age,employment,score,defaulted"]
    for i in range(rows):
        job = ["salaried", "retired", ""][i % 3]
        score = "" if i % 11 == 0 else f"{rng.gauss(600, 80):.1f}"
        age = rng.randint(18, 80)
        bad = int(rng.random() < (0.7 if job == "" else 0.2))
        lines.append(f"L{i:05d},2024-{1 + i % 12:02d}-{1 + i % 28:02d},{age},{job},{score},{bad}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def loans(tmp_path_factory) -> Path:
    """A repository made by ``mlops init`` with the loans model trained and in staging."""
    repo = tmp_path_factory.mktemp("adopter") / "bank"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "ada@example.com")
    git(repo, "config", "user.name", "Ada Lovelace")
    git(repo, "config", "commit.gpgsign", "false")
    assert run("init", cwd=repo).returncode == 0
    (repo / "data" / "loans.csv").write_text(_loans_csv())
    dvc(repo, "add", "-q", "data/loans.csv")
    (repo / "mlops" / "datasets" / "loans.yaml").write_text(LOANS_DATASET)
    (repo / "mlops" / "models" / "loans-logreg.yaml").write_text(LOANS_MODEL)
    commit(repo, "Loans")
    for args in (("train", "loans-logreg"), ("promote", "loans-logreg", "--to", "staging")):
        done = run(*args, cwd=repo)
        assert done.returncode == 0, done.stderr
    return repo


def test_predict_takes_a_missing_value_in_a_nullable_column_with_allowed_values(loans, tmp_path):
    """Found: training took empty ``employment`` cells, but ``mlops predict`` refused the
    training file itself: ``column 'employment', row 0: None is not one of [...]``."""
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text((loans / "data" / "loans.csv").read_text())
    args = ("predict", "loans-logreg", "--env", "staging", "--input", str(source))
    done = run(*args, "--output", str(out), cwd=loans)
    assert done.returncode == 0, done.stderr
    assert "scored 400 rows" in done.stderr
    # a value that is there and not allowed is still refused, naming the row
    lines = source.read_text().splitlines()
    lines[4] = lines[4].replace(",retired,", ",boss,").replace(",salaried,", ",boss,")
    source.write_text("\n".join(lines) + "\n")
    bad = run(*args, "--output", str(tmp_path / "bad.csv"), cwd=loans)
    assert bad.returncode == 1
    assert "'boss' is not one of" in bad.stderr and "row 3" in bad.stderr


def _forge_pin(repo: Path, edit) -> None:
    """Commit ``edit(pin text) -> {path: text}`` on env/staging and push it (a hand edit)."""
    git(repo, "switch", "-q", "env/staging")
    pin = (repo / "mlops/deployments/iris-logreg.yaml").read_text()
    for path, text in edit(pin).items():
        (repo / path).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "A hand edit")
    git(repo, "push", "-q", "origin", "env/staging")
    git(repo, "switch", "-q", "main")


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (
            lambda pin: {
                "mlops/deployments/iris-logreg.yaml": "\n".join(
                    "source_commit: '--output=/tmp/x'"
                    if line.startswith("source_commit:")
                    else line
                    for line in pin.splitlines()
                )
            },
            "source_commit",
        ),
        (
            lambda pin: {"mlops/deployments/wine-rf.yaml": pin},
            "pins model 'iris-logreg', whose pin is mlops/deployments/iris-logreg.yaml",
        ),
    ],
    ids=["not-a-commit", "another-models-file"],
)
def test_a_hand_edited_pin_is_refused_naming_the_file(iris_staged, mlops, edit, said):
    """Found: a pin whose ``source_commit`` was no commit deployed as ``ready`` (serve then
    failed with ``'--output=/tmp/x' is not a revision``, naming no file), and a pin file
    named after one model could pin another."""
    _forge_pin(iris_staged, edit)
    for args in (("deploy", "--env", "staging"), ("status",)):
        done = mlops(*args, cwd=iris_staged)
        assert done.returncode == 1, done.stdout
        assert "origin/env/staging:mlops/deployments/" in done.stderr
        assert said in done.stderr and "Traceback" not in done.stderr


def test_a_promotion_in_a_repository_made_by_init_dispatches_its_deploy_workflow(tmp_path, mlops):
    """Found: the engine dispatched ``deploy.yml``, this project's own file name, but
    ``mlops init`` writes ``.github/workflows/mlops-deploy.yml``: on GitHub every
    promotion by comment answered 404 and nothing deployed."""
    origin = tmp_path / "bank-origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    repo = tmp_path / "bank"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    for key, value in (("user.email", "ada@example.com"), ("user.name", "Ada"),
                       ("commit.gpgsign", "false")):  # fmt: skip
        git(repo, "config", key, value)
    git(repo, "remote", "add", "origin", str(origin))
    assert mlops("init", cwd=repo).returncode == 0
    commit(repo, "Start mlops")
    git(repo, "push", "-q", "origin", "main")
    git(repo, "switch", "-q", "-c", "tune")
    model = repo / "mlops/models/churn-logreg.yaml"
    model.write_text(model.read_text().replace("C: 1.0", "C: 0.5"))
    head = commit(repo, "Tune churn-logreg")
    git(repo, "push", "-q", "origin", "tune")
    git(repo, "switch", "-q", "main")
    with GitHubStandIn(REPO, git_dir=origin) as gh:
        gh.add_pull(PR, head_sha=head, author="grace", head_ref="tune")
        gh.add_status(head, "mlops/gates")
        gh.set_permission("ada", "write")
        done, _ = _run_comment(mlops, repo, tmp_path, gh, "/promote churn-logreg to staging")
        assert done.returncode == 0, done.stderr
        (reply,) = _bot_replies(gh)
        assert [(d.workflow, d.ref) for d in gh.dispatches] == [
            ("mlops-deploy.yml", "env/staging")
        ], reply
    assert "Dispatched `mlops-deploy.yml` on `env/staging`" in reply


def test_promoting_a_version_never_trained_does_not_claim_it_reproduced(repo, mlops):
    """Found: ``/promote`` of a version the store lacked and no pin recorded said "it was
    retrained and its metrics reproduced": there was nothing to reproduce."""
    done = mlops("promote", "iris-logreg", "--to", "staging", cwd=repo)
    assert done.returncode == 0, done.stderr
    out = done.stdout + done.stderr
    assert "reproduced" not in out
    assert "was not in the store yet; it was trained now" in out


def test_a_reader_that_leaves_early_is_no_bug_report(repo):
    """Found: ``mlops history MODEL | head -5`` ended with ``unexpected error:
    BrokenPipeError ... This is a bug in mlops``."""
    import os
    import subprocess

    from tests.conftest import MLOPS

    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line is written
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    with os.fdopen(write, "wb") as out:
        done = subprocess.run(
            [str(MLOPS), "status"], cwd=repo, stdout=out, stderr=subprocess.PIPE,
            env=env, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 1
    assert "unexpected error" not in done.stderr and "Traceback" not in done.stderr
    assert "Exception ignored" not in done.stderr


def test_init_on_a_master_branch_names_it_and_a_promotion_works(tmp_path, mlops):
    """Found: ``git init`` names the branch ``master`` unless configured, but init wrote
    ``default_branch: main`` and ``branches: [main]``: the main workflow never ran and the
    first promotion said ``neither env/staging nor the default branch main exists``."""
    origin = tmp_path / "shop-origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "master", str(origin))
    repo = tmp_path / "shop"
    git(tmp_path, "init", "-q", "-b", "master", str(repo))
    for key, value in (("user.email", "ada@example.com"), ("user.name", "Ada"),
                       ("commit.gpgsign", "false")):  # fmt: skip
        git(repo, "config", key, value)
    git(repo, "remote", "add", "origin", str(origin))
    assert mlops("init", cwd=repo).returncode == 0
    assert "default_branch: master\n" in (repo / "mlops/project.yaml").read_text()
    workflow = (repo / ".github/workflows/mlops-main.yml").read_text()
    assert "    branches: [master]\n" in workflow and "[main]" not in workflow
    commit(repo, "Start mlops")
    git(repo, "push", "-q", "origin", "master")
    done = mlops("promote", "churn-logreg", "--to", "staging", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert git(repo, "ls-remote", "origin", "refs/heads/env/staging")
    again = mlops("init", cwd=repo)  # still idempotent
    assert again.returncode == 0 and "wrote" not in again.stdout
