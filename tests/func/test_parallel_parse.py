"""Thousands of new definitions parsed on two processes load exactly as in one.

``engine.training.parallel.warm`` forks a child for half the files above its threshold;
here the threshold is lowered so a handful of files (valid ones, and one of each kind
of problem) take that path, from plain bytes and from a git tree, and everything
``load`` gives (values, typed definitions, problems in order) must be what one process
gives without any cache. A child that fails leaves its half to ``load``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from engine import gitrepo
from engine.definitions import parse_cache
from engine.definitions.formats import kind_of
from engine.definitions.loading import Definitions, load
from engine.definitions.parse_cache import ParseCache, blob_id
from engine.training import parallel
from tests.func.test_planning import commit, run

MODEL = "name: {n}\ndataset: d\ntask: classification\nmetrics: [accuracy]\n" + (
    "primary_metric: accuracy\nestimator: {{class: sklearn.linear_model.LogisticRegression}}\n"
)
FILES = {
    "mlops/datasets/d.yaml": b"name: d\nsource: {sklearn: load_iris}\ntarget: target\n",
    **{f"mlops/models/m{i}.yaml": MODEL.format(n=f"m{i}").encode() for i in range(12)},
    "mlops/models/bad-yaml.yaml": b"name: bad-yaml\nmetrics: [\n",
    "mlops/models/bad-schema.yaml": MODEL.format(n="bad-schema").encode() + b"colour: red\n",
    "mlops/models/empty.yaml": b"# nothing\n",
    "mlops/models/misnamed.yaml": MODEL.format(n="other").encode(),
    "mlops/models/dup.yaml": MODEL.format(n="m3").encode(),
    "data/x.csv.dvc": b"outs:\n- md5: 0123456789abcdef0123456789abcdef\n  path: x.csv\n",
}


UNPARSED = ("mlops/models/bad-yaml.yaml", "mlops/models/empty.yaml", "data/x.csv.dvc")
PARSED = len({blob_id(data) for path, data in FILES.items() if path not in UNPARSED})


def summary(defs: Definitions) -> tuple:
    return (
        [p.render() for p in defs.problems],
        sorted(defs.invalid),
        {
            kind: {name: (e.path, e.doc.value, e.spec) for name, e in table.items()}
            for kind, table in (("m", defs.models), ("d", defs.datasets), ("f", defs.features))
        },
    )


MACHINE_SPARE_CORES = parallel._spare_cores  # before the fixture below replaces it


@pytest.fixture(autouse=True)
def low_threshold(monkeypatch):
    monkeypatch.setattr(parallel, "THRESHOLD", 2)
    monkeypatch.setattr(parallel, "_spare_cores", lambda: 1.0)


def warmed(files: Mapping[str, bytes], ids: Mapping[str, str] | None) -> ParseCache:
    cache = ParseCache()
    paths = [p for p in files if kind_of(p) is not None]
    parallel.warm(cache, files, paths, ids, also=[p for p in files if kind_of(p) is None])
    return cache


def test_plain_bytes_load_as_in_one_process():
    ids = {p: blob_id(data) for p, data in FILES.items()}
    cache = warmed(FILES, ids)
    # both halves are in: every file that parses, typed values for the valid ones
    assert len(cache.memory) == PARSED  # all but the YAML error, the empty file, the pointer
    assert summary(load(FILES, cache)) == summary(load(FILES))


def test_a_git_tree_loads_as_in_one_process(tmp_path):
    run(tmp_path, "git", "init", "-q")
    for path, data in FILES.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(data)
    sha = commit(tmp_path)
    tree = gitrepo.tree(tmp_path, sha)
    cache = warmed(tree, tree.ids)
    assert len(cache.memory) == PARSED
    assert summary(load(tree, cache)) == summary(load(gitrepo.read_tree(tmp_path, sha)))


class FailsInAChild(Mapping[str, bytes]):
    """Files that cannot be read in any process but the one that made them."""

    def __init__(self, files: Mapping[str, bytes]) -> None:
        self.files, self.pid = files, os.getpid()

    def __getitem__(self, path: str) -> bytes:
        if os.getpid() != self.pid:
            raise OSError("gone")
        return self.files[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)


def test_a_failed_child_leaves_its_half_to_load():
    files = FailsInAChild(FILES)
    ids = {p: blob_id(data) for p, data in FILES.items()}
    cache = warmed(files, ids)
    assert 0 < len(cache.memory) < PARSED  # this process's half only
    assert summary(load(files, cache)) == summary(load(FILES))


@pytest.mark.parametrize(("threshold", "spare"), [(10_000, 1.0), (2, 0.3)])
def test_below_the_threshold_or_without_a_spare_core_nothing_forks(monkeypatch, threshold, spare):
    monkeypatch.setattr(parallel, "THRESHOLD", threshold)
    monkeypatch.setattr(parallel, "_spare_cores", lambda: spare)
    files = FailsInAChild(FILES)  # a child would fail to read: everything is here anyway
    cache = warmed(files, {p: blob_id(data) for p, data in FILES.items()})
    assert len(cache.memory) == PARSED


def test_a_plan_on_two_processes_is_the_plan_on_one(tmp_path, monkeypatch):
    from engine.training.plan import plan_to_json
    from engine.training.planning import compute_plan

    run(tmp_path, "git", "init", "-q")
    for path, data in FILES.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(data)
    base = commit(tmp_path)
    (tmp_path / "mlops/models/m1.yaml").write_bytes(MODEL.format(n="m1").encode() + b"cv: 3\n")
    head = commit(tmp_path)
    monkeypatch.setenv("MLOPS_CACHE_DIR", str(tmp_path / "cache"))
    two = plan_to_json(compute_plan(tmp_path, base, head))
    monkeypatch.setattr(parallel, "THRESHOLD", 10_000)
    for cached in Path(tmp_path / ".mlops").rglob("definitions-*"):
        cached.unlink()
    parse_cache._shared.clear()  # a new process: nothing parsed yet
    one = plan_to_json(compute_plan(tmp_path, base, head))
    assert two == one
    assert [m["status"] for m in one["models"]].count("invalid") >= 3


def test_each_process_follows_its_own_share_and_the_facts_come_back():
    # `follow` sees the datasets and the pointer, but only its own share of the models
    seen: dict[str, list[str]] = {}

    def follow(cache: ParseCache, files: Mapping[str, bytes], ids: object) -> None:
        models = sorted(p for p in files if kind_of(p) == "model")
        assert "mlops/datasets/d.yaml" in files and files["data/x.csv.dvc"]
        for path in FILES:
            if kind_of(path) == "model" and path not in models:
                with pytest.raises(KeyError):
                    files[path]
        cache.remember(f"seen:{os.getpid()}", models)
        seen.setdefault("here", models)

    cache = ParseCache()
    paths = [p for p in FILES if kind_of(p) is not None]
    ids = {p: blob_id(data) for p, data in FILES.items()}
    parallel.warm(cache, FILES, paths, ids, also=["data/x.csv.dvc"], follow=follow)
    facts = {k: v for k, v in cache.derived.items() if k.startswith("seen:")}
    assert len(facts) == 2 and facts[f"seen:{os.getpid()}"] == seen["here"]  # one is the child's
    mine, theirs = (set(v) for v in facts.values())
    assert mine and theirs and not mine & theirs
    assert mine | theirs == {p for p in FILES if kind_of(p) == "model"}


def test_a_validation_on_two_processes_is_the_validation_on_one(tmp_path, monkeypatch):
    from engine import api

    run(tmp_path, "git", "init", "-q")
    for path, data in FILES.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(data)
    (tmp_path / "mlops/models/m4.yaml").write_bytes(
        MODEL.format(n="m4").replace("LogisticRegression", "LogisticRegresion").encode()
    )
    (tmp_path / "mlops/models/m5.yaml").write_bytes(
        MODEL.format(n="m5").replace("d\n", "e\n", 1).encode()
    )
    monkeypatch.setenv("MLOPS_CACHE_DIR", str(tmp_path / "cache"))
    two = api.validate(tmp_path, data=False)
    assert {p.path for p in two.problems} >= {"mlops/models/m4.yaml", "mlops/models/m5.yaml"}
    monkeypatch.setattr(parallel, "THRESHOLD", 10_000)
    for cached in Path(tmp_path / ".mlops").rglob("definitions-*"):
        cached.unlink()
    parse_cache._shared.clear()
    one = api.validate(tmp_path, data=False)
    assert [p.render() for p in two.problems] == [p.render() for p in one.problems]
    assert two.checked == one.checked


def test_mostly_datasets_split_everything_and_leave_the_checks_to_the_caller():
    # both processes would read every dataset for its checks: not worth a follow
    files = {
        **{
            f"mlops/datasets/d{i}.yaml": FILES["mlops/datasets/d.yaml"].replace(
                b"name: d\n", f"name: d{i}\n".encode()
            )
            for i in range(8)
        },
        "mlops/models/m0.yaml": FILES["mlops/models/m0.yaml"],
        "mlops/models/m1.yaml": FILES["mlops/models/m1.yaml"],
    }
    follows: list[int] = []
    cache = ParseCache()
    ids = {p: blob_id(data) for p, data in files.items()}
    parallel.warm(cache, files, list(files), ids, follow=lambda *_: follows.append(1))
    assert follows == [] and len(cache.memory) == len(set(ids.values()))


def test_without_a_process_to_fork_this_one_does_it_all(monkeypatch):
    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    ids = {p: blob_id(data) for p, data in FILES.items()}
    assert len(warmed(FILES, ids).memory) == PARSED


def test_classes_beyond_scikit_learn_are_imported_once_by_a_validation(tmp_path, monkeypatch):
    # their import can do anything (print, write): the child must not do it a second time
    from engine import api

    run(tmp_path, "git", "init", "-q")
    module = tmp_path / "lib" / "ourest.py"
    module.parent.mkdir()
    module.write_text(
        "import os\n"
        "with open(os.environ['IMPORTS_LOG'], 'a') as log:\n"
        "    log.write(f'{os.getpid()}\\n')\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "class Ours(LogisticRegression):\n"
        "    pass\n"
    )
    for path, data in FILES.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(data)
    (tmp_path / "mlops/project.yaml").write_text("allow_estimators: [ourest.Ours]\n")
    (tmp_path / "mlops/models/m0.yaml").write_bytes(
        MODEL.format(n="m0")
        .replace("sklearn.linear_model.LogisticRegression", "ourest.Ours")
        .encode()
    )
    log = tmp_path / "imports.log"
    monkeypatch.setenv("IMPORTS_LOG", str(log))
    monkeypatch.setenv("MLOPS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.syspath_prepend(str(module.parent))
    monkeypatch.delitem(sys.modules, "ourest", raising=False)
    result = api.validate(tmp_path, data=False)
    assert "mlops/models/m0.yaml" not in {p.path for p in result.problems}
    assert log.read_text().split() == [str(os.getpid())]


@pytest.mark.parametrize(
    ("cores", "average", "running", "forks"),
    [
        (2, 0.3, 1, True),  # an idle runner: this process alone
        (2, 1.4, 1, True),  # the previous command's minute still in the average
        (2, 0.4, 2, False),  # another process started a moment ago (the average lags)
        (2, 2.5, 1, False),  # busy for a minute, idle this instant
        (4, 1.8, 2, True),  # a larger runner with one other job
        (1, 0.0, 1, False),
    ],
)
def test_a_second_process_only_with_a_core_nothing_else_keeps_busy(cores, average, running, forks):
    assert (parallel.spare(cores, average, running) >= 0.5) is forks


def test_the_spare_cores_of_this_machine_are_read():
    assert MACHINE_SPARE_CORES() <= (os.cpu_count() or 1) - 1
    if os.path.exists("/proc/loadavg"):  # both figures read from it, not the fallback's
        before = os.getloadavg()[0]
        average, running = parallel._load()
        after = os.getloadavg()[0]
        assert min(before, after) - 0.01 <= average <= max(before, after) + 0.01
        assert running >= 1  # this process
