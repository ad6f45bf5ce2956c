"""The prompt cache's bound and counts (no model; equality of answers with a real model: tests/model/test_prompt_cache.py)."""

from __future__ import annotations

import pytest
import torch

from handler.core.prompt_cache import BYTES_PER_MB, CacheCounts, PromptCache, encoding_bytes


def encoding(fill: float, megabytes: float = 0.25) -> tuple[torch.Tensor, torch.Tensor]:
    """An entry of ``megabytes`` (float32 features and a bool mask), recognisable by ``fill``."""
    floats = int(megabytes * BYTES_PER_MB) // 4 - 64
    return torch.full((floats,), fill), torch.ones(256, dtype=torch.bool)


class Computed:
    """``compute`` callables that record which keys were computed."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def __call__(self, key: str, fill: float = 0.0, megabytes: float = 0.25):
        def compute():
            self.keys.append(key)
            return encoding(fill, megabytes)

        return compute


def test_a_second_request_for_a_caption_is_a_hit_that_returns_the_stored_tensors() -> None:
    cache, computed = PromptCache(1), Computed()
    first = cache.get("cat . dog .", computed("cat . dog .", 1.0))
    again = cache.get("cat . dog .", computed("cat . dog .", 2.0))
    assert computed.keys == ["cat . dog ."] and again is first and again[0][0] == 1.0
    assert cache.counts == CacheCounts(hits=1, misses=1, evictions=0)


def test_the_bound_evicts_the_least_recently_used_entries_first() -> None:
    cache, computed = PromptCache(1), Computed()  # four 0.25 MB entries fit
    for key in "abcd":
        cache.get(key, computed(key))
    cache.get("a", computed("a"))  # a is now the most recently used
    cache.get("e", computed("e"))  # 1.25 MB: b goes
    assert list(cache.entries) == ["c", "d", "a", "e"] and cache.bytes <= cache.limit_bytes
    assert cache.counts == CacheCounts(hits=1, misses=5, evictions=1)
    cache.get("b", computed("b"))
    assert computed.keys == ["a", "b", "c", "d", "e", "b"]  # b was computed again, a never was


def test_an_entry_larger_than_the_bound_is_computed_but_not_kept() -> None:
    cache, computed = PromptCache(1), Computed()
    cache.get("small", computed("small"))
    cache.get("huge", computed("huge", megabytes=2))
    assert list(cache.entries) == ["small"]
    cache.get("huge", computed("huge", megabytes=2))
    assert computed.keys == ["small", "huge", "huge"]


def test_a_bound_of_zero_keeps_nothing_and_counts_every_request_as_a_miss() -> None:
    cache, computed = PromptCache(0), Computed()
    for _ in range(3):
        cache.get("cat .", computed("cat ."))
    assert computed.keys == ["cat ."] * 3 and not cache.entries and cache.counts == CacheCounts(0, 3, 0)


def test_bytes_are_what_the_tensors_hold_and_a_negative_bound_is_refused() -> None:
    assert encoding_bytes((torch.zeros(10), torch.zeros(4, dtype=torch.bool))) == 44
    with pytest.raises(ValueError, match="prompt_cache_mb"):
        PromptCache(-1)


def test_counts_subtract_to_the_events_between_two_readings() -> None:
    assert CacheCounts(5, 7, 2) - CacheCounts(1, 2, 2) == CacheCounts(4, 5, 0)
