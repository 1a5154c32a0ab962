"""The GitHub Actions runtime: step summary, step outputs, log groups, structured logs.

Everything here degrades to plain terminal output when not running under Actions, so
the same handlers run on a laptop. Files named by ``GITHUB_STEP_SUMMARY`` and
``GITHUB_OUTPUT`` are appended to, as the runner expects.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

SUMMARY_LIMIT = 1024 * 1024  # the runner refuses step summaries over 1 MiB


@dataclass
class Runtime:
    """Where this run reports to: terminal, step summary, step outputs, log format."""

    env: Mapping[str, str]
    log_format: str = "text"
    stream: TextIO = field(default_factory=lambda: sys.stderr)

    @property
    def on_actions(self) -> bool:
        """Whether we run inside GitHub Actions."""
        return self.env.get("GITHUB_ACTIONS") == "true"

    def log(self, message: str, **fields: Any) -> None:
        """One log line: text, or a JSON object with run id, event and ``fields``."""
        if self.log_format == "json":
            record = {
                "time": datetime.now(UTC).isoformat(timespec="seconds"),
                "run_id": self.env.get("GITHUB_RUN_ID", ""),
                "event": self.env.get("GITHUB_EVENT_NAME", ""),
                "sha": self.env.get("GITHUB_SHA", ""),
                "message": message,
                **fields,
            }
            print(json.dumps(record, default=str), file=self.stream, flush=True)
        else:
            extra = " ".join(f"{k}={v}" for k, v in fields.items() if v not in (None, ""))
            print(f"{message}{' ' + extra if extra else ''}", file=self.stream, flush=True)

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        """Fold the lines logged inside into one ``::group::`` under Actions."""
        if self.on_actions and self.log_format == "text":
            print(f"::group::{title}", file=self.stream, flush=True)
            try:
                yield
            finally:
                print("::endgroup::", file=self.stream, flush=True)
        else:
            self.log(title)
            yield

    def summary(self, markdown: str) -> None:
        """Append ``markdown`` to the job summary (cut to the runner's 1 MiB limit)."""
        path = self.env.get("GITHUB_STEP_SUMMARY")
        if not path:
            return
        data = markdown.encode()
        if len(data) > SUMMARY_LIMIT:
            # cut on a character boundary: half a UTF-8 sequence is not text
            kept = data[: SUMMARY_LIMIT - 200].decode("utf-8", "ignore").encode()
            data = kept + b"\n\n_The summary was cut at 1 MiB._\n"
        with Path(path).open("ab") as out:
            out.write(data + b"\n")

    def outputs(self, values: Mapping[str, Any]) -> None:
        """Write step outputs (``name=value``; multi-line values with a delimiter)."""
        path = self.env.get("GITHUB_OUTPUT")
        if not path:
            return
        with Path(path).open("a", encoding="utf-8") as out:
            for name, value in values.items():
                text = value if isinstance(value, str) else json.dumps(value)
                if "\n" in text:
                    delimiter = f"ghadelimiter_{uuid.uuid4().hex}"
                    out.write(f"{name}<<{delimiter}\n{text}\n{delimiter}\n")
                else:
                    out.write(f"{name}={text}\n")

    def annotate(self, problems: list[Any]) -> None:
        """Annotations for located problems (``::error file=...``) under Actions."""
        if self.on_actions:
            for problem in problems:
                print(problem.annotation(), file=sys.stdout, flush=True)
