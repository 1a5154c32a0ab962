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
