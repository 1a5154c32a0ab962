"""Pure findings of the third outside review (a newcomer's repository, an attacker)."""

from __future__ import annotations

import pytest

from engine.github.commands import addressed


@pytest.mark.parametrize(
    "message",
    [
        "### ✅ mlops: all gates passed\n\nbody",
        "| Model | Version | Reproduced |\n| --- | --- | --- |",
        "- one\n- two",
        "> [!NOTE]\n> advisory",
        "```text\nx\n```",
        "1. first",
        "<details><summary>x</summary></details>",
    ],
)
def test_a_block_starts_on_a_line_of_its_own(message):
    assert addressed("ada", message) == f"@ada\n\n{message}"


@pytest.mark.parametrize(
    "message",
    [
        "Promoted `m` `abc` to `staging`.\nDispatched `deploy.yml`.",
        "Refused:\n- needs 1 approving review",
        "#12 is not a model",  # no space after the hash: not a heading
        "-1 is not a percent",
    ],
)
def test_a_sentence_follows_the_mention(message):
    assert addressed("ada", message) == f"@ada {message}"


def test_init_names_the_deploy_workflow_the_engine_dispatches_and_needs_no_app_token():
    """Found: init's next steps (and docs/github.md) said a GitHub App token was needed to
    deploy after a promotion; GitHub lets ``GITHUB_TOKEN`` start a ``workflow_dispatch``,
    which the engine sends itself, to the file init writes."""
    from engine.environments.operations import DEPLOY_WORKFLOWS
    from engine.scaffold import WORKFLOWS, next_steps

    assert f"mlops-{WORKFLOWS[3]}.yml" == DEPLOY_WORKFLOWS[0]
    text = next_steps("/tmp/remote")
    assert "GitHub App" not in text and DEPLOY_WORKFLOWS[0] in text


def test_the_id_column_as_a_feature_is_refused_at_validation():
    """Found: ``validate`` passed a model that lists the dataset's id column as a feature,
    and training failed with ``ValueError: Some column names are not columns of the
    dataframe: {'loan_id'}`` (training leaves the id column out of the inputs)."""
    from engine.definitions.loading import load
    from engine.definitions.references import check_references

    dataset = (
        b"name: loans\nsource: {path: data/loans.csv}\ntarget: y\nid_column: loan_id\n"
        b"schema:\n  columns:\n    loan_id: {type: string}\n    age: {type: int}\n"
        b"    y: {type: int, values: [0, 1]}\n"
    )
    model = (
        b"name: m\ndataset: loans\ntask: classification\n"
        b"features: {columns: [age, loan_id]}\n"
        b"estimator: {class: sklearn.linear_model.LogisticRegression}\n"
        b"metrics: [accuracy]\nprimary_metric: accuracy\n"
    )
    defs = load({"mlops/datasets/loans.yaml": dataset, "mlops/models/m.yaml": model})
    assert defs.problems == []
    assert [p.render() for p in check_references(defs)] == [
        "mlops/models/m.yaml:4:27: error: column 'loan_id' is the id column of 'loans', which "
        "names rows and is not a model input: remove it from the features (copy it into a "
        "column of its own if its values carry information)"
    ]


def test_init_files_follow_the_default_branch():
    from engine import scaffold

    main = scaffold.planned_files("mlops-engine")
    trunk = scaffold.planned_files("mlops-engine", "trunk")
    assert "default_branch: main\n" in main["mlops/project.yaml"]
    assert "default_branch: trunk\n" in trunk["mlops/project.yaml"]
    assert "branches: [trunk]" in trunk[".github/workflows/mlops-main.yml"]
    odd = scaffold.planned_files("mlops-engine", "release#1")
    assert 'default_branch: "release#1"\n' in odd["mlops/project.yaml"]
    changed = {p for p in main if main[p] != trunk[p]}
    assert changed == {"mlops/project.yaml", ".github/workflows/mlops-main.yml"}


def test_a_category_of_the_data_is_shown_with_nothing_live():
    """Found: a ``/diff`` reply (the comment job publishes it as is) showed a data
    category ``[x](https://evil.example) #1`` as a live outside link and a reference that
    notifies issue #1; ``![i](https://t/p.png)`` would have been a tracking image."""
    from engine.review.markdown import cell

    shown = cell("@octo/admins <img> [x](https://evil.example) #1 ![i](http://t/p.png) www.x.io")
    for live in ("@octo", "<img", "](", "#1", "://", "www."):
        assert live not in shown
    assert shown.replace("\u200b", "") == (
        "@octo/admins &lt;img&gt; [x](https://evil.example) #1 ![i](http://t/p.png) www.x.io"
    )
    assert cell("a|b") == "a\\|b" and cell("f1 #best") == "f1 #best"


def test_a_summary_cut_at_the_limit_stays_utf8(tmp_path):
    """Found: the 1 MiB cut of the job summary fell inside a multi-byte character."""
    from engine.github.actions import SUMMARY_LIMIT, Runtime

    path = tmp_path / "summary.md"
    Runtime({"GITHUB_STEP_SUMMARY": str(path)}).summary("a" + "é" * SUMMARY_LIMIT)
    data = path.read_bytes()
    assert len(data) <= SUMMARY_LIMIT
    assert data.decode("utf-8").endswith("_The summary was cut at 1 MiB._\n\n")
