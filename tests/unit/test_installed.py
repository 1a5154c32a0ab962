"""Versions for cache keys, read from ``.dist-info`` folder names, match the metadata's."""

from __future__ import annotations

from importlib import metadata

import pytest

from engine.definitions import installed


@pytest.mark.parametrize("dist", ["pydantic", "PyYAML", "scikit-learn", "mlops-engine", "click"])
def test_a_version_is_the_one_importlib_metadata_reads(dist):
    assert installed.version(dist) == metadata.version(dist)


def test_every_installed_distribution_agrees():
    names = {d.metadata["Name"] for d in metadata.distributions()}
    assert len(names) > 20
    assert {n: installed.version(n) for n in names} == {n: metadata.version(n) for n in names}


def test_a_distribution_not_installed_is_reported_as_importlib_does():
    with pytest.raises(metadata.PackageNotFoundError):
        installed.version("no-such-distribution-mlops")


def test_the_state_of_an_installation_changes_whenever_its_version_could(tmp_path, monkeypatch):
    import os
    import sys

    site = tmp_path / "site"
    meta = site / "demo_pkg-1.0.dist-info" / "METADATA"
    meta.parent.mkdir(parents=True)
    meta.write_text("Metadata-Version: 2.1\nName: demo-pkg\nVersion: 1.0\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path / "gone"), str(site), str(tmp_path)])
    installed._listed.cache_clear()
    try:
        first = installed.state("demo-pkg")
        assert first is not None and installed.state("Demo_Pkg") == first
        assert installed.state("not-installed-mlops") is None
        os.utime(tmp_path, ns=(1, 10**18))  # a folder after the one holding it: no matter
        assert installed.state("demo-pkg") == first
        seen = [first]
        # METADATA edited in place, then a distribution installed beside it (the folder
        # changes), then a folder before it on sys.path appears
        os.utime(meta, ns=(1, 10**18))
        seen.append(installed.state("demo-pkg"))
        os.utime(site, ns=(1, 10**18))
        seen.append(installed.state("demo-pkg"))
        (tmp_path / "gone").mkdir()
        seen.append(installed.state("demo-pkg"))
        assert len(set(seen)) == 4
    finally:
        installed._listed.cache_clear()


def test_the_fingerprints_scikit_learn_version_is_remembered_under_that_state(tmp_path):
    from engine.definitions.parse_cache import ParseCache, for_root
    from engine.training.planning import sklearn_version

    assert sklearn_version(tmp_path) == sklearn_version() == metadata.version("scikit-learn")
    for_root(tmp_path).save()
    key = f"sklearn-version:{installed.state('scikit-learn')}"
    assert ParseCache(tmp_path).recall(key) == metadata.version("scikit-learn")
