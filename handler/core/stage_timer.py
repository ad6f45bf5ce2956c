"""Wall-clock time per pipeline stage (and event counts), measured in pure code and reported by the adapter.

The pipeline fills a :class:`StageTimer` while it answers a batch; the TorchServe adapter turns
the totals into metrics and the benchmark into its per-stage breakdown. No TorchServe here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

STAGES = ("decode", "preprocess", "model", "postprocess", "masks")
COUNTS = ("prompt_cache_hits", "prompt_cache_misses")  # prompt encodings reused / computed (handler.core.prompt_cache)


@dataclass
class StageTimer:
    """Milliseconds spent in each stage of one batch, summed over its requests, and its event counts."""

    totals_ms: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))

    def count(self, name: str, events: int) -> None:
        """Add ``events`` to the count ``name``."""
        self.counts[name] = self.counts.get(name, 0) + events

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Add the time spent inside the ``with`` block to stage ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.totals_ms[name] = self.totals_ms.get(name, 0.0) + (time.perf_counter() - start) * 1000.0
