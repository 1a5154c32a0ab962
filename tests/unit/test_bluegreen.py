"""Blue-green pins: stage, switch, roll back, unstage (pure), and the manifests they write."""

from __future__ import annotations

import pytest
import yaml

from engine.environments.bluegreen import promoted, rolled_back
from engine.environments.manifest import Serving, files_for
from engine.environments.pins import PromotionError, parse_pin, render
from tests.unit.test_pins import fp, pin
from tests.unit.test_serving_manifest import problems

NOW = "2025-03-02T09:00:00Z"


def fresh(label: str, actor: str = "bob"):
    """The pin a direct promotion of ``label`` would write."""
    return pin(label, sha256=fp(f"{label}-file"), promoted_by=actor, promoted_at=NOW)


def live(label: str):
    return fresh(label, "ada").model_copy(update={"slot": "blue"})


def test_the_first_version_goes_live_in_blue_at_once():
    new, message = promoted(None, fresh("v1"), "bob")
    assert (new.slot, new.idle, new.version) == ("blue", None, fp("v1")[:12])
    assert message.startswith("Promote cancer-rf@")


def test_a_new_version_is_staged_in_the_idle_slot_and_the_live_one_keeps_serving():
    current = live("v1")
    staged, message = promoted(current, fresh("v2"), "bob")
    assert (staged.fingerprint, staged.slot, staged.promoted_by) == (fp("v1"), "blue", "ada")
    assert staged.idle is not None
    assert (staged.idle.slot, staged.idle.role, staged.idle.fingerprint) == (
        "green",
        "staged",
        fp("v2"),
    )
    assert staged.action == "stage"
    subject, _, rest = message.partition("\n\n")
    assert subject == f"Stage cancer-rf@{fp('v2')[:12]} in the green slot of staging"
    trailers = rest.rpartition("\n\n")[2].splitlines()
    assert f"Version: {fp('v1')[:12]}" in trailers  # what serves traffic
    assert f"Staged-Version: {fp('v2')[:12]}" in trailers
    assert "Staged-Slot: green" in trailers
    assert parse_pin(render(staged).encode(), "p.yaml") == staged


def test_promoting_the_staged_version_switches_all_traffic_and_keeps_the_old_slot_warm():
    staged, _ = promoted(live("v1"), fresh("v2"), "bob")
    switched, message = promoted(staged, fresh("v2", "cy"), "cy")
    assert (switched.fingerprint, switched.slot, switched.action) == (fp("v2"), "green", "switch")
    assert switched.promoted_by == "cy" and switched.previous == fp("v1")
    assert switched.idle is not None
    assert (switched.idle.slot, switched.idle.role, switched.idle.fingerprint) == (
        "blue",
        "previous",
        fp("v1"),
    )
    assert switched.idle.promoted_by == "ada"  # the old version's lineage is kept
    assert message.startswith(f"Switch cancer-rf in staging to green ({fp('v2')[:12]})")
    assert promoted(switched, fresh("v2"), "cy") is None  # live already: nothing to do


def test_a_rollback_switches_back_to_the_warm_slot_then_forward_again():
    staged, _ = promoted(live("v1"), fresh("v2"), "bob")
    switched, _ = promoted(staged, fresh("v2"), "bob")
    back, message = rolled_back(switched, None, to=None, actor="dan", now=NOW, requested_in=3)
    assert (back.fingerprint, back.slot, back.action) == (fp("v1"), "blue", "rollback")
    assert back.idle is not None and back.idle.fingerprint == fp("v2")
    assert back.idle.role == "previous"
    assert message.startswith(f"Roll back cancer-rf in staging to blue ({fp('v1')[:12]})")
    assert f"Rolled-back-from: {fp('v2')[:12]}" in message and "Requested-in: #3" in message
    again, _ = rolled_back(back, None, to=fp("v2")[:8], actor="dan", now=NOW, requested_in=None)
    assert (again.fingerprint, again.slot) == (fp("v2"), "green")


def test_a_rollback_while_a_version_is_staged_unstages_it():
    staged, _ = promoted(live("v1"), fresh("v2"), "bob")
    dropped, message = rolled_back(staged, None, to=None, actor="dan", now=NOW, requested_in=None)
    assert (dropped.fingerprint, dropped.slot, dropped.idle) == (fp("v1"), "blue", None)
    assert message.startswith(f"Unstage cancer-rf@{fp('v2')[:12]} from staging")
    with pytest.raises(PromotionError, match="never live"):
        rolled_back(staged, None, to=fp("v2")[:8], actor="dan", now=NOW, requested_in=None)


def test_a_rollback_to_a_version_in_neither_slot_loads_it_in_the_idle_slot_and_switches():
    staged, _ = promoted(live("v1"), fresh("v2"), "bob")
    switched, _ = promoted(staged, fresh("v2"), "bob")
    old = pin("v0", sha256=fp("v0-file"))
    back, _ = rolled_back(switched, old, to=fp("v0")[:8], actor="dan", now=NOW, requested_in=None)
    assert (back.fingerprint, back.slot) == (fp("v0"), "blue")
    assert back.idle is not None and back.idle.fingerprint == fp("v2")


def isvcs(files):
    return {path: yaml.safe_load(text) for path, text in files.items() if text is not None}


@pytest.mark.parametrize("store", ["s3://bucket/mlops", ".mlops/store"])
def test_each_slot_is_an_inference_service_valid_against_kserves_crd(store):
    staged, _ = promoted(live("v1"), fresh("v2"), "bob")
    files = files_for(staged, store, Serving(namespace="ml"))
    docs = isvcs(files)
    assert set(docs) == {
        "deploy/kserve/cancer-rf.yaml",
        "deploy/kserve/cancer-rf-blue.yaml",
        "deploy/kserve/cancer-rf-green.yaml",
    }
    for slot, version in (("blue", "v1"), ("green", "v2")):
        service = docs[f"deploy/kserve/cancer-rf-{slot}.yaml"]
        assert problems(service) == []
        meta = service["metadata"]
        assert meta["name"] == f"cancer-rf-{slot}"
        assert meta["labels"]["mlops.dev/slot"] == slot
        assert meta["labels"]["mlops.dev/version"] == fp(version)[:12]
        assert meta["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"
        (container,) = service["spec"]["predictor"]["containers"]
        args = container["args"]  # the slot's own version alone, from its folder
        assert args[:7] == [
            *("serve", "--model-dir", "/mnt/models", "--env", "staging", "--model", "cancer-rf")
        ]
        assert args[args.index("--fingerprint") + 1] == fp(version)
        assert "--slot" not in args
    route = docs["deploy/kserve/cancer-rf.yaml"]
    assert (route["apiVersion"], route["kind"]) == ("v1", "Service")
    assert route["metadata"]["namespace"] == "ml"
    assert route["spec"]["selector"] == {"serving.kserve.io/inferenceservice": "cancer-rf-blue"}
    assert route["spec"]["ports"][0]["targetPort"] == 8080


def test_a_switch_changes_only_the_route_so_both_slots_keep_running():
    staged, _ = promoted(live("v1"), fresh("v2"), "bob")
    switched, _ = promoted(staged, fresh("v2"), "bob")
    before = files_for(staged, ".mlops/store", Serving())
    after = files_for(switched, ".mlops/store", Serving())
    changed = {path for path in before if before[path] != after[path]}
    assert changed == {"deploy/kserve/cancer-rf.yaml"}
    route = yaml.safe_load(after["deploy/kserve/cancer-rf.yaml"])
    assert route["spec"]["selector"] == {"serving.kserve.io/inferenceservice": "cancer-rf-green"}


def test_an_empty_slot_and_a_plain_pin_delete_the_slot_manifests():
    staged, _ = promoted(live("v1"), fresh("v2"), "bob")
    dropped, _ = rolled_back(staged, None, to=None, actor="dan", now=NOW, requested_in=None)
    files = files_for(dropped, ".mlops/store", Serving())
    assert files["deploy/kserve/cancer-rf-green.yaml"] is None
    assert files["deploy/kserve/cancer-rf-blue.yaml"] is not None
    plain = files_for(fresh("v3"), ".mlops/store", Serving())
    assert plain["deploy/kserve/cancer-rf-blue.yaml"] is None
    assert yaml.safe_load(plain["deploy/kserve/cancer-rf.yaml"])["kind"] == "InferenceService"


def test_help_names_the_strategy_of_an_environment():
    from engine.definitions.formats import Environment
    from engine.environments.policy import describe

    assert "strategy `blue-green`" in describe(Environment(branch="env/p", strategy="blue-green"))
    assert "strategy" not in describe(Environment(branch="env/s"))


def test_a_switch_needs_blue_green_and_a_loaded_idle_slot():
    from engine.environments.bluegreen import switch_target

    staged, _ = promoted(live("v1"), fresh("v2"), "bob")
    assert switch_target(staged, "staging", "blue-green") == (staged.idle, "")
    idle, why = switch_target(live("v1"), "staging", "blue-green")
    assert idle is None and "no version in the idle slot of `staging`" in why
    idle, why = switch_target(staged, "staging", "canary")
    assert idle is None and "strategy `canary`, which has no slots to switch" in why


def test_the_staged_version_switches_even_when_this_job_verified_other_bytes():
    """A job whose store starts empty retrains the staged version: same fingerprint, another
    file hash. It is the same version, so it switches (to the hash this job verified)."""
    staged, _ = promoted(live("v1"), fresh("v2"), "bob")
    again = fresh("v2", "cy").model_copy(update={"sha256": fp("v2-retrained")})
    switched, _ = promoted(staged, again, "cy")
    assert (switched.fingerprint, switched.slot, switched.action) == (fp("v2"), "green", "switch")
    assert switched.sha256 == fp("v2-retrained")
    assert switched.idle is not None and switched.idle.fingerprint == fp("v1")
