"""``mlops init``: start a repository on the embedded defaults.

Writes a project file (a local store, ``staging`` and ``production`` environments), one
dataset and one model on scikit-learn's iris data, each with the schema modeline for
editor help — a working starting point that ``mlops validate`` and ``mlops train``
accept as is. Existing files are never overwritten.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import UserError

FILES = {
    "mlops/project.yaml": """\
# yaml-language-server: $schema=https://mlops-engine.dev/schemas/project.schema.json
store: {url: .mlops/store}          # or any DVC remote URL: s3://, gs://, azure://, ssh://
default_branch: main
environments:
  staging: {branch: env/staging}
  production:
    branch: env/production
    requires: [staging]             # the same version must be live in staging first
    approvals: 1                    # approving reviews on the PR head, not by its author
    allow: [maintain, admin]        # who may /promote here
    from_default_branch: true       # only versions from merged commits
""",
    "mlops/datasets/iris.yaml": """\
# yaml-language-server: $schema=https://mlops-engine.dev/schemas/dataset.schema.json
name: iris
description: Fisher's iris flowers, as scikit-learn ships them.
source: {sklearn: load_iris}        # or {path: data/my.csv}, tracked with `dvc add`
target: target
schema:
  columns:
    "sepal length (cm)": {type: float, min: 0}
    "sepal width (cm)": {type: float, min: 0}
    "petal length (cm)": {type: float, min: 0}
    "petal width (cm)": {type: float, min: 0}
    target: {type: int, values: [0, 1, 2]}
checks: {min_rows: 100, max_null_fraction: 0}
split: {test_size: 0.25, seed: 7, stratify: true}
""",
    "mlops/models/iris-logreg.yaml": """\
# yaml-language-server: $schema=https://mlops-engine.dev/schemas/model.schema.json
name: iris-logreg
description: A first model; change a parameter and run `mlops plan --base HEAD`.
dataset: iris
features:
  transforms:
    - columns: ["sepal length (cm)", "sepal width (cm)", "petal length (cm)",
                "petal width (cm)"]
      steps:
        - {class: sklearn.preprocessing.StandardScaler}
task: classification
estimator:
  class: sklearn.linear_model.LogisticRegression
  params: {C: 1.0, max_iter: 500}
metrics: [accuracy, f1_macro, log_loss]
primary_metric: accuracy
gates:
  accuracy: {min: 0.85, max_drop: "2%"}
""",
}
IGNORE = ".mlops/\n"


def init(root: Path) -> list[str]:
    """Write the starting files under ``root``; return the paths written."""
    existing = [path for path in FILES if (root / path).exists()]
    if existing:
        raise UserError(
            f"{', '.join(existing)} already exist(s): mlops init never overwrites; "
            "edit the files, or run it in a new repository"
        )
    for path, text in FILES.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    ignore = root / ".gitignore"
    current = ignore.read_text() if ignore.exists() else ""
    if ".mlops/" not in current.split():
        ignore.write_text(
            current + ("" if current.endswith("\n") or not current else "\n") + IGNORE
        )
    return list(FILES)
