"""The ``mlops`` command: a thin shell over :mod:`engine.api`.

Start-up stays lean: only click is imported here; each command imports what it needs
when it runs. One boundary turns :class:`~engine.errors.UserError` into a red line and
exit 1; anything else is an internal error, shown in full with ``--traceback``.
Exit codes: 0 success, 1 the input or a gate said no, 2 usage.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from contextlib import nullcontext, suppress
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """What every command gets: the repository root and the output switches."""

    def __init__(self, repo: Path | None, traceback: bool):
        self._repo = repo
        self.traceback = traceback

    @property
    def root(self) -> Path:
        # From the git seam, not engine.api: the API imports training, which a command
        # that trains nothing (the event on a pull request that changes no model) skips.
        from engine.gitrepo import find_root

        return find_root(self._repo or Path.cwd())


def boundary(func: F) -> F:
    """Run a command; turn user errors into a message and exit 1, never a traceback."""

    @wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        from engine.errors import UserError

        ctx = click.get_current_context().find_object(Context)
        try:
            return func(*args, **kwargs)
        except UserError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(1)
        except (click.exceptions.Exit, click.ClickException, KeyboardInterrupt, SystemExit):
            raise
        except BrokenPipeError:
            # The reader left (`mlops history M | head`): nothing more can be said to it,
            # and the interpreter's final flush must not fail again on the closed pipe.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(1)
        except Exception as exc:
            if ctx is not None and ctx.traceback:
                raise
            click.secho(f"unexpected error: {type(exc).__name__}: {exc}", fg="red", err=True)
            click.echo("This is a bug in mlops; rerun with --traceback and report it.", err=True)
            sys.exit(1)

    return run  # type: ignore[return-value]


def skip_teardown() -> None:
    """End this command without the interpreter's teardown, when ``mlops`` owns the process.

    A command that imported scikit-learn, pandas and pyarrow spends a tenth of a second or
    more after its work tearing down modules nobody will use again (their memory goes back
    to the system at exit anyway), and pyarrow's thread pools can abort the process while
    C++ statics are destroyed ("terminate called without an active exception",
    apache/arrow#34314) after all the work is done and printed. :class:`_Main` ends such
    a command with :func:`_exit_now`, once click has closed its contexts.
    """
    global _teardown_skipped
    _teardown_skipped = True


_teardown_skipped = False


def _exit_now(code: object) -> None:
    """Leave with ``code`` as the interpreter's normal exit would, minus the teardown.

    The ``atexit`` handlers run first (logging's flush, temporary folders' cleanup,
    joining multiprocessing's children), then the Python and C output buffers are
    flushed. Returns instead, for the normal exit, when that exit would do more: another
    thread still runs (the interpreter would wait for it), the code is a message to
    print, or the output cannot be flushed (it reports that).
    """
    import atexit
    import threading

    if code is not None and not isinstance(code, int):
        return
    main_thread = threading.main_thread()
    if any(t is not main_thread and t.is_alive() and not t.daemon for t in threading.enumerate()):
        return
    run_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_handlers is None:
        return
    run_handlers()
    try:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        return
    if "ctypes" in sys.modules:  # what a C library wrote through stdio
        import ctypes

        with suppress(Exception):
            ctypes.CDLL(None).fflush(None)
    os._exit(code or 0)


class _Main(click.Group):
    """The ``mlops`` group; ends a command that asked it to without the teardown.

    Only when it owns the process: run as the console script (or ``python -m
    engine.cli``), reading ``sys.argv`` in standalone mode; a caller that passes the
    arguments (click's test runner, a Python user) gets the usual ``SystemExit``.
    """

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        except SystemExit as exc:
            if _teardown_skipped and args is None and standalone_mode:
                _exit_now(exc.code)
            raise


def emit_json(data: Any) -> None:
    """Print ``data`` as one JSON document: indented for a person at a terminal, compact
    for a program reading a pipe or a file (as ``gh --json`` does; ``jq .`` indents it).

    The indented form is json's pure-Python encoder, the compact one its C encoder: a
    plan of 5,000 models is encoded in 0.1 s or in 0.035 s.
    """
    indent = 2 if sys.stdout.isatty() else None
    separators = None if indent else (",", ":")
    click.echo(json.dumps(data, indent=indent, separators=separators, default=str))


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    help="The repository (default: the git repository around the current folder).",
)
@click.option("--traceback", is_flag=True, help="Show the full traceback of internal errors.")
@click.option(
    "--log-format",
    "log_format",
    type=click.Choice(["none", "text", "json"]),
    default="none",
    envvar="MLOPS_LOG_FORMAT",
    show_default=True,
    help="Also print the engine's action log on stderr (it always goes to "
    ".mlops/logs/engine.jsonl).",
)
@click.version_option(package_name="mlops-engine", prog_name="mlops")
@click.pass_context
def main(ctx: click.Context, repo: Path | None, traceback: bool, log_format: str) -> None:
    """GitOps for machine learning: validate, plan, train, compare and promote models
    kept as files in git.

    Every --json output is indented on a terminal and compact when piped or written to
    a file (`jq .` indents it)."""
    ctx.obj = Context(repo, traceback)
    # pydantic looks for plugins the first time it builds a model, which reads the entry
    # points of every installed distribution (30-60 ms here); the engine uses none. A user
    # who wants one sets the variable (to "" for all of them).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from engine.collector import skip_the_last_collection

    skip_the_last_collection()
    if log_format != "none":
        from engine import audit

        audit.configure(log_format)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--rev", help="Validate the definitions and data at this git revision.")
@click.option("--no-data", is_flag=True, help="Check the definitions only, not the data.")
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
@click.pass_obj
@boundary
def validate(
    obj: Context, paths: tuple[Path, ...], rev: str | None, no_data: bool, as_json: bool
) -> None:
    """Check definitions, references, estimators and data; report every problem at once."""
    from engine import api

    root = obj.root
    if rev is None:
        _paths_exist(root, paths)
    result = api.validate(root, rev=rev, data=not no_data, paths=paths)
    if rev is not None:
        _paths_exist(root, paths, rev)  # once the revision is known to be one
    skip_teardown()  # thousands of parsed definitions need no freeing one by one
    if as_json:
        emit_json(result.as_dict())
    else:
        for problem in result.problems:
            click.echo(problem.render())
        if os.environ.get("GITHUB_ACTIONS") == "true":
            for problem in result.problems:
                click.echo(problem.annotation())
        click.echo(result.summary(), err=True)
    sys.exit(1 if result.errors else 0)


@main.command()
@click.option("--check", is_flag=True, help="Fail if the committed schemas are out of date.")
@click.pass_obj
@boundary
def schemas(obj: Context, check: bool) -> None:
    """Write the JSON Schemas of the definition formats to schemas/."""
    from engine.definitions import schemas as sch

    folder = obj.root / "schemas"
    if check:
        stale = [
            f
            for f, s in sch.generate().items()
            if not (folder / f).is_file() or (folder / f).read_text() != sch.render(s)
        ]
        if stale:
            click.echo(f"out of date: {', '.join(stale)}; run `mlops schemas`", err=True)
            sys.exit(1)
        return
    for path in sch.write(folder):
        click.echo(f"wrote {path.relative_to(obj.root)}")


@main.command()
@click.option("--check", is_flag=True, help="Fail if the committed references are out of date.")
@click.pass_context
@boundary
def docs(ctx: click.Context, check: bool) -> None:
    """Write the generated references (file formats, CLI, comments) to docs/reference/."""
    from engine.reference import generate

    root = ctx.find_object(Context)
    assert root is not None
    files = generate(main)
    if check:
        stale = [p for p, text in files.items() if _read(root.root / p) != text]
        if stale:
            click.echo(f"out of date: {', '.join(stale)}; run `mlops docs`", err=True)
            sys.exit(1)
        return
    for path, text in files.items():
        (root.root / path).parent.mkdir(parents=True, exist_ok=True)
        (root.root / path).write_text(text, encoding="utf-8")
        click.echo(f"wrote {path}")


def _paths_exist(root: Path, paths: tuple[Path, ...], rev: str | None = None) -> None:
    """Each path validate is asked about names a file or folder (at ``rev``): a misspelt
    one would otherwise hold no problem and pass."""
    from engine.errors import UserError
    from engine.gitrepo import run_git

    for path in paths:
        where = Path.cwd() / path
        if rev is None:
            if not where.exists():
                raise UserError(f"{path} does not exist: name a definition file or folder")
            continue
        with suppress(ValueError):  # one outside the repository: validate said so already
            inside = where.resolve().relative_to(root).as_posix()
            if (
                inside != "."
                and run_git(root, "cat-file", "-e", f"{rev}:{inside}", check=False).returncode
            ):
                raise UserError(
                    f"{path} does not exist at {rev}: name a definition file or folder there"
                )


def _one_format(**chosen: bool) -> None:
    """Output formats are alternatives: two at once is a usage error, not one dropped."""
    given = [f"--{name}" for name, on in chosen.items() if on]
    if len(given) > 1:
        raise click.UsageError(f"{' and '.join(given)} are two formats: give one")


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


@main.command()
@click.option("--base", required=True, help="The revision to compare against (e.g. origin/main).")
@click.option("--head", help="The revision to plan (default: the working tree).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option(
    "--matrix", is_flag=True, help="Print a GitHub Actions matrix of the models to train."
)
@click.pass_obj
@boundary
def plan(obj: Context, base: str, head: str | None, as_json: bool, matrix: bool) -> None:
    """List the models a change affects, and why."""
    _one_format(json=as_json, matrix=matrix)
    from engine.training.plan import plan_matrix, plan_to_json
    from engine.training.planning import compute_plan

    result = compute_plan(obj.root, base, head)
    skip_teardown()  # thousands of parsed definitions need no freeing one by one
    if matrix:
        click.echo(json.dumps(plan_matrix(result), separators=(",", ":")))
    elif as_json:
        emit_json(plan_to_json(result))
    else:
        from engine.render import plan_text

        click.echo(plan_text(result))
    sys.exit(1 if result.problems or any(m.status == "invalid" for m in result.models) else 0)


@main.command()
@click.argument("models", nargs=-1)
@click.option("--rev", help="Train the definitions at this git revision.")
@click.option("--force", is_flag=True, help="Retrain even when the version is stored.")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 64),
    help="Models trained at once, each in its own process [default: one per CPU this "
    "process may use].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_obj
@boundary
def train(
    obj: Context,
    models: tuple[str, ...],
    rev: str | None,
    force: bool,
    jobs: int | None,
    as_json: bool,
) -> None:
    """Train, evaluate and store every model version not already in the store."""
    from engine import api
    from engine.render import outcome_line, training_text
    from engine.terminal import progress

    skip_teardown()  # the heavy libraries are loaded by the time it ends

    with progress("training", show=not as_json) as step:
        result = api.train(
            obj.root,
            models or None,  # no name on the command line: every model
            rev=rev,
            force=force,
            jobs=jobs,
            progress=lambda outcome: step(outcome_line(outcome)),
        )
    if as_json:
        emit_json(result.as_dict())
    else:
        click.echo(training_text(result))
    sys.exit(1 if result.failed else 0)


@main.command()
@click.argument("model", required=False)
@click.option("--sort", "sort_by", help="Sort by this column (a metric, created, ...).")
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the runs as CSV.")
@click.pass_obj
@boundary
def runs(obj: Context, model: str | None, sort_by: str | None, as_json: bool, as_csv: bool) -> None:
    """List stored versions with their params, metrics, data hash and commit."""
    _one_format(json=as_json, csv=as_csv)
    from engine import api
    from engine.training.runs import runs_table, to_csv

    rows = runs_table(api.stored_versions(obj.root, model), sort_by=sort_by)
    if as_json:
        emit_json(rows)
    elif as_csv:
        click.echo(to_csv(rows), nl=False)
    else:
        _show_runs(rows, "no stored versions yet: run `mlops train`")


def _show_runs(rows: list[dict[str, Any]], empty: str) -> None:
    """A runs table: plain fixed-width text, or a rich table on a terminal."""
    from engine.render import runs_cells, runs_text
    from engine.terminal import show_table

    if not rows:
        click.echo(empty)
        return
    columns, cells = runs_cells(rows)
    # On a narrow terminal the lineage goes first; the metrics are what a table is read for.
    lineage = ("data_hash", "dataset", "commit", "source", "author", "by", "created", "when")
    show_table(runs_text(rows), columns, cells, drop_first=lineage)


@main.command()
@click.argument("models", nargs=-1)
@click.option(
    "--base",
    help="The revision to compare against (default: the merge base with the default branch).",
)
@click.option("--head", help="The revision to review (default: the working tree).")
@click.option(
    "--vs",
    "vs",
    multiple=True,
    help="Compare head with what this environment runs, for every model whose version "
    "differs there (repeatable: the first is the reference, the others are shown beside "
    "it; without it: head against the base, with every environment beside). A pinned "
    "version missing from the store is retrained at its source commit, as deploy does.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON.")
@click.pass_obj
@boundary
def diff(
    obj: Context,
    models: tuple[str, ...],
    base: str | None,
    head: str | None,
    vs: tuple[str, ...],
    as_json: bool,
) -> None:
    """Compare metrics of the changed models: base vs head vs each environment."""
    from engine import api

    result = api.diff(obj.root, base=base, head=head, vs=vs, models=models)
    if as_json:
        emit_json(result.as_dict())
    else:
        click.echo(result.markdown)
    sys.exit(0 if result.ok else 1)


@main.command()
@click.option(
    "--keep",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Build the demo repository in this new folder and keep it to explore "
    "(default: a temporary folder, deleted at the end).",
)
@boundary
def demo(folder: Path | None) -> None:
    """Run the whole lifecycle on a throwaway local repository."""
    from engine import demo as lifecycle

    lifecycle.run(click.echo, keep=folder)


@main.command()
@click.option(
    "--bundle",
    type=click.Path(file_okay=False, path_type=Path),
    help="The report bundle folder: written on pull_request, read on workflow_run.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines as text or as JSON objects.",
)
@click.pass_obj
@boundary
def event(obj: Context, bundle: Path | None, log_format: str) -> None:
    """Handle the GitHub Actions event in GITHUB_EVENT_NAME / GITHUB_EVENT_PATH."""
    # The two halves of a pull request's review run on every push and are mostly start-up
    # (a pull request that moves no model is all start-up); the others may work for long.
    light = os.environ.get("GITHUB_EVENT_NAME") in ("pull_request", "workflow_run")
    from engine.collector import collecting_rarely

    skip_teardown()  # the GitHub client and its HTTP stack are loaded by the end (~10 ms)

    with collecting_rarely() if light else nullcontext():
        from engine.github.actions import Runtime
        from engine.github.context import Context as EventContext
        from engine.github.workflow import handle

        env = dict(os.environ)
        runtime = Runtime(env, log_format)
        if log_format == "json":
            from engine import audit

            audit.configure("json")
        outcome = handle(EventContext(obj.root, env, runtime, bundle))
    sys.exit(outcome.exit_code)


@main.command()
@click.argument("model")
@click.option("--to", "env_name", required=True, help="The environment to promote to.")
@click.option("--rev", default="HEAD", show_default=True, help="The commit to promote from.")
@click.option("--version", help="Refuse unless the model's version at REV starts with this.")
@click.option(
    "--canary",
    type=click.IntRange(1, 99),
    help="Run it beside the live version with this percent of the traffic "
    "(strategy: canary); promote again without it to complete.",
)
@click.option(
    "--switch",
    is_flag=True,
    help="Promote the version staged in the idle slot, whatever REV is: all traffic "
    "moves to it (strategy: blue-green).",
)
@click.pass_obj
@boundary
def promote(
    obj: Context,
    model: str,
    env_name: str,
    rev: str,
    version: str | None,
    canary: int | None,
    switch: bool,
) -> None:
    """Pin a model's version in an environment branch, if the policy allows."""
    from engine.environments.operations import Request, local_actor, promote_model
    from engine.forge.local import LocalForge

    root = obj.root
    request = Request(
        model=model,
        environment=env_name,
        actor=local_actor(root),
        source=rev,
        version=version,
        canary=canary,
        switch=switch,
    )
    if switch and canary is not None:
        raise click.UsageError("--switch and --canary are two strategies: give one")
    result = promote_model(root, request, forge=LocalForge(root))
    click.echo(result.message())
    sys.exit(0 if result.decision.allowed else 1)


@main.command()
@click.argument("model")
@click.option("--env", "env_name", required=True, help="The environment to roll back.")
@click.option(
    "--to", "to", help="The version to go back to (default: the one that ran before the live one)."
)
@click.pass_obj
@boundary
def rollback(obj: Context, model: str, env_name: str, to: str | None) -> None:
    """Pin the previous (or a named) version again, as a new commit."""
    from engine.environments.operations import local_actor, rollback_model
    from engine.forge.local import LocalForge

    root = obj.root
    result = rollback_model(
        root, model=model, env_name=env_name, actor=local_actor(root), to=to, forge=LocalForge(root)
    )
    click.echo(result.message())


@main.command()
@click.argument("model")
@click.option("--env", "env_name", required=True, help="The environment to stop serving it in.")
@click.pass_obj
@boundary
def retire(obj: Context, model: str, env_name: str) -> None:
    """Stop serving a model in an environment: remove its pin and manifests, as a new commit.

    For a model deleted on the default branch, which environments keep serving until it
    is retired there. Promoting a version again (`mlops promote --rev`) brings it back.
    """
    from engine.environments.operations import local_actor, retire_model
    from engine.forge.local import LocalForge

    root = obj.root
    result = retire_model(
        root, model=model, env_name=env_name, actor=local_actor(root), forge=LocalForge(root)
    )
    click.echo(result.message())


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print every serving version as JSON.")
@click.pass_obj
@boundary
def status(obj: Context, as_json: bool) -> None:
    """What each environment runs: version, metric, who promoted it and when."""
    if as_json:
        from engine.environments.operations import status_data

        emit_json(status_data(obj.root))
        return
    from engine.environments.operations import status_table
    from engine.terminal import show_table

    table, _, notes = status_table(obj.root).partition("\n\n")
    show_table(table)  # the notes under it (a model to retire) stay plain text
    if notes:
        click.echo("\n" + notes)


@main.command()
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="Print the events as JSON.")
@click.pass_obj
@boundary
def history(obj: Context, model: str, as_json: bool) -> None:
    """Training, promotions, rollbacks and retirements of one model, newest first."""
    from engine.environments.operations import history as events

    rows = events(obj.root, model)
    if as_json:
        emit_json(rows)
        return
    _show_runs(rows, f"no history for {model!r} yet")


@main.command()
@click.argument("ref", metavar="MODEL[@VERSION]")
@click.option("--html", "as_html", is_flag=True, help="Print a standalone HTML page.")
@click.pass_obj
@boundary
def card(obj: Context, ref: str, as_html: bool) -> None:
    """The model card of a version (default: the newest): metrics, lineage, environments."""
    from engine.environments.cards import card as model_card
    from engine.environments.cards import to_html

    text = model_card(obj.root, ref)
    click.echo(to_html(text) if as_html else text, nl=False)


@main.command(name="deploy")
@click.option("--env", "env_name", required=True, help="The environment to deploy.")
@click.pass_obj
@boundary
def deploy_command(obj: Context, env_name: str) -> None:
    """Make the versions an environment branch pins ready to serve, in .mlops/deploy/ENV.

    The deployment and its status are recorded on GitHub with GITHUB_TOKEN (the deploy
    workflow), else in .mlops/outbox/deployments.json. In GitHub Actions, ENV must be the
    environment whose branch the run is on.
    """
    from engine.environments.deploy import checked_environment, recorded_deploy
    from engine.environments.operations import trusted_project
    from engine.forge import Forge
    from engine.forge.local import LocalForge

    env = dict(os.environ)
    env_name = checked_environment(trusted_project(obj.root), env_name, env)
    forge: Forge = LocalForge(obj.root)
    if env.get("GITHUB_TOKEN") and env.get("GITHUB_REPOSITORY"):
        from engine.forge.github import GitHubForge

        forge = GitHubForge.from_env(env, bot_login=env.get("MLOPS_BOT_LOGIN"))
    server, repo, run = (
        env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    log_url = f"{server}/{repo}/actions/runs/{run}" if server and repo and run else None
    result, notes = recorded_deploy(obj.root, env_name, forge, log_url=log_url)
    click.echo("\n".join([result.summary(), *notes]))
    sys.exit(0 if result.ok else 1)


@main.command(name="init")
@click.option(
    "--remote",
    metavar="URL",
    help="The DVC remote for data and models (default: a folder beside the repository).",
)
@click.option("--force", is_flag=True, help="Replace files that exist with other content.")
@click.option(
    "--engine",
    "requirement",
    metavar="REQUIREMENT",
    help="What the workflows pip-install (default: this engine's exact version).",
)
@click.pass_obj
@boundary
def init_command(obj: Context, remote: str | None, force: bool, requirement: str | None) -> None:
    """Set up this git repository: definitions, example data, workflows, DVC remote, schemas.

    Safe to run again: files that exist are kept unless --force; identical ones untouched.
    On a repository set up and committed before (an engine upgrade), only the workflows
    and schemas are written, and --force replaces only those.
    """
    from engine.scaffold import engine_owned, init, next_steps

    report = init(obj.root, remote=remote, force=force, requirement=requirement)
    for path in report.written:
        click.echo(f"wrote {path}")
    for path in report.kept:
        if engine_owned(path):
            how = (
                "it differs from this engine's: `mlops init --force` replaces it, "
                "then `git diff` shows what changed"
            )
        else:
            how = "it differs; --force replaces it"
        click.echo(f"kept {path} ({how})")
    if report.unchanged:
        click.echo(f"{len(report.unchanged)} file(s) already up to date")
    for step in report.steps:
        click.echo(f"ran {step}")
    click.echo("")
    click.echo(next_steps(report.remote_url, upgrade=report.upgrade and report.had_workflows))


@main.command(name="monitor")
@click.argument("models", nargs=-1)
@click.option("--env", "env_name", required=True, help="The environment whose pins to monitor.")
@click.option(
    "--current",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A batch of current inputs (.csv or .parquet); with the target column, also labels.",
)
@click.option(
    "--current-dataset",
    metavar="NAME@REV",
    help="A dataset as it is at a git revision (its DVC pointer there names the bytes), "
    "e.g. customers@main or customers@3f2c1e0.",
)
@click.option(
    "--logs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Prediction logs (JSON lines or KServe CloudEvents): a file or a folder; repeatable.",
)
@click.option(
    "--labels",
    type=click.Path(path_type=Path, dir_okay=False),
    help="True labels keyed by request_id (.csv or .jsonl), joined with the logs.",
)
@click.option(
    "--since",
    help="Judge drift and health on predictions since: an ISO 8601 time, or a span (24h, "
    "7d); labels also join earlier ones.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--html",
    "html_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write a self-contained HTML report with charts to this file.",
)
@click.option("--fail-on-drift", is_flag=True, help="Exit 1 when any model drifted or degraded.")
@click.pass_obj
@boundary
def monitor_command(
    obj: Context,
    models: tuple[str, ...],
    env_name: str,
    current: Path | None,
    current_dataset: str | None,
    logs: tuple[Path, ...],
    labels: Path | None,
    since: str | None,
    as_json: bool,
    html_file: Path | None,
    fail_on_drift: bool,
) -> None:
    """Data drift, prediction drift, data quality, service health and live performance."""
    from engine.monitoring import report
    from engine.monitoring.logs import parse_since
    from engine.monitoring.monitor import Current, monitor, now

    if sum((current is not None, bool(logs), current_dataset is not None)) != 1:
        raise click.UsageError(
            "give one of --current FILE (a batch), --current-dataset NAME@REV (a dataset at "
            "a git revision) or --logs DIR (prediction logs)"
        )
    if labels is not None and (current is not None or current_dataset is not None):
        raise click.UsageError(
            "--labels goes with --logs; a batch carries its labels as the target"
        )
    at: tuple[str, str] | None = None
    if current_dataset is not None:
        name, _, rev = current_dataset.rpartition("@")
        if not name or not rev:
            raise click.UsageError(
                f"--current-dataset {current_dataset!r}: write NAME@REV, e.g. customers@main"
            )
        at = (name, rev)
    start = parse_since(since, now()) if since else None
    chosen = Current(current, logs, labels, start, dataset=at)
    outcomes = monitor(obj.root, env_name, chosen, models=models)
    if html_file is not None:
        from engine.monitoring.page import html

        partial = html_file.with_name(html_file.name + ".partial")
        partial.write_text(html(outcomes), encoding="utf-8")
        partial.replace(html_file)
    if as_json:
        emit_json(report.as_dict(outcomes))
    else:
        click.echo(report.markdown(outcomes), nl=False)
    skip_teardown()
    sys.exit(1 if fail_on_drift and any(o.alarming for o in outcomes) else 0)


@main.command(name="serve")
@click.option("--env", "env_name", required=True, help="The environment whose pins to serve.")
@click.option("--model", "models", multiple=True, help="Serve only this pinned model (repeatable).")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="The port to listen on.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes sharing the port.",
)
@click.option(
    "--log-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where prediction logs go (default: .mlops/logs in the repository).",
)
@click.option(
    "--max-body-bytes",
    default=8 * 1024 * 1024,
    show_default=True,
    type=click.IntRange(1),
    help="Larger request bodies are answered 413.",
)
@click.option(
    "--slot",
    type=click.Choice(["blue", "green"]),
    help="Serve this blue-green slot's version under the model's name (the cluster runs "
    "one slot per InferenceService); default: the live slot, each slot also as MODEL-SLOT.",
)
@click.option(
    "--reload-every",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds between checks of the environment branch; new pins are loaded, "
    "verified, then served (0: never).",
)
@click.option(
    "--model-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Serve the one version in this folder, with no repository (what a KServe pod "
    "runs on /mnt/models): needs one --model, --fingerprint, --sha256 and --pinned, "
    "which the manifest promotion writes carries.",
)
@click.option("--fingerprint", help="With --model-dir: the version's fingerprint.")
@click.option("--sha256", help="With --model-dir: the sha256 the pin records for its model file.")
@click.option(
    "--pinned",
    help="With --model-dir: the serving spec (JSON) from the manifest: version, task, columns.",
)
@click.pass_obj
@boundary
def serve_command(
    obj: Context,
    env_name: str,
    models: tuple[str, ...],
    host: str,
    port: int,
    workers: int,
    log_dir: Path | None,
    max_body_bytes: int,
    slot: str | None,
    reload_every: float,
    model_dir: Path | None,
    fingerprint: str | None,
    sha256: str | None,
    pinned: str | None,
) -> None:
    """Serve the versions ENV pins with KServe's model server (V1, V2, /metrics)."""
    from engine.serving.logs import DEFAULT_FOLDER
    from engine.serving.server import serve, serve_dir

    if model_dir is not None:
        if len(models) != 1 or not (fingerprint and sha256 and pinned) or slot:
            raise click.UsageError(
                "--model-dir serves one version: give one --model, --fingerprint, --sha256 "
                "and --pinned (as the manifest promotion writes does), and no --slot"
            )
        serve_dir(
            model_dir,
            env_name,
            models[0],
            fingerprint=fingerprint,
            sha256=sha256,
            pinned=pinned,
            host=host,
            port=port,
            workers=workers,
            log_dir=log_dir,
            max_body_bytes=max_body_bytes,
            announce=lambda line: click.echo(line, err=True),
        )
        return
    if fingerprint or sha256 or pinned:
        raise click.UsageError("--fingerprint, --sha256 and --pinned go with --model-dir")
    root = obj.root
    serve(
        root,
        env_name,
        host=host,
        port=port,
        workers=workers,
        log_dir=log_dir or root / DEFAULT_FOLDER,
        max_body_bytes=max_body_bytes,
        models=models,
        announce=lambda line: click.echo(line, err=True),
        reload_every=reload_every,
        slot=slot,
    )


@main.command(name="predict")
@click.argument("model")
@click.option("--env", "env_name", required=True, help="The environment whose pin to use.")
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A CSV or Parquet file of rows to score.",
)
@click.option(
    "--output",
    "output_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the scores (.csv or .parquet; default: CSV on stdout).",
)
@click.option("--chunk-rows", default=65536, show_default=True, type=click.IntRange(1), hidden=True)
@click.option(
    "--log-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where prediction logs go (default: .mlops/logs in the repository).",
)
@click.pass_obj
@boundary
def predict_command(
    obj: Context,
    model: str,
    env_name: str,
    input_path: Path,
    output_path: Path | None,
    chunk_rows: int,
    log_dir: Path | None,
) -> None:
    """Score a CSV or Parquet file with the version MODEL has in ENV, in chunks."""
    from engine.serving.batch import predict_file
    from engine.serving.logs import DEFAULT_FOLDER

    root = obj.root
    result = predict_file(
        root,
        model,
        env_name,
        input_path,
        output_path,
        chunk_rows=chunk_rows,
        log_dir=log_dir or root / DEFAULT_FOLDER,
        progress=sys.stdout.isatty() and output_path is not None,
    )
    if output_path is not None:
        click.echo(result.summary(), err=True)


if __name__ == "__main__":  # `python -m engine.cli ...`, as the demo starts `mlops serve`
    main()
