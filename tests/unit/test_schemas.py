"""The published JSON Schemas: generated from the pydantic models, committed, and in
agreement with the loader on real files."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from engine.definitions.formats import kind_of
from engine.definitions.loading import load
from engine.definitions.schemas import generate, render
from engine.definitions.yamlfile import YamlProblem, parse

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "mlops").rglob("*.yaml"))
CORPUS = sorted((ROOT / "tests" / "corpus").rglob("*.yaml"))


def test_committed_schemas_match_the_models():
    for file, schema in generate().items():
        committed = (ROOT / "schemas" / file).read_text()
        assert committed == render(schema), f"schemas/{file} drifted: run `mlops schemas`"


def test_schemas_are_valid_and_carry_descriptions_for_editors():
    for schema in generate().values():
        jsonschema.Draft202012Validator.check_schema(schema)
    model = generate()["model.schema.json"]
    assert model["properties"]["estimator"]
    assert "description" in model["$defs"]["Estimator"]["properties"]["class"]
    assert model["$defs"]["Estimator"]["properties"]["class"]["examples"]


def test_examples_carry_the_schema_modeline():
    for path in EXAMPLES:
        first = path.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_is_valid_for_its_schema(path):
    kind = kind_of(str(path.relative_to(ROOT)))
    schema = generate()[f"{kind}.schema.json"]
    jsonschema.validate(yaml.safe_load(path.read_text()), schema)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_schema_and_loader_agree_on_the_corpus(path):
    """A corpus file the schema rejects is one the loader rejects too."""
    kind_dir = path.parent.name
    repo_path = f"mlops/{kind_dir}/{path.name}"
    try:
        # Our parser first: yaml.safe_load would expand the alias bomb until memory runs out.
        value = parse(path.read_bytes(), repo_path).value
    except YamlProblem:
        return  # refused before any schema applies; test_yamlfile covers these
    if not isinstance(value, dict):
        return
    schema = generate()[f"{kind_of(repo_path)}.schema.json"]
    schema_ok = jsonschema.Draft202012Validator(schema).is_valid(
        json.loads(json.dumps(value, default=str))
    )
    loaded = load({repo_path: path.read_bytes()})
    if not schema_ok:
        assert loaded.problems, f"{path.name}: the schema rejects it but the loader accepts it"


def test_the_agreement_test_is_not_vacuous():
    """The schema itself rejects corpus files, so the agreement above is really tested."""
    rejected = []
    for path in CORPUS:
        repo_path = f"mlops/{path.parent.name}/{path.name}"
        try:
            value = parse(path.read_bytes(), repo_path).value
        except YamlProblem:
            continue
        schema = generate()[f"{kind_of(repo_path)}.schema.json"]
        if not jsonschema.Draft202012Validator(schema).is_valid(value):
            rejected.append(path.name)
    assert {"unknown-keys.yaml", "wrong-types.yaml", "both-sources.yaml"} <= set(rejected)
