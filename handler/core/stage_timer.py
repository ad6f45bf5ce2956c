"""Wall-clock time per pipeline stage, measured in pure code and reported by the adapter.

The pipeline fills a :class:`StageTimer` while it answers a batch; the TorchServe adapter turns
the totals into metrics and the benchmark into its per-stage breakdown. No TorchServe here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

STAGES = ("decode", "preprocess", "model", "postprocess", "masks")


@dataclass
class StageTimer:
    """Milliseconds spent in each stage of one batch, summed over its requests."""

    totals_ms: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Add the time spent inside the ``with`` block to stage ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.totals_ms[name] = self.totals_ms.get(name, 0.0) + (time.perf_counter() - start) * 1000.0
