"""The pure parts of ``mlops init``: workflow adaptation, templates, example data."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import scaffold

PROJECT = Path(__file__).resolve().parents[2]


def test_packaged_workflows_are_the_repositorys_own():
    for name, text in scaffold.template_workflows().items():
        assert text == (PROJECT / ".github/workflows" / name).read_text(), (
            f"engine/templates/workflows/{name} is stale: "
            f"cp .github/workflows/{name} engine/templates/workflows/"
        )


def test_adapted_workflows_install_the_pinned_engine_never_the_checkout():
    for name, text in scaffold.template_workflows().items():
        adapted = scaffold.adapt_workflow(text, "mlops-engine==1.2.3")
        installs = [line for line in adapted.splitlines() if "run: python -m pip install" in line]
        assert installs, name
        assert all(line.endswith('"mlops-engine==1.2.3"') for line in installs), name
        # everything else, the pinned actions included, is kept as it is
        assert "requirements/lock.txt" not in adapted  # the engine's, not the user's
        restored = adapted.replace(' "mlops-engine==1.2.3"', " -c requirements/lock.txt .")
        assert restored == text


def test_a_template_without_an_install_line_is_an_error():
    with pytest.raises(ValueError, match="template changed"):
        scaffold.adapt_workflow("jobs: {}\n", "mlops-engine")


def test_example_data_is_deterministic_and_matches_its_schema():
    text = scaffold.example_csv()
    assert text == scaffold.example_csv()
    rows = [line.split(",") for line in text.splitlines()[1:]]
    assert len(rows) == 240
    assert {r[4] for r in rows} == {"basic", "pro", "team"}
    churned = sum(int(r[5]) for r in rows)
    assert 0.2 < churned / len(rows) < 0.8  # both classes well represented


def test_modelines_point_at_the_copied_schemas_by_relative_path():
    files = scaffold.planned_files("mlops-engine")
    root = Path("/r")
    for path, text in files.items():
        if path.startswith("mlops/") and path.endswith(".yaml"):
            target = text.splitlines()[0].split("$schema=")[1]
            schema = (root / path).parent.joinpath(target).resolve()
            assert schema.relative_to(root).as_posix() in files, path


def test_adapted_workflows_pin_scikit_learn_too_so_a_release_cannot_move_every_version():
    """Every model's version records scikit-learn's. Installed by the engine's lower bound
    alone, a scikit-learn release would change every version at the next run, without a
    pull request: the workflows pin the one init ran with, and a bump is a reviewed edit."""
    for name, text in scaffold.template_workflows().items():
        adapted = scaffold.adapt_workflow(text, "mlops-engine==1.2.3", "scikit-learn==1.9.1")
        installs = [line for line in adapted.splitlines() if "run: python -m pip install" in line]
        assert installs, name
        assert all(
            line.endswith('"mlops-engine==1.2.3" "scikit-learn==1.9.1"') for line in installs
        ), name
    files = scaffold.planned_files("mlops-engine==1.2.3")
    pinned = scaffold.sklearn_requirement()
    assert pinned.startswith("scikit-learn==") and pinned.split("==")[1][0].isdigit()
    assert f'"mlops-engine==1.2.3" "{pinned}"' in files[".github/workflows/mlops-main.yml"]


def test_the_remotes_dvc_lists_are_read_whole_and_the_default_is_known():
    # (the team's default remote is the one an upgrade keeps, whatever its name or place)
    listing = "backup  /mnt/old copies\nteam    s3://bucket/dvc store (default)\n\n"
    assert scaffold._remotes(listing) == (
        {"backup": "/mnt/old copies", "team": "s3://bucket/dvc store"},
        "team",
    )
    assert scaffold._remotes("") == ({}, None)
