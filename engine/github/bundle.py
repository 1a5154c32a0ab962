"""The report bundle: what the unprivileged pull-request job hands to the publishing job.

The ``pull_request`` half writes ``report.md`` and ``results.json`` into a folder the
workflow uploads as an artifact. The ``workflow_run`` half downloads it and must treat
it as untrusted data: code from the pull request produced it. So reading is strict —
size caps, a closed schema, plain values only — and nothing in it is ever executed or
used to choose what runs; it only supplies text to post and statuses to set, and
both are neutralized before posting (``engine.github.untrusted``: no live mention,
HTML, outside link or image; a fork's statuses are marked advisory).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.errors import UserError

REPORT_FILE = "report.md"
RESULTS_FILE = "results.json"
MAX_REPORT = 1024 * 1024
MAX_RESULTS = 1024 * 1024
SHA = r"^[0-9a-f]{40}$"

State = Literal["success", "failure", "error", "pending"]


class Status(BaseModel):
    """One commit status to set on the PR head."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    state: State
    description: str = Field(max_length=140)


class Results(BaseModel):
    """``results.json``: the verdicts behind the report, as closed, plain data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal[1] = 1
    repository: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    pr: int = Field(gt=0)
    head_sha: str = Field(pattern=SHA)
    base_sha: str = Field(pattern=SHA)
    verdict: Literal["pass", "fail", "not comparable"]
    statuses: dict[Literal["mlops/validate", "mlops/gates"], Status]


def write_bundle(folder: Path, report: str, results: Results) -> None:
    """Write the bundle into ``folder`` (created if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / REPORT_FILE).write_text(report, encoding="utf-8")
    (folder / RESULTS_FILE).write_text(results.model_dump_json(indent=2), encoding="utf-8")


def read_bundle(folder: Path) -> tuple[str, Results]:
    """Read a downloaded bundle as untrusted data; refuse anything out of shape."""
    report_path, results_path = folder / REPORT_FILE, folder / RESULTS_FILE
    for path, cap in ((report_path, MAX_REPORT), (results_path, MAX_RESULTS)):
        if path.is_symlink() or not path.is_file():
            raise UserError(
                f"{path}: missing from the report bundle (or not a plain file): "
                "did the pull-request workflow upload it?"
            )
        if path.stat().st_size > cap:
            raise UserError(
                f"{path}: {path.stat().st_size:,} bytes is over the {cap:,}-byte "
                "cap for a report bundle; refusing it"
            )
    try:
        report = report_path.read_bytes().decode("utf-8")
        results = Results.model_validate(json.loads(results_path.read_bytes()))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise UserError(f"{folder}: the report bundle is not valid UTF-8/JSON ({exc})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UserError(
            f"{results_path}: refusing the report bundle: {where}: {first['msg']}"
        ) from None
    return report, results
