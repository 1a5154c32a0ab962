"""A ``pull_request`` event whose diff touches no definitions or data, end to end.

Goal (issue 14): ≤ 0.4 s wall (a fresh ``mlops event`` process) and ≤ 3 GitHub API calls
(issue 11: ≤ 1.0 s, ≤ 5 calls), against the GitHub stand-in on loopback, with a token that
may write (a same-repository PR, so the event publishes directly) and an empty store, as
in the pull-request job. Every API call is listed, so a repeated one shows. The first run
publishes a new report (the head check, the comment, two statuses); later runs on the same
head find everything said already (three reads). The first run also plans the change in
full (an empty parse cache) and remembers that its definitions plan cleanly; later runs
find that in the parse cache, as the workflows' restored cache does, and load no
definition (nor pydantic or the YAML parser). For scale, in the same run: the bare
interpreter's start-up and ``mlops --help``'s, and the CPU seconds of each (user + system,
children included), which a busy machine inflates less than wall time.

The engine's bytecode is compiled first, as ``pip install`` does in the workflows: with
``PYTHONDONTWRITEBYTECODE`` set (as in some shells) every run would otherwise compile the
engine's modules again, a cost no Actions job pays.

``--instructions`` also counts the instructions of one more (later) run under valgrind's
callgrind, the git processes left out: a figure the machine's load does not move, to
compare two versions of the engine on a busy machine (the no-op event: 736 M instructions
before the GitHub client's unused imports were deferred, 658 M after).

Run: ``.venv/bin/python benchmarks/bench_event.py [--runs N] [--instructions]``
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import re
import resource
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


def measure(folder: Path, runs: int = 5) -> tuple[float, int]:
    """Median wall seconds of ``runs`` events and the API calls of the last one."""
    times, calls = events(folder, runs)
    return statistics.median(times), len(calls[-1])


def events(folder: Path, runs: int) -> tuple[list[float], list[list]]:
    """Run the event ``runs`` times in a fresh repository; wall times and API calls."""
    times, calls, _ = _events(folder, runs)
    return times, calls


def _events(
    folder: Path, runs: int, instructions: list[int] | None = None
) -> tuple[list[float], list[list], list[float]]:
    """Wall times, API calls and CPU seconds of ``runs`` events (the store stays empty);
    with ``instructions``, one more event's instruction count is appended to it."""
    tmp = str(folder)
    compileall.compile_dir(str(ROOT / "engine"), quiet=1)
    root = init_repo(Path(tmp) / "repo")
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
    times, calls, cpu = [], [], []
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
            wall, used, done = _run([str(MLOPS), "event"], root, env)
            times.append(wall)
            cpu.append(used)
            calls.append(gh.requests[before:])
            assert done.returncode == 0, done.stderr
        if instructions is not None:
            instructions.append(_instructions([str(MLOPS), "event"], root, env))
        assert len(gh.comments(PR)) == 1
        assert not (root / ".mlops" / "store").exists()  # nothing was trained
    return times, calls, cpu


def _run(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall and CPU seconds (user + system, its children included) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, used, done


def _instructions(args: list[str], cwd: Path, env: dict[str, str]) -> int:
    """Instructions one command executes (callgrind; fixed hash seed, children not traced)."""
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out", *args],
            cwd=cwd,
            env={**env, "PYTHONHASHSEED": "0"},
            capture_output=True,
            text=True,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r"Collected : (\d+)", done.stderr)
    assert found, done.stderr[-2000:]
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--instructions", action="store_true", help="count one run's instructions (valgrind)"
    )
    args = parser.parse_args()
    if args.instructions and shutil.which("valgrind") is None:
        parser.error("--instructions needs valgrind on PATH")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    counted: list[int] | None = [] if args.instructions else None
    with tempfile.TemporaryDirectory() as tmp:
        times, calls, cpu = _events(Path(tmp), args.runs, counted)
        references = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "mlops --help": [str(MLOPS), "--help"],
        }
        scale = {
            name: [_run(cmd, Path(tmp))[:2] for _ in range(args.runs)]
            for name, cmd in references.items()
        }
    median = statistics.median
    print(
        f"pull_request event, no definition touched, empty store: median {median(times):.3f} s"
        f" wall, {median(cpu):.3f} s CPU; first run {times[0]:.3f} s (goal ≤ 0.4; issue 11:"
        " ≤ 1.0)"
    )
    for name, figures in scale.items():
        walls, cpus = [w for w, _ in figures], [c for _, c in figures]
        print(f"  for scale, {name}: median {median(walls):.3f} s wall, {median(cpus):.3f} s CPU")
    if counted:
        print(f"  instructions of a later run (callgrind, git left out): {counted[0] / 1e6:.1f} M")
    for label, run in (("first run", calls[0]), ("later runs", calls[-1])):
        print(f"API calls, {label}: {len(run)} (goal ≤ 3; issue 11: ≤ 5)")
        for request in run:
            print(f"    {request.method} {request.path} -> {request.status}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
