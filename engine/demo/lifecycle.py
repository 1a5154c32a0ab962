"""The steps of ``mlops demo``: one model's life, from training to a rollback.

Each step does what a team does, through the same code the CLI, the GitHub workflows and
``mlops serve`` run, and reports one line: what happened, and why it matters. The steps
share a :class:`Run` (the repository, the local forge, the versions seen so far) and
return a :class:`Step` that the test suite checks field by field.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import UserError

if TYPE_CHECKING:
    from engine.demo.pulls import PullRequest
    from engine.demo.server import Server
    from engine.forge.local import LocalForge

MODEL = "cancer-rf"
AUTHOR, REVIEWER = "ada", "grace"


@dataclass
class Step:
    """One step's outcome: its name, the line printed, details under it, and facts to check."""

    name: str
    line: str
    details: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class Run:
    """What the steps share."""

    root: Path
    folder: Path
    forge: LocalForge
    pull: PullRequest | None = None
    versions: dict[str, str] = field(default_factory=dict)
    """``main``, ``pr``, ``canary``: the version of MODEL each step produced."""
    servers: list[tuple[int, int]] = field(default_factory=list)
    """(pid, port) of every server started."""
    staging: Server | None = None
    """Staging's ``mlops serve``, following its branch (started by :func:`serve`)."""
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    """What a step leaves running for a later one; closed when the demo ends."""

    def log(self, name: str) -> Path:
        return self.folder / name


def train(run: Run) -> Step:
    """Train every model on main; a second run trains nothing."""
    from engine import api
    from engine.render import training_text

    first = api.train(run.root, jobs=2)
    if first.failed:
        raise UserError(f"training failed: {first.failed[0].model}: {first.failed[0].reason}")
    again = api.train(run.root)
    run.versions["main"] = _version(first, MODEL)
    trained = sum(o.status == "trained" for o in first.outcomes)
    line = (
        f"{trained} models trained on main and stored by fingerprint; training again "
        f"trained {sum(o.status == 'trained' for o in again.outcomes)}: a version is the hash "
        "of its definition, features and data, so nothing is trained twice."
    )
    facts = {"trained": trained, "again": sum(o.status == "trained" for o in again.outcomes)}
    return Step("train", line, training_text(first).splitlines(), facts)


def pull_request(run: Run) -> Step:
    """Open a change as a pull request; the engine reviews it and posts its report."""
    from engine.demo.pulls import PullRequest
    from engine.gitrepo import run_git

    model = run.root / "mlops" / "models" / f"{MODEL}.yaml"
    text = model.read_text(encoding="utf-8")
    smaller = text.replace("n_estimators: 200, max_depth: 8", "n_estimators: 20, max_depth: 3")
    if smaller == text:
        raise UserError(f"{model}: the demo expects `n_estimators: 200, max_depth: 8` there")
    run_git(run.root, "switch", "-q", "-c", "smaller-forest")
    model.write_text(smaller, encoding="utf-8")
    run_git(run.root, "commit", "-q", "-am", "Use a smaller, faster forest for cancer-rf")
    run_git(run.root, "push", "-q", "origin", "smaller-forest")
    events = run.folder / "events"
    events.mkdir(exist_ok=True)
    run.pull = pull = PullRequest.open(
        run.root, run.forge, events, title="Smaller forest", branch="smaller-forest", author=AUTHOR
    )
    outcome = pull.review()
    comment = run.forge.outbox / "comments" / "pr-1" / "report.md"
    report = comment.read_text(encoding="utf-8") if comment.exists() else ""
    statuses = run.forge.own_statuses(pull.info.head_sha)
    verdict = outcome.outputs.get("verdict", "?")
    run.versions["pr"] = _pinnable_version(run.root, pull.info.head_sha)
    gates = statuses.get("mlops/gates", ("missing", ""))[0]
    line = (
        f"PR #1 (a smaller forest) was reviewed on the local forge: verdict {verdict}, "
        f"status mlops/gates {gates}; only the changed model trained, and reviewers see "
        "its metrics against main, with intervals and gates, before anything merges."
    )
    summary = [ln for ln in report.split("\n### Models", 1)[0].splitlines() if ln.strip()]
    details = [ln for ln in summary if not ln.startswith("<!--")]
    details.append(f"(the whole comment: {comment})")
    facts = {"verdict": verdict, "gates": gates, "comment": report, "exit": outcome.exit_code}
    return Step("pull request", line, details, facts)


def to_staging(run: Run) -> Step:
    """``/promote`` to staging, as a comment on the pull request."""
    from engine.environments.pins import read_pins

    reply = _pull(run).comment(AUTHOR, f"/promote {MODEL} to staging")
    pin = (read_pins(run.root, "env/staging") or {}).get(MODEL)
    line = (
        f"@{AUTHOR} commented `/promote {MODEL} to staging`: the engine checked her "
        f"permission and pinned {pin.version if pin else 'nothing'} on env/staging, whose "
        "history is the audit log of what ran where."
    )
    facts = {"exit": reply.outcome.exit_code, "version": pin.version if pin else None}
    return Step("promote to staging", line, reply.text.splitlines(), facts)


def to_production(run: Run) -> Step:
    """``/promote`` to production: refused by its policy, then allowed once it is met."""
    from engine.environments.pins import read_pins

    pull = _pull(run)
    refused = pull.comment(AUTHOR, f"/promote {MODEL} to production")
    pull.approve(REVIEWER)
    pull.merge()
    allowed = pull.comment(AUTHOR, f"/promote {MODEL} to production")
    pin = (read_pins(run.root, "env/production") or {}).get(MODEL)
    line = (
        f"production refused the same comment until @{REVIEWER} approved and the PR merged, "
        f"then pinned {pin.version if pin else 'nothing'}: its policy (staging first, an "
        "approving review, trained on main) is read from main, so no change can loosen it."
    )
    details = [f"first: {refused.text}", f"then: {allowed.text}"]
    facts = {
        "refused": refused.text,
        "refused_exit": refused.outcome.exit_code,
        "allowed": allowed.text,
        "allowed_exit": allowed.outcome.exit_code,
        "version": pin.version if pin else None,
    }
    return Step("promote to production", line, details, facts)


def serve(run: Run) -> Step:
    """Serve production with ``mlops serve``; query it once in each protocol.

    Staging's server starts beside it (on two cores the start-ups overlap) and keeps
    following its branch for the canary step.
    """
    from engine.demo import data
    from engine.demo.server import call, start

    production = start(run.root, "production", run.log("serve-production.log"))
    run.stack.callback(production.stop)
    staging = start(run.root, "staging", run.log("serve-staging.log"), reload_every=0.2)
    run.stack.callback(staging.stop)
    run.servers += [(p.server.pid, p.server.port) for p in (production, staging)]
    run.staging = staging.server
    row = data.one_row()
    server = production.ready()
    v1 = call(f"{server.url}/v1/models/{MODEL}:predict", data.v1_request(row))
    v2 = call(f"{server.url}/v2/models/{MODEL}/infer", data.v2_request(row))
    production.stop()
    versions = {v1.headers.get("x-model-version"), v2.headers.get("x-model-version")}
    v1_answer = v1.body.get("predictions") if isinstance(v1.body, dict) else v1.body
    v2_answer = _v2_outputs(v2.body)
    line = (
        f"`mlops serve --env production` (KServe's model server) answered one patient over V1 "
        f"(predictions {v1_answer}) and V2 (predictions {v2_answer.get('predictions')}) as "
        f"version {', '.join(sorted(v or '?' for v in versions))}, then stopped: a laptop "
        "serves exactly what the production branch pins, as a cluster would."
    )
    details = [
        f"POST {server.url}/v1/models/{MODEL}:predict → {v1.status} {v1.body}",
        f"POST {server.url}/v2/models/{MODEL}/infer → {v2.status} outputs {v2_answer}",
    ]
    facts = {
        "v1": (v1.status, v1.body, v1.headers.get("x-model-version")),
        "v2": (v2.status, v2.body, v2.headers.get("x-model-version")),
        "port": server.port,
    }
    staging.ready()
    return Step("serve", line, details, facts)


def canary(run: Run) -> Step:
    """A new version beside the live one in staging, with a quarter of the traffic.

    Staging's server (started in :func:`serve`) follows the branch: once it serves the
    canary, forty requests show the split.
    """
    from engine import api
    from engine.demo import data
    from engine.environments.operations import Request, promote_model
    from engine.gitrepo import run_git

    if run.staging is None:
        raise RuntimeError("the serve step has not started staging's server")
    model = run.root / "mlops" / "models" / f"{MODEL}.yaml"
    model.write_text(model.read_text().replace("n_estimators: 20,", "n_estimators: 60,"))
    run_git(run.root, "commit", "-q", "-am", "A few more trees for cancer-rf")
    run_git(run.root, "push", "-q", "origin", "main")
    trained = api.train(run.root, [MODEL])
    new = _version(trained, MODEL)[:12]
    request = Request(model=MODEL, environment="staging", actor=AUTHOR, canary=25)
    promoted = promote_model(run.root, request, forge=run.forge)
    if not promoted.decision.allowed:
        raise UserError(f"the demo's canary was refused: {promoted.message()}")
    url = f"{run.staging.url}/v1/models/{MODEL}:predict"
    body = data.v1_request(data.one_row())
    answered = _split(url, body, new)
    line = (
        f"{new} went to staging as a canary at 25% beside {run.versions['pr'][:12]}: the "
        f"server picked up the pin and {answered.get(new, 0)} of {sum(answered.values())} "
        "requests reached it; a new version meets real traffic before it takes all of it."
    )
    details = [promoted.message().splitlines()[0]]
    details += [f"{count} request(s) answered by {v}" for v, count in sorted(answered.items())]
    return Step("canary", line, details, {"answered": answered, "version": new})


def _split(url: str, body: Any, canary: str, requests: int = 40) -> dict[str, int]:
    """Which version answered each of ``requests`` keyed requests, once ``canary`` serves."""
    from engine.demo.server import call

    deadline = time.monotonic() + 60
    while True:  # the server reloads the branch every 0.2 s, then loads and verifies
        answered: dict[str, int] = {}
        for n in range(requests):
            reply = call(url, body, {"x-request-id": f"request-{n}"})
            version = reply.headers.get("x-model-version", f"HTTP {reply.status}")
            answered[version] = answered.get(version, 0) + 1
        if canary in answered or time.monotonic() > deadline:
            return answered
        time.sleep(0.2)


def monitor(run: Run) -> Step:
    """Monitor a drifted batch against production's training data; report it as an issue."""
    from engine.demo import data
    from engine.github.alerts import raise_alerts
    from engine.monitoring import report
    from engine.monitoring.monitor import Current
    from engine.monitoring.monitor import monitor as check

    batch = data.write_drifted_batch(run.folder / "drifted-batch.csv")
    outcome = check(run.root, "production", Current(batch=batch), [MODEL])[0]
    markdown = report.markdown([outcome])
    alert = raise_alerts(run.forge, [outcome], [markdown])[0]
    drifted = [f.name for f in outcome.data.drifted_features]
    line = (
        f"a batch of {outcome.current_rows} rows with inflated sizes against the training "
        f"sample stored with production's version: status {outcome.status}, {len(drifted)} of "
        f"{len(outcome.data.features)} inputs drifted, issue #{alert.number} {alert.action} on "
        "the local forge; a shift is caught from the data and lands where the team works."
    )
    details = [f"drifted: {', '.join(drifted)}", f"(the report: {alert.url})"]
    facts = {"status": outcome.status, "drifted": drifted, "issue": alert.action}
    return Step("monitor", line, details, facts)


def rollback(run: Run) -> Step:
    """``/rollback`` in staging: the canary is withdrawn, in a new commit."""
    from engine.environments.pins import read_pins
    from engine.gitrepo import run_git

    reply = _pull(run).comment(AUTHOR, f"/rollback {MODEL} in staging")
    pin = (read_pins(run.root, "env/staging") or {}).get(MODEL)
    commits = run_git(run.root, "rev-list", "--count", "origin/env/staging").stdout.strip()
    line = (
        f"`/rollback {MODEL} in staging` withdrew the canary: "
        f"{pin.version if pin else 'nothing'} serves all of staging again, as commit "
        f"{commits} of env/staging; history is never rewritten, so every step stays audited."
    )
    facts = {
        "exit": reply.outcome.exit_code,
        "version": pin.version if pin else None,
        "canary": pin.canary if pin else None,
    }
    return Step("rollback", line, reply.text.splitlines(), facts)


STEPS: list[Callable[[Run], Step]] = [
    train,
    pull_request,
    to_staging,
    to_production,
    serve,
    canary,
    monitor,
    rollback,
]


def timed(step: Callable[[Run], Step], run: Run) -> Step:
    """Run one step and record how long it took."""
    started = time.perf_counter()
    result = step(run)
    result.seconds = time.perf_counter() - started
    return result


def _pull(run: Run) -> PullRequest:
    if run.pull is None:
        raise RuntimeError("the pull request step has not run")
    return run.pull


def _version(training: Any, model: str) -> str:
    return str(next(o.version for o in training.outcomes if o.model == model))


def _pinnable_version(root: Path, commit: str) -> str:
    from engine.training.planning import compute_plan

    plan = compute_plan(root, "main", commit)
    return next((m.head_fingerprint or "" for m in plan.models if m.name == MODEL), "")


def _v2_outputs(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        return {"error": body}
    return {o.get("name"): o.get("data") for o in body.get("outputs", [])}
