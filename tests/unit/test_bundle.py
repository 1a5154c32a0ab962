"""The report bundle: written from checked dataclasses, read back through the closed schema."""

from __future__ import annotations

import json

import pytest

from engine.errors import UserError
from engine.github.bundle import RESULTS_FILE, Results, Status, read_bundle, write_bundle

OK = Status(state="success", description="every model passed its gates")


def results(**changes):
    values = {
        "repository": "octo/models",
        "pr": 3,
        "head_sha": "a" * 40,
        "base_sha": "b" * 40,
        "verdict": "pass",
        "statuses": {"mlops/validate": OK, "mlops/gates": OK},
    }
    return Results(**{**values, **changes})


def test_a_bundle_reads_back_as_written(tmp_path):
    written = results(statuses={"mlops/validate": OK, "mlops/gates": Status("failure", "é" * 140)})
    write_bundle(tmp_path, "### mlops report ✅", written)
    report, read = read_bundle(tmp_path)
    assert report == "### mlops report ✅" and read == written
    doc = json.loads((tmp_path / RESULTS_FILE).read_text(encoding="utf-8"))
    assert list(doc) == [
        "format", "repository", "pr", "head_sha", "base_sha", "verdict", "statuses",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "changes",
    [
        {"repository": "octo models"},
        {"pr": 0},
        {"head_sha": "A" * 40},
        {"base_sha": "b" * 39},
        {"verdict": "maybe"},
        {"statuses": {"mlops/other": OK}},
    ],
)
def test_results_out_of_shape_are_never_written(changes):
    with pytest.raises(ValueError, match="not the results of a review"):
        results(**changes)


def test_a_status_github_would_refuse_is_never_made():
    with pytest.raises(ValueError, match="not a commit status"):
        Status(state="fine", description="ok")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a commit status"):
        Status(state="success", description="x" * 141)


def test_a_downloaded_bundle_out_of_shape_is_refused(tmp_path):
    write_bundle(tmp_path, "report", results())
    doc = json.loads((tmp_path / RESULTS_FILE).read_text())
    doc["statuses"]["mlops/gates"]["description"] = "x" * 141
    (tmp_path / RESULTS_FILE).write_text(json.dumps(doc))
    with pytest.raises(UserError, match=r"refusing the report bundle: statuses\.mlops/gates"):
        read_bundle(tmp_path)
