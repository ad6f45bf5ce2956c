"""Greedy packing of consecutive items into runs that fit a budget (prompt chunks, model calls)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

Item = TypeVar("Item")


def pack(items: Sequence[Item], sizes: Sequence[int], budget: int) -> list[list[Item]]:
    """``items`` in order, cut into runs whose sizes sum to at most ``budget``; an item over budget runs alone."""
    runs: list[list[Item]] = []
    used = budget
    for item, size in zip(items, sizes):
        if not runs or used + size > budget:
            runs.append([])
            used = 0
        runs[-1].append(item)
        used += size
    return runs
