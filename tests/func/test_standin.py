"""The GitHub stand-in over real HTTP: GitHub's shapes, state, auth, pagination and faults.

Shapes are checked against github3.py's recorded GitHub responses (copied under
``tests/fixtures/github/cassettes``), and github3.py itself drives the stand-in unchanged.
"""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import github3
import pytest
import requests

from engine.forge.standin.server import DEFAULT_TOKEN, GitHubStandIn

CASSETTES = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "cassettes"
SHA = "a" * 40
AUTH = {"Authorization": f"token {DEFAULT_TOKEN}"}


@pytest.fixture
def gh() -> Iterator[GitHubStandIn]:
    with GitHubStandIn("octo/repo") as standin:
        yield standin


def get(gh: GitHubStandIn, path: str, headers: dict | None = None, **kw) -> requests.Response:
    """GET ``path`` from the stand-in, as github-actions[bot] unless ``headers`` say otherwise."""
    return requests.get(
        gh.url + path, headers=AUTH if headers is None else headers, timeout=5, **kw
    )


def post(
    gh: GitHubStandIn, path: str, body: dict, headers: dict | None = None
) -> requests.Response:
    """POST JSON to ``path``."""
    return requests.post(
        gh.url + path, json=body, headers=AUTH if headers is None else headers, timeout=5
    )


def recorded(name: str, index: int) -> dict:
    interaction = json.loads((CASSETTES / name).read_text())["http_interactions"][index]
    body = interaction["response"]["body"]
    if body.get("base64_string"):
        raw = base64.b64decode(body["base64_string"])
        return json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    return json.loads(body["string"])


def test_json_carries_every_field_github_sends(gh: GitHubStandIn) -> None:
    gh.add_pull(1, head_sha=SHA, head_repo="bob/repo")
    comment = gh.add_comment(1, "hi")
    post(gh, f"/repos/octo/repo/statuses/{SHA}", {"state": "success"})
    pairs = {
        "comment": ("Issue_create_comment.json", 1, f"/repos/octo/repo/issues/comments/{comment}"),
        "issue": ("Issue_comment.json", 0, "/repos/octo/repo/issues/1"),
        "pull": ("Repository_pull_request.json", 1, "/repos/octo/repo/pulls/1"),
        "repo": ("Repository_pull_request.json", 0, "/repos/octo/repo"),
        "ref": ("Reference_update.json", 1, "/repos/octo/repo/git/ref/heads/main"),
    }
    for what, (cassette, index, path) in pairs.items():
        ours = get(gh, path).json()
        assert set(recorded(cassette, index)) <= set(ours), what
    status = get(gh, f"/repos/octo/repo/statuses/{SHA}").json()[0]
    assert set(recorded("Repository_create_status.json", 1)) <= set(status)
    pull, theirs = (
        get(gh, "/repos/octo/repo/pulls/1").json(),
        recorded("Repository_pull_request.json", 1),
    )
    for side in ("head", "base"):
        assert set(theirs[side]) <= set(pull[side])
        assert set(theirs[side]["repo"]) <= set(pull[side]["repo"])


def test_github3_drives_the_stand_in_unchanged(gh: GitHubStandIn) -> None:
    gh.add_pull(7, head_sha=SHA, author="alice", head_repo="alice/repo")
    gh.add_pull(8, head_sha="b" * 40, head_repo=None)  # the fork was deleted
    client = github3.GitHub(token=DEFAULT_TOKEN)
    client.session.base_url = gh.url
    repo = client.repository("octo", "repo")
    assert repo.default_branch == "main" and repo.owner.login == "octo"
    pr = client.pull_request("octo", "repo", 7)
    assert (pr.head.sha, pr.head.repo, pr.user.login) == (SHA, ("alice", "repo"), "alice")
    assert client.pull_request("octo", "repo", 8).head.repo == ("", "")
    comment = client.issue("octo", "repo", 7).create_comment("first")
    assert comment.user.login == "github-actions[bot]" and comment.user.type == "Bot"
    assert comment.edit("second")
    assert [c.body for c in client.issue("octo", "repo", 7).comments()] == ["second"]
    status = repo.create_status(SHA, "failure", context="mlops/gates", description="no")
    assert status.creator.login == "github-actions[bot]"
    assert repo.ref("heads/main").object.sha == gh.state.refs["heads/main"]
    deployment = repo.create_deployment("main", environment="staging")
    assert deployment.create_status("success").state == "success"
    assert repo.is_collaborator("octo") and not repo.is_collaborator("mallory")


def test_tokens_map_to_identities_and_bad_ones_get_401(gh: GitHubStandIn) -> None:
    gh.add_token("ghp_alice", "alice")
    missing = get(gh, "/repos/octo/repo", headers={})
    assert missing.status_code == 401 and missing.json()["message"] == "Requires authentication"
    wrong = get(gh, "/repos/octo/repo", headers={"Authorization": "token nope"})
    assert wrong.status_code == 401 and wrong.json()["message"] == "Bad credentials"
    assert get(gh, "/user").status_code == 403  # GITHUB_TOKEN may not ask who it is
    me = get(gh, "/user", headers={"Authorization": "Bearer ghp_alice"})
    assert me.json()["login"] == "alice"


def test_read_only_tokens_may_not_write(gh: GitHubStandIn) -> None:
    gh.add_token("ghs_ro", "github-actions[bot]", app=True, read_only=True)
    headers = {"Authorization": "token ghs_ro"}
    answer = post(gh, f"/repos/octo/repo/statuses/{SHA}", {"state": "success"}, headers=headers)
    assert answer.status_code == 403
    assert answer.json()["message"] == "Resource not accessible by integration"
    assert get(gh, "/repos/octo/repo", headers=headers).status_code == 200


def test_lists_are_paginated_with_link_headers(gh: GitHubStandIn) -> None:
    gh.add_pull(1, head_sha=SHA)
    for n in range(250):
        gh.add_comment(1, f"comment {n}")
    first = get(gh, "/repos/octo/repo/issues/1/comments", params={"per_page": 100})
    assert len(first.json()) == 100
    assert first.links["next"]["url"].endswith("per_page=100&page=2")
    assert first.links["last"]["url"].endswith("page=3")
    last = requests.get(first.links["last"]["url"], headers=AUTH, timeout=5)
    assert len(last.json()) == 50 and "next" not in last.links
    assert len(get(gh, "/repos/octo/repo/issues/1/comments").json()) == 30  # GitHub's default
    client = github3.GitHub(token=DEFAULT_TOKEN)
    client.session.base_url = gh.url
    bodies = [c.body for c in client.issue("octo", "repo", 1).comments()]
    assert bodies == [f"comment {n}" for n in range(250)]


def test_a_middle_page_links_every_way(gh: GitHubStandIn) -> None:
    gh.add_pull(1, head_sha=SHA)
    for n in range(5):
        gh.add_comment(1, f"comment {n}")
    middle = get(gh, "/repos/octo/repo/issues/1/comments", params={"per_page": 2, "page": 2})
    assert [c["body"] for c in middle.json()] == ["comment 2", "comment 3"]
    pages = {rel: link["url"].rsplit("page=", 1)[1] for rel, link in middle.links.items()}
    assert pages == {"prev": "1", "next": "3", "first": "1", "last": "3"}
    rels = [part.split('rel="')[1].rstrip('"') for part in middle.headers["Link"].split(", ")]
    assert rels == ["prev", "next", "first", "last"]  # GitHub's order


def test_faults_are_consumed_in_order_and_logged(gh: GitHubStandIn) -> None:
    gh.add_pull(1, head_sha=SHA)
    gh.fail("POST", r"/issues/\d+/comments$", status=502, times=2)
    gh.fail("POST", r"/issues/\d+/comments$", status=403, headers={"Retry-After": "2"})
    statuses = [post(gh, "/repos/octo/repo/issues/1/comments", {"body": "x"}) for _ in range(4)]
    assert [s.status_code for s in statuses] == [502, 502, 403, 201]
    assert statuses[2].headers["Retry-After"] == "2"
    assert "secondary rate limit" in statuses[2].json()["message"]
    assert len(gh.comments(1)) == 1  # a fault without commit=True does nothing
    assert gh.calls("POST", r"/comments$") == 4
    assert [r.status for r in gh.requests] == [502, 502, 403, 201]
    assert gh.requests[-1].body == {"body": "x"} and gh.requests[-1].login == "github-actions[bot]"


def test_a_committed_fault_does_the_work_then_fails(gh: GitHubStandIn) -> None:
    gh.add_pull(1, head_sha=SHA)
    gh.fail("POST", r"/comments$", status=502, commit=True)
    assert post(gh, "/repos/octo/repo/issues/1/comments", {"body": "x"}).status_code == 502
    assert [c.body for c in gh.comments(1)] == ["x"]


def test_a_delay_rule_slows_one_request_down(gh: GitHubStandIn) -> None:
    gh.fail("GET", r"/repos/octo/repo$", status=None, delay=0.3)
    with pytest.raises(requests.ReadTimeout):
        requests.get(gh.url + "/repos/octo/repo", headers=AUTH, timeout=0.1)
    start = time.perf_counter()
    assert get(gh, "/repos/octo/repo").status_code == 200  # the rule was used up
    assert time.perf_counter() - start < 0.2


def test_github_validation_rules(gh: GitHubStandIn) -> None:
    gh.add_pull(1, head_sha=SHA)
    long = post(
        gh, f"/repos/octo/repo/statuses/{SHA}", {"state": "success", "description": "x" * 141}
    )
    assert long.status_code == 422
    assert "maximum is 140" in long.json()["errors"][0]["message"]
    assert post(gh, f"/repos/octo/repo/statuses/{SHA}", {"state": "green"}).status_code == 422
    comment = gh.add_comment(1, "hi")
    url = f"/repos/octo/repo/issues/comments/{comment}/reactions"
    assert post(gh, url, {"content": "eyes"}).status_code == 201
    assert post(gh, url, {"content": "eyes"}).status_code == 200  # not twice
    assert post(gh, url, {"content": "thumbsup"}).status_code == 422
    assert gh.reactions(comment) == ["eyes"]
    dispatch = "/repos/octo/repo/actions/workflows/deploy.yml/dispatches"
    assert post(gh, dispatch, {"ref": "nowhere"}).json()["message"] == "No ref found for: nowhere"
    assert post(gh, dispatch, {"ref": "main", "inputs": {"env": "prod"}}).status_code == 204
    assert gh.dispatches[0].inputs == {"env": "prod"}


def test_statuses_combine_per_context_latest_first(gh: GitHubStandIn) -> None:
    for state, context in [
        ("pending", "mlops/gates"),
        ("success", "mlops/validate"),
        ("failure", "mlops/gates"),
    ]:
        post(gh, f"/repos/octo/repo/statuses/{SHA}", {"state": state, "context": context})
    combined = get(gh, f"/repos/octo/repo/commits/{SHA}/status").json()
    assert combined["state"] == "failure" and combined["total_count"] == 2
    assert {s.context: s.state for s in gh.statuses(SHA).values()} == {
        "mlops/gates": "failure",
        "mlops/validate": "success",
    }


def test_commit_pulls_leave_out_forks_like_github(gh: GitHubStandIn) -> None:
    gh.add_pull(1, head_sha=SHA)
    gh.add_pull(2, head_sha=SHA, head_repo="bob/repo")
    assert [p["number"] for p in get(gh, f"/repos/octo/repo/commits/{SHA}/pulls").json()] == [1]
    assert [p["number"] for p in get(gh, "/repos/octo/repo/pulls").json()] == [2, 1]


def test_permissions_teams_and_other_repositories(gh: GitHubStandIn) -> None:
    gh.set_permission("maria", "maintain")
    answer = get(gh, "/repos/octo/repo/collaborators/maria/permission").json()
    assert (answer["permission"], answer["role_name"]) == ("write", "maintain")
    assert get(gh, "/repos/octo/repo/collaborators/zed/permission").status_code == 404  # no user
    gh.add_issue("A question", author="zed")  # a user now, but no collaborator
    assert get(gh, "/repos/octo/repo/collaborators/zed/permission").json()["permission"] == "none"
    gh.add_team("octo", "ml", ["maria", "li"])
    assert [u["login"] for u in get(gh, "/orgs/octo/teams/ml/members").json()] == ["maria", "li"]
    assert get(gh, "/orgs/octo/teams/nope/members").status_code == 404
    assert get(gh, "/repos/someone/else").status_code == 404
    assert get(gh, "/api/v3/repos/octo/repo").json()["full_name"] == "octo/repo"  # GHES layout


def test_issues_list_by_label_and_edit(gh: GitHubStandIn) -> None:
    made = post(gh, "/repos/octo/repo/issues", {"title": "Drift", "body": "b", "labels": ["drift"]})
    number = made.json()["number"]
    gh.add_issue("Other", labels=("bug",))
    assert [
        i["title"] for i in get(gh, "/repos/octo/repo/issues", params={"labels": "drift"}).json()
    ] == ["Drift"]
    edited = requests.patch(
        f"{gh.url}/repos/octo/repo/issues/{number}",
        json={"state": "closed"},
        headers=AUTH,
        timeout=5,
    )
    assert edited.json()["closed_at"] is not None
    assert get(gh, "/repos/octo/repo/issues", params={"labels": "drift"}).json() == []


def test_the_command_line_serves_until_stopped(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "engine.forge.standin",
            "--port",
            "0",
            "--repo",
            "me/models",
            "--pull",
            f"3={SHA}",
            "--permission",
            "ada=admin",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("GitHub API stand-in for me/models at http://127.0.0.1:")
        url = line.split(" at ")[1].strip()
        assert f"GITHUB_API_URL={url}" in process.stdout.readline()
        pull = requests.get(f"{url}/repos/me/models/pulls/3", headers=AUTH, timeout=5).json()
        assert pull["head"]["sha"] == SHA
    finally:
        process.terminate()
        process.wait(timeout=5)


def test_the_stand_in_runs_as_a_module() -> None:
    """``python -m engine.forge.standin`` (what the README shows) starts the server's CLI."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "engine.forge.standin", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "usage: python -m engine.forge.standin " in out
    assert "--pull NUMBER=HEAD_SHA" in out


def test_the_timeline_records_pushes_and_force_pushes_on_the_server_clock(
    gh: GitHubStandIn,
) -> None:
    """Shapes after GitHub's documented timeline events: ``committed`` carries only the
    commit's own (author-set) dates, ``head_ref_force_pushed`` a server ``created_at``."""
    gh.add_pull(3, head_sha=SHA, author="alice", head_ref="topic")
    gh.push(3, "b" * 40, pusher="alice")
    gh.add_comment(3, "/promote cancer-rf to staging", author="ada")
    gh.push(3, SHA, force=True, pusher="alice")
    events = get(gh, "/repos/octo/repo/issues/3/timeline").json()
    assert [e["event"] for e in events] == [
        "committed",
        "committed",
        "commented",
        "head_ref_force_pushed",
    ]
    committed, forced = events[1], events[3]
    assert committed["sha"] == "b" * 40 and "created_at" not in committed
    assert {"author", "committer", "tree", "message", "parents", "verification"} <= set(committed)
    assert set(forced) == {
        "id",
        "node_id",
        "url",
        "actor",
        "event",
        "commit_id",
        "commit_url",
        "created_at",
        "performed_via_github_app",
    }
    assert forced["commit_id"] == SHA and forced["actor"]["login"] == "alice"
    assert get(gh, "/repos/octo/repo/pulls/3").json()["head"]["sha"] == SHA
    assert get(gh, "/repos/octo/repo/git/ref/heads/topic").json()["object"]["sha"] == SHA
    assert get(gh, "/repos/other/repo/issues/3/timeline").status_code == 404
