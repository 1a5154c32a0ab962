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


def _dist(site, folder: str, metadata_text: str):
    (site / folder).mkdir(parents=True)
    (site / folder / "METADATA").write_text(metadata_text)


@pytest.mark.parametrize(
    "layout",
    [
        # the field, not the folder's name; a continuation line; the value's trailing blank
        {"site/demo_pkg-1.0.dist-info": "Name: demo-pkg\nSummary: two\n  lines\nVERSION: 1.1 \n"},
        # what follows the fields is no field
        {"site/demo_pkg-1.0.dist-info": "Name: demo-pkg\n\nVersion: 9\n"},
        # two folders for one distribution (an interrupted upgrade): importlib's order
        {
            "site/demo_pkg-1.0.dist-info": "Version: 1.0\n",
            "site/demo_pkg-2.0.dist-info": "Version: 2.0\n",
        },
        # an egg's metadata earlier on the path
        {
            "early/demo_pkg.egg-info": "Version: 0.0.1\n",
            "site/demo_pkg-1.0.dist-info": "Version: 1.0\n",
        },
        {"early/demo_pkg-0.5-py3.11.egg": "", "site/demo_pkg-1.0.dist-info": "Version: 1.0\n"},
    ],
)
def test_the_metadata_version_is_what_importlib_metadata_reads_whatever_the_layout(
    tmp_path, monkeypatch, layout
):
    import sys

    for folder, text in layout.items():
        if folder.endswith(".egg"):
            (tmp_path / folder / "EGG-INFO").mkdir(parents=True)
            (tmp_path / folder / "EGG-INFO" / "PKG-INFO").write_text("Version: 0.5\n")
        else:
            _dist(tmp_path, folder, f"Metadata-Version: 2.1\n{text}")
    monkeypatch.setattr(
        sys, "path", [str(tmp_path / "gone"), str(tmp_path / "early"), str(tmp_path / "site")]
    )
    installed._plain.cache_clear()
    installed._entries.cache_clear()
    try:
        assert installed.metadata_version("Demo_Pkg") == metadata.version("demo-pkg")
        with pytest.raises(metadata.PackageNotFoundError):
            installed.metadata_version("not-installed-mlops")
    finally:
        installed._plain.cache_clear()
        installed._entries.cache_clear()
