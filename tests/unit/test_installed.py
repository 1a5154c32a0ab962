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
