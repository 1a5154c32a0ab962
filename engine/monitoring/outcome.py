"""One model's monitoring outcome, and the verdicts drawn from its parts.

The parts are computed apart (drift, prediction drift, quality, health, performance);
this is where they meet: concept drift is a significant performance drop while no input
feature drifted; the same drop with a drifted input is reported as degraded (the inputs
moved, so the drop may be covariate shift rather than a changed concept).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from engine.errors import Problem
from engine.monitoring.drift import DataDrift
from engine.monitoring.health import Health
from engine.monitoring.performance import Performance
from engine.monitoring.quality import Finding

Status = Literal["ok", "drift", "concept-drift", "degraded", "quality"]


@dataclass(frozen=True)
class Outcome:
    """Everything ``mlops monitor`` found about one pinned model in one environment."""

    model: str
    environment: str
    version: str
    source_commit: str
    reference: str
    """Where the reference came from: the stored sample, or the dataset at a commit."""
    current: str
    """What was monitored: a batch file, or log folders."""
    reference_rows: int
    current_rows: int
    data: DataDrift
    predictions: DataDrift | None = None
    quality: tuple[Finding, ...] = ()
    health: Health | None = None
    performance: Performance | None = None
    log_problems: tuple[Problem, ...] = field(default=())
    log_duplicates: int = 0
    """Log records dropped as copies of one read before (at-least-once log shipping)."""
    log_duplicate_lines: tuple[Problem, ...] = field(default=())
    """The first few of them, located."""
    unknown_labels: tuple[str, ...] = ()
    """Request ids in the labels file that no logged prediction has."""
    notes: tuple[str, ...] = ()
    """What could not be computed, and why."""

    @property
    def concept_drift(self) -> bool:
        """Performance dropped significantly while no input feature drifted."""
        dropped = self.performance is not None and self.performance.dropped
        return dropped and not self.data.drifted_features

    @property
    def status(self) -> Status:
        """The one-word verdict, most serious first."""
        if self.concept_drift:
            return "concept-drift"
        if self.performance is not None and self.performance.dropped:
            return "degraded"
        if self.data.drifted or (self.predictions is not None and self.predictions.drifted):
            return "drift"
        if any(f.severity == "error" for f in self.quality):
            return "quality"
        return "ok"

    @property
    def alarming(self) -> bool:
        """Whether a person should look (any status but ok)."""
        return self.status != "ok"
