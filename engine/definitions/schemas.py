"""The published JSON Schemas, generated from the pydantic models of :mod:`.formats`.

``mlops schemas`` writes them to ``schemas/``; a test fails when the committed files
drift from the models. Editors with a YAML language server pick them up through the
``# yaml-language-server: $schema=...`` modeline at the top of each example file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.definitions.formats import KINDS

BASE_URL = "https://mlops-engine.dev/schemas"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def generate() -> dict[str, dict[str, Any]]:
    """Each definition kind's JSON Schema, keyed by file name (``model.schema.json``)."""
    out: dict[str, dict[str, Any]] = {}
    for kind, model in KINDS.items():
        schema = model.model_json_schema(by_alias=True, mode="validation")
        file = f"{kind}.schema.json"
        out[file] = {"$schema": SCHEMA_DIALECT, "$id": f"{BASE_URL}/{file}", **schema}
    return out


def render(schema: dict[str, Any]) -> str:
    """The canonical text of a schema file (stable, so diffs stay readable)."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(folder: Path) -> list[Path]:
    """Write every schema into ``folder``; return the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for file, schema in generate().items():
        path = folder / file
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written
