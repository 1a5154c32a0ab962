"""Slash commands in pull-request comments: from a comment body to typed commands.

The grammar (DESIGN.md section 5), one command per line::

    /promote MODEL[@VERSION] [to] ENV [--canary PERCENT]
    /rollback MODEL [in] ENV [to VERSION]
    /retire MODEL [in] ENV
    /retrain [MODEL...]
    /diff [MODEL] [vs ENV]
    /status
    /help

``parse(body, models, environments, pinned)`` returns, in order, one value per line that
addresses the engine: a command (:class:`Promote`, :class:`Rollback`, :class:`Retire`,
:class:`Retrain`,
:class:`Diff`, :class:`Status`, :class:`Help`) or a :class:`Reply` saying what is wrong
and how to write it (a usage error, an unknown model or environment with "did you
mean", a misspelled command such as ``/promte``). Everything else is ignored: prose,
other bots' commands (``/assign``, ``/lgtm``, ``/retest``...), paths such as ``/usr/bin``.

What counts as a command line (the choices, so users and tests can rely on them):

- it starts with ``/`` after at most 3 spaces (4 spaces or a tab make Markdown code);
- the command word is matched case-insensitively (``/Promote`` is ``/promote``: phones
  capitalise the first letter); names and keywords (``to``, ``in``, ``vs``) are not;
- lines inside fenced code blocks (backticks or tildes, at any indentation, to the
  closing fence or the end of the comment), HTML comments (``<!-- -->``) and quotes
  (``>``) are ignored; a command on the line right after a quote continues the quote
  in Markdown, so it gets a reply asking for a blank line instead of running;
- inline code is never a command: a line starting with a backtick does not start
  with ``/``;
- a command line must be printable ASCII: a zero-width space, a Cyrillic look-alike
  or a null byte gets a reply naming the character, never a guess;
- names must match ``definitions.NAME_PATTERN`` *and* name a known model or
  environment; ``/rollback`` and ``/retire`` also take a model an environment pins
  (``pinned``) that the default branch no longer defines; versions are 7 to 64
  lowercase hex characters;
- at most 5 lines may address the engine; more, and the whole comment is refused with
  one reply (nothing runs), because a partial run of a long list is harder to reason
  about than none;
- only the first 65,536 characters of a body (GitHub's own limit) and the first 1,000
  characters of a line are examined; a command line longer than that gets a reply.

Replies never echo untrusted text unless it is plain and short, and then inside a
code span, so a comment cannot make the engine mention people or post links.
Pure: no I/O. The caller decides whether to run the commands when some lines are
replies (running none is the cautious choice).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from engine.definitions.formats import NAME_PATTERN
from engine.environments.policy import describe
from engine.github.comment_lines import MAX_LINE, candidate_lines

if TYPE_CHECKING:
    from engine.definitions.formats import Environment

MAX_COMMANDS = 5
VERSION_PATTERN = r"^[0-9a-f]{7,64}$"
_PERCENT = re.compile(r"^[1-9][0-9]?$")  # 1 to 99: 100% is a plain promotion

USAGE = {
    "promote": "/promote MODEL[@VERSION] [to] ENV [--canary PERCENT]",
    "rollback": "/rollback MODEL [in] ENV [to VERSION]",
    "retire": "/retire MODEL [in] ENV",
    "retrain": "/retrain [MODEL...]",
    "diff": "/diff [MODEL] [vs ENV]",
    "status": "/status",
    "help": "/help",
}
SUMMARY = {
    "promote": "pin a model version in an environment (default: the version this PR trains); "
    "`--canary 10` first gives it 10% of the traffic beside the live one, promoting again "
    "completes it; in a blue-green environment it loads the version in the idle slot, and "
    "promoting it again switches all traffic to it",
    "rollback": "pin the version that ran before the live one again (a second rollback goes "
    "further back), or the version named; aborts a live canary; "
    "in a blue-green environment, switches back to the slot that stayed loaded",
    "retire": "stop serving a model in an environment (one deleted on the default branch, "
    "say): its pin and manifests are removed from the environment branch",
    "retrain": "retrain ignoring the cache and check that the metrics reproduce",
    "diff": "the metric report for the PR, against an environment",
    "status": "what each environment runs",
    "help": "this message",
}
COMMANDS = tuple(USAGE)

_NAME = re.compile(NAME_PATTERN)
_VERSION = re.compile(VERSION_PATTERN)
_COMMAND = re.compile(r"^( {0,3})/([^ \t]*)[ \t]*(.*)$", re.DOTALL)
_SAFE_ECHO = re.compile(r"^[!-_a-~]{1,64}$")  # printable ASCII but space and backtick


# --- results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Promote:
    """Pin ``model`` (at ``version``, or the PR's version when None) in ``env``."""

    model: str
    version: str | None
    env: str
    canary: int | None = None
    """A canary with this percent of the traffic (1 to 99), or None for a full promotion."""


@dataclass(frozen=True)
class Rollback:
    """Pin the previous version of ``model`` in ``env`` again, or ``to_version``."""

    model: str
    env: str
    to_version: str | None = None


@dataclass(frozen=True)
class Retire:
    """Remove ``model``'s pin and manifests from ``env``: it is no longer served there."""

    model: str
    env: str


@dataclass(frozen=True)
class Retrain:
    """Retrain ``models`` ignoring the cache; empty means the models the PR plans."""

    models: tuple[str, ...] = ()


@dataclass(frozen=True)
class Diff:
    """The metric report for ``model`` (or every model), against ``vs_env`` if given."""

    model: str | None = None
    vs_env: str | None = None


@dataclass(frozen=True)
class Status:
    """The table of what each environment runs."""


@dataclass(frozen=True)
class Help:
    """The grammar and the environments."""


@dataclass(frozen=True)
class Reply:
    """A line that addresses the engine but cannot run: ``message`` says why (markdown).

    ``line`` is the 1-based line of the comment, or 0 for the comment as a whole.
    """

    message: str
    line: int = 0


@dataclass(frozen=True)
class Ignore:
    """A line that does not address the engine."""


Command: TypeAlias = Promote | Rollback | Retire | Retrain | Diff | Status | Help
IGNORE = Ignore()


# --- the comment body -------------------------------------------------------------------


def parse(
    body: str,
    models: Collection[str],
    environments: Collection[str],
    pinned: Collection[str] = (),
) -> list[Command | Reply]:
    """The commands and replies of a comment, in order; empty when nothing addresses us.

    ``pinned``: models some environment pins, accepted by ``/rollback`` and ``/retire``
    although ``models`` (the default branch's) lacks them.
    """
    results: list[Command | Reply] = []
    for number, line, lazy in candidate_lines(body):
        result = parse_line(line, models, environments, number=number, pinned=pinned)
        if isinstance(result, Ignore):
            continue
        if lazy:
            result = _reply(
                number,
                "this line continues the quote above it, so it was not "
                "run: leave a blank line between the quote and the command.",
            )
        results.append(result)
        if len(results) > MAX_COMMANDS:
            return [
                Reply(
                    f"This comment has more than {MAX_COMMANDS} commands; at most "
                    f"{MAX_COMMANDS} are accepted per comment, so none was run. Split them "
                    "over several comments."
                )
            ]
    return results


# --- one line ---------------------------------------------------------------------------


def parse_line(
    line: str,
    models: Collection[str],
    environments: Collection[str],
    *,
    number: int = 0,
    pinned: Collection[str] = (),
) -> Command | Reply | Ignore:
    """One line outside code and quotes: a command, a reply, or ``IGNORE``."""
    match = _COMMAND.match(line[:MAX_LINE].rstrip())
    if match is None:
        return IGNORE
    _, word, rest = match.groups()
    name = word.lower() if word.isascii() else ""
    if name not in USAGE:
        return _misspelled(word, number)
    if len(line) > MAX_LINE:
        return _reply(
            number,
            f"the line is longer than {MAX_LINE:,} characters; write the "
            f"command on a short line: `{USAGE[name]}`.",
        )
    bad = _first_unprintable(rest)
    if bad is not None:
        column = line.index(bad) + 1  # what precedes ``rest`` is plain ASCII
        return _reply(
            number,
            f"`/{name}` contains {_describe(bad)} at column {column}; "
            "commands use plain ASCII only, so retype the line.",
        )
    if name in ("rollback", "retire") and pinned:
        models = list(dict.fromkeys([*models, *sorted(pinned)]))
    return _COMMAND_PARSERS[name](rest.split(), _Names(models, environments, name, number))


def _misspelled(word: str, number: int) -> Reply | Ignore:
    """A reply for a word close to one of our commands; ignore anything else."""
    if not word or len(word) > 32:
        return IGNORE
    close = difflib.get_close_matches(word.lower(), COMMANDS, n=1, cutoff=0.8)
    if not close:
        return IGNORE
    odd = _first_unprintable(word)
    what = f"`/{word}`" if _SAFE_ECHO.match(word) else "this word"
    note = f" (it contains {_describe(odd)})" if odd is not None else ""
    return _reply(
        number,
        f"{what} is not a command{note}; did you mean `/{close[0]}`? "
        f"Usage: `{USAGE[close[0]]}`; `/help` lists every command.",
    )


def _first_unprintable(text: str) -> str | None:
    """The first character that is neither printable ASCII nor a tab, or None."""
    for char in text:
        if not (" " <= char <= "~" or char == "\t"):
            return char
    return None


def _describe(char: str) -> str:
    """A character by code point and name: ``U+200B ZERO WIDTH SPACE``."""
    name = unicodedata.name(char, "control character")
    return f"U+{ord(char):04X} {name}"


def _reply(number: int, text: str) -> Reply:
    """A reply about line ``number`` (or the whole comment when 0)."""
    return Reply(f"Line {number}: {text}" if number else text[0].upper() + text[1:], number)


def _echo(token: str) -> str:
    """Untrusted text for a reply: in a code span when plain and short, else described."""
    return f"`{token}`" if _SAFE_ECHO.match(token) else "that word"


# --- arguments --------------------------------------------------------------------------

KEYWORDS = frozenset({"to", "in", "vs"})


class _Names:
    """Checks the names and versions of one command line against what exists."""

    def __init__(
        self, models: Collection[str], environments: Collection[str], command: str, number: int
    ) -> None:
        self.models, self.environments = models, environments
        self.command, self.number = command, number

    def usage(self, problem: str) -> Reply:
        """A usage error with the correct usage."""
        return _reply(self.number, f"{problem}. Usage: `{USAGE[self.command]}`")

    def model(self, token: str) -> str | Reply:
        """``token`` when it names a known model, else a reply."""
        return self._known(token, self.models, "model")

    def env(self, token: str) -> str | Reply:
        """``token`` when it names a known environment, else a reply."""
        if token in KEYWORDS and token not in self.environments:
            return self.usage(f"an environment is missing after `{token}`")
        return self._known(token, self.environments, "environment")

    def version(self, token: str) -> str | Reply:
        """``token`` when it has the shape of a version, else a reply."""
        if _VERSION.match(token):
            return token
        return self.usage(
            f"{_echo(token) if token else 'an empty word'} is not a version: "
            "versions are 7 to 64 lowercase hex characters, such as `1a2b3c4d5e6f`"
        )

    def _known(self, token: str, known: Collection[str], kind: str) -> str | Reply:
        if not _NAME.match(token):
            return self.usage(
                f"{_echo(token)} is not a valid {kind} name (letters, digits, "
                "`.`, `_` or `-`, at most 64)"
            )
        if token in known:
            return token
        return _reply(self.number, f"there is no {kind} `{token}`{_suggest(token, known, kind)}")


def _suggest(token: str, known: Collection[str], kind: str) -> str:
    """``; did you mean `x`?`` for close names, else the list of known names."""
    lower = token.lower()
    close = [name for name in known if name.lower() == lower]
    if not close:  # "prod" is far from "production" for difflib, but plainly meant
        close = difflib.get_close_matches(token, list(known), n=3, cutoff=0.6)
        close += sorted(n for n in known if n.lower().startswith(lower) and n not in close)
    if close:
        return "; did you mean " + " or ".join(f"`{name}`" for name in close[:3]) + "?"
    if not known:
        return f"; no {kind}s are defined."
    names = sorted(known)
    listed = ", ".join(f"`{name}`" for name in names[:10])
    more = f" and {len(names) - 10} more" if len(names) > 10 else ""
    return f"; the {kind}s are {listed}{more}."


def _promote(args: list[str], names: _Names) -> Command | Reply:
    canary = None
    if len(args) >= 2 and args[-2] == "--canary":
        if not _PERCENT.match(args[-1]):
            return names.usage("`--canary` takes a percent of the traffic from 1 to 99")
        canary, args = int(args[-1]), args[:-2]
    if len(args) == 3 and args[1] == "to":
        args = [args[0], args[2]]
    if len(args) != 2:
        return names.usage("`/promote` takes a model and an environment")
    model_token, at, version_token = args[0].partition("@")
    model = names.model(model_token)
    if isinstance(model, Reply):
        return model
    version = names.version(version_token) if at else None
    if isinstance(version, Reply):
        return version
    env = names.env(args[1])
    return env if isinstance(env, Reply) else Promote(model, version, env, canary)


def _rollback(args: list[str], names: _Names) -> Command | Reply:
    tail = args[1:]
    if len(tail) in (2, 4) and tail[0] == "in":
        tail = tail[1:]
    if not (len(tail) == 1 or (len(tail) == 3 and tail[1] == "to")):
        return names.usage("`/rollback` takes a model, an environment and maybe a version")
    model = names.model(args[0])
    if isinstance(model, Reply):
        return model
    env = names.env(tail[0])
    if isinstance(env, Reply):
        return env
    version = names.version(tail[2]) if len(tail) == 3 else None
    return version if isinstance(version, Reply) else Rollback(model, env, version)


def _retire(args: list[str], names: _Names) -> Command | Reply:
    if len(args) == 3 and args[1] == "in":
        args = [args[0], args[2]]
    if len(args) != 2:
        return names.usage("`/retire` takes a model and an environment")
    model = names.model(args[0])
    if isinstance(model, Reply):
        return model
    env = names.env(args[1])
    return env if isinstance(env, Reply) else Retire(model, env)


def _retrain(args: list[str], names: _Names) -> Command | Reply:
    models: list[str] = []
    for token in args:
        model = names.model(token)
        if isinstance(model, Reply):
            return model
        if model not in models:
            models.append(model)
    return Retrain(tuple(models))


def _diff(args: list[str], names: _Names) -> Command | Reply:
    model_token, env_token = None, None
    if args == ["vs"] and "vs" not in names.models:
        return names.usage("an environment is missing after `vs`")
    if len(args) == 1:
        model_token = args[0]
    elif len(args) == 2 and args[0] == "vs":
        env_token = args[1]
    elif len(args) == 3 and args[1] == "vs":
        model_token, env_token = args[0], args[2]
    elif args:
        return names.usage("`/diff` takes a model, `vs` and an environment, each optional")
    model = None if model_token is None else names.model(model_token)
    if isinstance(model, Reply):
        return model
    env = None if env_token is None else names.env(env_token)
    return env if isinstance(env, Reply) else Diff(model, env)


def _status(args: list[str], names: _Names) -> Command | Reply:
    return names.usage("`/status` takes no arguments") if args else Status()


def _help(args: list[str], names: _Names) -> Command | Reply:
    return Help()  # a request for help is never wrong, whatever follows it


_COMMAND_PARSERS = {
    "promote": _promote,
    "rollback": _rollback,
    "retire": _retire,
    "retrain": _retrain,
    "diff": _diff,
    "status": _status,
    "help": _help,
}


# --- replies ----------------------------------------------------------------------------

_BLOCK_START = re.compile(r"(#{1,6} |\||>|[-*+] |\d+[.)] |```|~~~|<)")


def addressed(login: str, message: str) -> str:
    """The reply to ``login``: a mention, then ``message``.

    GitHub renders a heading, table, list, quote or fence only at the start of a line:
    after ``@login `` on the same line a report's ``### ...`` heading shows its hashes and
    a table's header row gains a cell, so the table is not drawn. Such a message starts
    on a line of its own; a sentence follows the mention.
    """
    if _BLOCK_START.match(message):
        return f"@{login}\n\n{message}"
    return f"@{login} {message}"


# --- help -------------------------------------------------------------------------------


def help_text(
    models: Collection[str], environments: Collection[str] | Mapping[str, Environment]
) -> str:
    """The grammar, the environments (with their policies when given) and the models."""
    lines = [
        "### Commands",
        "",
        f"One command per line, at the start of the line; at most {MAX_COMMANDS} per comment. "
        "Lines in code blocks and quotes are ignored.",
        "",
        "| command | what it does |",
        "| --- | --- |",
        *(f"| `{USAGE[name]}` | {SUMMARY[name]} |" for name in COMMANDS),
        "",
        "### Environments",
        "",
    ]
    if not environments:
        lines.append("No environments are defined: add them to `mlops/project.yaml`.")
    for name in sorted(environments):
        env = environments[name] if isinstance(environments, Mapping) else None
        lines.append(f"- `{name}`" + ("" if env is None else f": {describe(env)}"))
    lines += ["", "### Models", ""]
    listed = ", ".join(f"`{name}`" for name in sorted(models))
    lines.append(listed or "No models are defined yet.")
    return "\n".join(lines) + "\n"
