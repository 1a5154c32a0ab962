"""What monitoring judges of one pinned version: its current inputs, predictions and labels.

Built from a batch file (:mod:`engine.monitoring.batch`) or from prediction logs
(:mod:`engine.monitoring.window`), then judged the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from engine.monitoring.health import Health


@dataclass
class Live:
    """The current inputs, predictions and labels of one model, as read."""

    table: pa.Table
    predictions: list[Any] = field(default_factory=list)
    confidence: Sequence[float] = field(default_factory=list)
    labels: list[Any] | None = None
    times: list[float | None] = field(default_factory=list)
    unknown_labels: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    scored: tuple[list[Any], list[Any], list[float | None]] | None = None
    """(labels, predictions, times) that judge live performance, when they are not the
    rows above: labels arrive late, so logged requests before the window count too."""
    health: Health | None = None
    """Service health (logs only): every version's requests to the model in the window."""
