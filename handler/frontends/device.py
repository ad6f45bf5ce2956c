"""Where a server's model replica runs: the device it was given, and its share of the CPU cores.

Shared by every front end: TorchServe names a worker's GPU by index, Ray Serve gives a replica
its GPU as the only visible one; on a CPU-only host the replicas split the cores between them.
"""

from __future__ import annotations

import os
from typing import Any

import torch


def select_device(gpu_id: Any) -> torch.device:
    """``cuda:{gpu_id}`` when the server assigned a GPU and CUDA works, else the CPU."""
    if gpu_id is not None and torch.cuda.is_available():
        return torch.device(f"cuda:{int(gpu_id)}")
    return torch.device("cpu")


def cpu_threads_per_worker(workers: int, cores: int | None = None) -> int:
    """Split the host's cores evenly between the model's workers (at least one each)."""
    return max(1, (cores or os.cpu_count() or 1) // max(1, workers))
