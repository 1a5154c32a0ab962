"""``mlops demo`` end to end: every step's outcome, and nothing left behind.

One full run (module scope) is checked step by step; cheaper runs with fewer steps check
``--keep`` and the clean-up after a failing step.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import demo
from engine.demo.lifecycle import Run, Step
from engine.demo.server import listening, start
from engine.errors import UserError

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def private_tmp(folder: Path) -> Iterator[Path]:
    """Temporary files of this process and its children go to ``folder`` while it lasts, so
    what the demo leaves behind is told apart from what other processes write to /tmp."""
    folder.mkdir(parents=True, exist_ok=True)
    saved_dir, saved_env = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir, os.environ["TMPDIR"] = str(folder), str(folder)
    try:
        yield folder
    finally:
        tempfile.tempdir = saved_dir
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for good but still answers kill(0)
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]
    except OSError:
        return False


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> tuple[demo.Demo, list[str], Path]:
    lines: list[str] = []
    with private_tmp(tmp_path_factory.mktemp("tmp")) as tmp:
        result = demo.run(lines.append)
    return result, lines, tmp


def test_every_step_prints_one_line_saying_what_and_why(ran):
    result, lines, _ = ran
    assert [s.name for s in result.steps] == [
        "train",
        "pull request",
        "promote to staging",
        "promote to production",
        "serve",
        "canary",
        "monitor",
        "rollback",
    ]
    numbered = [line for line in lines if line.startswith("[")]
    assert [line.split("]")[0] for line in numbered] == [f"[{n}/8" for n in range(1, 9)]
    assert all(": " in line and line.endswith("s)") for line in numbered)
    assert "The repository is deleted" in lines[-1]


def test_training_stores_versions_and_a_second_run_trains_nothing(ran):
    facts = ran[0].step("train").facts
    assert facts == {"trained": 4, "again": 0}


def test_the_pull_request_is_reviewed_and_the_report_printed(ran):
    result, lines, _ = ran
    facts = result.step("pull request").facts
    assert (facts["verdict"], facts["gates"], facts["exit"]) == ("pass", "success", 0)
    assert "<!-- mlops:report -->" in facts["comment"]
    assert "| **cancer-rf** |" in facts["comment"]
    assert any(line.strip().startswith("| **cancer-rf** |") for line in lines)


def test_promotions_go_through_comments_and_production_policy(ran):
    result = ran[0]
    staging = result.step("promote to staging").facts
    production = result.step("promote to production").facts
    pr_version = staging["version"]
    assert staging["exit"] == 0 and pr_version
    assert production["refused_exit"] == 1
    assert "approving review" in production["refused"]
    assert "trained on the default branch" in production["refused"]
    assert production["allowed_exit"] == 0
    assert production["allowed"].startswith(f"Promoted `cancer-rf` `{pr_version}` to `production`")
    assert production["version"] == pr_version


def test_production_is_served_and_answers_in_both_protocols(ran):
    result = ran[0]
    facts = result.step("serve").facts
    version = result.step("promote to production").facts["version"]
    v1_status, v1_body, v1_version = facts["v1"]
    v2_status, v2_body, v2_version = facts["v2"]
    assert (v1_status, v2_status) == (200, 200)
    assert v1_version == v2_version == version == v1_body["model_version"]
    assert v1_body["predictions"] in ([0], [1])
    outputs = {o["name"]: o["data"] for o in v2_body["outputs"]}
    assert outputs["predictions"] == v1_body["predictions"]


def test_the_canary_gets_a_share_of_the_traffic(ran):
    result = ran[0]
    facts = result.step("canary").facts
    stable = result.step("promote to staging").facts["version"]
    answered = facts["answered"]
    assert set(answered) == {stable, facts["version"]}
    assert sum(answered.values()) == 40
    assert 2 <= answered[facts["version"]] <= 20  # 25% of 40, give or take the hash


def test_the_drifted_batch_is_reported(ran):
    facts = ran[0].step("monitor").facts
    assert facts["status"] != "ok"
    assert {"mean radius", "mean area"} <= set(facts["drifted"])
    assert facts["issue"] == "created"


def test_the_rollback_withdraws_the_canary(ran):
    result = ran[0]
    facts = result.step("rollback").facts
    assert facts["exit"] == 0
    assert facts["version"] == result.step("promote to staging").facts["version"]
    assert facts["canary"] is None


def test_nothing_is_left_behind(ran):
    result, _, tmp = ran
    assert result.folder.parent == tmp and not result.folder.exists()
    assert list(tmp.iterdir()) == []  # nor the worktrees promotions use
    assert len(result.servers) == 2
    for pid, port in result.servers:
        assert not _alive(pid), f"server {pid} still runs"
        assert not listening(port), f"port {port} still listens"


def test_keep_keeps_the_repository_and_says_what_to_try(tmp_path):
    lines: list[str] = []
    result = demo.run(lines.append, keep=tmp_path / "kept", steps=[])
    assert result.repository == tmp_path / "kept" / "repo"
    assert (result.repository / "mlops" / "models" / "cancer-rf.yaml").is_file()
    text = "\n".join(lines)
    assert "The repository is kept. Try:" in text and f"cd {result.repository}" in text
    with pytest.raises(UserError, match="not an empty folder"):
        demo.run(lines.append, keep=tmp_path / "kept", steps=[])


def test_a_failing_step_still_stops_servers_and_deletes_the_folder(tmp_path):
    started: list[tuple[int, int]] = []

    def serve_then_fail(run: Run) -> Step:
        process = start(run.root, "staging", run.log("serve.log"))
        run.stack.callback(process.stop)
        started.append((process.server.pid, process.server.port))
        raise UserError("a step failed")

    with private_tmp(tmp_path / "tmp") as tmp, pytest.raises(UserError, match="a step failed"):
        demo.run(lambda _: None, steps=[serve_then_fail])
    assert list(tmp.iterdir()) == []
    pid, port = started[0]
    assert not _alive(pid) and not listening(port)
