"""How fast the model store answers: the cached-train path and the write of one version.

Run by hand: ``.venv/bin/python benchmarks/bench_store.py``. It builds a store with four
versions (the four example models' kind of estimators, real skops files), then times:

- ``has()`` for the four models in a fresh interpreter (what a fully cached
  ``mlops train`` pays): the whole process wall time, and inside it the import of
  ``engine.store`` and the four calls; ``python -c pass`` is shown for reference;
- ``put`` of a typical version (a 200-tree random forest pipeline on breast cancer,
  about 5 MB of skops) on the local folder and through DVC's filesystem layer;
- ``get`` (every checksum verified) and ``load_model`` (exact-type check + skops load),
  and ``load_pinned`` (the same after checking the sha256 a pin records).
"""

from __future__ import annotations

import hashlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine.store import LOG_FILE, MODEL_FILE, PREDICTIONS_FILE, Store, save_model, save_predictions
from engine.training.runs import VersionRecord, utc_now

RUNS = 7
HAS_SCRIPT = """
import time
t0 = time.perf_counter()
from pathlib import Path
from engine.store import Store
t1 = time.perf_counter()
store = Store.open(".mlops/store", Path({root!r}))
hits = [store.has(model, fp) for model, fp in {keys!r}]
record = store.get_record(*{keys!r}[0])
t2 = time.perf_counter()
assert all(hits), hits
print(t1 - t0, t2 - t1)
"""


def estimators():
    """The four example models' estimators, fitted on scikit-learn's datasets."""
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    def scaled(estimator):
        chain = Pipeline(
            [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
        )
        features = ColumnTransformer([("num", chain, slice(0, 5))], remainder="passthrough")
        return Pipeline([("features", features), ("model", estimator)])

    rf = RandomForestClassifier(n_estimators=200, max_depth=8, random_state=0, n_jobs=1)
    return {
        "cancer-rf": (scaled(rf), load_breast_cancer(return_X_y=True), "classification"),
        "iris-logreg": (
            scaled(LogisticRegression(max_iter=500)),
            load_iris(return_X_y=True),
            "classification",
        ),
        "wine-gb": (
            scaled(GradientBoostingClassifier(random_state=0)),
            load_wine(return_X_y=True),
            "classification",
        ),
        "diabetes-ridge": (scaled(Ridge()), load_diabetes(return_X_y=True), "regression"),
    }


def put_version(store: Store, name: str, spec, fp: str) -> float:
    """Stage and publish one version; returns the seconds spent in the store."""
    estimator, (x, y), task = spec
    classifier = task == "classification"
    started = time.perf_counter()
    with store.writer(name, fp) as writer:
        save_model(estimator, writer.path / MODEL_FILE)
        proba = estimator.predict_proba(x) if classifier else None
        classes = list(estimator.classes_) if classifier else []
        save_predictions(
            writer.path / PREDICTIONS_FILE, range(len(y)), y, estimator.predict(x), proba, classes
        )
        (writer.path / LOG_FILE).write_text("fit\n" * 50)
        record = VersionRecord(
            model=name,
            fingerprint=fp,
            created=utc_now(),
            task=task,
            dataset=name,
            metrics={"score": 0.9},
            classes=classes,
            params=estimator.get_params(deep=False) | {"steps": None},
        )
        writer.publish(record)
    return time.perf_counter() - started


def median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.1f} ms"


def main() -> None:
    specs = estimators()
    for estimator, (x, y), _ in specs.values():
        estimator.fit(x, y)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        local = Store.open(".mlops/store", root)
        keys = []
        for name, spec in specs.items():
            fp = hashlib.sha256(name.encode()).hexdigest()
            put_version(local, name, spec, fp)
            keys.append((name, fp))

        script = HAS_SCRIPT.format(root=str(root), keys=keys)
        walls, imports, calls, bare = [], [], [], []
        for _ in range(RUNS):
            started = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-c", script], capture_output=True, text=True, check=True
            )
            walls.append(time.perf_counter() - started)
            first, second = map(float, out.stdout.split())
            imports.append(first)
            calls.append(second)
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            bare.append(time.perf_counter() - started)
        print(f"fresh interpreter, has() x4 + get_record (median of {RUNS}):")
        print(
            f"  process wall time        {median_ms(walls)}   (python -c pass: {median_ms(bare)})"
        )
        print(f"  import engine.store      {median_ms(imports)}")
        print(f"  open + 4 has + 1 record  {median_ms(calls)}")

        rf = specs["cancer-rf"]
        remote = Store.open(str(root / "remote"), root, backend="dvc")
        for label, store in (("local folder", local), ("dvc.fs (local path)", remote)):
            puts, gets, loads, pinned = [], [], [], []
            for i in range(3):
                fp = hashlib.sha256(f"{label}{i}".encode()).hexdigest()
                puts.append(put_version(store, "cancer-rf", rf, fp))
                started = time.perf_counter()
                version = store.get("cancer-rf", fp)
                gets.append(time.perf_counter() - started)
                started = time.perf_counter()
                store.load_model("cancer-rf", fp)
                loads.append(time.perf_counter() - started)
                sha256 = version.record.files["model.skops"]
                started = time.perf_counter()
                store.load_pinned("cancer-rf", fp, sha256)
                pinned.append(time.perf_counter() - started)
            size = version.model_path.stat().st_size / 1e6
            print(f"typical version ({size:.1f} MB model.skops), {label} (median of 3):")
            print(f"  put (dump + predictions + publish) {median_ms(puts)}")
            print(f"  get (verify every checksum)        {median_ms(gets)}")
            print(f"  load_model (type check + load)     {median_ms(loads)}")
            print(f"  load_pinned (+ the pin's sha256)   {median_ms(pinned)}")


if __name__ == "__main__":
    main()
