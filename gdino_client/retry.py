"""Retry policy: which failures are worth another try, and how long to wait before it."""

from __future__ import annotations

import random
from dataclasses import dataclass

# 503: worker busy or restarting; 507: out of resources. Both pass with time.
RETRY_STATUSES = frozenset({503, 507})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded attempts with exponential backoff and equal jitter (half fixed, half random)."""

    attempts: int = 5  # tries in all, the first included
    base_delay: float = 0.5  # seconds before the first retry (before jitter)
    max_delay: float = 30.0
    statuses: frozenset[int] = RETRY_STATUSES

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("attempts must be >= 1 and delays >= 0")

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based); a server's Retry-After is a floor."""
        ceiling = min(self.max_delay, self.base_delay * 2**retry)
        jittered = ceiling / 2 + random.uniform(0, ceiling / 2)
        return min(self.max_delay, max(jittered, retry_after or 0.0))
