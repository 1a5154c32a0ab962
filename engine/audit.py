"""One structured log: a JSON line per engine action, so a team can rebuild any decision.

Every action the engine takes on a model (validate, train, promote, rollback, retire, deploy,
monitor, alert) ends in exactly one :class:`Entry`: when, which run, what, on which
model/version/environment/commit, by whom, how it ended and how long it took. Entries go
through Python's :mod:`logging` (logger ``mlops.audit``), so the usual handlers apply;
:func:`configure` prints them on stderr as JSON lines (``--log-format json``) or text,
and every entry is also appended to ``<repo>/.mlops/logs/engine.jsonl`` (rotated at
10 MB, five old files kept), which ``mlops history`` reads back.

Call it at the API/operations level, once per action::

    with audit.action(root, "promote", model=m, environment=e) as entry:
        ...
        entry.version = fingerprint

A commit given as a revision (``HEAD``, a branch) is written as the full commit id;
none given means the working tree's ``HEAD``. An exception marks the entry ``error``
(``refused`` for a :class:`UserError`) and propagates; the line is written either way.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from engine.errors import UserError

LOG_FILE = Path(".mlops") / "logs" / "engine.jsonl"
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5
FIELDS = (
    "time",
    "run_id",
    "action",
    "model",
    "version",
    "environment",
    "commit",
    "actor",
    "outcome",
    "duration",
)
logger = logging.getLogger("mlops.audit")
logger.propagate = False
RUN_ID = os.environ.get("GITHUB_RUN_ID") or uuid.uuid4().hex[:12]
"""One id per process (the Actions run id when there is one): joins a run's lines."""


@dataclass
class Entry:
    """One action, as logged; the field order is the JSON line's."""

    time: str
    run_id: str
    action: str
    model: str | None = None
    version: str | None = None
    environment: str | None = None
    commit: str | None = None
    actor: str | None = None
    outcome: str = "ok"
    duration: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The JSON object of the line."""
        return asdict(self)


class JsonFormatter(logging.Formatter):
    """A record as one JSON line: the audit entry when it carries one, else the message."""

    def format(self, record: logging.LogRecord) -> str:
        entry = getattr(record, "audit", None)
        if isinstance(entry, Entry):
            return json.dumps(entry.as_dict(), ensure_ascii=False)
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="seconds")
        return json.dumps(
            {"time": stamp, "level": record.levelname, "message": record.getMessage()}
        )


def configure(log_format: str) -> None:
    """Print entries on stderr: ``json`` lines, ``text``, or nothing (``none``, the default)."""
    for handler in [h for h in logger.handlers if getattr(h, "_mlops_console", False)]:
        logger.removeHandler(handler)
    if log_format == "none":
        return
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter("mlops: %(message)s")
    )
    handler._mlops_console = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def now() -> str:
    """UTC now, ISO 8601 to the millisecond."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def actor() -> str:
    """Who acts: the Actions actor, else the local user."""
    return os.environ.get("GITHUB_ACTOR") or os.environ.get("USER") or "local"


@functools.cache
def _commit(root: Path, rev: str | None) -> str | None:
    """``rev`` (the working tree's HEAD when None) as a full commit id, when git knows it."""
    if rev is not None and re.fullmatch(r"[0-9a-f]{40}", rev):
        return rev
    done = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{rev or 'HEAD'}^{{commit}}"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or rev


def write(root: Path, entry: Entry) -> None:
    """Log ``entry`` (console handlers) and append it to the repository's ``engine.jsonl``."""
    logger.setLevel(logging.INFO)
    entry.commit = _commit(root, entry.commit)
    message = " ".join(f"{k}={v}" for k, v in entry.as_dict().items() if v not in (None, ""))
    record = logger.makeRecord(
        logger.name, logging.INFO, __file__, 0, message, (), None, extra={"audit": entry}
    )
    logger.handle(record)
    path = root / LOG_FILE
    try:
        # private: the prediction logs beside this one hold request inputs (personal data)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handler = RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
    except OSError:
        return  # a read-only checkout still runs; the console lines remain
    handler.setFormatter(JsonFormatter())
    try:
        handler.handle(record)
    finally:
        handler.close()


@contextmanager
def action(root: Path, name: str, **fields: Any) -> Iterator[Entry]:
    """Time the block and write its one :class:`Entry` when it ends (see the module doc)."""
    entry = Entry(time=now(), run_id=RUN_ID, action=name, **{"actor": actor(), **fields})
    started = time.perf_counter()
    try:
        yield entry
    except UserError:
        entry.outcome = "refused"
        raise
    except BaseException:
        entry.outcome = "error"
        raise
    finally:
        entry.duration = round(time.perf_counter() - started, 3)
        write(root, entry)


def record(root: Path, name: str, *, duration: float = 0.0, **fields: Any) -> Entry:
    """Write one finished action (for a batch that reports per model, as training does)."""
    entry = Entry(time=now(), run_id=RUN_ID, action=name, **{"actor": actor(), **fields})
    entry.duration = round(duration, 3)
    write(root, entry)
    return entry


def read(root: Path) -> list[dict[str, Any]]:
    """Every entry of ``engine.jsonl`` and its rotated files, oldest first; bad lines skipped."""
    path = root / LOG_FILE
    files = [path.with_name(f"{path.name}.{i}") for i in range(BACKUPS, 0, -1)] + [path]
    entries = []
    for file in files:
        if not file.is_file():
            continue
        for line in file.read_text("utf-8", errors="replace").splitlines():
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict) and "action" in data:
                entries.append(data)
    return entries
