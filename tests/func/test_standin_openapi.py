"""The GitHub stand-in answers as GitHub's published OpenAPI description says it does.

``tests/fixtures/github-openapi/operations.json`` holds, for every REST operation the engine
calls, the status codes GitHub documents and the schema of each answer (extracted from
``@octokit/openapi`` by ``extract.py`` next to it; ``SOURCES.md`` names the version). Each
exchange below drives the stand-in over real HTTP and checks the answer's status code is
the one GitHub documents for that case, and its body validates (or is empty, for 204).
Lists are seeded so no answer is an empty list or object: a schema check an empty answer
would pass proves nothing, and the last tests show the check rejects broken answers.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator

from engine.forge.standin.server import DEFAULT_TOKEN, GitHubStandIn

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "github-openapi" / "operations.json"
SPEC: dict[str, Any] = json.loads(FIXTURE.read_text())
# Where GitHub's description is known to be wrong, GitHub wins, one line per inaccuracy:
# a pull request from a deleted fork has `head.repo: null` in lists too, as `pulls/get`
# documents it already (github.com/github/rest-api-description/issues/1811, open).
_HEAD = SPEC["$defs"]["pull-request-simple"]["properties"]["head"]["properties"]
_HEAD["repo"] = {"anyOf": [_HEAD["repo"], {"type": "null"}]}
OPERATIONS: dict[str, dict[str, Any]] = {op["operationId"]: op for op in SPEC["operations"]}
REPO = "octo/repo"
R = f"/repos/{REPO}"
SHA = "a" * 40
BOT = {"Authorization": f"token {DEFAULT_TOKEN}"}
PERSON = {"Authorization": "token ghp_octocat"}


@dataclass(frozen=True)
class Exchange:
    """One request, the operation it is and the status code GitHub answers it with."""

    operation: str
    method: str
    path: str
    expected: int
    body: Any = None
    headers: dict[str, str] | None = None


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({**schema, "$defs": SPEC["$defs"]})


def problems(operation: str, status: int, content: bytes, content_type: str) -> list[str]:
    """Why an answer breaks GitHub's description of ``operation`` (empty: it doesn't)."""
    documented = OPERATIONS[operation]["responses"].get(str(status))
    if documented is None:
        codes = sorted(OPERATIONS[operation]["responses"])
        return [f"{status} is not documented for {operation} (documented: {codes})"]
    schema = documented["schema"]
    if schema is None:
        return [] if content == b"" else [f"{status} has no body, got {content[:80]!r}"]
    if not content_type.startswith("application/json"):
        return [f"Content-Type {content_type!r} is not JSON"]
    data = json.loads(content)
    if data in ({}, [], None):
        return ["an empty answer satisfies any lenient schema: seed the stand-in"]
    if status >= 400 and not (isinstance(data, dict) and data.get("message")):
        return ["GitHub's errors always carry a message"]
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in sorted(validator(schema).iter_errors(data), key=lambda e: list(e.path))
    ][:10]


def exchanges(gh: GitHubStandIn) -> Iterator[tuple[Exchange, requests.Response]]:
    """Every operation, in an order where each finds what it needs, with its refusals."""
    gh.add_token("ghp_octocat", "octocat")
    gh.set_permission("alice", "write")
    gh.add_pull(7, head_sha=SHA, author="alice")
    gh.add_pull(20, head_sha="c" * 40, author="bob", head_repo="bob/repo")  # from a fork
    gh.add_pull(21, head_sha="d" * 40, author="eve", head_repo=None)  # its fork deleted
    gh.add_review(7, "octocat", "APPROVED")
    gh.push(7, "b" * 40, force=True, pusher="alice")
    gh.push(7, SHA, force=True, pusher="alice")
    gh.add_status(SHA, "mlops/gates")
    gh.add_team("octo", "ml", ["alice"])
    drift = gh.add_issue("Drift in iris", "body", labels=("mlops:drift",))
    first = gh.add_comment(7, "first")
    gh.add_comment(7, "second")

    plan = [
        Exchange("users/get-authenticated", "GET", "/user", 200, headers=PERSON),
        Exchange("users/get-authenticated", "GET", "/user", 403),
        Exchange("users/get-authenticated", "GET", "/user", 401, headers={}),
        Exchange("users/get-by-username", "GET", "/users/alice", 200),
        Exchange("users/get-by-username", "GET", "/users/nobody-at-all", 404),
        Exchange("repos/get", "GET", R, 200),
        Exchange("repos/get", "GET", "/repos/someone/else", 404),
        Exchange("pulls/get", "GET", f"{R}/pulls/7", 200),
        Exchange("pulls/get", "GET", f"{R}/pulls/99", 404),
        Exchange("pulls/list", "GET", f"{R}/pulls?state=open", 200),
        Exchange(
            "repos/list-pull-requests-associated-with-commit",
            "GET",
            f"{R}/commits/{SHA}/pulls",
            200,
        ),
        Exchange("pulls/list-reviews", "GET", f"{R}/pulls/7/reviews", 200),
        Exchange(
            "repos/create-commit-status",
            "POST",
            f"{R}/statuses/{SHA}",
            201,
            {"state": "success", "context": "mlops/validate", "description": "ok"},
        ),
        Exchange("repos/list-commit-statuses-for-ref", "GET", f"{R}/commits/{SHA}/statuses", 200),
        Exchange("issues/list-events-for-timeline", "GET", f"{R}/issues/7/timeline", 200),
        Exchange("issues/list-events-for-timeline", "GET", f"{R}/issues/99/timeline", 404),
        Exchange("issues/list-comments", "GET", f"{R}/issues/7/comments", 200),
        Exchange("issues/list-comments", "GET", f"{R}/issues/99/comments", 404),
        Exchange("issues/create-comment", "POST", f"{R}/issues/7/comments", 201, {"body": "hi"}),
        Exchange("issues/create-comment", "POST", f"{R}/issues/7/comments", 422, {"body": ""}),
        Exchange("issues/create-comment", "POST", f"{R}/issues/99/comments", 404, {"body": "x"}),
        Exchange(
            "issues/update-comment",
            "PATCH",
            f"{R}/issues/comments/{first}",
            200,
            {"body": "edited"},
        ),
        Exchange(
            "issues/update-comment",
            "PATCH",
            f"{R}/issues/comments/{first}",
            422,
            {"body": "x" * 70_000},
        ),
        Exchange(
            "reactions/create-for-issue-comment",
            "POST",
            f"{R}/issues/comments/{first}/reactions",
            201,
            {"content": "eyes"},
        ),
        Exchange(
            "reactions/create-for-issue-comment",
            "POST",
            f"{R}/issues/comments/{first}/reactions",
            200,
            {"content": "eyes"},
        ),
        Exchange(
            "reactions/create-for-issue-comment",
            "POST",
            f"{R}/issues/comments/{first}/reactions",
            422,
            {"content": "tada"},
        ),
        Exchange("issues/delete-comment", "DELETE", f"{R}/issues/comments/{first}", 204),
        Exchange(
            "repos/get-collaborator-permission-level",
            "GET",
            f"{R}/collaborators/alice/permission",
            200,
        ),
        Exchange(
            "repos/get-collaborator-permission-level",
            "GET",
            f"{R}/collaborators/nobody-at-all/permission",
            404,
        ),
        Exchange(
            "actions/create-workflow-dispatch",
            "POST",
            f"{R}/actions/workflows/deploy.yml/dispatches",
            204,
            {"ref": "main", "inputs": {"environment": "staging"}},
        ),
        Exchange(
            "repos/create-deployment",
            "POST",
            f"{R}/deployments",
            201,
            {"ref": "main", "environment": "staging", "payload": {"model": "iris"}},
        ),
        Exchange(
            "repos/create-deployment", "POST", f"{R}/deployments", 422, {"ref": "no-such-branch"}
        ),
        Exchange("repos/list-deployments", "GET", f"{R}/deployments?environment=staging", 200),
        Exchange("issues/list-for-repo", "GET", f"{R}/issues?state=open&labels=mlops:drift", 200),
        Exchange(
            "issues/create",
            "POST",
            f"{R}/issues",
            201,
            {"title": "Drift", "body": "b", "labels": ["mlops:drift"]},
        ),
        Exchange("issues/create", "POST", f"{R}/issues", 201, {"title": "No body"}),
        Exchange("issues/create", "POST", f"{R}/issues", 422, {"body": "no title"}),
        Exchange("issues/list-for-repo", "GET", f"{R}/issues?state=all", 200),  # with PR #7
        Exchange(
            "issues/update",
            "PATCH",
            f"{R}/issues/{drift}",
            200,
            {"state": "closed", "state_reason": "completed"},
        ),
        Exchange("issues/update", "PATCH", f"{R}/issues/99", 404, {"title": "x"}),
        Exchange("teams/list-members-in-org", "GET", "/orgs/octo/teams/ml/members", 200),
    ]
    for exchange in plan:
        yield exchange, send(gh, exchange)
    # the deployment just created gets a status; an unknown state is refused
    listed = send(gh, Exchange("repos/list-deployments", "GET", f"{R}/deployments", 200)).json()
    made = listed[0]["id"]
    for state, expected in (("success", 201), ("exploded", 422)):
        exchange = Exchange(
            "repos/create-deployment-status",
            "POST",
            f"{R}/deployments/{made}/statuses",
            expected,
            {"state": state, "environment_url": "https://models.example"},
        )
        yield exchange, send(gh, exchange)


def send(gh: GitHubStandIn, exchange: Exchange) -> requests.Response:
    return requests.request(
        exchange.method,
        gh.url + exchange.path,
        json=exchange.body,
        headers=BOT if exchange.headers is None else exchange.headers,
        timeout=10,
    )


@pytest.fixture(scope="module")
def answered() -> list[tuple[Exchange, int, bytes, str]]:
    with GitHubStandIn(REPO) as gh:
        return [
            (e, r.status_code, r.content, r.headers.get("Content-Type", ""))
            for e, r in exchanges(gh)
        ]


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_every_answer_is_what_github_documents(answered, operation: str) -> None:
    mine = [a for a in answered if a[0].operation == operation]
    assert any(200 <= e.expected < 300 for e, *_ in mine), f"no successful {operation} exchange"
    for exchange, status, content, content_type in mine:
        where = f"{exchange.method} {exchange.path}"
        assert status == exchange.expected, (where, status, content[:300])
        found = problems(operation, status, content, content_type)
        assert not found, (where, found)


def _answer(answered, operation: str, expected: int) -> tuple[bytes, str]:
    for exchange, status, content, content_type in answered:
        if exchange.operation == operation and status == expected:
            return content, content_type
    raise AssertionError(f"no {expected} answer of {operation}")


def _broken(data: Any, edit) -> bytes:
    copied = copy.deepcopy(data)
    edit(copied)
    return json.dumps(copied).encode()


def test_the_check_rejects_broken_answers(answered) -> None:
    """Each edit is one way the stand-in used to differ from GitHub, or could."""
    pull, kind = _answer(answered, "pulls/get", 200)
    data = json.loads(pull)
    assert problems("pulls/get", 200, pull, kind) == []
    edits = {
        "temp_clone_token null": lambda d: d["head"]["repo"].update(temp_clone_token=None),
        "user without login": lambda d: d["user"].pop("login"),
        "state not a string": lambda d: d.update(state=1),
        "no head": lambda d: d.pop("head"),
    }
    for what, edit in edits.items():
        assert problems("pulls/get", 200, _broken(data, edit), kind), what
    assert problems("pulls/get", 200, b"{}", kind)
    assert problems("pulls/get", 200, b"null", kind)
    assert problems("pulls/get", 201, pull, kind)  # the wrong status code
    assert problems("pulls/get", 200, pull, "text/html")

    comments, kind = _answer(answered, "issues/list-comments", 200)
    assert problems("issues/list-comments", 200, b"[]", kind)  # an empty list proves nothing
    assert problems(
        "issues/list-comments", 200, _broken(json.loads(comments), lambda d: d[0].pop("id")), kind
    )
    made, kind = _answer(answered, "issues/create-comment", 201)
    assert problems("issues/create-comment", 200, made, kind)  # a create answers 201
    for key in ("body_html", "body_text"):
        assert problems(
            "issues/create-comment",
            201,
            _broken(json.loads(made), lambda d: d.update({key: None})),
            kind,
        ), key
    assert problems("issues/delete-comment", 204, b"{}", "application/json")
    user, kind = _answer(answered, "users/get-by-username", 200)
    assert problems(
        "users/get-by-username", 200, _broken(json.loads(user), lambda d: d.pop("followers")), kind
    )
    error, kind = _answer(answered, "issues/create-comment", 422)
    assert problems("issues/create-comment", 422, b'{"errors": []}', kind)
    assert problems(
        "issues/create-comment",
        422,
        _broken(json.loads(error), lambda d: d["errors"][0].pop("code")),
        kind,
    )
