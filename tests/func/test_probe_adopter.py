"""The third outside review: a newcomer adopting the engine on their own repository, and
an attacker against the privileged jobs. Each test reproduces one finding end to end
(real git repositories with a bare origin, the GitHub stand-in over HTTP)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.forge.standin.server import GitHubStandIn
from tests.conftest import git

WEBHOOKS = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "webhooks"
REPO = "octo/models"
PR = 4

pytestmark = pytest.mark.slow


def _comment(tmp: Path, gh: GitHubStandIn, body: str, login: str) -> tuple[Path, int]:
    comment_id = gh.add_comment(PR, body, author=login)
    data = json.loads((WEBHOOKS / "issue_comment.created.json").read_text())
    data["repository"].update({"full_name": REPO, "default_branch": "main", "private": False})
    data["issue"]["number"] = PR
    data["issue"]["pull_request"] = {"url": f"https://api.github.com/repos/{REPO}/pulls/{PR}"}
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    data["comment"].update({"id": comment_id, "body": body, "created_at": now})
    data["comment"]["user"].update({"login": login, "type": "User"})
    data["sender"].update({"login": login, "type": "User"})
    path = tmp / "comment.json"
    path.write_text(json.dumps(data))
    return path, comment_id


def _run_comment(mlops, repo: Path, tmp: Path, gh: GitHubStandIn, body: str, login: str = "ada"):
    event, comment_id = _comment(tmp, gh, body, login)
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "issue_comment",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": gh.url,
        "GITHUB_TOKEN": "ghs_standin",
    }
    return mlops("event", cwd=repo, env=env), comment_id


def _bot_replies(gh: GitHubStandIn) -> list[str]:
    return [c.body for c in gh.comments(PR) if c.user == "github-actions[bot]"]


@pytest.mark.parametrize(
    ("command", "block"),
    [("/status", "| Environment |"), ("/help", "### Commands")],
)
def test_a_reply_that_is_a_table_or_a_heading_starts_on_its_own_line(
    repo, mlops, tmp_path, command, block
):
    """Found: ``@ada | Environment | ...`` is a header row with one cell more than its
    delimiter row, so GitHub drew no table; ``@ada ### Commands`` showed its hashes."""
    head = git(repo, "rev-parse", "HEAD")
    with GitHubStandIn(REPO, git_dir=repo.parent / f"{repo.name}-origin.git") as gh:
        gh.add_pull(PR, head_sha=head, author="grace")
        gh.set_permission("ada", "write")
        result, _ = _run_comment(mlops, repo, tmp_path, gh, command)
        assert result.returncode == 0, result.stderr
        (reply,) = _bot_replies(gh)
    lines = reply.splitlines()
    assert "@ada" in lines  # the mention alone on its line ...
    assert any(line.startswith(block) for line in lines)  # ... the block at a line start
    assert not any(line.startswith("@ada ") for line in lines)
