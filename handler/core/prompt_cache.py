"""Prompt encodings computed once: a least-recently-used cache of tensors, bounded in bytes.

What a model computes from the text alone (BERT's output after the text projection, the phrase
attention masks, the position ids) depends only on the caption, so a batch run that sends one
class list with every image, or an LVIS vocabulary split into 14 chunks, needs it once per chunk.
A back end asks :meth:`PromptCache.get` for a caption's encoding and says how to compute it on
a miss; entries are evicted least recently used first once their tensors exceed the bound.

Values are computed exactly as without the cache (one caption at a time), so answers are bitwise
the same with and without it. The hit, miss and eviction counts feed the pipeline's batch stats
and the service's metrics.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import torch

Encoding = tuple[torch.Tensor, ...]
BYTES_PER_MB = 1024 * 1024


@dataclass(frozen=True)
class CacheCounts:
    """How often the cache was asked (hits and misses) and how many entries it dropped."""

    hits: int = 0
    misses: int = 0
    evictions: int = 0

    def __sub__(self, earlier: CacheCounts) -> CacheCounts:
        return CacheCounts(self.hits - earlier.hits, self.misses - earlier.misses, self.evictions - earlier.evictions)


def encoding_bytes(encoding: Encoding) -> int:
    """Memory the tensors of one entry hold."""
    return sum(tensor.numel() * tensor.element_size() for tensor in encoding)


class PromptCache:
    """Encodings by key, least recently used dropped first beyond ``limit_mb`` (0: nothing is kept)."""

    def __init__(self, limit_mb: float) -> None:
        if limit_mb < 0:
            raise ValueError(f"prompt_cache_mb must be >= 0, got {limit_mb}")
        self.limit_bytes = int(limit_mb * BYTES_PER_MB)
        self.entries: OrderedDict[Hashable, Encoding] = OrderedDict()
        self.bytes = 0
        self.counts = CacheCounts()

    def get(self, key: Hashable, compute: Callable[[], Encoding]) -> Encoding:
        """The encoding stored under ``key``, else ``compute()``'s (kept when it fits the bound)."""
        found = self.entries.get(key)
        if found is not None:
            self.entries.move_to_end(key)
            self._count(hits=1)
            return found
        self._count(misses=1)
        encoding = compute()
        size = encoding_bytes(encoding)
        if size <= self.limit_bytes:
            self.entries[key] = encoding
            self.bytes += size
            while self.bytes > self.limit_bytes:
                _, dropped = self.entries.popitem(last=False)
                self.bytes -= encoding_bytes(dropped)
                self._count(evictions=1)
        return encoding

    def _count(self, hits: int = 0, misses: int = 0, evictions: int = 0) -> None:
        self.counts = CacheCounts(
            self.counts.hits + hits, self.counts.misses + misses, self.counts.evictions + evictions
        )
