"""Issue 14's table: every figure, its reference measured in the same run, and its goal.

    .venv/bin/python benchmarks/table.py [--runs N] [--only ROW ...] [--check] [--write-baseline]

Each row is timed as whole commands (fresh processes), in alternating pairs (ours, then
the reference, then ours...) and reported as the median of the pairs, so a burst of load
from another process hits both sides alike. The machine's load average is printed before
and after. References:

- cold train / peak memory: the four example models' work (the same fits, searches,
  metrics *and skops saving*) as one bare Python process (``bench_vs_dvc``'s stage
  script run for all four in one interpreter); for scale, its floor (:data:`TRAIN_FLOOR`:
  importing exactly what that work needs, then the work spread over the CPUs) and
  ``python -c 'import sklearn'`` alone;
- overhead: ``bench_train``'s bare read, split, fit, predict and metrics (a >= 2 s fit);
- diff: ``dvc metrics diff`` on the same four models as a DVC pipeline;
- bootstrap: drawing the 100,000 x 1,000 row indices alone with numpy (the floor of an
  exact row bootstrap);
- plan, validate (warm): no reference tool; ``python -c pass`` is printed for scale. Warm
  is a restored cache: the parse cache under ``.mlops/cache`` and the cache directory
  (MAC key, catalog) of an earlier run, what CI has once ``actions/cache`` restores them;
- cold plan, cold validate: an empty ``.mlops/cache`` and an empty ``$MLOPS_CACHE_DIR``
  for every run (a fresh Actions runner, or the first run of a cache key), in a fresh
  clone of the repository (as ``actions/checkout`` leaves it: the objects packed); the reference
  is the floor of any plan: the interpreter importing what planning imports and reading
  every blob of the revision from git (``git ls-tree`` + one ``git cat-file --batch``);
- event: no reference tool.

``--check`` compares each figure (the ratio to its reference where there is one, which
cancels most of the machine's load; else seconds) with ``benchmarks/baseline.json`` and
exits 1 if any is more than 20% worse: ``make bench`` runs it so. Refresh the baseline
after an intended change with ``--write-baseline`` (commit the file).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import bench_plan  # noqa: E402
import bench_train  # noqa: E402
import bench_vs_dvc  # noqa: E402

BIN = Path(sys.executable).parent
MLOPS = BIN / "mlops"
ENV = bench_vs_dvc.ENV
BASELINE = HERE / "baseline.json"
TOLERANCE = 1.20
ROWS = ("train", "overhead", "plan", "bootstrap", "diff", "event")


def timed(cwd: Path, *args: str | Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS in MiB (of the process, or its largest waited child)."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [str(a) for a in args],
            cwd=cwd,
            env=env or ENV,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            out.seek(0)
            raise SystemExit(f"{' '.join(map(str, args))} failed:\n{out.read().decode()}")
    return elapsed, usage.ru_maxrss / 1024


def pairs(runs: int, ours: Callable[[], float], ref: Callable[[], float]) -> tuple[float, float]:
    """Medians of ``runs`` alternating (ours, reference) pairs."""
    a, b = [], []
    for _ in range(runs):
        a.append(ours())
        b.append(ref())
    return statistics.median(a), statistics.median(b)


class Table:
    """The rows printed so far and the figures the baseline compares."""

    def __init__(self) -> None:
        self.figures: dict[str, float] = {}
        self.missed: list[str] = []
        print(f"{'what':<44}{'ours':>10}{'reference':>12}{'ratio':>8}  goal")

    def row(
        self,
        key: str,
        what: str,
        ours: float,
        ref: float | None,
        goal: str,
        ok: bool,
        unit: str = "s",
    ) -> None:
        ratio = f"{ours / ref:7.2f}x" if ref else f"{'—':>8}"
        reference = f"{ref:10.3f}{unit}" if ref else f"{'—':>11}"
        print(f"{what:<44}{ours:9.3f}{unit}{reference} {ratio}  {goal} {'ok' if ok else 'MISSED'}")
        self.figures[key] = round(ours / ref if ref else ours, 4)
        if not ok:
            self.missed.append(key)


# The floor of a cold train of the four examples: import exactly what their fits, metrics
# and skops saving need (skops without its scan of every estimator, as the engine imports
# it), then the same work as the bare script, spread over the CPUs this process may use
# (one forked process per group, longest first; no interpreter teardown).
TRAIN_FLOOR = """
import importlib.util, os, runpy, sys
from sklearn import datasets, metrics
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, cross_validate, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
# the engine's skops import technique, without the engine package (pydantic and so on)
spec = importlib.util.spec_from_file_location("skops_import", {skops_import!r})
skops_import = importlib.util.module_from_spec(spec)
spec.loader.exec_module(skops_import)
skops_import.import_skops()
cost = {{"cancer-rf": 1.0, "wine-knn": 0.9, "iris-logreg": 0.8, "diabetes-ridge": 0.05}}
groups = [[] for _ in range(min(4, len(os.sched_getaffinity(0))))]
for name in sorted(cost, key=cost.get, reverse=True):
    min(groups, key=lambda g: sum(map(cost.get, g))).append(name)
children = []
for group in groups:
    pid = os.fork()
    if pid == 0:
        for name in group:
            sys.argv = ["train.py", name]
            runpy.run_path("train.py", run_name="__main__")
        os._exit(0)
    children.append(pid)
codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
sys.stdout.flush()
os._exit(max(codes))
"""


def cold_train(table: Table, base: Path, runs: int) -> None:
    ours_repo = bench_vs_dvc.mlops_repo(base)
    theirs = base / "bare-train"
    theirs.mkdir()
    (theirs / "train.py").write_text(bench_vs_dvc.TRAIN_SCRIPT)
    script = bench_vs_dvc._bare_one_process()
    peaks: dict[str, list[float]] = {"ours": [], "bare": []}

    def ours() -> float:
        shutil.rmtree(ours_repo / ".mlops", ignore_errors=True)
        wall, peak = timed(ours_repo, MLOPS, "train")
        peaks["ours"].append(peak)
        return wall

    def clean() -> None:
        for sub in ("models", "metrics"):
            shutil.rmtree(theirs / sub, ignore_errors=True)
            (theirs / sub).mkdir()

    def bare() -> float:
        clean()
        wall, peak = timed(theirs, sys.executable, "-c", script)
        peaks["bare"].append(peak)
        return wall

    def floor() -> float:
        clean()
        return timed(
            theirs,
            sys.executable,
            "-c",
            TRAIN_FLOOR.format(skops_import=str(HERE.parent / "engine/store/skops_import.py")),
        )[0]

    def sklearn_alone() -> float:
        return timed(theirs, sys.executable, "-c", "import sklearn")[0]

    timed(ours_repo, MLOPS, "--version")  # warm the page cache
    walls: dict[str, list[float]] = {"ours": [], "bare": [], "floor": [], "sklearn": []}
    for _ in range(runs):  # alternating: a burst of load hits every figure alike
        for key, run in (
            ("ours", ours),
            ("bare", bare),
            ("floor", floor),
            ("sklearn", sklearn_alone),
        ):
            walls[key].append(run())
    a, b, low, imp = (statistics.median(walls[k]) for k in ("ours", "bare", "floor", "sklearn"))
    table.row(
        "cold_train",
        "cold train of 4 small models",
        a,
        b,
        "<= 1.15x, <= 2.5 s",
        a / b <= 1.15 and a <= 2.5,
    )
    table.row(
        "cold_train_floor",
        "  against its floor (imports + fits on all CPUs)",
        a,
        low,
        "for scale",
        True,
    )
    print(f"{'':<4}(the floor: {low:.2f}s; of which `python -c 'import sklearn'` {imp:.2f}s)")
    pa, pb = statistics.median(peaks["ours"]), statistics.median(peaks["bare"])
    table.row(
        "peak_memory", "peak memory, cold train of 4 models", pa, pb, "<= 1.3x", pa / pb <= 1.3, "M"
    )


def overhead(table: Table, base: Path, runs: int) -> None:
    root = bench_train.blobs_repo(base)
    folder = base / "bare"
    folder.mkdir()
    (folder / "bare.py").write_text(bench_train.BARE)
    csv = root / "data" / "blobs.csv"
    timed(root, MLOPS, "train")
    a, b = pairs(
        runs,
        lambda: timed(root, MLOPS, "train", "--force", "blobs-rf")[0],
        lambda: timed(root, sys.executable, folder / "bare.py", csv)[0],
    )
    table.row("overhead", "overhead on a >= 2 s fit (whole command)", a, b, "<= 1.1x", a / b <= 1.1)


FLOOR = """
import subprocess, sys
import click, pydantic, yaml
import engine.cli, engine.training.planning, engine.training.plan
import engine.definitions.references, engine.training.fingerprint
ids = subprocess.run(["git", "ls-tree", "-r", "--format=%(objectname)", sys.argv[1]],
                     capture_output=True, check=True).stdout
blobs = subprocess.run(["git", "cat-file", "--batch"], input=ids, capture_output=True,
                       check=True).stdout
print(len(ids) // 41, len(blobs))
"""


def plan(table: Table, base: Path, runs: int) -> None:
    bench_plan.N_MODELS, bench_plan.N_DATASETS = 5000, 100
    built = base / "plan-built"
    built.mkdir()
    rev_base, _ = bench_plan.build(built)
    # planned in a clone, as a runner's checkout is: the objects in a pack (the commits
    # just made are 5,000 loose files, each read with its own open and inflate)
    root = base / "plan"
    subprocess.run(["git", "clone", "-q", "--no-local", str(built), str(root)], check=True)
    cache = base / "cache"
    fresh = {**ENV, "MLOPS_CACHE_DIR": str(cache)}

    def cold(*args: str) -> float:
        """A fresh runner: no parse cache in the repository, an empty cache directory."""
        shutil.rmtree(root / ".mlops" / "cache", ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
        return timed(root, MLOPS, *args, env=fresh)[0]

    def floor() -> float:
        return timed(root, sys.executable, "-c", FLOOR, rev_base, env=fresh)[0]

    c, low = pairs(runs, lambda: cold("plan", "--base", rev_base, "--json"), floor)
    table.row("cold_plan", "mlops plan, 5,000 models, COLD", c, low, "<= 1.5 s", c <= 1.5)
    cv, low_v = pairs(runs, lambda: cold("validate", "--no-data"), floor)
    table.row(
        "cold_validate", "mlops validate, 5,000 models, COLD", cv, low_v, "<= 1.2 s", cv <= 1.2
    )
    print(f"{'':<4}(reference: the floor, imports + reading every blob from git)")
    # warm: the caches as the previous run on this repository left them
    timed(root, MLOPS, "plan", "--base", rev_base, env=fresh)
    timed(root, MLOPS, "validate", "--no-data", env=fresh)
    a, scale = pairs(
        runs,
        lambda: timed(root, MLOPS, "plan", "--base", rev_base, "--json", env=fresh)[0],
        lambda: timed(root, sys.executable, "-c", "pass")[0],
    )
    table.row("plan", "mlops plan, 5,000 models, WARM", a, None, "<= 1.5 s", a <= 1.5)
    v, _ = pairs(
        runs,
        lambda: timed(root, MLOPS, "validate", "--no-data", env=fresh)[0],
        lambda: timed(root, sys.executable, "-c", "pass")[0],
    )
    table.row("validate", "mlops validate, 5,000 models, WARM", v, None, "<= 1.2 s", v <= 1.2)
    print(f"{'':<4}(for scale: python -c pass {scale:.3f}s)")


BOOT = """
import sys, time, numpy as np
sys.path.insert(0, {here!r})
from bench_report import classifier, METRICS
from engine.review.pairing import aligned
from engine.review.significance import paired_bootstrap
y = np.random.default_rng(1).integers(0, 2, 100_000)
paired = aligned(classifier("b" * 12, y, 1.0, 2), classifier("h" * 12, y, 1.1, 3))
paired_bootstrap(paired, METRICS, resamples=10)
rng = np.random.default_rng(0)
ours, floor = [], []
for _ in range({runs}):
    t = time.perf_counter(); paired_bootstrap(paired, METRICS); ours.append(time.perf_counter() - t)
    t = time.perf_counter()
    for _ in range(1000):
        rng.integers(0, 100_000, 100_000, dtype=np.int32)
    floor.append(time.perf_counter() - t)
print(sorted(ours)[len(ours) // 2], sorted(floor)[len(floor) // 2])
"""


def bootstrap(table: Table, base: Path, runs: int) -> None:
    out = subprocess.run(
        [sys.executable, "-c", BOOT.format(here=str(HERE), runs=max(runs, 3))],
        env={**ENV, "PYTHONPATH": os.environ.get("PYTHONPATH") or str(HERE.parent)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    a, b = float(out[0]), float(out[1])
    table.row(
        "bootstrap", "bootstrap 100k x 1,000, acc+F1+AUC+log loss", a, b, "<= 0.5 s", a <= 0.5
    )


def diff(table: Table, base: Path, runs: int) -> None:
    from tests.conftest import git, init_repo

    root = init_repo(base / "diff")
    git(root, "switch", "-q", "-c", "smaller-forest")
    model = root / "mlops/models/cancer-rf.yaml"
    model.write_text(model.read_text().replace("n_estimators: 200", "n_estimators: 50"))
    git(root, "commit", "-q", "-am", "A smaller forest")
    args = (MLOPS, "diff", "--base", "main", "--head", "HEAD")
    timed(root, *args)  # trains and stores both versions
    theirs = bench_vs_dvc.dvc_repo(base)
    dvc = (sys.executable, "-m", "dvc")
    timed(theirs, *dvc, "repro", "-q")
    subprocess.run(["git", "add", "-A"], cwd=theirs, env=ENV, check=True)
    subprocess.run(["git", "commit", "-qm", "repro"], cwd=theirs, env=ENV, check=True)
    metrics = theirs / "metrics" / "cancer-rf.json"
    scores = json.loads(metrics.read_text())
    metrics.write_text(json.dumps({k: v * 0.99 for k, v in scores.items()}))
    a, b = pairs(
        runs,
        lambda: timed(root, *args)[0],
        lambda: timed(theirs, *dvc, "metrics", "diff")[0],
    )
    table.row("diff", "mlops diff, both stored", a, b, "<= 0.5x dvc metrics diff", a / b <= 0.5)


def event(table: Table, base: Path, runs: int) -> None:
    import bench_event

    wall, calls = bench_event.measure(base, runs)
    table.row("event", "no-op pull_request event", wall, None, "<= 0.4 s", wall <= 0.4)
    table.row("event_calls", "  its API calls", calls, None, "<= 3", calls <= 3, " ")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="alternating pairs per row")
    parser.add_argument("--only", nargs="*", choices=ROWS, help="measure these rows only")
    parser.add_argument("--check", action="store_true", help="fail on a >20%% regression")
    parser.add_argument("--write-baseline", action="store_true", help="store these figures")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    table = Table()
    steps = {
        "train": cold_train,
        "overhead": overhead,
        "plan": plan,
        "bootstrap": bootstrap,
        "diff": diff,
        "event": event,
    }
    with tempfile.TemporaryDirectory(prefix="bench-table-") as tmp:
        for name in args.only or ROWS:
            folder = Path(tmp) / name
            folder.mkdir()
            steps[name](table, folder, args.runs)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    if args.write_baseline:
        old = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
        BASELINE.write_text(json.dumps(old | table.figures, indent=2, sort_keys=True) + "\n")
        print(f"wrote {BASELINE}")
    if args.check and BASELINE.exists():
        baseline = json.loads(BASELINE.read_text())
        worse = [
            f"{k}: {v:g} against {baseline[k]:g}"
            for k, v in table.figures.items()
            if k in baseline and v > baseline[k] * TOLERANCE
        ]
        for line in worse:
            print(f"REGRESSION (> 20% over benchmarks/baseline.json) {line}")
        return 1 if worse else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
