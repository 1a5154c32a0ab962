"""Service health from prediction logs: how many requests, how fast, how many failed."""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field

from engine.monitoring.records import Prediction


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


@dataclass
class HealthCounter:
    """Health figures counted one request at a time: a few numbers, and 8 bytes of latency
    per request (the percentiles need every one)."""

    requests: int = 0
    errors: int = 0
    instances: int = 0
    first: float = math.inf
    last: float = -math.inf
    timed: int = 0
    latencies: array[float] = field(default_factory=lambda: array("d"))

    def add(self, prediction: Prediction) -> None:
        """Count one logged request."""
        self.requests += 1
        self.errors += not prediction.ok
        self.instances += len(prediction.rows)
        if prediction.time is not None:
            self.timed += 1
            self.first = min(self.first, prediction.time)
            self.last = max(self.last, prediction.time)
        if prediction.latency_ms is not None:
            self.latencies.append(prediction.latency_ms)

    def result(self) -> Health:
        """The figures."""
        import numpy as np

        p50 = p95 = p99 = None
        if self.latencies:
            latencies = np.frombuffer(self.latencies, dtype=np.float64)
            p50, p95, p99 = (float(v) for v in np.percentile(latencies, [50, 95, 99]))
        return Health(
            requests=self.requests,
            errors=self.errors,
            instances=self.instances,
            seconds=self.last - self.first if self.timed > 1 else None,
            p50_ms=p50,
            p95_ms=p95,
            p99_ms=p99,
        )


def health(predictions: Iterable[Prediction]) -> Health:
    """Health figures of the logged requests."""
    counter = HealthCounter()
    for prediction in predictions:
        counter.add(prediction)
    return counter.result()
