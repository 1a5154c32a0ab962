"""Canary traffic: which of two versions answers a request, as a pure, seeded weight split.

A canary pins a new version beside the stable one with a percent of the traffic; in a
cluster KServe splits by ``canaryTrafficPercent``, on a laptop :class:`Split` does. A
request with a key (its ``x-request-id``, or any sticky client key) always lands on the
same side for a given seed, so a test, or a client retrying, sees one version; without a
key the choice follows a seeded random sequence. Either way the split is reproducible.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

_BUCKETS = 10_000


@dataclass
class Split:
    """Send ``percent`` of requests to the canary; ``seed`` makes the choice reproducible."""

    percent: int
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.percent, bool) or not 0 <= self.percent <= 100:
            raise ValueError(f"canary traffic must be 0 to 100 percent, not {self.percent!r}")
        self._rng = random.Random(self.seed)  # noqa: S311  # a traffic split, not a secret

    def to_canary(self, key: str | None = None) -> bool:
        """Whether this request goes to the canary (the same key, the same answer)."""
        if key:
            digest = hashlib.sha256(f"{self.seed}:{key}".encode()).digest()
            bucket = int.from_bytes(digest[:8], "big") % _BUCKETS
        else:
            bucket = self._rng.randrange(_BUCKETS)
        return bucket < self.percent * (_BUCKETS // 100)


__all__ = ["Split"]
