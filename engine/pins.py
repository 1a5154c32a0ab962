"""Deployment pins: what an environment branch runs, in ``mlops/deployments/<model>.yaml``.

An environment branch (``env/staging``...) owns only these files; the default branch
never contains ``mlops/deployments/``. A pin names the stored version (its fingerprint)
and carries the lineage of the promotion. Everything else about a pinned version (its
definition, features, dataset) is read at the pin's ``source_commit``, never from the
environment branch's tree. Parsing and rendering are pure; reading a branch is done by
:func:`read_pins` through the git seam.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from engine.errors import DefinitionError, UserError
from engine.yamlfile import YamlProblem, parse

FOLDER = "mlops/deployments"


class Pin(BaseModel):
    """One model pinned in one environment, with the lineage of how it got there."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    model: str
    version: str = Field(description="The short version id (first 12 hex of the fingerprint).")
    fingerprint: str = Field(pattern=r"^[0-9a-f]{64}$")
    environment: str
    source_commit: str = Field(description="The commit the version was trained from.")
    pr: int | None = None
    promoted_by: str = ""
    promoted_at: str = ""
    metrics: dict[str, float | None] = Field(default_factory=dict)
    previous: str | None = Field(None, description="The fingerprint pinned before this one.")
    action: str = "promote"


def pin_path(model: str) -> str:
    """The repository path of a model's pin file."""
    return f"{FOLDER}/{model}.yaml"


def render(pin: Pin) -> str:
    """The pin as YAML text (stable key order, readable in a diff)."""
    import yaml

    data = pin.model_dump(mode="json")
    header = f"# Pinned by mlops: {pin.model}@{pin.version} in {pin.environment}. Do not edit.\n"
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def parse_pin(data: bytes, path: str) -> Pin:
    """Parse a pin file; a broken one is a located error (someone edited the branch)."""
    try:
        doc = parse(data, path)
        return Pin.model_validate(doc.value)
    except YamlProblem as exc:
        raise DefinitionError(exc.problem.render()) from None
    except ValueError as exc:
        raise DefinitionError(
            f"{path}: not a valid pin ({exc}); restore it from the branch's history"
        ) from None


def read_pins(root: Path, branch: str) -> dict[str, Pin] | None:
    """Every pin on ``branch`` (local, else ``origin/<branch>``); None if the branch is absent."""
    from engine import gitrepo

    for ref in (branch, f"origin/{branch}"):
        try:
            files = gitrepo.read_tree(root, ref, prefixes=(f"{FOLDER}/",), suffixes=())
        except UserError:
            continue
        pins = {}
        for path, data in files.items():
            if path.endswith((".yaml", ".yml")):
                pin = parse_pin(data, path)
                pins[pin.model] = pin
        return pins
    return None
