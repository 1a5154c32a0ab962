"""Benchmark: data drift of a 1,000,000 x 20 current batch against a 1,000,000 x 20 reference.

Wall and CPU time are both printed: on a shared machine CPU time is the fairer figure.
Goals: <= 3 s wall and <= 1 GiB peak memory for the engine; >= 40x faster than Evidently's
``DataDriftPreset`` on the same Parquet files, with the same per-feature drifted / not
drifted verdicts. Each side runs in its own child process (Evidently in its own venv, as
it needs pandas < 3), so each peak RSS belongs to that work alone. Evidently is timed on
``Report.run`` only (its pandas frames are read before the clock starts); the engine is
timed twice: the drift computation from Arrow tables, and end to end from the files.

The data: 15 numeric columns (normal, uniform, log-normal; six of them shifted by
0.05 to 1 standard deviation, two close to the 0.1 threshold to exercise the exact
refinement), 5 string columns (two shifted, one with a new category), 2% nulls in two.

    .venv/bin/python benchmarks/bench_monitor.py [--rows N] [--evidently PYTHON]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVIDENTLY = "/tmp/evidently-venv/bin/python"
SHIFTS = {"n1": 0.05, "n3": 0.085, "n5": 0.115, "n7": 0.3, "n9": 1.0, "u2": 0.5}
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]

ENGINE = """
import json, resource, sys, time
start = time.perf_counter()
from pyarrow import parquet
from engine.monitoring.columns import side_of
from engine.monitoring.drift import data_drift
ref_table, cur_table = parquet.read_table(sys.argv[1]), parquet.read_table(sys.argv[2])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0, c0 = time.perf_counter(), time.process_time()
result = data_drift(side_of(ref_table).columns, side_of(cur_table).columns)
compute, cpu = time.perf_counter() - t0, time.process_time() - c0
total = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"compute": compute, "cpu": cpu, "total": total, "peak_mib": peak / 1024,
                  "verdicts": {f.name: f.drifted for f in result.features},
                  "methods": {f.name: f.method for f in result.features}}))
"""

EVIDENTLY_RUN = """
import json, resource, sys, time
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
ref, cur = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
numeric = [c for c in ref.columns if ref[c].dtype.kind == "f"]
definition = DataDefinition(numerical_columns=numeric,
                            categorical_columns=[c for c in ref.columns if c not in numeric])
t0, c0 = time.perf_counter(), time.process_time()
snapshot = Report([DataDriftPreset()]).run(
    Dataset.from_pandas(cur, data_definition=definition),
    Dataset.from_pandas(ref, data_definition=definition))
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
verdicts = {}
for metric in snapshot.dict()["metrics"]:
    config = metric["config"]
    if config.get("type") != "evidently:metric_v2:ValueDrift":
        continue
    value, threshold, method = metric["value"], config["threshold"], config["method"]
    drifted = value <= threshold if "p_value" in method else value >= threshold
    verdicts[config["column"]] = bool(drifted)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"compute": seconds, "cpu": cpu, "peak_mib": peak / 1024, "verdicts": verdicts}))
"""


def write_data(folder: Path, rows: int) -> tuple[Path, Path]:
    """Reference and current Parquet files (seeded)."""
    import numpy as np
    import pyarrow as pa
    from pyarrow import parquet

    def side(seed: int, shifted: bool) -> pa.Table:
        rng = np.random.default_rng(seed)
        columns: dict[str, object] = {}
        for i in range(10):
            columns[f"n{i}"] = rng.normal(SHIFTS.get(f"n{i}", 0.0) if shifted else 0.0, 1, rows)
        for i in range(3):
            shift = SHIFTS.get(f"u{i}", 0.0) if shifted else 0.0
            columns[f"u{i}"] = rng.uniform(0, 1, rows) + shift / np.sqrt(12)
        for i in range(2):
            columns[f"l{i}"] = rng.lognormal(0, 1, rows)
        columns["n0"][rng.random(rows) < 0.02] = np.nan
        for i in range(5):
            p = np.array([0.3, 0.25, 0.2, 0.15, 0.1, 0.0])
            if shifted and i == 1:
                p = np.array([0.15, 0.25, 0.2, 0.15, 0.25, 0.0])
            if shifted and i == 3:
                p = np.array([0.27, 0.22, 0.18, 0.13, 0.1, 0.1])  # a new category
            values = np.array(WORDS)[rng.choice(6, rows, p=p / p.sum())]
            mask = (rng.random(rows) < 0.02) if i == 0 else None
            columns[f"c{i}"] = pa.array(values, mask=mask)
        return pa.table(columns)

    ref, cur = folder / "reference.parquet", folder / "current.parquet"
    parquet.write_table(side(1, False), ref)
    parquet.write_table(side(2, True), cur)
    return ref, cur


def child(python: str, code: str, ref: Path, cur: Path) -> dict[str, object]:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [python, "-c", code, str(ref), str(cur)], capture_output=True, text=True, env=env,
        timeout=3600,
    )  # fmt: skip
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="Engine runs (best is reported).")
    parser.add_argument("--evidently", default=EVIDENTLY, help="Python of Evidently's venv.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        ref, cur = write_data(Path(tmp), args.rows)
        print(f"data: {args.rows:,} x 20 per side, written in {time.perf_counter() - started:.1f}s")
        runs = [child(sys.executable, ENGINE, ref, cur) for _ in range(args.runs)]
        ours = min(runs, key=lambda r: float(r["compute"]))  # type: ignore[arg-type]
        each = ", ".join(f"{r['compute']:.2f}" for r in runs)
        print(
            f"engine:    drift {ours['compute']:.2f}s wall, {ours['cpu']:.2f}s CPU; "
            "end to end (imports, read, drift) "
            f"{ours['total']:.2f}s, peak RSS {ours['peak_mib']:.0f} MiB "
            f"(best of {args.runs}; drift runs {each})"
        )
        if not Path(args.evidently).exists():
            print(f"evidently: skipped ({args.evidently} not found)")
            return
        theirs = child(args.evidently, EVIDENTLY_RUN, ref, cur)
        print(
            f"evidently: Report.run {theirs['compute']:.2f}s, peak RSS {theirs['peak_mib']:.0f} MiB"
        )
        seconds = float(theirs["compute"])  # type: ignore[arg-type]
        print(
            f"speed-up:  {seconds / float(ours['compute']):.0f}x (drift), "  # type: ignore[arg-type]
            f"{seconds / float(ours['total']):.0f}x (engine end to end), "  # type: ignore[arg-type]
            f"{float(theirs['cpu']) / float(ours['cpu']):.0f}x (drift, CPU time)"  # type: ignore[arg-type]
        )
        mine, other = ours["verdicts"], theirs["verdicts"]
        if not isinstance(mine, dict) or not isinstance(other, dict):
            raise SystemExit("a child printed no verdicts")
        differ = sorted(c for c in mine if mine[c] != other.get(c))
        drifted = sorted(c for c in mine if mine[c])
        print(f"verdicts:  {len(mine) - len(differ)}/{len(mine)} agree; drifted: {drifted}")
        if differ:
            print(f"DIFFER: {differ}")


if __name__ == "__main__":
    main()
