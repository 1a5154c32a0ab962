"""Benchmark: load and check a 1,000,000-row x 20-column CSV.

Goal: load + check in <= 3 s wall, with peak memory <= 3x the file size. Each run happens
in a fresh child process so its peak RSS (``resource.getrusage``) belongs to this work
alone: the figure reported is the rise of the peak over the child's RSS after imports.

Two ways in are measured: the working tree (plain Arrow I/O) and a git revision, read
by hash from the DVC cache (``git init`` + ``dvc add`` in a temporary folder). Either way
the bytes are verified against the pointer's md5; the first read of a file hashes it
("cold"), later reads find the md5 in ``.mlops/cache/md5.json`` by size, mtime and inode
("warm"). The reference, in the same run, is a bare ``hashlib.md5`` pass over the file.

    .venv/bin/python benchmarks/bench_data.py [--rows N] [--runs K]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOATS, INTS = 15, 3
SEGMENTS = ["retail", "smb", "enterprise", "public", "education"]


def dataset_spec() -> dict[str, object]:
    """The definition checked: bounds on every column, a categorical, a binary target."""
    columns: dict[str, object] = {
        f"f{i}": {"type": "float", "min": -10, "max": 10} for i in range(FLOATS)
    }
    columns["f0"] = {"type": "float", "min": -10, "max": 10, "nullable": True}
    columns.update({f"i{i}": {"type": "int", "min": 0, "max": 1000} for i in range(INTS)})
    columns["segment"] = {"type": "string", "values": SEGMENTS}
    columns["target"] = {"type": "int", "values": [0, 1]}
    return {
        "name": "bench",
        "source": {"path": "data/bench.csv"},
        "target": "target",
        "schema": {"columns": columns},
        "checks": {"min_rows": 1000, "max_null_fraction": 0.05},
    }


def generate(path: Path, rows: int) -> None:
    """Write the CSV: 15 floats (one with 1% nulls), 3 ints, a categorical, a target."""
    import numpy as np
    import pyarrow as pa
    from pyarrow import csv

    rng = np.random.default_rng(0)
    data: dict[str, object] = {}
    for i in range(FLOATS):
        data[f"f{i}"] = pa.array(rng.normal(size=rows))
    data["f0"] = pa.array(rng.normal(size=rows), mask=rng.random(rows) < 0.01)
    for i in range(INTS):
        data[f"i{i}"] = pa.array(rng.integers(0, 1000, size=rows))
    data["segment"] = pa.array(np.array(SEGMENTS)[rng.integers(0, len(SEGMENTS), rows)])
    data["target"] = pa.array(rng.integers(0, 2, size=rows))
    csv.write_csv(pa.table(data), str(path))


def track(root: Path, path: Path) -> str:
    """Make ``root`` a git + DVC repository with ``path`` added and committed; its commit."""
    from dvc.repo import Repo

    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True)
        return out.stdout.strip()

    git("init", "-q")
    git("config", "user.email", "bench@example.com")
    git("config", "user.name", "bench")
    with Repo.init(str(root)) as repo, repo.config.edit() as conf:
        conf["core"]["analytics"] = False
    with Repo(str(root)) as repo:
        repo.add(str(path))
    git("add", "-A")
    git("commit", "-q", "-m", "data")
    return git("rev-parse", "HEAD")


def child(root: Path, rev: str | None, cold: bool) -> None:
    """One measured run: print wall times and the peak RSS rise as JSON."""
    import pyarrow  # noqa: F401  # imports are not part of the figure

    from engine.data.tables import check_table, load_table
    from engine.definitions.formats import Dataset

    if rev:
        import dvc.repo  # noqa: F401

    from engine.data.content import CACHE_FILE

    if cold:
        (root / CACHE_FILE).unlink(missing_ok=True)
    dataset = Dataset.model_validate(dataset_spec())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    table = load_table(dataset, root, rev)
    loaded = time.perf_counter()
    findings = check_table(dataset, table)
    done = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "load_s": loaded - start,
        "check_s": done - loaded,
        "total_s": done - start,
        "peak_rise_bytes": (peak - before) * 1024,  # ru_maxrss is in KiB on Linux
        "findings": [f.message for f in findings],
    }
    print(json.dumps(result))


def measure(label: str, root: Path, rev: str | None, runs: int, size: int, cold: bool) -> None:
    """Run ``runs`` fresh children and print each run and the median."""
    results = []
    for _ in range(runs):
        command = [sys.executable, __file__, "--child", str(root), "--rev", rev or ""]
        command += ["--cold"] if cold else []
        out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
        results.append(json.loads(out.stdout))
    print(f"{label}:")
    for i, r in enumerate(results, 1):
        print(
            f"  run {i}: load {r['load_s']:.2f} s + check {r['check_s']:.2f} s = "
            f"{r['total_s']:.2f} s; peak RSS +{r['peak_rise_bytes'] / 2**20:,.0f} MiB "
            f"({r['peak_rise_bytes'] / size:.2f}x the file)"
        )
    median = statistics.median(r["total_s"] for r in results)
    worst = max(r["peak_rise_bytes"] for r in results) / size
    print(f"  findings: {results[0]['findings'] or 'none'}")
    print(f"  median wall {median:.2f} s (goal <= 3 s); worst peak {worst:.2f}x (goal <= 3x)")


def verification(root: Path, path: Path, runs: int) -> None:
    """The md5 check alone: cold (hashed), warm (found by stat), and a bare md5 pass."""
    from engine.data.content import CACHE_FILE, md5_of

    def timed(work: Callable[[], object]) -> float:
        started = time.perf_counter()
        work()
        return time.perf_counter() - started

    bare, cold, warm = [], [], []
    for _ in range(runs):
        bare.append(timed(lambda: _bare_md5(path)))
        (root / CACHE_FILE).unlink(missing_ok=True)
        cold.append(timed(lambda: md5_of(path, "md5", root)))
        warm.append(timed(lambda: md5_of(path, "md5", root)))
    med = statistics.median
    print(
        f"md5 check of the file (median of {runs}): bare hashlib {med(bare):.3f} s; "
        f"cold {med(cold):.3f} s ({med(cold) / med(bare):.2f}x bare); "
        f"warm {med(warm) * 1000:.2f} ms"
    )


def _bare_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fobj:
        while chunk := fobj.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def main() -> None:
    """Generate the CSV once, then measure fresh child processes and print the figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rev", default="", help=argparse.SUPPRESS)
    parser.add_argument("--cold", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rev or None, args.cold)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "data").mkdir()
        csv_path = root / "data" / "bench.csv"
        start = time.perf_counter()
        generate(csv_path, args.rows)
        size = csv_path.stat().st_size
        print(
            f"generated {args.rows:,} rows x 20 columns: {size / 2**20:,.0f} MiB "
            f"in {time.perf_counter() - start:.1f} s"
        )
        rev = track(root, csv_path)
        verification(root, csv_path, args.runs)
        for cold in (True, False):
            how = "cold: hashes the file" if cold else "warm: md5 cached by stat"
            measure(f"working tree ({how})", root, None, args.runs, size, cold)
            measure(f"at a revision, from the DVC cache ({how})", root, rev, args.runs, size, cold)


if __name__ == "__main__":
    main()
