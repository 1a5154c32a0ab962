"""What training costs beyond the fit, and what a fully cached ``mlops train`` costs.

Run by hand: ``.venv/bin/python benchmarks/bench_train.py [--runs N] [--profile]``.

**(a) Overhead.** One model whose bare fit takes at least 2 s: a random forest on a
``make_classification`` table saved as a DVC-tracked CSV in a temporary git repository.
The engine's ``mlops train --force`` (load through the engine, checks, split, fit,
evaluate, store with skops, predictions, card) is timed against a bare script doing the
same read, split, fit, predict and metrics, median of ``--runs``, interleaved in one run:

- *process*: both as whole commands (each pays the interpreter and scikit-learn imports);
- *in-process*: ``engine.api.train(force=True)`` against the bare function, in one warm
  interpreter, so the ratio is the engine's own work (the stricter figure).

Goal: engine <= 1.1 x bare. The engine's training log splits its time into phases.

**(b) Cache hit.** The four example models, all stored: ``mlops train`` in a fresh
process, median wall time (goal <= 0.3 s), with ``python -c pass`` and ``mlops --version``
for scale, the import time by top-level package (``-X importtime``), and what verifying
every stored file's checksum would add. ``--profile`` (or a missed goal) prints a
pyinstrument profile of one cached run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _repos import commit, git_repo

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GOAL_OVERHEAD, GOAL_HIT = 1.1, 0.3
ROWS, FEATURES, TREES = 12000, 20, 100
ENV = {
    # Bytecode is written and reused as in any installed environment (a sandbox that sets
    # PYTHONDONTWRITEBYTECODE would recompile the engine's modules on every run).
    **{
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GITHUB_") and k != "PYTHONDONTWRITEBYTECODE"
    },
    "DVC_NO_ANALYTICS": "1",
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}
METRICS = ["accuracy", "f1", "roc_auc", "log_loss"]
MODEL_YAML = f"""\
name: blobs-rf
dataset: blobs
task: classification
estimator:
  class: sklearn.ensemble.RandomForestClassifier
  params: {{n_estimators: {TREES}, random_state: 0, n_jobs: 1}}
metrics: {METRICS}
primary_metric: f1
"""
# The same read, split, fit, predict and metrics as the engine, without the engine.
BARE = f"""
import time

import pandas as pd
from sklearn import metrics
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split



def bare(path):
    frame = pd.read_csv(path)
    y = frame["label"]
    x = frame.drop(columns="label")
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=7, stratify=y)
    started = time.perf_counter()
    model = RandomForestClassifier(n_estimators={TREES}, random_state=0, n_jobs=1)
    model.fit(x_train, y_train)
    fit = time.perf_counter() - started
    y_pred = model.predict(x_test)
    proba = model.predict_proba(x_test)
    scores = {{
        "accuracy": metrics.accuracy_score(y_test, y_pred),
        "f1": metrics.f1_score(y_test, y_pred, pos_label=1),
        "roc_auc": metrics.roc_auc_score(y_test, proba[:, 1]),
        "log_loss": metrics.log_loss(y_test, proba, labels=model.classes_),
    }}
    return scores, fit


if __name__ == "__main__":
    import sys

    bare(sys.argv[1])
"""
IN_PROCESS = """
import json, statistics, sys, time
from pathlib import Path

sys.path.insert(0, {folder!r})
from bare import bare
from engine import api

root, runs = Path({root!r}), {runs}
csv = str(root / "data" / "blobs.csv")
api.train(root, ["blobs-rf"], force=True)  # warm-up: imports, catalog, skops
bare(csv)
engine, plain, fits = [], [], []
for _ in range(runs):
    t = time.perf_counter()
    outcome = api.train(root, ["blobs-rf"], force=True).outcomes[0]
    engine.append(time.perf_counter() - t)
    t = time.perf_counter()
    scores, fit = bare(csv)
    plain.append(time.perf_counter() - t)
    fits.append(fit)
assert outcome.status == "trained", outcome
same = all(abs(outcome.metrics[k] - v) < 1e-12 for k, v in scores.items())
print(json.dumps({{"engine": engine, "bare": plain, "fit": fits, "same": same,
                  "fingerprint": outcome.fingerprint}}))
"""


def run(cwd: Path, *args: str | Path, env: dict[str, str] | None = None) -> tuple[float, str]:
    """Run a command (it must succeed); its wall time in seconds and its stdout."""
    started = time.perf_counter()
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env or ENV, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed, done.stdout


def blobs_repo(base: Path) -> Path:
    """A repository with a DVC-tracked make_classification CSV and one forest on it."""
    import pandas as pd
    from sklearn.datasets import make_classification

    root = git_repo(base / "blobs")
    run(root, sys.executable, "-m", "dvc", "init", "-q")
    run(root, sys.executable, "-m", "dvc", "config", "core.analytics", "false")
    x, y = make_classification(
        n_samples=ROWS, n_features=FEATURES, n_informative=10, random_state=0
    )
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(FEATURES)]).assign(label=y)
    (root / "data").mkdir()
    frame.to_csv(root / "data" / "blobs.csv", index=False)
    run(root, sys.executable, "-m", "dvc", "add", "-q", "data/blobs.csv")
    for folder in ("datasets", "models"):
        (root / "mlops" / folder).mkdir(parents=True)
    columns: dict[str, dict[str, object]] = {f"x{i}": {"type": "float"} for i in range(FEATURES)}
    columns["label"] = {"type": "int", "values": [0, 1]}
    dataset = {
        "name": "blobs",
        "source": {"path": "data/blobs.csv"},
        "target": "label",
        "schema": {"columns": columns},
        "checks": {"min_rows": 1000},
        "split": {"test_size": 0.25, "seed": 7, "stratify": True},
    }
    (root / "mlops" / "datasets" / "blobs.yaml").write_text(json.dumps(dataset, indent=1))
    (root / "mlops" / "models" / "blobs-rf.yaml").write_text(MODEL_YAML)
    (root / "mlops" / "project.yaml").write_text("store: {url: .mlops/store}\n")
    commit(root)
    return root


def log_phases(root: Path, fingerprint: str) -> str:
    """The engine's phases for one version, from the timestamps of its training log."""
    from engine.store import Store

    log = Store.open(".mlops/store", root).get("blobs-rf", fingerprint).log()
    stamps: dict[str, float] = {}
    for line in log.splitlines():
        match = re.match(r"\[\s*([\d.]+)s\] (\w+)", line)
        if match:
            stamps.setdefault(match.group(2), float(match.group(1)))
    start, split, metrics, stored = (
        stamps.get(k, 0.0) for k in ("model", "split", "metrics", "stored")
    )
    fit = stamps.get("fit", metrics)
    return (
        f"load+check+split {split - start:.2f}s, fit {fit - split:.2f}s, predict+metrics "
        f"{metrics - fit:.2f}s, store {stored - metrics:.2f}s"
    )


def overhead(base: Path, runs: int) -> None:
    """(a): the engine against a bare script on a model whose fit takes >= 2 s."""
    root = blobs_repo(base)
    folder = base / "bare"
    folder.mkdir()
    (folder / "bare.py").write_text(BARE)
    csv = root / "data" / "blobs.csv"
    mlops = BIN / "mlops"
    run(root, mlops, "train")  # the catalog and the page cache are warm for both
    procs: dict[str, list[float]] = {"engine": [], "bare": []}
    for _ in range(runs):
        procs["engine"].append(run(root, mlops, "train", "--force", "blobs-rf")[0])
        procs["bare"].append(run(root, sys.executable, folder / "bare.py", csv)[0])
    script = IN_PROCESS.format(folder=str(folder), root=str(root), runs=runs)
    inproc = json.loads(run(root, sys.executable, "-c", script)[1])
    fit = statistics.median(inproc["fit"])
    print(
        f"(a) overhead: random forest ({TREES} trees) on a DVC-tracked CSV of {ROWS} rows x "
        f"{FEATURES} features; bare fit {fit:.2f}s (goal >= 2 s); median of {runs}"
    )
    for label, data in (("process", procs), ("in-process", inproc)):
        a, b = statistics.median(data["engine"]), statistics.median(data["bare"])
        verdict = "ok" if a / b <= GOAL_OVERHEAD else "MISSED"
        print(
            f"    {label:11} engine {a:6.2f}s  bare {b:6.2f}s  ratio {a / b:5.2f}  "
            f"(goal <= {GOAL_OVERHEAD}) {verdict}"
        )
    print(f"    same metrics as the bare script: {'yes' if inproc['same'] else 'NO'}")
    print(f"    engine phases (last run): {log_phases(root, inproc['fingerprint'])}")


def examples_repo(base: Path) -> Path:
    """The example definitions, committed and trained."""
    root = git_repo(base / "examples")
    shutil.copytree(PROJECT / "mlops", root / "mlops")
    commit(root)
    run(root, BIN / "mlops", "train")
    return root


def imports_by_package(root: Path) -> str:
    """Import time of one cached run, summed by top-level package (largest first)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "from engine.cli import main; main()", "train"],
        cwd=root,
        env=ENV,
        capture_output=True,
        text=True,
    )
    totals: dict[str, int] = {}
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, own, _, name = (part.strip() for part in line.replace(":", "|", 1).split("|"))
            if own.isdigit():
                top = name.split(".")[0]
                totals[top] = totals.get(top, 0) + int(own)
    ranked = sorted(totals.items(), key=lambda kv: kv[1], reverse=True)
    shown = [f"{name} {us / 1000:.0f}ms" for name, us in ranked[:8]]
    return ", ".join(shown) + f"; all imports {sum(totals.values()) / 1000:.0f}ms"


def verify_cost(root: Path) -> float:
    """Seconds to check every stored file of the four versions against its sha256."""
    code = (
        "import time; from pathlib import Path; from engine.store import Store\n"
        "s = Store.open('.mlops/store', Path('.'))\n"
        "t = time.perf_counter(); [s.get(r.model, r.fingerprint) for r in s.versions()]\n"
        "print(time.perf_counter() - t)"
    )
    return float(run(root, sys.executable, "-c", code)[1])


def cache_hit(base: Path, runs: int, profile: bool) -> None:
    """(b): ``mlops train`` with the four examples already stored, in fresh processes."""
    root = examples_repo(base)
    mlops = BIN / "mlops"
    no_bytecode = {**ENV, "PYTHONDONTWRITEBYTECODE": "1"}
    walls: dict[str, list[float]] = {
        "mlops train": [],
        "  no bytecode": [],
        "mlops --version": [],
        "python -c pass": [],
    }
    for _ in range(runs):
        elapsed, out = run(root, mlops, "train")
        assert "nothing to train" in out, out
        walls["mlops train"].append(elapsed)
        walls["  no bytecode"].append(run(root, mlops, "train", env=no_bytecode)[0])
        walls["mlops --version"].append(run(root, mlops, "--version")[0])
        walls["python -c pass"].append(run(root, sys.executable, "-c", "pass")[0])
    hit = statistics.median(walls["mlops train"])
    verdict = "ok" if hit <= GOAL_HIT else "MISSED"
    print(f"(b) cache hit: four example models stored, fresh process, median of {runs}")
    print(f"    mlops train      {hit:6.3f}s  (goal <= {GOAL_HIT}) {verdict}")
    for label in ("  no bytecode", "mlops --version", "python -c pass"):
        print(f"    {label:16} {statistics.median(walls[label]):6.3f}s")
    print(f"    imports: {imports_by_package(root)}")
    print(f"    verifying every stored file (sha256) would add {verify_cost(root) * 1000:.0f}ms")
    if profile or hit > GOAL_HIT:
        _, report = run(
            root,
            BIN / "pyinstrument",
            "-r",
            "text",
            "-i",
            "0.0005",
            "-o",
            "/dev/stdout",
            mlops,
            "train",
        )
        print("    pyinstrument, one cached run:")
        print(
            "\n".join(
                "      " + line
                for line in report.splitlines()
                if line.strip() and "stored" not in line
            )[:6000]
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per overhead figure")
    parser.add_argument("--hit-runs", type=int, default=15, help="runs of the cached train")
    parser.add_argument("--profile", action="store_true", help="profile a cached run")
    parser.add_argument("--only", choices=("overhead", "hit"), help="run one part")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        if args.only != "hit":
            overhead(Path(tmp), args.runs)
        if args.only != "overhead":
            cache_hit(Path(tmp), args.hit_runs, args.profile)


if __name__ == "__main__":
    main()
