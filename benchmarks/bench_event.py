"""A ``pull_request`` event whose diff touches no definitions or data, end to end.

Goal (issue 14): ≤ 0.4 s wall (a fresh ``mlops event`` process) and ≤ 3 GitHub API calls, against
the GitHub stand-in on loopback, with a token that may write (a same-repository PR, so
the event publishes directly). Every API call is listed, so a repeated one shows.

Run: ``.venv/bin/python benchmarks/bench_event.py``
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from engine.forge.standin.server import GitHubStandIn  # noqa: E402
from tests.conftest import git, init_repo  # noqa: E402

REPO, PR = "octo/models", 3
MLOPS = Path(sys.executable).parent / "mlops"


def measure(folder: Path, runs: int = 5) -> tuple[float, int]:
    """Median wall seconds of ``runs`` events and the API calls of the last one."""
    times, calls = events(folder, runs)
    return statistics.median(times), len(calls[-1])


def events(folder: Path, runs: int) -> tuple[list[float], list[list]]:
    """Run the event ``runs`` times in a fresh repository; wall times and API calls."""
    tmp = str(folder)
    root = init_repo(Path(tmp) / "repo")
    subprocess.run([str(MLOPS), "train"], cwd=root, capture_output=True, check=True)
    base = git(root, "rev-parse", "HEAD")
    git(root, "switch", "-q", "-c", "docs")
    (root / "README.md").write_text("# Models\n\nNow with a README.\n")
    git(root, "add", "README.md")
    git(root, "commit", "-q", "-m", "Add a README")
    head = git(root, "rev-parse", "HEAD")
    data = json.loads(
        (ROOT / "tests/fixtures/github/webhooks/pull_request.opened.json").read_text()
    )
    data["repository"]["full_name"] = REPO
    pr = data["pull_request"]
    pr["number"], data["number"] = PR, PR
    pr["head"]["sha"], pr["base"]["sha"] = head, base
    pr["head"]["repo"]["full_name"] = pr["base"]["repo"]["full_name"] = REPO
    event = Path(tmp) / "event.json"
    event.write_text(json.dumps(data))
    times, calls = [], []
    with GitHubStandIn(REPO) as gh:
        gh.add_pull(PR, head_sha=head)
        env = {
            **os.environ,
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_API_URL": gh.url,
            "GITHUB_TOKEN": "ghs_standin",
            "GITHUB_SHA": head,
            "GITHUB_STEP_SUMMARY": str(Path(tmp) / "summary.md"),
            "GITHUB_OUTPUT": str(Path(tmp) / "output.txt"),
        }
        for _ in range(runs):
            before = len(gh.requests)
            started = time.perf_counter()
            done = subprocess.run(
                [str(MLOPS), "event"], cwd=root, env=env, capture_output=True, text=True
            )
            times.append(time.perf_counter() - started)
            calls.append(gh.requests[before:])
            assert done.returncode == 0, done.stderr
        assert len(gh.comments(PR)) == 1
    return times, calls


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        times, calls = events(Path(tmp), 5)
        print(
            f"pull_request event, no definition touched: median {statistics.median(times):.3f}"
            f" s, best {min(times):.3f} s (goal ≤ 0.4)"
        )
        for label, run in (("first run", calls[0]), ("later runs", calls[-1])):
            print(f"API calls, {label}: {len(run)} (goal ≤ 3)")
            for request in run:
                print(f"    {request.method} {request.path} -> {request.status}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
