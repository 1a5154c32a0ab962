"""The comment-command parser, table-driven: commands, replies, what is ignored, attacks."""

from __future__ import annotations

import time

import pytest

from engine.definitions.formats import Project
from engine.github.commands import (
    IGNORE,
    Diff,
    Help,
    Promote,
    Reply,
    Retire,
    Retrain,
    Rollback,
    Status,
    help_text,
    parse,
    parse_line,
)
from engine.github.comment_lines import MAX_BODY

MODELS = ("cancer-rf", "iris-logreg", "wine-knn", "diabetes-ridge")
ENVS = ("staging", "production")
V12 = "1a2b3c4d5e6f"
V64 = "0123456789abcdef" * 4


def one(body: str) -> object:
    """The single result of parsing ``body``."""
    results = parse(body, MODELS, ENVS)
    assert len(results) == 1, results
    return results[0]


def reply(body: str) -> str:
    """The message of the single reply ``body`` gets."""
    result = one(body)
    assert isinstance(result, Reply), result
    return result.message


# --- the grammar ------------------------------------------------------------------------

COMMANDS = [
    ("/promote cancer-rf to production", Promote("cancer-rf", None, "production")),
    ("/promote cancer-rf production", Promote("cancer-rf", None, "production")),
    ("/promote cancer-rf to staging --canary 10", Promote("cancer-rf", None, "staging", 10)),
    (f"/promote cancer-rf@{V12} staging --canary 99", Promote("cancer-rf", V12, "staging", 99)),
    (f"/promote cancer-rf@{V12} to staging", Promote("cancer-rf", V12, "staging")),
    (f"/promote cancer-rf@{V64} staging", Promote("cancer-rf", V64, "staging")),
    ("/promote cancer-rf@abcdef0 staging", Promote("cancer-rf", "abcdef0", "staging")),
    ("/rollback cancer-rf production", Rollback("cancer-rf", "production", None)),
    ("/rollback cancer-rf in production", Rollback("cancer-rf", "production", None)),
    (f"/rollback cancer-rf production to {V12}", Rollback("cancer-rf", "production", V12)),
    (f"/rollback cancer-rf in production to {V12}", Rollback("cancer-rf", "production", V12)),
    ("/retire cancer-rf staging", Retire("cancer-rf", "staging")),
    ("/retire cancer-rf in production", Retire("cancer-rf", "production")),
    ("/Retire\tcancer-rf  in staging ", Retire("cancer-rf", "staging")),
    ("/retrain", Retrain(())),
    ("/retrain cancer-rf", Retrain(("cancer-rf",))),
    ("/retrain wine-knn cancer-rf wine-knn", Retrain(("wine-knn", "cancer-rf"))),
    ("/diff", Diff(None, None)),
    ("/diff cancer-rf", Diff("cancer-rf", None)),
    ("/diff vs production", Diff(None, "production")),
    ("/diff cancer-rf vs staging", Diff("cancer-rf", "staging")),
    ("/status", Status()),
    ("/help", Help()),
    ("/help me please", Help()),
    # case of the command word, indentation up to 3 spaces, tabs between words, whitespace
    ("/Promote cancer-rf to staging", Promote("cancer-rf", None, "staging")),
    ("/STATUS", Status()),
    ("   /status", Status()),
    ("/promote\tcancer-rf\t to  staging   ", Promote("cancer-rf", None, "staging")),
    ("/status\r", Status()),
]


@pytest.mark.parametrize(("body", "expected"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_commands(body: str, expected: object) -> None:
    assert parse(body, MODELS, ENVS) == [expected]


IGNORED = [
    "",
    "LGTM, thanks!",
    "Please /promote this when ready",
    "/",
    "/ promote cancer-rf to staging",
    "/assign @bob",
    "/label bug",
    "/lgtm",
    "/retest",
    "/cc @alice",
    "/approve",
    "/hold",
    "/retitle a better title",
    "/remove-label bug",
    "/test all",
    "/ok-to-test",
    "/kind bug",
    "/meow",
    "/shrug",
    "/me waves",
    "/s",
    "/usr/bin/python crashed",
    "/tmp/x.csv is missing",
    "// promote: a C comment",
    "    /promote cancer-rf to staging",
    "\t/promote cancer-rf to staging",
    "`/promote cancer-rf to staging`",
    "Run `/promote cancer-rf to staging` when the tests pass",
    "> /promote cancer-rf to staging",
    ">/promote cancer-rf to staging",
    "  > /status",
    "> > /status",
    "/" + "x" * 40,
]


@pytest.mark.parametrize("body", IGNORED)
def test_ignored(body: str) -> None:
    assert parse(body, MODELS, ENVS) == []


def test_parse_line_returns_ignore_for_prose() -> None:
    assert parse_line("hello", MODELS, ENVS) is IGNORE
    assert parse_line("/lgtm", MODELS, ENVS) is IGNORE


# --- replies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/promte cancer-rf to staging", "did you mean `/promote`?"),
        ("/promot cancer-rf to staging", "did you mean `/promote`?"),
        ("/rollbak cancer-rf staging", "did you mean `/rollback`?"),
        ("/retrian", "did you mean `/retrain`?"),
        ("/stat", "did you mean `/status`?"),
        ("/stauts", "did you mean `/status`?"),
        ("/dif", "did you mean `/diff`?"),
        ("/promote: cancer-rf to staging", "did you mean `/promote`?"),
        ("//promote cancer-rf to staging", "did you mean `/promote`?"),
    ],
)
def test_misspelled_commands_get_a_suggestion(body: str, expected: str) -> None:
    message = reply(body)
    assert expected in message
    assert message.startswith("Line 1: ")
    assert "Usage: `/" in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/promote cancr-rf to staging", "there is no model `cancr-rf`; did you mean `cancer-rf`?"),
        ("/promote CANCER-RF to staging", "did you mean `cancer-rf`?"),
        (
            "/promote cancer-rf to prod",
            "there is no environment `prod`; did you mean `production`?",
        ),
        ("/promote cancer-rf to qa", "the environments are `production`, `staging`."),
        ("/promote zzz to staging", "the models are `cancer-rf`, `diabetes-ridge`, `iris-logreg`"),
        ("/rollback cancer-rf in stagin", "did you mean `staging`?"),
        ("/retrain cancer-rf nope", "there is no model `nope`"),
        ("/diff cancer-rf vs prodution", "did you mean `production`?"),
        ("/diff iris vs staging", "there is no model `iris`; did you mean `iris-logreg`?"),
    ],
)
def test_unknown_names_get_did_you_mean(body: str, expected: str) -> None:
    assert expected in reply(body)


@pytest.mark.parametrize(
    ("body", "usage"),
    [
        ("/promote", "/promote MODEL[@VERSION] [to] ENV [--canary PERCENT]"),
        ("/promote cancer-rf", "/promote MODEL[@VERSION] [to] ENV [--canary PERCENT]"),
        ("/promote cancer-rf to", "/promote MODEL[@VERSION] [to] ENV [--canary PERCENT]"),
        ("/promote cancer-rf into staging", "/promote MODEL[@VERSION] [to] ENV [--canary PERCENT]"),
        (
            "/promote cancer-rf to staging now",
            "/promote MODEL[@VERSION] [to] ENV [--canary PERCENT]",
        ),
        ("/promote cancer-rf --to staging", "/promote MODEL[@VERSION] [to] ENV [--canary PERCENT]"),
        ("/promote cancer-rf@ staging", "/promote MODEL[@VERSION] [to] ENV [--canary PERCENT]"),
        ("/promote cancer-rf@XYZ staging", "/promote MODEL[@VERSION] [to] ENV [--canary PERCENT]"),
        (
            "/promote cancer-rf@ABCDEF0 staging",
            "/promote MODEL[@VERSION] [to] ENV [--canary PERCENT]",
        ),
        ("/promote cancer-rf@abc staging", "/promote MODEL[@VERSION] [to] ENV [--canary PERCENT]"),
        (
            f"/promote cancer-rf@{V64}0 staging",
            "/promote MODEL[@VERSION] [to] ENV [--canary PERCENT]",
        ),
        (
            "/promote cancer-rf staging --canary",
            "/promote MODEL[@VERSION] [to] ENV [--canary PERCENT]",
        ),
        (
            "/promote cancer-rf staging --canary 0",
            "/promote MODEL[@VERSION] [to] ENV [--canary PERCENT]",
        ),
        (
            "/promote cancer-rf staging --canary 100",
            "/promote MODEL[@VERSION] [to] ENV [--canary PERCENT]",
        ),
        (
            "/promote cancer-rf staging --canary 05",
            "/promote MODEL[@VERSION] [to] ENV [--canary PERCENT]",
        ),
        (
            "/promote cancer-rf staging --canary 1e1",
            "/promote MODEL[@VERSION] [to] ENV [--canary PERCENT]",
        ),
        (
            "/promote cancer-rf staging --canary -5",
            "/promote MODEL[@VERSION] [to] ENV [--canary PERCENT]",
        ),
        (
            "/promote cancer-rf --canary 10 staging",
            "/promote MODEL[@VERSION] [to] ENV [--canary PERCENT]",
        ),
        ("/rollback", "/rollback MODEL [in] ENV [to VERSION]"),
        ("/rollback cancer-rf", "/rollback MODEL [in] ENV [to VERSION]"),
        ("/rollback cancer-rf in", "/rollback MODEL [in] ENV [to VERSION]"),
        ("/rollback cancer-rf staging abcdef0", "/rollback MODEL [in] ENV [to VERSION]"),
        ("/rollback cancer-rf staging to", "/rollback MODEL [in] ENV [to VERSION]"),
        ("/rollback cancer-rf staging to latest", "/rollback MODEL [in] ENV [to VERSION]"),
        ("/rollback cancer-rf@abcdef0 staging", "/rollback MODEL [in] ENV [to VERSION]"),
        ("/retire", "/retire MODEL [in] ENV"),
        ("/retire cancer-rf", "/retire MODEL [in] ENV"),
        ("/retire cancer-rf in", "/retire MODEL [in] ENV"),
        ("/retire cancer-rf staging production", "/retire MODEL [in] ENV"),
        ("/retire cancer-rf@abcdef0 staging", "/retire MODEL [in] ENV"),
        ("/diff cancer-rf staging", "/diff [MODEL] [vs ENV]"),
        ("/diff vs", "/diff [MODEL] [vs ENV]"),
        ("/diff a b c d", "/diff [MODEL] [vs ENV]"),
        ("/status now", "/status"),
    ],
)
def test_usage_errors_show_the_usage(body: str, usage: str) -> None:
    assert f"Usage: `{usage}`" in reply(body)


def test_a_version_reply_says_what_versions_look_like() -> None:
    assert "7 to 64 lowercase hex characters" in reply("/promote cancer-rf@XYZ staging")


def test_a_model_named_like_a_keyword_still_parses() -> None:
    assert parse("/promote to to staging", ("to",), ENVS) == [Promote("to", None, "staging")]
    assert parse("/diff vs", ("vs",), ENVS) == [Diff("vs", None)]
    assert parse("/rollback m in", ("m",), ("in",)) == [Rollback("m", "in", None)]


def test_rollback_and_retire_accept_a_model_only_an_environment_pins() -> None:
    """A model deleted on the default branch still runs where it is pinned: `/rollback`
    and `/retire` take it when the caller passes the pinned models; nothing else does."""
    pinned = ("churn-logreg",)
    assert parse("/retire churn-logreg staging", MODELS, ENVS, pinned) == [
        Retire("churn-logreg", "staging")
    ]
    assert parse("/rollback churn-logreg in staging", MODELS, ENVS, pinned) == [
        Rollback("churn-logreg", "staging", None)
    ]
    for body in ("/promote churn-logreg staging", "/retrain churn-logreg", "/diff churn-logreg"):
        (result,) = parse(body, MODELS, ENVS, pinned)
        assert isinstance(result, Reply) and "there is no model" in result.message
    (result,) = parse("/retire churn-logreg staging", MODELS, ENVS)
    assert isinstance(result, Reply) and "there is no model `churn-logreg`" in result.message
    (result,) = parse("/retire churn-logre staging", MODELS, ENVS, pinned)
    assert isinstance(result, Reply) and "did you mean `churn-logreg`" in result.message


def test_unknown_names_with_nothing_defined() -> None:
    (result,) = parse("/promote a to b", (), ())
    assert isinstance(result, Reply)
    assert "no models are defined" in result.message


def test_a_long_list_of_known_names_is_cut() -> None:
    models = [f"model-{i:02d}" for i in range(30)]
    (result,) = parse("/retrain zzz", models, ENVS)
    assert isinstance(result, Reply)
    assert "and 20 more" in result.message


# --- where commands may be --------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "```\n/status\n```",
        "~~~\n/status\n~~~",
        "```bash\n/promote cancer-rf to staging\n```",
        "````\n```\n/status\n````",  # an inner shorter fence does not close the block
        "  ```\n/status\n  ```",
        "- step one:\n      ```\n      /status\n      ```",
        "~~~~\n/status\n~~~",  # a shorter closing fence leaves the block open to the end
        "```\n/status",  # an unclosed fence runs to the end of the comment
        "~~~\n/status\n```\n/help",  # backticks don't close a tilde fence
        "<!--\n/status\n-->",
        "<!-- a hidden note\n/promote cancer-rf to production\n-->",
        "> quoted\n> /status",
    ],
)
def test_code_blocks_comments_and_quotes_are_ignored(body: str) -> None:
    assert parse(body, MODELS, ENVS) == []


def test_commands_after_blocks_run() -> None:
    body = "```\n/status\n```\n/help\n<!-- x -->\n/diff\n<!--\n/status\n-->\n/status\n> /help"
    assert parse(body, MODELS, ENVS) == [Help(), Diff(), Status()]


def test_an_html_comment_in_inline_code_hides_nothing() -> None:
    body = "Write `<!--` to hide text, or ``a `<!--` b``.\n/status\ntext <!--\n/help\n-->"
    assert parse(body, MODELS, ENVS) == [Status()]


def test_one_line_triple_backticks_are_inline_code_not_a_fence() -> None:
    assert parse("```/status```\n/help", MODELS, ENVS) == [Help()]


def test_a_command_right_after_a_quote_continues_it() -> None:
    message = reply("> @bob: can you promote?\n/promote cancer-rf to staging")
    assert message.startswith("Line 2: ") and "blank line" in message
    after_blank = "> @bob: can you promote?\n\n/promote cancer-rf to staging"
    assert parse(after_blank, MODELS, ENVS) == [Promote("cancer-rf", None, "staging")]
    assert parse("> quoted\n>\n/status", MODELS, ENVS) == [Status()]


def test_commands_run_in_order_with_their_line_numbers() -> None:
    body = "Thanks!\r\n\r\n/promote cancer-rf to staging\r\n/promte x\r\n/status\r\n"
    results = parse(body, MODELS, ENVS)
    assert results[0] == Promote("cancer-rf", None, "staging")
    assert isinstance(results[1], Reply) and results[1].line == 4
    assert results[2] == Status()


def test_old_mac_line_endings_split_lines() -> None:
    assert parse("/status\r/help", MODELS, ENVS) == [Status(), Help()]


def test_at_most_five_commands_or_none_runs() -> None:
    five = "\n".join(["/status"] * 5)
    assert parse(five, MODELS, ENVS) == [Status()] * 5
    six = five + "\n/help"
    (result,) = parse(six, MODELS, ENVS)
    assert isinstance(result, Reply)
    assert result.line == 0
    assert "more than 5 commands" in result.message and "none was run" in result.message


def test_replies_count_towards_the_limit_and_ignored_lines_do_not() -> None:
    body = "\n".join(["/status", "/promte", "/lgtm", "text", "/help", "/diff", "/assign x"])
    assert len(parse(body, MODELS, ENVS)) == 4
    assert isinstance(one("\n".join(["/stat"] * 6)), Reply)


# --- hostile input ----------------------------------------------------------------------

HOSTILE = [
    ("/promote $(whoami) to staging", "not a valid model name"),
    ("/promote cancer-rf to $(rm -rf /)", "Usage"),
    ("/promote `id` to staging", "that word is not a valid model name"),
    ("/promote cancer-rf;id to staging", "not a valid model name"),
    ("/promote cancer-rf|sh staging", "not a valid model name"),
    ("/promote cancer-rf&&id staging", "not a valid model name"),
    ("/promote cancer-rf>out staging", "not a valid model name"),
    ("/promote ../../etc/passwd to staging", "not a valid model name"),
    ("/promote .. to staging", "not a valid model name"),
    ("/promote -rf to staging", "not a valid model name"),
    ("/promote cancer-rf to ../production", "not a valid environment name"),
    ("/promote cancer-rf@1a2b3c4;id to staging", "not a version"),
    ("/promote cancer-rf@$(id) staging", "not a version"),
    ("/retrain cancer-rf '*'", "not a valid model name"),
    ("/promote " + "a" * 65 + " to staging", "not a valid model name"),
    ("/promote cancer-rf to " + "s" * 65, "not a valid environment name"),
    ("/promote @everyone to staging", "not a valid model name"),
    ("/promote cancer-r\u0444 to staging", "U+0444 CYRILLIC SMALL LETTER EF at column 18"),
    ("/promote c\u0430ncer-rf to staging", "U+0430 CYRILLIC SMALL LETTER A"),
    ("/promote cancer-rf to st\u0430ging", "U+0430 CYRILLIC SMALL LETTER A"),
    ("/promote cancer\u200b-rf to staging", "U+200B ZERO WIDTH SPACE"),
    ("/promote cancer-rf\u00a0to staging", "U+00A0 NO-BREAK SPACE"),
    ("/promote cancer-rf\u3000to staging", "U+3000 IDEOGRAPHIC SPACE"),
    ("/promote cancer-rf to staging\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("/promote cancer-rf\x00 to staging", "U+0000 control character"),
    ("/promote cancer-rf\x1b[31m to staging", "U+001B control character"),
    ("/promote\u200b cancer-rf to staging", "U+200B ZERO WIDTH SPACE"),
    ("/pr\u043emote cancer-rf to staging", "did you mean `/promote`"),
    ("/status\u200b", "U+200B ZERO WIDTH SPACE"),
    ("/promote cancer-rf to staging " + "x" * 2000, "longer than 1,000 characters"),
]


@pytest.mark.parametrize(("body", "expected"), HOSTILE, ids=[repr(h[0][:40]) for h in HOSTILE])
def test_hostile_input_gets_a_reply_and_never_a_command(body: str, expected: str) -> None:
    message = reply(body)
    assert expected in message
    assert message.isascii() and message.isprintable()  # nothing hostile is echoed back


def test_replies_never_echo_text_that_could_break_out_of_a_code_span() -> None:
    message = reply("/promote `@org/team [link](http://x)` to staging")
    assert "http" not in message and "@org" not in message
    message = reply("/pr`omote")  # a misspelling with a backtick is described, not quoted
    assert "`/pr`" not in message and "this word" in message


def test_a_version_may_not_be_uppercase_or_short() -> None:
    for version in ("ABCDEF0", "abcdef", "g" * 12, "1a2b3c4d5e6f " + "0"):
        results = parse(f"/promote cancer-rf@{version} staging", MODELS, ENVS)
        assert all(isinstance(r, Reply) for r in results), version


def test_a_hundred_kilobyte_line_is_fast_and_harmless() -> None:
    start = time.perf_counter()
    assert parse("x" * 100_000, MODELS, ENVS) == []
    assert "longer than" in reply("/promote " + "a" * 10_000 + " to staging")
    assert parse("/promote " + "a" * 100_000 + " to staging", MODELS, ENVS) == []  # > 64 KiB
    assert parse("/" + "a" * 100_000, MODELS, ENVS) == []
    assert parse("```" + "`" * 100_000, MODELS, ENVS) == []
    assert time.perf_counter() - start < 0.5


def test_ten_thousand_lines_are_capped_and_fast() -> None:
    start = time.perf_counter()
    assert parse("just text\n" * 10_000, MODELS, ENVS) == []
    assert len(parse("/status\n" * 10_000, MODELS, ENVS)) == 1  # the too-many reply
    assert parse("```\n" * 10_000, MODELS, ENVS) == []
    assert time.perf_counter() - start < 0.5


def test_only_the_first_64_kib_are_read_and_a_cut_line_is_dropped() -> None:
    padding = ("x" * 99 + "\n") * (MAX_BODY // 100 + 1)
    assert parse(padding + "/status", MODELS, ENVS) == []
    # "/promote cancer-rf to production" cut at the limit must not become "... to prod":
    line = "/promote cancer-rf to production"
    body = "x" * (MAX_BODY - len(line) + 5) + "\n" + line
    assert body[:MAX_BODY].endswith("/promote cancer-rf to prod")
    assert parse(body, MODELS, ("prod", "production")) == []


def test_null_bytes_elsewhere_do_not_confuse_the_parser() -> None:
    assert parse("text\x00more\n/status", MODELS, ENVS) == [Status()]


# --- help -------------------------------------------------------------------------------


def test_help_text_lists_the_grammar_the_environments_and_the_models() -> None:
    text = help_text(MODELS, ENVS)
    for usage in (
        "/promote MODEL[@VERSION] [to] ENV [--canary PERCENT]",
        "/rollback MODEL [in] ENV [to VERSION]",
        "/retire MODEL [in] ENV",
        "/retrain [MODEL...]",
        "/diff [MODEL] [vs ENV]",
        "/status",
        "/help",
    ):
        assert f"`{usage}`" in text
    assert "- `production`\n- `staging`" in text
    assert "`cancer-rf`, `diabetes-ridge`, `iris-logreg`, `wine-knn`" in text
    assert "at most 5" in text


def test_help_text_describes_each_environment_policy() -> None:
    project = Project.model_validate(
        {
            "environments": {
                "staging": {"branch": "env/staging"},
                "production": {
                    "branch": "env/production",
                    "requires": ["staging"],
                    "approvals": 2,
                    "allow": ["maintain", "admin", "@alice", "@acme/ml"],
                    "from_default_branch": True,
                    "allow_forks": True,
                },
            }
        }
    )
    text = help_text(MODELS, project.environments)
    assert (
        "- `production`: branch `env/production`; live in `staging` first; 2 approving "
        "reviews; versions from the default branch only; who: `maintain` or higher or "
        "`@alice` or `@acme/ml`; accepts pull requests from forks"
    ) in text
    assert "- `staging`: branch `env/staging`; who: `write` or higher" in text


def test_help_text_without_definitions() -> None:
    text = help_text((), ())
    assert "No environments are defined" in text and "No models are defined" in text
