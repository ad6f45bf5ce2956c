"""How many TorchServe workers to start: GPUs x workers per GPU, or one on a CPU-only host.

TorchServe gives worker i the GPU (i mod number_of_gpu), so GPUs x ``workers_per_gpu`` workers
spread evenly over the GPUs. On a CPU-only host one worker uses every core (the handler gives
each worker cores / workers torch threads), which beats several workers sharing the cores.
"""

from __future__ import annotations

import os

DEFAULT_WORKERS_PER_GPU = 1


def worker_count(gpus: int, workers_per_gpu: int = DEFAULT_WORKERS_PER_GPU) -> int:
    """minWorkers = maxWorkers for ``gpus`` visible GPUs; 1 when there are none."""
    if workers_per_gpu < 1:
        raise ValueError(f"workers_per_gpu must be at least 1, got {workers_per_gpu}")
    return gpus * workers_per_gpu if gpus > 0 else 1


def visible_gpus() -> int:
    """CUDA devices this process can use (honours CUDA_VISIBLE_DEVICES and ``--gpus``)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def workers_per_gpu_setting(value: int | None = None) -> int:
    """The ``--workers-per-gpu`` value, else ``$WORKERS_PER_GPU``, else 1."""
    return value if value is not None else int(os.environ.get("WORKERS_PER_GPU", DEFAULT_WORKERS_PER_GPU))
