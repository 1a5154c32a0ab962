"""Service health from prediction logs: how many requests, how fast, how many failed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.monitoring.logs import Prediction


@dataclass(frozen=True)
class Health:
    """Request rate, error rate and latency percentiles over the logged period."""

    requests: int
    errors: int
    instances: int
    seconds: float | None
    """From the first to the last logged request; None without times."""
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None

    @property
    def error_rate(self) -> float:
        """Share of requests that failed."""
        return self.errors / self.requests if self.requests else 0.0

    @property
    def rate_per_second(self) -> float | None:
        """Requests per second over the logged period."""
        if not self.seconds:
            return None
        return self.requests / self.seconds


def health(predictions: Sequence[Prediction]) -> Health:
    """Health figures of the logged requests."""
    import numpy as np

    times = [p.time for p in predictions if p.time is not None]
    latencies = np.array([p.latency_ms for p in predictions if p.latency_ms is not None])
    p50 = p95 = p99 = None
    if latencies.size:
        p50, p95, p99 = (float(v) for v in np.percentile(latencies, [50, 95, 99]))
    return Health(
        requests=len(predictions),
        errors=sum(not p.ok for p in predictions),
        instances=sum(len(p.rows) for p in predictions),
        seconds=max(times) - min(times) if len(times) > 1 else None,
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
    )
