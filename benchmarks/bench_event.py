"""A ``pull_request`` event whose diff touches no definitions or data, end to end.

Goal: ≤ 1.0 s wall (a fresh ``mlops event`` process) and ≤ 5 GitHub API calls, against
the GitHub stand-in on loopback, with a token that may write (a same-repository PR, so
the event publishes directly). Every API call is listed, so a repeated one shows.

Two cases: a store that holds every version (a warm cache), and an empty store (the
report job on Actions, nothing downloaded), where the event must train nothing at all.

Run: ``.venv/bin/python benchmarks/bench_event.py``
"""

from __future__ import annotations

import json
import os
import shutil
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


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
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
            store = root / ".mlops" / "store"
            for case in ("every version stored", "empty store"):
                if case == "empty store":
                    shutil.rmtree(store)
                times, calls = _runs(gh, root, env)
                if case == "empty store":
                    assert not store.exists() or not any(store.rglob("meta.json")), "trained"
                print(
                    f"pull_request event, no definition touched, {case}: median "
                    f"{statistics.median(times):.3f} s, best {min(times):.3f} s (goal ≤ 1.0)"
                )
                for label, run in (("first run", calls[0]), ("later runs", calls[-1])):
                    print(f"  API calls, {label}: {len(run)} (goal ≤ 5)")
                    for request in run:
                        print(f"    {request.method} {request.path} -> {request.status}")
            assert len(gh.comments(PR)) == 1
    return 0


def _runs(gh: GitHubStandIn, root: Path, env: dict[str, str]) -> tuple[list[float], list]:
    """Five fresh ``mlops event`` processes: their wall times and the API calls of each."""
    times, calls = [], []
    for _ in range(5):
        before = len(gh.requests)
        started = time.perf_counter()
        done = subprocess.run(
            [str(MLOPS), "event"], cwd=root, env=env, capture_output=True, text=True
        )
        times.append(time.perf_counter() - started)
        calls.append(gh.requests[before:])
        assert done.returncode == 0, done.stderr
    return times, calls


if __name__ == "__main__":
    raise SystemExit(main())
