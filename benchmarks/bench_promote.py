"""Promotion and the views of environments, as a user runs them (fresh processes).

- ``mlops promote`` of a stored version to staging, with a bare origin on disk:
  goal ≤ 3 s wall.
- ``mlops status`` and ``mlops history MODEL`` after a few promotions and rollbacks:
  goal ≤ 0.3 s each (``gto show`` takes 1.28 s at 116 tags, for scale).

Run: ``.venv/bin/python benchmarks/bench_promote.py``
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.conftest import git, init_repo  # noqa: E402

MLOPS = Path(sys.executable).parent / "mlops"


def timed(args: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run([str(MLOPS), *args], cwd=cwd, capture_output=True, text=True)
    took = time.perf_counter() - started
    assert done.returncode in (0, 1), done.stderr
    return took


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = init_repo(Path(tmp) / "repo")
        subprocess.run([str(MLOPS), "train"], cwd=root, capture_output=True, check=True)
        promotions = []
        for i in range(5):  # five versions of one model, each promoted to staging
            model = root / "mlops/models/diabetes-ridge.yaml"
            text = model.read_text()
            model.write_text(
                text.replace(text[text.index("alpha: ") :].split("}")[0], f"alpha: {i + 2}.5")
            )
            git(root, "commit", "-q", "-am", f"alpha {i}")
            git(root, "push", "-q", "origin", "main")
            subprocess.run(
                [str(MLOPS), "train", "diabetes-ridge"], cwd=root, capture_output=True, check=True
            )
            promotions.append(timed(["promote", "diabetes-ridge", "--to", "staging"], root))
        timed(["rollback", "diabetes-ridge", "--env", "staging"], root)
        status = [timed(["status"], root) for _ in range(7)]
        history = [timed(["history", "diabetes-ridge"], root) for _ in range(7)]
    print(
        f"mlops promote (stored version)  median {statistics.median(promotions):.3f} s, "
        f"max {max(promotions):.3f} s (goal ≤ 3)"
    )
    print(f"mlops status                    median {statistics.median(status):.3f} s (goal ≤ 0.3)")
    print(f"mlops history MODEL             median {statistics.median(history):.3f} s (goal ≤ 0.3)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
