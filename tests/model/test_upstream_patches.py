"""Every monkey-patch of upstream code checks it patches the function it was written for."""

from __future__ import annotations


def original(x: int) -> int:
    return x + 1


def replacement(x: int) -> int:
    return x + 2


def test_every_upstream_patch_matches_the_installed_upstream(pipeline) -> None:
    from handler.backends.upstream import batch_invariance, float32_islands

    batch_invariance.apply()  # a second application checks again and changes nothing
    float32_islands.apply()
