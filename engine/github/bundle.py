"""The report bundle: what the unprivileged pull-request job hands to the publishing job.

The ``pull_request`` half writes ``report.md`` and ``results.json`` into a folder the
workflow uploads as an artifact. The ``workflow_run`` half downloads it and must treat
it as untrusted data: code from the pull request produced it. So reading is strict —
size caps, a closed schema, plain values only — and nothing in it is ever executed or
used to choose what runs; it only supplies text to post and statuses to set, and
both are neutralized before posting (``engine.github.untrusted``: no live mention,
HTML, outside link or image; a fork's statuses go to contexts of their own, which no
branch protection requiring ``mlops/gates`` counts).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from engine.errors import UserError

if TYPE_CHECKING:
    from pydantic import BaseModel

REPORT_FILE = "report.md"
RESULTS_FILE = "results.json"
MAX_REPORT = 1024 * 1024
MAX_RESULTS = 1024 * 1024
SHA = r"^[0-9a-f]{40}$"
REPOSITORY = r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"

State = Literal["success", "failure", "error", "pending"]
Verdict = Literal["pass", "fail", "not comparable"]
Context = Literal["mlops/validate", "mlops/gates"]
"""The contexts a review sets; a bundle may name only these."""
ForkContext = Literal["mlops/validate (fork)", "mlops/gates (fork)"]
"""Where a fork's statuses are posted (``engine.github.untrusted``): their own contexts, so
a status computed by a fork's run can never satisfy a required ``mlops/gates``."""

# Plain frozen dataclasses, checked when made: the pull-request job writes a bundle on
# every run, and a run that changes no definition otherwise imports no pydantic. Reading a
# downloaded bundle (untrusted) goes through the closed pydantic models of `_schema`.


@dataclass(frozen=True)
class Status:
    """One commit status to set on the PR head."""

    state: State
    description: str

    def __post_init__(self) -> None:
        if self.state not in get_args(State) or len(self.description) > 140:
            raise ValueError(f"not a commit status GitHub accepts: {self!r}")


@dataclass(frozen=True)
class Results:
    """``results.json``: the verdicts behind the report, as closed, plain data."""

    repository: str
    pr: int
    head_sha: str
    base_sha: str
    verdict: str
    """One of :data:`Verdict`."""
    statuses: dict[Context | ForkContext, Status]
    format: Literal[1] = 1

    def __post_init__(self) -> None:
        ok = (
            re.match(REPOSITORY, self.repository) is not None
            and self.pr > 0
            and all(re.match(SHA, sha) is not None for sha in (self.head_sha, self.base_sha))
            and self.verdict in get_args(Verdict)
            and all(c in get_args(Context) + get_args(ForkContext) for c in self.statuses)
            and all(isinstance(s, Status) for s in self.statuses.values())
            and self.format == 1
        )
        if not ok:
            raise ValueError(f"not the results of a review: {self!r}")

    def as_dict(self) -> dict[str, Any]:
        """``results.json``'s content, its keys in the file's order."""
        out = {"format": self.format, **dataclasses.asdict(self)}
        return {k: out[k] for k in ("format", *(f.name for f in dataclasses.fields(self)))}


def write_bundle(folder: Path, report: str, results: Results) -> None:
    """Write the bundle into ``folder`` (created if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / REPORT_FILE).write_text(report, encoding="utf-8")
    text = json.dumps(results.as_dict(), indent=2, ensure_ascii=False)
    (folder / RESULTS_FILE).write_text(text, encoding="utf-8")


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
    from pydantic import ValidationError

    try:
        report = report_path.read_bytes().decode("utf-8")
        checked: Any = _schema().model_validate(json.loads(results_path.read_bytes()))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise UserError(f"{folder}: the report bundle is not valid UTF-8/JSON ({exc})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UserError(
            f"{results_path}: refusing the report bundle: {where}: {first['msg']}"
        ) from None
    statuses = {c: Status(s.state, s.description) for c, s in checked.statuses.items()}
    results = Results(
        repository=checked.repository,
        pr=checked.pr,
        head_sha=checked.head_sha,
        base_sha=checked.base_sha,
        verdict=checked.verdict,
        statuses=statuses,
        format=checked.format,
    )
    return report, results


@functools.cache
def _schema() -> type[BaseModel]:
    """The closed pydantic model a downloaded ``results.json`` must match (made once)."""
    from pydantic import BaseModel, ConfigDict, Field

    class StatusFile(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        state: State
        description: str = Field(max_length=140)

    class ResultsFile(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        format: Literal[1] = 1
        repository: str = Field(pattern=REPOSITORY)
        pr: int = Field(gt=0)
        head_sha: str = Field(pattern=SHA)
        base_sha: str = Field(pattern=SHA)
        verdict: Verdict
        statuses: dict[Context, StatusFile]

    return ResultsFile
