"""Worker count: GPUs x workers per GPU, one worker on a CPU-only host."""

from __future__ import annotations

import pytest

from gdino_serve import workers


@pytest.mark.parametrize(
    ("gpus", "per_gpu", "expected"), [(0, 1, 1), (0, 4, 1), (1, 1, 1), (2, 1, 2), (4, 2, 8), (8, 3, 24)]
)
def test_worker_count_is_gpus_times_workers_per_gpu_and_one_on_cpu(gpus: int, per_gpu: int, expected: int):
    assert workers.worker_count(gpus, per_gpu) == expected


def test_worker_count_refuses_fewer_than_one_worker_per_gpu():
    with pytest.raises(ValueError, match="workers_per_gpu"):
        workers.worker_count(2, 0)


def test_visible_gpus_counts_the_devices_torch_sees(monkeypatch: pytest.MonkeyPatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    assert workers.worker_count(workers.visible_gpus(), 2) == 6
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert workers.worker_count(workers.visible_gpus(), 2) == 1


def test_workers_per_gpu_comes_from_the_flag_then_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("WORKERS_PER_GPU", raising=False)
    assert workers.workers_per_gpu_setting() == 1
    monkeypatch.setenv("WORKERS_PER_GPU", "2")
    assert workers.workers_per_gpu_setting() == 2
    assert workers.workers_per_gpu_setting(3) == 3
