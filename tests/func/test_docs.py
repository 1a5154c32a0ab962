"""The documentation cannot rot: its shell blocks run, its references are regenerated.

``docs/tutorial.md`` is executed block by block (every fenced ``sh`` block, in order, in
one bash session in an empty folder), with the ``mlops`` a user would have on PATH. The
generated references must match ``mlops docs``, and every error class must have its
entry in the troubleshooting page.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine import errors
from tests.conftest import PROJECT

BIN = Path(sys.executable).parent
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)


def shell_blocks(path: Path) -> list[str]:
    """The fenced ``sh`` blocks of a markdown file, in order."""
    return SH_BLOCK.findall(path.read_text(encoding="utf-8"))


def run_blocks(blocks: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    script = "set -euo pipefail\n" + "\n".join(blocks)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        GIT_AUTHOR_NAME="Ada Lovelace",
        GIT_AUTHOR_EMAIL="ada@example.com",
        GIT_COMMITTER_NAME="Ada Lovelace",
        GIT_COMMITTER_EMAIL="ada@example.com",
        DVC_NO_ANALYTICS="1",
    )
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
def test_the_tutorial_runs_as_written(tmp_path):
    blocks = shell_blocks(PROJECT / "docs/tutorial.md")
    assert len(blocks) >= 5
    done = run_blocks(blocks, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "apartments-ridge@" in done.stdout
    assert "| r2 |" in done.stdout  # the review's gate table
    assert (tmp_path / "shop-dvc-remote").is_dir()


def test_a_failing_block_fails_the_runner(tmp_path):
    done = run_blocks(["true", "mlops frobnicate"], tmp_path)
    assert done.returncode != 0


def test_generated_references_are_up_to_date(mlops):
    done = mlops("--repo", str(PROJECT), "docs", "--check", cwd=PROJECT)
    assert done.returncode == 0, done.stderr + "\nrun `mlops docs` (make docs) and commit"


def test_a_stale_reference_is_caught(tmp_path, mlops):
    (tmp_path / ".git").mkdir()
    (tmp_path / "docs/reference").mkdir(parents=True)
    (tmp_path / "docs/reference/cli.md").write_text("# old\n")
    done = mlops("docs", "--check", cwd=tmp_path)
    assert done.returncode == 1
    assert "out of date: docs/reference/formats.md, docs/reference/cli.md" in done.stderr
    assert mlops("docs", cwd=tmp_path).returncode == 0
    assert mlops("docs", "--check", cwd=tmp_path).returncode == 0


def test_every_error_class_has_a_troubleshooting_entry():
    page = (PROJECT / "docs/troubleshooting.md").read_text(encoding="utf-8")
    classes = [
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, errors.UserError)
    ]
    assert len(classes) >= 5
    missing = [name for name in classes if f"`{name}`" not in page]
    assert not missing, f"docs/troubleshooting.md has no entry for {missing}"


def test_the_format_reference_lists_every_field_and_the_allowed_classes():
    text = (PROJECT / "docs/reference/formats.md").read_text(encoding="utf-8")
    for field in ("primary_metric", "max_null_fraction", "from_default_branch", "remainder"):
        assert f"| `{field}` |" in text
    assert "| `sklearn.preprocessing.OneHotEncoder` |" in text
    assert "| `sklearn.linear_model.Ridge` |" in text


@pytest.mark.slow
def test_the_serving_page_runs_as_written(tmp_path):
    """Serve, query over V1 and V2, read the logs, score a batch, read the manifest."""
    from tests.func.serving import free_port

    blocks = shell_blocks(PROJECT / "docs/serving.md")
    assert len(blocks) >= 6
    port = free_port()
    done = run_blocks([f"export PORT={port}", *blocks], tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert '"model_version"' in done.stdout and '"outputs"' in done.stdout
    assert "proba_1" in done.stdout  # the scored batch's header
    assert "mlops.dev/model: churn-logreg" in done.stdout
    assert "expected an integer" in (tmp_path / "shop" / "serve.log").read_text()  # the 400


# Every `mlops ...` a page tells a user to type, in a code span or a code block: at the
# start of the span or line (after a prompt), or after a shell separator. Prose inside a
# quoted message ("which mlops never follows") is not a command line.
MLOPS_LINE = re.compile(r"^(?:\$ )?mlops\s+(?P<rest>.*)")
# `a && b`, `a; b`, `a | head -n 5`, `$(b)`; not `[--json | --matrix]` nor an escaped `\|`.
SEPARATOR = re.compile(r"&&|\|\||;|\$\(|\)|(?<=\s)\|(?=\s+[a-z])")
CODE_SPAN = re.compile(r"(?<!`)`([^`]+)`(?!`)")  # may go on to the next line
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
LINK = re.compile(r"\]\(([^)\s]+)\)")
# `mlops pull request` is a workflow's name (what `workflow_run` listens for), not a command.
WORKFLOW_NAMES = {
    line.removeprefix("name: mlops ").strip()
    for path in (PROJECT / ".github/workflows").glob("*.yml")
    for line in path.read_text(encoding="utf-8").splitlines()
    if line.startswith("name: mlops ")
}


def documentation_pages() -> list[Path]:
    """The README and every page under docs/ (the generated references included)."""
    return [PROJECT / "README.md", *sorted((PROJECT / "docs").rglob("*.md"))]


def commands_in(code: str) -> list[str]:
    """What follows ``mlops`` in each shell command of one line of code."""
    found = []
    for part in SEPARATOR.split(code):
        match = MLOPS_LINE.match(part.strip())
        if match and match.group("rest").strip() not in WORKFLOW_NAMES:
            found.append(match.group("rest"))
    return found


def command_lines(text: str) -> list[tuple[int, str]]:
    """(line number, what follows ``mlops``) for each command line in code of a page."""
    found: list[tuple[int, str]] = []
    for block in FENCE.finditer(text):
        start = text.count("\n", 0, block.start(1)) + 1
        lines = block.group(1).split("\n")
        for first, code in enumerate(lines):
            if first and lines[first - 1].endswith("\\"):
                continue  # read with the line it continues
            following = iter(lines[first + 1 :])
            while code.endswith("\\"):
                code = code[:-1] + " " + next(following, "")
            found += [(start + first, rest) for rest in commands_in(code)]
    prose = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    for span in CODE_SPAN.finditer(prose):
        line = prose.count("\n", 0, span.start()) + 1
        found += [(line, rest) for rest in commands_in(span.group(1).replace("\n", " "))]
    return found


def unknown_words(rest: str) -> list[str]:
    """What a documented ``mlops`` line names that the real CLI does not have."""
    import click

    from engine.cli import main

    def options(command: click.Command) -> set[str]:
        return {o for p in command.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}

    words = rest.replace("\\|", " ").split()
    while words and words[0].startswith("-"):  # the group's own options before the command
        given = words.pop(0)
        flag = given.split("=")[0]
        if flag not in options(main):
            return [flag]
        if flag in ("--repo", "--log-format") and "=" not in given and words:
            words.pop(0)  # its value
    if not words or not words[0].islower():  # `mlops --repo PATH COMMAND`: a placeholder
        return []
    name = re.sub(r"[^a-z-].*", "", words[0])
    command = main.commands.get(name)
    if command is None:
        return [name]
    known = options(command) | options(main)
    flags = re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", " ".join(words[1:]))
    return [flag for flag in flags if flag not in known]


def test_every_documented_command_line_names_real_commands_and_options():
    """README and docs name only commands and options ``mlops <command> --help`` lists."""
    wrong, seen = [], 0
    for page in documentation_pages():
        for line, rest in command_lines(page.read_text(encoding="utf-8")):
            seen += 1
            bad = unknown_words(rest)
            if bad:
                wrong.append(f"{page.relative_to(PROJECT)}:{line}: mlops {rest.strip()} -> {bad}")
    assert seen >= 100, seen  # the extraction still finds the pages' commands
    assert not wrong, "\n".join(wrong)


def test_the_command_line_check_can_fail():
    text = (
        "Run `mlops train --jobz 2` then\n```sh\nmlops frobnicate && mlops plan \\\n"
        "  --bse X\n```\n"
    )
    assert [(line, unknown_words(rest)) for line, rest in command_lines(text)] == [
        (3, ["frobnicate"]),
        (3, ["--bse"]),
        (1, ["--jobz"]),
    ]
    assert command_lines("`error: x is a link, which mlops never follows`") == []
    assert unknown_words("--repo DIR status --json") == []
    assert unknown_words("--repo=DIR status --json") == []  # its value is in the same word
    assert unknown_words("--log-format json|text COMMAND") == []


def test_links_between_the_pages_resolve():
    """Every relative link of README and docs names a file that exists (and its heading)."""

    def anchors(page: Path) -> set[str]:
        heads = re.findall(r"^#+\s+(.*)$", page.read_text(encoding="utf-8"), re.M)
        return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in heads}

    broken = []
    for page in documentation_pages():
        text = page.read_text(encoding="utf-8")
        for match in LINK.finditer(text):
            url = match.group(1)
            if re.match(r"[a-z]+:", url):
                continue
            path, _, fragment = url.partition("#")
            target = (page.parent / path).resolve() if path else page
            where = f"{page.relative_to(PROJECT)}:{text.count(chr(10), 0, match.start()) + 1}"
            if not target.exists():
                broken.append(f"{where}: {url} does not exist")
            elif fragment and target.suffix == ".md" and fragment not in anchors(target):
                broken.append(f"{where}: {url} names no heading of {path or page.name}")
    assert not broken, "\n".join(broken)


def test_the_files_and_tests_a_page_cites_exist():
    """`engine/...`, `tests/...::test_x` (and `::test_y` after it), `benchmarks/...` and
    `.github/workflows/...` named in README and docs are in the repository."""
    cited = re.compile(r"`((?:engine|tests|benchmarks|\.github)/[\w/.-]+)?(?:::(\w+))?`")
    missing = []
    for page in documentation_pages():
        text, last = page.read_text(encoding="utf-8"), None
        for match in cited.finditer(text):
            path, test = match.groups()
            where = f"{page.relative_to(PROJECT)}:{text.count(chr(10), 0, match.start()) + 1}"
            if path:
                last = path if path.endswith(".py") else None
                if not (PROJECT / path).exists():
                    missing.append(f"{where}: {path}")
            if test and last and f"def {test}(" not in (PROJECT / last).read_text("utf-8"):
                missing.append(f"{where}: {last}::{test}")
    assert not missing, "\n".join(missing)


def test_the_workflow_table_gives_each_workflows_scopes():
    """docs/workflows.md's first table: the scopes of each workflow are its jobs' own."""
    import yaml

    page = (PROJECT / "docs/workflows.md").read_text(encoding="utf-8")
    text = page.split("## Which workflow handles which event", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([\w-]+\.yml)` \|.*\| ([^|]*) \|$", text, re.M)
    assert len(rows) >= 7
    wrong = []
    for name, cell in rows:
        documented = set(re.findall(r"`([a-z-]+: (?:read|write))`", cell))
        workflow = yaml.safe_load((PROJECT / ".github/workflows" / name).read_text("utf-8"))
        granted = {
            f"{scope}: {level}"
            for job in workflow["jobs"].values()
            for scope, level in (job.get("permissions") or {}).items()
        }
        if documented != granted:
            wrong.append(f"{name}: the page says {sorted(documented)}, the jobs {sorted(granted)}")
    assert not wrong, "\n".join(wrong)


def test_the_cli_reference_gives_every_command_its_short_help_option():
    """`-h` works on every command (the group's context settings): the reference says so."""
    from engine.cli import main

    text = (PROJECT / "docs/reference/cli.md").read_text(encoding="utf-8")
    shown = [name for name, command in main.commands.items() if not command.hidden]
    assert text.count("| `-h, --help` | Show this message and exit. |") == len(shown) + 1
    assert "| `--help` |" not in text


def test_every_make_target_a_page_names_is_in_the_makefile():
    """`make demo`, `make test`, `make lock UPGRADE=1`...: each is a target of the Makefile."""
    makefile = (PROJECT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, re.M))
    named = {
        target
        for page in documentation_pages()
        for target in re.findall(r"(?:`|^)make ([a-z][\w-]*)", page.read_text("utf-8"), re.M)
    }
    assert {"demo", "test"} <= named  # the README's two commands
    assert named <= targets, f"not in the Makefile: {sorted(named - targets)}"
