"""The GitHub forge against the stand-in over real HTTP, github3.py unchanged.

Faults (5xx, rate limits, slow answers) are injected in the stand-in; the forge gets a fake
clock and a recording sleep, so a ``Retry-After: 2`` is checked without waiting two seconds.
Real socket timeouts are kept short (0.3 s) so the whole file stays fast.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import pytest

from engine.errors import UserError
from engine.forge import (
    GITHUB_ACTIONS_BOT,
    Forge,
    ForgeAuthError,
    ForgeError,
    ForgeUnavailable,
    Review,
    marker_tag,
)
from engine.forge.github import GitHubForge, RetryPolicy
from engine.forge.standin.server import DEFAULT_TOKEN, GitHubStandIn

SHA = "c0ffee" + "0" * 34
COMMENTS = r"/repos/octo/repo/issues/7/comments$"


class FakeTime:
    """A clock that moves only when slept on; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def gh() -> Iterator[GitHubStandIn]:
    with GitHubStandIn("octo/repo") as standin:
        standin.add_pull(7, head_sha=SHA, author="alice")
        yield standin


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def make(gh: GitHubStandIn, fake: FakeTime, token: str = DEFAULT_TOKEN, **kw) -> GitHubForge:
    policy = kw.pop("policy", RetryPolicy(total=30.0, timeout=0.3, base_delay=0.5))
    return GitHubForge(
        "octo/repo",
        token,
        gh.url,
        policy=policy,
        sleep=fake.sleep,
        clock=fake.clock,
        rng=random.Random(1),
        **kw,
    )


@pytest.fixture
def forge(gh: GitHubStandIn, fake: FakeTime) -> GitHubForge:
    return make(gh, fake)


def bodies(gh: GitHubStandIn, pr: int = 7) -> list[tuple[str, str]]:
    return [(c.user, c.body) for c in gh.comments(pr)]


# -- the sticky comment -----------------------------------------------------------------


def test_sticky_comment_is_created_once_then_edited(gh: GitHubStandIn, forge: GitHubForge) -> None:
    first = forge.upsert_comment(7, "accuracy 0.91", "report")
    again = forge.upsert_comment(7, "accuracy 0.91", "report")
    edited = forge.upsert_comment(7, "accuracy 0.93", "report")
    assert (first.action, again.action, edited.action) == ("created", "unchanged", "updated")
    assert first.id == again.id == edited.id
    assert bodies(gh) == [(GITHUB_ACTIONS_BOT, "<!-- mlops:report -->\naccuracy 0.93")]
    assert gh.calls("PATCH") == 1  # the unchanged one cost no write
    assert first.url.endswith(f"/octo/repo/pull/7#issuecomment-{first.id}")


def test_a_pull_request_without_comments_gets_its_first_in_one_request(
    gh: GitHubStandIn, forge: GitHubForge
) -> None:
    count = forge.pull_request(7).comments
    assert count == 0
    made = forge.upsert_comment(7, "accuracy 0.91", "report", comment_count=count)
    assert made.action == "created" and gh.calls("GET", COMMENTS) == 0
    assert gh.calls("POST", COMMENTS) == 1
    # Had a racing run posted in between, the stale count leaves a duplicate behind, and the
    # next run (which reads, since the count is no longer 0) deletes it.
    forge.upsert_comment(7, "accuracy 0.91", "report", comment_count=0)
    assert forge.pull_request(7).comments == 2
    again = forge.upsert_comment(7, "accuracy 0.92", "report", comment_count=2)
    assert again.action == "updated" and again.id == made.id
    assert bodies(gh) == [(GITHUB_ACTIONS_BOT, "<!-- mlops:report -->\naccuracy 0.92")]


def test_markers_keep_different_sticky_comments_apart(
    gh: GitHubStandIn, forge: GitHubForge
) -> None:
    forge.upsert_comment(7, "report", "report")
    forge.upsert_comment(7, "plan", "plan")
    forge.upsert_comment(7, "report 2", "report")
    assert [body for _, body in bodies(gh)] == [
        "<!-- mlops:report -->\nreport 2",
        "<!-- mlops:plan -->\nplan",
    ]


def test_another_users_comment_with_our_marker_is_never_edited(
    gh: GitHubStandIn, forge: GitHubForge
) -> None:
    forged = f"{marker_tag('report')}\nall gates passed, merge away"
    gh.add_comment(7, forged, author="mallory")
    forge.upsert_comment(7, "gates failed", "report")
    assert bodies(gh) == [
        ("mallory", forged),
        (GITHUB_ACTIONS_BOT, "<!-- mlops:report -->\ngates failed"),
    ]


def test_the_sticky_comment_is_found_past_the_first_page(
    gh: GitHubStandIn, forge: GitHubForge
) -> None:
    for n in range(130):
        gh.add_comment(7, f"chatter {n}", author="bob")
    ours = forge.upsert_comment(7, "v1", "report")
    for n in range(20):
        gh.add_comment(7, f"more {n}", author="bob")
    assert forge.upsert_comment(7, "v2", "report").id == ours.id
    assert len(gh.comments(7)) == 151
    assert gh.comments(7)[130].body.endswith("v2")
    pages = [
        r.query.get("page", "1") for r in gh.requests if r.method == "GET" and "/comments" in r.path
    ]
    assert pages == ["1", "2", "1", "2"]  # two pages per look-up, 100 a page


def test_a_configured_bot_login_skips_the_identity_call(gh: GitHubStandIn, fake: FakeTime) -> None:
    gh.add_token("ghs_app", "mlops-app[bot]", app=True)
    forge = make(gh, fake, "ghs_app", bot_login="mlops-app[bot]")
    forge.upsert_comment(7, "hello", "report")
    assert gh.calls("GET", "/user$") == 0
    assert forge.api_calls == 2  # list, create


def test_statuses_are_the_engines_whatever_the_case_of_the_configured_login(
    gh: GitHubStandIn, fake: FakeTime
) -> None:
    """GitHub logins ignore case, and the sticky comment is found so: MLOPS_BOT_LOGIN written
    `GitHub-Actions[bot]` found the comment but not the engine's own statuses, so every
    command was refused as "not reviewed by mlops before your comment"."""
    gh.add_status(SHA, "mlops/gates")  # set by github-actions[bot]
    forge = make(gh, fake, bot_login="GitHub-Actions[bot]")
    assert forge.first_status_at(SHA, "mlops/gates") is not None
    assert forge.own_statuses(SHA) == {"mlops/gates": ("success", "")}


def test_identity_comes_from_the_token_never_from_comments(
    gh: GitHubStandIn, fake: FakeTime
) -> None:
    assert make(gh, fake).identity() == GITHUB_ACTIONS_BOT  # GET /user answered 403
    gh.add_token("ghp_ada", "ada")
    assert make(gh, fake, "ghp_ada").identity() == "ada"


def test_an_installation_token_is_the_actions_bot_without_asking(
    gh: GitHubStandIn, fake: FakeTime
) -> None:
    # GitHub refuses GET /user to every installation token (ghs_): the answer is known
    gh.add_token("ghs_actions", GITHUB_ACTIONS_BOT, app=True)
    forge = make(gh, fake, "ghs_actions")
    assert forge.identity() == GITHUB_ACTIONS_BOT
    forge.upsert_comment(7, "hello", "report")
    assert gh.calls("GET", "^/user$") == 0
    assert forge.api_calls == 2  # list, create
    # a person's token still asks: its login is not known in advance
    gh.add_token("ghp_ada", "ada")
    assert make(gh, fake, "ghp_ada").identity() == "ada"
    assert gh.calls("GET", "^/user$") == 1


# -- resilience -------------------------------------------------------------------------


def test_a_502_on_create_is_retried_after_re_reading(
    gh: GitHubStandIn, forge: GitHubForge, fake: FakeTime
) -> None:
    gh.fail("POST", COMMENTS, status=502)
    forge.upsert_comment(7, "report", "report")
    assert len(gh.comments(7)) == 1
    calls = [(r.method, r.status) for r in gh.requests if "/comments" in r.path]
    assert calls == [("GET", 200), ("POST", 502), ("GET", 200), ("POST", 201)]
    assert len(fake.slept) == 1


def test_a_502_after_github_created_the_comment_does_not_duplicate_it(
    gh: GitHubStandIn, forge: GitHubForge
) -> None:
    gh.fail("POST", COMMENTS, status=502, commit=True)
    ref = forge.upsert_comment(7, "report", "report")
    assert [c.id for c in gh.comments(7)] == [ref.id]
    assert gh.calls("POST") == 1  # the re-read found it: no second create


def test_a_reply_is_never_duplicated_either(gh: GitHubStandIn, forge: GitHubForge) -> None:
    gh.fail("POST", COMMENTS, status=504, commit=True)
    forge.reply(7, "Promoted cancer-rf to staging")
    assert len(gh.comments(7)) == 1
    assert gh.comments(7)[0].body.endswith("Promoted cancer-rf to staging")


def test_a_create_that_times_out_is_re_read_and_a_late_duplicate_is_cleaned_up(
    gh: GitHubStandIn, forge: GitHubForge
) -> None:
    # The first POST is still in flight when the client gives up (0.3 s) and re-reads; it
    # lands later, as a slow GitHub would. The next upsert converges to one comment.
    gh.fail("POST", COMMENTS, status=None, delay=0.5)
    forge.upsert_comment(7, "v1", "report")
    deadline = time.monotonic() + 3
    while gh.calls("POST") < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(gh.comments(7)) == 2  # the late create landed
    forge.upsert_comment(7, "v2", "report")
    assert [body for _, body in bodies(gh)] == ["<!-- mlops:report -->\nv2"]


def test_duplicates_left_by_a_race_are_removed_keeping_the_oldest(
    gh: GitHubStandIn, forge: GitHubForge
) -> None:
    first = gh.add_comment(7, f"{marker_tag('report')}\nrun 1", author=GITHUB_ACTIONS_BOT)
    gh.add_comment(7, f"{marker_tag('report')}\nrun 2", author=GITHUB_ACTIONS_BOT)
    gh.add_comment(7, f"{marker_tag('plan')}\nplan", author=GITHUB_ACTIONS_BOT)
    assert forge.upsert_comment(7, "run 3", "report").id == first
    assert [body for _, body in bodies(gh)] == [
        "<!-- mlops:report -->\nrun 3",
        "<!-- mlops:plan -->\nplan",
    ]


def test_a_duplicate_another_run_deleted_first_is_no_error(
    gh: GitHubStandIn, forge: GitHubForge
) -> None:
    first = gh.add_comment(7, f"{marker_tag('report')}\nrun 1", author=GITHUB_ACTIONS_BOT)
    gh.add_comment(7, f"{marker_tag('report')}\nrun 2", author=GITHUB_ACTIONS_BOT)
    gh.fail("DELETE", r"/issues/comments/\d+$", status=404, body={"message": "Not Found"})
    written = forge.upsert_comment(7, "run 3", "report")
    assert (written.id, written.action) == (first, "updated")
    assert gh.calls("DELETE") == 1 and gh.calls("PATCH") == 1


def test_a_read_that_times_out_is_retried(gh: GitHubStandIn, forge: GitHubForge) -> None:
    gh.fail("GET", r"/pulls/7$", status=None, delay=0.6)
    assert forge.pull_request(7).head_sha == SHA
    assert forge.api_calls == 2 and len(forge.waits) == 1


def test_retry_after_is_honoured(gh: GitHubStandIn, forge: GitHubForge, fake: FakeTime) -> None:
    gh.fail("POST", COMMENTS, status=403, headers={"Retry-After": "2"})
    forge.upsert_comment(7, "report", "report")
    assert fake.slept == [2.0]
    assert len(gh.comments(7)) == 1


def test_429_waits_for_the_rate_limit_reset(
    gh: GitHubStandIn, forge: GitHubForge, fake: FakeTime
) -> None:
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(fake.now) + 7)}
    gh.fail("POST", r"/statuses/", status=429, headers=reset)
    forge.set_status(SHA, "mlops/gates", "success", "all gates passed")
    assert fake.slept == [8.0]
    assert gh.statuses(SHA)["mlops/gates"].state == "success"


def test_statuses_are_retried_on_5xx(gh: GitHubStandIn, forge: GitHubForge) -> None:
    gh.fail("POST", r"/statuses/", status=502, times=2)
    forge.set_status(SHA, "mlops/validate", "failure", "2 errors")
    assert gh.statuses(SHA)["mlops/validate"].description == "2 errors"


def test_the_time_budget_stops_retrying_with_a_clear_error(
    gh: GitHubStandIn, fake: FakeTime
) -> None:
    forge = make(gh, fake, policy=RetryPolicy(total=5.0, timeout=0.3, base_delay=1.0))
    gh.fail("POST", r"/statuses/", status=502, times=100)
    with pytest.raises(ForgeUnavailable) as caught:
        forge.set_status(SHA, "mlops/gates", "success", "ok")
    message = str(caught.value)
    assert "POST /repos/octo/repo/statuses/" in message and "answered 502" in message
    assert "budget is 5s" in message and "Re-run the job later" in message
    assert isinstance(caught.value, UserError)
    assert sum(fake.slept) <= 5.0 and len(fake.slept) >= 2


# -- statuses, reactions, permissions, dispatch --------------------------------------------


def test_statuses_land_on_the_given_sha(gh: GitHubStandIn, forge: GitHubForge) -> None:
    forge.set_status(SHA, "mlops/validate", "success", "definitions valid", "https://ci/run/1")
    forge.set_status(SHA, "mlops/gates", "failure", "accuracy dropped " + "x" * 200)
    statuses = gh.statuses(SHA)
    assert statuses["mlops/validate"].target_url == "https://ci/run/1"
    assert len(statuses["mlops/gates"].description or "") == 140
    assert gh.statuses("f" * 40) == {}
    with pytest.raises(ValueError):
        forge.set_status(SHA, "mlops/gates", "passed", "x")  # type: ignore[arg-type]


def test_reactions(gh: GitHubStandIn, forge: GitHubForge) -> None:
    comment = gh.add_comment(7, "/promote cancer-rf staging", author="alice")
    forge.react(comment, "eyes")
    forge.react(comment, "rocket")
    forge.react(comment, "eyes")
    assert gh.reactions(comment) == ["eyes", "rocket"]


def test_permission_levels(gh: GitHubStandIn, forge: GitHubForge) -> None:
    for login, role in [
        ("ad", "admin"),
        ("ma", "maintain"),
        ("wr", "write"),
        ("tr", "triage"),
        ("re", "read"),
    ]:
        gh.set_permission(login, role)
        assert forge.permission(login) == role
    assert forge.permission("stranger") == "none"
    assert forge.permission("octo") == "admin"  # the owner
    assert forge.permission("../../../user") == "none"  # a login can't reach another endpoint
    assert gh.calls("GET", "^/user$") == 0


def test_dispatch_is_recorded(gh: GitHubStandIn, forge: GitHubForge) -> None:
    gh.set_ref("heads/env/staging", SHA)
    forge.dispatch_workflow("deploy.yml", "env/staging", {"environment": "staging"})
    assert [(d.workflow, d.ref, d.inputs) for d in gh.dispatches] == [
        ("deploy.yml", "env/staging", {"environment": "staging"})
    ]
    with pytest.raises(ForgeError, match="No ref found for: env/nowhere"):
        forge.dispatch_workflow("deploy.yml", "env/nowhere", {})


# -- tokens -----------------------------------------------------------------------------------


def test_a_wrong_token_is_a_clear_error_naming_the_permission(
    gh: GitHubStandIn, fake: FakeTime
) -> None:
    forge = make(gh, fake, "ghs_expired")
    with pytest.raises(ForgeAuthError) as caught:
        forge.upsert_comment(7, "x", "report")
    assert "GITHUB_TOKEN was refused (401 Bad credentials)" in str(caught.value)
    assert "`permissions: pull-requests: write`" in str(caught.value)
    assert gh.calls() == 1  # not retried


def test_a_missing_token_is_refused_before_any_call(gh: GitHubStandIn, fake: FakeTime) -> None:
    with pytest.raises(ForgeAuthError, match="GITHUB_TOKEN is empty"):
        make(gh, fake, "")
    assert gh.calls() == 0


def test_a_token_without_the_permission_says_which_one(gh: GitHubStandIn, fake: FakeTime) -> None:
    gh.add_token("ghs_ro", GITHUB_ACTIONS_BOT, app=True, read_only=True)
    forge = make(gh, fake, "ghs_ro")
    with pytest.raises(
        ForgeAuthError, match=r"may not set the mlops/gates status .*statuses: write"
    ):
        forge.set_status(SHA, "mlops/gates", "success", "ok")
    with pytest.raises(ForgeAuthError, match="actions: write"):
        forge.dispatch_workflow("deploy.yml", "main", {})
    assert fake.slept == []  # a permission 403 is not a rate limit


def test_an_unknown_repository_says_what_to_check(gh: GitHubStandIn, fake: FakeTime) -> None:
    forge = GitHubForge("octo/nope", DEFAULT_TOKEN, gh.url, sleep=fake.sleep, clock=fake.clock)
    with pytest.raises(ForgeError, match="check GITHUB_REPOSITORY"):
        forge.pull_request(7)


# -- pull requests, reviews, deployments, issues, teams ---------------------------------


def test_pull_requests_from_the_repo_a_fork_and_a_deleted_fork(
    gh: GitHubStandIn, forge: GitHubForge
) -> None:
    gh.add_pull(8, head_sha="b" * 40, author="bob", head_repo="bob/repo", head_ref="patch-1")
    gh.add_pull(9, head_sha="d" * 40, author="eve", head_repo=None)
    own, fork, gone = forge.pull_request(7), forge.pull_request(8), forge.pull_request(9)
    assert (own.head_repo, own.is_fork, own.author, own.base_ref) == (
        "octo/repo",
        False,
        "alice",
        "main",
    )
    assert (fork.head_repo, fork.head_ref, fork.is_fork) == ("bob/repo", "patch-1", True)
    assert gone.head_repo is None and gone.is_fork
    assert not own.merged and own.state == "open"


def test_pulls_for_sha_finds_forks_too(gh: GitHubStandIn, forge: GitHubForge) -> None:
    gh.add_pull(8, head_sha="b" * 40, head_repo="bob/repo")
    assert forge.pulls_for_sha(SHA) == [7]
    assert gh.calls("GET", "^/repos/octo/repo/pulls$") == 0  # the commit index sufficed
    assert forge.pulls_for_sha("b" * 40) == [8]  # not in the commit index: listed
    assert forge.pulls_for_sha("e" * 40) == []


def test_reviews(gh: GitHubStandIn, forge: GitHubForge) -> None:
    gh.add_review(7, "bob", "CHANGES_REQUESTED", "1" * 40)
    gh.add_review(7, "carol")
    reviews = forge.reviews(7)
    assert [(r.user, r.state, r.commit_id) for r in reviews] == [
        ("bob", "CHANGES_REQUESTED", "1" * 40),
        ("carol", "APPROVED", SHA),
    ]
    assert all(isinstance(r, Review) and r.submitted_at for r in reviews)


def test_force_pushes_come_from_the_timeline_across_pages(
    gh: GitHubStandIn, forge: GitHubForge
) -> None:
    gh.push(7, "1" * 40, pusher="alice")  # a plain push: a `committed` event, not returned
    for n in range(101):  # past one page of 100
        gh.add_comment(7, f"comment {n}", author="bob")
    gh.push(7, SHA, force=True, pusher="alice")
    (push,) = forge.force_pushes(7)
    assert push.sha == SHA and push.actor == "alice"
    assert push.at is not None and push.at.endswith("Z")
    assert gh.calls("GET", r"/issues/7/timeline$") == 2
    assert forge.pull_request(7).head_sha == SHA


def test_an_unreadable_timeline_is_a_forge_error(gh: GitHubStandIn, forge: GitHubForge) -> None:
    gh.fail("GET", r"/timeline$", status=404)
    with pytest.raises(ForgeError, match="timeline of #7"):
        forge.force_pushes(7)


def test_a_deployment_is_created_once_even_after_a_502(
    gh: GitHubStandIn, forge: GitHubForge
) -> None:
    gh.fail("POST", r"/deployments$", status=502, commit=True)
    made = forge.create_deployment("main", "staging", "cancer-rf v3", {"model": "cancer-rf"})
    forge.set_deployment_status(made.id, "success", "live", environment_url="https://stg")
    assert list(gh.state.deployments) == [made.id]
    deployment = gh.state.deployments[made.id]
    assert deployment.payload["model"] == "cancer-rf" and deployment.environment == "staging"
    assert [s.state for s in gh.state.deployment_statuses] == ["success"]


def test_one_issue_per_marker(gh: GitHubStandIn, forge: GitHubForge) -> None:
    gh.add_issue(
        "Drift", f"{marker_tag('drift/cancer-rf')}\nforged", author="mallory", labels=("drift",)
    )
    made = forge.open_or_update_issue("Drift on cancer-rf", "psi 0.3", "drift/cancer-rf", ["drift"])
    same = forge.open_or_update_issue("Drift on cancer-rf", "psi 0.3", "drift/cancer-rf", ["drift"])
    worse = forge.open_or_update_issue(
        "Drift on cancer-rf", "psi 0.5", "drift/cancer-rf", ["drift"]
    )
    assert (made.action, same.action, worse.action) == ("created", "unchanged", "updated")
    assert made.number == worse.number
    ours = [i for i in gh.issues() if i.user == GITHUB_ACTIONS_BOT]
    assert len(ours) == 1 and ours[0].body.endswith("psi 0.5") and ours[0].labels == ["drift"]

    closed = forge.close_issue("drift/cancer-rf", "cleared", ["drift"])
    assert closed is not None and (closed.number, closed.action) == (made.number, "closed")
    assert ours[0].state == "closed" and [c.body for c in gh.comments(made.number)] == ["cleared"]
    assert forge.close_issue("drift/cancer-rf", "cleared", ["drift"]) is None
    assert [i.state for i in gh.issues() if i.user == "mallory"] == ["open"]  # not ours


def test_team_members(gh: GitHubStandIn, forge: GitHubForge) -> None:
    gh.add_team("octo", "ml-leads", ["ada", "grace"])
    assert forge.team_members("octo", "ml-leads") == ["ada", "grace"]
    with pytest.raises(ForgeError, match="read:org"):
        forge.team_members("octo", "nobody")


def test_github_enterprise_urls_work(gh: GitHubStandIn, fake: FakeTime) -> None:
    forge = GitHubForge.from_env(
        {
            "GITHUB_REPOSITORY": "octo/repo",
            "GITHUB_TOKEN": DEFAULT_TOKEN,
            "GITHUB_API_URL": gh.url + "/api/v3",
        }
    )
    assert forge.pull_request(7).number == 7
    assert gh.calls("GET", r"^/repos/octo/repo/pulls/7$") == 1  # served under /api/v3


def test_defaults_to_github_com_and_is_a_forge() -> None:
    forge = GitHubForge("octo/repo", "t")
    assert forge.api_url == "https://api.github.com"
    assert isinstance(forge, Forge)


def test_a_pull_request_is_opened_once_and_found_by_its_marker(
    gh: GitHubStandIn, forge: GitHubForge
) -> None:
    gh.set_ref("heads/mlops/retrain/x", "b" * 40)
    assert forge.find_pull_request("retrain:m:staging") is None
    # GitHub did the work, the proxy answered 502: the retry finds it by head, no duplicate.
    gh.fail("POST", r"/pulls$", status=502, commit=True)
    made = forge.open_pull_request(
        "Retrain m", "why", "mlops/retrain/x", "main", "retrain:m:staging"
    )
    assert made.action == "unchanged" and gh.calls("POST", r"/pulls$") == 1
    (pull,) = [p for n, p in gh.state.pulls.items() if n != 7]
    assert pull.head_ref == "mlops/retrain/x" and pull.head_sha == "b" * 40
    assert gh.state.issues[pull.number].body.startswith("<!-- mlops:retrain:m:staging -->")
    found = forge.find_pull_request("retrain:m:staging")
    assert found is not None and found.number == made.number == pull.number
    # Asked again for the same head: GitHub's 422 "already exists" means the open one.
    again = forge.open_pull_request(
        "Retrain m", "why", "mlops/retrain/x", "main", "retrain:m:staging"
    )
    assert again.number == pull.number and len(gh.state.pulls) == 2
    # A look-alike by someone else is not ours; a closed one is not open.
    gh.add_pull(head_sha="c" * 40, head_ref="other", body="<!-- mlops:retrain:m:prod -->")
    assert forge.find_pull_request("retrain:m:prod") is None
    assert forge.declined_pull_request("mlops/retrain/x") is None  # open, not declined
    gh.state.issues[pull.number].state = "closed"
    assert forge.find_pull_request("retrain:m:staging") is None
    declined = forge.declined_pull_request("mlops/retrain/x")
    assert declined is not None and declined.number == pull.number
    gh.state.issues[gh.state.list_pulls("open")[0].number].state = "closed"
    assert forge.declined_pull_request("other") is None  # closed, but not the bot's
    with pytest.raises(ForgeError, match="head invalid"):
        forge.open_pull_request("Retrain m", "why", "no/such/branch", "main", "retrain:m:qa")
