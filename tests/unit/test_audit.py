"""The action log's module on its own: the JSON line, outcomes, rotation read-back."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from engine import audit
from engine.errors import UserError


def test_an_action_writes_one_line_with_every_field_in_order(tmp_path: Path) -> None:
    with audit.action(tmp_path, "deploy", model="m", environment="e", commit="a" * 40) as entry:
        entry.version = "0123456789ab"
    (line,) = audit.read(tmp_path)
    assert list(line) == list(audit.FIELDS)
    assert (line["action"], line["version"], line["outcome"]) == ("deploy", "0123456789ab", "ok")
    assert line["commit"] == "a" * 40 and line["duration"] >= 0


@pytest.mark.parametrize(
    ("error", "outcome"), [(UserError("no"), "refused"), (KeyError("x"), "error")]
)
def test_a_raising_action_is_logged_and_the_error_propagates(
    tmp_path: Path, error: Exception, outcome: str
) -> None:
    with pytest.raises(type(error)), audit.action(tmp_path, "promote", model="m"):
        raise error
    assert [x["outcome"] for x in audit.read(tmp_path)] == [outcome]


def test_rotated_files_are_read_oldest_first_and_bad_lines_skipped(tmp_path: Path) -> None:
    path = tmp_path / audit.LOG_FILE
    path.parent.mkdir(parents=True)
    path.with_name("engine.jsonl.1").write_text('{"action": "train", "n": 1}\nnot json\n[1]\n')
    path.write_text('{"action": "promote", "n": 2}\n')
    assert [x["n"] for x in audit.read(tmp_path)] == [1, 2]


def test_the_json_formatter_prints_entries_and_plain_records() -> None:
    formatter = audit.JsonFormatter()
    entry = audit.Entry(time="t", run_id="r", action="monitor", outcome="drift")
    record = logging.LogRecord("mlops.audit", logging.INFO, __file__, 1, "msg", (), None)
    record.audit = entry
    assert json.loads(formatter.format(record))["outcome"] == "drift"
    plain = logging.LogRecord("x", logging.WARNING, __file__, 1, "hello %s", ("you",), None)
    assert json.loads(formatter.format(plain))["message"] == "hello you"
