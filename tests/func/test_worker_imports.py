"""A training worker imports (almost) nothing: its parent imported it once, before forking.

Each model trains in a forked worker (``engine.training.workers``). What a worker imports
itself is paid once per model, so the parent imports what training uses (the libraries,
skops, the data reader, the engine's training modules) before the first fork. This test
runs the real training in a fresh interpreter and lists the modules each worker imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DRIVER = """
import json, sys
from pathlib import Path
import engine.training.workers as workers

child, out = workers._child, Path(sys.argv[2])

def recording(job, writer):
    before = set(sys.modules)
    try:
        child(job, writer)
    finally:
        new = sorted(set(sys.modules) - before)
        with open(out / job.model.name, "w") as handle:
            json.dump(new, handle)

workers._child = recording
from engine import api
result = api.train(Path(sys.argv[1]), ["diabetes-ridge", "wine-knn"])
assert not result.failed, result.failed
"""

# imported by the parent (engine.training.train.preload): a worker must not import them again
PRELOADED = (
    "skops", "engine", "pyarrow.parquet", "pyarrow.csv", "sklearn.model_selection",
    "sklearn.datasets", "scipy.io", "narwhals", "pyarrow.vendored", "importlib.resources",
)  # fmt: skip


def test_workers_inherit_what_training_imports(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "imports"
    out.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(repo), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    for model in ("diabetes-ridge", "wine-knn"):
        new = json.loads((out / model).read_text())
        again = [m for m in new if m.split(".")[0] in PRELOADED or m.startswith(PRELOADED)]
        assert again == [], f"{model}'s worker imported {again}"
        assert len(new) < 40, f"{model}'s worker imported {len(new)} modules: {new}"
