"""Make a report bundle's markdown and statuses safe to publish under the bot's name.

The publishing job (``workflow_run``) posts what the pull request's own run wrote, and
that run executed the pull request's code: the markdown can say anything. Posted as is,
it would let a pull request make the bot ping ``@org/team``, show outside images
(tracking pixels) or links, use raw HTML, and claim that every model passed.

The neutralizing here is *context-free*: it inserts a zero-width space (U+200B) right
after each character that opens a live construct, everywhere, code blocks included.
Inside code the mark is invisible and changes nothing; outside code it breaks the
construct. Because it never has to decide what is code and what is not, no trick of
nesting, unclosed fences or backslashes can make it skip a construct GitHub would
render. The constructs:

- ``@`` (user and team mentions, e-mail autolinks), ``#`` before a digit (issue
  references, which notify the referenced thread);
- ``<`` (every HTML tag, comment and ``<url>`` autolink), ``&`` (character
  references such as ``&#64;``, which GitHub would decode into a mention);
- ``](``, ``][`` and ``]:`` (inline links and images, references, definitions);
- ``://`` and ``www.`` (the bare URLs GitHub autolinks).

Then two exact forms are restored, because they carry nothing to load, link or
notify, and the engine's own report needs them to read well: the attribute-less
formatting tags the renderer emits (``<details>``, ``<summary>``, ``<b>``, ``<code>``,
``<br>``; ``<details open>`` or ``<img ...>`` stay broken) and the plain character
entities ``&lt; &gt; &amp; &quot; &#39;``; and links into this repository's own
Actions runs (the "full report in the job summary" link). A Mermaid block that is not
the report's ``xychart-beta`` is shown as text. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.github.bundle import Context, ForkContext, Results

MARK = "\u200b"
"""A zero-width space: invisible, and not part of any markdown or mention syntax."""

ENGINE_TAGS = ("details", "summary", "b", "code", "br")
ENTITIES = ("lt", "gt", "amp", "quot", "#39", "#x27")
_OPENERS = re.compile(r"[@<&]|#(?=\d)|\](?=[(\[:])|:(?=//)|(?i:\bwww)(?=\.)")
_TAGS = re.compile(rf"<{MARK}(/?(?:{'|'.join(ENGINE_TAGS)}))>")
_ENTITIES = re.compile(rf"&{MARK}({'|'.join(ENTITIES)});")
_MERMAID = re.compile(
    r"^( {0,3}(?:`{3,}|~{3,})[ \t]*)mermaid[ \t]*\n(?![ \t]*xychart-beta\b)", re.M
)
_ADVISORY = (
    "> [!NOTE]\n"
    "> This report and its statuses come from the pull request's own run, which ran "
    "the fork's code: they are advisory, posted as `mlops/validate (fork)` and "
    "`mlops/gates (fork)`, never as the checks a merge requires. To accept the change, a "
    "maintainer reads it and pushes its commits to a branch of this repository: that "
    "branch's run sets the required checks. `/promote` recomputes the "
    "gates from the default branch's engine and definitions before anything moves."
)


def neutralize(markdown: str, *, links_under: str = "") -> str:
    """``markdown`` with no live mention, reference, HTML, link or image left (see above).

    ``links_under`` is a URL prefix (``https://github.com/owner/repo/actions/runs/``)
    whose inline links are kept; empty keeps none.
    """
    text = _MERMAID.sub(r"\1text\n", markdown.replace("\r\n", "\n"))
    text = _OPENERS.sub(lambda m: m.group(0) + MARK, text)
    text = _TAGS.sub(r"<\1>", text)
    text = _ENTITIES.sub(r"&\1;", text)
    if links_under.startswith("https://"):
        prefix = _OPENERS.sub(lambda m: m.group(0) + MARK, links_under)
        kept = re.compile(rf"\]{MARK}\(({re.escape(prefix)}[^\s()<>{MARK}]*)\)")
        text = kept.sub(lambda m: "](" + m.group(1).replace(MARK, "") + ")", text)
    return text


def one_line(text: str, limit: int) -> str:
    """``text`` on one line, neutralized, cut to ``limit`` characters (status descriptions)."""
    flat = neutralize(" ".join(text.split()))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def advisory(markdown: str) -> str:
    """The note that says a fork's report is advisory, placed under the report's first line.

    The first line is the report's own hidden marker (rebuilt by the caller), so the note
    comes before anything the bundle wrote and cannot be folded away by its markup.
    """
    first, _, rest = markdown.partition("\n")
    return f"{first}\n{_ADVISORY}\n\n{rest}"


def publishable(
    report: str,
    results: Results,
    *,
    fork: bool,
    run_succeeded: bool,
    links_under: str,
    workflow: str,
) -> tuple[str, Results]:
    """The comment and statuses to post for a bundle, every piece neutralized.

    The report's hidden marker is rebuilt from the checked results (never taken from the
    bundle); a fork's report gets the advisory note, and its statuses say "advisory" and
    go to contexts of their own (``mlops/gates (fork)``): a fork's run executes the fork's
    own workflow file, so it can upload any bundle, and a status it computed must never
    satisfy a branch protection that requires ``mlops/gates`` or ``mlops/validate``. And
    ``mlops/gates`` cannot be ``success`` when the run that wrote the bundle failed (the
    review exits 1 when a gate fails).
    """
    from engine.github.bundle import Status
    from engine.review.report import Marker

    first, _, rest = report.partition("\n")
    body = rest if Marker.parse(first) is not None else report
    marker = Marker(results.repository, results.pr, workflow).render()
    markdown = f"{marker}\n{neutralize(body, links_under=links_under)}"
    if fork:
        markdown = advisory(markdown)
    statuses: dict[Context | ForkContext, Status] = {}
    for context, status in results.statuses.items():
        state, description = status.state, status.description
        if context == "mlops/gates" and state == "success" and not run_succeeded:
            state, description = "failure", "the run failed, yet its bundle says the gates passed"
        prefix = "advisory, from the fork's run: " if fork else ""
        posted = _fork_context(context) if fork else context
        statuses[posted] = Status(state=state, description=one_line(prefix + description, 140))
    return markdown, dataclasses.replace(results, statuses=statuses)


def _fork_context(context: Context | ForkContext) -> ForkContext:
    """The context a fork's status goes to: ``mlops/gates`` becomes ``mlops/gates (fork)``."""
    return "mlops/gates (fork)" if context.startswith("mlops/gates") else "mlops/validate (fork)"


__all__ = ["ENGINE_TAGS", "MARK", "advisory", "neutralize", "one_line", "publishable"]
