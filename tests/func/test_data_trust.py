"""The data seam, attacked: crafted DVC pointers, a redirected remote, stale and damaged data.

Every test builds a real git + DVC repository with a local DVC remote (``dvc add``, ``dvc
push``), then does what an attacker's pull request or a hurried user does, and runs the
real ``mlops`` command or the loading functions the privileged jobs use. The working tree
is ``main`` (in the comment job it is the default branch: trusted); the attack is a commit
on another branch, read at that revision as ``/diff``, ``/retrain`` and ``/promote`` do.
"""

from __future__ import annotations

import hashlib
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from engine.data.content import CACHE_FILE, md5_of
from engine.data.tables import check_dataset, load_table
from engine.definitions.loading import load
from engine.errors import DataError, PointerError
from tests.conftest import Runner, commit, dvc_repo, git, init_repo

pytestmark = pytest.mark.slow

SECRET = "TOPSECRET-4242"
COLUMNS = ["x0", "x1", "label"]
DATASET = {
    "name": "points",
    "source": {"path": "data/points.csv"},
    "target": "label",
    "schema": {
        "columns": {
            "x0": {"type": "float"},
            "x1": {"type": "float"},
            "label": {"type": "int", "values": [0, 1]},
        }
    },
    "checks": {"min_rows": 20},
    "split": {"test_size": 0.25, "seed": 3, "stratify": True},
}
MODEL = {
    "name": "points-logreg",
    "dataset": "points",
    "task": "classification",
    "estimator": {"class": "sklearn.linear_model.LogisticRegression", "params": {"C": 1.0}},
    "metrics": ["accuracy"],
    "primary_metric": "accuracy",
}


def points(rows: int, shift: int = 0) -> str:
    lines = [",".join(COLUMNS)]
    lines += [f"{(i + shift) % 7}.5,{(i * 3) % 5}.25,{i % 2}" for i in range(rows)]
    return "\n".join(lines) + "\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """``main`` with the points dataset and model, its data pushed to the trusted remote."""
    from dvc.repo import Repo

    root = init_repo(tmp_path / "repo", examples=False)
    with Repo.init(str(root)) as repo, repo.config.edit() as conf:
        conf["core"]["analytics"] = False
        conf["core"]["remote"] = "trusted"
        conf["remote"]["trusted"] = {"url": str(tmp_path / "trusted-remote")}
    for folder, doc in (("datasets", DATASET), ("models", MODEL)):
        (root / "mlops" / folder).mkdir(parents=True)
        (root / "mlops" / folder / f"{doc['name']}.yaml").write_text(yaml.safe_dump(doc))
    (root / "data").mkdir()
    (root / "data" / "points.csv").write_text(points(40))
    with dvc_repo(root) as repo:
        repo.add(str(root / "data" / "points.csv"))
        repo.push()
    commit(root, "The points data and model")
    return root


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file outside the repository that a crafted pointer tries to read."""
    path = tmp_path / "secret.csv"
    path.write_text(f"x0,x1,label\n{SECRET},1.0,0\n")
    return path


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback port that records whether anyone connected (nothing ever answers)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    try:
        yield server
    finally:
        server.close()


def contacted(server: socket.socket) -> bool:
    try:
        conn, _ = server.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def on_branch(root: Path, name: str, files: dict[str, str]) -> str:
    """Commit ``files`` on a new branch (the pull request); come back to main."""
    git(root, "switch", "-q", "-c", name)
    for path, text in files.items():
        (root / path).write_text(text)
    sha = commit(root, f"{name}: crafted")
    git(root, "switch", "-q", "--force", "main")
    return sha


def output(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout + done.stderr


def leaks(text: str) -> bool:
    """Whether ``text`` shows the secret or any entry of /etc/passwd (``postgres:x:``...)."""
    entries = Path("/etc/passwd").read_text().splitlines()
    users = [line.split(":", 1)[0] + ":x:" for line in entries if ":" in line]
    return SECRET in text or any(u in text for u in users)


def entry(root: Path):  # the dataset's definition, as validate reads it
    files = {"mlops/datasets/points.yaml": (root / "mlops/datasets/points.yaml").read_bytes()}
    return load(files).datasets["points"]


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


# --- crafted pointers -------------------------------------------------------------------


def crafted(dep: str, content_md5: str) -> dict[str, str]:
    """Import stages as a PR can write them; DVC 3.67 reads ``dep`` for each of them."""
    return {
        # An md5 the engine used to accept, with a hash name that makes DVC ignore it.
        "import-hash": (
            f"md5: {content_md5}\nfrozen: true\ndeps:\n- path: {dep}\nouts:\n"
            f"- md5: {content_md5}\n  hash: sha256\n  path: points.csv\n"
        ),
        "import-no-md5": f"deps:\n- path: {dep}\nouts:\n- path: points.csv\n",
    }


@pytest.mark.parametrize("variant", ["import-hash", "import-no-md5"])
@pytest.mark.parametrize("dep", ["/etc/passwd", "secret"])
def test_an_import_stage_is_refused_where_it_is_written(
    repo: Path, secret: Path, variant: str, dep: str
) -> None:
    source = str(secret) if dep == "secret" else dep
    sha = on_branch(repo, "pr", {"data/points.csv.dvc": crafted(source, md5(points(40)))[variant]})
    (problem,) = check_dataset(entry(repo), repo, sha)
    assert (problem.path, problem.line, problem.col) == ("data/points.csv.dvc", 1, 1)
    assert "the engine reads only plain pointers" in problem.message
    with pytest.raises(PointerError) as err:
        load_table(entry(repo).spec, repo, sha)
    assert err.value.problem == problem


def test_the_commands_never_show_what_an_import_stage_names(
    repo: Path, mlops: Runner, secret: Path
) -> None:
    stolen = crafted(str(secret), md5(points(40)))["import-hash"]
    passwd = crafted("/etc/passwd", md5(points(40)))["import-no-md5"]
    for name, pointer in (("steal", stolen), ("passwd", passwd)):
        sha = on_branch(repo, name, {"data/points.csv.dvc": pointer})
        runs = [mlops("validate", "--rev", sha, cwd=repo)]
        if name == "steal":
            runs.append(mlops("train", "--rev", sha, cwd=repo))
        for done in runs:
            assert done.returncode == 1 and "Traceback" not in done.stderr
            assert "data/points.csv.dvc:1:1: " in output(done)
            assert not leaks(output(done))
    assert not (repo / ".mlops" / "store").exists()


def test_an_import_stage_in_the_working_tree_is_refused_too(
    repo: Path, mlops: Runner, secret: Path
) -> None:
    (repo / "data" / "points.csv.dvc").write_text(
        crafted(str(secret), md5(points(40)))["import-hash"]
    )
    done = mlops("validate", cwd=repo)
    assert done.returncode == 1 and "data/points.csv.dvc:1:1: error: `md5`" in done.stdout
    assert not leaks(output(done))


def test_an_http_import_is_never_contacted(
    repo: Path, mlops: Runner, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    url = f"http://127.0.0.1:{port}/points.csv"
    for variant, pointer in crafted(url, md5(points(40))).items():
        sha = on_branch(repo, variant, {"data/points.csv.dvc": pointer})
        assert check_dataset(entry(repo), repo, sha)[0].path == "data/points.csv.dvc"
    assert mlops("train", "--rev", sha, cwd=repo).returncode == 1
    assert not contacted(listener)


# --- the remote comes from the trusted checkout, never from the revision ---------------


def test_a_pull_request_cannot_redirect_the_remote(repo: Path, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    config = (repo / ".dvc" / "config").read_text()
    redirected = config.replace(str(repo.parent / "trusted-remote"), f"http://127.0.0.1:{port}/")
    assert redirected != config
    sha = on_branch(repo, "pr", {".dvc/config": redirected})
    subprocess.run(["rm", "-rf", str(repo / ".dvc" / "cache")], check=True)

    table = load_table(entry(repo).spec, repo, sha)  # fetched from the trusted remote
    assert table.num_rows == 40
    assert not contacted(listener)


# --- what is read has the pointer's md5 -------------------------------------------------


def test_a_damaged_cache_copy_is_refused(repo: Path) -> None:
    digest = md5(points(40))
    cached = repo / ".dvc" / "cache" / "files" / "md5" / digest[:2] / digest[2:]
    cached.chmod(0o644)
    cached.write_text(points(40, shift=1))
    with pytest.raises(DataError, match=r"does not have the md5 data/points\.csv\.dvc records"):
        load_table(entry(repo).spec, repo, "HEAD")


def test_stale_data_after_a_branch_switch_is_refused_everywhere(repo: Path, mlops: Runner) -> None:

    git(repo, "switch", "-q", "-c", "more-rows")
    (repo / "data" / "points.csv").write_text(points(60, shift=2))
    with dvc_repo(repo) as dvc:
        dvc.add(str(repo / "data" / "points.csv"))
    commit(repo, "More rows")
    git(repo, "switch", "-q", "main")  # without `dvc checkout`: the file keeps 60 rows
    assert (repo / "data" / "points.csv").read_text() == points(60, shift=2)

    stale = "data/points.csv does not match data/points.csv.dvc (run dvc checkout)"
    validated = mlops("validate", cwd=repo)
    assert validated.returncode == 1
    assert re.search(
        rf"mlops/datasets/points.yaml:\d+:\d+: error: {re.escape(stale)}\n", validated.stdout
    )
    for command in ("train", "diff"):
        done = mlops(command, cwd=repo)
        assert done.returncode == 1 and stale in output(done), output(done)
        assert "Traceback" not in done.stderr
    store = repo / ".mlops" / "store"
    assert not store.exists() or not any(p.is_file() for p in store.rglob("*"))

    with dvc_repo(repo) as dvc:
        dvc.checkout()
    assert mlops("validate", cwd=repo).returncode == 0


def test_the_md5_of_an_unchanged_file_is_computed_once(repo: Path) -> None:
    data = repo / "data" / "points.csv"
    assert md5_of(data, "md5", repo) == md5(points(40))
    # A planted answer for the same size, mtime and inode is believed: the file is not read.
    cache = repo / CACHE_FILE
    cache.write_text(cache.read_text().replace(md5(points(40)), "f" * 32))
    assert md5_of(data, "md5", repo) == "f" * 32
    data.write_text(points(40, shift=3))  # any change of the stamp hashes again
    assert md5_of(data, "md5", repo) == md5(points(40, shift=3))


# --- the privileged comment job ---------------------------------------------------------


def test_a_diff_command_on_a_crafted_pointer_replies_without_the_data(
    repo: Path, mlops: Runner, secret: Path, tmp_path: Path
) -> None:
    from engine.forge.standin.server import GitHubStandIn
    from tests.func.test_comments import PR, REPO, origin_of, replies, run

    git(repo, "push", "-q", "origin", "main")
    stolen = crafted(str(secret), md5(points(40)))["import-hash"]
    head = on_branch(repo, "steal", {"data/points.csv.dvc": stolen})
    git(repo, "push", "-q", "origin", "steal")
    with GitHubStandIn(REPO, git_dir=origin_of(repo)) as gh:
        gh.add_pull(PR, head_sha=head, author="mallory", head_ref="steal")
        gh.set_permission("ada", "write")
        for command in ("/diff", "/retrain points-logreg"):
            run(mlops, repo, tmp_path, gh, command)
        posted = replies(gh)
    assert len(posted) == 2
    for reply in posted:
        assert "data/points.csv.dvc:1:1" in reply and not leaks(reply)


# --- where a bad cell is ----------------------------------------------------------------


def test_a_bad_cell_is_shown_at_its_line_and_column_in_the_csv(repo: Path, mlops: Runner) -> None:
    """Issue 11: validate and train pointed at the dataset YAML's ``source`` line."""

    lines = points(40).splitlines()
    lines[12] = "oops," + lines[12].split(",", 1)[1]  # row 12 (from 1): line 13 of the file
    (repo / "data" / "points.csv").write_text("\n".join(lines) + "\n")
    with dvc_repo(repo) as dvc:
        dvc.add(str(repo / "data" / "points.csv"))
    sha = commit(repo, "A typo in the data")
    where = "data/points.csv:13:1: "
    reason = "column 'x0' holds text where float is declared"
    for args in (("validate",), ("validate", "--rev", sha), ("validate", "mlops/datasets")):
        done = mlops(*args, cwd=repo)
        assert done.returncode == 1, output(done)
        assert f"{where}error: {reason} (mlops/datasets/points.yaml:" in done.stdout
        assert "oops" not in output(done)  # the data's values never reach a message
    trained = mlops("train", cwd=repo)
    assert trained.returncode == 1 and f"{where}{reason}" in output(trained)
