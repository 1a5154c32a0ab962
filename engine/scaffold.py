"""``mlops init``: set up an existing git repository so that a team can share it.

What a newcomer gets, each piece written only when absent (``--force`` replaces a file
that differs; an identical file is left alone, so running init twice changes nothing).
On a repository whose set-up is committed, init is an upgrade: it writes and, with
``--force``, replaces only the engine's own files (workflows and schemas):

- ``mlops/project.yaml``, one dataset on a small example CSV (``data/example.csv``,
  tracked with DVC), one feature set and one model, each with a schema modeline that
  points at ``mlops/schemas/`` by relative path (editors work offline, and the schema
  is the installed engine's own);
- the GitHub workflows, copies of the engine's own (``engine/templates/workflows``,
  kept identical to ``.github/workflows`` by a test) that install the engine and
  scikit-learn by pinned versions instead of from the checkout;
- DVC: ``dvc init`` when the repository has none, and a default remote ``storage``
  (a folder outside the work tree unless ``--remote`` names another; a local folder is
  written relative, so a clone elsewhere finds its own) that holds both the data and
  the model store (``remote://storage/mlops-store``), so a teammate's clone sees the
  same versions.

The pure parts (the example data, the workflow adaptation, the plan of files) are
plain functions; the DVC commands run as subprocesses of this Python.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from engine.errors import UserError

REMOTE = "storage"
"""The name of the DVC remote init adds; the store lives under it."""
STORE_URL = f"remote://{REMOTE}/mlops-store"
DATA = "data/example.csv"
LOCK = "requirements/lock.txt"
"""The engine's own lock file, which its workflows install from (not in a user repository)."""
WORKFLOWS = ("main", "pull-request", "comment", "deploy", "publish")
"""The engine's workflows a user repository needs (ci and monitor are this project's)."""

PROJECT = f"""\
# yaml-language-server: $schema=schemas/project.schema.json
# Model versions live on the DVC remote {REMOTE!r}, so every clone sees the same ones;
# `dvc remote modify {REMOTE} url s3://bucket/path` moves data and models together.
store: {{url: {STORE_URL}}}
default_branch: main
environments:
  staging: {{branch: env/staging}}
  production:
    branch: env/production
    requires: [staging]             # the same version must be live in staging first
    approvals: 1                    # approving reviews on the PR head, not by its author
    allow: [maintain, admin]        # who may /promote here
    from_default_branch: true       # only versions from merged commits
"""

DATASET = f"""\
# yaml-language-server: $schema=../schemas/dataset.schema.json
name: customers
description: An example table of customers; replace it with your own CSV (`dvc add` it).
source: {{path: {DATA}}}
target: churned
id_column: customer_id
schema:
  columns:
    customer_id: {{type: int}}
    tenure_months: {{type: int, min: 0}}
    monthly_charges: {{type: float, min: 0}}
    support_calls: {{type: int, min: 0}}
    plan: {{type: string, values: [basic, pro, team]}}
    churned: {{type: int, values: [0, 1]}}
checks: {{min_rows: 100, max_null_fraction: 0}}
split: {{test_size: 0.25, seed: 7, stratify: true}}
"""

FEATURES = """\
# yaml-language-server: $schema=../schemas/feature-set.schema.json
name: customer-features
description: Numbers standardized, the plan one-hot encoded; reusable by every model.
transforms:
  - columns: [tenure_months, monthly_charges, support_calls]
    steps:
      - {class: sklearn.preprocessing.StandardScaler}
  - columns: [plan]
    steps:
      - {class: sklearn.preprocessing.OneHotEncoder, params: {handle_unknown: ignore}}
"""

MODEL = """\
# yaml-language-server: $schema=../schemas/model.schema.json
name: churn-logreg
description: A first model; change a parameter and run `mlops plan --base HEAD`.
dataset: customers
features: customer-features
task: classification
estimator:
  class: sklearn.linear_model.LogisticRegression
  params: {C: 1.0, max_iter: 500}
metrics: [accuracy, f1, roc_auc]
primary_metric: accuracy
gates:
  accuracy: {min: 0.7, max_drop: 0.02}
"""


def example_csv(rows: int = 240, seed: int = 7) -> str:
    """A small, deterministic churn table: short tenure, high charges and calls churn."""
    rng = random.Random(seed)  # noqa: S311 (example data, not secrets)
    lines = ["customer_id,tenure_months,monthly_charges,support_calls,plan,churned"]
    for i in range(1, rows + 1):
        tenure = rng.randint(0, 72)
        plan = rng.choice(["basic", "pro", "team"])
        charges = round(rng.uniform(15, 120), 2)
        calls = rng.randint(0, 8)
        score = -0.06 * tenure + 0.03 * charges + 0.45 * calls - 1.2 + rng.gauss(0, 0.8)
        score += {"basic": 0.4, "pro": 0.0, "team": -0.4}[plan]
        lines.append(f"{i},{tenure},{charges},{calls},{plan},{int(score > 0)}")
    return "\n".join(lines) + "\n"


def engine_requirement() -> str:
    """The pip requirement the workflows install: this engine's exact version."""
    try:
        return f"mlops-engine=={version('mlops-engine')}"
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "mlops-engine"


def sklearn_requirement() -> str:
    """The scikit-learn the workflows install: the one this engine runs with, exactly.

    Every model's version records scikit-learn's, so the workflows must not take whatever
    release the engine's lower bound allows that day: a release would move every version
    at once, without a pull request. Pinned, a bump is an edit of the install lines,
    reviewed like any other (docs/upgrading.md).
    """
    from engine.definitions.catalog_format import sklearn_version

    return f"scikit-learn=={sklearn_version()}"


_INSTALL = re.compile(r"^(?P<lead>\s*run: python -m pip install\b[^\n]*?) \.$", re.MULTILINE)


def adapt_workflow(text: str, requirement: str, sklearn: str = "") -> str:
    """The engine's workflow for a user repository: install ``requirement`` (and the
    ``sklearn`` requirement, when given), not ``.``.

    A user repository has neither the engine's ``pyproject.toml`` nor its lock file;
    pinning the versions keeps every run on the engine and scikit-learn the team chose
    (bump them in one place: the workflows).
    """
    wanted = f'"{requirement}"' + (f' "{sklearn}"' if sklearn else "")
    adapted, count = _INSTALL.subn(
        lambda m: f"{m['lead'].replace(f' -c {LOCK}', '')} {wanted}", text
    )
    if count == 0:
        raise ValueError("no `pip install .` line to adapt: the template changed")
    return adapted


def template_workflows() -> dict[str, str]:
    """The engine's packaged workflow files, by name (``main.yml``)."""
    folder = resources.files("engine") / "templates" / "workflows"
    return {f"{name}.yml": (folder / f"{name}.yml").read_text("utf-8") for name in WORKFLOWS}


def for_branch(text: str, branch: str, *, key: str) -> str:
    """``text`` with the default branch ``main`` of ``key: main`` (project file) or
    ``key: [main]`` (a workflow trigger) replaced by ``branch``, quoted unless plain."""
    if branch == "main":
        return text
    name = branch if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]*", branch) else json.dumps(branch)
    return re.sub(
        rf"^(\s*{re.escape(key)}: )(\[main\]|main)$",
        lambda m: m[1] + (f"[{name}]" if m[2].startswith("[") else name),
        text,
        count=1,
        flags=re.M,
    )


def planned_files(requirement: str, branch: str = "main") -> dict[str, str]:
    """Every file init writes, by repository path (pure apart from reading templates and
    scikit-learn's installed version); ``branch`` is the repository's default branch."""
    from engine.definitions import schemas

    files = {
        "mlops/project.yaml": for_branch(PROJECT, branch, key="default_branch"),
        "mlops/datasets/customers.yaml": DATASET,
        "mlops/features/customer-features.yaml": FEATURES,
        "mlops/models/churn-logreg.yaml": MODEL,
        DATA: example_csv(),
    }
    for name, schema in schemas.generate().items():
        files[f"mlops/schemas/{name}"] = schemas.render(schema)
    sklearn = sklearn_requirement()
    for name, text in template_workflows().items():
        text = for_branch(text, branch, key="branches") if name == "main.yml" else text
        files[f".github/workflows/mlops-{name}"] = adapt_workflow(text, requirement, sklearn)
    return files


def default_branch(root: Path) -> str:
    """The repository's default branch: origin's, else the branch checked out (``git init``
    names it ``master`` unless configured), else ``main``."""
    for args in (
        ("symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD"),
        ("symbolic-ref", "--quiet", "--short", "HEAD"),
    ):
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        name = done.stdout.strip().removeprefix("origin/")
        if done.returncode == 0 and name and not name.startswith("env/"):
            return name
    return "main"


ENGINE_OWNED = (".github/workflows/", "mlops/schemas/")
"""Where init's files are the engine's own (copied from it): an upgrade replaces them. The
others (the project file, the example definitions and data) are a starting point that
becomes the team's."""


def engine_owned(path: str) -> bool:
    """Whether init's file ``path`` is one of the engine's own (workflows, schemas)."""
    return path.startswith(ENGINE_OWNED)


def is_set_up(root: Path) -> bool:
    """Whether ``root`` was set up and committed: ``mlops/project.yaml`` is at ``HEAD``.

    Init on such a repository is an upgrade: the team's definitions, data and DVC remote
    are theirs (an example they deleted stays deleted), only the engine's files are new.
    Until that first commit, init completes a set-up it left half done.
    """
    from engine.gitrepo import run_git

    return run_git(root, "cat-file", "-e", "HEAD:mlops/project.yaml", check=False).returncode == 0


@dataclass
class Report:
    """What init did: files written, kept, and the DVC steps, for the CLI to print."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    """Files that exist with other content and were left alone (no ``--force``)."""
    steps: list[str] = field(default_factory=list)
    remote_url: str = ""
    upgrade: bool = False
    """The repository was set up already: only the engine's own files were considered."""
    had_workflows: bool = False
    """The engine's workflows were there before: init compared them with this engine's."""


def init(
    root: Path, *, remote: str | None = None, force: bool = False, requirement: str | None = None
) -> Report:
    """Set up ``root`` (a git repository); safe to run again.

    On a repository set up and committed before (:func:`is_set_up`), only the engine's
    own files (:data:`ENGINE_OWNED`) are written, and ``force`` replaces only those; the
    project file, the definitions and the data are left as they are, and so is a DVC
    remote the team has (without one, DVC is set up as for a new repository).
    """
    if not (root / ".git").exists():
        raise UserError(f"{root} is not a git repository: run `git init` first, then mlops init")
    report = Report(upgrade=is_set_up(root))
    files = planned_files(requirement or engine_requirement(), default_branch(root))
    report.had_workflows = any(
        (root / path).exists() for path in files if path.startswith(".github/workflows/")
    )
    for path, text in files.items():
        if report.upgrade and not engine_owned(path):
            continue
        target = root / path
        if target.is_file() and target.read_text("utf-8") == text:
            report.unchanged.append(path)
        elif target.exists() and not force:
            report.kept.append(path)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            report.written.append(path)
    _ignore(root, ".mlops/")
    report.remote_url = _setup_dvc(root, remote, report)
    return report


def _ignore(root: Path, entry: str) -> None:
    ignore = root / ".gitignore"
    current = ignore.read_text("utf-8") if ignore.exists() else ""
    if entry not in current.split():
        sep = "" if not current or current.endswith("\n") else "\n"
        ignore.write_text(f"{current}{sep}{entry}\n", encoding="utf-8")


def _setup_dvc(root: Path, remote: str | None, report: Report) -> str:
    """``dvc init``, the ``storage`` remote and ``dvc add`` of the example data, as needed.

    On a repository set up before (``report.upgrade``), a remote of the team's own, by
    any name, is left as the default, and no example data is added."""
    if not (root / ".dvc").is_dir():
        _dvc(root, "init", "--quiet")
        report.steps.append("dvc init")
    existing, default = _remotes(_dvc(root, "remote", "list"))
    if REMOTE in existing:
        url = existing[REMOTE]
    elif report.upgrade and existing:  # the team's own remote: theirs to keep
        url = existing[default or next(iter(existing))]
    else:
        url = remote_argument(root, remote, Path.cwd())
        if "://" not in url:
            (root / url).mkdir(parents=True, exist_ok=True)
        _dvc(root, "remote", "add", "--default", REMOTE, url)
        report.steps.append(f"dvc remote add --default {REMOTE} {url}")
        if "://" not in url:  # shown as `dvc remote list` shows it: the folder it names
            url = os.path.normpath(root.resolve() / url)
    if not report.upgrade and (root / DATA).is_file() and not (root / f"{DATA}.dvc").is_file():
        _dvc(root, "add", "--quiet", DATA)
        report.steps.append(f"dvc add {DATA}")
    return url


def remote_argument(root: Path, remote: str | None, cwd: Path) -> str:
    """The URL to give ``dvc remote add`` (run in ``root``) for ``--remote``.

    A local folder goes in relative to ``root`` unless the user named it by an absolute
    path: DVC then writes it to ``.dvc/config`` relative to that file's folder and
    resolves it from there, so a teammate's clone or a CI checkout beside its own remote
    finds it, where an absolute path names a folder on the machine that ran init. The
    default is the folder ``<repository>-dvc-remote`` beside the repository; a relative
    ``--remote`` is read from ``cwd``, as any path on the command line.
    """
    if remote is not None and ("://" in remote or os.path.isabs(remote)):
        return remote
    base = root.resolve()
    folder = cwd / remote if remote is not None else base.parent / f"{base.name}-dvc-remote"
    return Path(os.path.relpath(os.path.abspath(folder), base)).as_posix()


def _remotes(listing: str) -> tuple[dict[str, str], str | None]:
    """Each remote's URL by name from ``dvc remote list`` (``name  url [(default)]``, the
    URL possibly holding spaces), and the default remote's name."""
    urls: dict[str, str] = {}
    default = None
    for line in filter(str.strip, listing.splitlines()):
        name, *rest = line.split(None, 1)
        url = rest[0].strip() if rest else ""
        if url.endswith(" (default)"):
            url, default = url.removesuffix(" (default)").rstrip(), name
        urls[name] = url
    return urls, default


def _dvc(root: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "DVC_NO_ANALYTICS": "1"},
    )
    if done.returncode != 0:
        raise UserError(
            f"`dvc {' '.join(args)}` failed in {root}: {done.stderr.strip() or done.stdout}; "
            "fix it and run mlops init again (it picks up where it stopped)"
        )
    return done.stdout


NEXT_STEPS = """\
Next steps:
  1. Try it:   mlops validate && mlops train && mlops runs
  2. Share it: git add -A && git commit -m "Start mlops" && dvc push && git push
     Teammates: git clone ... && dvc pull  (models need no pull: the store is on the remote)
  3. The remote is a local folder ({url}); for CI and a team, move it (data and models):
       dvc remote modify {remote} url s3://BUCKET/PATH     (or gs://, azure://, ssh://)
     and add the plugin (dvc-s3, dvc-gs, dvc-azure, dvc-ssh) to the workflows' install line;
     credentials go in secrets for the jobs that write the store (mlops-main.yml's
     register job, the comment and deploy jobs; pull-request jobs train into .mlops/store
     and get none), or `dvc remote modify --local` on your machine.
  4. On GitHub (Settings):
     - Actions > General: workflow permissions "read", allow Actions to create PRs: off;
       the workflows ask for the scopes they need per job.
     - Branches: protect main and the environment branches (env/*): only the engine's
       token may push them; require the status checks mlops/validate and mlops/gates
       (not their "(fork)" variants, which a fork's own run computes).
     - Environments: create staging and production (required reviewers on production).
     - GITHUB_TOKEN is all the workflows need: after a promotion the engine starts
       mlops-deploy.yml itself (workflow_dispatch); see the engine's docs/github.md.
"""


UPGRADE_STEPS = """\
This repository was set up before: its project file, definitions, data and DVC remote
were left alone; only the engine's own files (workflows, schemas) were compared.
Next steps (docs/upgrading.md in the engine's docs):
  1. Review: git diff .github/workflows mlops/schemas
     and put back your own edits to the workflows (a dvc-s3 on the install line, ...).
  2. Commit on a branch and open a pull request; merge it once its checks pass.
  3. Then merge main into each environment branch by hand, once:
       git checkout env/staging && git merge main && git push   (and env/production)
     a GITHUB_TOKEN push cannot change .github/workflows/, so a /promote that would
     carry the new workflows there is refused until then.
"""


def next_steps(remote_url: str, *, upgrade: bool = False) -> str:
    """What to do after init, with the remote's current URL filled in; after an init on a
    repository that was set up before, the upgrade's steps."""
    if upgrade:
        return UPGRADE_STEPS
    return NEXT_STEPS.format(url=remote_url, remote=REMOTE)
