"""``promote.retire`` in git (a real bare origin): one commit that deletes the pin and the
model's own manifests, never forced; a lost race is fetched and redone."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.environments.pins import PromotionError
from engine.environments.promote import retire, retired_models, status
from tests.conftest import git
from tests.func.test_promote import origin_of, root, run_promote

__all__ = ["root"]  # the fixture, imported for these tests

RETIRE = {"environment": "staging", "branch": "env/staging", "actor": "ada", "pr": 7}


def manifest(model: str) -> str:
    return f"kind: InferenceService\nmetadata:\n  labels:\n    mlops.dev/model: {model}\n"


def with_manifest(pin) -> dict[str, str | None]:
    return {f"deploy/kserve/{pin.model}.yaml": manifest(pin.model)}


def files_on_origin(root: Path) -> list[str]:
    return git(origin_of(root), "ls-tree", "-r", "--name-only", "env/staging").splitlines()


def owned(model: str) -> dict[str, str | None]:
    return {f"deploy/kserve/{model}{tail}.yaml": None for tail in ("", "-blue", "-green")}


def test_retire_deletes_the_pin_and_its_own_manifests_only(root: Path) -> None:
    run_promote(root, "v1", files=with_manifest)
    run_promote(root, "b1", model="cancer-rf-blue", files=with_manifest)  # a slot's path
    before = git(origin_of(root), "rev-parse", "env/staging")

    result = retire(root, model="cancer-rf", files=owned("cancer-rf"), **RETIRE)

    assert (result.retired, result.pushed, result.attempts) == (True, True, 1)
    assert git(origin_of(root), "rev-parse", "env/staging~1") == before
    files = files_on_origin(root)
    assert "mlops/deployments/cancer-rf.yaml" not in files
    assert "deploy/kserve/cancer-rf.yaml" not in files
    assert "deploy/kserve/cancer-rf-blue.yaml" in files  # another model's manifest
    assert "mlops/deployments/cancer-rf-blue.yaml" in files
    assert sorted(status(root, {"staging": "env/staging"})["staging"]) == ["cancer-rf-blue"]
    assert retired_models(root, "env/staging") == {"cancer-rf"}
    with pytest.raises(PromotionError, match="not pinned in staging"):
        retire(root, model="cancer-rf", files=owned("cancer-rf"), **RETIRE)


def test_a_lost_race_is_fetched_and_redone(root: Path, tmp_path: Path) -> None:
    run_promote(root, "v1", files=with_manifest)
    rival = tmp_path / "rival"
    git(tmp_path, "clone", "-q", str(origin_of(root)), str(rival))
    pushes: list[str] = []

    def rival_pushes_first() -> None:
        if not pushes:
            pushes.append(run_promote(rival, "r1", model="wine-knn", actor="grace").commit or "")

    result = retire(
        root, model="cancer-rf", files=owned("cancer-rf"), before_push=rival_pushes_first, **RETIRE
    )
    assert result.attempts == 2
    assert git(origin_of(root), "rev-parse", "env/staging") == result.commit
    assert git(origin_of(root), "rev-parse", "env/staging~1") == pushes[0]  # kept, not forced
    assert sorted(status(root, {"staging": "env/staging"})["staging"]) == ["wine-knn"]


def test_nothing_to_retire_without_the_branch(root: Path) -> None:
    with pytest.raises(PromotionError, match="env/staging does not exist"):
        retire(root, model="cancer-rf", **RETIRE)
