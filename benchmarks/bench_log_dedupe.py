"""Benchmark: the memory and CPU that dropping duplicate log records costs ``mlops monitor``.

Writes N prediction-log lines as ``mlops serve`` writes them (``log_line``, compact JSON,
one row of four iris inputs per request; every line distinct, the worst case: a digest
kept for each), then reads them with :func:`engine.monitoring.logs.read_logs` in a child
process under ``/usr/bin/time``, alternating this worktree's code with the code of a
reference revision (default: the commit before duplicates were dropped), so both run on
the same machine load. Peak RSS (``%M``) and CPU seconds are the fair figures.
Goal: the digests add at most 15% to the reader's peak memory.

    .venv/bin/python benchmarks/bench_log_dedupe.py [--lines N] [--before REV] [--pairs K]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READ = (
    "import sys; from pathlib import Path; from engine.monitoring.logs import read_logs; "
    "logs = read_logs([Path(sys.argv[1])]); "
    "print(len(logs.predictions), getattr(logs, 'duplicates', 'n/a'))"
)


def write_lines(path: Path, lines: int) -> None:
    sys.path.insert(0, str(ROOT))
    from engine.serving.logs import log_line

    start = 1_764_460_800
    with path.open("w") as out:
        for i in range(lines):
            record = log_line(
                request_id=f"req-{i}",
                model="iris-logreg",
                version="422b02ba9019",
                inputs={
                    "sepal length (cm)": [4.3 + (i % 36) / 10],
                    "sepal width (cm)": [2.0 + (i % 24) / 10],
                    "petal length (cm)": [1.0 + (i % 59) / 10],
                    "petal width (cm)": [0.1 + (i % 25) / 10],
                },
                outputs={"predictions": [i % 3]},
                latency_ms=1.0 + (i % 997) / 100,
                status=200,
                endpoint="/v1/models/iris-logreg:predict",
                source="http://127.0.0.1:8080/",
                time=datetime.fromtimestamp(start + i / 10, UTC).isoformat(),
            )
            out.write(json.dumps(record, separators=(",", ":")) + "\n")


def measure(code: Path, logs: Path) -> dict[str, str]:
    result = subprocess.run(
        ["/usr/bin/time", "-f", "%e %U %S %M", sys.executable, "-c", READ, str(logs)],
        env={"PYTHONPATH": str(code), "PATH": "/usr/bin:/bin"},
        cwd=logs.parent,  # not this worktree: `python -c` puts the working folder first
        capture_output=True,
        text=True,
        check=True,
    )
    wall, user, system, peak = result.stderr.split()[-4:]
    return {
        "read": result.stdout.strip(),
        "wall": wall,
        "cpu": f"{float(user) + float(system):.2f}",
        "peak_mib": f"{int(peak) / 1024:.0f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--before", default="3a06c4b", help="the reference revision")
    parser.add_argument("--pairs", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        logs = folder / "predictions-1.jsonl"
        write_lines(logs, args.lines)
        before = folder / "before"
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.before, "engine"],
            capture_output=True,
            check=True,
        ).stdout
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(before, filter="data")
        print(f"{args.lines:,} lines, {logs.stat().st_size / 2**20:.0f} MiB")
        for _ in range(args.pairs):
            for name, code in ((f"before ({args.before})", before), ("now", ROOT)):
                print(f"{name:>18}: {measure(code, logs)}", flush=True)


if __name__ == "__main__":
    main()
