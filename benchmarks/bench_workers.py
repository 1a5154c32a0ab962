"""What running each training in a budgeted worker process costs.

Run by hand: ``.venv/bin/python benchmarks/bench_workers.py [--runs N]``.

The four example models, forced to train, in one warm interpreter: the reference calls
``engine.training.train.run(job)`` for each job in this process (no budget, as before
issue 10); the engine's path, ``engine.training.workers.run_all(jobs, 1)``, forks one
worker per training, preloads its classes, caps its address space and supervises its
deadline. Interleaved, median of ``--runs``; the figure is the added time per model.
Goal: under 0.1 s per model (a fork of a warm interpreter, no re-import).
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _repos import commit, git_repo

PROJECT = Path(__file__).resolve().parents[1]
GOAL = 0.1


def jobs_of(root: Path) -> list:
    """One forced TrainJob per example model (the same jobs ``mlops train --force`` runs)."""
    from engine.training import jobs
    from engine.training.plan import plan
    from engine.training.planning import snapshot

    snap = snapshot(root, None)
    commit_of, settings = jobs._commit_of(root, None), snap.definitions.settings
    found = []
    for m in plan(None, snap).models:
        job = jobs._job(root, None, snap, m.name, m.head_fingerprint or "", commit_of, settings)
        found.append(dataclasses.replace(job, replace=True))
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    from engine.training.train import preload_libraries, run
    from engine.training.workers import run_all

    with tempfile.TemporaryDirectory() as tmp:
        root = git_repo(Path(tmp) / "repo")
        shutil.copytree(PROJECT / "mlops", root / "mlops")
        commit(root)
        jobs = jobs_of(root)
        preload_libraries()
        [run(job) for job in jobs]  # warm: the catalog, the classes, the caches
        inproc, workers = [], []
        for _ in range(runs):
            started = time.perf_counter()
            assert all(run(job).status == "trained" for job in jobs)
            inproc.append(time.perf_counter() - started)
            started = time.perf_counter()
            assert all(o.status == "trained" for o in run_all(jobs, 1))
            workers.append(time.perf_counter() - started)
    a, b = statistics.median(inproc), statistics.median(workers)
    per_model = (b - a) / len(jobs)
    print(f"{len(jobs)} models, median of {runs}")
    print(f"  in process (reference): {a:.3f} s")
    print(f"  budgeted workers:        {b:.3f} s  ({b / a:.2f} x)")
    print(f"  added per model:         {per_model * 1000:.0f} ms (goal < {GOAL * 1000:.0f} ms)")
    print("  goal met" if per_model < GOAL else "  GOAL MISSED")


if __name__ == "__main__":
    main()
