"""The scheduled monitor's job summary is rendered by GitHub like the issue it opens: a
value or column name from monitored data (what clients sent) must not be live there
either. The issue body was neutralized; the summary was written raw
(``engine/github/watch.py`` ``_alerts``); fixed."""

from __future__ import annotations

import pytest

from engine.forge.standin.server import GitHubStandIn
from tests.func.test_alerts import REPO, deployed, prepared, schedule_env, write_batch

__all__ = ["deployed", "prepared"]

pytestmark = pytest.mark.slow


def test_the_job_summary_has_nothing_live_from_the_data(deployed, mlops, tmp_path):
    crafted = "@octo/admins ![x](https://evil.example/p.png) <img src=x>"
    with GitHubStandIn(REPO) as gh:
        write_batch(deployed, shift=1.5, rename={"sepal width (cm)": crafted})
        result = mlops("event", cwd=deployed, env=schedule_env(tmp_path, gh.url))
        assert result.returncode == 0, result.stderr
    summary = (tmp_path / "summary.md").read_text()
    assert "octo/admins" in summary  # still shown, as text
    assert "@octo" not in summary and "](https://evil" not in summary and "<img" not in summary
    assert "xychart-beta" in summary  # the charts stay
