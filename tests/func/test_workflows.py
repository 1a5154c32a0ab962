"""The repository's GitHub Actions workflows and its composite action, linted and run.

Three lint layers, each also run against a deliberately bad workflow so that a silent
linter (nothing collected, a renamed flag) cannot pass for a clean one:

- ``zizmor --offline`` (static security analysis) must report no finding; the only
  accepted inline suppressions are listed in ``SUPPRESSIONS``, each explained where it
  is written;
- ``check-jsonschema`` validates every workflow against GitHub's workflow schema and
  ``action.yml`` against the action schema, both shipped with the tool (no network);
- plain structural rules read with ``yaml.safe_load``: permissions per job, pinned
  actions, no expression inside a script, checkout without credentials, and the exact
  write scopes of every job (``PERMISSIONS``), so widening one is a reviewed change.

Then the scripts inside the steps are run by bash as the runner runs them: the plan
steps against the real ``mlops plan`` in a real repository, the deploy step's naming
of the environment, and the composite action's argument splitting.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((PROJECT / ".github" / "workflows").glob("*.yml"))
ACTION = PROJECT / "action.yml"

# Any network access fails fast: both tools must work offline.
OFFLINE_ENV = {
    **{
        k: v
        for k, v in os.environ.items()
        if k.upper() not in {"NO_PROXY", "GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_GITHUB_TOKEN"}
    },
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
}

# Exactly the scopes each job holds, so that widening one is a reviewed change.
READ = {"contents": "read"}
# fmt: off
PERMISSIONS: dict[str, dict[str, dict[str, str]]] = {
    "pull-request.yml": {"plan": READ, "train": READ, "report": READ},
    "publish.yml": {"publish": {"actions": "read", "contents": "read",
                                "pull-requests": "write", "statuses": "write"}},
    "comment.yml": {"command": {"actions": "write", "contents": "write",
                                "pull-requests": "write", "statuses": "read"}},
    "main.yml": {"plan": READ, "train": READ, "register": READ},
    "deploy.yml": {"target": {}, "deploy": {**READ, "deployments": "write"}},
    "monitor.yml": {"monitor": {"contents": "read", "issues": "write"},
                    "retrain": {"contents": "write", "pull-requests": "write"}},
    "ci.yml": {"test": READ, "action": READ},
}
# fmt: on

# (file, audit) pairs allowed a `# zizmor: ignore[...]`, each justified in the file.
SUPPRESSIONS = {
    ("publish.yml", "dangerous-triggers"),  # workflow_run is the privileged half
    ("comment.yml", "dangerous-triggers"),  # issue_comment is how commands arrive
    ("ci.yml", "self-repository"),  # the root action can only be `./`
    ("monitor.yml", "self-repository"),
}

UNTRUSTED = re.compile(
    r"github\.event\.(comment|issue|pull_request|review|review_comment|discussion|"
    r"head_commit|commits|workflow_run)\.|github\.head_ref|\.body\b|\.title\b"
)
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(?:-\s*)?uses:\s*(\S+)\s*(?:#\s*(.*))?$")

BAD_WORKFLOW = """\
name: bad
on:
  issue_comment:
    types: [created, edited]
jobs:
  echo:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.comment.body }}"
"""


def tool(name: str) -> str:
    """The path of a dev tool installed next to this Python, or on PATH."""
    found = Path(sys.executable).parent / name
    path = str(found) if found.exists() else shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[dev]'")
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run a command offline, capturing its output."""
    return subprocess.run(args, env=OFFLINE_ENV, capture_output=True, text=True, timeout=60)


def zizmor(*paths: Path, persona: str = "regular") -> tuple[int, list[dict[str, Any]]]:
    """zizmor's exit code and findings (JSON) for ``paths``, offline, with no config file."""
    flags = ["--offline", "--no-config", "--no-progress", "--format", "json", "--persona", persona]
    done = run(tool("zizmor"), *flags, *map(str, paths))
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout)


def load(path: Path) -> dict[Any, Any]:
    """A workflow or action file as data."""
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict), path
    return doc


def triggers(doc: dict[Any, Any]) -> Any:
    """The `on:` mapping; YAML 1.1 (PyYAML) reads the bare key `on` as True."""
    return doc.get("on", doc.get(True))


def steps_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every step of every job of a workflow, or of a composite action."""
    if "runs" in doc:
        return list(doc["runs"].get("steps", []))
    return [step for job in doc["jobs"].values() for step in job.get("steps", [])]


# --- the rules, as functions returning problems (checked on good and bad files) ------


def script_problems(doc: dict[str, Any]) -> list[str]:
    """Expressions inside `run:` scripts: values must come in through `env:`."""
    problems = []
    for step in steps_of(doc):
        script = step.get("run", "")
        for expr in re.findall(r"\$\{\{(.*?)\}\}", script, flags=re.S):
            kind = "untrusted text" if UNTRUSTED.search(expr) else "an expression"
            problems.append(f"{kind} in run: ${{{{{expr}}}}}")
    return problems


def checkout_problems(doc: dict[str, Any]) -> list[str]:
    """Checkouts that leave the token in .git/config."""
    return [
        f"checkout without persist-credentials: false: {step}"
        for step in steps_of(doc)
        if str(step.get("uses", "")).startswith("actions/checkout@")
        and (step.get("with") or {}).get("persist-credentials") is not False
    ]


def pin_problems(text: str) -> list[str]:
    """`uses:` not pinned to a full commit SHA with a `# vX.Y.Z` comment (local ones aside)."""
    problems = []
    for line in text.splitlines():
        match = USES_LINE.match(line)
        if match is None or match.group(1).startswith("./"):
            continue
        ref, comment = match.group(1), match.group(2) or ""
        if not PINNED.match(ref) or not re.match(r"v\d+\.\d+\.\d+\b", comment):
            problems.append(f"not pinned to a SHA with a version comment: {line.strip()}")
    return problems


def permission_problems(doc: dict[str, Any]) -> list[str]:
    """Missing `permissions: {}` at the top, or a job without its own permissions."""
    problems = [] if doc.get("permissions") == {} else ["top-level permissions is not {}"]
    for name, job in doc.get("jobs", {}).items():
        if not isinstance(job.get("permissions"), dict):
            problems.append(f"job {name} has no permissions mapping")
        if "timeout-minutes" not in job:
            problems.append(f"job {name} has no timeout-minutes")
    return problems


# Triggers whose runs GitHub starts on the default branch (its workflow and its commit).
DEFAULT_BRANCH_EVENTS = {"issue_comment", "workflow_run", "schedule"}
DEFAULT_REF = "${{ github.event.repository.default_branch }}"


def privileged(job: dict[str, Any]) -> bool:
    """A job holding a write token or secrets (a GitHub environment brings its secrets)."""
    scopes = (job.get("permissions") or {}).values()
    return "write" in scopes or "environment" in job or "secrets." in json.dumps(job)


def on_default_branch_only(doc: dict[Any, Any]) -> bool:
    """Whether every trigger runs on the default branch (``main`` in this repository)."""
    on = triggers(doc)
    events = (
        on if isinstance(on, dict) else {e: None for e in ([on] if isinstance(on, str) else on)}
    )
    return all(
        event in DEFAULT_BRANCH_EVENTS
        or (event == "push" and (spec or {}).get("branches") == ["main"])
        for event, spec in events.items()
    )


def install_problems(doc: dict[Any, Any]) -> list[str]:
    """Privileged jobs that install or run code from a checkout of another ref than main.

    An environment branch carries merged pull requests' whole trees and a pull request
    ref is the author's: `pip install .` or `uses: ./` on either runs their code with the
    job's token and secrets. A checkout elsewhere (`path:`) is data, never installed.
    """
    problems = []
    for name, job in doc.get("jobs", {}).items():
        if not privileged(job):
            continue
        trusted = False  # nothing checked out yet: nothing to install
        for item in job.get("steps", []):
            uses, given = str(item.get("uses", "")), item.get("with") or {}
            if uses.startswith("actions/checkout@") and given.get("path", ".") in (".", ""):
                ref = given.get("ref")
                trusted = "repository" not in given and (
                    ref == DEFAULT_REF or (ref is None and on_default_branch_only(doc))
                )
            elif (uses.startswith("./") or "pip install" in item.get("run", "")) and not trusted:
                what = uses or "pip install"
                problems.append(f"job {name} runs {what} from a checkout that is not main's")
    return problems


def all_problems(path: Path) -> list[str]:
    """Every structural problem of one workflow file."""
    doc = load(path)
    return (
        permission_problems(doc)
        + checkout_problems(doc)
        + script_problems(doc)
        + pin_problems(path.read_text())
        + install_problems(doc)
    )


# --- zizmor ---------------------------------------------------------------------------


def test_zizmor_finds_nothing_in_the_workflows_and_the_action() -> None:
    code, findings = zizmor(*WORKFLOWS, ACTION)
    summary = [(f["ident"], f["locations"][0]["symbolic"]["key"]) for f in findings]
    assert findings == [], summary
    assert code == 0


def test_zizmor_pedantic_finds_nothing_either() -> None:
    # The pedantic persona adds, among others, concurrency-limits: comment.yml, main.yml
    # and deploy.yml each have a group, chosen (and explained) so that nothing is dropped.
    code, findings = zizmor(*WORKFLOWS, ACTION, persona="pedantic")
    assert [(f["ident"], f["locations"][0]["symbolic"]["key"]) for f in findings] == []
    assert code == 0
    groups = {name: load(PROJECT / ".github/workflows" / name)["concurrency"]
              for name in ("comment.yml", "main.yml", "deploy.yml")}  # fmt: skip
    assert all(g["cancel-in-progress"] is False for g in groups.values())
    # Per comment and per commit: no command and no push is ever dropped by a newer one.
    assert "github.event.comment.id" in groups["comment.yml"]["group"]
    assert "github.sha" in groups["main.yml"]["group"]


def test_zizmor_suppressions_are_the_documented_ones() -> None:
    found = set()
    for path in [*WORKFLOWS, ACTION]:
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            for audit in re.findall(r"zizmor: ignore\[([\w,-]+)\]", line):
                found |= {(path.name, a) for a in audit.split(",")}
                # The reason sits on the comment lines right above.
                assert lines[i - 1].strip().startswith("#"), f"{path.name}:{i + 1}: say why"
    assert found == SUPPRESSIONS


def test_zizmor_catches_a_bad_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(BAD_WORKFLOW)
    code, findings = zizmor(bad)
    assert code != 0
    assert {"template-injection", "unpinned-uses", "artipacked"} <= {f["ident"] for f in findings}


# --- the published JSON Schemas -------------------------------------------------------


def test_workflows_and_action_match_githubs_schemas() -> None:
    check = tool("check-jsonschema")
    workflows = run(check, "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS))
    assert workflows.returncode == 0, workflows.stdout + workflows.stderr
    action = run(check, "--builtin-schema", "vendor.github-actions", str(ACTION))
    assert action.returncode == 0, action.stdout + action.stderr


def test_the_schema_check_rejects_a_malformed_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(BAD_WORKFLOW.replace("runs-on:", "runs-onn:"))
    done = run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(bad))
    assert done.returncode == 1
    assert "runs-onn" in done.stdout + done.stderr


# --- structure ------------------------------------------------------------------------


def test_there_is_a_workflow_for_every_event_the_engine_handles() -> None:
    names = {p.name for p in WORKFLOWS}
    assert names == set(PERMISSIONS)
    events = {name: set(triggers(load(PROJECT / ".github/workflows" / name))) for name in names}
    assert events["pull-request.yml"] == {"pull_request"}
    assert events["publish.yml"] == {"workflow_run"}
    assert events["comment.yml"] == {"issue_comment"}
    assert events["main.yml"] == {"push"}
    assert events["deploy.yml"] == {"push", "workflow_dispatch"}
    assert events["monitor.yml"] == {"schedule", "workflow_dispatch"}
    assert events["ci.yml"] == {"pull_request", "push"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_follows_the_rules(path: Path) -> None:
    assert all_problems(path) == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_jobs_hold_exactly_the_listed_permissions(path: Path) -> None:
    jobs = load(path)["jobs"]
    assert {name: job["permissions"] for name, job in jobs.items()} == PERMISSIONS[path.name]


def test_the_rules_catch_a_bad_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(BAD_WORKFLOW)
    problems = "\n".join(all_problems(bad))
    expected = ["top-level permissions", "job echo has no permissions", "no timeout-minutes",
                "persist-credentials", "untrusted text in run: ${{ github.event.comment.body }}",
                "not pinned"]  # fmt: skip
    assert [e for e in expected if e not in problems] == []


# deploy.yml as it was: the environment branch's tree installed with its secrets.
ENV_BRANCH_INSTALL = """\
on:
  push:
    branches: ["env/**"]
  workflow_dispatch:
jobs:
  deploy:
    environment: {name: staging}
    permissions: {contents: read}
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with: {fetch-depth: 0, persist-credentials: false}
      - run: python -m pip install .
  comment:
    permissions: {pull-requests: write}
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with: {ref: "${{ github.event.pull_request.head.sha }}", persist-credentials: false}
      - uses: ./
  data:
    permissions: {contents: write}
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with: {ref: "${{ github.event.repository.default_branch }}", persist-credentials: false}
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with: {ref: env/staging, path: env-branch, persist-credentials: false}
      - run: python -m pip install .
"""


def test_no_privileged_job_installs_from_an_environment_branch_or_a_pull_request(
    tmp_path: Path,
) -> None:
    # Every job with a write token or secrets, in every workflow, installs main's engine.
    assert {p.name: install_problems(load(p)) for p in WORKFLOWS} == {p.name: [] for p in WORKFLOWS}
    assert any(
        privileged(job) for job in load(PROJECT / ".github/workflows/deploy.yml")["jobs"].values()
    )
    bad = tmp_path / "bad.yml"
    bad.write_text(ENV_BRANCH_INSTALL)
    assert install_problems(load(bad)) == [
        "job deploy runs pip install from a checkout that is not main's",
        "job comment runs ./ from a checkout that is not main's",
    ]  # the data-only checkout into env-branch/ is fine


def test_the_action_follows_the_rules() -> None:
    doc = load(ACTION)
    assert doc["runs"]["using"] == "composite"
    assert {"command", "args", "python-version", "store-path", "store", "token"} <= set(
        doc["inputs"]
    )
    assert script_problems(doc) == [] and pin_problems(ACTION.read_text()) == []
    for step in doc["runs"]["steps"]:
        if "run" in step:
            assert step["shell"] == "bash"
    install = next(s["run"] for s in doc["runs"]["steps"] if "pip install" in s.get("run", ""))
    assert '"$GITHUB_ACTION_PATH"' in install  # the engine at the commit the caller pinned


def test_every_action_is_pinned_to_one_release_everywhere() -> None:
    seen: dict[str, set[tuple[str, str]]] = {}
    for path in [*WORKFLOWS, ACTION]:
        for line in path.read_text().splitlines():
            match = USES_LINE.match(line)
            if match and not match.group(1).startswith("./"):
                action, sha = match.group(1).split("@")
                seen.setdefault(action, set()).add((sha, (match.group(2) or "").split()[0]))
    assert {a for a, pins in seen.items() if len(pins) > 1} == set()
    names = ["checkout", "setup-python", "cache", "upload-artifact", "download-artifact"]
    assert set(seen) == {f"actions/{name}" for name in [*names, "cache/restore"]}
    assert seen["actions/cache/restore"] == seen["actions/cache"]  # its restore-only half


def test_the_parse_cache_is_believed_only_from_actions_cache() -> None:
    # The MAC key travels with the parse cache (~/.cache/mlops), and a pull request's
    # job can read what it restores: so every job that restores it first removes any
    # .mlops/cache the checkout brought, and only main.yml (default-branch code) saves.
    restoring: dict[str, list[str]] = {}
    for path in WORKFLOWS:
        for name, job in load(path)["jobs"].items():
            steps = job.get("steps", [])
            for i, s in enumerate(steps):
                if ".mlops/cache" not in str(s.get("with", {}).get("path", "")):
                    continue
                restoring.setdefault(path.name, []).append(name)
                before = [t.get("run", "") for t in steps[:i]]
                assert "rm -rf .mlops/cache" in before, f"{path.name}:{name}"
                assert before.index("rm -rf .mlops/cache") > next(
                    j for j, t in enumerate(steps) if "checkout" in t.get("uses", "")
                )
                saves = s["uses"].split("@")[0] == "actions/cache"
                assert saves == (path.name == "main.yml"), f"{path.name}:{name}"
    assert restoring == {"main.yml": ["plan"], "pull-request.yml": ["plan", "report"]}


def test_comment_commands_run_only_for_new_comments_from_people() -> None:
    doc = load(PROJECT / ".github/workflows/comment.yml")
    assert triggers(doc) == {"issue_comment": {"types": ["created"]}}
    condition = doc["jobs"]["command"]["if"]
    assert "github.event.issue.pull_request" in condition
    assert "github.event.sender.type != 'Bot'" in condition


def test_the_pull_request_half_cannot_write_and_hands_over_a_bundle() -> None:
    doc = load(PROJECT / ".github/workflows/pull-request.yml")
    assert doc["concurrency"]["cancel-in-progress"] is True
    assert "pull_request.number" in doc["concurrency"]["group"]
    train = doc["jobs"]["train"]
    assert train["if"] == "needs.plan.outputs.has_work == 'true'"
    assert train["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    report = doc["jobs"]["report"]["steps"]
    assert any("mlops event --bundle report/" in s.get("run", "") for s in report)
    upload = next(s for s in report if "upload-artifact" in s.get("uses", ""))
    assert upload["with"]["name"] == "mlops-report"
    # No token reaches the pull request's code.
    assert "GITHUB_TOKEN" not in json.dumps(doc)


def test_the_publisher_never_touches_the_pull_requests_code() -> None:
    doc = load(PROJECT / ".github/workflows/publish.yml")
    on = triggers(doc)["workflow_run"]
    assert on == {
        "workflows": [load(PROJECT / ".github/workflows/pull-request.yml")["name"]],
        "types": ["completed"],
    }
    steps = doc["jobs"]["publish"]["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert "ref" not in checkout["with"] and "repository" not in checkout["with"]
    text = json.dumps(steps)
    assert "head_sha" not in text and "head_branch" not in text
    download = next(s for s in steps if "download-artifact" in s.get("uses", ""))
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
    install = next(i for i, s in enumerate(steps) if "pip install" in s.get("run", ""))
    assert install < steps.index(download)  # the artifact arrives after the install


# --- the scripts themselves, run by bash as the runner runs them ---------------------

BIN = Path(sys.executable).parent  # mlops and python, as `pip install .` provides them


def step(file: str, job: str, step_id: str) -> dict[str, Any]:
    """The step with ``id: step_id`` of ``job`` (or of the composite action)."""
    doc = load(PROJECT / file)
    steps = doc["runs"]["steps"] if job == "" else doc["jobs"][job]["steps"]
    return next(s for s in steps if s.get("id") == step_id)


def run_step(
    script: str, cwd: Path, env: dict[str, str], *, bin_dir: Path = BIN, composite: bool = False
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run ``script`` the way the runner does; return the process and its step outputs."""
    path, outputs = cwd.parent / "step.sh", cwd.parent / "github_output"
    path.write_text(script)
    outputs.write_text("")
    shell = ["bash", "--noprofile", "--norc", "-eo", "pipefail"] if composite else ["bash", "-e"]
    base = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    full = {
        **base,
        **env,
        "GITHUB_OUTPUT": str(outputs),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    }
    done = subprocess.run(
        [*shell, str(path)], cwd=cwd, env=full, capture_output=True, text=True, timeout=60
    )
    pairs = (line.split("=", 1) for line in outputs.read_text().splitlines())
    return done, dict(pairs)


def change_model(repo: Path) -> None:
    """Change cancer-rf's estimator and commit it."""
    path = repo / "mlops/models/cancer-rf.yaml"
    path.write_text(re.sub(r"n_estimators: \d+", "n_estimators: 17", path.read_text()))
    git = ["git", "-c", "user.email=a@example.com", "-c", "user.name=A"]
    subprocess.run([*git, "commit", "-qam", "change"], cwd=repo, check=True)


def test_the_pull_request_plan_step_emits_the_matrix_and_has_work(repo: Path) -> None:
    script = step(".github/workflows/pull-request.yml", "plan", "plan")["run"]
    base = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    done, out = run_step(script, repo, {"BASE_SHA": base})
    assert done.returncode == 0, done.stderr
    assert out == {"matrix": '{"include":[]}', "has_work": "false"}

    change_model(repo)
    done, out = run_step(script, repo, {"BASE_SHA": base})
    assert out["has_work"] == "true"
    assert [m["model"] for m in json.loads(out["matrix"])["include"]] == ["cancer-rf"]

    (repo / "mlops/models/cancer-rf.yaml").write_text("name: [unclosed\n")
    done, out = run_step(script, repo, {"BASE_SHA": base})
    assert done.returncode == 0  # the report job explains; nothing is trained
    assert out == {"matrix": '{"include":[]}', "has_work": "false"}
    assert "::warning::mlops plan exited 1" in done.stdout


@pytest.mark.parametrize("before", ["0" * 40, "f" * 40, "HEAD^"])
def test_the_main_plan_step_falls_back_to_the_parent_commit(repo: Path, before: str) -> None:
    change_model(repo)
    script = step(".github/workflows/main.yml", "plan", "plan")["run"]
    done, out = run_step(script, repo, {"BEFORE": before})
    assert done.returncode == 0, done.stderr
    assert [m["model"] for m in json.loads(out["matrix"])["include"]] == ["cancer-rf"]


@pytest.mark.parametrize(
    ("ref", "given", "expected"),
    [
        ("env/staging", "", "staging"),  # a push, or a dispatch without the input
        ("env/production", "production", "production"),
        ("env/staging", "production", None),  # the input must repeat the branch's name
        ("main", "production", None),  # a dispatch on another branch deploys nothing
        ("env/prod; touch pwned", "", None),
        ("env/staging", "staging; touch pwned", None),
        ("env/a/b", "", None),
    ],
)
def test_deploy_names_the_environment_from_the_branch_or_refuses(
    tmp_path: Path, ref: str, given: str, expected: str | None
) -> None:
    (work := tmp_path / "work").mkdir()
    env = {"GITHUB_REF_NAME": ref, "INPUT_ENVIRONMENT": given}
    done, out = run_step(step(".github/workflows/deploy.yml", "target", "name")["run"], work, env)
    assert out.get("environment") == expected
    assert done.returncode == (0 if expected else 1)
    assert list(work.iterdir()) == []


def test_the_deploy_job_installs_the_default_branch_and_deploys_the_branchs_environment() -> None:
    job = load(PROJECT / ".github/workflows/deploy.yml")["jobs"]["deploy"]
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["ref"] == DEFAULT_REF
    assert job["environment"]["name"] == "${{ needs.target.outputs.environment }}"
    deploy = job["steps"][-1]
    assert deploy["run"] == 'mlops deploy --env "$ENVIRONMENT"'  # checked against GITHUB_REF


def test_the_action_passes_arguments_without_shell_evaluation(tmp_path: Path) -> None:
    (fake := tmp_path / "bin").mkdir()
    (fake / "mlops").write_text(
        f"#!{sys.executable}\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n"
    )
    (fake / "mlops").chmod(0o755)
    (work := tmp_path / "work").mkdir()
    (work / "glob-bait").write_text("")
    script = step("action.yml", "", "mlops")["run"]
    args = '--bundle report/ *\n  $(touch pwned) "a b" ;'
    done, _ = run_step(
        script, work, {"MLOPS_COMMAND": "event", "MLOPS_ARGS": args}, bin_dir=fake, composite=True
    )
    assert done.returncode == 0, done.stderr
    argv = json.loads(done.stdout)
    assert argv == ["event", "--bundle", "report/", "*", "$(touch", "pwned)", '"a', 'b"', ";"]
    assert not (work / "pwned").exists()

    for command in ("--help", "event; touch pwned", ""):
        done, _ = run_step(
            script, work, {"MLOPS_COMMAND": command, "MLOPS_ARGS": ""}, bin_dir=fake, composite=True
        )
        assert done.returncode == 2 and done.stdout.startswith("::error::")


def test_the_action_uses_the_local_store_in_pull_requests_as_the_workflows_do(
    tmp_path: Path,
) -> None:
    pull_request = load(PROJECT / ".github/workflows/pull-request.yml")
    local = pull_request["env"]["MLOPS_STORE"]
    inputs = load(ACTION)["inputs"]
    assert inputs["store-path"]["default"] == local  # the folder the action caches
    assert inputs["store"]["default"] == (
        f"${{{{ github.event_name == 'pull_request' && '{local}' || '' }}}}"
    )
    (fake := tmp_path / "bin").mkdir()
    (fake / "mlops").write_text(
        f"#!{sys.executable}\nimport os\nprint(os.environ.get('MLOPS_STORE', '-'))\n"
    )
    (fake / "mlops").chmod(0o755)
    (work := tmp_path / "work").mkdir()
    script = step("action.yml", "", "mlops")["run"]
    for given, job, expected in [
        (local, None, local),  # a pull_request run, by default
        ("", None, "-"),  # elsewhere: store.url
        ("", "s3://bucket/store", "s3://bucket/store"),  # the job's own setting stays
        ("/tmp/other store", "s3://x", "/tmp/other store"),  # the input wins, unsplit
    ]:
        env = {"MLOPS_COMMAND": "status", "MLOPS_ARGS": "", "STORE_INPUT": given}
        if job is not None:
            env["MLOPS_STORE"] = job
        done, _ = run_step(script, work, env, bin_dir=fake, composite=True)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == expected, (given, job)
