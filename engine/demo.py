"""``mlops demo``: the whole lifecycle on a throwaway local repository.

It builds a git repository with a bare ``origin`` in a temporary folder, copies this
project's example definitions into it, and walks through what a team does: validate,
train on main, open a change on a branch, see the plan and the metric diff, promote
through the environments, roll back — all on the embedded defaults (a local store and
the local forge, which writes comments to ``.mlops/outbox/``). Each step runs the same
API the CLI and the GitHub workflows call.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from engine.errors import UserError

EXAMPLES = Path(__file__).resolve().parent.parent / "mlops"


def _git(root: Path, *args: str) -> str:
    from engine.gitrepo import run_git

    return run_git(root, *args).stdout.strip()


def make_repo(folder: Path) -> Path:
    """A repository with the examples committed on main and pushed to a bare origin."""
    if not EXAMPLES.is_dir():
        raise UserError(
            f"the example definitions are missing ({EXAMPLES}): run the demo from "
            "a checkout of the mlops repository"
        )
    origin, root = folder / "origin.git", folder / "repo"
    _git(folder, "init", "-q", "--bare", "-b", "main", str(origin))
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.name", "Ada Lovelace")
    _git(root, "config", "user.email", "ada@example.com")
    _git(root, "remote", "add", "origin", str(origin))
    shutil.copytree(EXAMPLES, root / "mlops", ignore=shutil.ignore_patterns("deployments"))
    (root / ".gitignore").write_text(".mlops/\n")
    (root / "README.md").write_text("# A team's ML repository (mlops demo)\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "Add datasets, features and models")
    _git(root, "push", "-q", "-u", "origin", "main")
    return root


def run(say: Callable[[str], None], folder: Path | None = None, keep: bool = False) -> Path:
    """Walk through the lifecycle, narrating with ``say``; return the demo repository."""
    from engine import api
    from engine.environments.operations import history, local_actor, rollback_model, status_table
    from engine.render import plan_text, runs_text, training_text
    from engine.training.planning import compute_plan

    base = Path(tempfile.mkdtemp(prefix="mlops-demo-")) if folder is None else folder.resolve()
    if base.exists() and any(base.iterdir()):
        raise UserError(f"{base} is not empty: give --dir a new or empty folder")
    base.mkdir(parents=True, exist_ok=True)
    root = make_repo(base)
    step = _Steps(say)

    step("A repository with four models on scikit-learn's bundled data", f"cd {root}")
    checked = api.validate(root)
    say(checked.summary())

    step("Train on main: every version is stored by fingerprint", "mlops train")
    say(training_text(api.train(root)))
    again = api.train(root)
    say(f"again: {again.summary()} ({again.seconds:.2f}s)")

    step(
        "Promote what main trained to staging: a merge into env/staging, with a pin",
        "mlops promote cancer-rf --to staging",
    )
    say(_promote(root, "cancer-rf", "staging"))

    step("A mistake is caught with its file, line and column", "mlops validate")
    model = root / "mlops" / "models" / "cancer-rf.yaml"
    good = model.read_text()
    model.write_text(good.replace("max_depth: 8", "max_deep: 8"))
    for problem in api.validate(root, data=False).problems:
        say(problem.render())
    model.write_text(good)

    step("Open a change on a branch: fewer, shallower trees", "git switch -c smaller-forest")
    _git(root, "switch", "-q", "-c", "smaller-forest")
    model.write_text(
        good.replace("n_estimators: 200, max_depth: 8", "n_estimators: 20, max_depth: 3")
    )
    _git(root, "commit", "-q", "-am", "Use a smaller forest for cancer-rf")

    step("Plan: only what the change affects", "mlops plan --base main")
    say(plan_text(compute_plan(root, "main", "HEAD")))

    step("Review: metrics, significance and gates against main", "mlops diff --base main")
    review = api.diff(root, base="main", head="HEAD")
    say(review.markdown.split("\n### Models", 1)[0].strip())
    say(
        f"(the full report is in {root / '.mlops' / 'outbox' / 'report.md'}; "
        f"verdict: {review.verdict})"
    )

    step("Merge the change; main trains the new version", "git merge && mlops train")
    _git(root, "switch", "-q", "main")
    _git(root, "merge", "-q", "--no-ff", "-m", "Merge smaller-forest", "smaller-forest")
    _git(root, "push", "-q", "origin", "main")
    say(api.train(root).summary())

    step(
        "Promote it to staging; the branch history records what was there before",
        "mlops promote cancer-rf --to staging",
    )
    say(_promote(root, "cancer-rf", "staging"))

    step(
        "Production has a stricter policy (staging first, one approving review)",
        "mlops promote cancer-rf --to production",
    )
    say(_promote(root, "cancer-rf", "production"))

    step(
        "Roll staging back: a new commit, never a rewrite", "mlops rollback cancer-rf --env staging"
    )
    say(
        rollback_model(
            root, model="cancer-rf", env_name="staging", actor=local_actor(root)
        ).message()
    )

    step("What runs where, and how it got there", "mlops status && mlops history cancer-rf")
    say(status_table(root))
    say(runs_text(history(root, "cancer-rf")))

    step("Done", "")
    say(f"The demo repository is {root}" + ("" if keep else " (delete it when done)"))
    return root


class _Steps:
    def __init__(self, say: Callable[[str], None]):
        self.say = say
        self.number = 0

    def __call__(self, title: str, command: str) -> None:
        self.number += 1
        self.say("")
        self.say(f"== {self.number}. {title}")
        if command:
            self.say(f"$ {command}")


def _promote(root: Path, model: str, env: str) -> str:
    from engine.environments.operations import Request, local_actor, promote_model
    from engine.forge.local import LocalForge

    request = Request(model=model, environment=env, actor=local_actor(root))
    return promote_model(root, request, forge=LocalForge(root)).message()
