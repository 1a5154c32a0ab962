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


def test_the_metadata_version_is_the_one_importlib_metadata_reads():
    names = {d.metadata["Name"] for d in metadata.distributions()}
    assert len(names) > 20
    assert {n: installed.metadata_version(n) for n in names} == {
        n: metadata.version(n) for n in names
    }


def test_the_metadata_version_reads_the_field_not_the_folder_name(tmp_path, monkeypatch):
    import sys

    site = tmp_path / "site"
    meta = site / "demo_pkg-1.0.dist-info" / "METADATA"
    meta.parent.mkdir(parents=True)
    meta.write_text(
        "Metadata-Version: 2.1\nName: demo-pkg\nSummary: two\n  lines\nVERSION: 1.0.post1\n"
        "\nVersion: 9 (the description, not a field)\n"
    )
    monkeypatch.setattr(sys, "path", [str(tmp_path / "gone"), str(site)])
    installed._listed.cache_clear()
    try:
        assert installed.metadata_version("Demo_Pkg") == "1.0.post1"
        meta.write_text("Metadata-Version: 2.1\nName: demo-pkg\n\nVersion: 9\n")
        # no field before the blank line: importlib.metadata answers, whatever it says
        assert installed.metadata_version("demo-pkg") == metadata.version("demo-pkg")
        with pytest.raises(metadata.PackageNotFoundError):
            installed.metadata_version("not-installed-mlops")
    finally:
        installed._listed.cache_clear()
