"""The CLI as a whole: every command documented, start-up lean, usage errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from engine.cli import main


def test_every_command_has_help():
    for name, command in main.commands.items():
        assert command.help and command.help.strip(), f"`mlops {name}` has no help text"
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output


def test_every_option_has_help():
    for name, command in main.commands.items():
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.help and param.help.strip(), (
                    f"`mlops {name} {param.opts[0]}` has no help"
                )


def test_help_imports_no_heavy_library():
    code = (
        "import sys; from engine.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('pydantic', 'sklearn', 'pandas', 'pyarrow', 'dvc', 'scipy',"
        " 'numpy', 'git', 'github3', 'skops', 'rich') if m in sys.modules]\n"
        "print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr


PAUSED = """
import gc, os
from engine.collector import collecting_rarely
normal = gc.get_threshold()
with collecting_rarely():
    assert gc.isenabled() and gc.get_threshold() == (normal[0] * 100, *normal[1:])
    pid = os.fork()  # what a training worker does (multiprocessing's fork context)
    if pid == 0:
        os._exit(0 if gc.get_threshold() == normal else 3)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0, "the worker collects rarely"
    with collecting_rarely():  # nested: one pause
        assert gc.get_threshold()[0] == normal[0] * 100
    assert gc.get_threshold()[0] == normal[0] * 100
assert gc.get_threshold() == normal
try:
    with collecting_rarely():
        raise KeyError
except KeyError:
    assert gc.get_threshold() == normal  # an error ends the pause too
import weakref
class Node: pass
with collecting_rarely():
    kept = [[] for _ in range(5000)]
    node = Node(); node.me = node; ref = weakref.ref(node); del node
assert gc.get_count()[0] < 100, gc.get_count()  # the block's objects are not pending
gc.collect()
assert ref() is None  # a cycle made in the block is still freed by a full collection
gc.disable()
with collecting_rarely():
    assert gc.get_threshold() == normal
assert not gc.isenabled()  # a pause leaves a collector it found off, off
print("ok")
"""


def test_start_up_collects_rarely_and_a_forked_worker_as_usual():
    done = subprocess.run([sys.executable, "-c", PAUSED], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr


LEAVING = """
import gc
from engine.collector import collecting_rarely

with collecting_rarely():
    kept = [[] for _ in range(5000)]  # what a command allocates and keeps: modules...
    before = sum(s["collections"] for s in gc.get_stats())
more = [[] for _ in range(10)]  # an allocation after the pause
print(sum(s["collections"] for s in gc.get_stats()) - before)
"""


def test_leaving_a_pause_collects_nothing_of_what_it_kept():
    """The pull-request events exit right after their pause: restoring the thresholds must
    not make the next allocation collect everything they imported (20-30 ms of a no-op
    event, to free nothing)."""
    done = subprocess.run([sys.executable, "-c", LEAVING], capture_output=True, text=True)
    assert done.stdout.split() == ["0"], done.stdout + done.stderr


FROZEN = """
import gc, os, weakref
from engine.collector import frozen_for_children
class Node: pass
node = Node(); node.me = node; ref = weakref.ref(node); del node  # a cycle, unreachable
heap = gc.get_freeze_count() + sum(gc.get_count())
with frozen_for_children():
    assert gc.get_freeze_count() > 0
    pid = os.fork()  # a training worker
    if pid == 0:
        mine = [[] for _ in range(100)]
        gc.collect()  # examines what the worker made, not the inherited heap
        os._exit(0 if ref() is not None and gc.get_freeze_count() > 0 else 3)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    with frozen_for_children():  # nested, or frozen by a fork server: left as it is
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() > 0
assert gc.get_freeze_count() == 0
gc.collect()
assert ref() is None  # the parent still frees the cycle made before the block
print("ok")
"""


def test_training_workers_leave_the_inherited_heap_to_the_parent():
    done = subprocess.run([sys.executable, "-c", FROZEN], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr


def test_usage_errors_exit_2(repo, mlops):
    assert mlops("train", "--jobs", "0", cwd=repo).returncode == 2
    assert mlops("frobnicate", cwd=repo).returncode == 2


@pytest.mark.parametrize(
    "args", [("plan", "--base", "HEAD", "--json", "--matrix"), ("runs", "--json", "--csv")]
)
def test_two_output_formats_at_once_are_a_usage_error(repo, mlops, args):
    """The README gives them as alternatives (`[--json | --matrix]`): one is not dropped."""
    done = mlops(*args, cwd=repo)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{args[-2]} and {args[-1]} are two formats: give one" in done.stderr
    assert done.stdout == ""


def test_json_is_indented_for_a_person_and_compact_for_a_program(repo, mlops):
    import json
    import pty

    piped = mlops("plan", "--base", "HEAD", "--json", cwd=repo)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.count("\n") == 1 and piped.stdout.startswith('{"base":')  # one line
    # on a terminal: the same document, indented
    leader, follower = pty.openpty()
    code = "from engine.cli import main; main(['plan', '--base', 'HEAD', '--json'])"
    with subprocess.Popen([sys.executable, "-c", code], cwd=repo, stdout=follower) as proc:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            chunks.append(chunk)
    os.close(leader)
    shown = b"".join(chunks).decode().replace("\r\n", "\n")
    assert proc.returncode == 0 and shown.startswith('{\n  "base": ')
    assert json.loads(shown) == json.loads(piped.stdout)


def test_history_of_an_unknown_model_says_which_models_exist(repo, mlops):
    result = mlops("history", "iris-logrg", cwd=repo)
    assert result.returncode == 1
    assert "unknown model 'iris-logrg' (did you mean 'iris-logreg'?)" in result.stderr
    assert "Traceback" not in result.stderr
    known = mlops("history", "iris-logreg", cwd=repo)
    assert known.returncode == 0, known.stderr


def test_promotion_in_a_local_repository_says_what_happened_here(repo, mlops):
    """Issue 11: without GitHub, `mlops promote` said "Dispatched deploy.yml" (nothing
    runs), suggested a `/promote` comment, and spoke of "the pull request"."""
    staged = mlops("promote", "iris-logreg", "--to", "staging", cwd=repo)
    assert staged.returncode == 0, staged.stdout + staged.stderr
    assert "Dispatched" not in staged.stdout
    assert "`mlops deploy --env staging` deploys it" in staged.stdout

    version = staged.stdout.split("`")[3]
    wrong = mlops("promote", "iris-logreg", "--to", "staging", "--version", "abc", cwd=repo)
    assert wrong.returncode == 1
    assert f"`--version {version}` to promote this one" in wrong.stdout
    assert "pull request" not in wrong.stdout

    refused = mlops("promote", "wine-knn", "--to", "production", cwd=repo)
    assert refused.returncode == 1
    assert "`mlops promote wine-knn --to staging --version " in refused.stdout
    assert "/promote wine-knn@" not in refused.stdout and "this PR" not in refused.stdout

    back = mlops("rollback", "iris-logreg", "--env", "staging", cwd=repo)
    assert back.returncode == 1 and "Traceback" not in back.stderr  # only one version pinned


PLUGIN = """
from pathlib import Path
Path({mark!r}).write_text("loaded")
class Plugin:
    def new_schema_validator(self, *args, **kwargs):
        return None, None, None
plugin = Plugin()
"""


def test_pydantic_plugins_are_not_looked_for_unless_asked(repo, mlops, tmp_path):
    """Looking costs a scan of every installed distribution's entry points on each
    command; a plugin is still loaded when the user sets PYDANTIC_DISABLE_PLUGINS."""
    site = tmp_path / "site"
    (site / "spy_plugin-1.0.dist-info").mkdir(parents=True)
    (site / "spy_plugin-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: spy-plugin\nVersion: 1.0\n"
    )
    (site / "spy_plugin-1.0.dist-info" / "entry_points.txt").write_text(
        "[pydantic]\nspy = spy_plugin:plugin\n"
    )
    mark = tmp_path / "loaded"
    (site / "spy_plugin.py").write_text(PLUGIN.format(mark=str(mark)))
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    quiet = mlops("validate", "--no-data", cwd=repo, env=env)
    assert quiet.returncode == 0, quiet.stderr
    assert not mark.exists()
    asked = mlops("validate", "--no-data", cwd=repo, env={**env, "PYDANTIC_DISABLE_PLUGINS": ""})
    assert asked.returncode == 0, asked.stderr
    assert mark.read_text() == "loaded"


# A command that loaded the heavy libraries ends without the interpreter's teardown
# (engine.cli.skip_teardown): atexit handlers run and output is flushed, but C exit
# handlers (where C++ static destructors run, pyarrow's among them) do not; here the C
# handler is abort(), so a teardown shows as SIGABRT. With another thread alive, or
# called with arguments (a test runner, a Python user), it exits as usual.
EXIT = """
import atexit, ctypes, sys, threading
from engine.cli import main

libc = ctypes.CDLL(None)
libc.__cxa_atexit(libc.abort, None, None)  # glibc's atexit(): runs after the teardown
atexit.register(lambda: print("atexit handler ran"))
if sys.argv[1] == "thread":
    # alive until the main thread ends: the interpreter's exit waits for it
    waits = threading.main_thread().join
    threading.Thread(target=lambda: (waits(), print("thread finished"))).start()
sys.argv = ["mlops", "--repo", sys.argv[2], "train"]
print("printed before", end=" ")  # block-buffered into a pipe: lost unless flushed
main()
"""


def _exit_run(mode: str, repo: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", EXIT, mode, str(repo)], capture_output=True, text=True
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's __cxa_atexit")
def test_train_exits_without_teardown_but_flushed(tmp_path):
    from tests.conftest import init_repo

    repo = init_repo(tmp_path / "repo", examples=False)
    done = _exit_run("plain", repo)
    assert done.returncode == 0, done.stderr  # not -SIGABRT: no teardown
    assert done.stdout.startswith("printed before nothing to train"), done.stdout
    assert done.stdout.rstrip().endswith("atexit handler ran")

    with_thread = _exit_run("thread", repo)  # the interpreter must wait for the thread
    assert with_thread.returncode == -signal.SIGABRT, with_thread.stderr
    assert "thread finished" in with_thread.stdout and "atexit handler ran" in with_thread.stdout


def test_train_called_with_arguments_exits_as_usual(tmp_path):
    from tests.conftest import init_repo

    repo = init_repo(tmp_path / "repo", examples=False)
    result = CliRunner().invoke(main, ["--repo", str(repo), "train"])  # this process lives on
    assert result.exit_code == 0 and "nothing to train" in result.output


def test_usable_cpus_follows_the_affinity_mask():
    code = (
        "import os; from engine.training.workers import usable_cpus\n"
        "os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]}); print(usable_cpus())"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "1", done.stderr
