"""The schema of ``meta.json``: the pydantic twin of :mod:`engine.training.records`.

Built on first need (:func:`schema`), so that importing this module imports no pydantic:
the plain records read the form the engine writes themselves and hand everything else to
these models, which convert, refuse (with pydantic's own message) and write ``meta.json``.
The models keep the records' class names, which pydantic's messages carry. Pure: no I/O.
"""

from __future__ import annotations

import functools
import math
import typing
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pydantic import BaseModel

RECORD_FORMAT = 1
"""The version of the ``meta.json`` layout; a store refuses records from a newer one."""
FINGERPRINT_PATTERN = r"^[0-9a-f]{64}$"
SHORT = 12
"""Length of the user-facing version id: the fingerprint's first characters."""

Label = str | int | float | bool


@functools.cache
def schema() -> dict[str, type[BaseModel]]:
    """The pydantic twin of the records, by class name: the schema of ``meta.json``."""
    from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

    class _Base(BaseModel):
        # Extra keys are ignored so that an older engine can still list a newer record.
        model_config = ConfigDict(extra="ignore", frozen=True)

    class Candidate(_Base):
        params: dict[str, Any]
        mean_score: float | None = None
        std_score: float | None = None

    class SearchRecord(_Base):
        scoring: str = ""
        candidates: list[Candidate] = Field(default_factory=list)
        best: Candidate

    class RowsRecord(_Base):
        key: Literal["id", "content"]
        columns: list[str] = Field(
            description="The id column, or every column whose content the identity hashes."
        )
        train: int = 0
        test: int = 0

    class VersionRecord(_Base):
        format: int = RECORD_FORMAT
        model: str
        fingerprint: str = Field(pattern=FINGERPRINT_PATTERN)
        created: str = Field(description="When it was trained: ISO 8601, UTC.")
        commit: str = ""
        author: str = ""
        task: str
        dataset: str
        data_hash: str = ""
        params: dict[str, Any] = Field(default_factory=dict)
        features: dict[str, Any] = Field(default_factory=dict)
        metrics: dict[str, float | None] = Field(default_factory=dict)
        cv: dict[str, Any] | None = None
        search: SearchRecord | None = None
        classes: list[Label] = Field(default_factory=list)
        engine_version: str = ""
        sklearn_version: str = ""
        python_version: str = ""
        training_seconds: float = 0.0
        rows_train: int = 0
        rows_test: int = 0
        rows: RowsRecord | None = Field(
            None, description="The rows trained on (None: trained before rows were recorded)."
        )
        files: dict[str, str] = Field(
            default_factory=dict, description="File name to sha256, filled in by the store."
        )

        @computed_field  # type: ignore[prop-decorator]
        @property
        def version(self) -> str:
            return self.fingerprint[:SHORT]

        @field_validator("created")
        @classmethod
        def _utc(cls, value: str) -> str:
            stamp = datetime.fromisoformat(value)
            if stamp.utcoffset() is None:
                raise ValueError(f"{value!r} has no time zone; write it in UTC")
            return value

        @field_validator("metrics", mode="before")
        @classmethod
        def _finite(cls, value: Any) -> Any:
            # NaN and infinities are not JSON; a metric that could not be computed is None.
            if isinstance(value, typing.Mapping):
                return {k: _finite_or_none(v) for k, v in value.items()}
            return value

    models: tuple[type[BaseModel], ...] = (Candidate, SearchRecord, RowsRecord, VersionRecord)
    return {m.__name__: m for m in models}


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


__all__ = ["FINGERPRINT_PATTERN", "RECORD_FORMAT", "SHORT", "Label", "schema"]
