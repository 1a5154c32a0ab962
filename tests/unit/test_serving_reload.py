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
