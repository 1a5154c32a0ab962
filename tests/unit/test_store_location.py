"""Where a job's store is: ``store.url``, unless MLOPS_STORE or MLOPS_STORE_FROM say more."""

from __future__ import annotations

from engine.store.location import seed_url, store_url


def test_mlops_store_overrides_store_url_and_empty_means_unset() -> None:
    remote = "remote://storage/mlops-store"
    assert store_url(remote, {}) == remote
    assert store_url(remote, {"MLOPS_STORE": ".mlops/store"}) == ".mlops/store"
    assert store_url(remote, {"MLOPS_STORE": "  "}) == remote
    assert seed_url({}) is None and seed_url({"MLOPS_STORE_FROM": ""}) is None
    assert seed_url({"MLOPS_STORE_FROM": ".mlops/store"}) == ".mlops/store"
