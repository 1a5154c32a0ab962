"""The forge's pure rules: sticky-comment markers, GitHub's length caps, the retry policy.

The retry tests drive :class:`engine.forge.retry.Retrier` with a plain function that plays
the server (in-memory ``requests.Response`` values), a fake clock and a recording sleep:
no sockets, no waiting.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from engine.forge import (
    MAX_COMMENT_CHARS,
    PERMISSION_ORDER,
    ForgeUnavailable,
    PullRequestInfo,
    check_reaction,
    check_state,
    clip_comment,
    clip_description,
    has_marker,
    marker_tag,
    with_marker,
)
from engine.forge.retry import Retrier, RetryPolicy, rate_limit_wait
from engine.review.report import MAX_CHARS as REPORT_MAX_CHARS

CASSETTES = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "cassettes"


def test_marker_is_a_hidden_html_comment_put_first_once() -> None:
    assert marker_tag("report/cancer-rf") == "<!-- mlops:report/cancer-rf -->"
    body = with_marker("## Report", "report")
    assert body == "<!-- mlops:report -->\n## Report"
    assert with_marker(body, "report") == body
    assert has_marker(body, "report") and not has_marker(body, "rep")
    assert not has_marker(None, "report")


@pytest.mark.parametrize("bad", ["", "two words", "-->", "<!--x", "a" * 101])
def test_marker_names_that_could_break_the_comment_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid comment marker"):
        marker_tag(bad)


def test_long_comments_are_cut_to_githubs_limit_with_a_pointer() -> None:
    body = with_marker("x" * 70_000, "report")
    assert len(body) == MAX_COMMENT_CHARS
    assert body.startswith("<!-- mlops:report -->")
    assert body.endswith("the full report is in the job summary)")
    assert clip_comment("short") == "short"


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_comments_are_cut_by_githubs_stricter_count_without_splitting_a_character() -> None:
    """An emoji is one character but two UTF-16 units: 40,000 of them are 80,000 units.

    The cut counted characters, so such a body passed uncut and GitHub refused it (422).
    """
    body = clip_comment("🚀" * 40_000)
    assert utf16(body) <= MAX_COMMENT_CHARS
    assert body.endswith("the full report is in the job summary)")
    assert set(body.split("\n")[0]) == {"🚀"}  # no half character before the note
    assert clip_comment("🚀" * 32_768) == "🚀" * 32_768  # exactly the limit: kept


def test_a_report_at_its_limit_is_never_cut_again_by_the_comment_tag() -> None:
    """The report cuts itself to MAX_CHARS; the forge then puts its tag first."""
    longest = marker_tag("m" * 100)
    report = "r" * REPORT_MAX_CHARS
    assert with_marker(report, "m" * 100) == f"{longest}\n{report}"
    assert utf16(with_marker(report, "m" * 100)) <= MAX_COMMENT_CHARS


def test_status_descriptions_fit_on_one_line_of_140_characters() -> None:
    assert clip_description("all\n  gates   passed") == "all gates passed"
    clipped = clip_description("y" * 200)
    assert len(clipped) == 140 and clipped.endswith("…")


def test_reactions_and_states_are_checked_before_any_call() -> None:
    assert check_reaction("eyes") == "eyes"
    assert check_state("success") == "success"
    with pytest.raises(ValueError, match="unknown reaction"):
        check_reaction("thumbsup")
    with pytest.raises(ValueError, match="unknown status state"):
        check_state("passed")
    assert PERMISSION_ORDER.index("write") > PERMISSION_ORDER.index("triage")


def _cassette(name: str, index: int) -> dict:
    body = json.loads((CASSETTES / name).read_text())["http_interactions"][index]["response"]
    raw = base64.b64decode(body["body"]["base64_string"])
    return json.loads(gzip.decompress(raw))


def test_pull_info_reads_githubs_recorded_pull_request() -> None:
    from engine.forge.github import pull_info

    info = pull_info(_cassette("Repository_pull_request.json", 1))
    assert info == PullRequestInfo(
        number=546,
        title="Add content-type header for pubsubhubbub call to _post (gh-545)",
        state="closed",
        merged=True,
        author="jmathai",
        head_sha="772d047fc9c8cd04b868373a8b034221fac005cc",
        head_ref="content-type-gh-545",
        head_repo="jmathai/github3.py",
        base_ref="develop",
        base_repo="sigmavirus24/github3.py",
        comments=6,
    )
    assert info.is_fork


def test_a_deleted_fork_counts_as_a_fork() -> None:
    from engine.forge.github import pull_info

    data = _cassette("Repository_pull_request.json", 1)
    data["head"]["repo"] = None
    info = pull_info(data)
    assert info.head_repo is None and info.is_fork


# -- retry policy ---------------------------------------------------------------------------


def response(
    status: int, headers: dict[str, str] | None = None, body: str = "{}"
) -> requests.Response:
    """An in-memory HTTP answer."""
    r = requests.Response()
    r.status_code = status
    r.headers.update(headers or {})
    r._content = body.encode()
    return r


class FakeTime:
    """A clock that only moves when slept on."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def retrier(fake: FakeTime, **policy: float) -> Retrier:
    return Retrier(RetryPolicy(**policy), sleep=fake.sleep, clock=fake.clock, rng=random.Random(7))


def server(
    *answers: requests.Response | Exception,
) -> Callable[[tuple[float, float]], requests.Response]:
    """A send function that plays ``answers`` in order and records the timeouts it got."""
    queue = list(answers)

    def send(timeout: tuple[float, float]) -> requests.Response:
        send.timeouts.append(timeout)  # type: ignore[attr-defined]
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    send.timeouts = []  # type: ignore[attr-defined]
    return send


def test_5xx_on_a_get_is_retried_with_growing_jittered_backoff() -> None:
    fake = FakeTime()
    send = server(response(502), response(503), response(500), response(200))
    got = retrier(fake, base_delay=1.0).send("GET", "https://api/x", send, replayable=False)
    assert got.status_code == 200
    assert len(fake.slept) == 3
    for n, wait in enumerate(fake.slept):
        assert 0.5 * 2**n <= wait <= 2**n  # base * 2**n, jittered into its upper half


def test_5xx_on_a_plain_post_is_returned_for_the_caller_to_re_read() -> None:
    fake = FakeTime()
    got = retrier(fake).send("POST", "https://api/x", server(response(502)), replayable=False)
    assert got.status_code == 502 and fake.slept == []


def test_a_replayable_post_is_retried() -> None:
    fake = FakeTime()
    send = server(response(502), response(201))
    assert retrier(fake).send("POST", "u", send, replayable=True).status_code == 201


def test_retry_after_is_honoured_exactly_even_for_a_post() -> None:
    fake = FakeTime()
    send = server(response(403, {"Retry-After": "2"}), response(201))
    assert retrier(fake).send("POST", "u", send, replayable=False).status_code == 201
    assert fake.slept == [2.0]


def test_primary_rate_limit_waits_until_the_reset_time() -> None:
    fake = FakeTime()
    reset = str(int(fake.now) + 5)
    limited = response(429, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset})
    assert retrier(fake).send("GET", "u", server(limited, response(200)), replayable=False)
    assert fake.slept == [6.0]  # five seconds to the reset, one for clock skew


def test_a_plain_403_is_a_permission_problem_not_retried() -> None:
    fake = FakeTime()
    denied = response(403, body='{"message": "Resource not accessible by integration"}')
    assert retrier(fake).send("GET", "u", server(denied), replayable=False).status_code == 403
    assert rate_limit_wait(denied, 0.0) is None
    secondary = response(403, body='{"message": "You have exceeded a secondary rate limit"}')
    assert rate_limit_wait(secondary, 0.0) == 60.0


def test_timeouts_are_retried_for_reads_and_raised_for_creates() -> None:
    fake = FakeTime()
    send = server(requests.ReadTimeout("slow"), response(200))
    assert retrier(fake).send("GET", "u", send, replayable=False).status_code == 200
    with pytest.raises(requests.ReadTimeout):
        retrier(fake).send("POST", "u", server(requests.ReadTimeout("slow")), replayable=False)


def test_a_refused_connection_never_reached_the_server_so_even_a_post_is_resent() -> None:
    fake = FakeTime()
    send = server(requests.ConnectTimeout("no route"), response(201))
    assert retrier(fake).send("POST", "u", send, replayable=False).status_code == 201


def test_the_budget_stops_retrying_with_a_clear_error() -> None:
    fake = FakeTime()
    send = server(*[response(502)] * 50)
    with pytest.raises(
        ForgeUnavailable, match=r"GET /repos/o/r/pulls/1 answered 502.*budget is 5s"
    ):
        retrier(fake, total=5.0, base_delay=1.0).send(
            "GET", "https://api.github.com/repos/o/r/pulls/1", send, replayable=False
        )
    assert sum(fake.slept) <= 5.0


def test_a_wait_longer_than_the_budget_gives_up_without_sleeping() -> None:
    fake = FakeTime()
    send = server(response(429, {"Retry-After": "120"}))
    with pytest.raises(ForgeUnavailable, match="rate limited"):
        retrier(fake, total=60.0).send("GET", "u", send, replayable=False)
    assert fake.slept == []


def test_sockets_never_wait_past_the_operations_budget() -> None:
    fake = FakeTime()
    r = retrier(fake, total=3.0, timeout=10.0, base_delay=2.0)
    send = server(response(500), response(200))
    r.send("GET", "u", send, replayable=False)
    first, second = send.timeouts  # type: ignore[attr-defined]
    assert first[1] == 3.0  # the whole budget, not the 10 s timeout
    assert second[1] == pytest.approx(3.0 - fake.slept[0])


def test_one_operation_shares_one_budget_across_requests() -> None:
    fake = FakeTime()
    r = retrier(fake, total=4.0, base_delay=1.5)
    with r.operation():
        r.send("GET", "u", server(response(502), response(200)), replayable=False)
        with pytest.raises(ForgeUnavailable):
            r.send("GET", "u", server(*[response(502)] * 9), replayable=False)
    assert sum(fake.slept) <= 4.0
