"""Planning end to end: real git repositories holding this project's own example definitions."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from engine.errors import GitError
from engine.training.plan import Plan, plan_matrix
from engine.training.planning import compute_plan

EXAMPLES = Path(__file__).resolve().parents[2] / "mlops"
ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Ada Lovelace",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "CI",
    "GIT_COMMITTER_EMAIL": "ci@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "DVC_NO_ANALYTICS": "1",
}


def run(root: Path, *args: str) -> str:
    """Run a command in ``root`` with a fixed identity and no user configuration."""
    done = subprocess.run(list(args), cwd=root, env=ENV, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def commit(root: Path, message: str = "change") -> str:
    """Commit everything in the working tree; return the new SHA."""
    run(root, "git", "add", "-A")
    run(root, "git", "commit", "-q", "-m", message)
    return run(root, "git", "rev-parse", "HEAD")


def edit_yaml(path: Path, *keys: str, value: object) -> object:
    """Set ``keys`` in the YAML file at ``path`` to ``value``; return the old value."""
    doc = yaml.safe_load(path.read_text())
    node = doc
    for key in keys[:-1]:
        node = node[key]
    old = node.get(keys[-1])
    node[keys[-1]] = value
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return old


def statuses(result: Plan) -> dict[str, str]:
    return {m.name: m.status for m in result.models}


def reasons(result: Plan, name: str) -> list[str]:
    return [r.render() for m in result.models if m.name == name for r in m.reasons]


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str]:
    """A repository whose first commit holds the project's example definitions."""
    root = tmp_path / "repo"
    root.mkdir()
    run(root, "git", "init", "-q", "-b", "main")
    shutil.copytree(EXAMPLES, root / "mlops")
    (root / "README.md").write_text("# models\n")
    return root, commit(root, "examples")


def test_the_examples_plan_cleanly_and_an_unchanged_head_plans_nothing(repo):
    root, base = repo
    result = compute_plan(root, base, "HEAD")
    assert result.models and {m.status for m in result.models} == {"unchanged"}
    assert all(m.problems == () for m in result.models) and result.problems == ()
    assert result.base_commit == result.head_commit == base
    assert not result.has_work and plan_matrix(result) == {"include": []}


def test_a_readme_and_a_description_change_plan_nothing(repo):
    root, base = repo
    (root / "README.md").write_text("# models, better explained\n")
    edit_yaml(root / "mlops/models/cancer-rf.yaml", "description", value="Reworded.")
    head = commit(root)
    assert {m.status for m in compute_plan(root, base, head).models} == {"unchanged"}


def test_a_param_and_a_split_change_plan_exactly_the_affected_models(repo):
    root, base = repo
    depth = edit_yaml(
        root / "mlops/models/cancer-rf.yaml", "estimator", "params", "max_depth", value=11
    )
    seed = edit_yaml(root / "mlops/datasets/iris.yaml", "split", "seed", value=99)
    head = commit(root)
    result = compute_plan(root, base, head)
    changed = {m.name for m in result.to_train}
    iris_models = {
        p.stem
        for p in (root / "mlops/models").glob("*.yaml")
        if yaml.safe_load(p.read_text())["dataset"] == "iris"
    }
    assert changed == {"cancer-rf"} | iris_models
    assert reasons(result, "cancer-rf") == [
        f"mlops/models/cancer-rf.yaml: estimator.params.max_depth {depth} → 11"
    ]
    assert reasons(result, "iris-logreg") == [f"mlops/datasets/iris.yaml: split.seed {seed} → 99"]
    assert result.base_commit == base and result.head_commit == head
    matrix = plan_matrix(result)["include"]
    assert {row["model"] for row in matrix} == changed
    assert all(len(row["version"]) == 12 for row in matrix)


def test_a_feature_set_change_replans_its_users(repo):
    root, base = repo
    path = root / "mlops/features/standardized.yaml"
    edit_yaml(path, "remainder", value="drop")
    result = compute_plan(root, base, commit(root))
    users = {
        p.stem
        for p in (root / "mlops/models").glob("*.yaml")
        if yaml.safe_load(p.read_text()).get("features") == "standardized"
    }
    assert users and {m.name for m in result.to_train} == users
    for name in users:
        assert reasons(result, name) == [
            "mlops/features/standardized.yaml: remainder passthrough → drop"
        ]


def test_the_working_tree_can_be_the_head(repo):
    root, base = repo
    edit_yaml(root / "mlops/models/wine-knn.yaml", "estimator", "params", "n_neighbors", value=7)
    result = compute_plan(root, base, None)
    assert result.head_commit is None
    assert [m.name for m in result.to_train] == ["wine-knn"]
    assert compute_plan(root, base, "HEAD").to_train == []


def test_a_file_both_revisions_hold_is_one_entry_with_one_fingerprint(repo):
    from engine.training.plan import plan
    from engine.training.planning import snapshot

    root, base = repo
    edit_yaml(root / "mlops/models/wine-knn.yaml", "estimator", "params", "n_neighbors", value=7)
    before, after = snapshot(root, base), snapshot(root, None)  # the edit is not committed
    same, edited = "cancer-rf", "wine-knn"
    assert before.definitions.models[same] is after.definitions.models[same]
    assert before.definitions.models[edited] is not after.definitions.models[edited]
    result = {m.name: m for m in plan(before, after).models}
    assert result[same].status == "unchanged" and result[edited].status == "changed"
    assert result[same].base_fingerprint == result[same].head_fingerprint


def test_a_pull_request_that_bumps_the_pinned_scikit_learn_replans_every_model(repo):
    from engine.training.planning import sklearn_version, unchanged

    root, _ = repo
    flow = root / ".github/workflows/mlops-pull-request.yml"
    flow.parent.mkdir(parents=True)
    install = '      - run: python -m pip install "mlops-engine==0.1.0" "scikit-learn=={}"\n'
    flow.write_text("jobs:\n  plan:\n    steps:\n" + install.format("1.0.2"))
    base = commit(root, "workflows pin scikit-learn 1.0.2")
    flow.write_text(flow.read_text().replace("1.0.2", sklearn_version()))
    head = commit(root, "bump scikit-learn")
    assert unchanged(root, base, head) is None  # the same definitions, yet a plan is needed
    result = compute_plan(root, base, head)
    assert result.models and {m.status for m in result.models} == {"changed"}
    assert reasons(result, "cancer-rf") == [f"scikit-learn 1.0.2 → {sklearn_version()}"]
    # the same pin on both sides (a workflow edit elsewhere): nothing moves
    flow.write_text(flow.read_text() + "# a comment\n")
    assert {m.status for m in compute_plan(root, head, None).models} == {"unchanged"}


def test_an_invalid_head_model_is_reported_not_raised(repo):
    root, base = repo
    (root / "mlops/models/diabetes-ridge.yaml").write_text("name: diabetes-ridge\ntask: [\n")
    edit_yaml(root / "mlops/models/cancer-rf.yaml", "gates", value={"nope": {"min": 0.5}})
    result = compute_plan(root, base, commit(root))
    assert statuses(result)["diabetes-ridge"] == "invalid"
    assert statuses(result)["cancer-rf"] == "invalid"  # a gate on a metric it never computes
    (gate,) = next(m for m in result.models if m.name == "cancer-rf").problems
    assert "'nope'" in gate.message and gate.path == "mlops/models/cancer-rf.yaml"
    assert not result.has_work


def test_an_unknown_base_says_how_to_fetch_it(repo):
    root, _ = repo
    with pytest.raises(GitError, match="git fetch origin 0123abcd"):
        compute_plan(root, "0123abcd", "HEAD")


def test_a_depth_one_clone_plans_once_the_base_commit_is_fetched(repo, tmp_path):
    root, base = repo
    edit_yaml(root / "mlops/models/cancer-rf.yaml", "estimator", "params", "n_estimators", value=3)
    head = commit(root)
    origin = tmp_path / "origin.git"
    run(tmp_path, "git", "init", "-q", "--bare", "-b", "main", str(origin))
    run(root, "git", "push", "-q", str(origin), "main")
    clone = tmp_path / "clone"
    run(tmp_path, "git", "clone", "-q", "--depth", "1", f"file://{origin}", str(clone))
    assert run(clone, "git", "rev-parse", "--is-shallow-repository") == "true"
    with pytest.raises(GitError, match="shallow"):
        compute_plan(clone, base, head)
    run(clone, "git", "fetch", "-q", "--depth", "1", "origin", base)
    result = compute_plan(clone, base, head)
    assert [m.name for m in result.to_train] == ["cancer-rf"]
    assert result == compute_plan(root, base, head)


def test_planning_never_imports_scikit_learn_nor_the_metadata_parser(repo):
    # scikit-learn's version comes from its METADATA's Version field (the fingerprint
    # records it), read without importlib.metadata and the e-mail parser
    root, base = repo
    code = (
        "import sys; from pathlib import Path; from engine.training.planning import compute_plan, "
        "sklearn_version; v = sklearn_version(); m = 'importlib.metadata' in sys.modules; "
        "compute_plan(Path(sys.argv[1]), sys.argv[2], None); "
        "print(v, 'sklearn' in sys.modules, m)"
    )
    out = run(Path(__file__).resolve().parents[2], sys.executable, "-c", code, str(root), base)
    version, imported, metadata_read = out.split()
    assert version == metadata.version("scikit-learn")
    assert imported == metadata_read == "False"


def test_a_dvc_tracked_data_change_replans_the_models_on_it(repo):
    root, _ = repo
    dvc = str(Path(sys.executable).with_name("dvc"))
    run(root, dvc, "init", "-q")
    (root / "data").mkdir()
    (root / "data/churn.csv").write_text("tenure,churned\n1,0\n2,1\n")
    run(root, dvc, "add", "-q", "data/churn.csv")
    (root / "mlops/datasets/churn.yaml").write_text(
        "name: churn\nsource: {path: data/churn.csv}\ntarget: churned\n"
    )
    for name in ("churn-a", "churn-b"):
        (root / f"mlops/models/{name}.yaml").write_text(
            f"name: {name}\ndataset: churn\ntask: classification\nestimator:\n"
            "  class: sklearn.linear_model.LogisticRegression\nmetrics: [accuracy]\n"
            "primary_metric: accuracy\n"
        )
    base = commit(root, "churn data")
    old = yaml.safe_load((root / "data/churn.csv.dvc").read_text())["outs"][0]["md5"]
    (root / "data/churn.csv").write_text("tenure,churned\n1,0\n2,1\n3,1\n")
    run(root, dvc, "add", "-q", "data/churn.csv")
    new = yaml.safe_load((root / "data/churn.csv.dvc").read_text())["outs"][0]["md5"]
    result = compute_plan(root, base, commit(root, "more rows"))
    assert {m.name for m in result.to_train} == {"churn-a", "churn-b"}
    assert reasons(result, "churn-a") == [
        f"data/churn.csv.dvc: content changed (md5 {old[:8]}… → {new[:8]}…)"
    ]


def test_at_a_revision_only_the_blobs_the_parse_cache_lacks_are_read(repo):
    from engine import gitrepo
    from engine.definitions.references import check_references
    from engine.training.planning import _load, read_definitions

    root, base = repo
    read_definitions(root, base)  # parses (and caches) every definition of base
    edit_yaml(root / "mlops/models/cancer-rf.yaml", "estimator", "params", "max_depth", value=3)
    edit_yaml(root / "mlops/models/wine-knn.yaml", "metrics", value=["accuracy", "rmse"])
    head = commit(root)
    listed = gitrepo.tree(root, head)
    assert isinstance(listed, gitrepo.Tree)
    fresh = gitrepo.Tree(root, dict(listed.ids))
    _load(root, fresh)  # parses the two edited files: only they are read
    definitions = {p for p in fresh._data if p.startswith("mlops/")}
    assert definitions == {"mlops/models/cancer-rf.yaml", "mlops/models/wine-knn.yaml"}
    again = gitrepo.Tree(root, dict(listed.ids))  # later: every definition is known
    defs = _load(root, again)
    assert not {p for p in again._data if p.startswith("mlops/")}
    assert defs.models["cancer-rf"].spec.estimator.params["max_depth"] == 3
    # a problem on a cached document: its bytes are read then (here from the revision
    # read before, whose entry this is: the same path and blob), to place it
    (problem,) = [p for p in check_references(defs) if "'rmse'" in p.message]
    assert not {p for p in again._data if p.startswith("mlops/")}
    text = (root / "mlops/models/wine-knn.yaml").read_text().splitlines()
    assert problem.path.endswith("wine-knn.yaml") and text[problem.line - 1].strip() == "- rmse"
