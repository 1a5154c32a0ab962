"""``engine.github.untrusted``: a bundle's markdown made inert, with plain strings."""

from __future__ import annotations

import pytest

from engine.github.untrusted import MARK, neutralize, one_line

RUNS = "https://github.com/octo/models/actions/runs/"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hi @org/team", f"hi @{MARK}org/team"),
        ("mail a@b.example", f"mail a@{MARK}b.example"),
        ("see #12 and o/r#3", f"see #{MARK}12 and o/r#{MARK}3"),
        ("<img src=x>", f"<{MARK}img src=x>"),
        ("<!-- mlops:report -->", f"<{MARK}!-- mlops:report -->"),
        ("&#64;team &commat;x", f"&{MARK}#{MARK}64;team &{MARK}commat;x"),
        ("[a](u) ![b](u) [c][r] [r]: u", f"[a]{MARK}(u) ![b]{MARK}(u) [c]{MARK}[r] [r]{MARK}: u"),
        (
            "https://evil.example www.evil.example",
            f"https:{MARK}//evil.example www{MARK}.evil.example",
        ),
        ("<details open><summary>x</summary>", f"<{MARK}details open><summary>x</summary>"),
    ],
)
def test_each_live_construct_is_broken(text: str, expected: str) -> None:
    assert neutralize(text) == expected


def test_the_engines_own_report_keeps_its_formatting_and_its_run_link() -> None:
    own = (
        "<details><summary>✅ <b>iris</b> · <code>abc</code></summary>\n\na<br>\n</details>\n"
        f"&lt;x&gt; &amp; [job summary]({RUNS}42) line [0.91, 0.95]\n"
        "```mermaid\nxychart-beta\n  line [1, 2]\n```\n"
    )
    assert neutralize(own, links_under=RUNS) == own


def test_only_links_under_the_given_prefix_are_kept() -> None:
    text = f"[a]({RUNS}1) [b](https://github.com/other/repo/actions/runs/1) [c]({RUNS}1@x)"
    kept = neutralize(text, links_under=RUNS)
    assert kept.startswith(f"[a]({RUNS}1) [b]{MARK}(")
    assert f"[c]{MARK}(" in kept  # a link whose path holds a neutralized construct stays broken
    assert neutralize(f"[a]({RUNS}1)") == neutralize(f"[a]({RUNS}1)", links_under="http://x/")


def test_code_spans_cannot_hide_a_construct() -> None:
    # A code span that opens on one line and closes on the next: a line-based parser
    # would call `<img>` code; CommonMark renders it. Context-free marks do not care.
    text = "`a\n<b>`<img src=https://evil.example>`"
    assert "<img" not in neutralize(text) and "<b>" in neutralize(text)


def test_a_mermaid_block_other_than_the_chart_is_shown_as_text() -> None:
    text = '```mermaid\nflowchart LR\n  click A href "javascript:alert(1)"\n```\n'
    assert neutralize(text).startswith("```text\nflowchart LR\n")


def test_status_descriptions_are_one_neutral_line_within_the_limit() -> None:
    assert one_line("all\n good  @org/team", 140) == f"all good @{MARK}org/team"
    assert one_line("x" * 200, 140) == "x" * 139 + "…"
