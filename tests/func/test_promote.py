"""Promotion and rollback against real repositories with a bare origin.

Every test reads the result back the way a user (or another engine run) would: from the
origin's environment branch, its commit messages and trailers, and its history.
"""

from __future__ import annotations

import hashlib
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from engine.environments import promote as promotion
from engine.environments.pins import Pin, parse_pin
from engine.environments.promote import (
    MergeConflict,
    PromotionError,
    PromotionResult,
    pin_history,
    promote,
    rollback,
    status,
)
from engine.errors import GitError, UserError
from tests.conftest import git, init_repo

STAGING = {"environment": "staging", "branch": "env/staging", "default_branch": "main"}
NOW = "2025-03-01T12:00:00Z"


def fp(label: str) -> str:
    """A fingerprint for a named fake version."""
    return hashlib.sha256(label.encode()).hexdigest()


def art(label: str) -> str:
    """The sha256 of a named fake version's model.skops."""
    return hashlib.sha256(f"artifact of {label}".encode()).hexdigest()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A repository with one commit on main, pushed to a bare origin."""
    path = init_repo(tmp_path / "repo", examples=False)
    (path / "README.md").write_text("# demo\n")
    git(path, "add", "README.md")
    git(path, "commit", "-q", "-m", "Add a readme")
    git(path, "push", "-q", "origin", "main")
    return path


def origin_of(root: Path) -> Path:
    return root.parent / f"{root.name}-origin.git"


def run_promote(root: Path, version: str, model: str = "cancer-rf", **kw: Any) -> PromotionResult:
    """Promote ``fp(version)`` of ``model`` from HEAD to staging, with defaults for the rest."""
    args: dict[str, Any] = {
        **STAGING,
        "model": model,
        "fingerprint": fp(version),
        "sha256": art(version),
        "actor": "ada",
        "pr": 7,
        "metrics": {"f1": 0.95},
        "now": NOW,
    }
    args.update(kw)
    if "source_commit" not in args:
        args["source_commit"] = git(root, "rev-parse", "HEAD")
    return promote(root, **args)


def pin_on_origin(root: Path, model: str = "cancer-rf") -> Pin:
    path = f"mlops/deployments/{model}.yaml"
    text = git(origin_of(root), "show", f"env/staging:{path}")
    return parse_pin(text.encode(), path)


def test_first_promotion_creates_the_branch_with_the_pin_and_trailers(root: Path) -> None:
    source = git(root, "rev-parse", "HEAD")
    result = run_promote(root, "v1")

    assert (result.noop, result.pushed, result.attempts, result.previous) == (False, True, 1, None)
    assert result.version == fp("v1")[:12]
    assert git(origin_of(root), "rev-parse", "env/staging") == result.commit
    pin = pin_on_origin(root)
    assert pin == result.pin
    assert (pin.fingerprint, pin.source_commit, pin.pr, pin.promoted_by) == (
        fp("v1"),
        source,
        7,
        "ada",
    )
    assert (pin.promoted_at, pin.metrics, pin.previous, pin.action) == (
        NOW,
        {"f1": 0.95},
        None,
        "promote",
    )
    message = git(origin_of(root), "log", "-1", "--format=%B", "env/staging")
    assert message.splitlines()[0] == f"Promote cancer-rf@{result.version} to staging"
    trailers = subprocess.run(
        ["git", "interpret-trailers", "--parse"],
        input=message,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert trailers.splitlines() == [
        "Model: cancer-rf",
        f"Version: {result.version}",
        "Environment: staging",
        "Promoted-by: ada",
        "Source-PR: #7",
        f"Source-Commit: {source}",
        f"Artifact-SHA256: {art('v1')}",
    ]
    ident = git(origin_of(root), "log", "-1", "--format=%an <%ae>|%cn <%ce>", "env/staging")
    bot = "mlops[bot] <mlops-bot@users.noreply.github.com>"
    assert ident == f"{bot}|{bot}"
    # The default branch never gets the pins; the new branch starts from it.
    assert "mlops" not in git(origin_of(root), "ls-tree", "--name-only", "main")
    assert git(root, "merge-base", "--is-ancestor", source, "origin/env/staging") == ""


def test_the_users_checkout_is_untouched(root: Path) -> None:
    git(root, "switch", "-q", "-c", "feature")
    (root / "README.md").write_text("# edited, not committed\n")
    (root / "notes.txt").write_text("untracked\n")
    (root / "staged.txt").write_text("staged\n")
    git(root, "add", "staged.txt")
    before = (git(root, "status", "--porcelain=v1", "-b"), git(root, "rev-parse", "HEAD"))

    run_promote(root, "v1")

    after = (git(root, "status", "--porcelain=v1", "-b"), git(root, "rev-parse", "HEAD"))
    assert after == before
    assert (root / "README.md").read_text() == "# edited, not committed\n"
    assert git(root, "branch", "--show-current") == "feature"
    assert len(git(root, "worktree", "list").splitlines()) == 1  # the temporary one is gone


def test_a_second_promotion_records_the_previous_version(root: Path) -> None:
    first = run_promote(root, "v1")
    second = run_promote(root, "v2", actor="grace", pr=None)

    assert second.previous == first.pin
    pin = pin_on_origin(root)
    assert (pin.fingerprint, pin.previous, pin.pr, pin.promoted_by) == (
        fp("v2"),
        fp("v1"),
        None,
        "grace",
    )
    message = git(origin_of(root), "log", "-1", "--format=%B", "env/staging")
    assert "Source-PR" not in message
    assert "Promoted-by: grace" in message
    assert git(origin_of(root), "rev-parse", "env/staging~1") == first.commit


def test_promoting_what_is_live_is_a_noop(root: Path) -> None:
    first = run_promote(root, "v1")
    again = run_promote(root, "v1", actor="grace")

    assert (again.noop, again.commit, again.pushed, again.pin) == (True, None, False, first.pin)
    assert git(origin_of(root), "rev-parse", "env/staging") == first.commit


def test_the_pin_records_the_artifacts_sha256_in_the_file_and_a_trailer(root: Path) -> None:
    run_promote(root, "v1")
    assert pin_on_origin(root).sha256 == art("v1")
    message = git(origin_of(root), "log", "-1", "--format=%B", "env/staging")
    assert f"Artifact-SHA256: {art('v1')}" in message
    with pytest.raises(PromotionError, match="is not a sha256"):
        run_promote(root, "v2", sha256="f" * 63)


def write_legacy_pin(root: Path, version: str) -> None:
    """Rewrite the live pin as an engine before the artifact hash wrote it (no sha256)."""
    path = "mlops/deployments/cancer-rf.yaml"
    git(root, "fetch", "-q", "origin", "env/staging")
    git(root, "switch", "-q", "-C", "env/staging", "origin/env/staging")
    text = (root / path).read_text()
    lines = [line for line in text.splitlines() if not line.startswith("sha256:")]
    assert len(lines) < len(text.splitlines())
    (root / path).write_text("\n".join(lines) + "\n")
    git(root, "commit", "-q", "-am", f"An older engine's pin of {version}")
    git(root, "push", "-q", "origin", "env/staging")
    git(root, "switch", "-q", "main")


def test_promoting_the_live_version_again_records_the_hash_an_older_pin_lacks(
    root: Path,
) -> None:
    first = run_promote(root, "v1")
    write_legacy_pin(root, "v1")
    assert pin_on_origin(root).sha256 is None

    sealed = run_promote(root, "v1", actor="grace")
    assert (sealed.noop, sealed.pin.sha256, sealed.pin.previous) == (False, art("v1"), None)
    assert pin_on_origin(root).sha256 == art("v1")
    message = git(origin_of(root), "log", "-1", "--format=%B", "env/staging")
    assert f"Records the artifact's sha256 {art('v1')}." in message
    assert first.pin.fingerprint == sealed.pin.fingerprint
    assert run_promote(root, "v1").noop
    # Another artifact for the same version (retrained on purpose) is pinned anew too.
    assert run_promote(root, "v1", sha256=art("v1 again")).pin.sha256 == art("v1 again")


def test_a_rollback_to_an_older_pin_without_a_hash_records_the_looked_up_one(
    root: Path,
) -> None:
    run_promote(root, "v1")
    write_legacy_pin(root, "v1")
    run_promote(root, "v2")
    looked_up: list[str] = []

    def artifact_sha256(fingerprint: str) -> str:
        looked_up.append(fingerprint)
        return art("v1")

    back = rollback(
        root,
        model="cancer-rf",
        environment="staging",
        branch="env/staging",
        to_fingerprint=None,
        actor="grace",
        pr=None,
        now=NOW,
        artifact_sha256=artifact_sha256,
    )
    assert looked_up == [fp("v1")]
    assert (back.pin.fingerprint, back.pin.sha256) == (fp("v1"), art("v1"))
    assert pin_on_origin(root).sha256 == art("v1")


def test_a_promotion_merges_the_source_commit(root: Path) -> None:
    run_promote(root, "v1")
    (root / "model.txt").write_text("new model definition\n")
    git(root, "add", "model.txt")
    git(root, "commit", "-q", "-m", "Change the model")
    git(root, "push", "-q", "origin", "main")
    source = git(root, "rev-parse", "HEAD")

    result = run_promote(root, "v2")

    parents = git(origin_of(root), "rev-list", "--parents", "-n1", "env/staging").split()
    assert parents[2] == source  # one commit: the merge of the source plus the pin
    assert git(origin_of(root), "show", "env/staging:model.txt") == "new model definition"
    assert pin_on_origin(root).source_commit == source
    assert result.commit == parents[0]


def test_pins_on_the_default_branch_never_reach_an_environment(root: Path) -> None:
    run_promote(root, "v1")
    stray = root / "mlops/deployments"
    stray.mkdir(parents=True)
    (stray / "cancer-rf.yaml").write_text("not: a pin\n")
    (stray / "other.yaml").write_text("not: a pin\n")
    git(root, "add", "mlops")
    git(root, "commit", "-q", "-m", "Oops: pins on main")
    git(root, "push", "-q", "origin", "main")

    run_promote(root, "v2")

    listing = git(origin_of(root), "ls-tree", "--name-only", "env/staging", "mlops/deployments/")
    assert listing.splitlines() == ["mlops/deployments/cancer-rf.yaml"]
    assert pin_on_origin(root).fingerprint == fp("v2")


def test_a_conflicting_edit_on_the_branch_refuses_the_merge(root: Path, tmp_path: Path) -> None:
    run_promote(root, "v1")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", "-b", "env/staging", str(origin_of(root)), str(other))
    # Someone edits the README by hand on the environment branch, and on main too.
    for where, text in ((other, "hand edit on the branch\n"), (root, "edit on main\n")):
        (where / "README.md").write_text(text)
        git(where, "-c", "user.name=x", "-c", "user.email=x@y", "commit", "-q", "-am", "edit")
    git(other, "push", "-q", "origin", "env/staging")
    git(root, "push", "-q", "origin", "main")
    tip = git(origin_of(root), "rev-parse", "env/staging")

    with pytest.raises(MergeConflict, match=r"conflicts in README\.md") as caught:
        run_promote(root, "v2")
    assert caught.value.files == ["README.md"]
    assert git(origin_of(root), "rev-parse", "env/staging") == tip
    assert len(git(root, "worktree", "list").splitlines()) == 1


def test_a_lost_race_is_fetched_and_redone(root: Path, tmp_path: Path) -> None:
    run_promote(root, "v1")
    rival = tmp_path / "rival"
    git(tmp_path, "clone", "-q", str(origin_of(root)), str(rival))
    pushes: list[str] = []

    def rival_pushes_first() -> None:
        if not pushes:  # only before our first push
            pushes.append(run_promote(rival, "r1", model="wine-knn", actor="grace").commit or "")

    result = run_promote(root, "v2", before_push=rival_pushes_first)

    assert result.attempts == 2
    tip = git(origin_of(root), "rev-parse", "env/staging")
    assert tip == result.commit
    assert git(origin_of(root), "rev-parse", "env/staging~1") == pushes[0]  # kept, not forced
    assert pin_on_origin(root).fingerprint == fp("v2")
    assert pin_on_origin(root, "wine-knn").fingerprint == fp("r1")
    assert pin_on_origin(root).previous == fp("v1")


def test_a_promotion_judged_against_a_pin_that_moved_writes_nothing(
    root: Path, tmp_path: Path
) -> None:
    """Two `/promote` comments for one model and environment: the second was judged (its
    gates) against v1, and v2 landed while it trained; it replaced v2 unjudged."""
    run_promote(root, "v1")
    rival = tmp_path / "rival"
    git(tmp_path, "clone", "-q", str(origin_of(root)), str(rival))
    run_promote(rival, "v2", actor="grace")  # lands while ours was being decided
    tip = git(origin_of(root), "rev-parse", "env/staging")

    with pytest.raises(promotion.LiveMoved, match=r"changed from \w+ to \w+ by grace.*again"):
        run_promote(root, "v3", judged_against=fp("v1"))
    assert git(origin_of(root), "rev-parse", "env/staging") == tip
    assert pin_on_origin(root).fingerprint == fp("v2")

    # judged against what runs now, it goes ahead; a rival on another model is redone
    pushes: list[str] = []

    def rival_pushes_first() -> None:
        if not pushes:
            pushes.append(run_promote(rival, "r1", model="wine-knn", actor="grace").commit or "")

    done = run_promote(root, "v3", judged_against=fp("v2"), before_push=rival_pushes_first)
    assert (done.attempts, pin_on_origin(root).fingerprint) == (2, fp("v3"))


def test_a_lost_race_to_the_same_version_ends_as_a_noop(root: Path, tmp_path: Path) -> None:
    rival = tmp_path / "rival"
    git(tmp_path, "clone", "-q", str(origin_of(root)), str(rival))
    done: list[str] = []

    def rival_promotes_the_same() -> None:
        if not done:
            done.append(run_promote(rival, "v1", actor="grace").commit or "")

    result = run_promote(root, "v1", before_push=rival_promotes_the_same)
    assert (result.noop, result.attempts, result.pin.promoted_by) == (True, 2, "grace")
    assert git(origin_of(root), "rev-parse", "env/staging") == done[0]


def test_every_push_lost_is_refused(root: Path, tmp_path: Path) -> None:
    rival = tmp_path / "rival"
    git(tmp_path, "clone", "-q", str(origin_of(root)), str(rival))
    count = iter(range(100))

    def rival_always_wins() -> None:
        run_promote(rival, f"r{next(count)}", model="wine-knn")

    with pytest.raises(promotion.RaceLost, match="3 attempts"):
        run_promote(root, "v1", before_push=rival_always_wins, max_attempts=3)
    assert "cancer-rf" not in status(rival, {"staging": "env/staging"})["staging"]


@pytest.mark.slow
def test_concurrent_promotions_of_different_models_lose_nothing(root: Path) -> None:
    models = [f"model-{i}" for i in range(10)]
    results: dict[str, Any] = {}

    def one(model: str) -> None:
        results[model] = run_promote(root, model, model=model)

    threads = [threading.Thread(target=one, args=(m,)) for m in models]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == models
    commits = git(origin_of(root), "rev-list", "--first-parent", "main..env/staging").split()
    assert sorted(commits) == sorted(r.commit for r in results.values())
    pins = status(root, {"staging": "env/staging"})["staging"]
    assert {m: p.fingerprint for m, p in pins.items()} == {m: fp(m) for m in models}


def test_rollback_to_the_previous_and_to_a_named_version(root: Path) -> None:
    first = run_promote(root, "v1")
    run_promote(root, "v2")
    run_promote(root, "v3")
    history_before = git(origin_of(root), "rev-list", "env/staging").splitlines()

    back = rollback(
        root,
        model="cancer-rf",
        environment="staging",
        branch="env/staging",
        to_fingerprint=None,
        actor="grace",
        pr=9,
        now=NOW,
    )
    pin = pin_on_origin(root)
    assert (pin.fingerprint, pin.previous, pin.action, pin.promoted_by) == (
        fp("v2"),
        fp("v3"),
        "rollback",
        "grace",
    )
    assert back.previous is not None and back.previous.fingerprint == fp("v3")
    message = git(origin_of(root), "log", "-1", "--format=%B", "env/staging")
    assert message.startswith(f"Roll back cancer-rf in staging to {fp('v2')[:12]}\n")
    assert f"Rolled-back-from: {fp('v3')[:12]}" in message
    assert "Requested-in: #9" in message
    # A new commit on top: history preserved.
    assert git(origin_of(root), "rev-list", "env/staging").splitlines()[1:] == history_before

    named = rollback(
        root,
        model="cancer-rf",
        environment="staging",
        branch="env/staging",
        to_fingerprint=fp("v1")[:12].upper(),
        actor="grace",
        pr=None,
        now=NOW,
        fingerprint_exists=lambda f: True,
    )
    assert named.pin.fingerprint == fp("v1")
    assert named.pin.source_commit == first.pin.source_commit
    assert named.pin.metrics == first.pin.metrics
    assert pin_on_origin(root).previous == fp("v2")

    same = rollback(
        root,
        model="cancer-rf",
        environment="staging",
        branch="env/staging",
        to_fingerprint=fp("v1"),
        actor="grace",
        pr=None,
        now=NOW,
    )
    assert same.noop

    events = pin_history(root, "env/staging", "cancer-rf")
    assert [(e.pin.version, e.pin.action) for e in events] == [
        (fp("v1")[:12], "rollback"),
        (fp("v2")[:12], "rollback"),
        (fp("v3")[:12], "promote"),
        (fp("v2")[:12], "promote"),
        (fp("v1")[:12], "promote"),
    ]
    assert events[0].actor == "grace" and events[-1].actor == "ada"
    assert events[-1].subject == f"Promote cancer-rf@{fp('v1')[:12]} to staging"
    assert events[0].commit == named.commit and events[0].when


@pytest.mark.parametrize(
    ("to", "missing", "message"),
    [
        (None, None, "only version ever pinned"),
        ("deadbeef", None, "was never pinned in staging"),
        ("../x", None, "is not a version"),
        (fp("v1"), False, "no longer in the store"),
    ],
)
def test_rollback_refusals(root: Path, to: str | None, missing: bool | None, message: str) -> None:
    run_promote(root, "v1")
    exists = None if missing is None else (lambda f: False)
    with pytest.raises(PromotionError, match=message):
        rollback(
            root,
            model="cancer-rf",
            environment="staging",
            branch="env/staging",
            to_fingerprint=to,
            actor="ada",
            pr=None,
            now=NOW,
            fingerprint_exists=exists,
        )


def test_rollback_with_nothing_pinned_is_refused(root: Path) -> None:
    kw: dict[str, Any] = {
        "environment": "staging",
        "branch": "env/staging",
        "to_fingerprint": None,
        "actor": "ada",
        "pr": None,
        "now": NOW,
    }
    with pytest.raises(PromotionError, match="does not exist yet"):
        rollback(root, model="cancer-rf", **kw)
    run_promote(root, "v1", model="wine-knn")
    with pytest.raises(PromotionError, match="never pinned"):
        rollback(root, model="cancer-rf", **kw)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model", "../../etc/passwd"),
        ("model", "-rf"),
        ("model", "a b"),
        ("fingerprint", "abc"),
        ("fingerprint", "G" * 64),
        ("actor", "ada; rm -rf /"),
        ("actor", "ada\nSource-PR: #1"),
        ("branch", "--force"),
        ("branch", "env/../main"),
        ("environment", "staging\nModel: x"),
        ("pr", 0),
        ("source_commit", "HEAD"),
        ("remote", "-u"),
    ],
)
def test_bad_names_are_refused_before_any_git(root: Path, field: str, value: Any) -> None:
    with pytest.raises(PromotionError):
        run_promote(root, "v1", **{field: value})
    assert git(origin_of(root), "branch", "--list", "env/*") == ""


def test_an_unknown_source_commit_must_be_pushed(root: Path) -> None:
    with pytest.raises(PromotionError, match="push it"):
        run_promote(root, "v1", source_commit="1" * 40)


def test_a_repository_without_a_remote_works_locally(tmp_path: Path) -> None:
    root = tmp_path / "solo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(
        root,
        "-c",
        "user.name=a",
        "-c",
        "user.email=a@b",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "x",
    )

    first = run_promote(root, "v1")
    second = run_promote(root, "v2", push=True)  # no remote configured: local all the same
    back = rollback(
        root,
        model="cancer-rf",
        environment="staging",
        branch="env/staging",
        to_fingerprint=None,
        actor="ada",
        pr=None,
        now=NOW,
    )

    assert (first.pushed, second.pushed, back.pushed) == (False, False, False)
    assert git(root, "rev-parse", "env/staging") == back.commit
    assert git(root, "branch", "--show-current") == "main"
    pins = status(root, {"staging": "env/staging", "production": "env/production"})
    assert pins["staging"]["cancer-rf"].fingerprint == fp("v1")
    assert pins["production"] == {}
    assert len(pin_history(root, "env/staging", "cancer-rf")) == 3


def test_push_false_leaves_the_remote_alone(root: Path) -> None:
    result = run_promote(root, "v1", push=False)
    assert not result.pushed
    assert git(root, "rev-parse", "env/staging") == result.commit
    assert git(origin_of(root), "branch", "--list", "env/*") == ""


def test_a_checked_out_environment_branch_is_not_moved_locally(root: Path) -> None:
    git(root, "switch", "-q", "-c", "env/staging")
    with pytest.raises(PromotionError, match="checked out"):
        run_promote(root, "v1", push=False)
    pushed = run_promote(root, "v1")  # pushing leaves the local branch where it is
    assert git(root, "rev-parse", "env/staging") != pushed.commit


def test_a_local_copy_of_the_branch_follows_the_push(root: Path) -> None:
    first = run_promote(root, "v1")
    git(root, "branch", "env/staging", "origin/env/staging")
    second = run_promote(root, "v2")
    assert git(root, "rev-parse", "env/staging") == second.commit != first.commit
    assert status(root, {"staging": "env/staging"})["staging"]["cancer-rf"] == second.pin


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(GitError):
        run_promote(tmp_path, "v1", source_commit="1" * 40)
    assert issubclass(GitError, UserError)


def manifest_files(pin: Pin) -> dict[str, str]:
    return {f"deploy/kserve/{pin.model}.yaml": f"version: '{pin.version}'\n"}


def test_a_rollback_rewrites_the_manifest_in_the_same_commit(root: Path) -> None:
    run_promote(root, "v1", files=manifest_files)
    run_promote(root, "v2", files=manifest_files)
    rollback(
        root,
        model="cancer-rf",
        environment="staging",
        branch="env/staging",
        to_fingerprint=None,
        actor="grace",
        pr=9,
        now=NOW,
        files=manifest_files,
    )
    text = git(origin_of(root), "show", "env/staging:deploy/kserve/cancer-rf.yaml")
    assert text.strip() == f"version: '{fp('v1')[:12]}'"
    changed = git(origin_of(root), "show", "--name-only", "--format=", "env/staging").split()
    assert sorted(changed) == ["deploy/kserve/cancer-rf.yaml", "mlops/deployments/cancer-rf.yaml"]


def test_manifests_on_the_default_branch_never_reach_an_environment(root: Path) -> None:
    """Someone commits a manifest of their own to main (an image they control): the
    environment branch keeps the one promotion wrote."""
    run_promote(root, "v1", files=manifest_files)
    stray = root / "deploy/kserve"
    stray.mkdir(parents=True)
    (stray / "cancer-rf.yaml").write_text("image: evil\n")
    (stray / "other.yaml").write_text("image: evil\n")
    git(root, "add", "deploy")
    git(root, "commit", "-q", "-m", "Oops: manifests on main")
    git(root, "push", "-q", "origin", "main")

    run_promote(root, "v2", model="other-model", files=manifest_files)

    origin = origin_of(root)
    listing = git(origin, "ls-tree", "--name-only", "env/staging", "deploy/kserve/")
    assert listing.splitlines() == [
        "deploy/kserve/cancer-rf.yaml",
        "deploy/kserve/other-model.yaml",
    ]
    text = git(origin, "show", "env/staging:deploy/kserve/cancer-rf.yaml")
    assert text.strip() == f"version: '{fp('v1')[:12]}'"


def subjects(root: Path, n: int) -> list[str]:
    log = git(origin_of(root), "log", f"-{n}", "--format=%s", "env/staging")
    return log.splitlines()


def test_a_canary_runs_beside_the_pin_then_completes(root: Path) -> None:
    run_promote(root, "v1")
    first = run_promote(root, "v2", canary_percent=10, files=manifest_files)
    pin = pin_on_origin(root)
    assert (pin.fingerprint, pin.canary.fingerprint) == (fp("v1"), fp("v2"))
    assert (pin.canary.percent, pin.canary.sha256) == (10, art("v2"))
    message = git(origin_of(root), "log", "-1", "--format=%B", "env/staging")
    assert "Canary-Percent: 10" in message and f"Canary-SHA256: {art('v2')}" in message
    assert f"Artifact-SHA256: {art('v1')}" in message  # the stable pin's own hash

    assert run_promote(root, "v2", canary_percent=10).noop
    run_promote(root, "v2", canary_percent=50)
    assert pin_on_origin(root).canary.percent == 50

    done = run_promote(root, "v2")  # without --canary: the canary becomes the pin
    pin = pin_on_origin(root)
    assert (pin.fingerprint, pin.canary, pin.previous) == (fp("v2"), None, fp("v1"))
    assert subjects(root, 3) == [
        f"Promote cancer-rf@{fp('v2')[:12]} to staging",
        f"Canary cancer-rf@{fp('v2')[:12]} in staging at 50%",
        f"Canary cancer-rf@{fp('v2')[:12]} in staging at 10%",
    ]
    assert first.commit != done.commit


def test_a_rollback_aborts_a_live_canary(root: Path) -> None:
    run_promote(root, "v1")
    run_promote(root, "v2", canary_percent=10)
    back = rollback(
        root,
        model="cancer-rf",
        environment="staging",
        branch="env/staging",
        to_fingerprint=None,
        actor="grace",
        pr=9,
        now=NOW,
        files=manifest_files,
    )
    pin = pin_on_origin(root)
    assert (pin.fingerprint, pin.canary, pin.action, back.pin.promoted_by) == (
        fp("v1"),
        None,
        "abort",
        "grace",
    )
    assert subjects(root, 1) == ["Abort the canary of cancer-rf in staging"]
    message = git(origin_of(root), "log", "-1", "--format=%B", "env/staging")
    assert f"Aborted-canary: {fp('v2')[:12]}" in message and "Requested-in: #9" in message


@pytest.mark.parametrize(
    ("setup", "version", "percent", "message"),
    [
        ([], "v1", 10, "no version live in staging"),
        (["v1"], "v1", 10, "already the stable version"),
        (["v1"], "v2", 0, "1 to 99 percent"),
        (["v1"], "v2", 100, "1 to 99 percent"),
        (["v1"], "v2", True, "1 to 99 percent"),
    ],
)
def test_canary_refusals(
    root: Path, setup: list[str], version: str, percent: Any, message: str
) -> None:
    for label in setup:
        run_promote(root, label)
    with pytest.raises(PromotionError, match=message):
        run_promote(root, version, canary_percent=percent)


def test_pins_without_a_canary_block_still_read(root: Path) -> None:
    old = "model: m\nversion: abc\nfingerprint: '" + "a" * 64 + "'\nenvironment: s\n"
    pin = parse_pin((old + "source_commit: '" + "b" * 40 + "'\n").encode(), "x.yaml")
    assert pin.canary is None
