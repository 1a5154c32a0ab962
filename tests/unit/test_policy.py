"""Authorization and promotion policy, from plain facts: every rule, both ways, fail closed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine.definitions.formats import Environment, Project
from engine.environments.access import approvers, may_answer
from engine.environments.policy import (
    CommentFacts,
    Decision,
    PromotionFacts,
    authorize,
    check_promotion,
)

STAGING = Environment(branch="env/staging")
PRODUCTION = Environment(
    branch="env/production",
    requires=["staging"],
    approvals=1,
    allow=["maintain", "admin"],
    from_default_branch=True,
)
ENVIRONMENTS = {"staging": STAGING, "production": PRODUCTION}
PROJECT = Project(environments=ENVIRONMENTS)

OK = CommentFacts(
    action="created",
    is_pull_request=True,
    commenter="carol",
    commenter_type="User",
    permission="admin",
    teams=None,
    from_fork=False,
    base_ref="main",
    default_branch="main",
)

HEAD = "def5678" + "0" * 33
OLD = "abc1234" + "1" * 33
V1 = "1a2b3c4d5e6f" + "7" * 52
V0 = "0f0f0f0f0f0f" + "8" * 52

GOOD = PromotionFacts(
    model="cancer-rf",
    version=V1,
    head_sha_at_comment=HEAD,
    current_head_sha=HEAD,
    live={"staging": V1, "production": V0},
    approvals=[("bob", "APPROVED", HEAD)],
    pr_author="alice",
    reviewer_permissions={"bob": "maintain", "dan": "admin", "alice": "admin"},
    version_on_default_branch=True,
    gates_passed=True,
)


def promote(facts: PromotionFacts, env_name: str = "production") -> Decision:
    return check_promotion(facts, env_name, ENVIRONMENTS[env_name], ENVIRONMENTS)


# --- authorization ----------------------------------------------------------------------


def test_an_admin_may_promote_to_production() -> None:
    decision = authorize(OK, PRODUCTION, PROJECT)
    assert decision == Decision(True, [])
    assert decision.message() == "Allowed."


LEVEL_TABLE = [
    # allow list, permission, allowed?
    (["write", "maintain", "admin"], "admin", True),
    (["write", "maintain", "admin"], "maintain", True),
    (["write", "maintain", "admin"], "write", True),
    (["write", "maintain", "admin"], "triage", False),
    (["write", "maintain", "admin"], "read", False),
    (["write", "maintain", "admin"], "none", False),
    (["maintain", "admin"], "admin", True),
    (["maintain", "admin"], "maintain", True),
    (["maintain", "admin"], "write", False),
    (["maintain"], "admin", True),  # a level means that level or higher
    (["maintain"], "write", False),
    (["triage"], "write", True),
    (["triage"], "triage", True),
    (["triage"], "read", False),
    (["read"], "read", True),
    (["read"], "none", False),
    (["admin"], "maintain", False),
    (["admin"], "Admin", True),  # compared without regard to case
    (["write"], "ml-deployer", False),  # a custom role is no level
    ([], "admin", False),
]


@pytest.mark.parametrize(("allow", "permission", "allowed"), LEVEL_TABLE)
def test_permission_levels(allow: list[str], permission: str, allowed: bool) -> None:
    env = Environment(branch="env/x", allow=allow)
    decision = authorize(replace(OK, permission=permission), env, PROJECT)
    assert decision.allowed is allowed
    assert not decision.quiet


def test_without_an_environment_write_or_higher_may_run_commands() -> None:
    assert authorize(replace(OK, permission="write"), None, PROJECT).allowed
    assert not authorize(replace(OK, permission="triage"), None, PROJECT).allowed


def test_the_refusal_says_who_may() -> None:
    env = Environment(branch="env/x", allow=["admin", "maintain", "@alice", "@acme/ml"])
    decision = authorize(replace(OK, permission="read", teams=frozenset()), env, PROJECT)
    assert decision.reasons == [
        "@carol has `read` permission; this needs `maintain` or higher or `@alice` or `@acme/ml`"
    ]
    assert decision.message() == f"Refused: {decision.reasons[0]}."


def test_a_custom_role_is_named_in_the_refusal() -> None:
    decision = authorize(replace(OK, permission="ml-deployer"), STAGING, PROJECT)
    assert "has the role `ml-deployer`, which is none of read, triage" in decision.reasons[0]


def test_an_empty_allow_list_lets_nobody_in() -> None:
    decision = authorize(OK, Environment(branch="env/x", allow=[]), PROJECT)
    assert not decision.allowed and "nobody" in decision.reasons[0]


@pytest.mark.parametrize(
    ("login", "permission", "allowed"),
    [
        ("alice", "read", True),  # named: allowed whatever the level
        ("Alice", "none", True),  # logins are case-insensitive
        ("alicia", "read", False),
        ("bob", "write", False),
        ("bob", "maintain", True),
    ],
)
def test_users_in_the_allow_list(login: str, permission: str, allowed: bool) -> None:
    env = Environment(branch="env/x", allow=["maintain", "@alice"])
    facts = replace(OK, commenter=login, permission=permission)
    assert authorize(facts, env, PROJECT).allowed is allowed


@pytest.mark.parametrize(
    ("teams", "allowed"),
    [
        (frozenset({"acme/ml"}), True),
        (frozenset({"ACME/ML", "acme/web"}), True),
        (frozenset({"acme/web"}), False),
        (frozenset({"other/ml"}), False),
        (frozenset(), False),
    ],
)
def test_teams_in_the_allow_list(teams: frozenset[str], allowed: bool) -> None:
    env = Environment(branch="env/x", allow=["admin", "@acme/ml"])
    facts = replace(OK, permission="read", teams=teams)
    assert authorize(facts, env, PROJECT).allowed is allowed


def test_unreadable_teams_deny_only_when_the_decision_needs_them() -> None:
    env = Environment(branch="env/x", allow=["admin", "@acme/ml"])
    assert authorize(replace(OK, permission="admin", teams=None), env, PROJECT).allowed
    decision = authorize(replace(OK, permission="read", teams=None), env, PROJECT)
    assert not decision.allowed
    assert decision.reasons == [
        "could not read @carol's teams, which the allow list needs (`@acme/ml`)"
    ]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"action": "edited"}, "only new comments run commands; this one was edited"),
        ({"action": "deleted"}, "only new comments run commands; this one was deleted"),
        ({"action": None}, "only new comments run commands; this one was unknown"),
        ({"commenter_type": "Bot"}, "@carol is not a user (Bot); bots cannot run commands"),
        ({"commenter": "github-actions[bot]"}, "bots cannot run commands"),
        ({"commenter": "Renovate[BOT]"}, "bots cannot run commands"),
        ({"commenter_type": "Organization"}, "bots cannot run commands"),
        ({"commenter_type": None}, "could not tell who wrote the comment"),
        ({"commenter": None}, "could not tell who wrote the comment"),
    ],
)
def test_edited_comments_and_bots_are_refused_quietly(change: dict, reason: str) -> None:
    decision = authorize(replace(OK, **change), STAGING, PROJECT)
    assert not decision.allowed
    assert decision.quiet  # answering could repeat an old answer or start a bot loop
    assert reason in decision.reasons[0]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"is_pull_request": False}, "commands run on pull requests only"),
        ({"is_pull_request": None}, "could not tell whether this comment is on a pull request"),
        (
            {"base_ref": "release"},
            "this pull request targets `release`; commands run on pull requests into `main` only",
        ),
        ({"base_ref": None}, "could not read the pull request's base branch"),
        ({"default_branch": None}, "could not read the pull request's base branch"),
        (
            {"default_branch": "master", "base_ref": "master"},
            "`mlops/project.yaml` says the default branch is `main` but the repository's is "
            "`master`",
        ),
        ({"from_fork": None}, "could not tell whether this pull request comes from a fork"),
        (
            {"from_fork": True},
            "this pull request comes from a fork, and this environment does "
            "not accept forks (`allow_forks: true` in `mlops/project.yaml` "
            "would)",
        ),
        ({"permission": None}, "could not read @carol's permission on this repository"),
    ],
)
def test_failing_closed(change: dict, reason: str) -> None:
    decision = authorize(replace(OK, **change), STAGING, PROJECT)
    assert not decision.allowed
    assert not decision.quiet
    assert len(decision.reasons) == 1 and reason in decision.reasons[0]


def test_forks_when_the_environment_allows_them() -> None:
    env = Environment(branch="env/x", allow_forks=True)
    assert authorize(replace(OK, from_fork=True), env, PROJECT).allowed
    # Without an environment (``/retrain``) there is nothing that could allow a fork.
    decision = authorize(replace(OK, from_fork=True), None, PROJECT)
    assert not decision.allowed and "this command does not accept forks" in decision.reasons[0]


def test_the_order_of_the_checks() -> None:
    everything_wrong = CommentFacts(
        action="edited",
        is_pull_request=False,
        commenter="x[bot]",
        commenter_type="Bot",
        permission="read",
        from_fork=True,
        base_ref="dev",
        default_branch="main",
    )
    steps = [
        ({}, "only new comments"),
        ({"action": "created"}, "bots cannot"),
        ({"commenter": "x", "commenter_type": "User"}, "pull requests only"),
        ({"is_pull_request": True}, "targets `dev`"),
        ({"base_ref": "main"}, "from a fork"),
        ({"from_fork": False}, "has `read` permission"),
    ]
    facts = everything_wrong
    for change, reason in steps:
        facts = replace(facts, **change)
        decision = authorize(facts, STAGING, PROJECT)
        assert not decision.allowed and len(decision.reasons) == 1
        assert reason in decision.reasons[0], (change, decision.reasons)
    assert authorize(replace(facts, permission="write"), STAGING, PROJECT).allowed


def test_missing_facts_default_to_a_refusal() -> None:
    assert not authorize(CommentFacts(), STAGING, PROJECT).allowed
    assert not authorize(
        CommentFacts(action="created", commenter="a", commenter_type="User"), None, PROJECT
    ).allowed


# --- promotion policy -------------------------------------------------------------------


def test_a_promotion_that_meets_every_rule_is_allowed() -> None:
    assert promote(GOOD) == Decision(True, [])


def test_a_moved_head_refuses_before_anything_else() -> None:
    moved = replace(GOOD, current_head_sha=OLD, live={"production": V1}, gates_passed=None)
    decision = promote(moved)
    assert decision == Decision(
        False,
        [
            "the PR head moved from def5678 to abc1234 after your comment; comment again to "
            "promote the new head"
        ],
    )
    assert decision.message().startswith("Refused: the PR head moved")


@pytest.mark.parametrize("change", [{"head_sha_at_comment": None}, {"current_head_sha": None}])
def test_an_unknown_head_refuses(change: dict) -> None:
    decision = promote(replace(GOOD, **change))
    assert not decision.allowed and "could not read the pull request's head" in decision.reasons[0]


def test_an_unknown_version_or_environment_state_refuses() -> None:
    assert "which version" in promote(replace(GOOD, version=None)).reasons[0]
    decision = promote(replace(GOOD, live={"staging": V1}))
    assert decision.reasons == ["could not read what `production` runs now"]


def test_promoting_what_is_live_is_a_no_op_whatever_else_fails() -> None:
    facts = replace(GOOD, live={"production": V1}, approvals=[], gates_passed=False)
    decision = promote(facts)
    assert decision.allowed and decision.noop
    assert (
        decision.message() == "`cancer-rf` `1a2b3c4d5e6f` is already live in `production`; "
        "nothing to do."
    )


def test_a_first_promotion_into_an_empty_environment() -> None:
    facts = replace(GOOD, live={"staging": None})
    assert promote(facts, "staging") == Decision(True, [])


@pytest.mark.parametrize(
    ("live", "reason"),
    [
        (
            {"staging": V0, "production": None},
            "needs `1a2b3c4d5e6f` live in `staging` first (it runs `0f0f0f0f0f0f`): "
            "`/promote cancer-rf@1a2b3c4d5e6f to staging`",
        ),
        (
            {"staging": None, "production": None},
            "needs `1a2b3c4d5e6f` live in `staging` first (it runs no version)",
        ),
        ({"production": V0}, "could not read what `staging` runs, which must come first"),
    ],
)
def test_requires(live: dict, reason: str) -> None:
    decision = promote(replace(GOOD, live=live))
    assert not decision.allowed
    assert len(decision.reasons) == 1 and decision.reasons[0].startswith(reason)


def test_requires_an_undefined_environment() -> None:
    env = Environment(branch="env/p", requires=["qa"])
    decision = check_promotion(GOOD, "production", env, ENVIRONMENTS)
    assert decision.reasons == ["requires `qa`, which `mlops/project.yaml` does not define"]


@pytest.mark.parametrize(
    ("on_default", "reason"),
    [
        (False, "needs a version trained on the default branch"),
        (None, "could not tell whether this version comes from the default branch"),
    ],
)
def test_from_default_branch(on_default: bool | None, reason: str) -> None:
    decision = promote(replace(GOOD, version_on_default_branch=on_default))
    assert not decision.allowed and decision.reasons[0].startswith(reason)
    assert promote(replace(GOOD, version_on_default_branch=on_default), "staging").allowed


APPROVAL_TABLE = [
    ("nobody", [], 0),
    ("one approval on the head", [("bob", "APPROVED", HEAD)], 1),
    ("the author's own approval", [("alice", "APPROVED", HEAD)], 0),
    ("the author, other case", [("ALICE", "APPROVED", HEAD)], 0),
    ("an approval of an older commit", [("bob", "APPROVED", OLD)], 0),
    (
        "approved, then changes requested",
        [("bob", "APPROVED", HEAD), ("bob", "CHANGES_REQUESTED", HEAD)],
        0,
    ),
    (
        "changes requested, then approved",
        [("bob", "CHANGES_REQUESTED", OLD), ("bob", "APPROVED", HEAD)],
        1,
    ),
    ("approved, then a comment", [("bob", "APPROVED", HEAD), ("bob", "COMMENTED", HEAD)], 1),
    ("approved, then dismissed", [("bob", "APPROVED", HEAD), ("bob", "DISMISSED", HEAD)], 0),
    (
        "approved old, then a comment on the head",
        [("bob", "APPROVED", OLD), ("bob", "COMMENTED", HEAD)],
        0,
    ),
    ("a bot's approval", [("ci-bot[bot]", "APPROVED", HEAD)], 0),
    ("one person twice", [("bob", "APPROVED", HEAD), ("Bob", "APPROVED", HEAD)], 1),
    ("two people", [("bob", "APPROVED", HEAD), ("dan", "APPROVED", HEAD)], 2),
    ("a pending review", [("bob", "PENDING", HEAD)], 0),
    ("lowercase states", [("bob", "approved", HEAD)], 1),
    ("no commit id", [("bob", "APPROVED", None)], 0),
]


@pytest.mark.parametrize(
    ("case", "reviews", "count"), APPROVAL_TABLE, ids=[row[0] for row in APPROVAL_TABLE]
)
def test_approvals(case: str, reviews: list, count: int) -> None:
    counted, _ = approvers(reviews, HEAD, "alice", permissions=GOOD.reviewer_permissions or {})
    assert len(counted) == count
    decision = promote(replace(GOOD, approvals=reviews))
    assert decision.allowed is (count >= 1)
    if count == 0:
        assert decision.reasons[0].startswith(
            "needs 1 approving review on def5678 from someone other than @alice with "
            "`maintain` or higher; has 0"
        )


PRODUCTION_ALLOW = ["maintain", "admin", "@lead", "@octo/release"]
REVIEWER_TABLE = [
    # (case, reviewer's permission, their teams, counts, why it does not)
    ("a maintainer", "maintain", frozenset(), True, None),
    ("an admin", "admin", frozenset(), True, None),
    ("a writer, below the allow list", "write", frozenset(), False, "not on the allow list"),
    ("a reader: anyone on a public repository", "read", frozenset(), False, "`read` permission"),
    ("triage", "triage", frozenset(), False, "`triage` permission"),
    ("no access at all", "none", frozenset(), False, "`none` permission"),
    ("an unreadable permission", None, frozenset(), False, "could not read"),
    ("a writer in an allowed team", "write", frozenset({"octo/release"}), True, None),
    ("a reader in an allowed team", "read", frozenset({"octo/release"}), False, "`read`"),
]


@pytest.mark.parametrize(
    ("case", "permission", "teams", "counts", "why"),
    REVIEWER_TABLE,
    ids=[row[0] for row in REVIEWER_TABLE],
)
def test_an_approval_counts_only_from_someone_the_environment_allows(
    case: str, permission: str | None, teams: frozenset[str], counts: bool, why: str | None
) -> None:
    counted, ignored = approvers(
        [("eve", "APPROVED", HEAD)],
        HEAD,
        "alice",
        allow=PRODUCTION_ALLOW,
        permissions={"eve": permission},
        teams={"eve": teams},
    )
    assert (counted == {"eve"}) is counts
    assert (why is None) is (ignored == [])
    if why:
        assert why in ignored[0]


def test_a_named_user_still_needs_write() -> None:
    reviews = [("lead", "APPROVED", HEAD)]
    for permission, counts in [("write", True), ("read", False)]:
        counted, _ = approvers(
            reviews, HEAD, "alice", allow=PRODUCTION_ALLOW, permissions={"lead": permission}
        )
        assert bool(counted) is counts


def test_unreadable_teams_do_not_count_a_team_member() -> None:
    counted, ignored = approvers(
        [("eve", "APPROVED", HEAD)],
        HEAD,
        "alice",
        allow=["maintain", "@octo/release"],
        permissions={"eve": "write"},
        teams=None,
    )
    assert counted == set() and ignored


def test_no_allow_levels_below_write_lower_the_bar() -> None:
    """``allow: [read]`` lets readers run commands, never approve."""
    counted, _ = approvers(
        [("eve", "APPROVED", HEAD)], HEAD, "alice", allow=["read"], permissions={"eve": "read"}
    )
    assert counted == set()
    env = PRODUCTION.model_copy(update={"allow": ["read"]})
    facts = replace(
        GOOD, approvals=[("eve", "APPROVED", HEAD)], reviewer_permissions={"eve": "read"}
    )
    reason = check_promotion(facts, "production", env, ENVIRONMENTS).reasons[0]
    assert "with `write` or higher; has 0 (not counted: @eve has `read` permission" in reason


def test_a_read_only_approval_is_named_in_the_refusal() -> None:
    facts = replace(
        GOOD,
        approvals=[("mallory", "APPROVED", HEAD)],
        reviewer_permissions={"mallory": "read"},
    )
    assert promote(facts).reasons == [
        "needs 1 approving review on def5678 from someone other than @alice with `maintain` "
        "or higher; has 0 (not counted: @mallory has `read` permission; approvals need "
        "`write` or higher)"
    ]


def test_two_approvals_needed() -> None:
    env = PRODUCTION.model_copy(update={"approvals": 2})
    decision = check_promotion(GOOD, "production", env, ENVIRONMENTS)
    assert decision.reasons == [
        "needs 2 approving reviews on def5678 from someone other than @alice with "
        "`maintain` or higher; has 1"
    ]


@pytest.mark.parametrize("change", [{"approvals": None}, {"pr_author": None}])
def test_unreadable_reviews_refuse_when_approvals_are_needed(change: dict) -> None:
    decision = promote(replace(GOOD, **change))
    assert decision.reasons == [
        "needs 1 approving review on def5678, but the reviews could not be read"
    ]
    assert promote(replace(GOOD, **change), "staging").allowed  # staging needs none


@pytest.mark.parametrize(
    ("gates", "reason"),
    [
        (False, "the gates fail against what `production` runs now"),
        (None, "could not tell whether the gates pass against what `production` runs"),
    ],
)
def test_gates(gates: bool | None, reason: str) -> None:
    decision = promote(replace(GOOD, gates_passed=gates))
    assert not decision.allowed and decision.reasons[0].startswith(reason)


def test_every_failing_rule_is_listed_in_order() -> None:
    facts = replace(
        GOOD,
        live={"staging": None, "production": V0},
        approvals=[],
        version_on_default_branch=False,
        gates_passed=False,
    )
    decision = promote(facts)
    assert [reason.split(" ")[0:2] for reason in decision.reasons] == [
        ["needs", "`1a2b3c4d5e6f`"],
        ["needs", "a"],
        ["needs", "1"],
        ["the", "gates"],
    ]
    message = decision.message()
    assert message.startswith("Refused:\n- needs `1a2b3c4d5e6f` live in `staging` first")
    assert message.count("\n- ") == 4


def test_a_promotion_from_the_terminal_names_commands_not_comments() -> None:
    """Issue 11: ``mlops promote`` in a plain local repository was told to comment
    ``/promote`` and to read "the report on this PR"."""
    facts = replace(
        GOOD,
        live={"staging": None, "production": V0},
        approvals=[],
        version_on_default_branch=False,
        gates_passed=False,
        via_comment=False,
        pr_author="ada",
    )
    requires, default_branch, approvals, gates = promote(facts).reasons
    assert requires.endswith("`mlops promote cancer-rf --to staging --version 1a2b3c4d5e6f`")
    assert "merge the change into it" in default_branch
    assert "only a pull request has reviews" in approvals and "@ada" in approvals
    assert gates.endswith("`mlops diff cancer-rf --vs production` shows how")
    assert "this PR" not in promote(facts).message()
    comment = promote(replace(facts, via_comment=True)).reasons
    assert comment[0].endswith("`/promote cancer-rf@1a2b3c4d5e6f to staging`")
    assert comment[3].endswith("see the report on this PR")


def test_a_staging_promotion_only_needs_gates() -> None:
    facts = replace(
        GOOD, live={"staging": V0}, approvals=None, pr_author=None, version_on_default_branch=None
    )
    assert promote(facts, "staging").allowed
    assert not promote(replace(facts, gates_passed=None), "staging").allowed


@pytest.mark.parametrize(
    ("permission", "private", "answered"),
    [
        ("read", True, True),
        ("none", True, False),
        ("read", False, False),  # public: everyone can read
        ("triage", False, True),
        ("admin", False, True),
        ("read", None, False),  # unknown visibility: the stricter, public case
        (None, True, False),  # unknown permission: no reply
        ("custom-role", True, False),
    ],
)
def test_who_gets_replies(permission: str | None, private: bool | None, answered: bool) -> None:
    assert may_answer(permission, private) is answered
