"""The branch reloader beside a server: asleep between polls, so it never competes with
the requests for the interpreter, and stopped at once."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from engine.serving.reload import Reloader


def thread_cpu_seconds(native_id: int) -> float:
    fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")
def test_the_reloader_sleeps_between_polls_and_stops_at_once(tmp_path):
    reloader = Reloader(
        tmp_path,  # nothing is read before the first poll
        "staging",
        (),
        repository=None,
        build=lambda pinned: [],
        interval=60,
        announce=lambda line: None,
    )
    reloader.start()
    try:
        time.sleep(0.1)
        before = thread_cpu_seconds(reloader.native_id)
        end = time.perf_counter() + 0.5
        while time.perf_counter() < end:  # this thread is busy meanwhile, as a request is
            sum(range(1000))
        assert thread_cpu_seconds(reloader.native_id) - before < 0.02
    finally:
        t0 = time.perf_counter()
        reloader.stop()
        reloader.join(timeout=5)
    assert not reloader.is_alive() and time.perf_counter() - t0 < 1.0


def test_a_pin_that_cannot_be_served_is_said_once_per_branch_commit(tmp_path):
    """A server polls every 5 seconds: a pin it refuses (a rollback to a file the store no
    longer holds) was announced at every poll, 17,000 lines a day of the same refusal."""
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q", "-b", "env/staging")
    git("-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q", "--allow-empty", "-m", "1")
    said: list[str] = []
    reloader = Reloader(
        tmp_path, "staging", (), repository=None, build=lambda pinned: [], interval=60,
        announce=said.append,
    )  # fmt: skip
    reloader.branch = "env/staging"
    for _ in range(3):
        assert not reloader.poll()  # no mlops/project.yaml: its pins cannot be served
    assert len(said) == 1 and "still serving the previous versions" in said[0]
    git("-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q", "--allow-empty", "-m", "2")
    assert not reloader.poll() and not reloader.poll()
    assert len(said) == 2  # the branch moved: said again, once
