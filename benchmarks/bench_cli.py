"""How fast the cheap commands are, measured as a user sees them (wall time, fresh process).

- ``mlops --help``: goal ≤ 0.15 s (``dvc --version`` shown for scale).
- ``mlops validate --no-data`` on 200 models, 20 datasets and 5 feature sets (generated
  by bench_plan's builder): goal ≤ 1.0 s including interpreter start-up.
- ``mlops plan`` between two commits of that repository: goal ≤ 1.0 s.

Run: ``.venv/bin/python benchmarks/bench_cli.py``
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_plan import build

BIN = Path(sys.executable).parent


def wall(args: list[str], cwd: Path | None = None, runs: int = 7) -> float:
    """Median wall time of a command over ``runs`` runs (after one warm-up)."""
    subprocess.run(args, cwd=cwd, capture_output=True)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(args, cwd=cwd, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    print(f"mlops --help              {wall([str(BIN / 'mlops'), '--help']):.3f} s  (goal ≤ 0.15)")
    print(f"dvc --version             {wall([str(BIN / 'dvc'), '--version']):.3f} s  (for scale)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base, head = build(root)
        check = subprocess.run(
            [str(BIN / "mlops"), "validate", "--no-data"], cwd=root, capture_output=True, text=True
        )
        print(f"  ({check.stderr.strip()})")
        took = wall([str(BIN / "mlops"), "validate", "--no-data"], cwd=root)
        print(f"validate 200/20/5 no data {took:.3f} s  (goal ≤ 1.0)")
        took = wall(
            [str(BIN / "mlops"), "plan", "--base", base, "--head", head, "--json"], cwd=root
        )
        print(f"plan 200/20/5             {took:.3f} s  (goal ≤ 1.0)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
