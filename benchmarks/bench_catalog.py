"""How long the estimator allow-list takes: cold build, warm load, checking 200 models.

Run by hand: ``.venv/bin/python benchmarks/bench_catalog.py``. Each figure comes from a
fresh interpreter (what ``mlops validate`` pays), with its own temporary cache dir.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNS = 5

IN_PROCESS = """
import time
t0 = time.perf_counter()
from engine.definitions.catalog import Catalog
from engine.definitions.catalog_format import sklearn_version
t1 = time.perf_counter()
sklearn_version()  # importlib.metadata: its first use pays for importing it
t2 = time.perf_counter()
catalog = Catalog.load()
t3 = time.perf_counter()
print(f"{(t1 - t0) * 1e3:.1f} {(t3 - t1) * 1e3:.1f} {(t2 - t1) * 1e3:.1f} {(t3 - t2) * 1e3:.1f}")
"""

CHECK_200 = """
import sys
from engine.definitions.catalog import Catalog
catalog = Catalog.load()
models = [
    ("sklearn.ensemble.RandomForestClassifier", {"n_estimators": 200, "max_depth": 8,
     "random_state": 0, "n_jobs": 1}, "classification"),
    ("sklearn.linear_model.LogisticRegression", {"C": 1.0, "max_iter": 500}, "classification"),
    ("sklearn.ensemble.HistGradientBoostingClassifier", {"max_iter": 100,
     "learning_rate": 0.1}, "classification"),
    ("sklearn.linear_model.Ridge", {"alpha": 1.0}, "regression"),
    ("sklearn.ensemble.RandomForestClasifier", {"n_estimators": -3}, "classification"),
]
steps = [
    ("sklearn.preprocessing.StandardScaler", {}),
    ("sklearn.preprocessing.KBinsDiscretizer", {"n_bins": 5, "encode": "ordinal"}),
]
issues = 0
for i in range(200):
    path, params, task = models[i % len(models)]
    issues += len(catalog.check_estimator(path, params, task))
    for step, step_params in steps:
        issues += len(catalog.check_transformer(step, step_params))
assert "sklearn" not in sys.modules
print(issues)
"""


def run(code: str, cache: str) -> tuple[float, str]:
    """Wall time of a fresh interpreter running ``code``, and what it printed."""
    env = {**os.environ, "MLOPS_CACHE_DIR": cache}
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO, check=True, capture_output=True, text=True
    )
    return time.perf_counter() - start, out.stdout.strip()


def main() -> None:
    """Print the figures (temporary cache dirs are removed afterwards)."""
    with tempfile.TemporaryDirectory() as scratch:
        tempfile.tempdir = scratch  # every mkdtemp below lands in it
        try:
            _figures()
        finally:
            tempfile.tempdir = None


def _figures() -> None:
    empty, _ = run("pass", tempfile.mkdtemp())
    print(f"interpreter start alone:            {empty * 1e3:7.1f} ms")

    colds, builds = [], []
    for _ in range(RUNS):
        wall, out = run(IN_PROCESS, tempfile.mkdtemp())
        colds.append(wall)
        builds.append(float(out.split()[1]))
    print(f"cold (build + write), process wall: {statistics.median(colds) * 1e3:7.1f} ms")
    print(
        f"cold Catalog.load() in process:     {statistics.median(builds):7.1f} ms "
        "(imports scikit-learn)"
    )

    cache = tempfile.mkdtemp()
    run(IN_PROCESS, cache)
    walls, imports, loads, versions, reads = [], [], [], [], []
    for _ in range(RUNS):
        wall, out = run(IN_PROCESS, cache)
        walls.append(wall)
        for into, figure in zip((imports, loads, versions, reads), out.split(), strict=True):
            into.append(float(figure))
    print(f"warm, process wall:                 {statistics.median(walls) * 1e3:7.1f} ms")
    print(f"warm `import engine.definitions.catalog`:       {statistics.median(imports):7.1f} ms")
    print(f"warm Catalog.load() in process:     {statistics.median(loads):7.1f} ms, of which")
    print(f"  scikit-learn version (metadata):  {statistics.median(versions):7.1f} ms")
    print(f"  reading the JSON cache:           {statistics.median(reads):7.1f} ms")
    size = sum(p.stat().st_size for p in Path(cache).iterdir())
    print(f"cache file size:                    {size / 1024:7.1f} KiB")

    checks = [run(CHECK_200, cache) for _ in range(RUNS)]
    print(
        f"load + check 200 models, wall:      "
        f"{statistics.median(w for w, _ in checks) * 1e3:7.1f} ms "
        f"({checks[0][1]} issues found)"
    )


if __name__ == "__main__":
    main()
