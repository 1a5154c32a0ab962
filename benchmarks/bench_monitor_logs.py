"""Benchmark: ``mlops monitor --logs`` on a month of prediction logs, as a fresh process.

A throwaway repository gets iris-logreg trained and promoted to staging by the real
commands; then N logged requests are written as ``mlops serve`` writes them
(:func:`engine.serving.logs.log_line`: inputs as columns, predictions and probabilities,
compact JSON) over 28 days, in rotated files of two server processes
(``predictions-101.jsonl.2``, ``.1``, the live file, and ``predictions-102.jsonl``). Of
them: 5% were answered by another version (a canary), 1% were refused (400, ``inputs:
null``), 5% carry several rows; a labels file names 20% of the requests (late labels, most
before the window). Each run is ``mlops monitor --env staging --logs DIR --labels FILE
--json`` under ``/usr/bin/time`` (wall, user+sys CPU, peak RSS of the process), with
``--since`` the last ``--window-days`` days (default: the whole month is judged, the
worst case for memory).

In the same run, alternating, so both see the same load:

- ``before``: the same command from the code of a reference revision, when given
  (``--before 8ca1f5c``: the commit before monitoring streamed its logs; or a folder
  holding a revision's ``engine/``, e.g. from ``git archive``);
- ``json floor``: a bare interpreter that only reads the same files line by line and
  ``json.loads`` each one (no record kept): what any reader of these logs pays.

Goal: peak RSS at 1,000,000 lines <= 0.5x the reference revision's, wall and CPU no worse,
and the same JSON report (printed: `reports: identical`).

    .venv/bin/python benchmarks/bench_monitor_logs.py [--lines 100000 1000000] [--before REV]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.conftest import init_repo  # noqa: E402

START = 1_764_460_800  # 2025-11-30 00:00 UTC
DAYS = 28
MLOPS = Path(sys.executable).parent / "mlops"
FEATURES = ("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)")
FLOOR = (
    "import json, sys\n"
    "from pathlib import Path\n"
    "n = 0\n"
    "for path in sorted(Path(sys.argv[1]).iterdir()):\n"
    "    with path.open('rb') as handle:\n"
    "        for line in handle:\n"
    "            json.loads(line); n += 1\n"
    "print(n)\n"
)


def mlops_env(code: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PYTHON"))}
    return {**env, "PYTHONPATH": str(code)}


def staged_repo(folder: Path) -> tuple[Path, str]:
    """iris-logreg trained and promoted to staging; its pinned version."""
    repo = init_repo(folder / "repo")
    for args in (("train", "iris-logreg"), ("promote", "iris-logreg", "--to", "staging")):
        done = subprocess.run(
            [str(MLOPS), *args],
            cwd=repo, env=mlops_env(ROOT), capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode:
            raise SystemExit(done.stdout + done.stderr)
    sys.path.insert(0, str(ROOT))
    from engine.environments.pins import read_pins

    pins = read_pins(repo, "env/staging")
    assert pins is not None
    return repo, pins["iris-logreg"].version


def write_logs(folder: Path, lines: int, version: str) -> Path:
    """``lines`` requests in rotated files, and a labels file for a fifth of them."""
    import numpy as np

    from engine.serving.logs import log_line

    folder.mkdir(parents=True)
    rng = np.random.default_rng(7)
    names = ["predictions-101.jsonl.2", "predictions-101.jsonl.1", "predictions-101.jsonl"]
    per_file = -(-lines // 4)
    handles = [(folder / n).open("w") for n in names] + [
        (folder / "predictions-102.jsonl").open("w")
    ]
    labels = (folder.parent / "labels.csv").open("w")
    labels.write("request_id,target\n")
    means = np.array([5.8, 3.0, 3.8, 1.2])
    for i in range(lines):
        which = rng.random()
        rows = 3 if which < 0.05 else 1
        values = (means + rng.normal(0, 0.5, (rows, 4))).round(2)
        predicted = rng.integers(0, 3, rows)
        proba = rng.dirichlet((1, 1, 1), rows).round(6)
        refused = 0.05 <= which < 0.06
        record = log_line(
            request_id=f"req-{i:07d}",
            model="iris-logreg",
            version="0000canary00" if 0.06 <= which < 0.11 else version,
            inputs=None if refused else {f: values[:, k].tolist() for k, f in enumerate(FEATURES)},
            outputs={"error": "instances[0]: expected a number"}
            if refused
            else {"predictions": predicted.tolist(), "probabilities": proba.tolist()},
            latency_ms=float(rng.gamma(2.0, 1.5)),
            status=400 if refused else 200,
            endpoint="/v1/models/iris-logreg:predict",
            source="http://127.0.0.1:8080/",
            time=datetime.fromtimestamp(START + i * DAYS * 86400 / lines, UTC).isoformat(),
        )
        # the first three files are one process's live file and backups, oldest first;
        # the fourth is a second worker's, interleaved in time
        target = handles[min(i // per_file, 2)] if i % 4 else handles[3]
        target.write(json.dumps(record, separators=(",", ":")) + "\n")
        if not refused and rng.random() < 0.2:
            for k in range(rows):
                labels.write(f"req-{i:07d},{int(predicted[k]) if rng.random() < 0.9 else 0}\n")
    for handle in [*handles, labels]:
        handle.close()
    return folder


REPORTS: dict[str, str] = {}
"""The last JSON report of each side, to compare."""


def measure(argv: list[str], cwd: Path, env: dict[str, str], side: str = "") -> dict[str, float]:
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%e %U %S %M", *argv],
        cwd=cwd, env=env, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode:
        raise SystemExit(f"{argv[:4]} failed:\n{done.stderr[-3000:]}")
    wall, user, system, peak = done.stderr.split()[-4:]
    REPORTS[side] = done.stdout
    return {
        "wall": float(wall),
        "cpu": float(user) + float(system),
        "peak_mib": int(peak) / 1024,
    }


def show(name: str, figures: dict[str, float]) -> str:
    return (
        f"{name:>22}: {figures['wall']:6.1f} s wall {figures['cpu']:6.1f} s CPU "
        f"{figures['peak_mib']:6.0f} MiB peak RSS"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--before",
        default="",
        help="a reference revision (or a folder with its engine/) to run as well",
    )
    parser.add_argument("--window-days", type=int, default=0, help="--since: the last N days")
    parser.add_argument("--pairs", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        repo, version = staged_repo(folder)
        before = None
        if args.before and Path(args.before, "engine").is_dir():
            before = Path(args.before).resolve()  # a copy of a revision's code
        elif args.before:
            before = folder / "before"
            archive = subprocess.run(
                ["git", "-C", str(ROOT), "archive", args.before, "engine"],
                capture_output=True, check=True,
            ).stdout  # fmt: skip
            with tarfile.open(fileobj=BytesIO(archive)) as tar:
                tar.extractall(before, filter="data")
        for lines in args.lines:
            logs = write_logs(folder / f"logs-{lines}" / "logs", lines, version)
            size = sum(p.stat().st_size for p in logs.iterdir())
            print(f"{lines:,} logged requests, {size / 2**20:.0f} MiB in 4 files", flush=True)
            command = [str(MLOPS), "monitor", "--env", "staging"]
            command += ["--logs", str(logs), "--labels", str(logs.parent / "labels.csv"), "--json"]
            if args.window_days:
                since = START + (DAYS - args.window_days) * 86400
                command += ["--since", datetime.fromtimestamp(since, UTC).isoformat()]
            for _ in range(args.pairs):
                if before is not None:
                    figures = measure(command, repo, mlops_env(before), "before")
                    print(show(f"before ({args.before})", figures))
                print(show("now", measure(command, repo, mlops_env(ROOT), "now")), flush=True)
                floor = [sys.executable, "-c", FLOOR, str(logs)]
                print(show("json floor", measure(floor, folder, mlops_env(ROOT))), flush=True)
            if before is not None:  # the same findings, figure for figure
                same = REPORTS["before"] == REPORTS["now"]
                print(f"{'reports':>22}: {'identical' if same else 'DIFFER'} (--json)")


if __name__ == "__main__":
    main()
