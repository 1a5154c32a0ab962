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
