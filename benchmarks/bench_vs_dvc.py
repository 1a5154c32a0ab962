"""Side by side with DVC: the four example models as ``mlops train`` and as a ``dvc repro``.

Run by hand: ``.venv/bin/python benchmarks/bench_vs_dvc.py [--runs N]``.

Two temporary git repositories hold the same four models (``mlops/`` of this project):

- **mlops**: the definitions, trained by ``mlops train`` (one process, imports paid once);
- **dvc**: ``dvc init`` and a ``dvc.yaml`` of four stages, each ``python train.py MODEL``:
  a plain script doing the same work as the engine (load the scikit-learn data, the same
  split, the same feature pipeline and estimator, the same search / cross-validation,
  predict, the same metrics) and writing the model with skops (an ``outs`` DVC caches)
  and ``metrics/MODEL.json`` (a ``metrics`` file).

Both are timed as the whole command's wall time, in one run, interleaved:

- **cold**: nothing cached (mlops: empty store; dvc: no ``dvc.lock``, empty cache);
- **no-op**: nothing changed since the last run (mlops: every version stored; dvc: every
  stage up to date).

Goals (issue 3): mlops no-op <= 0.5 x dvc's, cold <= 0.5 x dvc's.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _repos import commit, git_repo

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MODELS = ("cancer-rf", "diabetes-ridge", "iris-logreg", "wine-knn")
GOAL = 0.5
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

# The same work as engine.training.train for each example, written the way a DVC user would.
TRAIN_SCRIPT = '''
"""Train one example model: python train.py MODEL (a DVC stage)."""
import json
import sys
from pathlib import Path

import numpy as np
import skops.io as sio
from sklearn import datasets, metrics
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, cross_validate, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

CANCER5 = ["mean radius", "mean texture", "mean perimeter", "mean area", "mean smoothness"]



def scaled(columns, estimator, steps=None):
    chain = Pipeline(steps or [("scale", StandardScaler())])
    features = ColumnTransformer([("group0", chain, columns)], remainder="passthrough",
                                 verbose_feature_names_out=False)
    return Pipeline([("features", features), ("estimator", estimator)])


def build(name, inputs):
    if name == "cancer-rf":
        rf = RandomForestClassifier(n_estimators=200, max_depth=8, random_state=0, n_jobs=1)
        steps = [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
        return "load_breast_cancer", scaled(CANCER5, rf, steps), ["accuracy", "f1", "roc_auc",
                                                                   "log_loss"]
    if name == "diabetes-ridge":
        return "load_diabetes", Pipeline([("estimator", Ridge(alpha=1.0))]), ["rmse", "mae", "r2"]
    if name == "iris-logreg":
        return "load_iris", scaled(inputs, LogisticRegression(C=1.0, max_iter=500)), [
            "accuracy", "f1_macro", "log_loss"]
    return "load_wine", scaled(inputs, KNeighborsClassifier(n_neighbors=5)), [
        "accuracy", "f1_macro", "roc_auc"]


def main(name):
    loader = {"cancer-rf": "load_breast_cancer", "diabetes-ridge": "load_diabetes",
              "iris-logreg": "load_iris", "wine-knn": "load_wine"}[name]
    frame = getattr(datasets, loader)(as_frame=True).frame
    y = frame["target"]
    x = frame.drop(columns="target")
    _, pipeline, wanted = build(name, list(x.columns))
    classify = name != "diabetes-ridge"
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=7, stratify=y if classify else None)
    if name == "wine-knn":
        space = {"estimator__n_neighbors": [3, 5, 9, 15],
                 "estimator__weights": ["uniform", "distance"]}
        pipeline = GridSearchCV(pipeline, space, cv=3, scoring="f1_macro").fit(
            x_train, y_train).best_estimator_
    else:
        pipeline.fit(x_train, y_train)
    y_pred = pipeline.predict(x_test)
    scores = {}
    if classify:
        proba = pipeline.predict_proba(x_test)
        for m in wanted:
            if m == "accuracy":
                scores[m] = metrics.accuracy_score(y_test, y_pred)
            elif m == "f1":
                scores[m] = metrics.f1_score(y_test, y_pred)
            elif m == "f1_macro":
                scores[m] = metrics.f1_score(y_test, y_pred, average="macro")
            elif m == "roc_auc":
                scores[m] = (metrics.roc_auc_score(y_test, proba[:, 1]) if proba.shape[1] == 2
                             else metrics.roc_auc_score(y_test, proba, multi_class="ovr"))
            elif m == "log_loss":
                scores[m] = metrics.log_loss(y_test, proba)
    else:
        scores = {"rmse": metrics.root_mean_squared_error(y_test, y_pred),
                  "mae": metrics.mean_absolute_error(y_test, y_pred),
                  "r2": metrics.r2_score(y_test, y_pred)}
    if name == "iris-logreg":
        cv = cross_validate(pipeline, x_train, y_train, cv=5,
                            scoring={"accuracy": "accuracy", "f1_macro": "f1_macro",
                                     "log_loss": "neg_log_loss"})
        for m in ("accuracy", "f1_macro", "log_loss"):
            values = cv[f"test_{m}"] * (-1 if m == "log_loss" else 1)
            scores[f"cv_{m}"], scores[f"cv_{m}_std"] = values.mean(), values.std()
    Path("models").mkdir(exist_ok=True)
    Path("metrics").mkdir(exist_ok=True)
    sio.dump(pipeline, f"models/{name}.skops")
    Path(f"metrics/{name}.json").write_text(json.dumps({k: float(v) for k, v in scores.items()}))


if __name__ == "__main__":
    main(sys.argv[1])
'''


def run(cwd: Path, *args: str | Path) -> float:
    """Run a command in ``cwd`` (it must succeed); return its wall time in seconds."""
    started = time.perf_counter()
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=ENV, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def mlops_repo(base: Path) -> Path:
    """The example definitions, committed."""
    root = git_repo(base / "mlops-repo")
    shutil.copytree(PROJECT / "mlops", root / "mlops")
    commit(root)
    return root


def dvc_repo(base: Path) -> Path:
    """``dvc init`` and a dvc.yaml of four stages, one per example model, committed."""
    root = git_repo(base / "dvc-repo")
    run(root, sys.executable, "-m", "dvc", "init", "-q")
    run(root, sys.executable, "-m", "dvc", "config", "core.analytics", "false")
    (root / "train.py").write_text(TRAIN_SCRIPT)
    stages = ["stages:"]
    for name in MODELS:
        stages += [
            f"  {name}:",
            f"    cmd: {sys.executable} train.py {name}",
            "    deps: [train.py]",
            f"    outs: [models/{name}.skops]",
            "    metrics:",
            f"      - metrics/{name}.json: {{cache: false}}",
        ]
    (root / "dvc.yaml").write_text("\n".join(stages) + "\n")
    commit(root)
    return root


def reset_dvc(root: Path) -> None:
    """Back to nothing cached: no lock file, no outputs, an empty cache."""
    for path in (root / "dvc.lock", root / "models", root / "metrics", root / ".dvc" / "cache"):
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="cold runs of each tool")
    parser.add_argument("--noop-runs", type=int, default=7, help="no-op runs of each tool")
    args = parser.parse_args()
    mlops, dvc = BIN / "mlops", [sys.executable, "-m", "dvc"]
    with tempfile.TemporaryDirectory(prefix="bench-vs-dvc-") as tmp:
        ours, theirs = mlops_repo(Path(tmp)), dvc_repo(Path(tmp))
        run(ours, mlops, "--version")  # warm the page cache for both tools
        run(theirs, *dvc, "--version")
        cold: dict[str, list[float]] = {"mlops": [], "dvc": []}
        for _ in range(args.runs):
            shutil.rmtree(ours / ".mlops", ignore_errors=True)
            cold["mlops"].append(run(ours, mlops, "train"))
            reset_dvc(theirs)
            cold["dvc"].append(run(theirs, *dvc, "repro", "-q"))
        noop: dict[str, list[float]] = {"mlops": [], "dvc": []}
        for _ in range(args.noop_runs):
            noop["mlops"].append(run(ours, mlops, "train"))
            noop["dvc"].append(run(theirs, *dvc, "repro", "-q"))
        bare = run(theirs, sys.executable, "-c", _bare_one_process())
        same = _same_metrics(ours, theirs)
    print(
        f"four example models, wall time of the whole command (median; cold of {args.runs}, "
        f"no-op of {args.noop_runs}):"
    )
    print(f"{'':8}{'mlops train':>14}{'dvc repro':>12}{'ratio':>8}{'goal':>7}")
    for label, runs in (("cold", cold), ("no-op", noop)):
        a, b = statistics.median(runs["mlops"]), statistics.median(runs["dvc"])
        verdict = "ok" if a / b <= GOAL else "MISSED"
        print(f"{label:8}{a:13.2f}s{b:11.2f}s{a / b:8.2f}  <= {GOAL}  {verdict}")
    print(f"for scale: the four stage scripts' work in one bare process: {bare:.2f}s")
    print(f"same metrics from both tools: {'yes' if same else 'NO: the comparison is unfair'}")
    for label, runs in (("cold", cold), ("no-op", noop)):
        for tool, values in runs.items():
            print(f"  {label:6} {tool:6} " + " ".join(f"{v:.2f}" for v in values))


def _same_metrics(ours: Path, theirs: Path) -> bool:
    """Whether the DVC stages computed the engine's metrics (so both did the same work)."""
    done = subprocess.run(
        [str(BIN / "mlops"), "train", "--json"],
        cwd=ours,
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    )
    engine = {m["model"]: m["metrics"] for m in json.loads(done.stdout)["models"]}
    for name in MODELS:
        stage = json.loads((theirs / "metrics" / f"{name}.json").read_text())
        if set(stage) != set(engine[name]) or any(
            abs(stage[k] - engine[name][k]) > 1e-9 for k in stage
        ):
            print(f"  {name}: dvc stage {stage} != mlops {engine[name]}")
            return False
    return True


def _bare_one_process() -> str:
    # The stage scripts' work for all four models in one interpreter (imports paid once).
    return (
        "import runpy, sys\n"
        f"for name in {MODELS!r}:\n"
        "    sys.argv = ['train.py', name]\n"
        "    runpy.run_path('train.py', run_name='__main__')\n"
    )


if __name__ == "__main__":
    main()
