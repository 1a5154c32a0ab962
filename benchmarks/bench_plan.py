"""Benchmark: plan a change in a repository of 200 models, 20 datasets and 5 feature sets.

Builds the repository in a temporary folder (two commits: one dataset's data and a few
models' parameters change), then times ``compute_plan`` in a fresh interpreter, the way
CI runs it: wall time including interpreter start and imports. Goal: at most 1.0 s.
Also times ``read_tree`` alone (goal: well under 0.2 s for one revision).

    .venv/bin/python benchmarks/bench_plan.py [--runs N]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N_MODELS, N_DATASETS, N_FEATURES = 200, 20, 5
GOAL_PLAN, GOAL_READ = 1.0, 0.2
COLUMNS = [f"x{i}" for i in range(12)]
ESTIMATORS = [
    (
        "sklearn.ensemble.RandomForestClassifier",
        "{n_estimators: %d, max_depth: 8, random_state: 0}",
    ),
    ("sklearn.linear_model.LogisticRegression", "{C: %d.0, max_iter: 500}"),
    ("sklearn.ensemble.HistGradientBoostingClassifier", "{max_iter: %d, random_state: 0}"),
]


def _git(root: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    return subprocess.run(
        ["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def _pointer(i: int, version: int) -> str:
    md5 = hashlib.md5(f"{i}:{version}".encode()).hexdigest()
    return f"outs:\n- md5: {md5}\n  size: 1000\n  hash: md5\n  path: d{i}.csv\n"


def _dataset(i: int, seed: int = 7) -> str:
    columns = "\n".join(f"    {c}: {{type: float, min: 0}}" for c in COLUMNS)
    return (
        f"name: d{i}\ndescription: Synthetic dataset {i}.\nsource: {{path: data/d{i}.csv}}\n"
        f"target: target\nschema:\n  columns:\n{columns}\n    target: {{type: int, values: "
        f"[0, 1]}}\nchecks: {{min_rows: 100, max_null_fraction: 0}}\n"
        f"split: {{test_size: 0.25, seed: {seed}, stratify: true}}\n"
    )


def _features(i: int) -> str:
    cols = ", ".join(COLUMNS[i : i + 4])
    return (
        f"name: f{i}\ndescription: Scaled group {i}.\ntransforms:\n  - columns: [{cols}]\n"
        "    steps:\n      - {class: sklearn.impute.SimpleImputer, params: {strategy: median}}"
        "\n      - {class: sklearn.preprocessing.StandardScaler}\nremainder: passthrough\n"
    )


def _model(i: int, size: int = 100) -> str:
    cls, params = ESTIMATORS[i % len(ESTIMATORS)]
    return (
        f"name: m{i}\ndescription: Model number {i}.\nowners: ['@ml-team']\n"
        f"dataset: d{i % N_DATASETS}\nfeatures: f{i % N_FEATURES}\ntask: classification\n"
        f"estimator:\n  class: {cls}\n  params: {params % size}\n"
        "metrics: [accuracy, f1, roc_auc]\nprimary_metric: f1\n"
        "gates:\n  f1: {min: 0.8, max_drop: 0.02}\n"
    )


def build(root: Path) -> tuple[str, str]:
    """Write the repository and its two commits; return (base, head) SHAs."""
    for sub in ("mlops/models", "mlops/datasets", "mlops/features", "data"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    _git(root, "init", "-q", "-b", "main")
    (root / "mlops/project.yaml").write_text("store: {url: .mlops/store}\n")
    for i in range(N_DATASETS):
        (root / f"mlops/datasets/d{i}.yaml").write_text(_dataset(i))
        (root / f"data/d{i}.csv.dvc").write_text(_pointer(i, 1))
    for i in range(N_FEATURES):
        (root / f"mlops/features/f{i}.yaml").write_text(_features(i))
    for i in range(N_MODELS):
        (root / f"mlops/models/m{i}.yaml").write_text(_model(i))
    (root / "README.md").write_text("# bench\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "base")
    base = _git(root, "rev-parse", "HEAD")
    (root / "data/d3.csv.dvc").write_text(_pointer(3, 2))  # replans the 10 models on d3
    for i in (1, 2, 5, 7, 11):
        (root / f"mlops/models/m{i}.yaml").write_text(_model(i, size=300))
    (root / "README.md").write_text("# bench, edited\n")
    _git(root, "commit", "-qam", "head")
    return base, _git(root, "rev-parse", "HEAD")


SCRIPT = """
import json, sys, time
from pathlib import Path
from engine.training.planning import compute_plan
from engine.training.plan import plan_matrix
started = time.perf_counter()
result = compute_plan(Path(sys.argv[1]), sys.argv[2], sys.argv[3])
elapsed = time.perf_counter() - started
print(json.dumps({"plan_s": elapsed, "models": len(result.models),
                  "to_train": len(plan_matrix(result)["include"])}))
"""

READ = """
import sys, time
from pathlib import Path
started = time.perf_counter()
from engine.gitrepo import read_tree
imported = time.perf_counter()
files = read_tree(Path(sys.argv[1]), sys.argv[2])
print(len(files), imported - started, time.perf_counter() - imported)
"""


def main() -> int:
    """Build the repository, time the plan and the read, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    repo_root = Path(__file__).resolve().parent.parent
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base, head = build(root)
        walls, inner = [], []
        info: dict[str, float] = {}
        for _ in range(args.runs):
            started = time.perf_counter()
            out = subprocess.run(
                [python, "-c", SCRIPT, str(root), base, head],
                cwd=repo_root,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            walls.append(time.perf_counter() - started)
            import json

            info = json.loads(out)
            inner.append(info["plan_s"])
        reads = []
        for _ in range(args.runs):
            out = subprocess.run(
                [python, "-c", READ, str(root), head],
                cwd=repo_root,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
            reads.append(float(out[2]))
        n_files = int(out[0])
    wall, plan_s, read_s = min(walls), statistics.median(inner), statistics.median(reads)
    print(
        f"repository: {N_MODELS} models, {N_DATASETS} datasets, {N_FEATURES} feature sets; "
        f"plan lists {info['models']} models, {info['to_train']} to train"
    )
    print(
        f"compute_plan, fresh interpreter (wall, incl. start and imports): "
        f"best {wall:.3f} s, median {statistics.median(walls):.3f} s "
        f"(goal ≤ {GOAL_PLAN} s) {'ok' if wall <= GOAL_PLAN else 'SLOW'}"
    )
    print(f"compute_plan call alone (median): {plan_s:.3f} s")
    print(
        f"read_tree of {n_files} files at one revision (median): {read_s * 1000:.1f} ms "
        f"(goal < {GOAL_READ * 1000:.0f} ms) {'ok' if read_s < GOAL_READ else 'SLOW'}"
    )
    return 0 if wall <= GOAL_PLAN and read_s < GOAL_READ else 1


if __name__ == "__main__":
    raise SystemExit(main())
