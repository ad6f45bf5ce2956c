"""The model call wastes nothing at inference: no activation checkpointing, threads sized to cores."""

from __future__ import annotations

from handler.frontends.device import cpu_threads_per_worker


def test_cpu_threads_are_split_evenly_between_workers() -> None:
    assert cpu_threads_per_worker(workers=1, cores=16) == 16
    assert cpu_threads_per_worker(workers=4, cores=16) == 4
    assert cpu_threads_per_worker(workers=4, cores=2) == 1
